//! Notifications of the commands that change an environment: a small JSON document to each of
//! the env's `notify` targets when the command starts, at each traffic step, and when it ends.
//!
//! The notices are sent beside the work, never in its way: a queue and one task that delivers
//! them in order. A notice that cannot be delivered is a warning, never a failed command:
//! each attempt is bounded in time, tried at most twice, and a target that failed is tried
//! once from then on; at the end the command waits for the last notices a few seconds at
//! most, so a dead webhook adds seconds to a command, not minutes.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{Event, Outcome, Reporter};
use crate::aws::{Notifier, NotifyTarget};
use crate::error::Exit;

/// How long one delivery may take.
pub const TIMEOUT: Duration = Duration::from_secs(2);
/// How often a notice is tried while its target has not failed yet.
pub const ATTEMPTS: u32 = 2;
/// The pause before the second attempt.
pub const RETRY_AFTER: Duration = Duration::from_millis(300);
/// How long the end of a command waits for its last notices.
pub const DRAIN: Duration = Duration::from_secs(5);

/// What every notice of one command says the same.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct About {
    pub env: String,
    /// `deploy`, `rollback`, `traffic`, `scale`, ...
    pub command: String,
    /// The env's services.
    pub services: Vec<String>,
    /// The version asked for, where the command names one.
    pub version: Option<String>,
    /// Who runs it (the actor the deploy records).
    pub who: String,
    /// The CI run's page, when there is one.
    pub ci_run: Option<String>,
}

/// The CI run's page from GitHub Actions' variables (`GITHUB_SERVER_URL`,
/// `GITHUB_REPOSITORY`, `GITHUB_RUN_ID`), when all are set.
pub fn ci_run(var: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let server = var("GITHUB_SERVER_URL")?;
    let repo = var("GITHUB_REPOSITORY")?;
    let run = var("GITHUB_RUN_ID")?;
    Some(format!(
        "{}/{repo}/actions/runs/{run}",
        server.trim_end_matches('/')
    ))
}

/// What a dry run (or `plan`) says instead of notifying: where the notices would go.
pub fn would_send(targets: &[NotifyTarget]) -> Option<String> {
    if targets.is_empty() {
        return None;
    }
    let shown: Vec<String> = targets.iter().map(NotifyTarget::shown).collect();
    Some(format!(
        "would notify {} (start, each traffic step, end); nothing sent",
        shown.join(", ")
    ))
}

/// How a command ended, as its last notice says it.
#[derive(Debug, Clone, PartialEq)]
pub struct End {
    /// `succeeded`, `failed`, `rolled_back`, `timed_out`, `interrupted`, `refused`.
    pub event: &'static str,
    pub exit_code: u8,
    /// The result's first line.
    pub text: String,
    /// The outcome's own word for it (`deployed`, `rolled_back`, ...), and its from and to.
    pub fields: Value,
}

/// The event a command's end is, from its exit code: the one mapping of how it ended.
fn ended(exit: Exit) -> &'static str {
    match exit {
        Exit::Ok => "succeeded",
        Exit::BadInput => "refused",
        Exit::RolledBack => "rolled_back",
        Exit::TimedOut => "timed_out",
        Exit::Interrupted => "interrupted",
        Exit::Failed | Exit::Passed(_) => "failed",
    }
}

/// `{revision, version}` of a revision as outcomes serialize it; a colour or a count as it is.
fn revision(v: Option<&Value>) -> Value {
    match v {
        Some(Value::Object(r)) if r.contains_key("task_definition") => json!({
            "revision": r.get("task_definition"),
            "version": r.get("version"),
        }),
        Some(other) => other.clone(),
        None => Value::Null,
    }
}

impl End {
    /// The end of a command that returned its outcome: read from what the outcome says of
    /// itself (its JSON), so every outcome's from, to and result is defined once, there.
    pub fn of<T: Outcome>(out: &T) -> End {
        let exit = out.exit();
        let v = serde_json::to_value(out).unwrap_or_default();
        let pick = |keys: &[&str]| keys.iter().find_map(|k| v.get(*k)).cloned();
        let mut fields = json!({
            "outcome": pick(&["result", "action"]),
            "from": revision(v.get("from").or(v.get("desired_from"))),
            "to": revision(v.get("to").or(v.get("desired_to"))),
            "reason": v.get("reason"),
        });
        if let (Some(service), Some(map)) = (v.get("service"), fields.as_object_mut()) {
            map.insert("services".into(), json!([service]));
        }
        if let (Some(version @ Value::String(_)), Some(map)) =
            (v.get("version"), fields.as_object_mut())
        {
            map.insert("version".into(), version.clone());
        }
        End {
            event: ended(exit),
            exit_code: exit.code(),
            text: out
                .to_string()
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned(),
            fields,
        }
    }

    /// The end of a command stopped by an error: bad input, an interrupt, or a failure
    /// before any change (workflows that changed something end with an outcome instead).
    pub fn of_error(e: &anyhow::Error) -> End {
        let exit = if e.downcast_ref::<crate::error::UserError>().is_some() {
            Exit::BadInput
        } else if e.downcast_ref::<crate::error::Interrupted>().is_some() {
            Exit::Interrupted
        } else {
            Exit::Failed
        };
        End {
            event: ended(exit),
            exit_code: exit.code(),
            text: format!("stopped: {e:#}"),
            fields: json!({ "outcome": "error", "reason": format!("{e:#}") }),
        }
    }
}

/// One notice for the queue.
struct Notice {
    event: &'static str,
    doc: Value,
    subject: String,
}

/// A notice that was not delivered: which target, which notice, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    pub index: usize,
    pub target: String,
    pub event: &'static str,
    pub why: String,
}

/// The notices of one command: started at once, delivered in order beside the work.
pub struct Notices {
    about: About,
    started: Instant,
    queue: Option<mpsc::UnboundedSender<Notice>>,
    task: Option<tokio::task::JoinHandle<Vec<Failed>>>,
    /// Where a traffic step was last seen (native: the production traffic), to notify each
    /// step once.
    last_step: std::sync::Mutex<Option<String>>,
}

impl Notices {
    /// Queues the `started` notice to every target and starts delivering. Without targets,
    /// nothing is sent and nothing runs.
    pub fn start(notifier: Arc<dyn Notifier>, targets: &[NotifyTarget], about: About) -> Notices {
        let mut notices = Notices {
            about,
            started: Instant::now(),
            queue: None,
            task: None,
            last_step: std::sync::Mutex::new(None),
        };
        if targets.is_empty() {
            return notices;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        notices.task = Some(tokio::spawn(deliver_all(notifier, targets.to_vec(), rx)));
        notices.queue = Some(tx);
        let what = notices.what();
        notices.push(
            "started",
            format!("{what} started by {}", notices.about.who),
            json!({}),
        );
        notices
    }

    /// `deploy v1.2.0 to prod`, `rollback of prod`.
    fn what(&self) -> String {
        match &self.about.version {
            Some(v) => format!("{} {v} to {}", self.about.command, self.about.env),
            None => format!("{} of {}", self.about.command, self.about.env),
        }
    }

    fn push(&self, event: &'static str, text: String, fields: Value) {
        let Some(queue) = &self.queue else {
            return;
        };
        let mut doc = json!({
            "event": event,
            "text": text,
            "env": self.about.env,
            "command": self.about.command,
            "services": self.about.services,
            "version": self.about.version,
            "from": null,
            "to": null,
            "who": self.about.who,
            "outcome": null,
            "exit_code": null,
            "duration_secs": (self.started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
            "ci_run": self.about.ci_run,
            "at": jiff::Timestamp::now().to_string(),
        });
        if let (Some(doc), Value::Object(fields)) = (doc.as_object_mut(), fields) {
            doc.extend(fields);
        }
        // An SNS subject: one line of at most 100 characters.
        let subject = text.chars().filter(|c| !c.is_control()).take(100).collect();
        let _ = queue.send(Notice {
            event,
            doc,
            subject,
        });
    }

    /// A traffic step the work reported: notified once per step.
    fn step(&self, step: &str, detail: &str) {
        let what = match step {
            "traffic" => detail.to_owned(),
            // A native deployment's stage line names its production traffic, once ECS moves
            // some: each new share is a step.
            "stage" => match detail.find("production traffic") {
                Some(at) => detail[at..].to_owned(),
                None => return,
            },
            _ => return,
        };
        {
            let mut last = self.last_step.lock().unwrap();
            if last.as_deref() == Some(what.as_str()) {
                return;
            }
            *last = Some(what.clone());
        }
        let text = format!("{}: {what}", self.what());
        self.push("step", text, json!({ "step": what }));
    }

    /// The reporter the work reports through: every event passed on to `inner`, each
    /// traffic step notified.
    pub fn reporter<'a>(&'a self, inner: &'a dyn Reporter) -> impl Reporter + 'a {
        Relay {
            inner,
            notices: self,
        }
    }

    /// Queues the last notice, waits for the queue to be delivered (at most [`DRAIN`]), and
    /// warns of every notice that was not.
    pub async fn finish(mut self, end: End, reporter: &dyn Reporter) {
        let Some(task) = self.task.take() else {
            return;
        };
        let text = format!("{}: {}", self.what(), end.text);
        let mut fields = end.fields.clone();
        if let Some(map) = fields.as_object_mut() {
            map.insert("exit_code".into(), end.exit_code.into());
        }
        self.push(end.event, text, fields);
        // Closing the queue ends the delivery task once it has delivered what is in it.
        drop(self.queue.take());
        let env = self.about.env.clone();
        match tokio::time::timeout(DRAIN, task).await {
            Ok(Ok(failed)) => {
                for f in failed {
                    reporter.warn(format!(
                        "notification `{}` to env.{env}.notify[{}] ({}) not sent: {}; the command's result stands",
                        f.event, f.index, f.target, f.why
                    ));
                }
            }
            Ok(Err(e)) => reporter.warn(format!("notifications stopped: {e}")),
            Err(_) => reporter.warn(format!(
                "notifications still undelivered after {}s were dropped; the command's result stands",
                DRAIN.as_secs()
            )),
        }
    }
}

/// Delivers each notice in order to every target (the targets at once), until the queue
/// closes; returns what failed.
async fn deliver_all(
    notifier: Arc<dyn Notifier>,
    targets: Vec<NotifyTarget>,
    mut rx: mpsc::UnboundedReceiver<Notice>,
) -> Vec<Failed> {
    let mut down = vec![false; targets.len()];
    let mut failed = Vec::new();
    while let Some(notice) = rx.recv().await {
        let body = notice.doc.to_string();
        let mut tries = tokio::task::JoinSet::new();
        for (i, target) in targets.iter().enumerate() {
            let attempts = if down[i] { 1 } else { ATTEMPTS };
            let (notifier, target, subject, body) = (
                notifier.clone(),
                target.clone(),
                notice.subject.clone(),
                body.clone(),
            );
            tries.spawn(async move {
                let result = deliver(notifier.as_ref(), &target, &subject, &body, attempts).await;
                (i, target, result)
            });
        }
        let mut results = tries.join_all().await;
        results.sort_by_key(|r| r.0);
        for (i, target, result) in results {
            if let Err(why) = result {
                down[i] = true;
                failed.push(Failed {
                    index: i,
                    target: target.shown(),
                    event: notice.event,
                    why,
                });
            }
        }
    }
    failed
}

/// One notice to one target: each attempt bounded by [`TIMEOUT`].
async fn deliver(
    notifier: &dyn Notifier,
    target: &NotifyTarget,
    subject: &str,
    body: &str,
    attempts: u32,
) -> Result<(), String> {
    let mut last = String::new();
    for n in 0..attempts {
        if n > 0 {
            tokio::time::sleep(RETRY_AFTER).await;
        }
        match tokio::time::timeout(TIMEOUT, notifier.deliver(target, subject, body)).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(why)) => last = why,
            Err(_) => last = format!("no answer within {}s", TIMEOUT.as_secs()),
        }
    }
    Err(if attempts > 1 {
        format!("{last} (tried {attempts} times)")
    } else {
        last
    })
}

/// Passes every event on, and hands each traffic step to the notices.
struct Relay<'a> {
    inner: &'a dyn Reporter,
    notices: &'a Notices,
}

impl Reporter for Relay<'_> {
    fn report(&self, event: Event) {
        if let Event::Step { step, detail } = &event {
            self.notices.step(step, detail);
        }
        self.inner.report(event);
    }

    fn confirm(&self, question: &str) -> anyhow::Result<bool> {
        self.inner.confirm(question)
    }
}
