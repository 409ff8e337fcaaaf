//! Blue/green on an ALB: two services, each behind its own target group, and one listener
//! (or rule) forwarding to both with weights. The live colour is the one carrying the weight.
//!
//! A switch checks the target colour first (stable, healthy, big enough), then moves the
//! weights step by step, checking target health, alarms and the target group's 5xx rate and
//! p99 latency between steps. Any failed check, or Ctrl-C, puts the weights back exactly as
//! they were. The weights always add up to 100: no state leaves both colours without traffic.

use std::fmt;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;
use tokio::time::Instant;

use super::pace::{Shown, pause};
use super::{Check, Event, Interrupt, Outcome, Reporter};
use crate::aws::{Aws, AwsError, Service, TargetState, TargetTally};
use crate::config::{BlueGreen, EnvConfig, validate_steps};
use crate::error::{Exit, UserError};

/// One of the two colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Colour {
    Blue,
    Green,
}

impl Colour {
    pub fn other(self) -> Colour {
        match self {
            Colour::Blue => Colour::Green,
            Colour::Green => Colour::Blue,
        }
    }
}

impl fmt::Display for Colour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Colour::Blue => "blue",
            Colour::Green => "green",
        })
    }
}

/// One colour: its service, target group and current weight.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub colour: Colour,
    pub service: String,
    pub target_group: String,
    pub weight: i32,
}

/// Weights as a user reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Weights {
    pub blue: i32,
    pub green: i32,
}

impl fmt::Display for Weights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "blue {} / green {}", self.blue, self.green)
    }
}

/// A blue/green environment as it stands now.
#[derive(Debug, Clone, Serialize)]
pub struct Pair {
    /// The listener or rule ARN.
    pub listener: String,
    pub blue: Side,
    pub green: Side,
}

impl Pair {
    pub fn side(&self, colour: Colour) -> &Side {
        match colour {
            Colour::Blue => &self.blue,
            Colour::Green => &self.green,
        }
    }

    /// The colour carrying (most of) the traffic.
    pub fn live(&self) -> Colour {
        if self.green.weight > self.blue.weight {
            Colour::Green
        } else {
            Colour::Blue
        }
    }

    pub fn weights(&self) -> Weights {
        Weights {
            blue: self.blue.weight,
            green: self.green.weight,
        }
    }

    /// The listener weights giving `colour` `percent` and the other colour the rest.
    fn split(&self, colour: Colour, percent: i32) -> Vec<(String, i32)> {
        let (to, from) = (self.side(colour), self.side(colour.other()));
        vec![
            (to.target_group.clone(), percent),
            (from.target_group.clone(), 100 - percent),
        ]
    }

    fn as_listener(&self, w: Weights) -> Vec<(String, i32)> {
        vec![
            (self.blue.target_group.clone(), w.blue),
            (self.green.target_group.clone(), w.green),
        ]
    }
}

/// Reads the env's blue/green table, resolves names, and reads the listener's weights.
/// Anything that does not match the config is bad input (exit 2).
pub async fn resolve(aws: &Aws, env: &EnvConfig) -> anyhow::Result<Pair> {
    let bg = bluegreen(env)?;
    let listener = if bg.listener.starts_with("arn:") {
        bg.listener.clone()
    } else {
        let (lb, port) = bg
            .listener
            .rsplit_once(':')
            .and_then(|(lb, port)| Some((lb, port.parse::<i32>().ok()?)))
            .ok_or_else(|| {
                UserError::new(format!(
                    "env.{}.bluegreen.listener `{}` is neither an ARN nor LOAD_BALANCER:PORT",
                    env.name, bg.listener
                ))
                .hint("write it as an ARN or as e.g. \"prod-alb:443\"")
            })?;
        not_found_is_bad_input(aws.lb.find_listener(lb, port).await, &env.name, "listener")?
    };
    let blue_tg = not_found_is_bad_input(
        aws.lb.target_group_arn(&bg.blue.target_group).await,
        &env.name,
        "blue.target_group",
    )?;
    let green_tg = not_found_is_bad_input(
        aws.lb.target_group_arn(&bg.green.target_group).await,
        &env.name,
        "green.target_group",
    )?;
    let forward = not_found_is_bad_input(aws.lb.forward(&listener).await, &env.name, "listener")?;
    let weight_of = |tg: &str| {
        forward
            .weights
            .iter()
            .find(|(t, _)| t == tg)
            .map(|(_, w)| *w)
    };
    let others: Vec<&str> = forward
        .weights
        .iter()
        .map(|(t, _)| t.as_str())
        .filter(|t| *t != blue_tg && *t != green_tg)
        .collect();
    let (Some(blue_w), Some(green_w)) = (weight_of(&blue_tg), weight_of(&green_tg)) else {
        return Err(UserError::new(format!(
            "listener {listener} does not forward to both configured target groups ({} and {}); it forwards to: {}",
            bg.blue.target_group,
            bg.green.target_group,
            forward.weights.iter().map(|(t, w)| format!("{} ({w})", tg_name(t))).collect::<Vec<_>>().join(", ")
        ))
        .hint("make the listener's forward action hold both target groups with weights, or fix env.bluegreen")
        .into());
    };
    if !others.is_empty() {
        return Err(UserError::new(format!(
            "listener {listener} also forwards to {}; opsctl only switches a listener that forwards to the two colours",
            others.iter().map(|t| tg_name(t)).collect::<Vec<_>>().join(", ")
        ))
        .hint("point the blue/green table at a listener rule that forwards to the two colours only")
        .into());
    }
    if blue_w + green_w <= 0 {
        return Err(UserError::new(format!(
            "listener {listener} sends no traffic to either colour"
        ))
        .hint("give the live colour a positive weight by hand first")
        .into());
    }
    Ok(Pair {
        listener,
        blue: Side {
            colour: Colour::Blue,
            service: bg.blue.service.clone(),
            target_group: blue_tg,
            weight: blue_w,
        },
        green: Side {
            colour: Colour::Green,
            service: bg.green.service.clone(),
            target_group: green_tg,
            weight: green_w,
        },
    })
}

/// The env's blue/green table, or the error that says there is none.
pub fn bluegreen(env: &EnvConfig) -> Result<&BlueGreen, UserError> {
    env.two_service().ok_or_else(|| {
        UserError::new(format!("env.{} is not a blue/green environment", env.name)).hint(format!(
            "add a [env.{}.bluegreen] table with listener, blue and green",
            env.name
        ))
    })
}

fn not_found_is_bad_input<T>(
    result: Result<T, AwsError>,
    env: &str,
    key: &str,
) -> anyhow::Result<T> {
    match result {
        Ok(v) => Ok(v),
        Err(AwsError::NotFound(_, what)) | Err(AwsError::Invalid(what)) => {
            Err(UserError::new(what)
                .hint(format!("check env.{env}.bluegreen.{key} in opsctl.toml"))
                .into())
        }
        Err(e) => Err(e.into()),
    }
}

fn tg_name(arn: &str) -> &str {
    arn.split_once(":targetgroup/")
        .and_then(|(_, rest)| rest.split('/').next())
        .unwrap_or(arn)
}

/// How to switch.
#[derive(Debug, Clone)]
pub struct Options {
    pub to: Colour,
    pub steps: Vec<u32>,
    pub interval: Duration,
    pub dry_run: bool,
}

/// One step of a switch.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub percent: u32,
    pub weights: Weights,
    pub checks: Vec<Check>,
}

/// How a switch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SwitchResult {
    Switched,
    Planned,
    /// The target colour was not ready; nothing changed.
    NotReady,
    /// A check failed; the weights are back as they were.
    Restored,
    /// Ctrl-C; the weights are back as they were.
    Interrupted,
    /// An AWS call failed mid-switch and the weights could not be put back (or never
    /// moved): `after` says where they are.
    Failed,
}

/// What a switch did.
#[derive(Debug, Clone, Serialize)]
pub struct TrafficOutcome {
    pub env: String,
    pub listener: String,
    pub from: Colour,
    pub to: Colour,
    pub result: SwitchResult,
    pub before: Weights,
    pub after: Weights,
    /// The readiness checks of the target colour.
    pub checks: Vec<Check>,
    pub steps: Vec<StepReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub elapsed_secs: f64,
}

impl Outcome for TrafficOutcome {
    fn exit(&self) -> Exit {
        match self.result {
            SwitchResult::Switched | SwitchResult::Planned => Exit::Ok,
            SwitchResult::NotReady => Exit::BadInput,
            SwitchResult::Restored => Exit::RolledBack,
            SwitchResult::Interrupted => Exit::Interrupted,
            SwitchResult::Failed => Exit::Failed,
        }
    }
}

impl fmt::Display for TrafficOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.result {
            SwitchResult::Switched => writeln!(
                f,
                "{}: traffic moved from {} to {} ({} -> {}) in {:.0}s",
                self.env, self.from, self.to, self.before, self.after, self.elapsed_secs
            )?,
            SwitchResult::Planned => {
                writeln!(
                    f,
                    "{}: would move traffic from {} to {} (nothing changed)",
                    self.env, self.from, self.to
                )?;
                writeln!(f, "  now: {}", self.before)?;
            }
            SwitchResult::NotReady => {
                writeln!(
                    f,
                    "{}: {} is not ready to take traffic; nothing changed",
                    self.env, self.to
                )?;
            }
            SwitchResult::Restored => writeln!(
                f,
                "{}: traffic switch to {} FAILED; weights restored to {}",
                self.env, self.to, self.after
            )?,
            SwitchResult::Interrupted => writeln!(
                f,
                "{}: traffic switch to {} interrupted; weights restored to {}",
                self.env, self.to, self.after
            )?,
            SwitchResult::Failed => writeln!(
                f,
                "{}: traffic switch to {} FAILED; the weights are {}",
                self.env, self.to, self.after
            )?,
        }
        if let Some(reason) = &self.reason {
            writeln!(f, "  reason: {reason}")?;
        }
        for c in self
            .checks
            .iter()
            .filter(|c| !c.ok || self.result == SwitchResult::Planned)
        {
            writeln!(f, "  {c}")?;
        }
        for s in &self.steps {
            let failed: Vec<&Check> = s.checks.iter().filter(|c| !c.ok).collect();
            writeln!(
                f,
                "  step {:>3}%: {}{}",
                s.percent,
                s.weights,
                if failed.is_empty() {
                    String::new()
                } else {
                    " FAILED".into()
                }
            )?;
            for c in failed {
                writeln!(f, "    {c}")?;
            }
        }
        Ok(())
    }
}

/// Checks that `colour` can take all the traffic: stable on one revision, every target
/// healthy, and at least as many tasks as the live colour wants.
pub async fn readiness(
    aws: &Aws,
    env: &EnvConfig,
    pair: &Pair,
    colour: Colour,
    reporter: &dyn Reporter,
) -> anyhow::Result<Vec<Check>> {
    let target = pair.side(colour);
    let live = pair.side(colour.other());
    let services = aws
        .ecs
        .describe_services(
            &env.cluster,
            &[target.service.clone(), live.service.clone()],
        )
        .await?;
    let find = |name: &str| {
        services
            .iter()
            .find(|s| s.name == name)
            .cloned()
            .ok_or_else(|| super::service_not_found(env, name))
    };
    let (t, l) = (find(&target.service)?, find(&live.service)?);
    let mut checks = vec![stable_check(colour, &t)];
    let want = l.desired.max(1);
    checks.push(if t.running >= want {
        Check::pass(
            "capacity",
            format!(
                "{colour} runs {} task(s), live wants {}",
                t.running, l.desired
            ),
        )
    } else {
        Check::fail(
            "capacity",
            format!(
                "{colour} runs {} task(s) but {} carries traffic with {}",
                t.running,
                colour.other(),
                l.desired
            ),
            format!("scale {} to at least {want} first (opsctl scale)", t.name),
        )
    });
    checks.push(health_check(aws, colour, &target.target_group).await?);
    for c in &checks {
        reporter.report(Event::Check(c.clone()));
    }
    Ok(checks)
}

fn stable_check(colour: Colour, s: &Service) -> Check {
    let primary = s.primary();
    // A colour scaled to zero is steady, but has nothing to take traffic with.
    if s.is_steady() && s.desired > 0 {
        Check::pass(
            "stable",
            format!(
                "{colour} ({}) is stable, {}/{} running",
                s.name, s.running, s.desired
            ),
        )
    } else {
        Check::fail(
            "stable",
            format!(
                "{colour} ({}) is not stable: {} deployment(s), {}/{} running{}",
                s.name,
                s.deployments.len(),
                s.running,
                s.desired,
                primary
                    .and_then(|p| p.rollout_state)
                    .map(|r| format!(", rollout {r}"))
                    .unwrap_or_default()
            ),
            format!(
                "wait for it (opsctl wait-stable ENV --service {}) or deploy to it again",
                s.name
            ),
        )
    }
}

async fn health_check(aws: &Aws, colour: Colour, target_group: &str) -> anyhow::Result<Check> {
    let targets = aws.lb.target_health(target_group).await?;
    let tally = TargetTally::of(&targets);
    let healthy = tally.healthy;
    Ok(if tally.all_healthy() {
        Check::pass(
            "targets",
            format!("{colour}: {healthy}/{} targets healthy", tally.in_service),
        )
    } else {
        let sick: Vec<String> = targets
            .iter()
            .filter(|t| t.state.in_service() && t.state != TargetState::Healthy)
            .map(|t| format!("{} {}", t.id, t.state))
            .collect();
        Check::fail(
            "targets",
            format!(
                "{colour}: {healthy}/{} targets healthy{}",
                tally.in_service,
                if sick.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", sick.join(", "))
                }
            ),
            "look at the target group's health check and the tasks' logs",
        )
    })
}

/// The checks between two steps: target health, alarms, and the target colour's 5xx rate
/// and p99 latency against the live colour's over the step.
async fn step_checks(
    aws: &Aws,
    env: &EnvConfig,
    pair: &Pair,
    to: Colour,
    since: Timestamp,
) -> anyhow::Result<Vec<Check>> {
    let bg = bluegreen(env)?;
    let mut checks = vec![health_check(aws, to, &pair.side(to).target_group).await?];
    let firing = crate::aws::firing(&aws.monitoring.alarms(&env.alarms).await?);
    checks.push(if firing.is_empty() {
        Check::pass(
            "alarms",
            format!("{} alarm(s), none in ALARM", env.alarms.len()),
        )
    } else {
        Check::fail(
            "alarms",
            format!("in ALARM: {}", firing.join("; ")),
            "find out why before switching again",
        )
    });
    let now = Timestamp::now().max(since + jiff::SignedDuration::from_secs(60));
    let new = aws
        .monitoring
        .target_group_metrics(&pair.listener, &pair.side(to).target_group, since, now)
        .await?;
    let old = aws
        .monitoring
        .target_group_metrics(
            &pair.listener,
            &pair.side(to.other()).target_group,
            since,
            now,
        )
        .await?;
    match (new.requests, new.errors_5xx) {
        (Some(requests), errors) if requests > 0.0 => {
            let rate = errors.unwrap_or(0.0) / requests * 100.0;
            checks.push(if rate <= bg.max_5xx_percent {
                Check::pass(
                    "5xx",
                    format!(
                        "{to}: {rate:.2}% 5xx of {requests:.0} requests (max {}%)",
                        bg.max_5xx_percent
                    ),
                )
            } else {
                Check::fail(
                    "5xx",
                    format!(
                        "{to}: {rate:.2}% 5xx of {requests:.0} requests, above {}%",
                        bg.max_5xx_percent
                    ),
                    "look at the new version's errors before trying again",
                )
            });
        }
        _ => checks.push(no_data(bg, "5xx", to)),
    }
    match (new.p99_seconds, old.p99_seconds) {
        (Some(new_p99), Some(old_p99)) if old_p99 > 0.0 => {
            let limit = old_p99 * (1.0 + bg.max_p99_increase_percent / 100.0);
            let detail = format!(
                "{to}: p99 {:.0} ms vs {} {:.0} ms (max +{}%)",
                new_p99 * 1000.0,
                to.other(),
                old_p99 * 1000.0,
                bg.max_p99_increase_percent
            );
            checks.push(if new_p99 <= limit {
                Check::pass("p99", detail)
            } else {
                Check::fail(
                    "p99",
                    detail,
                    "the new version is slower; find out why before trying again",
                )
            });
        }
        _ => checks.push(no_data(bg, "p99", to)),
    }
    Ok(checks)
}

fn no_data(bg: &BlueGreen, name: &str, to: Colour) -> Check {
    let detail = format!("{to}: CloudWatch has no datapoints for this step yet");
    if bg.require_metrics {
        Check::fail(
            name,
            detail,
            "send traffic to the new colour, or set require_metrics = false",
        )
    } else {
        Check::pass(name, format!("{detail}; passing (require_metrics = false)"))
    }
}

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

async fn switch_inner(
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
        super::confirm_change(
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

fn weights_for(to: Colour, percent: u32) -> Weights {
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
async fn run_steps(
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
enum Stopped {
    Interrupted(u32),
    Check(u32, String),
    Error(String),
}

/// The steps themselves; `Some` when they stopped early. `out.steps` holds every step whose
/// weights were sent.
async fn steps(
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
            if pause(opts.interval, interrupt).await.is_some() {
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
async fn restore(
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
