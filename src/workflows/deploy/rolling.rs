//! The rolling deploy: preflight, register, update, wait, bake, and roll back on failure;
//! every failure after the first change ends in `settle`.

use super::*;

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
            interrupt,
        },
        reporter,
    )
    .await?;
    out.checks = report.checks.clone();
    let passed = report.passed();
    let Some(Context {
        service: svc,
        current,
        container,
        image,
        ..
    }) = report.context
    else {
        return done(out);
    };
    out.from = Some(Revision::of(&current, &container));
    if let Some(until) = &opts.wait_until
        && !svc.strategy.is_native()
    {
        let check = Check::fail(
            "wait-until",
            format!(
                "--wait-until {until}: {service} is deployed by {} updates, which have no lifecycle stages",
                svc.strategy
            ),
            "leave --wait-until out (or use --no-wait); it applies to services ECS deploys itself (BLUE_GREEN, LINEAR, CANARY)",
        );
        reporter.report(crate::workflows::Event::Check(check.clone()));
        out.checks.push(check);
        return done(out);
    }
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
    // The native settings the config sets and the service lacks go in the same UpdateService.
    let native_change = if svc.strategy.is_native() {
        env.native.changes(&svc.native_settings)
    } else {
        None
    };
    let deployment_configuration = env.native.describe_changes(&svc.native_settings);
    let mut calls = roll_out_calls(env, service, &current, &container, None, &opts.version);
    if native_change.is_some()
        && let Some(update) = calls
            .iter_mut()
            .find(|c| c.starts_with("ecs:UpdateService"))
    {
        update.push_str(&format!(
            " deploymentConfiguration: {}",
            deployment_configuration.join(", ")
        ));
    }
    calls.push(outcome_call());
    out.plan = Some(Plan {
        base: current.short(),
        container: container.clone(),
        image_from: current_image,
        image_to: image.uri.clone(),
        unchanged_containers,
        calls,
        deployment_configuration: if native_change.is_some() {
            deployment_configuration
        } else {
            Vec::new()
        },
    });
    plan_snapshot(env, &opts.version, &mut out);
    if opts.dry_run {
        out.result = DeployResult::Planned;
        return done(out);
    }
    crate::workflows::confirm_change(
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

    let strategy = svc.strategy;
    if strategy.is_native() {
        out.strategy = Some(strategy);
    }
    let since = jiff::Timestamp::now();
    let (new, updated) = match roll_out(
        aws,
        env,
        service,
        &current,
        &container,
        &image.uri,
        Update::Native(native_change.as_ref()),
        opts,
        reporter,
        interrupt,
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
        // ECS runs a native deployment to its end; `status` shows where it is.
        let follow = if strategy.is_native() {
            "status"
        } else {
            "wait-stable"
        };
        out.next = vec![format!("opsctl {follow} {}", env.name)];
        return done(out);
    }

    if strategy.is_native() {
        // ECS runs the deployment and its rollback; opsctl follows it to its end.
        native::follow(
            aws,
            env,
            service,
            strategy,
            svc.native_traffic.as_ref(),
            &new,
            since,
            opts,
            reporter,
            interrupt,
            &mut out,
        )
        .await;
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
pub(super) async fn follow(
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
            tag_outcome(aws, new, tags::INTERRUPTED, reporter).await;
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
            && wait::ecs_rollback_started(
                aws,
                &env.cluster,
                service,
                &new.arn,
                reporter,
                interrupt,
            )
            .await
            .as_deref()
                == Some(current.arn.as_str()));
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
