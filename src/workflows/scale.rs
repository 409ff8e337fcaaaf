//! `opsctl scale`: a service's desired count and its Application Auto Scaling bounds, within
//! the env's `scaling` limits, then the same wait as a deploy. Where a scalable target is
//! registered its bounds are moved together with the count, so autoscaling does not undo it.

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use super::wait::{self, Verdict, WaitOutcome};
use super::{Interrupt, Outcome, Reporter};
use crate::aws::{Aws, ScalingBounds};
use crate::config::EnvConfig;
use crate::error::{Exit, UserError};

/// What to change.
#[derive(Debug, Clone)]
pub struct Options {
    /// The desired count.
    pub count: Option<i32>,
    /// New autoscaling bounds; both or neither.
    pub min: Option<i32>,
    pub max: Option<i32>,
    /// Show the calls and change nothing.
    pub dry_run: bool,
    /// Return once the count is set, without waiting.
    pub no_wait: bool,
    pub timeout: Duration,
    pub poll: Duration,
}

/// How a scale ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScaleResult {
    /// Changed, and the service is stable at the new count.
    Scaled,
    /// Already as asked.
    Unchanged,
    /// `--no-wait`: changed; nobody waited.
    Started,
    /// `--dry-run`: nothing changed.
    Planned,
    Failed,
    TimedOut,
    Interrupted,
}

/// What happened to the autoscaling bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BoundsChange {
    /// No scalable target is registered and none was asked for.
    NoTarget,
    /// The registered bounds already hold the count; left as they are.
    Kept,
    /// The count lay outside the registered bounds, which would undo it: they were widened
    /// just enough to hold it.
    Widened,
    /// Set as asked with `--min/--max`.
    Set,
    /// No scalable target was registered; one was, with the bounds asked for.
    Registered,
}

/// What a scale did.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleOutcome {
    pub env: String,
    pub cluster: String,
    pub service: String,
    /// The blue/green colour the service is, when it is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub colour: Option<String>,
    pub result: ScaleResult,
    pub desired_from: i32,
    pub desired_to: i32,
    /// The scalable target's resource id, `service/CLUSTER/SERVICE`.
    pub resource_id: String,
    pub bounds_from: Option<ScalingBounds>,
    pub bounds_to: Option<ScalingBounds>,
    pub bounds: BoundsChange,
    /// What opsctl did and why, in words.
    pub notes: Vec<String>,
    /// The calls a dry run would make.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait: Option<WaitOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub elapsed_secs: f64,
}

impl Outcome for ScaleOutcome {
    fn exit(&self) -> Exit {
        match self.result {
            ScaleResult::Scaled
            | ScaleResult::Unchanged
            | ScaleResult::Started
            | ScaleResult::Planned => Exit::Ok,
            ScaleResult::Failed => Exit::Failed,
            ScaleResult::TimedOut => Exit::TimedOut,
            ScaleResult::Interrupted => Exit::Interrupted,
        }
    }
}

impl fmt::Display for ScaleOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = format!("{} ({})", self.env, self.service);
        let (from, to) = (self.desired_from, self.desired_to);
        match self.result {
            ScaleResult::Scaled if from == to => writeln!(
                f,
                "{target}: autoscaling bounds set; {to} task(s) as before"
            )?,
            ScaleResult::Scaled => writeln!(
                f,
                "scaled {target} from {from} to {to} task(s); stable after {:.0}s",
                self.elapsed_secs
            )?,
            ScaleResult::Unchanged => {
                writeln!(f, "{target} already runs {to} task(s); nothing to do")?
            }
            ScaleResult::Started => writeln!(
                f,
                "{target} is scaling from {from} to {to} task(s); not waiting. Follow it with `opsctl wait-stable {}{}`",
                self.env,
                if self.colour.is_some() {
                    format!(" --service {}", self.service)
                } else {
                    String::new()
                }
            )?,
            ScaleResult::Planned => writeln!(
                f,
                "would scale {target} from {from} to {to} task(s) (nothing changed)"
            )?,
            ScaleResult::Failed | ScaleResult::TimedOut | ScaleResult::Interrupted => {
                let what = match self.result {
                    ScaleResult::TimedOut => "timed out",
                    ScaleResult::Interrupted => "was interrupted",
                    _ => "FAILED",
                };
                writeln!(f, "scaling {target} from {from} to {to} task(s) {what}")?;
            }
        }
        for note in &self.notes {
            writeln!(f, "  {note}")?;
        }
        if let Some(reason) = &self.reason {
            writeln!(f, "  reason: {reason}")?;
        }
        if !self.calls.is_empty() {
            writeln!(f, "calls:")?;
            for call in &self.calls {
                writeln!(f, "  {call}")?;
            }
        }
        if let Some(wait) = &self.wait
            && self.result != ScaleResult::Scaled
        {
            write!(f, "{wait}")?;
        }
        Ok(())
    }
}

/// The last part of a name or ARN (`…:cluster/NAME` -> `NAME`).
fn short_name(name_or_arn: &str) -> &str {
    name_or_arn.rsplit('/').next().unwrap_or(name_or_arn)
}

/// The Application Auto Scaling resource id of an ECS service.
pub fn resource_id(cluster: &str, service: &str) -> String {
    format!("service/{}/{}", short_name(cluster), short_name(service))
}

/// Checks the numbers against each other and the env's `scaling`, before any call.
pub fn validate(env: &EnvConfig, opts: &Options) -> std::result::Result<(), UserError> {
    let limits = env.scaling;
    let limits_text = limits.map(|s| format!("{}..{}", s.min, s.max));
    let fix_count = || match &limits_text {
        Some(b) => format!(
            "pick a count within {b}, or change scaling in [env.{}] of opsctl.toml",
            env.name
        ),
        None => "pick a count of 0 or more".to_owned(),
    };
    let bounds = match (opts.min, opts.max) {
        (Some(min), Some(max)) => Some(ScalingBounds { min, max }),
        (None, None) => None,
        _ => {
            return Err(UserError::new("--min and --max go together")
                .hint("pass both, e.g. --min 2 --max 6"));
        }
    };
    if opts.count.is_none() && bounds.is_none() {
        return Err(UserError::new("nothing to change")
            .hint("pass --count N, or --min A --max B, or all three"));
    }
    if let Some(n) = opts.count
        && n < 0
    {
        return Err(UserError::new(format!("--count {n} is negative")).hint(fix_count()));
    }
    if let Some(b) = bounds {
        if b.min < 0 || b.min > b.max {
            return Err(UserError::new(format!(
                "--min {} and --max {} are not a range",
                b.min, b.max
            ))
            .hint("use 0 <= min <= max"));
        }
        if let Some(n) = opts.count
            && (n < b.min || n > b.max)
        {
            return Err(UserError::new(format!(
                "--count {n} lies outside the bounds given, {}..{}",
                b.min, b.max
            ))
            .hint("use min <= count <= max"));
        }
        if let Some(l) = limits
            && (b.min < l.min || b.max > l.max)
        {
            return Err(UserError::new(format!(
                "autoscaling bounds {}..{} reach outside env.{}'s scaling limits {}..{}",
                b.min, b.max, env.name, l.min, l.max
            ))
            .hint(format!(
                "keep --min and --max within {}..{}, or change scaling in [env.{}] of opsctl.toml",
                l.min, l.max, env.name
            )));
        }
    }
    if let (Some(n), Some(l)) = (opts.count, limits)
        && (n < l.min || n > l.max)
    {
        return Err(UserError::new(format!(
            "--count {n} is outside env.{}'s scaling limits {}..{}",
            env.name, l.min, l.max
        ))
        .hint(fix_count()));
    }
    Ok(())
}

/// Sets the service's count and autoscaling bounds, then waits until it is stable.
pub async fn scale(
    aws: &Aws,
    env: &EnvConfig,
    service: &str,
    colour: Option<&str>,
    opts: &Options,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<ScaleOutcome> {
    let started = Instant::now();
    validate(env, opts)?;
    let svc = super::describe_one(aws, env, service).await?;
    let resource_id = resource_id(&env.cluster, service);
    let registered = aws.autoscaling.scalable_target(&resource_id).await?;
    let asked = opts
        .min
        .zip(opts.max)
        .map(|(min, max)| ScalingBounds { min, max });
    let current = svc.desired;

    let mut notes = Vec::new();
    if let Some(colour) = colour {
        notes.push(format!(
            "env.{} is blue/green: scaling {service} ({colour})",
            env.name
        ));
    }
    let (bounds_to, bounds) = match (asked, registered, opts.count) {
        (Some(new), Some(old), _) if new == old => {
            notes.push(format!("autoscaling bounds are already {old}"));
            (Some(old), BoundsChange::Kept)
        }
        (Some(new), Some(old), _) => {
            notes.push(format!("autoscaling bounds {old} -> {new}"));
            (Some(new), BoundsChange::Set)
        }
        (Some(new), None, _) => {
            notes.push(format!(
                "no scalable target was registered for {resource_id}: registering one with bounds {new}"
            ));
            (Some(new), BoundsChange::Registered)
        }
        (None, Some(old), Some(n)) if n < old.min || n > old.max => {
            let new = ScalingBounds {
                min: old.min.min(n),
                max: old.max.max(n),
            };
            notes.push(format!(
                "{n} lies outside autoscaling's bounds {old}, which would undo it: bounds moved to {new}"
            ));
            (Some(new), BoundsChange::Widened)
        }
        (None, Some(old), _) => {
            notes.push(format!(
                "autoscaling bounds {old} hold the count; left as they are"
            ));
            (Some(old), BoundsChange::Kept)
        }
        (None, None, _) => {
            notes.push("no autoscaling scalable target: nothing will undo the count".into());
            (None, BoundsChange::NoTarget)
        }
    };
    let desired_to = match (opts.count, bounds_to) {
        (Some(n), _) => n,
        (None, Some(b)) => {
            let clamped = current.clamp(b.min, b.max);
            if clamped != current {
                notes.push(format!(
                    "the desired count moves from {current} to {clamped} to lie within {b}"
                ));
            }
            clamped
        }
        (None, None) => current,
    };
    let bounds_change = matches!(
        bounds,
        BoundsChange::Widened | BoundsChange::Set | BoundsChange::Registered
    );
    let count_change = desired_to != current;

    let mut calls = Vec::new();
    if bounds_change && let Some(b) = bounds_to {
        calls.push(format!(
            "application-autoscaling:RegisterScalableTarget ServiceNamespace=ecs ResourceId={resource_id} \
             ScalableDimension=ecs:service:DesiredCount MinCapacity={} MaxCapacity={}",
            b.min, b.max
        ));
    }
    if count_change {
        calls.push(format!(
            "ecs:UpdateService cluster={} service={service} desiredCount={desired_to}",
            env.cluster
        ));
        if !opts.no_wait {
            calls.push(format!(
                "then ecs:DescribeServices until {service} is stable"
            ));
        }
    }
    let mut out = ScaleOutcome {
        env: env.name.clone(),
        cluster: env.cluster.clone(),
        service: service.to_owned(),
        colour: colour.map(str::to_owned),
        result: ScaleResult::Planned,
        desired_from: current,
        desired_to,
        resource_id: resource_id.clone(),
        bounds_from: registered,
        bounds_to,
        bounds,
        notes,
        calls: Vec::new(),
        wait: None,
        reason: None,
        elapsed_secs: 0.0,
    };
    let done = |mut out: ScaleOutcome| {
        out.elapsed_secs = started.elapsed().as_secs_f64();
        Ok(out)
    };
    if opts.dry_run {
        out.calls = calls;
        return done(out);
    }
    if calls.is_empty() {
        out.result = ScaleResult::Unchanged;
        return done(out);
    }
    let mut question = format!(
        "Scale {} ({service}) from {current} to {desired_to} task(s)",
        env.name
    );
    if bounds_change && let Some(b) = bounds_to {
        question.push_str(&format!(", autoscaling bounds {b}"));
    }
    question.push('?');
    super::confirm_change(env, reporter, interrupt, &question)?;

    // Bounds first: once they hold the new count, autoscaling has nothing to undo.
    if bounds_change && let Some(b) = bounds_to {
        reporter.step(
            "autoscaling",
            format!("setting the bounds of {resource_id} to {b}"),
        );
        aws.autoscaling.set_bounds(&resource_id, b).await?;
    }
    if !count_change {
        out.result = ScaleResult::Scaled;
        return done(out);
    }
    reporter.step(
        "scale",
        format!("setting {service}'s desired count from {current} to {desired_to}"),
    );
    aws.ecs
        .update_desired_count(&env.cluster, service, desired_to)
        .await?;
    if opts.no_wait {
        out.result = ScaleResult::Started;
        return done(out);
    }
    reporter.step(
        "wait",
        format!("waiting for {service} to run {desired_to} task(s)"),
    );
    let waited = wait::wait(
        aws,
        &env.cluster,
        vec![wait::Target::current(service)],
        &wait::Options::new(opts.timeout, opts.poll),
        reporter,
        interrupt,
    )
    .await?;
    out.result = match waited.verdict() {
        Verdict::Stable => ScaleResult::Scaled,
        Verdict::Failed => ScaleResult::Failed,
        Verdict::TimedOut => ScaleResult::TimedOut,
        Verdict::Interrupted => ScaleResult::Interrupted,
    };
    out.reason = waited.services.first().and_then(|s| s.reason.clone());
    out.wait = Some(waited);
    done(out)
}
