//! The switch itself: the weights step by step, and put back exactly as they were on any failed
//! check, Ctrl-C or AWS error.

use super::*;

/// `opsctl traffic`: checks the target colour, asks where the env wants confirmation, then
/// moves traffic to `opts.to` step by step.
pub async fn switch(
    aws: &Aws,
    env: &EnvConfig,
    pair: &Pair,
    opts: &Options,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<TrafficOutcome> {
    switch_inner(aws, env, pair, opts, reporter, interrupt, true).await
}

/// The switch inside a blue/green deploy, which has already asked.
pub async fn switch_confirmed(
    aws: &Aws,
    env: &EnvConfig,
    pair: &Pair,
    opts: &Options,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<TrafficOutcome> {
    switch_inner(aws, env, pair, opts, reporter, interrupt, false).await
}

pub(super) async fn switch_inner(
    aws: &Aws,
    env: &EnvConfig,
    pair: &Pair,
    opts: &Options,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
    ask: bool,
) -> anyhow::Result<TrafficOutcome> {
    let started = Instant::now();
    validate_steps(&opts.steps).map_err(|msg| {
        UserError::new(format!("--steps {msg}"))
            .hint("use increasing percentages that end at 100, such as 10,50,100")
    })?;
    let from = opts.to.other();
    let before = pair.weights();
    if pair.side(opts.to).weight == 100 && pair.side(from).weight == 0 {
        return Err(UserError::new(format!(
            "{} ({}) already carries all of {}'s traffic",
            opts.to,
            pair.side(opts.to).service,
            env.name
        ))
        .hint(format!("to move traffic away from it, use --to {from}"))
        .into());
    }
    let mut out = TrafficOutcome {
        env: env.name.clone(),
        listener: pair.listener.clone(),
        from,
        to: opts.to,
        result: SwitchResult::Planned,
        before,
        after: before,
        checks: Vec::new(),
        steps: Vec::new(),
        reason: None,
        elapsed_secs: 0.0,
    };
    reporter.step(
        "check",
        format!("checking {} before it takes traffic", opts.to),
    );
    out.checks = readiness(aws, env, pair, opts.to, reporter).await?;
    if out.checks.iter().any(|c| !c.ok) {
        out.result = SwitchResult::NotReady;
        out.elapsed_secs = started.elapsed().as_secs_f64();
        return Ok(out);
    }
    if opts.dry_run {
        out.steps = opts
            .steps
            .iter()
            .map(|&p| StepReport {
                percent: p,
                weights: weights_for(opts.to, p),
                checks: Vec::new(),
            })
            .collect();
        out.elapsed_secs = started.elapsed().as_secs_f64();
        return Ok(out);
    }
    if ask {
        crate::workflows::confirm_change(
            env,
            reporter,
            interrupt,
            &format!(
                "Move {}'s traffic from {from} to {} in steps {:?}?",
                env.name, opts.to, opts.steps
            ),
        )?;
    }
    if interrupt.is_raised() {
        out.result = SwitchResult::Interrupted;
        out.reason = Some("interrupted before the first step; nothing changed".into());
        out.elapsed_secs = started.elapsed().as_secs_f64();
        return Ok(out);
    }
    run_steps(aws, env, pair, opts, reporter, interrupt, &mut out).await;
    out.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(out)
}

pub(super) fn weights_for(to: Colour, percent: u32) -> Weights {
    let p = percent as i32;
    match to {
        Colour::Blue => Weights {
            blue: p,
            green: 100 - p,
        },
        Colour::Green => Weights {
            blue: 100 - p,
            green: p,
        },
    }
}

/// Shifts the weights step by step; on a failed check, Ctrl-C or any AWS error once a
/// weight may have moved, restores them. Never returns an error: the outcome says where the
/// weights are.
pub(super) async fn run_steps(
    aws: &Aws,
    env: &EnvConfig,
    pair: &Pair,
    opts: &Options,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
    out: &mut TrafficOutcome,
) {
    let stopped = match steps(aws, env, pair, opts, reporter, interrupt, out).await {
        Ok(None) => {
            out.result = SwitchResult::Switched;
            return;
        }
        Ok(Some(stopped)) => stopped,
        Err(e) => Stopped::Error(format!("{e:#}")),
    };
    // A ModifyListener whose answer was lost may have moved the weights: restore whenever
    // one was sent, even if none was confirmed.
    let sent = !out.steps.is_empty();
    let (result, reason) = match stopped {
        Stopped::Interrupted(at) => (SwitchResult::Interrupted, format!("interrupted at {at}%")),
        Stopped::Check(at, failed) => (
            SwitchResult::Restored,
            format!("check failed at {at}%: {failed}"),
        ),
        Stopped::Error(e) => (SwitchResult::Restored, e),
    };
    if !sent {
        out.result = if result == SwitchResult::Interrupted {
            SwitchResult::Interrupted
        } else {
            SwitchResult::Failed
        };
        out.reason = Some(format!("{reason}; no weight was changed"));
        return;
    }
    match restore(aws, pair, out, reporter).await {
        Ok(()) => {
            out.result = result;
            out.reason = Some(reason);
        }
        Err(e) => {
            out.result = SwitchResult::Failed;
            out.reason = Some(format!(
                "{reason}; putting the weights back to {} failed too: {e:#}",
                out.before
            ));
        }
    }
}

/// Why the steps stopped short of 100 %.
pub(super) enum Stopped {
    Interrupted(u32),
    Check(u32, String),
    Error(String),
}

/// The steps themselves; `Some` when they stopped early. `out.steps` holds every step whose
/// weights were sent.
pub(super) async fn steps(
    aws: &Aws,
    env: &EnvConfig,
    pair: &Pair,
    opts: &Options,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
    out: &mut TrafficOutcome,
) -> anyhow::Result<Option<Stopped>> {
    let last = *opts.steps.last().expect("validated: steps end at 100");
    let mut previous = 0;
    // What the previous step's checks read, shown while the next interval counts down.
    let mut read: Option<String> = None;
    for &percent in &opts.steps {
        // Ctrl-C during the last step's checks must not let traffic move on.
        if interrupt.is_raised() {
            return Ok(Some(Stopped::Interrupted(previous)));
        }
        let weights = weights_for(opts.to, percent);
        reporter.step("traffic", format!("{} {percent}%: {weights}", opts.to));
        out.steps.push(StepReport {
            percent,
            weights,
            checks: Vec::new(),
        });
        aws.lb
            .set_weights(&pair.listener, &pair.split(opts.to, percent as i32))
            .await?;
        out.after = weights;
        previous = percent;
        if percent == last {
            break;
        }
        let since = Timestamp::now();
        if !opts.interval.is_zero() {
            let _shown = Shown::start(
                reporter,
                format!("{} at {percent}% until the next step", opts.to),
                opts.interval,
            );
            let what = format!("{} at {percent}%", opts.to);
            if pause(opts.interval, &what, read.clone(), reporter, interrupt)
                .await
                .is_some()
            {
                return Ok(Some(Stopped::Interrupted(percent)));
            }
        }
        let checks = step_checks(aws, env, pair, opts.to, since).await?;
        for c in &checks {
            reporter.report(Event::Check(c.clone()));
        }
        let failed: Vec<String> = checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect();
        read = Some(
            checks
                .iter()
                .map(|c| format!("{} {}", c.name, if c.ok { "ok" } else { "FAIL" }))
                .collect::<Vec<_>>()
                .join(", "),
        )
        .filter(|r| !r.is_empty());
        if let Some(step) = out.steps.last_mut() {
            step.checks = checks;
        }
        if !failed.is_empty() {
            return Ok(Some(Stopped::Check(percent, failed.join("; "))));
        }
    }
    Ok(None)
}

/// Puts the weights back exactly as they were before the switch, trying a few times: this
/// is the call that must not give up on a passing fault.
pub(super) async fn restore(
    aws: &Aws,
    pair: &Pair,
    out: &mut TrafficOutcome,
    reporter: &dyn Reporter,
) -> anyhow::Result<()> {
    reporter.step(
        "restore",
        format!("putting the weights back: {}", out.before),
    );
    let mut tries = 0;
    loop {
        tries += 1;
        match aws
            .lb
            .set_weights(&pair.listener, &pair.as_listener(out.before))
            .await
        {
            Ok(()) => {
                out.after = out.before;
                return Ok(());
            }
            Err(e @ (AwsError::AccessDenied(_) | AwsError::NotFound(..))) => return Err(e.into()),
            Err(e) if tries >= 5 => return Err(e.into()),
            Err(e) => {
                reporter.warn(format!(
                    "putting the weights back failed, trying again: {e}"
                ));
                tokio::time::sleep(Duration::from_secs(1 << tries.min(3))).await;
            }
        }
    }
}

/// Sets the weights to all-`colour` in one listener change (instant rollback, bake failure).
pub async fn move_all(
    aws: &Aws,
    pair: &Pair,
    colour: Colour,
    reporter: &dyn Reporter,
) -> anyhow::Result<Weights> {
    let weights = weights_for(colour, 100);
    reporter.step("traffic", format!("all traffic to {colour}: {weights}"));
    aws.lb
        .set_weights(&pair.listener, &pair.split(colour, 100))
        .await?;
    Ok(weights)
}
