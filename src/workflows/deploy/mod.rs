//! Deploys: what one asks for and how it ended (this file), the rolling deploy (`rolling`),
//! the two-service blue/green deploy (`two_service`), and the steps both share (`steps`:
//! register and update, the snapshot first, the bake, the outcome tags).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use super::db;
use super::pace::{Pacer, Shown, Stop};
use super::preflight::{self, Context};
use super::traffic::{Colour, SwitchResult, TrafficOutcome};
use super::wait::{self, Verdict, WaitOutcome, short_td};
use super::{Check, Interrupt, Outcome, Reporter, tags, version_of};
use crate::aws::{Aws, StoppedTask, TaskDefinition};
use crate::config::EnvConfig;
use crate::error::Exit;

mod native;
pub mod release;
mod rolling;
mod steps;
pub mod two_service;

pub use rolling::deploy;
pub(crate) use rolling::{Failure, settle};
pub(crate) use steps::*;

/// How to deploy.
#[derive(Debug, Clone)]
pub struct Options {
    pub version: String,
    /// Stop after preflight and the plan; change nothing.
    pub dry_run: bool,
    /// Return once the service is updated, without waiting.
    pub no_wait: bool,
    /// On failure, leave the service where it is.
    pub no_rollback: bool,
    pub ignore_alarms: bool,
    pub timeout: Duration,
    /// Base poll interval of the waiter.
    pub poll: Duration,
    /// Who deploys, for the revision's tags.
    pub actor: String,
    /// A native deployment: return once it reaches this point, leaving ECS to carry on.
    pub wait_until: Option<WaitUntil>,
}

/// The lifecycle stages of an ECS service deployment, in the order it goes through them.
pub const STAGES: &[&str] = &[
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
];

/// Where `deploy --wait-until` stops following a native deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitUntil {
    /// The deployment is at this lifecycle stage, or past it.
    Stage(String),
    /// A PAUSE lifecycle hook waits for an answer (`opsctl promote` / `opsctl abort`),
    /// which opsctl then leaves to whoever runs those.
    Paused,
}

impl WaitUntil {
    /// `paused`, or a stage by its ECS name in any case, `-` for `_`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let name = text.trim().to_ascii_uppercase().replace('-', "_");
        if name == "PAUSED" {
            return Ok(WaitUntil::Paused);
        }
        if STAGES.contains(&name.as_str()) {
            return Ok(WaitUntil::Stage(name));
        }
        Err(format!(
            "`{text}` is not a stage of an ECS service deployment; use paused or one of {}",
            STAGES
                .iter()
                .map(|s| s.to_ascii_lowercase().replace('_', "-"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }

    /// Whether the deployment, as last seen, has got there.
    pub fn reached(&self, d: &crate::aws::ServiceDeployment) -> bool {
        match self {
            WaitUntil::Paused => d.awaiting_hook.is_some(),
            WaitUntil::Stage(want) => {
                let at = |s: &str| STAGES.iter().position(|x| *x == s);
                match (d.stage.as_deref().and_then(at), at(want)) {
                    (Some(now), Some(want)) => now >= want,
                    _ => false,
                }
            }
        }
    }
}

impl fmt::Display for WaitUntil {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitUntil::Paused => f.write_str("a paused lifecycle hook"),
            WaitUntil::Stage(s) => f.write_str(s),
        }
    }
}

/// How a deploy ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeployResult {
    /// The new version is live and stable, and the bake passed.
    Deployed,
    /// The version asked for is the one running; nothing to do.
    Unchanged,
    /// `--no-wait`: the service was updated; nobody waited.
    Started,
    /// `--dry-run` / `plan`: nothing changed.
    Planned,
    /// A preflight check failed; nothing changed.
    PreflightFailed,
    /// The deploy failed and the previous revision is back and stable.
    RolledBack,
    /// The deploy failed and was not (or could not be) rolled back.
    Failed,
    /// The deploy did not settle within the timeout (`--no-rollback`).
    TimedOut,
    /// Ctrl-C while waiting.
    Interrupted,
}

/// A task-definition revision as the outcome shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Revision {
    /// `family:revision`
    pub task_definition: String,
    pub arn: String,
    pub version: String,
    pub image: String,
}

impl Revision {
    pub fn of(td: &TaskDefinition, container: &str) -> Self {
        Revision {
            task_definition: td.short(),
            arn: td.arn.clone(),
            version: version_of(td, container),
            image: td.image_of(container).unwrap_or_default().to_owned(),
        }
    }
}

/// What a deploy would change.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub base: String,
    pub container: String,
    pub image_from: String,
    pub image_to: String,
    /// Containers whose image stays as it is.
    pub unchanged_containers: Vec<String>,
    /// The AWS calls that change something, in order.
    pub calls: Vec<String>,
    /// The native settings (bake time, canary, linear) the deploy changes on the service,
    /// each as `bake time 2m -> 10m`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deployment_configuration: Vec<String>,
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "task definition {} -> new revision", self.base)?;
        writeln!(f, "  container {}:", self.container)?;
        writeln!(f, "  - image: {}", self.image_from)?;
        writeln!(f, "  + image: {}", self.image_to)?;
        if !self.unchanged_containers.is_empty() {
            writeln!(f, "  unchanged: {}", self.unchanged_containers.join(", "))?;
        }
        if !self.deployment_configuration.is_empty() {
            writeln!(f, "deploymentConfiguration:")?;
            for change in &self.deployment_configuration {
                writeln!(f, "  {change}")?;
            }
        }
        writeln!(f, "calls:")?;
        for call in &self.calls {
            writeln!(f, "  {call}")?;
        }
        Ok(())
    }
}

/// The rollback a failed deploy made.
#[derive(Debug, Clone, Serialize)]
pub struct RollbackReport {
    pub to: Revision,
    /// True when ECS's circuit breaker had already started it and opsctl only waited.
    pub by_ecs: bool,
    pub wait: WaitOutcome,
}

/// Everything a deploy did and saw.
#[derive(Debug, Clone, Serialize)]
pub struct DeployOutcome {
    pub env: String,
    pub cluster: String,
    pub service: String,
    pub version: String,
    pub result: DeployResult,
    pub from: Option<Revision>,
    pub to: Option<Revision>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub checks: Vec<Check>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait: Option<WaitOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback: Option<RollbackReport>,
    /// The revision opsctl last pointed the service at, once it changed anything: where a
    /// failed deploy left it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub points_at: Option<String>,
    /// Blue/green: the colour deployed to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub colour: Option<Colour>,
    /// Blue/green: the traffic switch, step by step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traffic: Option<TrafficOutcome>,
    /// The database snapshot taken first, where the env asks for one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<db::SnapshotOutcome>,
    /// A native strategy: the ECS strategy and the service deployment ECS ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<crate::aws::DeploymentStrategy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_deployment: Option<String>,
    /// A native strategy: the service deployment's status and stage when opsctl last saw it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_stage: Option<String>,
    /// Commands the user may want next.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub next: Vec<String>,
    pub elapsed_secs: f64,
}

impl DeployOutcome {
    /// An outcome that has not got past preflight yet.
    pub fn new(env: &EnvConfig, service: &str, version: &str) -> Self {
        DeployOutcome {
            env: env.name.clone(),
            cluster: env.cluster.clone(),
            service: service.to_owned(),
            version: version.to_owned(),
            result: DeployResult::PreflightFailed,
            from: None,
            to: None,
            reason: None,
            checks: Vec::new(),
            plan: None,
            wait: None,
            rollback: None,
            points_at: None,
            snapshot: None,
            colour: None,
            traffic: None,
            strategy: None,
            service_deployment: None,
            last_stage: None,
            next: Vec::new(),
            elapsed_secs: 0.0,
        }
    }
}

impl Outcome for DeployOutcome {
    fn exit(&self) -> Exit {
        self.result.exit()
    }
}

impl DeployResult {
    /// The exit code a deploy that ended so exits with.
    pub fn exit(self) -> Exit {
        match self {
            DeployResult::Deployed
            | DeployResult::Unchanged
            | DeployResult::Started
            | DeployResult::Planned => Exit::Ok,
            DeployResult::PreflightFailed => Exit::BadInput,
            DeployResult::RolledBack => Exit::RolledBack,
            DeployResult::Failed => Exit::Failed,
            DeployResult::TimedOut => Exit::TimedOut,
            DeployResult::Interrupted => Exit::Interrupted,
        }
    }
}

impl DeployOutcome {
    /// The native strategy's line: which ECS strategy, and where its service deployment was
    /// last seen.
    fn write_native(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Some(strategy), Some(stage)) = (self.strategy, &self.last_stage) {
            writeln!(f, "  ECS {strategy} deployment: {stage}")?;
        }
        Ok(())
    }
}

impl fmt::Display for DeployOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let from = self
            .from
            .as_ref()
            .map_or("?", |r| r.task_definition.as_str());
        let to = self.to.as_ref().map_or("?", |r| r.task_definition.as_str());
        let target = match self.colour {
            Some(colour) => format!("{} ({colour}: {})", self.env, self.service),
            None => format!("{} ({})", self.env, self.service),
        };
        match self.result {
            DeployResult::Deployed => {
                writeln!(
                    f,
                    "deployed {} to {target}: {from} -> {to} in {:.0}s",
                    self.version, self.elapsed_secs
                )?;
                if let (Some(t), Some(colour)) = (&self.traffic, self.colour) {
                    writeln!(
                        f,
                        "  traffic: {}; {} keeps running for an instant rollback",
                        t.after,
                        colour.other()
                    )?;
                }
                self.write_native(f)?;
            }
            DeployResult::Unchanged => writeln!(
                f,
                "{target} already runs {} on {from}; nothing to do",
                self.version
            )?,
            DeployResult::Started if self.reason.is_some() => {
                // --wait-until: where the deployment was when opsctl stopped following it.
                writeln!(
                    f,
                    "{target} is rolling out {} ({from} -> {to}); {}; ECS carries on",
                    self.version,
                    self.reason.as_deref().unwrap_or_default()
                )?;
                if let Some(arn) = &self.service_deployment {
                    writeln!(f, "  service deployment: {arn}")?;
                }
            }
            DeployResult::Started => writeln!(
                f,
                "{target} is rolling out {} ({from} -> {to}); not waiting. Follow it with `{}`",
                self.version,
                self.next
                    .first()
                    .cloned()
                    .unwrap_or_else(|| format!("opsctl wait-stable {}", self.env))
            )?,
            DeployResult::Planned => {
                writeln!(
                    f,
                    "plan for {} on {target} (nothing changed):",
                    self.version
                )?;
                if let Some(plan) = &self.plan {
                    write!(f, "{plan}")?;
                }
            }
            DeployResult::PreflightFailed => {
                writeln!(
                    f,
                    "preflight failed for {} on {target}; nothing changed:",
                    self.version
                )?;
                for c in self.checks.iter().filter(|c| !c.ok) {
                    writeln!(f, "  {c}")?;
                }
            }
            DeployResult::RolledBack
            | DeployResult::Failed
            | DeployResult::TimedOut
            | DeployResult::Interrupted => {
                let what = match self.result {
                    DeployResult::TimedOut => "timed out",
                    DeployResult::Interrupted => "was interrupted",
                    _ => "FAILED",
                };
                writeln!(f, "deploy of {} to {target} {what}", self.version)?;
                if let Some(reason) = &self.reason {
                    writeln!(f, "  reason: {reason}")?;
                }
                self.write_native(f)?;
                if let Some(wait) = &self.wait {
                    for s in &wait.services {
                        StoppedTask::write_all(&s.stopped_tasks, f, "  ")?;
                        let last: Vec<_> = s.events.iter().rev().take(3).collect();
                        if !last.is_empty() {
                            writeln!(f, "  last service events:")?;
                            for e in last.iter().rev() {
                                writeln!(
                                    f,
                                    "    {} {}",
                                    e.at.strftime("%H:%M:%SZ"),
                                    crate::aws::short_arns(&e.message)
                                )?;
                            }
                        }
                    }
                }
                if let Some(t) = &self.traffic {
                    write_failed_traffic(f, t)?;
                }
                match (&self.rollback, self.result) {
                    (Some(rb), DeployResult::RolledBack) => writeln!(
                        f,
                        "  rolled back to {} ({}){}; the service is stable on it",
                        rb.to.task_definition,
                        rb.to.version,
                        if rb.by_ecs {
                            ", started by ECS's circuit breaker"
                        } else {
                            ""
                        }
                    )?,
                    (Some(rb), _) => writeln!(
                        f,
                        "  rollback to {} did NOT settle: {}",
                        rb.to.task_definition,
                        rb.wait.to_string().trim_end()
                    )?,
                    (None, DeployResult::RolledBack) => {}
                    (None, _) => {
                        if let Some(wait) = &self.wait {
                            for s in &wait.services {
                                writeln!(
                                    f,
                                    "  state: {} on {}, {}/{} running, {} pending",
                                    s.service,
                                    short_td(
                                        s.now_running.as_deref().unwrap_or(&s.task_definition)
                                    ),
                                    s.running,
                                    s.desired,
                                    s.pending
                                )?;
                            }
                        }
                    }
                }
            }
        }
        // What the preflight passed with a warning (drift carried over, alarms ignored) is
        // said again with the result, where it is read.
        for c in self.checks.iter().filter(|c| c.warning) {
            write!(f, "{}", indent(&c.to_string()))?;
        }
        write_snapshot_and_next(f, self.snapshot.as_ref(), &self.next)
    }
}

/// The last lines of a deploy's result: the snapshot taken before it, and what to run next.
pub(crate) fn write_snapshot_and_next(
    f: &mut fmt::Formatter<'_>,
    snapshot: Option<&db::SnapshotOutcome>,
    next: &[String],
) -> fmt::Result {
    if let Some(s) = snapshot
        && s.result == db::SnapshotResult::Available
    {
        writeln!(
            f,
            "  database snapshot: {} of {}",
            s.snapshot_id, s.instance
        )?;
    }
    for n in next {
        writeln!(f, "  next: {n}")?;
    }
    Ok(())
}

/// Where a failed blue/green deploy left the traffic. A switch that completed and was then
/// taken back (an alarm in the bake) says both moves, not "moved X -> X".
fn write_failed_traffic(f: &mut fmt::Formatter<'_>, t: &TrafficOutcome) -> fmt::Result {
    if t.result != SwitchResult::Switched {
        return write!(f, "{}", indent(&t.to_string()));
    }
    if t.after == t.before {
        writeln!(
            f,
            "  traffic: moved to {}, then back to {}; now {}",
            t.to, t.from, t.after
        )
    } else {
        writeln!(f, "  traffic: moved to {}; now {}", t.to, t.after)
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}
