//! Rolling a two-service environment back: all traffic to the other colour in one listener
//! change when it can take it, else a rolling rollback of the live colour.

use super::*;
use crate::workflows::traffic;

/// Rolls a blue/green environment back: all traffic to the other colour in one listener
/// change when it still runs and is healthy; otherwise a rolling rollback of the live colour.
pub async fn rollback(
    aws: &Aws,
    env: &EnvConfig,
    opts: &super::Options,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<RollbackOutcome> {
    let started = Instant::now();
    let pair = traffic::resolve(aws, env).await?;
    let live = pair.live();
    let other = live.other();
    let (live_side, other_side) = (pair.side(live).clone(), pair.side(other).clone());
    let instant = match opts.to {
        Some(_) => Err("--to names a revision".to_owned()),
        None => instant_rollback(aws, env, &pair, opts, reporter, interrupt).await?,
    };
    let (live_td, other_td) = match instant {
        Ok(tds) => tds,
        Err(why) => {
            reporter.step(
                "rollback",
                format!(
                    "rolling back {live} ({}) in place: {why}",
                    live_side.service
                ),
            );
            return super::rollback(aws, env, &live_side.service, opts, reporter, interrupt).await;
        }
    };
    let container = crate::workflows::container_of(env, &live_td);
    let mut out = RollbackOutcome {
        env: env.name.clone(),
        service: other_side.service.clone(),
        result: super::RollbackResult::Planned,
        from: Revision::of(&live_td, &container),
        to: Revision::of(&other_td, &container),
        chosen_because: format!(
            "{other} ({}) still runs it and is healthy: all traffic moves back in one listener change",
            other_side.service
        ),
        leaves_as: tags::after_rollback(live_td.tags.get(tags::OUTCOME).map(String::as_str)),
        wait: None,
        elapsed_secs: 0.0,
    };
    if opts.dry_run {
        out.elapsed_secs = started.elapsed().as_secs_f64();
        return Ok(out);
    }
    crate::workflows::confirm_change(
        env,
        reporter,
        interrupt,
        &format!(
            "Move all of {}'s traffic back from {live} ({}) to {other} ({})?",
            env.name, out.from.version, out.to.version
        ),
    )?;
    traffic::move_all(aws, &pair, other, reporter).await?;
    crate::workflows::deploy::tag_outcome(aws, &live_td, out.leaves_as, reporter).await;
    out.result = super::RollbackResult::RolledBack;
    out.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(out)
}

/// How long a rollback waits for the other colour to settle before it rolls back in place.
pub(super) const SETTLE_BOUND: std::time::Duration = std::time::Duration::from_secs(120);

/// The live and the other colour's task definitions when the other colour can take all
/// traffic back at once; otherwise why not.
pub(super) async fn instant_rollback(
    aws: &Aws,
    env: &EnvConfig,
    pair: &traffic::Pair,
    opts: &super::Options,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<std::result::Result<(TaskDefinition, TaskDefinition), String>> {
    let live = pair.live();
    let other = live.other();
    let (live_side, other_side) = (pair.side(live), pair.side(other));
    reporter.step(
        "check",
        format!(
            "can {other} ({}) take the traffic back at once?",
            other_side.service
        ),
    );
    let mut checks = traffic::readiness(aws, env, pair, other, reporter).await?;
    // A colour still converging (a failed deploy's rollback settling on it) is the instant
    // way back a moment from now: wait for it, within a bound, rather than roll the live
    // colour back in place.
    let unsettled = checks.iter().any(|c| !c.ok && c.name == "stable");
    if unsettled
        && crate::workflows::describe_one(aws, env, &other_side.service)
            .await?
            .deployment_in_flight()
    {
        let bound = opts.timeout.min(SETTLE_BOUND);
        reporter.step(
            "wait",
            format!(
                "{other} ({}) is settling; waiting up to {}s before choosing how to roll back",
                other_side.service,
                bound.as_secs()
            ),
        );
        let waited = wait::wait(
            aws,
            &env.cluster,
            vec![wait::Target::current(&other_side.service)],
            &wait::Options::new(bound, opts.poll),
            reporter,
            interrupt,
        )
        .await?;
        if waited.verdict() == Verdict::Interrupted {
            return Err(crate::error::Interrupted(format!(
                "interrupted while {other} settled; nothing changed in {}",
                env.name
            ))
            .into());
        }
        checks = traffic::readiness(aws, env, pair, other, reporter).await?;
    }
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.detail.clone())
        .collect();
    if !failed.is_empty() {
        return Ok(Err(format!(
            "{other} cannot take the traffic back ({})",
            failed.join("; ")
        )));
    }
    let services = aws
        .ecs
        .describe_services(
            &env.cluster,
            &[live_side.service.clone(), other_side.service.clone()],
        )
        .await?;
    let mut tds = Vec::new();
    for name in [&live_side.service, &other_side.service] {
        let svc = services
            .iter()
            .find(|s| &s.name == name)
            .ok_or_else(|| crate::workflows::service_not_found(env, name))?;
        tds.push(
            aws.ecs
                .describe_task_definition(svc.current_task_definition())
                .await?,
        );
    }
    let other_td = tds.pop().expect("two");
    let live_td = tds.pop().expect("two");
    if other_td.arn == live_td.arn {
        return Ok(Err(format!("{other} runs the same revision as {live}")));
    }
    Ok(Ok((live_td, other_td)))
}
