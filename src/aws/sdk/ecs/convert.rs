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
