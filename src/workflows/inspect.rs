//! Read-only views: `status` (what runs now) and `history` (what was deployed).

use std::fmt;

use jiff::Timestamp;
use serde::Serialize;

use super::deploy::Revision;
use super::tags;
use super::traffic::{self, Colour, Weights};
use super::wait::short_td;
use crate::aws::{Alarm, Aws, RolloutState, ServiceEvent, TargetTally};
use crate::config::EnvConfig;

/// One deployment, as status shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DeploymentView {
    pub id: String,
    pub status: String,
    pub task_definition: String,
    pub running: i32,
    pub desired: i32,
    pub pending: i32,
    pub failed_tasks: i32,
    pub rollout: Option<RolloutState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout_reason: Option<String>,
}

/// Health of the targets in one target group.
#[derive(Debug, Clone, Serialize)]
pub struct TargetGroupView {
    pub target_group: String,
    pub healthy: usize,
    /// Targets in service (draining ones left out).
    pub total: usize,
    /// Targets being deregistered.
    pub draining: usize,
}

/// One service's state.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceStatus {
    pub service: String,
    pub status: String,
    pub revision: Revision,
    pub running: i32,
    pub desired: i32,
    pub pending: i32,
    pub deployments: Vec<DeploymentView>,
    pub targets: Vec<TargetGroupView>,
    /// Newest first.
    pub events: Vec<ServiceEvent>,
    /// A native strategy: ECS's strategy and its newest service deployment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<crate::aws::DeploymentStrategy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_deployment: Option<crate::aws::ServiceDeployment>,
}

/// Blue/green: the listener's weights and the live colour.
#[derive(Debug, Clone, Serialize)]
pub struct TrafficView {
    pub listener: String,
    pub weights: Weights,
    pub live: Colour,
    pub blue: String,
    pub green: String,
}

/// `opsctl status ENV`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusOutcome {
    pub env: String,
    pub cluster: String,
    pub services: Vec<ServiceStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traffic: Option<TrafficView>,
    pub alarms: Vec<Alarm>,
}

impl fmt::Display for StatusOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} (cluster {})", self.env, self.cluster)?;
        if let Some(t) = &self.traffic {
            let split = if t.weights.blue > 0 && t.weights.green > 0 {
                " (split)"
            } else {
                ""
            };
            writeln!(f, "  traffic: {}{split}; live: {}", t.weights, t.live)?;
        }
        for s in &self.services {
            let colour = match &self.traffic {
                Some(t) if t.blue == s.service => "[blue] ",
                Some(t) if t.green == s.service => "[green] ",
                _ => "",
            };
            writeln!(
                f,
                "  {colour}{}: {} {} on {}, {}/{} running, {} pending",
                s.service,
                s.status,
                s.revision.version,
                s.revision.task_definition,
                s.running,
                s.desired,
                s.pending
            )?;
            if let (Some(strategy), Some(d)) = (s.strategy, &s.service_deployment) {
                write!(f, "    ECS {strategy} deployment: {}", d.summary())?;
                if d.awaiting_hook.is_some() {
                    write!(
                        f,
                        "; paused at a PAUSE hook (opsctl promote {0} / opsctl abort {0})",
                        self.env
                    )?;
                }
                writeln!(f)?;
            }
            for d in &s.deployments {
                writeln!(
                    f,
                    "    {:<8} {} {} {}/{} running{}{}",
                    d.status,
                    d.id,
                    d.task_definition,
                    d.running,
                    d.desired,
                    d.rollout
                        .map(|r| format!(", rollout {r}"))
                        .unwrap_or_default(),
                    if d.failed_tasks > 0 {
                        format!(", {} failed tasks", d.failed_tasks)
                    } else {
                        String::new()
                    }
                )?;
            }
            for t in &s.targets {
                writeln!(
                    f,
                    "    targets {}/{} healthy in {}{}",
                    t.healthy,
                    t.total,
                    t.target_group.rsplit(':').next().unwrap_or(&t.target_group),
                    if t.draining > 0 {
                        format!(" ({} draining)", t.draining)
                    } else {
                        String::new()
                    }
                )?;
            }
            for e in s.events.iter().take(3) {
                writeln!(
                    f,
                    "    {} {}",
                    e.at.strftime("%Y-%m-%d %H:%M:%S"),
                    e.message
                )?;
            }
        }
        if !self.alarms.is_empty() {
            let alarms: Vec<String> = self
                .alarms
                .iter()
                .map(|a| format!("{} {}", a.name, a.state))
                .collect();
            writeln!(f, "  alarms: {}", alarms.join(", "))?;
        }
        Ok(())
    }
}

/// Reads the state of the given services and the env's alarms.
pub async fn status(
    aws: &Aws,
    env: &EnvConfig,
    services: &[String],
) -> anyhow::Result<StatusOutcome> {
    // Independent reads run at once: a status is a few round trips deep, not a dozen.
    let (found, alarms, traffic) = tokio::join!(
        aws.ecs.describe_services(&env.cluster, services),
        aws.monitoring.alarms(&env.alarms),
        traffic_view(aws, env),
    );
    let mut out = Vec::new();
    for svc in found? {
        let (td, targets) = tokio::join!(
            aws.ecs
                .describe_task_definition(svc.current_task_definition()),
            target_groups(aws, &svc.target_groups),
        );
        let td = td?;
        let container = super::container_of(env, &td);
        let native = svc.strategy.is_native();
        let service_deployment = if native {
            match aws
                .ecs
                .latest_service_deployment(&env.cluster, &svc.name, jiff::Timestamp::UNIX_EPOCH)
                .await?
            {
                Some(arn) => Some(aws.ecs.describe_service_deployment(&arn).await?),
                None => None,
            }
        } else {
            None
        };
        out.push(ServiceStatus {
            strategy: native.then_some(svc.strategy),
            service_deployment,
            service: svc.name.clone(),
            status: svc.status.to_string(),
            revision: Revision::of(&td, &container),
            running: svc.running,
            desired: svc.desired,
            pending: svc.pending,
            deployments: svc
                .deployments
                .iter()
                .map(|d| DeploymentView {
                    id: d.id.clone(),
                    status: d.status.to_string(),
                    task_definition: short_td(&d.task_definition).to_owned(),
                    running: d.running,
                    desired: d.desired,
                    pending: d.pending,
                    failed_tasks: d.failed_tasks,
                    rollout: d.rollout_state,
                    rollout_reason: d.rollout_reason.clone(),
                })
                .collect(),
            targets: targets?,
            events: svc.events.iter().take(10).cloned().collect(),
        });
    }
    Ok(StatusOutcome {
        env: env.name.clone(),
        cluster: env.cluster.clone(),
        services: out,
        traffic: traffic?,
        alarms: alarms?,
    })
}

async fn target_groups(aws: &Aws, arns: &[String]) -> anyhow::Result<Vec<TargetGroupView>> {
    let mut views = Vec::new();
    for tg in arns {
        let health = aws.lb.target_health(tg).await?;
        let tally = TargetTally::of(&health);
        views.push(TargetGroupView {
            target_group: tg.clone(),
            healthy: tally.healthy,
            total: tally.in_service,
            draining: tally.draining,
        });
    }
    Ok(views)
}

async fn traffic_view(aws: &Aws, env: &EnvConfig) -> anyhow::Result<Option<TrafficView>> {
    if env.two_service().is_none() {
        return Ok(None);
    }
    let pair = traffic::resolve(aws, env).await?;
    Ok(Some(TrafficView {
        listener: pair.listener.clone(),
        weights: pair.weights(),
        live: pair.live(),
        blue: pair.blue.service.clone(),
        green: pair.green.service.clone(),
    }))
}

/// One past deploy.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub revision: String,
    pub version: String,
    pub image: String,
    pub deployed_by: Option<String>,
    pub deployed_at: Option<String>,
    /// `succeeded`, `failed`, `rolled-back`, `in-progress`, `not-deployed` (registered, but
    /// no service was ever pointed at it), or none for revisions that opsctl did not register.
    pub outcome: Option<String>,
    /// The revision the service runs now.
    pub current: bool,
    pub registered_at: Option<Timestamp>,
}

/// `opsctl history ENV`.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryOutcome {
    pub env: String,
    pub service: String,
    pub family: String,
    /// Newest first.
    pub entries: Vec<HistoryEntry>,
}

impl fmt::Display for HistoryOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} ({}), family {}", self.env, self.service, self.family)?;
        writeln!(
            f,
            "  {:<3} {:<22} {:<16} {:<12} {:<21} by",
            "", "revision", "version", "outcome", "when"
        )?;
        for e in &self.entries {
            writeln!(
                f,
                "  {:<3} {:<22} {:<16} {:<12} {:<21} {}",
                if e.current { "->" } else { "" },
                e.revision,
                e.version,
                e.outcome.as_deref().unwrap_or("-"),
                e.deployed_at
                    .clone()
                    .or_else(|| e
                        .registered_at
                        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()))
                    .unwrap_or_else(|| "-".into()),
                e.deployed_by.as_deref().unwrap_or("-"),
            )?;
        }
        Ok(())
    }
}

/// Past deploys from the family's revisions and their opsctl tags, newest first.
pub async fn history(
    aws: &Aws,
    env: &EnvConfig,
    service: &str,
    limit: usize,
) -> anyhow::Result<HistoryOutcome> {
    let svc = super::describe_one(aws, env, service).await?;
    let current = aws
        .ecs
        .describe_task_definition(svc.current_task_definition())
        .await?;
    let container = super::container_of(env, &current);
    let mut entries = Vec::new();
    for arn in aws
        .ecs
        .list_task_definitions(&current.family)
        .await?
        .iter()
        .take(limit)
    {
        let td = aws.ecs.describe_task_definition(arn).await?;
        entries.push(HistoryEntry {
            revision: td.short(),
            version: super::version_of(&td, &container),
            image: td.image_of(&container).unwrap_or_default().to_owned(),
            deployed_by: td.tags.get(tags::DEPLOYED_BY).cloned(),
            deployed_at: td.tags.get(tags::DEPLOYED_AT).cloned(),
            outcome: td.tags.get(tags::OUTCOME).cloned(),
            current: td.arn == current.arn,
            registered_at: td.registered_at,
        });
    }
    Ok(HistoryOutcome {
        env: env.name.clone(),
        service: service.to_owned(),
        family: current.family,
        entries,
    })
}

/// Reading succeeded: there is nothing else a status or a history can end in.
impl super::Outcome for StatusOutcome {
    fn exit(&self) -> crate::error::Exit {
        crate::error::Exit::Ok
    }
}

impl super::Outcome for HistoryOutcome {
    fn exit(&self) -> crate::error::Exit {
        crate::error::Exit::Ok
    }
}
