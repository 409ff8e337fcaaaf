//! ECS's SDK types read into the domain types (services, service deployments, task
//! definitions and the secrets they reference), and tags written back.

use aws_sdk_ecs::types as ecs;

use crate::aws::sdk::*;

pub(super) fn service_from(s: &ecs::Service) -> Service {
    let deployments = s
        .deployments()
        .iter()
        .map(|d| Deployment {
            id: d.id().unwrap_or_default().to_owned(),
            status: DeploymentStatus::from_aws(d.status().unwrap_or_default()),
            task_definition: d.task_definition().unwrap_or_default().to_owned(),
            desired: d.desired_count(),
            running: d.running_count(),
            pending: d.pending_count(),
            failed_tasks: d.failed_tasks(),
            rollout_state: d.rollout_state().and_then(|r| match r {
                ecs::DeploymentRolloutState::InProgress => Some(RolloutState::InProgress),
                ecs::DeploymentRolloutState::Completed => Some(RolloutState::Completed),
                ecs::DeploymentRolloutState::Failed => Some(RolloutState::Failed),
                _ => None,
            }),
            rollout_reason: d.rollout_state_reason().map(str::to_owned),
            created_at: ts(d.created_at()),
        })
        .collect();
    let events = s
        .events()
        .iter()
        .map(|e| ServiceEvent {
            id: e.id().unwrap_or_default().to_owned(),
            at: ts(e.created_at()).unwrap_or(Timestamp::UNIX_EPOCH),
            message: e.message().unwrap_or_default().to_owned(),
        })
        .collect();
    Service {
        name: s.service_name().unwrap_or_default().to_owned(),
        arn: s.service_arn().unwrap_or_default().to_owned(),
        status: ServiceStatus::from_aws(s.status().unwrap_or_default()),
        desired: s.desired_count(),
        running: s.running_count(),
        pending: s.pending_count(),
        task_definition: s.task_definition().unwrap_or_default().to_owned(),
        deployments,
        events,
        target_groups: s
            .load_balancers()
            .iter()
            .filter_map(|lb| lb.target_group_arn().map(str::to_owned))
            .collect(),
        circuit_breaker: s
            .deployment_configuration()
            .and_then(|c| c.deployment_circuit_breaker())
            .map(|cb| CircuitBreaker {
                enable: cb.enable(),
                rollback: cb.rollback(),
            }),
        native_traffic: s.load_balancers().iter().find_map(|lb| {
            let advanced = lb.advanced_configuration()?;
            Some(NativeTraffic {
                production_rule: advanced.production_listener_rule()?.to_owned(),
                target_groups: [
                    lb.target_group_arn()?.to_owned(),
                    advanced.alternate_target_group_arn()?.to_owned(),
                ],
            })
        }),
        strategy: DeploymentStrategy::from_aws(
            s.deployment_configuration()
                .and_then(|c| c.strategy())
                .map_or("ROLLING", |s| s.as_str()),
        ),
        native_settings: native_settings_from(s.deployment_configuration()),
        placement: placement_from(s),
    }
}

fn native_settings_from(c: Option<&ecs::DeploymentConfiguration>) -> NativeSettings {
    let Some(c) = c else {
        return NativeSettings::default();
    };
    NativeSettings {
        bake_minutes: c.bake_time_in_minutes(),
        canary: c.canary_configuration().map(|s| TrafficStep {
            percent: s.canary_percent(),
            bake_minutes: s.canary_bake_time_in_minutes(),
        }),
        linear: c.linear_configuration().map(|s| TrafficStep {
            percent: s.step_percent(),
            bake_minutes: s.step_bake_time_in_minutes(),
        }),
    }
}

pub(super) fn service_deployment_from(d: &ecs::ServiceDeployment) -> ServiceDeployment {
    ServiceDeployment {
        arn: d.service_deployment_arn().unwrap_or_default().to_owned(),
        status: ServiceDeploymentStatus::from_aws(d.status().map_or("", |s| s.as_str())),
        stage: d.lifecycle_stage().map(|s| s.as_str().to_owned()),
        status_reason: d.status_reason().map(str::to_owned),
        rollback_reason: d.rollback().and_then(|r| r.reason()).map(str::to_owned),
        production_weight: d
            .target_service_revision()
            .and_then(|r| r.requested_production_traffic_weight()),
        awaiting_hook: d
            .lifecycle_hook_details()
            .iter()
            .find(|h| h.status() == Some(&ecs::DeploymentLifecycleHookStatus::AwaitingAction))
            .and_then(|h| h.hook_id())
            .map(str::to_owned),
        created_at: ts(d.created_at()),
    }
}

/// A task as a one-off run sees it, through its `container`.
pub(super) fn one_off_from(t: &ecs::Task, container: &str) -> OneOffTask {
    let arn = t.task_arn().unwrap_or_default().to_owned();
    let c = t.containers().iter().find(|c| c.name() == Some(container));
    OneOffTask {
        id: arn.rsplit('/').next().unwrap_or_default().to_owned(),
        arn,
        last_status: t.last_status().unwrap_or_default().to_owned(),
        desired_status: t.desired_status().unwrap_or_default().to_owned(),
        created_at: ts(t.created_at()),
        started_at: ts(t.started_at()),
        stopped_at: ts(t.stopped_at()),
        stop_code: t.stop_code().map(|c| c.as_str().to_owned()),
        stopped_reason: t.stopped_reason().map(str::to_owned),
        exit_code: c.and_then(|c| c.exit_code()),
        container_reason: c.and_then(|c| c.reason()).map(str::to_owned),
    }
}

/// Where the service's tasks run: launch type or capacity providers, platform version, and
/// awsvpc networking.
fn placement_from(s: &ecs::Service) -> Placement {
    let vpc = s
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration());
    Placement {
        launch_type: s.launch_type().map(|l| l.as_str().to_owned()),
        capacity_providers: s
            .capacity_provider_strategy()
            .iter()
            .map(|c| (c.capacity_provider().to_owned(), c.weight(), c.base()))
            .collect(),
        platform_version: s.platform_version().map(str::to_owned),
        subnets: vpc.map(|v| v.subnets().to_vec()).unwrap_or_default(),
        security_groups: vpc
            .map(|v| v.security_groups().to_vec())
            .unwrap_or_default(),
        public_ip: vpc
            .and_then(|v| v.assign_public_ip())
            .map(|a| *a == ecs::AssignPublicIp::Enabled),
    }
}

pub(super) fn task_definition_from(td: &ecs::TaskDefinition, tags: &[ecs::Tag]) -> TaskDefinition {
    TaskDefinition {
        arn: td.task_definition_arn().unwrap_or_default().to_owned(),
        family: td.family().unwrap_or_default().to_owned(),
        revision: td.revision(),
        status: td
            .status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        containers: td
            .container_definitions()
            .iter()
            .map(|c| Container {
                name: c.name().unwrap_or_default().to_owned(),
                image: c.image().unwrap_or_default().to_owned(),
                log: c.log_configuration().map(|l| {
                    let option = |k: &str| l.options().and_then(|o| o.get(k)).cloned();
                    LogConfig {
                        driver: l.log_driver().as_str().to_owned(),
                        group: option("awslogs-group"),
                        region: option("awslogs-region"),
                        prefix: option("awslogs-stream-prefix"),
                    }
                }),
            })
            .collect(),
        secrets: secret_references(td),
        tags: tags
            .iter()
            .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
            .collect(),
        registered_at: ts(td.registered_at()),
        roles: [td.task_role_arn(), td.execution_role_arn()]
            .into_iter()
            .flatten()
            .map(str::to_owned)
            .collect(),
    }
}

pub(super) fn ecs_tags(tags: &BTreeMap<String, String>) -> Vec<ecs::Tag> {
    tags.iter()
        .map(|(k, v)| ecs::Tag::builder().key(k).value(v).build())
        .collect()
}

/// Every secret a task definition references, once each, in the order they appear.
pub(super) fn secret_references(td: &ecs::TaskDefinition) -> Vec<String> {
    let mut refs: Vec<String> = Vec::new();
    for c in td.container_definitions() {
        let found = c
            .secrets()
            .iter()
            .map(|s| s.value_from())
            .chain(
                c.log_configuration()
                    .map(|l| l.secret_options())
                    .unwrap_or_default()
                    .iter()
                    .map(|s| s.value_from()),
            )
            .chain(
                c.repository_credentials()
                    .map(|r| r.credentials_parameter()),
            );
        for r in found {
            if !r.is_empty() && !refs.iter().any(|x| x == r) {
                refs.push(r.to_owned());
            }
        }
    }
    refs
}
