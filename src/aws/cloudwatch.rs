//! CloudWatch as workflows see it: alarm states, which alarms fire, target-group metrics.

use serde::Serialize;

aws_words!(
    /// A CloudWatch alarm's state.
    AlarmState, unknown = InsufficientData, {
        Ok = "OK",
        Alarm = "ALARM",
        InsufficientData = "INSUFFICIENT_DATA",
    }
);

/// A CloudWatch alarm's current state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alarm {
    pub name: String,
    pub state: AlarmState,
    pub reason: String,
}

impl Alarm {
    /// Whether the alarm is in ALARM (INSUFFICIENT_DATA is not firing).
    pub fn is_firing(&self) -> bool {
        self.state == AlarmState::Alarm
    }
}

/// The firing alarms among `alarms`, each as `name (reason)`.
pub fn firing(alarms: &[Alarm]) -> Vec<String> {
    alarms
        .iter()
        .filter(|a| a.is_firing())
        .map(|a| format!("{} ({})", a.name, a.reason))
        .collect()
}

/// A target group's ALB metrics over a window; `None` where CloudWatch has no datapoints.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct TargetGroupMetrics {
    pub requests: Option<f64>,
    pub errors_5xx: Option<f64>,
    pub p99_seconds: Option<f64>,
}
