//! The traits of `aws` implemented over the AWS SDK for Rust. The only place SDK types live.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region, SdkConfig, retry::RetryConfig};
use aws_sdk_ecs::error::SdkError;
use aws_sdk_ecs::types as ecs;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use jiff::Timestamp;

use super::{
    Alarm, AlarmState, Aws, AwsError, AwsResult, CircuitBreaker, Container, Deployment,
    DeploymentStatus, Ecs, Forward, Image, LoadBalancing, Monitoring, Registry, Resource,
    RolloutState, Secrets, Service, ServiceEvent, ServiceStatus, StoppedTask, TargetGroupMetrics,
    TargetHealth, TargetState, TaskDefinition,
};

mod db;

/// Where and as whom to reach AWS: flags and environment, resolved once.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub profile: Option<String>,
    pub region: Option<String>,
    /// Overrides every service's endpoint (`--endpoint-url`; the SDK also reads
    /// `AWS_ENDPOINT_URL` by itself).
    pub endpoint_url: Option<String>,
}

/// Loads the shared SDK configuration: the standard credential chain, and a retry policy that
/// gives up quickly so opsctl's own pacer sees throttling and slows down (see the README's
/// "Retries and timeouts").
pub async fn sdk_config(conn: &Connection) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry_config())
        .timeout_config(timeout_config());
    if let Some(profile) = &conn.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &conn.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &conn.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// Standard retries (not adaptive, whose client-side rate limiter sleeps about 18 s a retry
/// under a throttling burst): 4 attempts, backing off from 0.2 s to at most 2 s, so a burst
/// of three throttled or failed answers costs about 1.5 s. A call still failing after that
/// reaches the caller, whose pacer decides.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(4)
        .with_initial_backoff(std::time::Duration::from_millis(200))
        .with_max_backoff(std::time::Duration::from_secs(2))
}

/// Connect within 3 s, an answer within 30 s, a call with its retries within 60 s.
pub fn timeout_config() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(3))
        .read_timeout(std::time::Duration::from_secs(30))
        .operation_timeout(std::time::Duration::from_secs(60))
        .build()
}

/// Builds every adapter from one SDK configuration.
pub fn clients(config: &SdkConfig) -> Aws {
    Aws {
        ecs: Arc::new(SdkEcs(aws_sdk_ecs::Client::new(config))),
        registry: Arc::new(SdkRegistry(aws_sdk_ecr::Client::new(config))),
        secrets: Arc::new(SdkSecrets(
            aws_sdk_secretsmanager::Client::new(config),
            SdkParameters(aws_sdk_ssm::Client::new(config)),
        )),
        monitoring: Arc::new(SdkMonitoring(aws_sdk_cloudwatch::Client::new(config))),
        lb: Arc::new(SdkLoadBalancing(
            aws_sdk_elasticloadbalancingv2::Client::new(config),
        )),
        db: Arc::new(db::SdkDatabase(aws_sdk_rds::Client::new(config))),
        autoscaling: Arc::new(db::SdkAutoScaling(
            aws_sdk_applicationautoscaling::Client::new(config),
        )),
    }
}

/// Sorts an SDK error by its code. The message is `Call: Code: message` as AWS wrote it,
/// or, when no answer came, what the connection said.
fn classify<E, R>(what: &str, err: SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    // No answer at all. A request without credentials never left: nothing was sent anywhere.
    if let SdkError::DispatchFailure(_)
    | SdkError::TimeoutError(_)
    | SdkError::ConstructionFailure(_) = &err
    {
        let detail = causes(&err);
        return if detail.contains("credentials") {
            AwsError::NoCredentials(format!("{what}: no usable AWS credentials ({detail})"))
        } else if matches!(err, SdkError::ConstructionFailure(_)) {
            AwsError::Other(format!("{what}: the request could not be built ({detail})"))
        } else {
            AwsError::Unreachable(format!("{what}: no answer from AWS ({detail})"))
        };
    }
    let code = err.code().unwrap_or_default().to_owned();
    let text = match (code.as_str(), err.message()) {
        ("", _) => format!("{what}: {}", causes(&err)),
        (code, Some(message)) if !message.is_empty() => format!("{what}: {code}: {message}"),
        (code, _) => format!("{what}: {code}"),
    };
    let resource = match code.as_str() {
        "ClusterNotFoundException" => Some(Resource::Cluster),
        "ServiceNotFoundException" => Some(Resource::Service),
        "RepositoryNotFoundException" => Some(Resource::Repository),
        "TargetGroupNotFound" | "TargetGroupNotFoundException" => Some(Resource::TargetGroup),
        "ListenerNotFound" | "RuleNotFound" => Some(Resource::Listener),
        "LoadBalancerNotFound" => Some(Resource::LoadBalancer),
        "DBInstanceNotFound" | "DBInstanceNotFoundFault" => Some(Resource::DbInstance),
        "DBSnapshotNotFound" | "DBSnapshotNotFoundFault" => Some(Resource::DbSnapshot),
        "ResourceNotFoundException" => Some(Resource::Other),
        _ => None,
    };
    if let Some(resource) = resource {
        return AwsError::NotFound(resource, text);
    }
    match code.as_str() {
        "Throttling"
        | "ThrottlingException"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "RequestThrottled"
        | "RequestThrottledException" => AwsError::Throttled(text),
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "ExpiredToken"
        | "ExpiredTokenException" => AwsError::AccessDenied(text),
        "InvalidParameterException" | "ClientException" | "ValidationError" => {
            AwsError::Invalid(text)
        }
        _ => AwsError::Other(text),
    }
}

/// `a: b: c` from an error and its sources, skipping a cause its parent already spelled out.
fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

fn ts(t: Option<&aws_smithy_types::DateTime>) -> Option<Timestamp> {
    t.and_then(|t| Timestamp::new(t.secs(), t.subsec_nanos() as i32).ok())
}

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

/// ECR over the SDK.
pub struct SdkRegistry(pub aws_sdk_ecr::Client);

#[async_trait]
impl Registry for SdkRegistry {
    async fn find_image(&self, repository: &str, tag: &str) -> AwsResult<Option<Image>> {
        let repos = self
            .0
            .describe_repositories()
            .repository_names(repository)
            .send()
            .await
            .map_err(|e| classify("DescribeRepositories", e))?;
        let uri = repos
            .repositories()
            .first()
            .and_then(|r| r.repository_uri())
            .ok_or_else(|| {
                AwsError::not_found(Resource::Repository, format!("ECR repository {repository}"))
            })?
            .to_owned();
        let images = self
            .0
            .describe_images()
            .repository_name(repository)
            .image_ids(
                aws_sdk_ecr::types::ImageIdentifier::builder()
                    .image_tag(tag)
                    .build(),
            )
            .send()
            .await;
        match images {
            Ok(out) => Ok(out.image_details().first().map(|d| Image {
                uri: format!("{uri}:{tag}"),
                digest: d.image_digest().unwrap_or_default().to_owned(),
            })),
            Err(e) if e.code() == Some("ImageNotFoundException") => Ok(None),
            Err(e) => Err(classify("DescribeImages", e)),
        }
    }
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

/// Parameter Store over the SDK: only to see that a parameter exists.
pub struct SdkParameters(pub aws_sdk_ssm::Client);

impl SdkParameters {
    async fn exists(&self, name: &str) -> AwsResult<bool> {
        let filter = aws_sdk_ssm::types::ParameterStringFilter::builder()
            .key("Name")
            .option("Equals")
            .values(name)
            .build()
            .map_err(|e| AwsError::Invalid(format!("DescribeParameters: {e}")))?;
        let out = self
            .0
            .describe_parameters()
            .parameter_filters(filter)
            .send()
            .await
            .map_err(|e| classify("DescribeParameters", e))?;
        Ok(!out.parameters().is_empty())
    }
}

/// Secrets Manager over the SDK, with Parameter Store beside it for the references that
/// point there.
pub struct SdkSecrets(pub aws_sdk_secretsmanager::Client, pub SdkParameters);

#[async_trait]
impl Secrets for SdkSecrets {
    async fn parameter_exists(&self, name: &str) -> AwsResult<bool> {
        self.1.exists(name).await
    }

    async fn secret_exists(&self, id: &str) -> AwsResult<bool> {
        match self.0.describe_secret().secret_id(id).send().await {
            Ok(out) => Ok(out.deleted_date().is_none()),
            Err(e) => match classify("DescribeSecret", e) {
                AwsError::NotFound(..) => Ok(false),
                other => Err(other),
            },
        }
    }
}

/// CloudWatch over the SDK.
pub struct SdkMonitoring(pub aws_sdk_cloudwatch::Client);

#[async_trait]
impl Monitoring for SdkMonitoring {
    async fn alarms(&self, names: &[String]) -> AwsResult<Vec<Alarm>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let out = self
            .0
            .describe_alarms()
            .set_alarm_names(Some(names.to_vec()))
            .send()
            .await
            .map_err(|e| classify("DescribeAlarms", e))?;
        let metric = out.metric_alarms().iter().map(|a| Alarm {
            name: a.alarm_name().unwrap_or_default().to_owned(),
            state: AlarmState::from_aws(a.state_value().map_or("", |s| s.as_str())),
            reason: a.state_reason().unwrap_or_default().to_owned(),
        });
        let composite = out.composite_alarms().iter().map(|a| Alarm {
            name: a.alarm_name().unwrap_or_default().to_owned(),
            state: AlarmState::from_aws(a.state_value().map_or("", |s| s.as_str())),
            reason: a.state_reason().unwrap_or_default().to_owned(),
        });
        Ok(metric.chain(composite).collect())
    }

    async fn put_deployment_marker(
        &self,
        env: &str,
        service: &str,
        version: &str,
    ) -> AwsResult<()> {
        use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
        let dim = |k: &str, v: &str| Dimension::builder().name(k).value(v).build();
        self.0
            .put_metric_data()
            .namespace("opsctl")
            .metric_data(
                MetricDatum::builder()
                    .metric_name("Deployment")
                    .dimensions(dim("env", env))
                    .dimensions(dim("service", service))
                    .dimensions(dim("version", version))
                    .value(1.0)
                    .unit(StandardUnit::Count)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| classify("PutMetricData", e))?;
        Ok(())
    }

    async fn target_group_metrics(
        &self,
        listener_arn: &str,
        target_group_arn: &str,
        start: Timestamp,
        end: Timestamp,
    ) -> AwsResult<TargetGroupMetrics> {
        use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
        let (Some(lb), Some(tg)) = (lb_dimension(listener_arn), tg_dimension(target_group_arn))
        else {
            return Err(AwsError::Invalid(format!(
                "cannot derive ALB metric dimensions from {listener_arn} and {target_group_arn}"
            )));
        };
        // One datapoint for the whole window: a period of at least a minute, in minutes.
        let secs = (end.as_second() - start.as_second()).max(60);
        let period = i32::try_from((secs + 59) / 60 * 60).unwrap_or(i32::MAX);
        let query = |id: &str, metric: &str, stat: &str| {
            MetricDataQuery::builder()
                .id(id)
                .return_data(true)
                .metric_stat(
                    MetricStat::builder()
                        .metric(
                            Metric::builder()
                                .namespace("AWS/ApplicationELB")
                                .metric_name(metric)
                                .dimensions(
                                    Dimension::builder().name("LoadBalancer").value(&lb).build(),
                                )
                                .dimensions(
                                    Dimension::builder().name("TargetGroup").value(&tg).build(),
                                )
                                .build(),
                        )
                        .period(period)
                        .stat(stat)
                        .build(),
                )
                .build()
        };
        let to_dt = |t: Timestamp| aws_smithy_types::DateTime::from_secs(t.as_second());
        let out = self
            .0
            .get_metric_data()
            .start_time(to_dt(start))
            .end_time(to_dt(end))
            .metric_data_queries(query("requests", "RequestCount", "Sum"))
            .metric_data_queries(query("errors", "HTTPCode_Target_5XX_Count", "Sum"))
            .metric_data_queries(query("p99", "TargetResponseTime", "p99"))
            .send()
            .await
            .map_err(|e| classify("GetMetricData", e))?;
        let values = |id: &str| -> Vec<f64> {
            out.metric_data_results()
                .iter()
                .find(|r| r.id() == Some(id))
                .map(|r| r.values().to_vec())
                .unwrap_or_default()
        };
        let sum = |v: Vec<f64>| (!v.is_empty()).then(|| v.iter().sum());
        Ok(TargetGroupMetrics {
            requests: sum(values("requests")),
            errors_5xx: sum(values("errors")),
            p99_seconds: values("p99").into_iter().reduce(f64::max),
        })
    }
}

/// The `LoadBalancer` metric dimension (`app/NAME/ID`) from a listener or rule ARN.
pub fn lb_dimension(listener_arn: &str) -> Option<String> {
    let resource = listener_arn
        .split_once(":listener/")
        .or_else(|| listener_arn.split_once(":listener-rule/"))?
        .1;
    let parts: Vec<&str> = resource.split('/').collect();
    (parts.len() >= 3).then(|| parts[..3].join("/"))
}

/// The `TargetGroup` metric dimension (`targetgroup/NAME/ID`) from a target group ARN.
pub fn tg_dimension(target_group_arn: &str) -> Option<String> {
    target_group_arn
        .split_once(":targetgroup/")
        .map(|(_, rest)| format!("targetgroup/{rest}"))
}

/// ELBv2 over the SDK.
pub struct SdkLoadBalancing(pub aws_sdk_elasticloadbalancingv2::Client);

use aws_sdk_elasticloadbalancingv2::types as elb;

impl SdkLoadBalancing {
    /// The actions of a listener (its default actions) or of a rule.
    async fn actions(&self, arn: &str) -> AwsResult<Vec<elb::Action>> {
        if arn.contains(":listener-rule/") {
            let out = self
                .0
                .describe_rules()
                .rule_arns(arn)
                .send()
                .await
                .map_err(|e| classify("DescribeRules", e))?;
            let rule = out.rules().first().ok_or_else(|| {
                AwsError::not_found(Resource::Listener, format!("listener rule {arn}"))
            })?;
            Ok(rule.actions().to_vec())
        } else {
            let out = self
                .0
                .describe_listeners()
                .listener_arns(arn)
                .send()
                .await
                .map_err(|e| classify("DescribeListeners", e))?;
            let listener = out.listeners().first().ok_or_else(|| {
                AwsError::not_found(Resource::Listener, format!("listener {arn}"))
            })?;
            Ok(listener.default_actions().to_vec())
        }
    }
}

/// The weights of a forward action: its ForwardConfig, or a plain single-target forward.
fn weights_of(action: &elb::Action) -> Vec<(String, i32)> {
    if let Some(cfg) = action.forward_config()
        && !cfg.target_groups().is_empty()
    {
        return cfg
            .target_groups()
            .iter()
            .map(|t| {
                (
                    t.target_group_arn().unwrap_or_default().to_owned(),
                    t.weight().unwrap_or(1),
                )
            })
            .collect();
    }
    action
        .target_group_arn()
        .map(|tg| vec![(tg.to_owned(), 1)])
        .unwrap_or_default()
}

#[async_trait]
impl LoadBalancing for SdkLoadBalancing {
    async fn target_health(&self, target_group_arn: &str) -> AwsResult<Vec<TargetHealth>> {
        let out = self
            .0
            .describe_target_health()
            .target_group_arn(target_group_arn)
            .send()
            .await
            .map_err(|e| classify("DescribeTargetHealth", e))?;
        Ok(out
            .target_health_descriptions()
            .iter()
            .map(|d| TargetHealth {
                id: d
                    .target()
                    .and_then(|t| t.id())
                    .unwrap_or_default()
                    .to_owned(),
                port: d.target().and_then(|t| t.port()),
                state: TargetState::from_aws(
                    d.target_health()
                        .and_then(|h| h.state())
                        .map_or("", |s| s.as_str()),
                ),
                reason: d
                    .target_health()
                    .and_then(|h| h.description())
                    .map(str::to_owned),
            })
            .collect())
    }

    async fn find_listener(&self, load_balancer: &str, port: i32) -> AwsResult<String> {
        let lbs = self
            .0
            .describe_load_balancers()
            .names(load_balancer)
            .send()
            .await
            .map_err(|e| classify("DescribeLoadBalancers", e))?;
        let lb_arn = lbs
            .load_balancers()
            .first()
            .and_then(|lb| lb.load_balancer_arn())
            .ok_or_else(|| {
                AwsError::not_found(
                    Resource::LoadBalancer,
                    format!("load balancer {load_balancer}"),
                )
            })?;
        let listeners = self
            .0
            .describe_listeners()
            .load_balancer_arn(lb_arn)
            .send()
            .await
            .map_err(|e| classify("DescribeListeners", e))?;
        listeners
            .listeners()
            .iter()
            .find(|l| l.port() == Some(port))
            .and_then(|l| l.listener_arn())
            .map(str::to_owned)
            .ok_or_else(|| {
                AwsError::not_found(
                    Resource::Listener,
                    format!("listener on port {port} of {load_balancer}"),
                )
            })
    }

    async fn target_group_arn(&self, name: &str) -> AwsResult<String> {
        if name.starts_with("arn:") {
            return Ok(name.to_owned());
        }
        let out = self
            .0
            .describe_target_groups()
            .names(name)
            .send()
            .await
            .map_err(|e| classify("DescribeTargetGroups", e))?;
        out.target_groups()
            .first()
            .and_then(|t| t.target_group_arn())
            .map(str::to_owned)
            .ok_or_else(|| {
                AwsError::not_found(Resource::TargetGroup, format!("target group {name}"))
            })
    }

    async fn forward(&self, arn: &str) -> AwsResult<Forward> {
        let actions = self.actions(arn).await?;
        let forward = actions
            .iter()
            .find(|a| a.r#type() == Some(&elb::ActionTypeEnum::Forward))
            .ok_or_else(|| AwsError::Invalid(format!("{arn} has no forward action")))?;
        Ok(Forward {
            arn: arn.to_owned(),
            weights: weights_of(forward),
        })
    }

    async fn set_weights(&self, arn: &str, weights: &[(String, i32)]) -> AwsResult<()> {
        // Read, change only the forward action's target-group weights, write back every
        // action: other actions, their order and the stickiness config stay as they were.
        let mut actions = self.actions(arn).await?;
        let forward = actions
            .iter_mut()
            .find(|a| a.r#type() == Some(&elb::ActionTypeEnum::Forward))
            .ok_or_else(|| AwsError::Invalid(format!("{arn} has no forward action")))?;
        let stickiness = forward
            .forward_config()
            .and_then(|c| c.target_group_stickiness_config())
            .cloned();
        let tuples = weights
            .iter()
            .map(|(tg, w)| {
                elb::TargetGroupTuple::builder()
                    .target_group_arn(tg)
                    .weight(*w)
                    .build()
            })
            .collect();
        forward.target_group_arn = None;
        forward.forward_config = Some(
            elb::ForwardActionConfig::builder()
                .set_target_groups(Some(tuples))
                .set_target_group_stickiness_config(stickiness)
                .build(),
        );
        if arn.contains(":listener-rule/") {
            // Conditions are not sent, so ELB keeps them as they are.
            self.0
                .modify_rule()
                .rule_arn(arn)
                .set_actions(Some(actions))
                .send()
                .await
                .map_err(|e| classify("ModifyRule", e))?;
        } else {
            self.0
                .modify_listener()
                .listener_arn(arn)
                .set_default_actions(Some(actions))
                .send()
                .await
                .map_err(|e| classify("ModifyListener", e))?;
        }
        Ok(())
    }
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
