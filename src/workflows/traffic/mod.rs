//! Blue/green on an ALB: two services, each behind its own target group, and one listener
//! (or rule) forwarding to both with weights. The live colour is the one carrying the weight.
//!
//! A switch checks the target colour first (stable, healthy, big enough), then moves the
//! weights step by step, checking target health, alarms and the target group's 5xx rate and
//! p99 latency between steps. Any failed check, or Ctrl-C, puts the weights back exactly as
//! they were. The weights always add up to 100: no state leaves both colours without traffic.
//!
//! This file holds the pair of colours as the listener shows it and the switch's outcome;
//! `checks` holds what is checked before and between steps, `switch` the steps themselves.

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

mod checks;
mod switch;

pub use checks::readiness;
use checks::step_checks;
pub use switch::{move_all, switch, switch_confirmed};

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
