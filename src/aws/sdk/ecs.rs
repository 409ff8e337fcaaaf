//! ECS over the SDK: services, task definitions, tasks.

use aws_sdk_ecs::types as ecs;

use super::*;

/// ECS over the SDK.
pub struct SdkEcs(pub aws_sdk_ecs::Client);

fn service_from(s: &ecs::Service) -> Service {
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
    }
}

fn task_definition_from(td: &ecs::TaskDefinition, tags: &[ecs::Tag]) -> TaskDefinition {
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

fn ecs_tags(tags: &BTreeMap<String, String>) -> Vec<ecs::Tag> {
    tags.iter()
        .map(|(k, v)| ecs::Tag::builder().key(k).value(v).build())
        .collect()
}

impl SdkEcs {
    /// One `UpdateService` call changing what is given; returns the service after.
    async fn update(
        &self,
        cluster: &str,
        service: &str,
        task_definition: Option<&str>,
        desired: Option<i32>,
    ) -> AwsResult<Service> {
        let out = self
            .0
            .update_service()
            .cluster(cluster)
            .service(service)
            .set_task_definition(task_definition.map(str::to_owned))
            .set_desired_count(desired)
            .send()
            .await
            .map_err(|e| classify("UpdateService", e))?;
        out.service()
            .map(service_from)
            .ok_or_else(|| AwsError::Other("UpdateService returned no service".into()))
    }

    async fn describe_raw(
        &self,
        task_definition: &str,
    ) -> AwsResult<(ecs::TaskDefinition, Vec<ecs::Tag>)> {
        let out = self
            .0
            .describe_task_definition()
            .task_definition(task_definition)
            .include(ecs::TaskDefinitionField::Tags)
            .send()
            .await
            .map_err(|e| match classify("DescribeTaskDefinition", e) {
                // ECS answers an unknown revision with a ClientException.
                AwsError::Invalid(_) => AwsError::not_found(
                    Resource::TaskDefinition,
                    format!("task definition {task_definition}"),
                ),
                other => other,
            })?;
        let td = out.task_definition.ok_or_else(|| {
            AwsError::not_found(
                Resource::TaskDefinition,
                format!("task definition {task_definition}"),
            )
        })?;
        Ok((td, out.tags.unwrap_or_default()))
    }
}

#[async_trait]
impl Ecs for SdkEcs {
    async fn describe_services(
        &self,
        cluster: &str,
        services: &[String],
    ) -> AwsResult<Vec<Service>> {
        let out = self
            .0
            .describe_services()
            .cluster(cluster)
            .set_services(Some(services.to_vec()))
            .send()
            .await
            .map_err(|e| classify("DescribeServices", e))?;
        if let Some(missing) = out.failures().first() {
            let what = missing.arn().unwrap_or("service");
            return Err(match missing.reason() {
                Some("MISSING") => AwsError::not_found(
                    Resource::Service,
                    format!("service {what} in cluster {cluster}"),
                ),
                reason => AwsError::Other(format!(
                    "DescribeServices: {what}: {}",
                    reason.unwrap_or("failed")
                )),
            });
        }
        Ok(out.services().iter().map(service_from).collect())
    }

    async fn describe_task_definition(&self, task_definition: &str) -> AwsResult<TaskDefinition> {
        let (td, tags) = self.describe_raw(task_definition).await?;
        Ok(task_definition_from(&td, &tags))
    }

    async fn list_task_definitions(&self, family: &str) -> AwsResult<Vec<String>> {
        let mut pages = self
            .0
            .list_task_definitions()
            .family_prefix(family)
            .status(ecs::TaskDefinitionStatus::Active)
            .sort(ecs::SortOrder::Desc)
            .into_paginator()
            .send();
        let mut arns = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("ListTaskDefinitions", e))?;
            arns.extend(
                page.task_definition_arns()
                    .iter()
                    // The prefix filter may match longer family names; keep the family only.
                    .filter(|arn| family_of(arn) == Some(family))
                    .cloned(),
            );
        }
        // Newest first, whatever order the service returned.
        arns.sort_by_key(|arn| std::cmp::Reverse(revision_of(arn)));
        Ok(arns)
    }

    async fn register_with_image(
        &self,
        base: &str,
        container: &str,
        image: &str,
        tags: &BTreeMap<String, String>,
    ) -> AwsResult<TaskDefinition> {
        let (td, base_tags) = self.describe_raw(base).await?;
        let mut containers = td.container_definitions.clone().unwrap_or_default();
        let target = containers
            .iter_mut()
            .find(|c| c.name() == Some(container))
            .ok_or_else(|| AwsError::Invalid(format!("no container {container} in {base}")))?;
        target.image = Some(image.to_owned());
        let mut all_tags: BTreeMap<String, String> = base_tags
            .iter()
            .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
            .collect();
        all_tags.extend(tags.clone());
        // Every registrable field of the base revision is carried over as it was
        // (inference accelerators are no longer accepted by ECS, so they are not sent).
        let out = self
            .0
            .register_task_definition()
            .set_family(td.family.clone())
            .set_task_role_arn(td.task_role_arn.clone())
            .set_execution_role_arn(td.execution_role_arn.clone())
            .set_network_mode(td.network_mode.clone())
            .set_container_definitions(Some(containers))
            .set_volumes(td.volumes.clone())
            .set_placement_constraints(td.placement_constraints.clone())
            .set_requires_compatibilities(td.requires_compatibilities.clone())
            .set_cpu(td.cpu.clone())
            .set_memory(td.memory.clone())
            .set_tags(Some(ecs_tags(&all_tags)))
            .set_pid_mode(td.pid_mode.clone())
            .set_ipc_mode(td.ipc_mode.clone())
            .set_proxy_configuration(td.proxy_configuration.clone())
            .set_ephemeral_storage(td.ephemeral_storage.clone())
            .set_runtime_platform(td.runtime_platform.clone())
            .set_enable_fault_injection(td.enable_fault_injection)
            .send()
            .await
            .map_err(|e| classify("RegisterTaskDefinition", e))?;
        let new = out
            .task_definition
            .ok_or_else(|| AwsError::Other("RegisterTaskDefinition returned nothing".into()))?;
        Ok(task_definition_from(&new, &ecs_tags(&all_tags)))
    }

    async fn update_task_definition(
        &self,
        cluster: &str,
        service: &str,
        task_definition: &str,
    ) -> AwsResult<Service> {
        self.update(cluster, service, Some(task_definition), None)
            .await
    }

    async fn update_desired_count(
        &self,
        cluster: &str,
        service: &str,
        desired: i32,
    ) -> AwsResult<Service> {
        self.update(cluster, service, None, Some(desired)).await
    }

    async fn update_revision_and_count(
        &self,
        cluster: &str,
        service: &str,
        task_definition: &str,
        desired: i32,
    ) -> AwsResult<Service> {
        self.update(cluster, service, Some(task_definition), Some(desired))
            .await
    }

    async fn tag_task_definition(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> AwsResult<()> {
        self.0
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(ecs_tags(tags)))
            .send()
            .await
            .map_err(|e| classify("TagResource", e))?;
        Ok(())
    }

    async fn stopped_tasks(
        &self,
        cluster: &str,
        service: &str,
        limit: usize,
    ) -> AwsResult<Vec<StoppedTask>> {
        let listed = self
            .0
            .list_tasks()
            .cluster(cluster)
            .service_name(service)
            .desired_status(ecs::DesiredStatus::Stopped)
            .max_results(100)
            .send()
            .await
            .map_err(|e| classify("ListTasks", e))?;
        let arns = listed.task_arns().to_vec();
        if arns.is_empty() {
            return Ok(Vec::new());
        }
        let described = self
            .0
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(arns))
            .send()
            .await
            .map_err(|e| classify("DescribeTasks", e))?;
        let mut tasks: Vec<StoppedTask> = described
            .tasks()
            .iter()
            .map(|t| StoppedTask {
                id: t
                    .task_arn()
                    .and_then(|a| a.rsplit('/').next())
                    .unwrap_or_default()
                    .to_owned(),
                task_definition: t.task_definition_arn().unwrap_or_default().to_owned(),
                reason: t.stopped_reason().unwrap_or("no reason given").to_owned(),
                containers: t
                    .containers()
                    .iter()
                    .filter(|c| c.exit_code().is_some() || c.reason().is_some())
                    .map(|c| {
                        let name = c.name().unwrap_or("container");
                        match (c.exit_code(), c.reason()) {
                            (Some(code), Some(r)) => format!("{name}: exit {code}, {r}"),
                            (Some(code), None) => format!("{name}: exit {code}"),
                            (None, Some(r)) => format!("{name}: {r}"),
                            (None, None) => name.to_owned(),
                        }
                    })
                    .collect(),
                stopped_at: ts(t.stopped_at()),
            })
            .collect();
        tasks.sort_by_key(|t| std::cmp::Reverse(t.stopped_at));
        tasks.truncate(limit);
        Ok(tasks)
    }
}

/// The family of a task definition ARN (`…:task-definition/FAMILY:REV`) or `FAMILY:REV`.
pub fn family_of(arn: &str) -> Option<&str> {
    let tail = arn.rsplit('/').next()?;
    tail.rsplit_once(':').map(|(family, _)| family)
}

/// The revision number at the end of a task definition ARN or `family:revision`.
pub fn revision_of(arn: &str) -> Option<i32> {
    arn.rsplit(':').next()?.parse().ok()
}

/// Every secret a task definition references, once each, in the order they appear.
fn secret_references(td: &ecs::TaskDefinition) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    //! The ECS adapter against canned SDK responses: what it sends and how it reads answers.

    use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
    use aws_sdk_ecs::operation::describe_task_definition::{
        DescribeTaskDefinitionError, DescribeTaskDefinitionOutput,
    };
    use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionOutput;
    use aws_sdk_ecs::types::{
        ContainerDefinition, Deployment as SdkDeployment, DeploymentRolloutState, Failure,
        HealthCheck, KeyValuePair, LogConfiguration, LogDriver, NetworkMode, RuntimePlatform,
        Secret, Service as SdkService, ServiceEvent as SdkEvent, Tag, TaskDefinition as SdkTd,
        Volume,
    };
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    #[test]
    fn every_kind_of_secret_reference_is_found_once() {
        let secret = |v: &str| {
            ecs::Secret::builder()
                .name("X")
                .value_from(v)
                .build()
                .unwrap()
        };
        let td = ecs::TaskDefinition::builder()
            .container_definitions(
                ecs::ContainerDefinition::builder()
                    .name("users")
                    .secrets(secret(
                        "arn:aws:secretsmanager:us-east-1:1:secret:db-Ab:password::",
                    ))
                    .repository_credentials(
                        ecs::RepositoryCredentials::builder()
                            .credentials_parameter(
                                "arn:aws:secretsmanager:us-east-1:1:secret:reg-Cd",
                            )
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .container_definitions(
                ecs::ContainerDefinition::builder()
                    .name("log-router")
                    .secrets(secret(
                        "arn:aws:secretsmanager:us-east-1:1:secret:db-Ab:password::",
                    ))
                    .log_configuration(
                        ecs::LogConfiguration::builder()
                            .log_driver(ecs::LogDriver::Awsfirelens)
                            .secret_options(secret("/logs/api-key"))
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .build();
        assert_eq!(
            secret_references(&td),
            [
                "arn:aws:secretsmanager:us-east-1:1:secret:db-Ab:password::",
                "arn:aws:secretsmanager:us-east-1:1:secret:reg-Cd",
                "/logs/api-key",
            ]
        );
    }

    fn base_td() -> SdkTd {
        let users = ContainerDefinition::builder()
            .name("users")
            .image("123.dkr.ecr.us-east-1.amazonaws.com/users:v1.1.0")
            .environment(KeyValuePair::builder().name("PORT").value("8080").build())
            .secrets(
                Secret::builder()
                    .name("DB_CREDENTIALS")
                    .value_from("arn:aws:secretsmanager:us-east-1:123:secret:users/db-AbCdEf")
                    .build()
                    .unwrap(),
            )
            .health_check(
                HealthCheck::builder()
                    .command("CMD")
                    .command("/usr/local/bin/users-service")
                    .command("healthcheck")
                    .build()
                    .unwrap(),
            )
            .log_configuration(
                LogConfiguration::builder()
                    .log_driver(LogDriver::Awslogs)
                    .options("awslogs-group", "/ecs/users")
                    .build()
                    .unwrap(),
            )
            .build();
        let sidecar = ContainerDefinition::builder()
            .name("log-router")
            .image("public.ecr.aws/aws-observability/aws-for-fluent-bit:stable")
            .build();
        SdkTd::builder()
            .task_definition_arn("arn:aws:ecs:us-east-1:123:task-definition/users:2")
            .family("users")
            .revision(2)
            .container_definitions(users)
            .container_definitions(sidecar)
            .network_mode(NetworkMode::Awsvpc)
            .cpu("512")
            .memory("1024")
            .execution_role_arn("arn:aws:iam::123:role/users-execution")
            .task_role_arn("arn:aws:iam::123:role/users-task")
            .volumes(Volume::builder().name("tmp").build())
            .runtime_platform(RuntimePlatform::builder().build())
            .build()
    }

    #[tokio::test]
    async fn register_copies_every_field_and_changes_only_the_image() {
        let describe = mock!(aws_sdk_ecs::Client::describe_task_definition).then_output(|| {
            DescribeTaskDefinitionOutput::builder()
                .task_definition(base_td())
                .tags(Tag::builder().key("app").value("users").build())
                .build()
        });
        let register = mock!(aws_sdk_ecs::Client::register_task_definition)
            .match_requests(|req| {
                let base = base_td();
                let containers = req.container_definitions();
                let users = &containers[0];
                let mut expected_users = base.container_definitions()[0].clone();
                expected_users.image =
                    Some("123.dkr.ecr.us-east-1.amazonaws.com/users:v1.2.0".into());
                let tag = |k: &str| {
                    req.tags()
                        .iter()
                        .find(|t| t.key() == Some(k))
                        .and_then(|t| t.value())
                };
                *users == expected_users
                    && containers[1] == base.container_definitions()[1]
                    && req.family() == Some("users")
                    && req.cpu() == Some("512")
                    && req.memory() == Some("1024")
                    && req.network_mode() == Some(&NetworkMode::Awsvpc)
                    && req.execution_role_arn() == base.execution_role_arn()
                    && req.task_role_arn() == base.task_role_arn()
                    && req.volumes() == base.volumes()
                    && req.runtime_platform() == base.runtime_platform()
                    && tag("app") == Some("users")
                    && tag("opsctl:version") == Some("v1.2.0")
            })
            .then_output(|| {
                let mut td = base_td();
                td.revision = 3;
                td.task_definition_arn =
                    Some("arn:aws:ecs:us-east-1:123:task-definition/users:3".into());
                RegisterTaskDefinitionOutput::builder()
                    .task_definition(td)
                    .build()
            });
        let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&describe, &register]);
        let tags = BTreeMap::from([("opsctl:version".to_owned(), "v1.2.0".to_owned())]);
        let new = SdkEcs(client)
            .register_with_image(
                "users:2",
                "users",
                "123.dkr.ecr.us-east-1.amazonaws.com/users:v1.2.0",
                &tags,
            )
            .await
            .expect("the request matched: only the image changed");
        assert_eq!(new.short(), "users:3");
        assert_eq!(register.num_calls(), 1);
    }

    #[tokio::test]
    async fn describe_services_reads_deployments_events_and_missing_services() {
        let found = mock!(aws_sdk_ecs::Client::describe_services)
            .match_requests(|req| req.services() == ["web"])
            .then_output(|| {
                DescribeServicesOutput::builder()
                    .services(
                        SdkService::builder()
                            .service_name("web")
                            .status("ACTIVE")
                            .desired_count(2)
                            .running_count(1)
                            .task_definition("arn:aws:ecs:us-east-1:123:task-definition/web:5")
                            .deployments(
                                SdkDeployment::builder()
                                    .id("ecs-svc/1")
                                    .status("PRIMARY")
                                    .task_definition(
                                        "arn:aws:ecs:us-east-1:123:task-definition/web:5",
                                    )
                                    .desired_count(2)
                                    .running_count(1)
                                    .rollout_state(DeploymentRolloutState::Failed)
                                    .rollout_state_reason(
                                        "ECS deployment circuit breaker: tasks failed to start.",
                                    )
                                    .build(),
                            )
                            .events(
                                SdkEvent::builder()
                                    .id("e1")
                                    .message("(service web) has started 1 tasks.")
                                    .build(),
                            )
                            .build(),
                    )
                    .build()
            });
        let missing = mock!(aws_sdk_ecs::Client::describe_services)
            .match_requests(|req| req.services() == ["gone"])
            .then_output(|| {
                DescribeServicesOutput::builder()
                    .failures(
                        Failure::builder()
                            .arn("arn:aws:ecs:us-east-1:123:service/demo/gone")
                            .reason("MISSING")
                            .build(),
                    )
                    .build()
            });
        let ecs = SdkEcs(mock_client!(
            aws_sdk_ecs,
            RuleMode::MatchAny,
            [&found, &missing]
        ));
        let web = ecs
            .describe_services("demo", &["web".to_owned()])
            .await
            .unwrap();
        let primary = web[0].primary().unwrap();
        assert_eq!(primary.rollout_state, Some(RolloutState::Failed));
        assert!(
            primary
                .rollout_reason
                .as_deref()
                .unwrap()
                .contains("circuit breaker")
        );
        assert_eq!(
            web[0].events[0].message,
            "(service web) has started 1 tasks."
        );
        let err = ecs
            .describe_services("demo", &["gone".to_owned()])
            .await
            .unwrap_err();
        assert!(
            matches!(err, AwsError::NotFound(_, ref m) if m.contains("gone")),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn errors_are_sorted_by_code() {
        let throttled = mock!(aws_sdk_ecs::Client::describe_task_definition)
            .match_requests(|req| req.task_definition() == Some("a:1"))
            .then_error(|| {
                DescribeTaskDefinitionError::generic(
                    ErrorMetadata::builder()
                        .code("ThrottlingException")
                        .message("Rate exceeded")
                        .build(),
                )
            });
        let unknown = mock!(aws_sdk_ecs::Client::describe_task_definition)
            .match_requests(|req| req.task_definition() == Some("b:9"))
            .then_error(|| {
                DescribeTaskDefinitionError::generic(
                    ErrorMetadata::builder()
                        .code("ClientException")
                        .message("Unable to describe task definition.")
                        .build(),
                )
            });
        let ecs = SdkEcs(mock_client!(
            aws_sdk_ecs,
            RuleMode::MatchAny,
            [&throttled, &unknown]
        ));
        let err = ecs.describe_task_definition("a:1").await.unwrap_err();
        assert!(
            matches!(err, AwsError::Throttled(ref m) if m.contains("Rate exceeded")),
            "{err:?}"
        );
        let err = ecs.describe_task_definition("b:9").await.unwrap_err();
        assert!(
            matches!(err, AwsError::NotFound(_, ref m) if m.contains("b:9")),
            "{err:?}"
        );
    }
}
