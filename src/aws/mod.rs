//! The narrow view of AWS that workflows use: traits in domain terms, no SDK types.
//!
//! `sdk` implements them over the AWS SDK for Rust; tests implement them in memory
//! (`fake`) to show rollouts that fail, alarms that fire, throttling and timeouts.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use serde::Serialize;

pub mod sdk;
pub mod tags;

#[cfg(test)]
pub mod fake;

/// The kind of named resource a [`AwsError::NotFound`] is about, and so which setting or
/// flag named it: the one place that knows how a missing resource is fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    Cluster,
    Service,
    TaskDefinition,
    Repository,
    LoadBalancer,
    Listener,
    TargetGroup,
    DbInstance,
    DbSnapshot,
    Secret,
    /// A scalable target, alarm or anything else opsctl does not name from its settings.
    Other,
}

impl Resource {
    /// The `opsctl.toml` key (or flag) that names a resource of this kind.
    pub fn setting(self) -> &'static str {
        match self {
            Resource::Cluster => "`cluster`",
            Resource::Service => "`service` (or the colours' `service`, or --service)",
            Resource::TaskDefinition => "--to (see `opsctl history ENV`)",
            Resource::Repository => "`repository`",
            Resource::LoadBalancer | Resource::Listener => "`bluegreen.listener`",
            Resource::TargetGroup => "the colours' `target_group`",
            Resource::DbInstance => "`database.instance`",
            Resource::DbSnapshot => "--snapshot (see `opsctl db snapshots ENV`)",
            Resource::Secret => "the task definition's secrets",
            Resource::Other => "the names in the environment's table",
        }
    }
}

/// An AWS call that failed, sorted by what the caller can do about it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AwsError {
    /// The named resource does not exist.
    #[error("{1}")]
    NotFound(Resource, String),
    /// No answer from the endpoint: not reachable, refused, or timed out.
    #[error("{0}")]
    Unreachable(String),
    /// AWS asked us to slow down; retry later.
    #[error("throttled by AWS: {0}")]
    Throttled(String),
    /// The credentials in use may not make this call.
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// No credentials could be found; nothing was sent.
    #[error("{0}")]
    NoCredentials(String),
    /// The resource a create call names exists already: perhaps made by this very call, whose
    /// first answer was lost and whose retry met it.
    #[error("{0}")]
    AlreadyExists(String),
    /// AWS rejected the request as invalid.
    #[error("{0}")]
    Invalid(String),
    /// Anything else (network, service error), with the SDK's full context.
    #[error("{0}")]
    Other(String),
}

impl AwsError {
    /// `{what} not found`, of a kind of resource.
    pub fn not_found(resource: Resource, what: impl std::fmt::Display) -> Self {
        AwsError::NotFound(resource, format!("{what} not found"))
    }
}

/// Result of an AWS call.
pub type AwsResult<T> = Result<T, AwsError>;

/// The rollout state ECS reports for a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RolloutState {
    InProgress,
    Completed,
    Failed,
}

impl std::fmt::Display for RolloutState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RolloutState::InProgress => "IN_PROGRESS",
            RolloutState::Completed => "COMPLETED",
            RolloutState::Failed => "FAILED",
        })
    }
}

/// A status word as AWS spells it; an unknown word (AWS added one) reads as the variant that
/// stops a workflow rather than one that lets it go on.
macro_rules! aws_words {
    ($(#[$doc:meta])* $name:ident, unknown = $unknown:ident, { $($variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
        pub enum $name {
            $(#[serde(rename = $word)] $variant),+
        }

        impl $name {
            /// The state AWS names `word`.
            pub fn from_aws(word: &str) -> Self {
                match word {
                    $($word => $name::$variant,)+
                    _ => $name::$unknown,
                }
            }

            /// The word AWS uses.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

aws_words!(
    /// Where a deployment stands in its service: the newest is PRIMARY.
    DeploymentStatus, unknown = Inactive, {
        Primary = "PRIMARY",
        Active = "ACTIVE",
        Inactive = "INACTIVE",
    }
);

aws_words!(
    /// An ECS service's own status; only an ACTIVE service can be deployed to.
    ServiceStatus, unknown = Inactive, {
        Active = "ACTIVE",
        Draining = "DRAINING",
        Inactive = "INACTIVE",
    }
);

aws_words!(
    /// A CloudWatch alarm's state.
    AlarmState, unknown = InsufficientData, {
        Ok = "OK",
        Alarm = "ALARM",
        InsufficientData = "INSUFFICIENT_DATA",
    }
);

aws_words!(
    /// The health of one target in a target group, as ELBv2 reports it.
    TargetState, unknown = Unavailable, {
        Initial = "initial",
        Healthy = "healthy",
        Unhealthy = "unhealthy",
        Unused = "unused",
        Draining = "draining",
        Unavailable = "unavailable",
        UnhealthyDraining = "unhealthy.draining",
    }
);

impl TargetState {
    /// Whether the target counts towards a group's health: a target on its way out
    /// (draining) or not taking traffic at all (unused) does not.
    pub fn in_service(self) -> bool {
        !matches!(
            self,
            TargetState::Draining | TargetState::UnhealthyDraining | TargetState::Unused
        )
    }
}

/// One deployment of an ECS service (PRIMARY is the newest).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deployment {
    pub id: String,
    pub status: DeploymentStatus,
    pub task_definition: String,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    pub failed_tasks: i32,
    pub rollout_state: Option<RolloutState>,
    pub rollout_reason: Option<String>,
    pub created_at: Option<Timestamp>,
}

impl Deployment {
    /// Whether this is the deployment ECS is rolling towards.
    pub fn is_primary(&self) -> bool {
        self.status == DeploymentStatus::Primary
    }
}

/// A line from the service's event log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceEvent {
    pub id: String,
    pub at: Timestamp,
    pub message: String,
}

/// An ECS service as a deploy sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Service {
    pub name: String,
    pub arn: String,
    pub status: ServiceStatus,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    /// The task definition ARN the service is set to.
    pub task_definition: String,
    pub deployments: Vec<Deployment>,
    /// Newest first, as ECS returns them.
    pub events: Vec<ServiceEvent>,
    /// ARNs of the target groups the service registers its tasks with.
    pub target_groups: Vec<String>,
    pub circuit_breaker: Option<CircuitBreaker>,
}

/// The service's deployment circuit breaker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CircuitBreaker {
    pub enable: bool,
    pub rollback: bool,
}

impl Service {
    /// The PRIMARY deployment, if ECS reports one.
    pub fn primary(&self) -> Option<&Deployment> {
        self.deployments.iter().find(|d| d.is_primary())
    }

    /// The task definition the service runs, or is rolling towards: its PRIMARY
    /// deployment's, else the one it is set to.
    pub fn current_task_definition(&self) -> &str {
        self.primary().map_or(self.task_definition.as_str(), |d| {
            d.task_definition.as_str()
        })
    }

    /// Settled: the PRIMARY deployment's rollout is COMPLETED (or, where ECS reports no
    /// rollout state, it is the only deployment) and every count has converged (running ==
    /// desired, nothing pending). The one definition of "stable" before target health,
    /// which needs a call of its own.
    pub fn is_steady(&self) -> bool {
        let Some(primary) = self.primary() else {
            return false;
        };
        let rollout_done = match primary.rollout_state {
            Some(state) => state == RolloutState::Completed,
            None => self.deployments.len() == 1,
        };
        rollout_done
            && primary.running == primary.desired
            && self.running == self.desired
            && self.pending == 0
    }

    /// True when a rollout is under way: more than one deployment, or the primary's rollout
    /// not finished.
    pub fn deployment_in_flight(&self) -> bool {
        self.deployments.len() > 1
            || self
                .primary()
                .is_some_and(|d| d.rollout_state == Some(RolloutState::InProgress))
    }
}

/// A container's name and image within a task definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Container {
    pub name: String,
    pub image: String,
}

/// Why no container of a task definition is the one a deploy changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoContainer {
    /// The configured name is not among the task definition's containers.
    #[error("container `{name}` is not in {revision} (it has: {})", .has.join(", "))]
    Missing {
        name: String,
        revision: String,
        has: Vec<String>,
    },
    /// More than one container, and none configured.
    #[error("{revision} has {} containers ({}) and opsctl.toml does not say which one to change", .has.len(), .has.join(", "))]
    Ambiguous { revision: String, has: Vec<String> },
}

/// A task definition revision, reduced to what deploys compare and show.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskDefinition {
    pub arn: String,
    pub family: String,
    pub revision: i32,
    /// `ACTIVE` or `INACTIVE`.
    pub status: String,
    pub containers: Vec<Container>,
    /// Every secret the revision references, once each, in order: the containers'
    /// `secrets[].valueFrom`, their `logConfiguration.secretOptions[].valueFrom` and their
    /// `repositoryCredentials.credentialsParameter` (Secrets Manager ARNs, or Parameter Store
    /// names and ARNs).
    pub secrets: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub registered_at: Option<Timestamp>,
    /// The task role and execution role ARNs, where set (`iam:PassRole` needs them).
    #[serde(skip)]
    pub roles: Vec<String>,
}

impl TaskDefinition {
    /// `family:revision`, how people name a revision.
    pub fn short(&self) -> String {
        format!("{}:{}", self.family, self.revision)
    }

    /// The container a deploy changes: the configured one (the env's `container`) when it is
    /// there, else the only container. Several containers and none configured is an error,
    /// never a guess: the first container is often a sidecar.
    pub fn container_for(&self, configured: Option<&str>) -> Result<&Container, NoContainer> {
        let has = || self.containers.iter().map(|c| c.name.clone()).collect();
        match configured {
            Some(name) => self
                .containers
                .iter()
                .find(|c| c.name == name)
                .ok_or_else(|| NoContainer::Missing {
                    name: name.to_owned(),
                    revision: self.short(),
                    has: has(),
                }),
            None if self.containers.len() == 1 => Ok(&self.containers[0]),
            None => Err(NoContainer::Ambiguous {
                revision: self.short(),
                has: has(),
            }),
        }
    }

    /// The image of the named container.
    pub fn image_of(&self, container: &str) -> Option<&str> {
        self.containers
            .iter()
            .find(|c| c.name == container)
            .map(|c| c.image.as_str())
    }
}

/// A task that stopped, with why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoppedTask {
    pub id: String,
    pub task_definition: String,
    pub reason: String,
    /// `container: exit code / reason` for containers that say something.
    pub containers: Vec<String>,
    pub stopped_at: Option<Timestamp>,
}

/// The health of one target in a target group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetHealth {
    pub id: String,
    pub port: Option<i32>,
    pub state: TargetState,
    pub reason: Option<String>,
}

/// A target group's targets, counted the one way `wait-stable`, `traffic` and `status` share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct TargetTally {
    pub healthy: usize,
    /// Targets that count (neither draining nor unused).
    pub in_service: usize,
    pub draining: usize,
}

impl TargetTally {
    /// Counts the targets.
    pub fn of<'a>(targets: impl IntoIterator<Item = &'a TargetHealth>) -> Self {
        let mut tally = TargetTally::default();
        for t in targets {
            if t.state.in_service() {
                tally.in_service += 1;
                tally.healthy += usize::from(t.state == TargetState::Healthy);
            } else if matches!(
                t.state,
                TargetState::Draining | TargetState::UnhealthyDraining
            ) {
                tally.draining += 1;
            }
        }
        tally
    }

    /// Every counted target healthy, and at least one.
    pub fn all_healthy(&self) -> bool {
        self.in_service > 0 && self.healthy == self.in_service
    }
}

/// An image found in the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Image {
    /// `registry/repository:tag`, ready for a task definition.
    pub uri: String,
    pub digest: String,
}

/// A CloudWatch alarm's current state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alarm {
    pub name: String,
    pub state: AlarmState,
    pub reason: String,
}

impl Alarm {
    /// Whether the alarm is in ALARM (INSUFFICIENT_DATA is not firing).
    pub fn is_firing(&self) -> bool {
        self.state == AlarmState::Alarm
    }
}

/// The firing alarms among `alarms`, each as `name (reason)`.
pub fn firing(alarms: &[Alarm]) -> Vec<String> {
    alarms
        .iter()
        .filter(|a| a.is_firing())
        .map(|a| format!("{} ({})", a.name, a.reason))
        .collect()
}

/// A listener's (or listener rule's) forward action: target groups and their weights.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Forward {
    /// The listener or rule ARN.
    pub arn: String,
    /// `(target group ARN, weight)`, as the action lists them.
    pub weights: Vec<(String, i32)>,
}

/// A target group's ALB metrics over a window; `None` where CloudWatch has no datapoints.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct TargetGroupMetrics {
    pub requests: Option<f64>,
    pub errors_5xx: Option<f64>,
    pub p99_seconds: Option<f64>,
}

/// ECS, as deploys use it.
#[async_trait]
pub trait Ecs: Send + Sync {
    /// One `DescribeServices` call for up to 10 services (events included).
    async fn describe_services(
        &self,
        cluster: &str,
        services: &[String],
    ) -> AwsResult<Vec<Service>>;
    /// A task definition by ARN or `family:revision`, with its tags.
    async fn describe_task_definition(&self, task_definition: &str) -> AwsResult<TaskDefinition>;
    /// ARNs of the family's ACTIVE revisions, newest first.
    async fn list_task_definitions(&self, family: &str) -> AwsResult<Vec<String>>;
    /// Registers a new revision that copies `base` in every registrable field, with only the
    /// named container's image changed, and the given tags added.
    async fn register_with_image(
        &self,
        base: &str,
        container: &str,
        image: &str,
        tags: &BTreeMap<String, String>,
    ) -> AwsResult<TaskDefinition>;
    /// Points the service at a task definition (a new deployment); returns the service after.
    async fn update_task_definition(
        &self,
        cluster: &str,
        service: &str,
        task_definition: &str,
    ) -> AwsResult<Service>;
    /// Sets the desired count; returns the service after.
    async fn update_desired_count(
        &self,
        cluster: &str,
        service: &str,
        desired: i32,
    ) -> AwsResult<Service>;
    /// Points the service at a task definition and sets its desired count in one call.
    async fn update_revision_and_count(
        &self,
        cluster: &str,
        service: &str,
        task_definition: &str,
        desired: i32,
    ) -> AwsResult<Service>;
    /// Adds or replaces tags on a task definition.
    async fn tag_task_definition(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> AwsResult<()>;
    /// The service's most recently stopped tasks (at most `limit`).
    async fn stopped_tasks(
        &self,
        cluster: &str,
        service: &str,
        limit: usize,
    ) -> AwsResult<Vec<StoppedTask>>;
}

/// ECR: where versions live.
#[async_trait]
pub trait Registry: Send + Sync {
    /// The image tagged `tag` in `repository`, or `None` when there is no such tag.
    /// A missing repository is `NotFound`.
    async fn find_image(&self, repository: &str, tag: &str) -> AwsResult<Option<Image>>;
}

/// Secrets Manager and Parameter Store, to check that referenced secrets exist.
#[async_trait]
pub trait Secrets: Send + Sync {
    /// Whether the secret (ARN or name) exists and is not scheduled for deletion.
    async fn secret_exists(&self, id: &str) -> AwsResult<bool>;
    /// Whether the Parameter Store parameter (name, with its leading `/` where it has one)
    /// exists. Only its metadata is read, never its value.
    async fn parameter_exists(&self, name: &str) -> AwsResult<bool>;
}

/// CloudWatch: alarms and deployment markers.
#[async_trait]
pub trait Monitoring: Send + Sync {
    /// The named alarms' states; names that do not exist are left out.
    async fn alarms(&self, names: &[String]) -> AwsResult<Vec<Alarm>>;
    /// Publishes a deployment marker (namespace `opsctl`, metric `Deployment`).
    async fn put_deployment_marker(&self, env: &str, service: &str, version: &str)
    -> AwsResult<()>;
    /// Requests, 5xx responses and p99 response time of a target group behind the load
    /// balancer that owns `listener_arn`, between `start` and `end`.
    async fn target_group_metrics(
        &self,
        listener_arn: &str,
        target_group_arn: &str,
        start: Timestamp,
        end: Timestamp,
    ) -> AwsResult<TargetGroupMetrics>;
}

/// ELBv2: target health, and the weighted listener of blue/green environments.
#[async_trait]
pub trait LoadBalancing: Send + Sync {
    /// Health of every target registered in the target group.
    async fn target_health(&self, target_group_arn: &str) -> AwsResult<Vec<TargetHealth>>;
    /// The ARN of the load balancer's listener on `port`.
    async fn find_listener(&self, load_balancer: &str, port: i32) -> AwsResult<String>;
    /// The ARN of a target group given by name (an ARN is returned as it is).
    async fn target_group_arn(&self, name: &str) -> AwsResult<String>;
    /// The forward action of a listener (its default action) or of a listener rule.
    async fn forward(&self, arn: &str) -> AwsResult<Forward>;
    /// Sets the forward action's weights, keeping every other part of the listener or rule
    /// (other actions, stickiness, conditions) as it is.
    async fn set_weights(&self, arn: &str, weights: &[(String, i32)]) -> AwsResult<()>;
}

// --- RDS and Application Auto Scaling ---------------------------------------------------

/// An RDS DB instance: its state, and every setting a restore copies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DbInstance {
    pub id: String,
    pub arn: String,
    /// `available`, `creating`, `backing-up`, `modifying`, `failed`, ...
    pub status: String,
    /// The instance class, e.g. `db.t3.micro`.
    pub class: String,
    pub engine: String,
    pub engine_version: String,
    pub subnet_group: Option<String>,
    /// VPC security group ids.
    pub security_groups: Vec<String>,
    pub parameter_group: Option<String>,
    pub multi_az: bool,
    /// `gp2`, `gp3`, `io1`, ...
    pub storage_type: Option<String>,
    pub allocated_gb: i32,
    /// Provisioned IOPS, where AWS reports them.
    pub iops: Option<i32>,
    pub port: Option<i32>,
    pub deletion_protection: bool,
    /// `None` when AWS does not say.
    pub publicly_accessible: Option<bool>,
    pub backup_retention_days: i32,
    pub tags: BTreeMap<String, String>,
    /// The endpoint's address, once AWS has one.
    pub endpoint: Option<String>,
    /// The point-in-time restore window; `None` where AWS has none (no automated backups)
    /// or the call did not ask for it.
    pub earliest_restorable: Option<Timestamp>,
    pub latest_restorable: Option<Timestamp>,
    pub created_at: Option<Timestamp>,
}

/// An RDS DB snapshot, manual or automated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DbSnapshot {
    pub id: String,
    pub arn: String,
    /// The instance it was taken of.
    pub instance: String,
    /// `manual` or `automated`.
    pub kind: String,
    /// `creating`, `available`, `failed`, ...
    pub status: String,
    /// How far a snapshot in progress is, where AWS says.
    pub percent: Option<i32>,
    pub size_gb: i32,
    pub created_at: Option<Timestamp>,
    pub tags: BTreeMap<String, String>,
}

/// The settings of a new instance a restore creates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestoreSettings {
    /// The new instance's identifier.
    pub target: String,
    pub class: String,
    pub subnet_group: Option<String>,
    pub security_groups: Vec<String>,
    pub parameter_group: Option<String>,
    pub multi_az: bool,
    pub storage_type: Option<String>,
    pub allocated_gb: Option<i32>,
    /// Sent only for provisioned-IOPS storage.
    pub iops: Option<i32>,
    pub port: Option<i32>,
    pub deletion_protection: bool,
    pub publicly_accessible: Option<bool>,
    pub backup_retention_days: Option<i32>,
    pub tags: BTreeMap<String, String>,
}

/// RDS, as snapshots and restores use it. Nothing here modifies or deletes an instance.
#[async_trait]
pub trait Database: Send + Sync {
    /// The instance with its point-in-time restore window; `NotFound` when there is none.
    async fn describe_instance(&self, id: &str) -> AwsResult<DbInstance>;
    /// The instance without its restore window (one call), or `None` when there is none.
    async fn find_instance(&self, id: &str) -> AwsResult<Option<DbInstance>>;
    /// Starts a manual snapshot of the instance, tagged.
    async fn create_snapshot(
        &self,
        instance: &str,
        snapshot: &str,
        tags: &BTreeMap<String, String>,
    ) -> AwsResult<DbSnapshot>;
    /// The snapshot, or `None` when there is none.
    async fn describe_snapshot(&self, id: &str) -> AwsResult<Option<DbSnapshot>>;
    /// Manual and automated snapshots of the instance, in any order.
    async fn list_snapshots(&self, instance: &str) -> AwsResult<Vec<DbSnapshot>>;
    /// Starts restoring the snapshot into a new instance.
    async fn restore_from_snapshot(
        &self,
        snapshot: &str,
        settings: &RestoreSettings,
    ) -> AwsResult<DbInstance>;
    /// Starts restoring `source` as it was at `time` (`None`: the latest restorable time)
    /// into a new instance.
    async fn restore_to_time(
        &self,
        source: &str,
        time: Option<Timestamp>,
        settings: &RestoreSettings,
    ) -> AwsResult<DbInstance>;
}

/// The bounds of an Application Auto Scaling scalable target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ScalingBounds {
    pub min: i32,
    pub max: i32,
}

impl std::fmt::Display for ScalingBounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..{}", self.min, self.max)
    }
}

/// Application Auto Scaling, for the desired count of ECS services
/// (`ecs:service:DesiredCount`, resource id `service/CLUSTER/SERVICE`).
#[async_trait]
pub trait AutoScaling: Send + Sync {
    /// The service's scalable target, or `None` when none is registered.
    async fn scalable_target(&self, resource_id: &str) -> AwsResult<Option<ScalingBounds>>;
    /// Registers the scalable target with these bounds (or updates the one there is).
    async fn set_bounds(&self, resource_id: &str, bounds: ScalingBounds) -> AwsResult<()>;
}

/// The AWS services a workflow may use, behind their traits.
#[derive(Clone)]
pub struct Aws {
    pub ecs: Arc<dyn Ecs>,
    pub registry: Arc<dyn Registry>,
    pub secrets: Arc<dyn Secrets>,
    pub monitoring: Arc<dyn Monitoring>,
    pub lb: Arc<dyn LoadBalancing>,
    pub db: Arc<dyn Database>,
    pub autoscaling: Arc<dyn AutoScaling>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn td(containers: &[&str]) -> TaskDefinition {
        TaskDefinition {
            arn: "arn:aws:ecs:eu-west-1:1:task-definition/users:7".into(),
            family: "users".into(),
            revision: 7,
            status: "ACTIVE".into(),
            containers: containers
                .iter()
                .map(|n| Container {
                    name: (*n).into(),
                    image: format!("{n}:1"),
                })
                .collect(),
            secrets: Vec::new(),
            tags: BTreeMap::new(),
            registered_at: None,
            roles: Vec::new(),
        }
    }

    #[test]
    fn the_container_a_deploy_changes_is_named_or_the_only_one_never_the_first() {
        let one = td(&["users"]);
        assert_eq!(one.container_for(None).unwrap().name, "users");
        let two = td(&["envoy", "users"]);
        assert_eq!(two.container_for(Some("users")).unwrap().name, "users");
        let ambiguous = two.container_for(None).unwrap_err();
        assert_eq!(
            ambiguous.to_string(),
            "users:7 has 2 containers (envoy, users) and opsctl.toml does not say which one to change"
        );
        let missing = one.container_for(Some("api")).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "container `api` is not in users:7 (it has: users)"
        );
    }

    fn target(state: &str) -> TargetHealth {
        TargetHealth {
            id: "10.0.0.1".into(),
            port: Some(8080),
            state: TargetState::from_aws(state),
            reason: None,
        }
    }

    #[test]
    fn targets_on_their_way_out_or_unused_do_not_count() {
        let tally = TargetTally::of(&[
            target("healthy"),
            target("healthy"),
            target("draining"),
            target("unhealthy.draining"),
            target("unused"),
        ]);
        assert_eq!(
            tally,
            TargetTally {
                healthy: 2,
                in_service: 2,
                draining: 2
            }
        );
        assert!(tally.all_healthy());
        assert!(!TargetTally::of(&[target("healthy"), target("initial")]).all_healthy());
        assert!(
            !TargetTally::of(&[target("unused")]).all_healthy(),
            "none in service"
        );
    }

    #[test]
    fn unknown_words_read_as_the_state_that_stops() {
        assert_eq!(TargetState::from_aws("new-state"), TargetState::Unavailable);
        assert_eq!(AlarmState::from_aws("ALARM"), AlarmState::Alarm);
        assert_eq!(ServiceStatus::from_aws("PAUSED"), ServiceStatus::Inactive);
        assert_eq!(DeploymentStatus::from_aws(""), DeploymentStatus::Inactive);
        assert_eq!(
            serde_json::to_string(&TargetState::UnhealthyDraining).unwrap(),
            "\"unhealthy.draining\""
        );
    }

    fn deployment(id: &str, td: &str, rollout: Option<RolloutState>) -> Deployment {
        Deployment {
            id: id.into(),
            status: DeploymentStatus::Primary,
            task_definition: td.into(),
            desired: 2,
            running: 2,
            pending: 0,
            failed_tasks: 0,
            rollout_state: rollout,
            rollout_reason: None,
            created_at: None,
        }
    }

    fn service(deployments: Vec<Deployment>, running: i32) -> Service {
        Service {
            name: "users".into(),
            arn: "arn".into(),
            status: ServiceStatus::Active,
            desired: 2,
            running,
            pending: 0,
            task_definition: "users:6".into(),
            deployments,
            events: Vec::new(),
            target_groups: Vec::new(),
            circuit_breaker: None,
        }
    }

    #[test]
    fn steady_means_the_rollout_is_done_and_the_counts_converged() {
        let done = service(
            vec![deployment("d1", "users:7", Some(RolloutState::Completed))],
            2,
        );
        assert!(done.is_steady());
        assert_eq!(done.current_task_definition(), "users:7");
        let rolling = service(
            vec![deployment("d1", "users:7", Some(RolloutState::InProgress))],
            2,
        );
        assert!(!rolling.is_steady());
        let mut old = deployment("d0", "users:6", None);
        old.status = DeploymentStatus::Active;
        let two = service(vec![deployment("d1", "users:7", None), old], 2);
        assert!(!two.is_steady(), "no rollout state and two deployments");
        let short = service(vec![deployment("d1", "users:7", None)], 1);
        assert!(!short.is_steady(), "running below desired");
        let none = service(Vec::new(), 2);
        assert!(!none.is_steady());
        assert_eq!(none.current_task_definition(), "users:6");
    }
}
