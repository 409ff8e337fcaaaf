//! ECS as workflows see it: services, deployments, task definitions, stopped tasks, and the
//! rules that read them (the current task definition, "steady", the container a deploy changes).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

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
    /// `deploymentConfiguration.strategy`; ROLLING where ECS says none.
    pub strategy: DeploymentStrategy,
    /// A native strategy behind a load balancer: the listener rule ECS moves and the two
    /// target groups it moves traffic between.
    pub native_traffic: Option<NativeTraffic>,
    /// The native strategies' timing (bake time, canary or linear steps) as ECS holds it.
    pub native_settings: NativeSettings,
    /// How its tasks are placed (a one-off task runs the same way).
    pub placement: Placement,
}

/// Where a native deployment moves production traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NativeTraffic {
    /// The production listener rule (`advancedConfiguration.productionListenerRule`).
    pub production_rule: String,
    /// The service's target group and its alternate.
    pub target_groups: [String; 2],
}

/// The timing of a native deployment, as `deploymentConfiguration` holds it: the bake time
/// after the traffic has moved, and the canary's or linear steps' share and bake. A field
/// not set is left as the service has it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct NativeSettings {
    /// `bakeTimeInMinutes`: how long ECS keeps the old revision after all traffic moved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bake_minutes: Option<i32>,
    /// `canaryConfiguration`: the share the new revision takes first, and how long it bakes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<TrafficStep>,
    /// `linearConfiguration`: the share each step moves, and how long each step bakes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linear: Option<TrafficStep>,
}

/// One traffic step of a canary or linear deployment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct TrafficStep {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bake_minutes: Option<i32>,
}

impl TrafficStep {
    /// What of `self` differs from `live`; `None` when nothing does.
    fn changes(&self, live: Option<&TrafficStep>) -> Option<TrafficStep> {
        let live = live.copied().unwrap_or_default();
        let step = TrafficStep {
            percent: self.percent.filter(|p| Some(*p) != live.percent),
            bake_minutes: self.bake_minutes.filter(|b| Some(*b) != live.bake_minutes),
        };
        (step != TrafficStep::default()).then_some(step)
    }
}

impl NativeSettings {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == NativeSettings::default()
    }

    /// What of `self` (the config's) differs from `live` (the service's): what a deploy
    /// sends; `None` when the service already has it all.
    pub fn changes(&self, live: &NativeSettings) -> Option<NativeSettings> {
        let changed = NativeSettings {
            bake_minutes: self.bake_minutes.filter(|b| Some(*b) != live.bake_minutes),
            canary: self.canary.and_then(|c| c.changes(live.canary.as_ref())),
            linear: self.linear.and_then(|l| l.changes(live.linear.as_ref())),
        };
        (!changed.is_empty()).then_some(changed)
    }

    /// `bake time 2m -> 10m, canary 5% -> 10%`: each change from `live`, as plan and check
    /// say it.
    pub fn describe_changes(&self, live: &NativeSettings) -> Vec<String> {
        fn mins(m: Option<i32>) -> String {
            m.map_or("unset".into(), |m| format!("{m}m"))
        }
        fn pct(p: Option<f64>) -> String {
            p.map_or("unset".into(), |p| format!("{p}%"))
        }
        let mut out = Vec::new();
        let Some(changed) = self.changes(live) else {
            return out;
        };
        if let Some(b) = changed.bake_minutes {
            out.push(format!("bake time {} -> {b}m", mins(live.bake_minutes)));
        }
        for (name, step, was) in [
            ("canary", changed.canary, live.canary),
            ("linear step", changed.linear, live.linear),
        ] {
            let Some(step) = step else { continue };
            let was = was.unwrap_or_default();
            if let Some(p) = step.percent {
                out.push(format!("{name} {} -> {p}%", pct(was.percent)));
            }
            if let Some(b) = step.bake_minutes {
                out.push(format!("{name} bake {} -> {b}m", mins(was.bake_minutes)));
            }
        }
        out
    }
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
    /// Where its output goes (`logConfiguration`), if the task definition says.
    pub log: Option<LogConfig>,
}

/// A container's `logConfiguration`, as far as opsctl reads its logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogConfig {
    /// `awslogs`, `awsfirelens`, `splunk`, ...
    pub driver: String,
    /// The `awslogs-group`, `awslogs-region` and `awslogs-stream-prefix` options.
    pub group: Option<String>,
    pub region: Option<String>,
    pub prefix: Option<String>,
}

impl LogConfig {
    /// The CloudWatch Logs stream of one task's container, as the awslogs driver names it
    /// (`prefix/container/task-id`); without a prefix the stream is the container id, which
    /// opsctl cannot know.
    pub fn stream(&self, container: &str, task_id: &str) -> Option<String> {
        (self.driver == "awslogs")
            .then_some(())
            .and(self.prefix.as_ref())
            .map(|p| format!("{p}/{container}/{task_id}"))
    }
}

/// How the service places its tasks, which a one-off task copies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Placement {
    /// `FARGATE`, `EC2`, `EXTERNAL`; `None` with a capacity provider strategy.
    pub launch_type: Option<String>,
    /// `(provider, weight, base)`.
    pub capacity_providers: Vec<(String, i32, i32)>,
    pub platform_version: Option<String>,
    /// awsvpc networking: subnets, security groups, public IP.
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub public_ip: Option<bool>,
}

/// What `RunTask` is asked to start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunRequest {
    pub cluster: String,
    pub task_definition: String,
    pub container: String,
    /// The container's command, overridden.
    pub command: Vec<String>,
    pub placement: Placement,
    /// `startedBy`: how the task is found again.
    pub started_by: String,
    pub tags: BTreeMap<String, String>,
}

/// A one-off task as `DescribeTasks` reports it, reduced to its one container of interest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OneOffTask {
    pub arn: String,
    pub id: String,
    /// `PROVISIONING`, `PENDING`, `RUNNING`, `DEPROVISIONING`, `STOPPED`, ...
    pub last_status: String,
    pub desired_status: String,
    pub created_at: Option<Timestamp>,
    pub started_at: Option<Timestamp>,
    pub stopped_at: Option<Timestamp>,
    /// `EssentialContainerExited`, `UserInitiated`, `TaskFailedToStart`, ...
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    /// The container's exit code and reason, once it has stopped.
    pub exit_code: Option<i32>,
    pub container_reason: Option<String>,
}

impl OneOffTask {
    pub fn is_stopped(&self) -> bool {
        self.last_status == "STOPPED"
    }
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

/// A task of a service that runs, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunningTask {
    pub id: String,
    /// The Availability Zone it runs in.
    pub zone: Option<String>,
    /// Its private IPv4 address (awsvpc): the id of its target in a target group of type ip.
    pub ip: Option<String>,
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
    /// The last lines its containers logged (awslogs), where they could be read.
    pub last_lines: Vec<String>,
}

impl StoppedTask {
    /// Stopped tasks as a failed deploy shows them: why they stopped, their containers, what
    /// they logged last. Tasks that stopped for the same reason with the same container exits
    /// are said once, naming every task; the last lines shown are the first task's that has
    /// any (the others' are in `--output json`).
    pub fn write_all(
        tasks: &[StoppedTask],
        f: &mut std::fmt::Formatter<'_>,
        indent: &str,
    ) -> std::fmt::Result {
        let mut groups: Vec<Vec<&StoppedTask>> = Vec::new();
        for t in tasks {
            match groups
                .iter_mut()
                .find(|g| g[0].reason == t.reason && g[0].containers == t.containers)
            {
                Some(group) => group.push(t),
                None => groups.push(vec![t]),
            }
        }
        for group in groups {
            let first = group[0];
            if group.len() == 1 {
                writeln!(f, "{indent}stopped task {}: {}", first.id, first.reason)?;
            } else {
                let ids: Vec<&str> = group.iter().map(|t| t.id.as_str()).collect();
                writeln!(
                    f,
                    "{indent}{} stopped tasks ({}): {}",
                    group.len(),
                    ids.join(", "),
                    first.reason
                )?;
            }
            for c in &first.containers {
                writeln!(f, "{indent}  {c}")?;
            }
            if let Some(t) = group.iter().find(|t| !t.last_lines.is_empty()) {
                if group.len() == 1 {
                    writeln!(f, "{indent}  its last lines:")?;
                } else {
                    writeln!(f, "{indent}  the last lines of {}:", t.id)?;
                }
                for line in &t.last_lines {
                    writeln!(f, "{indent}    {line}")?;
                }
            }
        }
        Ok(())
    }
}

aws_words!(
    /// How ECS deploys a service (`deploymentConfiguration.strategy`): its own rolling update,
    /// or one of the native strategies where ECS moves the traffic itself.
    DeploymentStrategy, unknown = Rolling, {
        Rolling = "ROLLING",
        BlueGreen = "BLUE_GREEN",
        Linear = "LINEAR",
        Canary = "CANARY",
    }
);

impl DeploymentStrategy {
    /// A strategy where ECS runs the deployment as a service deployment with lifecycle stages
    /// and moves the listener's traffic itself.
    pub fn is_native(self) -> bool {
        self != DeploymentStrategy::Rolling
    }
}

aws_words!(
    /// Where a service deployment stands.
    ServiceDeploymentStatus, unknown = Stopped, {
        Pending = "PENDING",
        InProgress = "IN_PROGRESS",
        Successful = "SUCCESSFUL",
        StopRequested = "STOP_REQUESTED",
        Stopped = "STOPPED",
        RollbackRequested = "ROLLBACK_REQUESTED",
        RollbackInProgress = "ROLLBACK_IN_PROGRESS",
        RollbackSuccessful = "ROLLBACK_SUCCESSFUL",
        RollbackFailed = "ROLLBACK_FAILED",
    }
);

impl ServiceDeploymentStatus {
    /// Whether the deployment is over: nothing will change it any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ServiceDeploymentStatus::Successful
                | ServiceDeploymentStatus::Stopped
                | ServiceDeploymentStatus::RollbackSuccessful
                | ServiceDeploymentStatus::RollbackFailed
        )
    }
}

/// A service deployment: how ECS runs one deployment of a service under a native strategy
/// (and records every other), through its lifecycle stages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceDeployment {
    pub arn: String,
    pub status: ServiceDeploymentStatus,
    /// The lifecycle stage (`SCALE_UP`, `PRODUCTION_TRAFFIC_SHIFT`, `BAKE_TIME`, ...).
    pub stage: Option<String>,
    pub status_reason: Option<String>,
    /// Why ECS rolled it back (an alarm, a hook, the circuit breaker), once it did.
    pub rollback_reason: Option<String>,
    /// The share of production traffic the new revision is asked to carry, in percent.
    pub production_weight: Option<f64>,
    /// A PAUSE lifecycle hook waiting for an answer (ContinueServiceDeployment): its id.
    pub awaiting_hook: Option<String>,
    pub created_at: Option<Timestamp>,
}

impl ServiceDeployment {
    /// `IN_PROGRESS at PRODUCTION_TRAFFIC_SHIFT, production traffic 10% on the new revision`:
    /// where it stands, as deploy, status, promote and abort all say it.
    pub fn summary(&self) -> String {
        let mut text = self.status.to_string();
        if let Some(stage) = &self.stage {
            text.push_str(&format!(" at {stage}"));
        }
        if let Some(w) = self.production_weight {
            text.push_str(&format!(", production traffic {w:.0}% on the new revision"));
        }
        text
    }
}
