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

/// Where a service's tasks run: per Availability Zone, its running tasks and their targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZoneView {
    pub zone: String,
    pub tasks: usize,
    /// The tasks' targets (matched by address) in service, and how many are healthy.
    pub targets: usize,
    pub healthy: usize,
}

/// Groups running tasks, and the targets at their addresses, by zone.
pub fn zones(
    tasks: &[crate::aws::RunningTask],
    health: &[crate::aws::TargetHealth],
) -> Vec<ZoneView> {
    let mut by_zone: std::collections::BTreeMap<String, ZoneView> = Default::default();
    for t in tasks {
        let zone = t.zone.clone().unwrap_or_else(|| "unknown zone".into());
        let view = by_zone.entry(zone.clone()).or_insert(ZoneView {
            zone,
            tasks: 0,
            targets: 0,
            healthy: 0,
        });
        view.tasks += 1;
        for h in health.iter().filter(|h| Some(&h.id) == t.ip.as_ref()) {
            let tally = TargetTally::of(std::slice::from_ref(h));
            view.targets += tally.in_service;
            view.healthy += tally.healthy;
        }
    }
    by_zone.into_values().collect()
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
    /// Its running tasks and their targets per Availability Zone.
    pub zones: Vec<ZoneView>,
    /// Newest first.
    pub events: Vec<ServiceEvent>,
    /// A native strategy: ECS's strategy and its newest service deployment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<crate::aws::DeploymentStrategy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_deployment: Option<crate::aws::ServiceDeployment>,
    /// Where the container's output goes: `group` and the streams' prefix (awslogs), or the
    /// driver opsctl does not read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs: Option<String>,
}

/// The database's recovery position: how much would be lost now, and how it could come back.
#[derive(Debug, Clone, Serialize)]
pub struct RecoveryView {
    pub instance: String,
    pub status: String,
    pub multi_az: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub standby_zone: Option<String>,
    /// The latest restorable time, and how far behind now it is (the RPO now).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_restorable: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restorable_lag_secs: Option<i64>,
    /// The newest available snapshot (manual or automated) and its age.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newest_snapshot: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newest_snapshot_age_secs: Option<i64>,
    /// The env's `database.rpo`, and whether the position is within it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpo_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub within_rpo: Option<bool>,
    /// The recovery region (`database.dr`), where one is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_region: Option<RegionCopyView>,
}

/// What the recovery region holds: the newest available copy, and how old its data is.
#[derive(Debug, Clone, Serialize)]
pub struct RegionCopyView {
    pub region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newest_copy: Option<String>,
    /// Since the copied data was snapshotted (not since the copy was made).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newest_copy_age_secs: Option<i64>,
    /// Whether a restore there, after losing the env's region, is within `database.rpo`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub within_rpo: Option<bool>,
    /// Why the region could not be read, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn age(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

impl fmt::Display for RecoveryView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "  database {}: {}", self.instance, self.status)?;
        match (self.multi_az, &self.zone, &self.standby_zone) {
            (true, Some(z), Some(s)) => write!(f, ", Multi-AZ ({z}, standby {s})")?,
            (true, _, _) => write!(f, ", Multi-AZ")?,
            (false, Some(z), _) => write!(f, ", single-AZ ({z})")?,
            (false, None, _) => write!(f, ", single-AZ")?,
        }
        writeln!(f)?;
        match (self.latest_restorable, self.restorable_lag_secs) {
            (Some(t), Some(lag)) => write!(
                f,
                "    restorable to {} ({} ago)",
                t.strftime("%Y-%m-%d %H:%M:%S UTC"),
                age(lag)
            )?,
            _ => write!(f, "    no point-in-time restore (no automated backups)")?,
        }
        match (&self.newest_snapshot, self.newest_snapshot_age_secs) {
            (Some(id), Some(a)) => write!(f, "; newest snapshot {id} ({} old)", age(a))?,
            _ => write!(f, "; no snapshot")?,
        }
        if let (Some(rpo), Some(within)) = (self.rpo_secs, self.within_rpo) {
            write!(
                f,
                "; RPO {}: {}",
                age(rpo as i64),
                if within { "within" } else { "OVER" }
            )?;
        }
        writeln!(f)?;
        if let Some(r) = &self.recovery_region {
            write!(f, "    recovery region {}: ", r.region)?;
            match (&r.error, &r.newest_copy, r.newest_copy_age_secs) {
                (Some(e), _, _) => write!(f, "not readable ({e})")?,
                (None, Some(id), Some(a)) => write!(f, "newest copy {id} ({} old)", age(a))?,
                (None, _, _) => write!(
                    f,
                    "no copy (make one with `opsctl db snapshot ENV --copy-to {}`)",
                    r.region
                )?,
            }
            if let (Some(rpo), Some(within)) = (self.rpo_secs, r.within_rpo) {
                write!(
                    f,
                    "; RPO {} if the region is lost: {}",
                    age(rpo as i64),
                    if within { "within" } else { "OVER" }
                )?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<RecoveryView>,
    /// The deploy lock holding the environment now (`null`: free).
    pub lock: Option<crate::aws::LockRecord>,
}

impl fmt::Display for StatusOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} (cluster {})", self.env, self.cluster)?;
        if let Some(lock) = &self.lock {
            let until = lock
                .expires
                .map(|e| format!(" (lease until {})", e.strftime("%H:%M:%S UTC")))
                .unwrap_or_else(|| format!("; `opsctl unlock {}` clears it", self.env));
            writeln!(
                f,
                "  LOCK: {}{until}",
                super::lock::describe(&self.env, lock)
            )?;
        }
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
            if !s.zones.is_empty() {
                let zones: Vec<String> = s
                    .zones
                    .iter()
                    .map(|z| {
                        let targets = if z.targets > 0 {
                            format!(", {}/{} targets healthy", z.healthy, z.targets)
                        } else {
                            String::new()
                        };
                        format!("{} {} task(s){targets}", z.zone, z.tasks)
                    })
                    .collect();
                writeln!(f, "    zones: {}", zones.join("; "))?;
            }
            if let Some(logs) = &s.logs {
                writeln!(f, "    logs: {logs} (opsctl logs {})", self.env)?;
            }
            for e in s.events.iter().take(3) {
                writeln!(
                    f,
                    "    {} {}",
                    e.at.strftime("%Y-%m-%d %H:%M:%S UTC"),
                    crate::aws::short_arns(&e.message)
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
        if let Some(db) = &self.database {
            write!(f, "{db}")?;
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
    let (found, alarms, traffic, lock) = tokio::join!(
        aws.ecs.describe_services(&env.cluster, services),
        aws.monitoring.alarms(&env.alarms),
        traffic_view(aws, env),
        super::lock::current(aws, env),
    );
    let mut out = Vec::new();
    for svc in found? {
        let (td, health, tasks) = tokio::join!(
            aws.ecs
                .describe_task_definition(svc.current_task_definition()),
            target_health(aws, &svc.target_groups),
            aws.ecs.running_tasks(&env.cluster, &svc.name),
        );
        let td = td?;
        let health = health?;
        let targets = health
            .iter()
            .map(|(tg, h)| {
                let tally = TargetTally::of(h);
                TargetGroupView {
                    target_group: tg.clone(),
                    healthy: tally.healthy,
                    total: tally.in_service,
                    draining: tally.draining,
                }
            })
            .collect();
        let all: Vec<crate::aws::TargetHealth> = health.into_iter().flat_map(|(_, h)| h).collect();
        let zones = zones(&tasks?, &all);
        let container = super::container_of(env, &td);
        let logs = td
            .containers
            .iter()
            .find(|c| c.name == container)
            .and_then(|c| c.log.as_ref())
            .map(|l| match (l.driver.as_str(), &l.group, &l.prefix) {
                ("awslogs", Some(group), Some(prefix)) => {
                    format!("CloudWatch Logs {group}, streams {prefix}/{container}/TASK_ID")
                }
                (driver, _, _) => format!("the {driver} driver (not read by opsctl)"),
            });
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
            targets,
            zones,
            events: svc.events.iter().take(10).cloned().collect(),
            logs,
        });
    }
    Ok(StatusOutcome {
        env: env.name.clone(),
        cluster: env.cluster.clone(),
        services: out,
        traffic: traffic?,
        alarms: alarms?,
        database: recovery(aws, env, Timestamp::now()).await?,
        lock: lock?,
    })
}

/// The env's database's recovery position, as of `now`.
async fn recovery(
    aws: &Aws,
    env: &EnvConfig,
    now: Timestamp,
) -> anyhow::Result<Option<RecoveryView>> {
    let Some(db) = &env.database else {
        return Ok(None);
    };
    let (instance, snapshots) = tokio::join!(
        aws.db.describe_instance(&db.instance),
        aws.db.list_snapshots(&db.instance)
    );
    let instance = instance?;
    let newest = snapshots?
        .into_iter()
        .filter(|s| s.is_available())
        .filter_map(|s| Some((s.created_at?, s.id)))
        .max();
    let since = |t: Timestamp| (now - t).get_seconds().max(0);
    let lag = instance.latest_restorable.map(since);
    let rpo = db.rpo.map(|r| r.0.as_secs());
    // Within the RPO: the newer of the restorable time and the newest snapshot is recent enough.
    let best = match (lag, newest.as_ref().map(|(t, _)| since(*t))) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok(Some(RecoveryView {
        instance: instance.id.clone(),
        status: instance.status.clone(),
        multi_az: instance.settings.multi_az,
        zone: instance.zone.clone(),
        standby_zone: instance.secondary_az.clone(),
        latest_restorable: instance.latest_restorable,
        restorable_lag_secs: lag,
        newest_snapshot_age_secs: newest.as_ref().map(|(t, _)| since(*t)),
        newest_snapshot: newest.map(|(_, id)| id),
        rpo_secs: rpo,
        within_rpo: rpo.map(|r| best.is_some_and(|b| b as u64 <= r)),
        recovery_region: match &db.dr {
            Some(dr) => Some(region_copies(aws, &db.instance, &dr.region, rpo, now).await),
            None => None,
        },
    }))
}

/// The newest available copy of `instance`'s snapshots in `region`; a region that cannot be
/// read is shown as such (status still shows everything else).
async fn region_copies(
    aws: &Aws,
    instance: &str,
    region: &str,
    rpo: Option<u64>,
    now: Timestamp,
) -> RegionCopyView {
    let mut view = RegionCopyView {
        region: region.to_owned(),
        newest_copy: None,
        newest_copy_age_secs: None,
        within_rpo: None,
        error: None,
    };
    match aws.regions.database(region).list_snapshots(instance).await {
        Ok(copies) => {
            let newest = copies
                .into_iter()
                .filter(|s| s.is_available())
                .filter_map(|s| Some((s.original_created_at.or(s.created_at)?, s.id)))
                .max();
            let age = newest
                .as_ref()
                .map(|(t, _)| (now - *t).get_seconds().max(0));
            view.newest_copy = newest.map(|(_, id)| id);
            view.newest_copy_age_secs = age;
            view.within_rpo = rpo.map(|r| age.is_some_and(|a| a as u64 <= r));
        }
        Err(e) => view.error = Some(e.to_string()),
    }
    view
}

/// Each target group's targets.
async fn target_health(
    aws: &Aws,
    arns: &[String],
) -> anyhow::Result<Vec<(String, Vec<crate::aws::TargetHealth>)>> {
    let mut all = Vec::new();
    for tg in arns {
        all.push((tg.clone(), aws.lb.target_health(tg).await?));
    }
    Ok(all)
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
    /// `succeeded`, `failed`, `rolled-back`, `reverted`, `in-progress`, `interrupted`,
    /// `not-deployed` (the README's "Deploy outcomes" says what each means), or none for
    /// revisions that opsctl did not register.
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
