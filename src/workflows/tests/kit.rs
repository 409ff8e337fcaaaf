//! The one test kit of the workflow tests: a reporter that records, the env fixtures, and
//! the error helpers. The fake AWS itself is `crate::aws::fake`.

use std::sync::Mutex;

use crate::config::{Config, EnvConfig};
use crate::error::UserError;
use crate::workflows::{Event, Reporter};

/// Records every event and every question; answers confirmations as told.
#[derive(Debug, Default)]
pub struct Recorder {
    pub events: Mutex<Vec<Event>>,
    pub refuse: bool,
    pub questions: Mutex<Vec<String>>,
}

impl Reporter for Recorder {
    fn report(&self, event: Event) {
        self.events.lock().unwrap().push(event);
    }

    fn confirm(&self, question: &str) -> anyhow::Result<bool> {
        self.questions.lock().unwrap().push(question.to_owned());
        Ok(!self.refuse)
    }
}

impl Recorder {
    /// A reporter whose user answers "no".
    pub fn refusing() -> Self {
        Recorder {
            refuse: true,
            ..Recorder::default()
        }
    }

    fn pick<T>(&self, f: impl Fn(&Event) -> Option<T>) -> Vec<T> {
        self.events.lock().unwrap().iter().filter_map(f).collect()
    }

    /// The ECS service events reported, in order.
    pub fn service_events(&self) -> Vec<String> {
        self.pick(|e| match e {
            Event::ServiceEvent { message, .. } => Some(message.clone()),
            _ => None,
        })
    }

    /// The warnings reported.
    pub fn warnings(&self) -> Vec<String> {
        self.pick(|e| match e {
            Event::Warning { message } => Some(message.clone()),
            _ => None,
        })
    }

    /// The steps reported, as `step: detail`.
    pub fn steps(&self) -> Vec<String> {
        self.pick(|e| match e {
            Event::Step { step, detail } => Some(format!("{step}: {detail}")),
            _ => None,
        })
    }

    /// The countdowns of timed watches, as (what, seconds left, what the checks read last).
    pub fn countdowns(&self) -> Vec<(String, u64, Option<String>)> {
        self.pick(|e| match e {
            Event::Countdown {
                what,
                remaining_secs,
                last,
            } => Some((what.clone(), *remaining_secs, last.clone())),
            _ => None,
        })
    }

    /// The percentages a long AWS operation reported.
    pub fn percents(&self) -> Vec<i32> {
        self.pick(|e| match e {
            Event::Percent { percent, .. } => Some(*percent),
            _ => None,
        })
    }
}

/// The first (or only) environment of a config text.
pub fn env(text: &str) -> EnvConfig {
    Config::parse("opsctl.toml".as_ref(), text)
        .unwrap()
        .envs
        .into_values()
        .next()
        .unwrap()
}

/// The bad-input error (exit 2) an error must be.
pub fn user_error(err: anyhow::Error) -> UserError {
    err.downcast::<UserError>()
        .expect("bad input is a UserError (exit 2)")
}

/// The call names (`ecs:UpdateService`) of a list of calls as plans and the fake write them.
pub fn call_names<S: AsRef<str>>(calls: &[S]) -> std::collections::BTreeSet<String> {
    calls
        .iter()
        .filter_map(|c| c.as_ref().split_whitespace().next().map(str::to_owned))
        .collect()
}

/// A deploy of `version` as the workflow tests make it: waiting, rolling back, a 2-minute
/// timeout polled every second, by `tester`.
pub fn deploy_opts(version: &str) -> crate::workflows::deploy::Options {
    crate::workflows::deploy::Options {
        version: version.into(),
        dry_run: false,
        no_wait: false,
        no_rollback: false,
        ignore_alarms: false,
        timeout: std::time::Duration::from_secs(120),
        poll: std::time::Duration::from_secs(1),
        actor: "tester".into(),
        wait_until: None,
    }
}
