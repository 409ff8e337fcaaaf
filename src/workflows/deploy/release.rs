//! A release: one version deployed to several services of an environment (`services = [...]`),
//! wave after wave, all or nothing. Every service is preflighted before anything changes; a
//! wave's services are registered and updated together and waited for in one wait; when any
//! service fails, every service the release changed goes back to its previous revision.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use super::*;
use crate::config::Member;

/// How many registrations (and rollbacks) are in flight at once: enough to make a wave of
/// twenty quick, few enough that ECS does not throttle them.
const AT_ONCE: usize = 5;

/// How one service of a release ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceResult {
    /// `--dry-run` / `plan`: would be deployed.
    Planned,
    /// Already runs the version.
    Unchanged,
    /// Its preflight failed.
    PreflightFailed,
    /// Not changed: the release stopped before its wave (or another service's preflight failed).
    NotStarted,
    /// `--no-wait`: updated, not waited for.
    Started,
    Deployed,
    /// Its own rollout (or registration, or update) failed.
    Failed,
    /// Back on its previous revision, and stable on it.
    RolledBack,
    /// Left on the new revision (`--no-rollback`, or a rollback that did not settle).
    LeftOnNew,
    /// Ctrl-C while it rolled out.
    Interrupted,
}

impl fmt::Display for ServiceResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ServiceResult::Planned => "planned",
            ServiceResult::Unchanged => "unchanged",
            ServiceResult::PreflightFailed => "preflight failed",
            ServiceResult::NotStarted => "not started",
            ServiceResult::Started => "started",
            ServiceResult::Deployed => "deployed",
            ServiceResult::Failed => "FAILED",
            ServiceResult::RolledBack => "rolled back",
            ServiceResult::LeftOnNew => "NOT rolled back",
            ServiceResult::Interrupted => "interrupted",
        })
    }
}

/// One service's part of a release.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceRelease {
    pub service: String,
    pub wave: u32,
    pub result: ServiceResult,
    pub from: Option<Revision>,
    /// The revision registered for it.
    pub to: Option<Revision>,
    /// The revision the service is pointed at as the release ends.
    pub ends_on: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub checks: Vec<Check>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    /// The stopped tasks' reasons, where its rollout failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stopped_tasks: Vec<StoppedTask>,
    /// Its service events during the release, oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<crate::aws::ServiceEvent>,
}

/// Everything a release did and saw.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseOutcome {
    pub env: String,
    pub cluster: String,
    pub version: String,
    pub result: DeployResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The services whose preflight, roll-out or wait failed.
    pub failed: Vec<String>,
    pub services: Vec<ServiceRelease>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<db::SnapshotOutcome>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub next: Vec<String>,
    pub elapsed_secs: f64,
}

impl Outcome for ReleaseOutcome {
    fn exit(&self) -> Exit {
        self.result.exit()
    }
}

/// A service the release changed: what it ran, and what it was pointed at.
struct Changed {
    index: usize,
    current: TaskDefinition,
    new: TaskDefinition,
    updated: crate::aws::Service,
}

/// A service that passed its preflight and needs the version.
struct Ready {
    index: usize,
    member: Member,
    env: EnvConfig,
    current: TaskDefinition,
    container: String,
    image: String,
}

/// Deploys `opts.version` to `members` of the env (wave order), all or nothing.
pub async fn deploy(
    aws: &Aws,
    env: &EnvConfig,
    members: &[Member],
    opts: &Options,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<ReleaseOutcome> {
    let started = Instant::now();
    let mut out = ReleaseOutcome {
        env: env.name.clone(),
        cluster: env.cluster.clone(),
        version: opts.version.clone(),
        result: DeployResult::PreflightFailed,
        reason: None,
        failed: Vec::new(),
        services: Vec::new(),
        snapshot: None,
        next: Vec::new(),
        elapsed_secs: 0.0,
    };
    let done = |mut out: ReleaseOutcome| {
        out.elapsed_secs = started.elapsed().as_secs_f64();
        Ok(out)
    };

    // 1. Every service's preflight, before anything changes.
    let mut ready = Vec::new();
    for (index, member) in members.iter().enumerate() {
        let one = env.for_member(member);
        reporter.step(
            "preflight",
            format!("checking {} before deploying {}", member.name, opts.version),
        );
        let report = preflight::run(
            aws,
            &preflight::Request {
                env: &one,
                service: &member.name,
                version: Some(&opts.version),
                ignore_alarms: opts.ignore_alarms,
                interrupt,
            },
            reporter,
        )
        .await?;
        let passed = report.passed();
        let mut s = ServiceRelease {
            service: member.name.clone(),
            wave: member.wave,
            result: ServiceResult::NotStarted,
            from: None,
            to: None,
            ends_on: None,
            reason: None,
            checks: report.checks,
            plan: None,
            stopped_tasks: Vec::new(),
            events: Vec::new(),
        };
        match report.context {
            Some(Context {
                current,
                container,
                image: Some(image),
                ..
            }) if passed => {
                s.from = Some(Revision::of(&current, &container));
                s.ends_on = Some(current.short());
                let current_image = current.image_of(&container).unwrap_or_default().to_owned();
                if current_image == image.uri {
                    s.result = ServiceResult::Unchanged;
                    s.to = s.from.clone();
                } else {
                    s.plan = Some(Plan {
                        base: current.short(),
                        container: container.clone(),
                        image_from: current_image,
                        image_to: image.uri.clone(),
                        deployment_configuration: Vec::new(),
                        unchanged_containers: current
                            .containers
                            .iter()
                            .filter(|c| c.name != container)
                            .map(|c| c.name.clone())
                            .collect(),
                        calls: [
                            roll_out_calls(
                                &one,
                                &member.name,
                                &current,
                                &container,
                                None,
                                &opts.version,
                            ),
                            vec![outcome_call()],
                        ]
                        .concat(),
                    });
                    ready.push(Ready {
                        index,
                        member: member.clone(),
                        env: one,
                        current,
                        container,
                        image: image.uri,
                    });
                }
            }
            context => {
                if let Some(c) = context {
                    s.from = Some(Revision::of(&c.current, &c.container));
                    s.ends_on = Some(c.current.short());
                }
                s.result = ServiceResult::PreflightFailed;
                out.failed.push(member.name.clone());
            }
        }
        out.services.push(s);
    }
    if !out.failed.is_empty() {
        out.reason = Some(format!(
            "the preflight failed for {}; nothing changed in any service",
            out.failed.join(", ")
        ));
        return done(out);
    }
    if ready.is_empty() {
        out.result = DeployResult::Unchanged;
        return done(out);
    }
    if opts.dry_run {
        for r in &ready {
            out.services[r.index].result = ServiceResult::Planned;
        }
        out.result = DeployResult::Planned;
        return done(out);
    }
    crate::workflows::confirm_change(
        env,
        reporter,
        interrupt,
        &format!(
            "Deploy {} to {} ({})?",
            opts.version,
            env.name,
            ready
                .iter()
                .map(|r| r.member.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )?;

    // 2. The database snapshot first, where the env asks for one.
    if let Some(snapshot) =
        db::snapshot_before_deploy(aws, env, &opts.version, &opts.actor, reporter, interrupt).await
    {
        let stop = snapshot.stops_deploy();
        let interrupted = snapshot.result == db::SnapshotResult::Interrupted;
        out.snapshot = Some(snapshot);
        if let Some(reason) = stop {
            out.result = if interrupted {
                DeployResult::Interrupted
            } else {
                DeployResult::Failed
            };
            out.reason = Some(reason);
            return done(out);
        }
    }
    if interrupt.is_raised() {
        out.result = DeployResult::Interrupted;
        out.reason = Some("interrupted before any change; nothing changed".into());
        return done(out);
    }

    // 3. Wave by wave: register and update its services together, then wait for all of them.
    let mut waves: Vec<u32> = ready.iter().map(|r| r.member.wave).collect();
    waves.dedup();
    let mut changed: Vec<Changed> = Vec::new();
    let mut failure: Option<Failure> = None;
    let last_wave = waves.last().copied();
    for wave in waves {
        let these: Vec<&Ready> = ready.iter().filter(|r| r.member.wave == wave).collect();
        reporter.step(
            "wave",
            format!(
                "wave {wave}: {}",
                these
                    .iter()
                    .map(|r| r.member.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        let mut rolled = Vec::new();
        for chunk in these.chunks(AT_ONCE) {
            rolled.extend(
                join_all(chunk.iter().map(|r| async move {
                    let result = roll_out(
                        aws,
                        &r.env,
                        &r.member.name,
                        &r.current,
                        &r.container,
                        &r.image,
                        Update::Native(None),
                        opts,
                        reporter,
                        interrupt,
                    )
                    .await;
                    (*r, result)
                }))
                .await,
            );
        }
        for (r, result) in rolled {
            let s = &mut out.services[r.index];
            match result {
                Ok((new, updated)) => {
                    s.to = Some(Revision::of(&new, &r.container));
                    s.ends_on = Some(new.short());
                    s.result = ServiceResult::Started;
                    changed.push(Changed {
                        index: r.index,
                        current: r.current.clone(),
                        new,
                        updated,
                    });
                }
                Err(e) => {
                    let mut one = DeployOutcome::new(&r.env, &r.member.name, &opts.version);
                    e.report(&r.member.name, &r.current, &mut one);
                    s.result = ServiceResult::Failed;
                    s.reason = one.reason;
                    out.failed.push(r.member.name.clone());
                    failure.get_or_insert(Failure::Error(format!(
                        "{} could not be rolled out",
                        r.member.name
                    )));
                }
            }
        }
        if failure.is_some() {
            break;
        }
        if opts.no_wait && Some(wave) == last_wave {
            break;
        }
        let targets: Vec<wait::Target> = changed
            .iter()
            .filter(|c| out.services[c.index].wave == wave)
            .map(|c| {
                wait::Target::revision(&out.services[c.index].service, &c.new.arn, Some(&c.updated))
            })
            .collect();
        reporter.step(
            "wait",
            format!(
                "waiting for wave {wave} ({} services) to run {} everywhere",
                targets.len(),
                opts.version
            ),
        );
        let waited = match wait::wait(
            aws,
            &env.cluster,
            targets,
            &wait::Options::new(opts.timeout, opts.poll),
            reporter,
            interrupt,
        )
        .await
        {
            Ok(w) => w,
            Err(e) => {
                failure = Some(Failure::Error(format!(
                    "{e:#}; stopped following wave {wave}"
                )));
                break;
            }
        };
        for w in &waited.services {
            let Some(s) = out.services.iter_mut().find(|s| s.service == w.service) else {
                continue;
            };
            s.events = w.events.clone();
            match w.verdict {
                Verdict::Stable => s.result = ServiceResult::Deployed,
                Verdict::Failed | Verdict::TimedOut => {
                    s.result = ServiceResult::Failed;
                    s.reason = w.reason.clone();
                    s.stopped_tasks = w.stopped_tasks.clone();
                    out.failed.push(w.service.clone());
                }
                Verdict::Interrupted => s.result = ServiceResult::Interrupted,
            }
        }
        match waited.verdict() {
            Verdict::Stable => {}
            Verdict::Failed => {
                failure = Some(Failure::Rollout(None));
                break;
            }
            Verdict::TimedOut => {
                failure = Some(Failure::TimedOut);
                break;
            }
            Verdict::Interrupted => {
                failure = Some(Failure::Interrupted);
                break;
            }
        }
    }
    if failure.is_none() && opts.no_wait {
        for c in &changed {
            tag_outcome(aws, &c.new, tags::IN_PROGRESS, reporter).await;
        }
        out.result = DeployResult::Started;
        out.next = vec![format!("opsctl wait-stable {}", env.name)];
        return done(out);
    }
    // 4. The bake, once every wave is stable.
    if failure.is_none() {
        failure = match bake(aws, env, reporter, interrupt).await {
            Ok(Bake::Passed) => None,
            Ok(Bake::Alarm(why)) => Some(Failure::Bake(why)),
            Ok(Bake::Interrupted) => Some(Failure::Interrupted),
            Err(e) => Some(Failure::Error(format!("{e:#}; stopped baking"))),
        };
    }
    settle_release(
        aws, env, &changed, failure, opts, reporter, interrupt, &mut out,
    )
    .await;
    done(out)
}

/// The one way out of a release that changed something: record each service's outcome, and
/// on failure put every changed service back on its previous revision and wait for all.
#[allow(clippy::too_many_arguments)]
async fn settle_release(
    aws: &Aws,
    env: &EnvConfig,
    changed: &[Changed],
    failure: Option<Failure>,
    opts: &Options,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
    out: &mut ReleaseOutcome,
) {
    let failure = match failure {
        None | Some(Failure::None) => {
            for c in changed {
                tag_outcome(aws, &c.new, tags::SUCCEEDED, reporter).await;
            }
            out.result = DeployResult::Deployed;
            return;
        }
        Some(f) => f,
    };
    let timed_out = matches!(failure, Failure::TimedOut);
    let what_failed = if out.failed.is_empty() {
        String::new()
    } else {
        format!("{} failed", out.failed.join(", "))
    };
    let reason = match failure {
        Failure::Interrupted => {
            for c in changed {
                tag_outcome(aws, &c.new, tags::INTERRUPTED, reporter).await;
            }
            out.result = DeployResult::Interrupted;
            out.reason = Some(
                "stopped waiting; the services changed may still be rolling out the version".into(),
            );
            out.next = vec![
                format!("opsctl wait-stable {}   # keep waiting", env.name),
                format!("opsctl status {}", env.name),
            ];
            return;
        }
        Failure::Bake(why) => format!("{why} during the bake"),
        Failure::TimedOut => {
            let late: Vec<&str> = out
                .services
                .iter()
                .filter(|s| s.result == ServiceResult::Failed)
                .map(|s| s.service.as_str())
                .collect();
            format!("the timeout passed before {} was stable", late.join(", "))
        }
        Failure::Rollout(_) | Failure::Error(_) | Failure::None => {
            let failure_reason = match &failure {
                Failure::Error(e) if out.failed.is_empty() => e.clone(),
                _ => String::new(),
            };
            let mut parts: Vec<String> = out
                .services
                .iter()
                .filter(|s| out.failed.contains(&s.service))
                .map(|s| {
                    format!(
                        "{}: {}",
                        s.service,
                        s.reason.as_deref().unwrap_or("its rollout failed")
                    )
                })
                .collect();
            if !failure_reason.is_empty() {
                parts.push(failure_reason);
            }
            if parts.is_empty() {
                what_failed.clone()
            } else {
                parts.join("; ")
            }
        }
    };
    out.reason = Some(reason);
    for c in changed {
        tag_outcome(aws, &c.new, tags::FAILED, reporter).await;
    }
    if opts.no_rollback {
        for c in changed {
            let s = &mut out.services[c.index];
            if s.result != ServiceResult::Failed {
                s.result = ServiceResult::LeftOnNew;
            }
        }
        out.result = if timed_out {
            DeployResult::TimedOut
        } else {
            DeployResult::Failed
        };
        out.next = vec![
            format!(
                "opsctl rollback {} --service NAME   # for each service",
                env.name
            ),
            format!("opsctl status {}", env.name),
        ];
        return;
    }

    // All or nothing: every service the release changed, whatever wave, goes back.
    reporter.step(
        "rollback",
        format!(
            "rolling {} back to their previous revisions",
            changed
                .iter()
                .map(|c| out.services[c.index].service.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    let mut back = Vec::new();
    for chunk in changed.chunks(AT_ONCE) {
        back.extend(
            join_all(chunk.iter().map(|c| {
                let service = out.services[c.index].service.clone();
                async move {
                    let r = aws
                        .ecs
                        .update_task_definition(&env.cluster, &service, &c.current.arn)
                        .await;
                    (c, service, r)
                }
            }))
            .await,
        );
    }
    let mut targets = Vec::new();
    let mut rollback_failed = false;
    for (c, service, r) in back {
        let s = &mut out.services[c.index];
        match r {
            Ok(updated) => {
                s.ends_on = Some(c.current.short());
                targets.push(wait::Target::revision(
                    &service,
                    &c.current.arn,
                    Some(&updated),
                ));
            }
            Err(e) => {
                rollback_failed = true;
                s.result = ServiceResult::LeftOnNew;
                s.reason = Some(format!(
                    "{}the rollback to {} failed: {e}",
                    s.reason
                        .as_deref()
                        .map(|r| format!("{r}; "))
                        .unwrap_or_default(),
                    c.current.short()
                ));
            }
        }
    }
    let waited = wait::wait(
        aws,
        &env.cluster,
        targets,
        &wait::Options::new(opts.timeout, opts.poll),
        reporter,
        interrupt,
    )
    .await;
    for c in changed {
        tag_outcome(aws, &c.new, tags::ROLLED_BACK, reporter).await;
    }
    let waited = match waited {
        Ok(w) => w,
        Err(e) => {
            out.result = DeployResult::Failed;
            out.reason = Some(format!(
                "{}; the services were pointed back at their previous revisions, but following that rollback failed: {e:#}",
                out.reason.as_deref().unwrap_or("the release failed")
            ));
            out.next = vec![format!("opsctl wait-stable {}", env.name)];
            return;
        }
    };
    for w in &waited.services {
        let Some(s) = out.services.iter_mut().find(|s| s.service == w.service) else {
            continue;
        };
        if w.verdict == Verdict::Stable {
            // One that failed is back too; `failed` keeps saying it was the one.
            s.result = ServiceResult::RolledBack;
        } else {
            rollback_failed = true;
            s.result = ServiceResult::LeftOnNew;
            s.reason = Some(format!(
                "its rollback to {} did not settle: {}",
                short_td(&w.task_definition),
                w.reason.as_deref().unwrap_or("not stable")
            ));
        }
    }
    out.result = match (rollback_failed, waited.verdict()) {
        (false, Verdict::Stable) => DeployResult::RolledBack,
        (_, Verdict::Interrupted) => DeployResult::Interrupted,
        (_, Verdict::TimedOut) => DeployResult::TimedOut,
        _ => DeployResult::Failed,
    };
    if out.result != DeployResult::RolledBack {
        out.next = vec![format!("opsctl status {}", env.name)];
    }
}

/// Runs the futures together on this task and returns their outputs in order.
async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, o) in futures.iter_mut().zip(outputs.iter_mut()) {
            if o.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *o = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

impl fmt::Display for ReleaseOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.services.len();
        let target = format!(
            "{} ({n} service{})",
            self.env,
            if n == 1 { "" } else { "s" }
        );
        match self.result {
            DeployResult::Deployed => writeln!(
                f,
                "deployed {} to {target} in {:.0}s",
                self.version, self.elapsed_secs
            )?,
            DeployResult::Unchanged => {
                writeln!(f, "{target} already runs {}; nothing to do", self.version)?
            }
            DeployResult::Started => writeln!(
                f,
                "{target} is rolling out {}; not waiting for the last wave",
                self.version
            )?,
            DeployResult::Planned => writeln!(
                f,
                "plan for {} on {target} (nothing changed):",
                self.version
            )?,
            DeployResult::PreflightFailed => writeln!(
                f,
                "preflight failed for {} on {target}; nothing changed:",
                self.version
            )?,
            DeployResult::RolledBack => writeln!(
                f,
                "deploy of {} to {target} FAILED; every service it changed is back on its previous revision and stable",
                self.version
            )?,
            DeployResult::Failed => writeln!(f, "deploy of {} to {target} FAILED", self.version)?,
            DeployResult::TimedOut => {
                writeln!(f, "deploy of {} to {target} timed out", self.version)?
            }
            DeployResult::Interrupted => {
                writeln!(f, "deploy of {} to {target} was interrupted", self.version)?
            }
        }
        if let Some(reason) = &self.reason {
            writeln!(f, "  reason: {reason}")?;
        }
        let rows: Vec<[String; 6]> = self
            .services
            .iter()
            .map(|s| {
                [
                    s.service.clone(),
                    s.wave.to_string(),
                    s.from
                        .as_ref()
                        .map_or("?".into(), |r| r.task_definition.clone()),
                    s.to.as_ref()
                        .map_or("-".into(), |r| r.task_definition.clone()),
                    s.ends_on.clone().unwrap_or_else(|| "?".into()),
                    s.result.to_string(),
                ]
            })
            .collect();
        write_table(
            f,
            ["SERVICE", "WAVE", "FROM", "TO", "NOW ON", "RESULT"],
            &rows,
        )?;
        for s in &self.services {
            if self.result == DeployResult::PreflightFailed {
                for c in s.checks.iter().filter(|c| !c.ok) {
                    writeln!(f, "  {}: {c}", s.service)?;
                }
            }
            if self.result == DeployResult::Planned
                && let Some(plan) = &s.plan
            {
                writeln!(f, "{}:", s.service)?;
                write!(f, "{}", indent(&plan.to_string()))?;
            }
            if !s.stopped_tasks.is_empty() || s.result == ServiceResult::Failed {
                StoppedTask::write_all(&s.stopped_tasks, f, "  ")?;
                let last: Vec<_> = s.events.iter().rev().take(3).collect();
                if !last.is_empty() {
                    writeln!(f, "  last events of {}:", s.service)?;
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
        write_snapshot_and_next(f, self.snapshot.as_ref(), &self.next)
    }
}

/// A compact table, columns as wide as their widest cell, indented two spaces.
pub(crate) fn write_table<const N: usize>(
    f: &mut fmt::Formatter<'_>,
    head: [&str; N],
    rows: &[[String; N]],
) -> fmt::Result {
    let mut widths = head.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |f: &mut fmt::Formatter<'_>, cells: [&str; N]| -> fmt::Result {
        let mut text = String::from(" ");
        for (cell, w) in cells.iter().zip(widths) {
            text.push(' ');
            text.push_str(&format!("{cell:<w$}"));
            text.push(' ');
        }
        writeln!(f, "{}", text.trim_end())
    };
    line(f, head)?;
    for row in rows {
        line(f, std::array::from_fn(|i| row[i].as_str()))?;
    }
    Ok(())
}
