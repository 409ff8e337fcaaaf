//! ECS over the SDK: services, task definitions, tasks.

use aws_sdk_ecs::types as ecs;

use super::*;

mod convert;

use convert::{
    ecs_tags, one_off_from, service_deployment_from, service_from, task_definition_from,
};

type RegisterTaskDefinition =
    aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionFluentBuilder;

/// A registration that copies a revision.
trait CopyOf {
    /// Every registrable field of `td` carried over as it was, with these containers and tags
    /// (inference accelerators are no longer accepted by ECS, so they are not sent).
    fn copy_of(
        self,
        td: &ecs::TaskDefinition,
        containers: Vec<ecs::ContainerDefinition>,
        tags: &BTreeMap<String, String>,
    ) -> Self;
}

impl CopyOf for RegisterTaskDefinition {
    fn copy_of(
        self,
        td: &ecs::TaskDefinition,
        containers: Vec<ecs::ContainerDefinition>,
        tags: &BTreeMap<String, String>,
    ) -> Self {
        self.set_family(td.family.clone())
            .set_task_role_arn(td.task_role_arn.clone())
            .set_execution_role_arn(td.execution_role_arn.clone())
            .set_network_mode(td.network_mode.clone())
            .set_container_definitions(Some(containers))
            .set_volumes(td.volumes.clone())
            .set_placement_constraints(td.placement_constraints.clone())
            .set_requires_compatibilities(td.requires_compatibilities.clone())
            .set_cpu(td.cpu.clone())
            .set_memory(td.memory.clone())
            .set_tags(Some(ecs_tags(tags)))
            .set_pid_mode(td.pid_mode.clone())
            .set_ipc_mode(td.ipc_mode.clone())
            .set_proxy_configuration(td.proxy_configuration.clone())
            .set_ephemeral_storage(td.ephemeral_storage.clone())
            .set_runtime_platform(td.runtime_platform.clone())
            .set_enable_fault_injection(td.enable_fault_injection)
    }
}

/// ECS over the SDK.
pub struct SdkEcs(pub aws_sdk_ecs::Client);

impl SdkEcs {
    /// The ARNs of the service's tasks with this desired status (ListTasks, one page of 100:
    /// ECS keeps stopped tasks for about an hour, and callers want the recent ones).
    async fn service_task_arns(
        &self,
        cluster: &str,
        service: &str,
        status: ecs::DesiredStatus,
    ) -> AwsResult<Vec<String>> {
        let listed = self
            .0
            .list_tasks()
            .cluster(cluster)
            .service_name(service)
            .desired_status(status)
            .max_results(100)
            .send()
            .await
            .map_err(|e| classify("ListTasks", e))?;
        Ok(listed.task_arns().to_vec())
    }

    /// The service's tasks with this desired status, described (ListTasks, then one
    /// DescribeTasks for at most 100).
    async fn service_tasks(
        &self,
        cluster: &str,
        service: &str,
        status: ecs::DesiredStatus,
    ) -> AwsResult<Vec<ecs::Task>> {
        let arns = self.service_task_arns(cluster, service, status).await?;
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
        Ok(described.tasks().to_vec())
    }

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
            .map_err(|e| describe_error(task_definition, e))?;
        let td = out.task_definition.ok_or_else(|| {
            AwsError::not_found(
                Resource::TaskDefinition,
                format!("task definition {task_definition}"),
            )
        })?;
        Ok((td, out.tags.unwrap_or_default()))
    }
}

/// `live` with the native settings given laid over it, field by field.
fn with_native_settings(
    live: Option<ecs::DeploymentConfiguration>,
    settings: &NativeSettings,
) -> ecs::DeploymentConfiguration {
    let mut config = live.unwrap_or_else(|| ecs::DeploymentConfiguration::builder().build());
    if let Some(minutes) = settings.bake_minutes {
        config.bake_time_in_minutes = Some(minutes);
    }
    if let Some(step) = settings.canary {
        let mut canary = config
            .canary_configuration
            .take()
            .unwrap_or_else(|| ecs::CanaryConfiguration::builder().build());
        canary.canary_percent = step.percent.or(canary.canary_percent);
        canary.canary_bake_time_in_minutes =
            step.bake_minutes.or(canary.canary_bake_time_in_minutes);
        config.canary_configuration = Some(canary);
    }
    if let Some(step) = settings.linear {
        let mut linear = config
            .linear_configuration
            .take()
            .unwrap_or_else(|| ecs::LinearConfiguration::builder().build());
        linear.step_percent = step.percent.or(linear.step_percent);
        linear.step_bake_time_in_minutes = step.bake_minutes.or(linear.step_bake_time_in_minutes);
        config.linear_configuration = Some(linear);
    }
    config
}

/// DescribeTaskDefinition's error, sorted: ECS answers an unknown revision with a
/// ClientException, which is a revision not found.
fn describe_error<R: std::fmt::Debug + 'static>(
    task_definition: &str,
    e: SdkError<aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionError, R>,
) -> AwsError {
    match classify("DescribeTaskDefinition", e) {
        AwsError::Invalid(_) => AwsError::not_found(
            Resource::TaskDefinition,
            format!("task definition {task_definition}"),
        ),
        other => other,
    }
}

/// Keeps the body of the answer it sees: the JSON ECS sent, before the SDK's types drop what
/// they do not know.
#[derive(Debug, Clone, Default)]
struct AnswerBody(Arc<std::sync::Mutex<Option<Vec<u8>>>>);

impl aws_smithy_runtime_api::client::interceptors::Intercept for AnswerBody {
    fn name(&self) -> &'static str {
        "AnswerBody"
    }

    fn read_after_deserialization(
        &self,
        context: &aws_smithy_runtime_api::client::interceptors::context::AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        _cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        if let Some(bytes) = context.response().body().bytes() {
            *self.0.lock().unwrap() = Some(bytes.to_vec());
        }
        Ok(())
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

    async fn task_definition_document(
        &self,
        task_definition: &str,
    ) -> AwsResult<serde_json::Value> {
        let body = AnswerBody::default();
        self.0
            .describe_task_definition()
            .task_definition(task_definition)
            .customize()
            .interceptor(body.clone())
            .send()
            .await
            .map_err(|e| describe_error(task_definition, e))?;
        let bytes = body.0.lock().unwrap().take().unwrap_or_default();
        let mut answer: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
            AwsError::Other(format!("DescribeTaskDefinition: unreadable answer: {e}"))
        })?;
        match answer
            .get_mut("taskDefinition")
            .map(serde_json::Value::take)
        {
            Some(td @ serde_json::Value::Object(_)) => Ok(td),
            _ => Err(AwsError::not_found(
                Resource::TaskDefinition,
                format!("task definition {task_definition}"),
            )),
        }
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
        let out = self
            .0
            .register_task_definition()
            .copy_of(&td, containers, &all_tags)
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

    async fn update_native(
        &self,
        cluster: &str,
        service: &str,
        task_definition: &str,
        settings: &NativeSettings,
    ) -> AwsResult<Service> {
        // The whole deploymentConfiguration goes back as the service has it (hooks, alarms,
        // circuit breaker), with only the settings given changed.
        let described = self
            .0
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
            .map_err(|e| classify("DescribeServices", e))?;
        let live = described
            .services()
            .first()
            .ok_or_else(|| {
                AwsError::not_found(
                    Resource::Service,
                    format!("service {service} in cluster {cluster}"),
                )
            })?
            .deployment_configuration()
            .cloned();
        let config = with_native_settings(live, settings);
        let out = self
            .0
            .update_service()
            .cluster(cluster)
            .service(service)
            .task_definition(task_definition)
            .deployment_configuration(config)
            .send()
            .await
            .map_err(|e| classify("UpdateService", e))?;
        out.service()
            .map(service_from)
            .ok_or_else(|| AwsError::Other("UpdateService returned no service".into()))
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

    async fn latest_service_deployment(
        &self,
        cluster: &str,
        service: &str,
        since: Timestamp,
    ) -> AwsResult<Option<String>> {
        let after = aws_smithy_types::DateTime::from_secs(since.as_second());
        let out = self
            .0
            .list_service_deployments()
            .cluster(cluster)
            .service(service)
            .created_at(ecs::CreatedAt::builder().after(after).build())
            .send()
            .await
            .map_err(|e| classify("ListServiceDeployments", e))?;
        Ok(out
            .service_deployments()
            .iter()
            .max_by_key(|d| d.created_at().map(|t| (t.secs(), t.subsec_nanos())))
            .and_then(|d| d.service_deployment_arn())
            .map(str::to_owned))
    }

    async fn describe_service_deployment(&self, arn: &str) -> AwsResult<ServiceDeployment> {
        let out = self
            .0
            .describe_service_deployments()
            .service_deployment_arns(arn)
            .send()
            .await
            .map_err(|e| classify("DescribeServiceDeployments", e))?;
        out.service_deployments()
            .first()
            .map(service_deployment_from)
            .ok_or_else(|| {
                AwsError::not_found(Resource::Other, format!("service deployment {arn}"))
            })
    }

    async fn stop_service_deployment(&self, arn: &str) -> AwsResult<()> {
        self.0
            .stop_service_deployment()
            .service_deployment_arn(arn)
            .stop_type(ecs::StopServiceDeploymentStopType::Rollback)
            .send()
            .await
            .map_err(|e| classify("StopServiceDeployment", e))?;
        Ok(())
    }

    async fn continue_service_deployment(
        &self,
        arn: &str,
        hook_id: &str,
        rollback: bool,
    ) -> AwsResult<()> {
        let action = if rollback {
            ecs::DeploymentLifecycleHookAction::Rollback
        } else {
            ecs::DeploymentLifecycleHookAction::Continue
        };
        self.0
            .continue_service_deployment()
            .service_deployment_arn(arn)
            .hook_id(hook_id)
            .action(action)
            .send()
            .await
            .map_err(|e| classify("ContinueServiceDeployment", e))?;
        Ok(())
    }

    async fn run_task(&self, r: &RunRequest) -> AwsResult<OneOffTask> {
        let p = &r.placement;
        let network = (!p.subnets.is_empty()).then(|| {
            ecs::NetworkConfiguration::builder()
                .awsvpc_configuration(
                    ecs::AwsVpcConfiguration::builder()
                        .set_subnets(Some(p.subnets.clone()))
                        .set_security_groups(Some(p.security_groups.clone()))
                        .set_assign_public_ip(p.public_ip.map(|on| {
                            if on {
                                ecs::AssignPublicIp::Enabled
                            } else {
                                ecs::AssignPublicIp::Disabled
                            }
                        }))
                        .build()
                        .expect("subnets are set"),
                )
                .build()
        });
        let providers: Vec<ecs::CapacityProviderStrategyItem> = p
            .capacity_providers
            .iter()
            .filter_map(|(name, weight, base)| {
                ecs::CapacityProviderStrategyItem::builder()
                    .capacity_provider(name)
                    .weight(*weight)
                    .base(*base)
                    .build()
                    .ok()
            })
            .collect();
        let out = self
            .0
            .run_task()
            .cluster(&r.cluster)
            .task_definition(&r.task_definition)
            .count(1)
            .started_by(&r.started_by)
            .set_launch_type(
                p.launch_type
                    .as_deref()
                    .filter(|_| providers.is_empty())
                    .map(ecs::LaunchType::from),
            )
            .set_capacity_provider_strategy((!providers.is_empty()).then_some(providers))
            .set_platform_version(p.platform_version.clone())
            .set_network_configuration(network)
            .overrides(
                ecs::TaskOverride::builder()
                    .container_overrides(
                        ecs::ContainerOverride::builder()
                            .name(&r.container)
                            .set_command(Some(r.command.clone()))
                            .build(),
                    )
                    .build(),
            )
            .set_tags((!r.tags.is_empty()).then(|| ecs_tags(&r.tags)))
            .send()
            .await
            .map_err(|e| classify("RunTask", e))?;
        if let Some(task) = out.tasks().first() {
            return Ok(one_off_from(task, &r.container));
        }
        let why = out
            .failures()
            .iter()
            .map(|f| {
                format!(
                    "{}{}",
                    f.reason().unwrap_or("unknown"),
                    f.detail().map(|d| format!(": {d}")).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        Err(AwsError::Invalid(format!("RunTask started no task: {why}")))
    }

    async fn describe_task(
        &self,
        cluster: &str,
        arn: &str,
        container: &str,
    ) -> AwsResult<Option<OneOffTask>> {
        let out = self
            .0
            .describe_tasks()
            .cluster(cluster)
            .tasks(arn)
            .send()
            .await
            .map_err(|e| classify("DescribeTasks", e))?;
        Ok(out.tasks().first().map(|t| one_off_from(t, container)))
    }

    async fn stop_task(&self, cluster: &str, arn: &str, reason: &str) -> AwsResult<()> {
        self.0
            .stop_task()
            .cluster(cluster)
            .task(arn)
            .reason(reason)
            .send()
            .await
            .map_err(|e| classify("StopTask", e))?;
        Ok(())
    }

    async fn task_ids(&self, cluster: &str, service: &str) -> AwsResult<Vec<String>> {
        let mut ids = Vec::new();
        for status in [ecs::DesiredStatus::Running, ecs::DesiredStatus::Stopped] {
            let arns = self.service_task_arns(cluster, service, status).await?;
            ids.extend(
                arns.iter()
                    .filter_map(|a| a.rsplit('/').next())
                    .map(str::to_owned),
            );
        }
        Ok(ids)
    }

    async fn running_tasks(&self, cluster: &str, service: &str) -> AwsResult<Vec<RunningTask>> {
        let tasks = self
            .service_tasks(cluster, service, ecs::DesiredStatus::Running)
            .await?;
        Ok(tasks
            .iter()
            .map(|t| RunningTask {
                id: t
                    .task_arn()
                    .and_then(|a| a.rsplit('/').next())
                    .unwrap_or_default()
                    .to_owned(),
                zone: t.availability_zone().map(str::to_owned),
                ip: t
                    .attachments()
                    .iter()
                    .flat_map(|a| a.details())
                    .find(|d| d.name() == Some("privateIPv4Address"))
                    .and_then(|d| d.value())
                    .map(str::to_owned),
            })
            .collect())
    }

    async fn stopped_tasks(
        &self,
        cluster: &str,
        service: &str,
        limit: usize,
    ) -> AwsResult<Vec<StoppedTask>> {
        let stopped = self
            .service_tasks(cluster, service, ecs::DesiredStatus::Stopped)
            .await?;
        let mut tasks: Vec<StoppedTask> = stopped
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
                last_lines: Vec::new(),
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

#[cfg(test)]
mod tests;
