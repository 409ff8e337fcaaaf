//! The analysis that decides whether new code may take (more) traffic: the alarms, and the
//! new target group's 5xx rate and p99 latency against the old one's over a window. One
//! judgement for the two-service switch between its steps and for a native deployment's
//! paused traffic stages.

use crate::aws::{Alarm, TargetGroupMetrics};
use crate::config::BlueGreen;
use crate::workflows::Check;

/// How much worse the new side may look.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Highest 5xx share of requests (percent).
    pub max_5xx_percent: f64,
    /// How much slower (percent) the new side's p99 may be than the old side's.
    pub max_p99_increase_percent: f64,
    /// No datapoints fails the check (else it passes, saying so).
    pub require_metrics: bool,
}

impl Default for Limits {
    /// The defaults of a `bluegreen` table.
    fn default() -> Self {
        Limits {
            max_5xx_percent: 1.0,
            max_p99_increase_percent: 50.0,
            require_metrics: false,
        }
    }
}

impl From<&BlueGreen> for Limits {
    fn from(bg: &BlueGreen) -> Self {
        Limits {
            max_5xx_percent: bg.max_5xx_percent,
            max_p99_increase_percent: bg.max_p99_increase_percent,
            require_metrics: bg.require_metrics,
        }
    }
}

/// The env's alarms: none in ALARM.
pub fn alarms(names: &[String], alarms: &[Alarm], hint: &str) -> Check {
    let firing = crate::aws::firing(alarms);
    if firing.is_empty() {
        Check::pass("alarms", format!("{} alarm(s), none in ALARM", names.len()))
    } else {
        Check::fail("alarms", format!("in ALARM: {}", firing.join("; ")), hint)
    }
}

/// The new side's 5xx rate, and its p99 against the old side's. `new_name` and `old_name`
/// say which is which in the details (`green`, `the alternate target group`).
pub fn metrics(
    new: &TargetGroupMetrics,
    old: &TargetGroupMetrics,
    limits: &Limits,
    new_name: &str,
    old_name: &str,
) -> Vec<Check> {
    let mut checks = Vec::new();
    match (new.requests, new.errors_5xx) {
        (Some(requests), errors) if requests > 0.0 => {
            let rate = errors.unwrap_or(0.0) / requests * 100.0;
            checks.push(if rate <= limits.max_5xx_percent {
                Check::pass(
                    "5xx",
                    format!(
                        "{new_name}: {rate:.2}% 5xx of {requests:.0} requests (max {}%)",
                        limits.max_5xx_percent
                    ),
                )
            } else {
                Check::fail(
                    "5xx",
                    format!(
                        "{new_name}: {rate:.2}% 5xx of {requests:.0} requests, above {}%",
                        limits.max_5xx_percent
                    ),
                    "look at the new version's errors before trying again",
                )
            });
        }
        _ => checks.push(no_data(limits, "5xx", new_name)),
    }
    match (new.p99_seconds, old.p99_seconds) {
        (Some(new_p99), Some(old_p99)) if old_p99 > 0.0 => {
            let limit = old_p99 * (1.0 + limits.max_p99_increase_percent / 100.0);
            let detail = format!(
                "{new_name}: p99 {:.0} ms vs {old_name} {:.0} ms (max +{}%)",
                new_p99 * 1000.0,
                old_p99 * 1000.0,
                limits.max_p99_increase_percent
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
        _ => checks.push(no_data(limits, "p99", new_name)),
    }
    checks
}

/// No datapoints yet: inconclusive, which fails only where metrics are required.
fn no_data(limits: &Limits, name: &str, new_name: &str) -> Check {
    let detail = format!("{new_name}: CloudWatch has no datapoints for this step yet");
    if limits.require_metrics {
        Check::fail(
            name,
            detail,
            "send traffic to the new side, or set require_metrics = false",
        )
    } else {
        Check::pass(name, format!("{detail}; passing (require_metrics = false)"))
    }
}
