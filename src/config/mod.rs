//! `opsctl.toml`: one table per environment, read into plain settings before any logic runs.
//!
//! This file holds what an environment is; `load` finds, reads and validates the file.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

mod load;
mod notify;

#[cfg(test)]
mod tests;

pub use load::*;

/// The default config file's name, looked up from the current directory upwards.
pub const DEFAULT_PATH: &str = "opsctl.toml";

/// A duration written as `90s`, `5m` or `1h30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Dur(#[serde(serialize_with = "ser_secs")] pub Duration);

fn ser_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text)
            .map(Dur)
            .map_err(serde::de::Error::custom)
    }
}

pub use crate::input::parse_duration;

/// `scaling = { min = 1, max = 10 }`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scaling {
    pub min: i32,
    pub max: i32,
}

/// `database = { instance = "...", snapshot_before_deploy = true, rto = "5m", rpo = "1h" }`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    pub instance: String,
    #[serde(default)]
    pub snapshot_before_deploy: bool,
    /// The recovery time objective: how long a failover may take (`db failover` measures it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rto: Option<Dur>,
    /// The recovery point objective: how much data may be lost (`status` shows the position).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo: Option<Dur>,
    /// Keep the newest N manual snapshots opsctl made; delete older ones after a snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_snapshots: Option<u32>,
    /// The region the database recovers into, with what a restore there needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dr: Option<DisasterRecovery>,
}

/// `database.dr = { region = "us-west-2", subnet_group = "...", kms_key = "alias/..." }`:
/// where cross-region copies go and restores from them land.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DisasterRecovery {
    pub region: String,
    /// The DB subnet group a restore in that region uses.
    pub subnet_group: String,
    /// VPC security group ids there (default: the subnet group's VPC default, as RDS does).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// The KMS key there that copies of an encrypted snapshot are encrypted with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
    /// Parameter and option groups there (default: the source's names).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter_group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub option_group: Option<String>,
}

/// One colour of a blue/green pair.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Colour {
    pub service: String,
    pub target_group: String,
}

/// `[env.X.bluegreen]`: two services behind one weighted listener.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BlueGreen {
    /// A listener ARN, a listener-rule ARN, or `LOAD_BALANCER_NAME:PORT`.
    pub listener: String,
    pub blue: Colour,
    pub green: Colour,
    #[serde(default = "default_steps")]
    pub steps: Vec<u32>,
    #[serde(default = "default_step_interval")]
    pub step_interval: Dur,
    /// Fail a step when CloudWatch has no datapoints for the new colour.
    #[serde(default)]
    pub require_metrics: bool,
    /// Highest 5xx share of requests (percent) the new colour may show during a step.
    #[serde(default = "default_max_5xx")]
    pub max_5xx_percent: f64,
    /// How much slower (percent) the new colour's p99 may be than the live colour's.
    #[serde(default = "default_max_p99_increase")]
    pub max_p99_increase_percent: f64,
}

fn default_steps() -> Vec<u32> {
    vec![10, 50, 100]
}
fn default_step_interval() -> Dur {
    Dur(Duration::from_secs(60))
}
fn default_max_5xx() -> f64 {
    1.0
}
fn default_max_p99_increase() -> f64 {
    50.0
}

/// How an environment deploys: exactly one strategy, so that "rolling or blue/green, and
/// which service" is decided here once and never re-read from optional fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Strategy {
    /// `service = "..."`: one service, replaced in place by ECS's rolling deployment.
    Rolling { service: String },
    /// `services = [...]`: several services deployed together as one release, each in place
    /// by ECS's rolling deployment, wave after wave, all or nothing.
    Several { services: Vec<Member> },
    /// `[env.X.bluegreen]`: two services (blue and green) behind one weighted listener;
    /// deploys go to the idle colour and opsctl moves the traffic.
    TwoService { bluegreen: BlueGreen },
}

/// One service of a `services = [...]` environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub name: String,
    /// The container whose image a deploy changes (default: the env's `container`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The ECR repository its versions live in (default: the env's `repository`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Waves deploy in increasing order, each once the one before is stable (default 1).
    pub wave: u32,
}

impl Strategy {
    /// The strategy's name, as the docs and `--output json` spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::Rolling { .. } | Strategy::Several { .. } => "rolling",
            Strategy::TwoService { .. } => "two-service",
        }
    }
}

/// Everything opsctl knows about one environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvConfig {
    pub name: String,
    pub region: Option<String>,
    pub cluster: String,
    /// Rolling (one service) or two-service blue/green (a service per colour).
    #[serde(flatten)]
    pub strategy: Strategy,
    /// The container whose image a deploy changes; unset, the task definition's only container
    /// (several and none named is an error: [`crate::aws::TaskDefinition::container_for`]).
    pub container: Option<String>,
    /// The ECR repository versions live in; defaults to the current image's repository.
    pub repository: Option<String>,
    /// Ask before changing anything (prod-like environments).
    pub confirm: bool,
    pub timeout: Dur,
    pub alarms: Vec<String>,
    pub bake: Dur,
    pub scaling: Option<Scaling>,
    pub database: Option<Database>,
    /// Commands a deploy runs as one-off tasks of the new revision before it changes the
    /// service (migrations), in order; the first that fails stops the deploy.
    pub before_deploy: Vec<BeforeDeploy>,
    /// The task definition kept in the repository, which the live revision is checked
    /// against for drift (`task_definition = "service/deploy/task-definition.json"`).
    pub task_definition: Option<TaskDefinitionFile>,
    /// The role opsctl assumes for this environment (another account's, usually).
    pub role: Option<AssumedRole>,
    /// `strategy = "rolling" | "bluegreen" | "linear" | "canary"`: how ECS must be deploying
    /// the service; the preflight refuses a service whose deploymentConfiguration says
    /// otherwise. Unset, opsctl goes by what the service says.
    pub declared_strategy: Option<crate::aws::DeploymentStrategy>,
    /// `bake_time`, `canary = { percent, bake }`, `linear = { step_percent, step_bake }`:
    /// the native settings a deploy sends where the service's differ; unset ones stay as the
    /// service has them.
    #[serde(skip_serializing_if = "crate::aws::NativeSettings::is_empty")]
    pub native: crate::aws::NativeSettings,
    /// The image-scan gate of the preflight, when the env sets `scan`.
    pub scan: Option<ScanGate>,
    /// Where start, step and end notices of the commands that change the env go (`notify`).
    pub notify: Vec<NotifyTarget>,
}

pub use notify::NotifyTarget;

/// `role_arn = "arn:aws:iam::222222222222:role/deployer"` and, if its trust policy asks for
/// one, `external_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssumedRole {
    pub arn: String,
    #[serde(skip)]
    pub external_id: Option<String>,
}

impl AssumedRole {
    /// The account the role belongs to (`arn:aws:iam::ACCOUNT:role/NAME`).
    pub fn account(&self) -> &str {
        self.arn.split(':').nth(4).unwrap_or_default()
    }
}

/// `task_definition = "…"` and `drift = "warn" | "refuse"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskDefinitionFile {
    /// As written in the config, for messages.
    pub shown: String,
    /// Resolved against the config file's directory.
    #[serde(skip)]
    pub path: std::path::PathBuf,
    pub drift: DriftMode,
}

/// What a deploy does when the live revision has drifted from the file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DriftMode {
    /// Say so, and deploy.
    #[default]
    Warn,
    /// Fail the preflight: nothing changes until the file and the service agree.
    Refuse,
}

/// `scan = { fail_on = "HIGH", wait = "5m" }`: the preflight reads the version's ECR scan
/// and refuses a version with findings at `fail_on` or worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ScanGate {
    /// The least severity that refuses a version (it and every worse one).
    pub fail_on: crate::aws::Severity,
    /// How long to wait for a scan still in progress (default 5m; `0s`: not at all).
    pub wait: Dur,
}

/// How long a scan in progress is waited for when `scan.wait` is not set.
pub const DEFAULT_SCAN_WAIT: Duration = Duration::from_secs(5 * 60);

/// `before_deploy = [{ name = "migrate", command = ["users-service", "migrate"], timeout = "10m" }]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BeforeDeploy {
    pub name: String,
    pub command: Vec<String>,
    /// How long the task may take (default 10m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Dur>,
}

impl EnvConfig {
    /// The blue/green table of a two-service environment.
    pub fn two_service(&self) -> Option<&BlueGreen> {
        match &self.strategy {
            Strategy::TwoService { bluegreen } => Some(bluegreen),
            Strategy::Rolling { .. } | Strategy::Several { .. } => None,
        }
    }

    /// The blue/green table, to change in a test.
    #[cfg(test)]
    pub fn two_service_mut(&mut self) -> Option<&mut BlueGreen> {
        match &mut self.strategy {
            Strategy::TwoService { bluegreen } => Some(bluegreen),
            Strategy::Rolling { .. } | Strategy::Several { .. } => None,
        }
    }

    /// The one service of a rolling environment.
    pub fn rolling_service(&self) -> Option<&str> {
        match &self.strategy {
            Strategy::Rolling { service } => Some(service),
            Strategy::Several { .. } | Strategy::TwoService { .. } => None,
        }
    }

    /// The services of a `services = [...]` environment, in the order the file lists them.
    pub fn members(&self) -> Option<&[Member]> {
        match &self.strategy {
            Strategy::Several { services } => Some(services),
            Strategy::Rolling { .. } | Strategy::TwoService { .. } => None,
        }
    }

    /// The members `--service` names (all of them when it names none), in wave order; a name
    /// that is not one of them is bad input that lists the env's services.
    pub fn select(&self, named: &[String]) -> Result<Vec<Member>, crate::error::UserError> {
        let all = self.members().unwrap_or_default();
        for name in named {
            if !all.iter().any(|m| &m.name == name) {
                return Err(crate::error::UserError::new(format!(
                    "env.{} has no service `{}`",
                    self.name,
                    crate::input::escape(name)
                ))
                .hint(format!(
                    "name one of: {}",
                    all.iter()
                        .map(|m| m.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        let mut chosen: Vec<Member> = all
            .iter()
            .filter(|m| named.is_empty() || named.contains(&m.name))
            .cloned()
            .collect();
        chosen.sort_by_key(|m| m.wave);
        Ok(chosen)
    }

    /// The environment as one of its services sees it: a rolling env of that service, with
    /// the member's container and repository. The steps of a single-service deploy run on it
    /// unchanged.
    pub fn for_member(&self, member: &Member) -> EnvConfig {
        let mut one = self.clone();
        one.strategy = Strategy::Rolling {
            service: member.name.clone(),
        };
        one.container = member.container.clone().or_else(|| self.container.clone());
        one.repository = member
            .repository
            .clone()
            .or_else(|| self.repository.clone());
        one
    }

    /// Every service the environment names, in a fixed order (blue before green).
    pub fn services(&self) -> Vec<&str> {
        match &self.strategy {
            Strategy::Rolling { service } => vec![service],
            Strategy::Several { services } => services.iter().map(|m| m.name.as_str()).collect(),
            Strategy::TwoService { bluegreen } => {
                vec![&bluegreen.blue.service, &bluegreen.green.service]
            }
        }
    }

    /// The colour a service is in a two-service environment, if it is one of them.
    pub fn colour_of(&self, service: &str) -> Option<&'static str> {
        let bg = self.two_service()?;
        if bg.blue.service == service {
            Some("blue")
        } else if bg.green.service == service {
            Some("green")
        } else {
            None
        }
    }
}
