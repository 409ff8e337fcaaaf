//! The logic of every command. Workflows take the AWS traits and a [`Reporter`], never
//! print, and return an outcome that is `Serialize + Display`.

use std::fmt;

use jiff::Timestamp;
use serde::Serialize;
use tokio::sync::watch;

use crate::aws::RolloutState;

pub mod analysis;
pub mod db;
pub mod deploy;
pub mod drift;
pub mod inspect;
pub mod lock;
pub mod logs;
pub mod native;
pub mod notify;
pub mod pace;
pub mod preflight;
pub mod retire;
pub mod rollback;
pub mod run;
pub mod runbook;
pub mod scale;
pub mod traffic;
pub mod wait;

#[cfg(test)]
mod tests;

/// Something a workflow wants the user to see while it runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A step begins (`register`, `update`, `wait`, `bake`, `rollback`, ...).
    Step { step: String, detail: String },
    /// A check finished.
    Check(Check),
    /// Counts of one service, each poll.
    Progress {
        service: String,
        running: i32,
        desired: i32,
        pending: i32,
        rollout: Option<RolloutState>,
        /// Healthy and registered targets, once counts have converged.
        targets: Option<(usize, usize)>,
    },
    /// A new line from the service's ECS event log.
    ServiceEvent {
        service: String,
        at: Timestamp,
        message: String,
    },
    /// A line a container logged (a one-off task's, as it runs).
    Log {
        source: String,
        at: Timestamp,
        message: String,
    },
    /// Something the user should know that does not stop the workflow.
    Warning { message: String },
    /// A long wait begins; the UI shows a spinner until `WaitEnd`.
    WaitStart { what: String, timeout_secs: u64 },
    /// The wait ended.
    WaitEnd,
    /// How far a long AWS operation (a database snapshot) has got, in percent.
    Percent { what: String, percent: i32 },
    /// A timed watch (the bake, a traffic step's interval) goes on: how long is left, and
    /// what its checks read last.
    Countdown {
        what: String,
        remaining_secs: u64,
        last: Option<String>,
    },
}

/// What a workflow returns: a value for `--output json`, a text for people, and the exit
/// code it means. The one mapping from how a command ended to its exit code; errors that end
/// a command before any outcome are sorted by `commands::sort_error`.
pub trait Outcome: Serialize + fmt::Display {
    fn exit(&self) -> crate::error::Exit;
}

/// Receives a workflow's events. The CLI renders them; tests record them.
pub trait Reporter: Send + Sync {
    fn report(&self, event: Event);

    /// Asks before a change to a prod-like environment. The CLI answers from `--yes`, a
    /// prompt on a terminal, or refuses (a `UserError`) with no terminal.
    fn confirm(&self, question: &str) -> anyhow::Result<bool>;

    /// Shorthand for [`Event::Step`].
    fn step(&self, step: &str, detail: String) {
        self.report(Event::Step {
            step: step.to_owned(),
            detail,
        });
    }

    /// Shorthand for [`Event::Warning`].
    fn warn(&self, message: String) {
        self.report(Event::Warning { message });
    }
}

/// The result of one preflight check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
    /// Passed, but with something a person should know before going on (drift carried over,
    /// alarms ignored): said again in the result.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub warning: bool,
    /// How to fix a failed check, or what to do about a warning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// What the image scan found (the `scan` check only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan: Option<preflight::ScanSummary>,
}

impl Check {
    pub fn pass(name: &str, detail: impl Into<String>) -> Self {
        Check {
            name: name.to_owned(),
            ok: true,
            detail: detail.into(),
            warning: false,
            hint: None,
            scan: None,
        }
    }

    /// Passed, with a warning and what to do about it.
    pub fn warn(name: &str, detail: impl Into<String>, hint: impl Into<String>) -> Self {
        Check {
            name: name.to_owned(),
            ok: true,
            detail: detail.into(),
            warning: true,
            hint: Some(hint.into()),
            scan: None,
        }
    }

    pub fn fail(name: &str, detail: impl Into<String>, hint: impl Into<String>) -> Self {
        Check {
            name: name.to_owned(),
            ok: false,
            detail: detail.into(),
            warning: false,
            hint: Some(hint.into()),
            scan: None,
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = match (self.ok, self.warning) {
            (true, false) => "ok  ",
            (true, true) => "warn",
            (false, _) => "FAIL",
        };
        write!(f, "{mark} {:<10} {}", self.name, self.detail)?;
        if let Some(hint) = &self.hint {
            let label = if self.ok { "note" } else { "fix" };
            write!(f, "\n     {label}: {hint}")?;
        }
        Ok(())
    }
}

/// Ctrl-C, seen by workflows only where stopping is safe: while waiting, never in the
/// middle of a call that changes AWS.
#[derive(Clone)]
pub struct Interrupt(watch::Receiver<bool>);

/// The side that raises an [`Interrupt`].
pub struct InterruptHandle(watch::Sender<bool>);

impl InterruptHandle {
    pub fn raise(&self) {
        let _ = self.0.send(true);
    }
}

impl Interrupt {
    pub fn new() -> (InterruptHandle, Interrupt) {
        let (tx, rx) = watch::channel(false);
        (InterruptHandle(tx), Interrupt(rx))
    }

    /// Whether Ctrl-C has been pressed.
    pub fn is_raised(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves when Ctrl-C is pressed; never, if the handle is gone without raising.
    pub async fn raised(&mut self) {
        loop {
            if *self.0.borrow_and_update() {
                return;
            }
            if self.0.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Who is making a change, for tags, history and the deploy lock, the first that is known:
/// the GitHub Actions actor (`GITHUB_ACTOR`), the local user (`USER` or `USERNAME`, with
/// `HOSTNAME`), the AWS caller the credentials belong to (`sts:GetCallerIdentity`, which
/// needs no permission), else `unknown`, as the README says under "Install".
pub async fn actor(
    aws: &crate::aws::Aws,
    named: Option<String>,
    reporter: &dyn Reporter,
) -> String {
    if let Some(who) = named {
        return who;
    }
    match aws.identity.caller_arn().await {
        Ok(arn) => caller_name(&arn),
        Err(e) => {
            reporter.warn(format!(
                "{e}; recording this change as made by `unknown` (set USER, or GITHUB_ACTOR in CI)"
            ));
            "unknown".into()
        }
    }
}

/// The actor the process environment names, if it names one (for [`actor`]).
pub fn named_actor(var: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    if let Some(actor) = var("GITHUB_ACTOR") {
        return Some(format!("{actor} (GitHub Actions)"));
    }
    let user = var("USER").or_else(|| var("USERNAME"))?;
    Some(match var("HOSTNAME") {
        Some(host) => format!("{user}@{host}"),
        None => user,
    })
}

/// `arn:aws:sts::123456789012:assumed-role/deployer/ci-1234` → `assumed-role/deployer/ci-1234
/// (AWS 123456789012)`: the identity without the ARN's fixed parts.
fn caller_name(arn: &str) -> String {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        [_, _, _, _, account, resource] if !resource.is_empty() => {
            format!("{resource} (AWS {account})")
        }
        _ => arn.to_owned(),
    }
}

pub use crate::aws::tags;

/// Asks before a change where the env wants it; a "no" is bad input and nothing changed.
/// Every workflow calls it right before its first change, so it is also where Ctrl-C pressed
/// during the preflight (or at the question) stops the command with nothing changed.
pub fn confirm_change(
    env: &crate::config::EnvConfig,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
    question: &str,
) -> anyhow::Result<()> {
    let stop = || -> anyhow::Result<()> {
        if interrupt.is_raised() {
            return Err(crate::error::Interrupted(format!(
                "interrupted before any change; nothing changed in {}",
                env.name
            ))
            .into());
        }
        Ok(())
    };
    stop()?;
    let yes = !env.confirm || reporter.confirm(question)?;
    stop()?;
    if !yes {
        return Err(crate::error::UserError::new(format!(
            "not confirmed; nothing changed in {}",
            env.name
        ))
        .hint("run it again and answer yes, or pass --yes")
        .into());
    }
    Ok(())
}

/// One service of the env's cluster; a missing one is bad input that names the config keys.
pub async fn describe_one(
    aws: &crate::aws::Aws,
    env: &crate::config::EnvConfig,
    service: &str,
) -> anyhow::Result<crate::aws::Service> {
    match aws
        .ecs
        .describe_services(&env.cluster, &[service.to_owned()])
        .await
    {
        Ok(mut found) if !found.is_empty() => Ok(found.remove(0)),
        Ok(_) | Err(crate::aws::AwsError::NotFound(..)) => Err(service_not_found(env, service)),
        Err(e) => Err(e.into()),
    }
}

/// A service the env names is not in its cluster: what to say, and the config keys to fix.
pub fn service_missing(env: &crate::config::EnvConfig, service: &str) -> (String, String) {
    (
        format!("service {service} not found in cluster {}", env.cluster),
        format!(
            "check `cluster` and the service for env.{} in opsctl.toml",
            env.name
        ),
    )
}

/// [`service_missing`] as the bad-input error (exit 2) it is.
pub fn service_not_found(env: &crate::config::EnvConfig, service: &str) -> anyhow::Error {
    let (message, hint) = service_missing(env, service);
    crate::error::UserError::new(message).hint(hint).into()
}

/// The name of the container deploys change, by the one rule
/// ([`crate::aws::TaskDefinition::container_for`]); empty where the rule names none, and then
/// a revision's version is read from its tag alone.
pub fn container_of(env: &crate::config::EnvConfig, td: &crate::aws::TaskDefinition) -> String {
    td.container_for(env.container.as_deref())
        .map(|c| c.name.clone())
        .unwrap_or_default()
}

/// The version a revision runs: its opsctl tag, else the image tag of the container.
pub fn version_of(td: &crate::aws::TaskDefinition, container: &str) -> String {
    if let Some(v) = td.tags.get(tags::VERSION) {
        return v.clone();
    }
    td.image_of(container)
        .map(image_tag)
        .unwrap_or("unknown")
        .to_owned()
}

/// The tag (or digest) part of an image reference.
pub fn image_tag(image: &str) -> &str {
    if let Some((_, digest)) = image.split_once('@') {
        return digest;
    }
    match image.rsplit_once(':') {
        // A colon before the last slash is a registry port, not a tag.
        Some((_, tag)) if !tag.contains('/') => tag,
        _ => "latest",
    }
}
