//! The two-service blue/green deploy: deploy beside the live colour, check it, move traffic,
//! bake, and keep the old colour running for an instant way back.

use super::*;
use crate::workflows::traffic::{self, SwitchResult};

/// Deploys `opts.version` to the idle colour, waits, moves traffic step by step, bakes, and
/// leaves the old colour running. A failure before traffic moved leaves users on the live
/// colour; a failure after moves them back.
pub async fn deploy(
    aws: &Aws,
    env: &EnvConfig,
    opts: &Options,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<DeployOutcome> {
    let started = Instant::now();
    let bg = traffic::bluegreen(env)?;
    let pair = traffic::resolve(aws, env).await?;
    let live = pair.live();
    let idle = live.other();
    let (live_side, idle_side) = (pair.side(live).clone(), pair.side(idle).clone());
    let mut out = DeployOutcome::new(env, &idle_side.service, &opts.version);
    out.colour = Some(idle);
    let done = |mut out: DeployOutcome| {
        out.elapsed_secs = started.elapsed().as_secs_f64();
        Ok(out)
    };

    reporter.step(
        "preflight",
        format!(
            "{live} ({}) is live at {}; checking {idle} ({}) for {}",
            live_side.service,
            pair.weights(),
            idle_side.service,
            opts.version
        ),
    );
    let report = preflight::run(
        aws,
        &preflight::Request {
            env,
            service: &idle_side.service,
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
        container,
        image,
        current: idle_current,
        ..
    }) = report.context
    else {
        return done(out);
    };
    let live_svc = crate::workflows::describe_one(aws, env, &live_side.service).await?;
    // The new revision copies what serves users now: the live colour's task definition.
    let base = aws
        .ecs
        .describe_task_definition(live_svc.current_task_definition())
        .await?;
    out.from = Some(Revision::of(&base, &container));
    if !passed {
        return done(out);
    }
    let image = image.expect("a passed image check found the image");
    let base_image = base.image_of(&container).unwrap_or_default().to_owned();
    if base_image == image.uri {
        out.result = DeployResult::Unchanged;
        out.to = out.from.clone();
        out.service = live_side.service.clone();
        out.colour = Some(live);
        return done(out);
    }
    let desired = live_svc.desired.max(1);
    out.plan = Some(Plan {
        base: base.short(),
        container: container.clone(),
        image_from: base_image,
        image_to: image.uri.clone(),
        unchanged_containers: base
            .containers
            .iter()
            .filter(|c| c.name != container)
            .map(|c| c.name.clone())
            .collect(),
        calls: [
            roll_out_calls(
                env,
                &idle_side.service,
                &base,
                &container,
                Some(desired),
                &opts.version,
            ),
            vec![format!(
                "elbv2:ModifyListener weights {idle} {} (one call a step, checks between steps)",
                bg.steps
                    .iter()
                    .map(|s| format!("{s}%"))
                    .collect::<Vec<_>>()
                    .join(" -> ")
            )],
            vec![outcome_call()],
        ]
        .concat(),
        deployment_configuration: Vec::new(),
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
            "Deploy {} to {} on {idle} and move traffic from {live} ({})?",
            opts.version,
            env.name,
            crate::workflows::version_of(&base, &container)
        ),
    )?;

    if snapshot_first(aws, env, opts, reporter, interrupt, &mut out).await {
        return done(out);
    }
    if before_first_change(interrupt, &mut out) {
        return done(out);
    }

    let (new, updated) = match roll_out(
        aws,
        env,
        &idle_side.service,
        &base,
        &container,
        &image.uri,
        Update::Count(desired),
        opts,
        reporter,
        interrupt,
    )
    .await
    {
        Ok(done) => done,
        Err(e) => {
            e.report(&idle_side.service, &idle_current, &mut out);
            return done(out);
        }
    };
    out.to = Some(Revision::of(&new, &container));
    out.points_at = Some(new.short());
    // How to carry on by hand from a started or interrupted rollout of the idle colour.
    let carry_on = || {
        vec![
            format!(
                "opsctl wait-stable {} --service {}",
                env.name, idle_side.service
            ),
            format!("opsctl traffic {} --to {idle}", env.name),
        ]
    };
    if opts.no_wait {
        out.result = DeployResult::Started;
        out.next = carry_on();
        return done(out);
    }

    // From here on the idle colour runs, or rolls out, the new revision. Until traffic moves,
    // a failure puts the idle colour back on what it ran (and waits for that to settle, so
    // that exit 3 means the instant way back is there again); after, traffic moves back.
    reporter.step(
        "wait",
        format!("waiting for {idle} to run {} everywhere", new.short()),
    );
    let waited = wait::wait(
        aws,
        &env.cluster,
        vec![wait::Target::revision(
            &idle_side.service,
            &new.arn,
            Some(&updated),
        )],
        &wait::Options::new(opts.timeout, opts.poll),
        reporter,
        interrupt,
    )
    .await;
    let failure = match waited {
        Err(e) => Some(Failure::Error(format!("{e:#}"))),
        Ok(waited) => {
            let verdict = waited.verdict();
            let reason = waited.services[0].reason.clone();
            out.wait = Some(waited);
            match verdict {
                Verdict::Stable => None,
                Verdict::Interrupted => {
                    tag_outcome(aws, &new, tags::INTERRUPTED, reporter).await;
                    out.result = DeployResult::Interrupted;
                    out.reason = Some(format!("stopped waiting; traffic is still on {live}"));
                    out.next = carry_on();
                    return done(out);
                }
                Verdict::Failed => Some(Failure::Rollout(reason)),
                Verdict::TimedOut => Some(Failure::TimedOut),
            }
        }
    };
    if let Some(failure) = failure {
        settle_idle(
            aws,
            env,
            &idle_side.service,
            &idle_current,
            &new,
            &updated,
            &container,
            failure,
            opts,
            reporter,
            interrupt,
            &mut out,
        )
        .await;
        out.reason = Some(format!(
            "{} on {idle}; traffic never left {live} ({})",
            out.reason
                .as_deref()
                .unwrap_or("the new colour did not become stable"),
            crate::workflows::version_of(&base, &container)
        ));
        return done(out);
    }

    let switched = traffic::switch_confirmed(
        aws,
        env,
        &pair,
        &traffic::Options {
            to: idle,
            steps: bg.steps.clone(),
            interval: bg.step_interval.0,
            dry_run: false,
        },
        reporter,
        interrupt,
    )
    .await;
    let switched = match switched {
        Ok(switched) => switched,
        Err(e) => {
            // The checks before the first step failed to run: no weight moved.
            tag_outcome(aws, &new, tags::FAILED, reporter).await;
            out.result = DeployResult::Failed;
            out.reason = Some(format!(
                "{e:#}; traffic never left {live}, and {idle} runs {}",
                new.short()
            ));
            out.next = vec![
                format!(
                    "opsctl traffic {} --to {idle}   # try the switch again",
                    env.name
                ),
                format!("opsctl status {}", env.name),
            ];
            return done(out);
        }
    };
    let result = switched.result;
    let switch_reason = switched.reason.clone();
    let weights_now = switched.after;
    out.traffic = Some(switched);
    match result {
        SwitchResult::Switched => {}
        SwitchResult::Interrupted => {
            tag_outcome(aws, &new, tags::INTERRUPTED, reporter).await;
            out.result = DeployResult::Interrupted;
            out.reason = Some(format!("interrupted; traffic restored to {live}"));
            return done(out);
        }
        SwitchResult::Failed => {
            tag_outcome(aws, &new, tags::FAILED, reporter).await;
            out.result = DeployResult::Failed;
            out.reason = Some(format!(
                "{}; the weights are {weights_now}",
                switch_reason.unwrap_or_else(|| "the switch failed".into())
            ));
            out.next = vec![format!("opsctl status {}", env.name)];
            return done(out);
        }
        _ => {
            let why = format!(
                "{}; traffic restored to {live}",
                switch_reason.unwrap_or_else(|| format!("{idle} was not ready for traffic"))
            );
            put_idle_back(
                aws,
                env,
                &idle_side.service,
                &idle_current,
                &new,
                &updated,
                &container,
                why,
                opts,
                reporter,
                interrupt,
                &mut out,
            )
            .await;
            return done(out);
        }
    }

    let baked = bake(aws, env, reporter, interrupt)
        .await
        .unwrap_or_else(|e| Bake::Alarm(format!("could not watch the alarms: {e:#}")));
    match baked {
        Bake::Passed => {
            tag_outcome(aws, &new, tags::SUCCEEDED, reporter).await;
            out.result = DeployResult::Deployed;
            out.next = vec![
                format!(
                    "opsctl rollback {}   # instant: traffic back to {live}",
                    env.name
                ),
                format!(
                    "opsctl retire {}     # scale {live} to 0 once confident",
                    env.name
                ),
            ];
        }
        Bake::Alarm(why) => {
            tag_outcome(aws, &new, tags::FAILED, reporter).await;
            match traffic::move_all(aws, &pair, live, reporter).await {
                Ok(weights) => {
                    if let Some(t) = out.traffic.as_mut() {
                        t.after = weights;
                    }
                    put_idle_back(
                        aws,
                        env,
                        &idle_side.service,
                        &idle_current,
                        &new,
                        &updated,
                        &container,
                        format!("{why}; traffic moved back to {live}"),
                        opts,
                        reporter,
                        interrupt,
                        &mut out,
                    )
                    .await;
                }
                Err(e) => {
                    out.result = DeployResult::Failed;
                    out.reason = Some(format!(
                        "{why}; moving traffic back to {live} failed: {e:#}; the weights are {weights_now}"
                    ));
                    out.next = vec![format!(
                        "opsctl rollback {}   # traffic back to {live}",
                        env.name
                    )];
                }
            }
        }
        Bake::Interrupted => {
            tag_outcome(aws, &new, tags::INTERRUPTED, reporter).await;
            out.result = DeployResult::Interrupted;
            out.reason = Some(format!(
                "interrupted during bake; {idle} carries the traffic"
            ));
            out.next = vec![format!(
                "opsctl rollback {}   # traffic back to {live}",
                env.name
            )];
        }
    }
    done(out)
}

/// A failed deploy of the idle colour ends as a rolling one does (`settle`: the
/// idle colour back on what it ran, waited for); what to run next is about the idle colour,
/// since a plain `opsctl rollback` would act on the live one.
#[allow(clippy::too_many_arguments)]
pub(super) async fn settle_idle(
    aws: &Aws,
    env: &EnvConfig,
    idle: &str,
    idle_current: &TaskDefinition,
    new: &TaskDefinition,
    updated: &crate::aws::Service,
    container: &str,
    failure: Failure,
    opts: &Options,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
    out: &mut DeployOutcome,
) {
    settle(
        aws,
        env,
        idle,
        idle_current,
        new,
        updated,
        container,
        failure,
        opts,
        reporter,
        interrupt,
        out,
    )
    .await;
    if out.result != DeployResult::RolledBack {
        out.next = vec![
            format!("opsctl status {}", env.name),
            format!("opsctl wait-stable {} --service {idle}", env.name),
        ];
    }
}

/// Traffic is back on the live colour after a failed switch or bake: put the idle colour
/// back on what it ran, so that the instant way back (`opsctl rollback`) never sends users
/// to the version that just failed. Exit 3 once that has settled.
#[allow(clippy::too_many_arguments)]
pub(super) async fn put_idle_back(
    aws: &Aws,
    env: &EnvConfig,
    idle: &str,
    idle_current: &TaskDefinition,
    new: &TaskDefinition,
    updated: &crate::aws::Service,
    container: &str,
    why: String,
    opts: &Options,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
    out: &mut DeployOutcome,
) {
    settle_idle(
        aws,
        env,
        idle,
        idle_current,
        new,
        updated,
        container,
        Failure::Bake(why.clone()),
        opts,
        reporter,
        interrupt,
        out,
    )
    .await;
    out.reason = Some(match out.result {
        DeployResult::RolledBack => format!("{why}; {idle} is back on {}", idle_current.short()),
        _ => format!(
            "{why}; putting {idle} back on {} did not settle: {}",
            idle_current.short(),
            out.reason.as_deref().unwrap_or("see its state")
        ),
    });
}
