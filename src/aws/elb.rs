//! ELBv2 as workflows see it: target health, counted one way, and weighted forward actions.

use serde::Serialize;

aws_words!(
    /// The health of one target in a target group, as ELBv2 reports it.
    TargetState, unknown = Unavailable, {
        Initial = "initial",
        Healthy = "healthy",
        Unhealthy = "unhealthy",
        Unused = "unused",
        Draining = "draining",
        Unavailable = "unavailable",
        UnhealthyDraining = "unhealthy.draining",
    }
);

impl TargetState {
    /// Whether the target counts towards a group's health: a target on its way out
    /// (draining) or not taking traffic at all (unused) does not.
    pub fn in_service(self) -> bool {
        !matches!(
            self,
            TargetState::Draining | TargetState::UnhealthyDraining | TargetState::Unused
        )
    }
}

/// The health of one target in a target group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetHealth {
    pub id: String,
    pub port: Option<i32>,
    pub state: TargetState,
    pub reason: Option<String>,
}

/// A target group's targets, counted the one way `wait-stable`, `traffic` and `status` share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct TargetTally {
    pub healthy: usize,
    /// Targets that count (neither draining nor unused).
    pub in_service: usize,
    pub draining: usize,
}

impl TargetTally {
    /// Counts the targets.
    pub fn of<'a>(targets: impl IntoIterator<Item = &'a TargetHealth>) -> Self {
        let mut tally = TargetTally::default();
        for t in targets {
            if t.state.in_service() {
                tally.in_service += 1;
                tally.healthy += usize::from(t.state == TargetState::Healthy);
            } else if matches!(
                t.state,
                TargetState::Draining | TargetState::UnhealthyDraining
            ) {
                tally.draining += 1;
            }
        }
        tally
    }

    /// Every counted target healthy, and at least one.
    pub fn all_healthy(&self) -> bool {
        self.in_service > 0 && self.healthy == self.in_service
    }
}

/// A listener's (or listener rule's) forward action: target groups and their weights.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Forward {
    /// The listener or rule ARN.
    pub arn: String,
    /// `(target group ARN, weight)`, as the action lists them.
    pub weights: Vec<(String, i32)>,
}
