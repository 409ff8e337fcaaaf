//! opsctl's own waiter: stricter and quicker than `aws ecs wait services-stable`.
//!
//! Success only when the PRIMARY deployment runs the expected task definition, its rollout is
//! COMPLETED (or, with no rollout state, it is the only deployment), running == desired, and
//! every target behind the load balancer is healthy. A FAILED rollout, or ECS replacing our
//! deployment with another (a circuit-breaker rollback), is a failure. One `DescribeServices`
//! call per poll for all services, about once a second with jitter, slower under throttling.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use super::pace::{Pacer, Shown, Stop};
use super::{Event, Interrupt, Reporter};
use crate::aws::{Aws, RolloutState, Service, ServiceEvent, StoppedTask, TargetTally};

/// The most services one `DescribeServices` call may name (ECS's limit).
pub const DESCRIBE_LIMIT: usize = 10;

/// The slowest the waiter polls while AWS throttles it.
const MAX_POLL: Duration = Duration::from_secs(20);

/// What to wait for on one service.
#[derive(Debug, Clone)]
pub struct Target {
    pub service: String,
    /// The task definition ARN the service must settle on; `None` takes whatever the
    /// PRIMARY deployment runs at the first poll.
    pub task_definition: Option<String>,
    /// The deployment to follow (from `UpdateService`); `None` takes the first PRIMARY seen.
    pub deployment_id: Option<String>,
}

impl Target {
    /// Wait for the service's current PRIMARY deployment, whatever it runs.
    pub fn current(service: &str) -> Self {
        Target {
            service: service.to_owned(),
            task_definition: None,
            deployment_id: None,
        }
    }

    /// Wait for the service to settle on `task_definition`, following the deployment that
    /// `UpdateService` answered with when it shows one for that revision.
    pub fn revision(service: &str, task_definition: &str, updated: Option<&Service>) -> Self {
        Target {
            service: service.to_owned(),
            task_definition: Some(task_definition.to_owned()),
            deployment_id: updated
                .and_then(|s| s.primary())
                .filter(|d| d.task_definition == task_definition)
                .map(|d| d.id.clone()),
        }
    }
}

/// How to wait.
#[derive(Debug, Clone)]
pub struct Options {
    pub timeout: Duration,
    /// Base interval between polls (jittered ±20 %).
    pub poll: Duration,
    /// Also require every target in the service's target groups to be healthy.
    pub check_targets: bool,
}

impl Options {
    /// Poll about once a second, targets checked.
    pub fn with_timeout(timeout: Duration) -> Self {
        Options::new(timeout, Duration::from_secs(1))
    }

    /// Targets checked.
    pub fn new(timeout: Duration, poll: Duration) -> Self {
        Options {
            timeout,
            poll,
            check_targets: true,
        }
    }
}

/// How the wait ended for one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Stable,
    /// The rollout failed (ECS says FAILED, or ECS replaced it with a rollback).
    Failed,
    TimedOut,
    Interrupted,
}

/// The wait's result for one service, with the state it left.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceWait {
    pub service: String,
    pub verdict: Verdict,
    pub task_definition: String,
    /// Why it failed, in ECS's words where it gave any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub running: i32,
    pub desired: i32,
    pub pending: i32,
    pub rollout: Option<RolloutState>,
    /// What the service runs now, when ECS moved it elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub now_running: Option<String>,
    /// The stopped tasks' reasons, on failure.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stopped_tasks: Vec<StoppedTask>,
    /// The service events that arrived during the wait, oldest first.
    pub events: Vec<ServiceEvent>,
    /// `opsctl wait-stable`: the outcome it recorded on the revision of a deploy that had not
    /// ended (`--no-wait`, or interrupted), now that the wait has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded: Option<String>,
}

/// The result of waiting on one or more services.
#[derive(Debug, Clone, Serialize)]
pub struct WaitOutcome {
    pub services: Vec<ServiceWait>,
    pub elapsed_secs: f64,
    /// `DescribeServices` calls made (one per poll).
    pub polls: u32,
}

impl WaitOutcome {
    /// The worst verdict: any failure, then interruption, then time-out; else stable.
    pub fn verdict(&self) -> Verdict {
        let has = |v| self.services.iter().any(|s| s.verdict == v);
        if has(Verdict::Failed) {
            Verdict::Failed
        } else if has(Verdict::Interrupted) {
            Verdict::Interrupted
        } else if has(Verdict::TimedOut) {
            Verdict::TimedOut
        } else {
            Verdict::Stable
        }
    }
}

impl super::Outcome for WaitOutcome {
    fn exit(&self) -> crate::error::Exit {
        use crate::error::Exit;
        match self.verdict() {
            Verdict::Stable => Exit::Ok,
            Verdict::Failed => Exit::Failed,
            Verdict::TimedOut => Exit::TimedOut,
            Verdict::Interrupted => Exit::Interrupted,
        }
    }
}

impl fmt::Display for WaitOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.services {
            let verdict = match s.verdict {
                Verdict::Stable => "stable",
                Verdict::Failed => "FAILED",
                Verdict::TimedOut => "still not stable (timed out)",
                Verdict::Interrupted => "interrupted, not stable yet",
            };
            writeln!(
                f,
                "{}: {verdict} on {} ({}/{} running, {} pending{}) after {:.0}s",
                s.service,
                short_td(&s.task_definition),
                s.running,
                s.desired,
                s.pending,
                s.rollout
                    .map(|r| format!(", rollout {r}"))
                    .unwrap_or_default(),
                self.elapsed_secs,
            )?;
            if let Some(reason) = &s.reason {
                writeln!(f, "  reason: {reason}")?;
            }
            if let Some(now) = &s.now_running {
                writeln!(f, "  the service now runs {}", short_td(now))?;
            }
            StoppedTask::write_all(&s.stopped_tasks, f, "  ")?;
            if let Some(outcome) = &s.recorded {
                writeln!(
                    f,
                    "  recorded the deploy of {} as {outcome} (opsctl history)",
                    short_td(&s.task_definition)
                )?;
            }
        }
        Ok(())
    }
}

/// How many lines of each stopped task a failed wait shows.
const LAST_LINES: usize = 5;

/// Best effort: the last lines each stopped task's containers logged (awslogs), read from
/// the start of their streams; the first three tasks only, one revision read for all.
async fn last_lines(aws: &Aws, tasks: &mut [StoppedTask], reporter: &dyn Reporter) {
    let mut revisions: Vec<(String, Option<crate::aws::TaskDefinition>)> = Vec::new();
    for task in tasks.iter_mut().take(3) {
        let td = match revisions
            .iter()
            .find(|(arn, _)| *arn == task.task_definition)
        {
            Some((_, td)) => td.clone(),
            None => {
                let td = aws
                    .ecs
                    .describe_task_definition(&task.task_definition)
                    .await
                    .ok();
                revisions.push((task.task_definition.clone(), td.clone()));
                td
            }
        };
        let Some(td) = td else { continue };
        for c in &td.containers {
            let Some(log) = &c.log else { continue };
            let (Some(group), Some(stream)) = (&log.group, log.stream(&c.name, &task.id)) else {
                continue;
            };
            let lines = match aws.logs.stream_lines(group, &stream, None).await {
                Ok((lines, _)) => lines,
                Err(e) => {
                    reporter.warn(format!(
                        "could not read what task {} logged (GetLogEvents): {e}",
                        task.id
                    ));
                    return;
                }
            };
            let keep = lines.len().saturating_sub(LAST_LINES);
            task.last_lines.extend(
                lines
                    .into_iter()
                    .skip(keep)
                    .map(|l| format!("{}: {}", c.name, crate::input::escape(&l.message))),
            );
        }
    }
}

/// `family:revision` from a task definition ARN.
pub fn short_td(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

struct Tracked {
    target: Target,
    /// Waiting on a rollout we just started: its events so far are news. Waiting on whatever
    /// runs (`Target::current`): what happened before is history.
    fresh: bool,
    seen_events: HashSet<String>,
    first_poll: bool,
    result: Option<ServiceWait>,
    events: Vec<ServiceEvent>,
    last: Option<Service>,
}

/// Waits until every target is stable, one fails, the timeout passes, or Ctrl-C.
pub async fn wait(
    aws: &Aws,
    cluster: &str,
    targets: Vec<Target>,
    opts: &Options,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<WaitOutcome> {
    let started = Instant::now();
    let names: Vec<String> = targets.iter().map(|t| t.service.clone()).collect();
    let mut tracked: Vec<Tracked> = targets
        .into_iter()
        .map(|target| Tracked {
            fresh: target.task_definition.is_some(),
            target,
            seen_events: HashSet::new(),
            first_poll: true,
            result: None,
            events: Vec::new(),
            last: None,
        })
        .collect();
    let shown = Shown::start(reporter, names.join(", "), opts.timeout);
    let mut pacer = Pacer::new(opts.timeout, opts.poll, MAX_POLL, interrupt);
    let mut polls = 0u32;

    loop {
        polls += 1;
        match describe_all(aws, cluster, &names).await {
            Ok(services) => {
                pacer.answered();
                for t in tracked.iter_mut().filter(|t| t.result.is_none()) {
                    let Some(svc) = services.iter().find(|s| s.name == t.target.service) else {
                        anyhow::bail!(
                            "service {} vanished from cluster {cluster}",
                            t.target.service
                        );
                    };
                    observe(aws, t, svc, opts, reporter).await?;
                }
            }
            Err(e) => pacer.failed("DescribeServices", e, reporter)?,
        }

        if tracked.iter().all(|t| t.result.is_some()) {
            break;
        }
        match pacer.nap().await {
            None => {}
            Some(Stop::TimedOut) => {
                finish_all(&mut tracked, Verdict::TimedOut);
                break;
            }
            Some(Stop::Interrupted) => {
                finish_all(&mut tracked, Verdict::Interrupted);
                break;
            }
        }
    }
    drop(shown);

    let mut services = Vec::new();
    for t in tracked {
        let mut result = t.result.expect("every service has a verdict");
        result.events = t.events;
        if result.verdict == Verdict::Failed {
            // Best effort: the reasons help, but their absence must not hide the verdict.
            match aws.ecs.stopped_tasks(cluster, &t.target.service, 20).await {
                Ok(tasks) => {
                    let ours: Vec<StoppedTask> = tasks
                        .iter()
                        .filter(|task| {
                            Some(&task.task_definition) == t.target.task_definition.as_ref()
                        })
                        .cloned()
                        .collect();
                    let mut chosen = if ours.is_empty() { tasks } else { ours };
                    chosen.truncate(5);
                    last_lines(aws, &mut chosen, reporter).await;
                    result.stopped_tasks = chosen;
                }
                Err(e) => reporter.warn(format!("could not read stopped tasks: {e}")),
            }
        }
        services.push(result);
    }
    Ok(WaitOutcome {
        services,
        elapsed_secs: started.elapsed().as_secs_f64(),
        polls,
    })
}

/// Every named service, in as few `DescribeServices` calls as ECS allows: one per
/// [`DESCRIBE_LIMIT`] services.
async fn describe_all(
    aws: &Aws,
    cluster: &str,
    names: &[String],
) -> crate::aws::AwsResult<Vec<Service>> {
    let mut all = Vec::with_capacity(names.len());
    for chunk in names.chunks(DESCRIBE_LIMIT) {
        all.extend(aws.ecs.describe_services(cluster, chunk).await?);
    }
    Ok(all)
}

fn finish_all(tracked: &mut [Tracked], verdict: Verdict) {
    for t in tracked.iter_mut().filter(|t| t.result.is_none()) {
        let mut r = snapshot(&t.target, t.last.as_ref(), verdict);
        if verdict == Verdict::TimedOut {
            r.reason = Some("the timeout passed before the service was stable".into());
        }
        t.result = Some(r);
    }
}

fn snapshot(target: &Target, svc: Option<&Service>, verdict: Verdict) -> ServiceWait {
    let primary = svc.and_then(|s| s.primary());
    ServiceWait {
        service: target.service.clone(),
        verdict,
        task_definition: target
            .task_definition
            .clone()
            .or_else(|| primary.map(|p| p.task_definition.clone()))
            .unwrap_or_default(),
        reason: None,
        running: svc.map_or(0, |s| s.running),
        desired: svc.map_or(0, |s| s.desired),
        pending: svc.map_or(0, |s| s.pending),
        rollout: primary.and_then(|p| p.rollout_state),
        now_running: None,
        stopped_tasks: Vec::new(),
        events: Vec::new(),
        recorded: None,
    }
}

/// Looks at one poll's view of a service and decides whether its wait is over.
async fn observe(
    aws: &Aws,
    t: &mut Tracked,
    svc: &Service,
    opts: &Options,
    reporter: &dyn Reporter,
) -> anyhow::Result<()> {
    let Some(primary) = svc.primary().cloned() else {
        anyhow::bail!("service {} reports no PRIMARY deployment", svc.name);
    };
    if t.first_poll {
        t.first_poll = false;
        t.target
            .task_definition
            .get_or_insert_with(|| primary.task_definition.clone());
        t.target
            .deployment_id
            .get_or_insert_with(|| primary.id.clone());
        // Events from before our deployment are history, not progress.
        let since = svc
            .deployments
            .iter()
            .find(|d| Some(&d.id) == t.target.deployment_id.as_ref())
            .and_then(|d| d.created_at);
        for e in &svc.events {
            if !t.fresh || since.is_none_or(|s| e.at < s) {
                t.seen_events.insert(e.id.clone());
            }
        }
    }
    // ECS lists events newest first; report the new ones in the order they happened.
    for e in svc.events.iter().rev() {
        if t.seen_events.insert(e.id.clone()) {
            reporter.report(Event::ServiceEvent {
                service: svc.name.clone(),
                at: e.at,
                message: e.message.clone(),
            });
            t.events.push(e.clone());
        }
    }
    t.last = Some(svc.clone());
    let expected = t.target.task_definition.clone().unwrap_or_default();
    let ours = t.target.deployment_id.clone().unwrap_or_default();

    let mut targets = None;
    let verdict = if primary.id != ours && primary.task_definition != expected {
        // ECS (circuit breaker) or someone else started another deployment over ours.
        let our_deployment = svc.deployments.iter().find(|d| d.id == ours);
        let reason = our_deployment
            .and_then(|d| d.rollout_reason.clone())
            .unwrap_or_else(|| {
                format!(
                    "ECS replaced deployment {ours} with {} running {}, a rollback",
                    primary.id,
                    short_td(&primary.task_definition)
                )
            });
        Some((
            Verdict::Failed,
            Some(reason),
            Some(primary.task_definition.clone()),
        ))
    } else if primary.rollout_state == Some(RolloutState::Failed) {
        let reason = primary
            .rollout_reason
            .clone()
            .unwrap_or_else(|| "ECS marked the rollout FAILED".into());
        Some((Verdict::Failed, Some(reason), None))
    } else {
        if primary.id != ours {
            // Same task definition, new deployment (e.g. a forced redeploy): follow it.
            t.target.deployment_id = Some(primary.id.clone());
        }
        if primary.task_definition == expected && svc.is_steady() {
            if opts.check_targets && !svc.target_groups.is_empty() {
                let (healthy, total) = target_health(aws, svc).await?;
                targets = Some((healthy, total));
                let want = usize::try_from(svc.desired).unwrap_or(0);
                (healthy == total && healthy >= want).then_some((Verdict::Stable, None, None))
            } else {
                Some((Verdict::Stable, None, None))
            }
        } else {
            None
        }
    };
    reporter.report(Event::Progress {
        service: svc.name.clone(),
        running: svc.running,
        desired: svc.desired,
        pending: svc.pending,
        rollout: primary.rollout_state,
        targets,
    });
    if let Some((verdict, reason, now_running)) = verdict {
        let mut r = snapshot(&t.target, Some(svc), verdict);
        r.reason = reason;
        r.now_running = now_running;
        t.result = Some(r);
    }
    Ok(())
}

/// Healthy and total targets across the service's target groups.
async fn target_health(aws: &Aws, svc: &Service) -> anyhow::Result<(usize, usize)> {
    let mut targets = Vec::new();
    for tg in &svc.target_groups {
        targets.extend(aws.lb.target_health(tg).await?);
    }
    let tally = TargetTally::of(&targets);
    Ok((tally.healthy, tally.in_service))
}

/// `opsctl wait-stable ENV`: waits for what the service runs, then completes the history of
/// the deploy it waited for. A revision still recorded `in-progress` or `interrupted` (a
/// `--no-wait` or interrupted deploy) becomes `succeeded` when the service is stable on it,
/// `rolled-back` when ECS took the service back from it, `failed` when its rollout failed in
/// place. While another command holds the environment's lock, that command records its own
/// outcome, and nothing is tagged.
pub async fn wait_stable(
    aws: &Aws,
    env: &crate::config::EnvConfig,
    service: &str,
    opts: &Options,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<WaitOutcome> {
    wait_stable_all(aws, env, &[service.to_owned()], opts, reporter, interrupt).await
}

/// [`wait_stable`] for several services of the env at once, in one wait (a `services` env).
pub async fn wait_stable_all(
    aws: &Aws,
    env: &crate::config::EnvConfig,
    services: &[String],
    opts: &Options,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<WaitOutcome> {
    let mut out = wait(
        aws,
        &env.cluster,
        services.iter().map(|s| Target::current(s)).collect(),
        opts,
        reporter,
        interrupt,
    )
    .await?;
    for s in &mut out.services {
        if s.verdict == Verdict::Failed && s.now_running.is_none() {
            s.now_running = breaker_rollback(aws, &env.cluster, s, reporter, interrupt).await;
        }
        s.recorded = record_end(aws, env, s, reporter).await;
    }
    Ok(out)
}

/// After a rollout FAILED: the revision ECS's circuit breaker is taking the service back to,
/// when its rollback is on and it starts within the grace; `None` when the rollout failed in
/// place.
async fn breaker_rollback(
    aws: &Aws,
    cluster: &str,
    s: &ServiceWait,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> Option<String> {
    let svc = aws
        .ecs
        .describe_services(cluster, std::slice::from_ref(&s.service))
        .await
        .ok()?
        .into_iter()
        .next()?;
    if !svc
        .circuit_breaker
        .is_some_and(|cb| cb.enable && cb.rollback)
    {
        return None;
    }
    let to = ecs_rollback_started(
        aws,
        cluster,
        &s.service,
        &s.task_definition,
        reporter,
        interrupt,
    )
    .await?;
    reporter.step(
        "rollback",
        format!(
            "ECS's circuit breaker is rolling {} back to {}",
            s.service,
            short_td(&to)
        ),
    );
    Some(to)
}

/// What an ended wait says of the deploy that had not ended, tagged on its revision.
async fn record_end(
    aws: &Aws,
    env: &crate::config::EnvConfig,
    s: &ServiceWait,
    reporter: &dyn Reporter,
) -> Option<String> {
    use crate::aws::tags;
    let outcome = match (s.verdict, &s.now_running) {
        (Verdict::Stable, _) => tags::SUCCEEDED,
        (Verdict::Failed, Some(other)) if *other != s.task_definition => tags::ROLLED_BACK,
        (Verdict::Failed, _) => tags::FAILED,
        (Verdict::TimedOut | Verdict::Interrupted, _) => return None,
    };
    let td = match aws.ecs.describe_task_definition(&s.task_definition).await {
        Ok(td) => td,
        Err(e) => {
            reporter.warn(format!(
                "could not read {} to record its outcome: {e}",
                short_td(&s.task_definition)
            ));
            return None;
        }
    };
    if !tags::unfinished(td.tags.get(tags::OUTCOME).map(String::as_str)) {
        return None;
    }
    match super::lock::current(aws, env).await {
        Ok(Some(held)) if !held.is_freeze() => {
            reporter.step(
                "history",
                format!(
                    "{} is held by {} ({}): that command records how {} ends",
                    env.name,
                    held.holder,
                    held.command,
                    td.short()
                ),
            );
            return None;
        }
        Ok(_) => {}
        Err(e) => {
            reporter.warn(format!(
                "{e:#}; not recording how {} ended, since a deploy may still be following it",
                td.short()
            ));
            return None;
        }
    }
    super::deploy::tag_outcome(aws, &td, outcome, reporter).await;
    Some(outcome.to_owned())
}

/// How long ECS gets to start its circuit-breaker rollback before opsctl starts its own.
pub(super) const ECS_ROLLBACK_GRACE: Duration = Duration::from_secs(30);

/// Waits (briefly, through the pacer) for ECS's circuit breaker to move `service` off the
/// failed revision `failed`, and returns the revision its PRIMARY deployment then runs. An
/// error, Ctrl-C or no change within the grace is `None`.
pub(super) async fn ecs_rollback_started(
    aws: &Aws,
    cluster: &str,
    service: &str,
    failed: &str,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> Option<String> {
    let mut pacer = Pacer::new(
        ECS_ROLLBACK_GRACE,
        Duration::from_secs(1),
        Duration::from_secs(5),
        interrupt,
    );
    loop {
        match aws
            .ecs
            .describe_services(cluster, &[service.to_owned()])
            .await
        {
            Ok(found) => {
                pacer.answered();
                let now = found.first().and_then(|s| s.primary());
                if let Some(p) = now.filter(|p| p.task_definition != failed) {
                    return Some(p.task_definition.clone());
                }
            }
            Err(e) => {
                if pacer.failed("DescribeServices", e, reporter).is_err() {
                    return None;
                }
            }
        }
        if pacer.nap().await.is_some() {
            return None;
        }
    }
}
