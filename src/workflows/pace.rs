//! The pace of a long wait, shared by every waiter: about one poll per `poll` with ±20 %
//! jitter, twice as slow after each throttled call (up to a ceiling), a few transient
//! failures tried again, bounded by the timeout, and stopped by Ctrl-C.

use std::time::Duration;

use tokio::time::Instant;

use super::{Event, Interrupt, Reporter};
use crate::aws::AwsError;

/// `now + d`, or a year from now where that does not fit.
pub fn far(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(365 * 24 * 3600)))
        .unwrap_or(now)
}

/// Why a wait stopped before its verdict.
pub enum Stop {
    TimedOut,
    Interrupted,
}

/// Paces the polls of a long wait: jittered, slower under throttling, bounded by the
/// timeout, and stopped by Ctrl-C.
pub struct Pacer {
    deadline: Instant,
    base: Duration,
    interval: Duration,
    max: Duration,
    interrupt: Interrupt,
    transient_errors: u32,
}

impl Pacer {
    pub fn new(timeout: Duration, poll: Duration, max: Duration, interrupt: &Interrupt) -> Self {
        Pacer {
            // Durations are bounded where they are parsed; saturate all the same, so no
            // deadline can panic after a change has been made.
            deadline: far(timeout),
            base: poll,
            interval: poll,
            max,
            interrupt: interrupt.clone(),
            transient_errors: 0,
        }
    }

    /// How long until the deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Reports how long is left of a timed watch (and what its checks read last), unless
    /// nothing is.
    pub fn count_down(&self, what: &str, last: Option<String>, reporter: &dyn Reporter) {
        let remaining = self.remaining();
        if !remaining.is_zero() {
            reporter.report(Event::Countdown {
                what: what.to_owned(),
                remaining_secs: remaining.as_secs_f64().ceil() as u64,
                last,
            });
        }
    }

    /// A poll answered: back to the base pace.
    pub fn answered(&mut self) {
        self.interval = self.base;
        self.transient_errors = 0;
    }

    /// A poll failed. Throttling slows the pace and a few other failures are tried again;
    /// anything else ends the wait with the error.
    pub fn failed(
        &mut self,
        what: &str,
        err: AwsError,
        reporter: &dyn Reporter,
    ) -> anyhow::Result<()> {
        match err {
            AwsError::Throttled(msg) => {
                self.interval = (self.interval * 2).min(self.max);
                reporter.warn(format!(
                    "AWS is throttling {what}; polling every {}s for now ({msg})",
                    self.interval.as_secs()
                ));
                Ok(())
            }
            AwsError::Other(msg) if self.transient_errors < 3 => {
                self.transient_errors += 1;
                reporter.warn(format!("{what} failed, trying again: {msg}"));
                Ok(())
            }
            other => Err(other.into()),
        }
    }

    /// Sleeps until the next poll; `Some` when the wait must stop instead.
    pub async fn nap(&mut self) -> Option<Stop> {
        if self.interrupt.is_raised() {
            return Some(Stop::Interrupted);
        }
        let now = Instant::now();
        if now >= self.deadline {
            return Some(Stop::TimedOut);
        }
        let jitter = 0.8 + fastrand::f64() * 0.4;
        let nap = self.interval.mul_f64(jitter).min(self.deadline - now);
        tokio::select! {
            _ = tokio::time::sleep(nap) => None,
            _ = self.interrupt.raised() => Some(Stop::Interrupted),
        }
    }
}

/// A long wait as the user sees it: `WaitStart` when it begins and `WaitEnd` when this is
/// dropped, so no spinner keeps ticking over an error, whichever way the wait ends.
pub struct Shown<'a>(&'a dyn Reporter);

impl<'a> Shown<'a> {
    pub fn start(reporter: &'a dyn Reporter, what: impl Into<String>, timeout: Duration) -> Self {
        reporter.report(Event::WaitStart {
            what: what.into(),
            timeout_secs: timeout.as_secs(),
        });
        Shown(reporter)
    }
}

impl Drop for Shown<'_> {
    fn drop(&mut self) {
        self.0.report(Event::WaitEnd);
    }
}

/// How often a countdown says how long is left.
pub const COUNTDOWN_TICK: Duration = Duration::from_secs(10);

/// Sleeps for `d` (a traffic step's interval) through the pacer, saying every
/// [`COUNTDOWN_TICK`] how long is left (with `last`, what the checks read last); `Some` on
/// Ctrl-C.
pub async fn pause(
    d: Duration,
    what: &str,
    last: Option<String>,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> Option<Stop> {
    let tick = COUNTDOWN_TICK.min(d).max(Duration::from_millis(1));
    // No jitter to speak of: the pacer's ±20 % on a tick, bounded by the deadline.
    let mut pacer = Pacer::new(d, tick, tick, interrupt);
    loop {
        pacer.count_down(what, last.clone(), reporter);
        match pacer.nap().await {
            None => {}
            Some(Stop::TimedOut) => return None,
            Some(Stop::Interrupted) => return Some(Stop::Interrupted),
        }
    }
}
