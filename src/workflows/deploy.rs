//! Rolling deploy: preflight, register, update, wait, bake, and roll back on failure.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use super::db;
use super::pace::{Pacer, Shown, Stop};
use super::preflight::{self, Context};
use super::traffic::{Colour, TrafficOutcome};
use super::wait::{self, Verdict, WaitOutcome, short_td};
use super::{Check, Interrupt, Outcome, Reporter, tags, version_of};
use crate::aws::{Aws, TaskDefinition};
use crate::config::EnvConfig;
use crate::error::Exit;

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
            next: Vec::new(),
            elapsed_secs: 0.0,
        }
    }
}

impl Outcome for DeployOutcome {
    fn exit(&self) -> Exit {
        match self.result {
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
            }
            DeployResult::Unchanged => writeln!(
                f,
                "{target} already runs {} on {from}; nothing to do",
                self.version
            )?,
            DeployResult::Started => writeln!(
                f,
                "{target} is rolling out {} ({from} -> {to}); not waiting. Follow it with `opsctl wait-stable {}`",
                self.version, self.env
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
                if let Some(wait) = &self.wait {
                    for s in &wait.services {
                        for t in &s.stopped_tasks {
                            writeln!(f, "  stopped task {}: {}", t.id, t.reason)?;
                            for c in &t.containers {
                                writeln!(f, "    {c}")?;
                            }
                        }
                        let last: Vec<_> = s.events.iter().rev().take(3).collect();
                        if !last.is_empty() {
                            writeln!(f, "  last service events:")?;
                            for e in last.iter().rev() {
                                writeln!(f, "    {} {}", e.at.strftime("%H:%M:%S"), e.message)?;
                            }
                        }
                    }
                }
                if let Some(t) = &self.traffic {
                    write!(f, "{}", indent(&t.to_string()))?;
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
        if let Some(s) = &self.snapshot
            && s.result == db::SnapshotResult::Available
        {
            writeln!(
                f,
                "  database snapshot: {} of {}",
                s.snapshot_id, s.instance
            )?;
        }
        for n in &self.next {
            writeln!(f, "  next: {n}")?;
        }
        Ok(())
    }
}

/// Runs a rolling deploy of `opts.version` to the env's service.
pub async fn deploy(
    aws: &Aws,
    env: &EnvConfig,
    service: &str,
    opts: &Options,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<DeployOutcome> {
    let started = Instant::now();
    let mut out = DeployOutcome::new(env, service, &opts.version);
    let done = |mut out: DeployOutcome| {
        out.elapsed_secs = started.elapsed().as_secs_f64();
        Ok(out)
    };

    reporter.step(
        "preflight",
        format!("checking {} before deploying {}", service, opts.version),
    );
    let report = preflight::run(
        aws,
        &preflight::Request {
            env,
            service,
            version: Some(&opts.version),
            ignore_alarms: opts.ignore_alarms,
        },
        reporter,
    )
    .await?;
    out.checks = report.checks.clone();
    let passed = report.passed();
    let Some(Context {
        current,
        container,
        image,
        ..
    }) = report.context
    else {
        return done(out);
    };
    out.from = Some(Revision::of(&current, &container));
    if !passed {
        return done(out);
    }
    let image = image.expect("a passed image check found the image");
    let current_image = current.image_of(&container).unwrap_or_default().to_owned();
    if current_image == image.uri {
        out.result = DeployResult::Unchanged;
        out.to = out.from.clone();
        return done(out);
    }

    let unchanged_containers = current
        .containers
        .iter()
        .filter(|c| c.name != container)
        .map(|c| c.name.clone())
        .collect();
    out.plan = Some(Plan {
        base: current.short(),
        container: container.clone(),
        image_from: current_image,
        image_to: image.uri.clone(),
        unchanged_containers,
        calls: vec![
            format!(
                "ecs:RegisterTaskDefinition family={} (copy of {}, image of {container} changed, tagged {}={})",
                current.family,
                current.short(),
                tags::VERSION,
                opts.version
            ),
            format!(
                "ecs:UpdateService cluster={} service={service} taskDefinition={}:<new>",
                env.cluster, current.family
            ),
            format!(
                "cloudwatch:PutMetricData namespace=opsctl metric=Deployment env={} service={service} version={}",
                env.name, opts.version
            ),
            format!(
                "ecs:TagResource {}=<outcome> on the new revision",
                tags::OUTCOME
            ),
        ],
    });
    plan_snapshot(env, &opts.version, &mut out);
    if opts.dry_run {
        out.result = DeployResult::Planned;
        return done(out);
    }
    super::confirm_change(
        env,
        reporter,
        interrupt,
        &format!(
            "Deploy {} to {} ({}), replacing {}?",
            opts.version,
            env.name,
            service,
            version_of(&current, &container)
        ),
    )?;

    if snapshot_first(aws, env, opts, reporter, interrupt, &mut out).await {
        return done(out);
    }
    if before_first_change(interrupt, &mut out) {
        return done(out);
    }

    let (new, updated) = match roll_out(
        aws, env, service, &current, &container, &image.uri, None, opts, reporter,
    )
    .await
    {
        Ok(done) => done,
        Err(e) => {
            e.report(service, &current, &mut out);
            return done(out);
        }
    };
    out.to = Some(Revision::of(&new, &container));
    out.points_at = Some(new.short());
    if opts.no_wait {
        out.result = DeployResult::Started;
        out.next = vec![format!("opsctl wait-stable {}", env.name)];
        return done(out);
    }

    // From here on the service runs, or is rolling out, the new revision: every way out, an
    // AWS error included, goes through `settle`, which rolls back or says where things stand.
    let followed = follow(
        aws, env, service, &new, &updated, opts, reporter, interrupt, &mut out,
    )
    .await
    .unwrap_or_else(|e| Failure::Error(format!("{e:#}")));
    settle(
        aws, env, service, &current, &new, &updated, &container, followed, opts, reporter,
        interrupt, &mut out,
    )
    .await;
    done(out)
}

/// How following a rollout ended, short of a verdict on the deploy.
pub(crate) enum Failure {
    /// Stable and baked: the deploy succeeded.
    None,
    /// Ctrl-C while waiting or baking.
    Interrupted,
    /// The rollout failed (ECS says FAILED, or rolled it back itself).
    Rollout(Option<String>),
    /// The rollout did not settle within the timeout.
    TimedOut,
    /// An alarm fired during the bake; the rollout had completed.
    Bake(String),
    /// An AWS call failed for good while following the rollout.
    Error(String),
}

/// Waits for the service to run `new` everywhere, then bakes.
#[allow(clippy::too_many_arguments)]
async fn follow(
    aws: &Aws,
    env: &EnvConfig,
    service: &str,
    new: &TaskDefinition,
    updated: &crate::aws::Service,
    opts: &Options,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
    out: &mut DeployOutcome,
) -> anyhow::Result<Failure> {
    reporter.step(
        "wait",
        format!("waiting for {service} to run {} everywhere", new.short()),
    );
    let waited = wait::wait(
        aws,
        &env.cluster,
        vec![wait::Target::revision(service, &new.arn, Some(updated))],
        &wait::Options::new(opts.timeout, opts.poll),
        reporter,
        interrupt,
    )
    .await?;
    let verdict = waited.verdict();
    let reason = waited.services[0].reason.clone();
    out.wait = Some(waited);
    Ok(match verdict {
        Verdict::Stable => match bake(aws, env, reporter, interrupt).await? {
            Bake::Passed => Failure::None,
            Bake::Alarm(why) => Failure::Bake(why),
            Bake::Interrupted => Failure::Interrupted,
        },
        Verdict::Interrupted => Failure::Interrupted,
        Verdict::Failed => Failure::Rollout(reason),
        Verdict::TimedOut => Failure::TimedOut,
    })
}

/// The one way out of a deploy that changed the service: record the outcome, and on failure
/// roll back (or, with `--no-rollback`, say what ECS will do) and report where it ended.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn settle(
    aws: &Aws,
    env: &EnvConfig,
    service: &str,
    current: &TaskDefinition,
    new: &TaskDefinition,
    updated: &crate::aws::Service,
    container: &str,
    failure: Failure,
    opts: &Options,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
    out: &mut DeployOutcome,
) {
    let timed_out = matches!(failure, Failure::TimedOut);
    let rollout_failed = matches!(failure, Failure::Rollout(_));
    let reason = match failure {
        Failure::None => {
            tag_outcome(aws, new, tags::SUCCEEDED, reporter).await;
            out.result = DeployResult::Deployed;
            return;
        }
        Failure::Interrupted => {
            out.result = DeployResult::Interrupted;
            out.reason = Some(format!(
                "stopped waiting; {service} may still be rolling out {}",
                new.short()
            ));
            out.next = vec![
                format!("opsctl wait-stable {}   # keep waiting", env.name),
                format!(
                    "opsctl rollback {}      # go back to {}",
                    env.name,
                    current.short()
                ),
            ];
            return;
        }
        Failure::Rollout(reason) => reason,
        Failure::TimedOut => Some("the timeout passed before the service was stable".into()),
        Failure::Bake(why) => Some(why),
        Failure::Error(e) => Some(format!("{e}; stopped following the rollout")),
    };
    tag_outcome(aws, new, tags::FAILED, reporter).await;
    out.reason = reason.or_else(|| out.reason.take());
    if opts.no_rollback {
        out.result = if timed_out {
            DeployResult::TimedOut
        } else {
            DeployResult::Failed
        };
        out.next = vec![
            format!(
                "opsctl rollback {}      # go back to {}",
                env.name,
                current.short()
            ),
            format!("opsctl status {}", env.name),
        ];
        return;
    }

    // Roll back to where we started. If ECS's circuit breaker already did, or is about to
    // (its rollback is on and the rollout FAILED), follow its deployment instead of starting
    // a second one. After a bake alarm or an error the rollout had not failed, so no
    // breaker is coming: roll back at once.
    let ecs_now_runs = out
        .wait
        .as_ref()
        .and_then(|w| w.services.first())
        .and_then(|s| s.now_running.clone());
    let breaker_rolls_back = updated
        .circuit_breaker
        .is_some_and(|cb| cb.enable && cb.rollback);
    let by_ecs = ecs_now_runs.as_deref() == Some(current.arn.as_str())
        || (breaker_rolls_back
            && rollout_failed
            && ecs_rollback_started(
                aws,
                &env.cluster,
                service,
                &current.arn,
                reporter,
                interrupt,
            )
            .await);
    reporter.step(
        "rollback",
        if by_ecs {
            format!(
                "ECS is rolling {service} back to {}; waiting for it",
                current.short()
            )
        } else {
            format!("rolling {service} back to {}", current.short())
        },
    );
    let rolled = if by_ecs {
        None
    } else {
        match aws
            .ecs
            .update_task_definition(&env.cluster, service, &current.arn)
            .await
        {
            Ok(svc) => Some(svc),
            Err(e) => {
                out.result = DeployResult::Failed;
                out.reason = Some(format!(
                    "{}; the rollback failed too: {e}",
                    out.reason.as_deref().unwrap_or("the deploy failed")
                ));
                out.next = vec![
                    format!(
                        "opsctl rollback {}      # try again to go back to {}",
                        env.name,
                        current.short()
                    ),
                    format!("opsctl status {}", env.name),
                ];
                return;
            }
        }
    };
    out.points_at = Some(current.short());
    let rb_wait = wait::wait(
        aws,
        &env.cluster,
        vec![wait::Target::revision(
            service,
            &current.arn,
            rolled.as_ref(),
        )],
        &wait::Options::new(opts.timeout, opts.poll),
        reporter,
        interrupt,
    )
    .await;
    let rb_wait = match rb_wait {
        Ok(w) => w,
        Err(e) => {
            tag_outcome(aws, new, tags::ROLLED_BACK, reporter).await;
            out.result = DeployResult::Failed;
            out.reason = Some(format!(
                "{}; {service} was pointed back at {}, but following that rollback failed: {e:#}",
                out.reason.as_deref().unwrap_or("the deploy failed"),
                current.short()
            ));
            out.next = vec![format!(
                "opsctl wait-stable {}   # see the rollback settle",
                env.name
            )];
            return;
        }
    };
    let rb_verdict = rb_wait.verdict();
    tag_outcome(aws, new, tags::ROLLED_BACK, reporter).await;
    out.rollback = Some(RollbackReport {
        to: Revision::of(current, container),
        by_ecs,
        wait: rb_wait,
    });
    out.result = match rb_verdict {
        Verdict::Stable => DeployResult::RolledBack,
        Verdict::Interrupted => DeployResult::Interrupted,
        Verdict::TimedOut => DeployResult::TimedOut,
        Verdict::Failed => DeployResult::Failed,
    };
    if out.result != DeployResult::RolledBack {
        out.next = vec![format!("opsctl status {}", env.name)];
    }
}

/// Ctrl-C pressed before the first change: stop with nothing changed. True when it was.
pub(crate) fn before_first_change(interrupt: &Interrupt, out: &mut DeployOutcome) -> bool {
    if !interrupt.is_raised() {
        return false;
    }
    out.result = DeployResult::Interrupted;
    out.reason = Some("interrupted before any change; nothing changed".into());
    true
}

/// How long ECS gets to start its circuit-breaker rollback before opsctl starts its own.
const ECS_ROLLBACK_GRACE: Duration = Duration::from_secs(30);

/// Waits (briefly, through the pacer) for ECS's circuit breaker to start its rollback to
/// `previous`. An error or Ctrl-C is a "no": opsctl then rolls back itself.
async fn ecs_rollback_started(
    aws: &Aws,
    cluster: &str,
    service: &str,
    previous: &str,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> bool {
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
                if found
                    .first()
                    .and_then(|s| s.primary())
                    .is_some_and(|p| p.task_definition == previous)
                {
                    return true;
                }
            }
            Err(e) => {
                if pacer.failed("DescribeServices", e, reporter).is_err() {
                    return false;
                }
            }
        }
        if pacer.nap().await.is_some() {
            return false;
        }
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// How a roll-out step failed: before anything changed, or once the revision existed.
pub(crate) enum RollOutError {
    /// RegisterTaskDefinition failed: nothing changed.
    Register(crate::aws::AwsError),
    /// The revision was registered, but UpdateService failed: the service is as it was.
    Update {
        new: TaskDefinition,
        err: crate::aws::AwsError,
    },
}

impl RollOutError {
    /// Records the failure in the outcome, and tags a revision no service will run as such.
    pub(crate) fn report(self, service: &str, current: &TaskDefinition, out: &mut DeployOutcome) {
        out.result = DeployResult::Failed;
        out.points_at = Some(current.short());
        out.reason = Some(match self {
            RollOutError::Register(err) => {
                format!(
                    "{err}; nothing changed: {service} still runs {}",
                    current.short()
                )
            }
            RollOutError::Update { new, err } => {
                // Its tag says `not-deployed` from its registration on.
                format!(
                    "{err}; {} was registered but never deployed: {service} still runs {}",
                    new.short(),
                    current.short()
                )
            }
        });
    }
}

/// Registers a revision that copies `base` with the container's image changed, points the
/// service at it (with a new desired count, for a blue/green idle colour), and publishes the
/// deployment marker. Returns the new revision and the service as `UpdateService` left it.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn roll_out(
    aws: &Aws,
    env: &EnvConfig,
    service: &str,
    base: &TaskDefinition,
    container: &str,
    image: &str,
    desired: Option<i32>,
    opts: &Options,
    reporter: &dyn Reporter,
) -> std::result::Result<(TaskDefinition, crate::aws::Service), RollOutError> {
    reporter.step(
        "register",
        format!("registering a new revision of {}", base.family),
    );
    let new_tags = revision_tags(&opts.version, &base.short(), &opts.actor);
    let new = aws
        .ecs
        .register_with_image(&base.arn, container, image, &new_tags)
        .await
        .map_err(RollOutError::Register)?;
    let updated = match desired {
        None => {
            reporter.step(
                "update",
                format!("pointing {service} at {} ({})", new.short(), opts.version),
            );
            aws.ecs
                .update_task_definition(&env.cluster, service, &new.arn)
                .await
        }
        Some(count) => {
            reporter.step(
                "update",
                format!("pointing {service} at {} with {count} task(s)", new.short()),
            );
            aws.ecs
                .update_revision_and_count(&env.cluster, service, &new.arn, count)
                .await
        }
    };
    let updated = match updated {
        Ok(svc) => svc,
        Err(err) => return Err(RollOutError::Update { new, err }),
    };
    tag_outcome(aws, &new, tags::IN_PROGRESS, reporter).await;
    if let Err(e) = aws
        .monitoring
        .put_deployment_marker(&env.name, service, &opts.version)
        .await
    {
        reporter.warn(format!("could not publish the deployment marker: {e}"));
    }
    Ok((new, updated))
}

/// Names the snapshot a deploy takes first, where the env asks for one, in its plan.
pub(crate) fn plan_snapshot(env: &EnvConfig, version: &str, out: &mut DeployOutcome) {
    if let (Some(plan), Some(call)) = (out.plan.as_mut(), db::deploy_plan_call(env, version)) {
        plan.calls.insert(0, call);
    }
}

/// The database snapshot, where the env asks for one (workflows::db): before any ECS
/// change. Returns true when the deploy must stop (the snapshot is not available).
pub(crate) async fn snapshot_first(
    aws: &Aws,
    env: &EnvConfig,
    opts: &Options,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
    out: &mut DeployOutcome,
) -> bool {
    let Some(snapshot) =
        db::snapshot_before_deploy(aws, env, &opts.version, &opts.actor, reporter, interrupt).await
    else {
        return false;
    };
    let stop = snapshot.stops_deploy();
    let interrupted = snapshot.result == db::SnapshotResult::Interrupted;
    out.snapshot = Some(snapshot);
    let Some(reason) = stop else {
        return false;
    };
    out.result = if interrupted {
        DeployResult::Interrupted
    } else {
        DeployResult::Failed
    };
    out.reason = Some(reason);
    true
}

/// The tags a deploy puts on the revision it registers.
pub(crate) fn revision_tags(
    version: &str,
    previous: &str,
    actor: &str,
) -> BTreeMap<String, String> {
    BTreeMap::from([
        (tags::VERSION.to_owned(), version.to_owned()),
        (tags::PREVIOUS.to_owned(), previous.to_owned()),
        (tags::DEPLOYED_BY.to_owned(), actor.to_owned()),
        (
            tags::DEPLOYED_AT.to_owned(),
            jiff::Timestamp::now()
                .strftime("%Y-%m-%dT%H:%M:%SZ")
                .to_string(),
        ),
        // Registered, not yet deployed: what a revision whose registration answer was lost
        // (and was registered again by the retry) stays, truthfully.
        (tags::OUTCOME.to_owned(), tags::NOT_DEPLOYED.to_owned()),
    ])
}

/// Records a deploy's outcome on its revision; a failure to tag is worth a warning only.
pub(crate) async fn tag_outcome(
    aws: &Aws,
    td: &TaskDefinition,
    outcome: &str,
    reporter: &dyn Reporter,
) {
    let tags = BTreeMap::from([(tags::OUTCOME.to_owned(), outcome.to_owned())]);
    if let Err(e) = aws.ecs.tag_task_definition(&td.arn, &tags).await {
        reporter.warn(format!("could not tag {} as {outcome}: {e}", td.short()));
    }
}

pub(crate) enum Bake {
    Passed,
    Alarm(String),
    Interrupted,
}

/// How often the bake reads the alarms.
const BAKE_POLL: Duration = Duration::from_secs(5);

/// Watches the env's alarms for the bake time, through the pacer (throttling slows it,
/// transient errors are tried again); any ALARM fails the deploy.
pub(crate) async fn bake(
    aws: &Aws,
    env: &EnvConfig,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<Bake> {
    let total = env.bake.0;
    if total.is_zero() || env.alarms.is_empty() {
        return Ok(Bake::Passed);
    }
    reporter.step(
        "bake",
        format!(
            "watching {} for {}s",
            env.alarms.join(", "),
            total.as_secs()
        ),
    );
    let _shown = Shown::start(
        reporter,
        format!("the bake ({})", env.alarms.join(", ")),
        total,
    );
    let mut pacer = Pacer::new(total, BAKE_POLL, Duration::from_secs(20), interrupt);
    loop {
        match aws.monitoring.alarms(&env.alarms).await {
            Ok(alarms) => {
                pacer.answered();
                let firing = crate::aws::firing(&alarms);
                if !firing.is_empty() {
                    return Ok(Bake::Alarm(format!(
                        "alarm went into ALARM during bake: {}",
                        firing.join("; ")
                    )));
                }
            }
            Err(e) => pacer.failed("DescribeAlarms", e, reporter)?,
        }
        match pacer.nap().await {
            None => {}
            Some(Stop::TimedOut) => return Ok(Bake::Passed),
            Some(Stop::Interrupted) => return Ok(Bake::Interrupted),
        }
    }
}
