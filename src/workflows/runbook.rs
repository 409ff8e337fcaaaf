//! Running a runbook: each step in turn, asked for where the run is interactive, its command
//! run by a [`StepRunner`], and a transcript kept after every step. The state machine lives
//! here, behind three small traits, so that every way a run can end (completed, a step
//! failed, the operator stopped it, Ctrl-C) is tested in milliseconds; `commands::runbook`
//! finds, fills and checks the runbook and implements the traits.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use jiff::Timestamp;
use serde::Serialize;
use tokio::time::Instant;

use super::{Interrupt, Outcome};
use crate::error::Exit;

/// The answer to "run this step?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Run,
    Skip,
    Stop,
}

/// The person at the run: sees each step, answers for it, and is told how to carry on.
pub trait Operator: Send + Sync {
    /// A step: its number, title, prose and (filled) command.
    fn show_step(
        &self,
        number: usize,
        total: usize,
        title: &str,
        text: &str,
        command: Option<&str>,
    );
    /// A remark about the step just shown.
    fn note(&self, text: &str);
    /// A step's command ended with `code` after `seconds`.
    fn step_done(&self, number: usize, code: u8, seconds: f64);
    /// The run stopped: what happened, what to do, and the command line that resumes it.
    fn next(&self, what: &str, advice: &str, resume: &str);
    /// Run, skip or stop the step?
    fn ask_step(&self, number: usize) -> anyhow::Result<Answer>;
    /// After a step done by hand: go on?
    fn ask_done(&self, number: usize) -> anyhow::Result<bool>;
}

/// Runs the command of the step at `index` (of the plan) and returns its exit code.
/// `confirmed`: the person was shown the step and answered "run" for it.
#[async_trait]
pub trait StepRunner: Send + Sync {
    async fn run(&self, index: usize, confirmed: bool) -> Exit;
}

/// Keeps the transcript: called before the first step and after every step.
pub trait Keeper: Send + Sync {
    fn save(&self, transcript: &Transcript);
}

/// What a planned step does when it is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Runs its command.
    Command,
    /// Done by hand: shown, then (interactively) "done?".
    ByHand,
    /// A dry run, and the command has no `--dry-run`: shown, not run.
    NotInDryRun,
}

/// A step ready to run, placeholders filled.
#[derive(Debug, Clone)]
pub struct Planned {
    pub number: usize,
    pub title: String,
    pub text: String,
    /// The command line as it will run, unless the step is done by hand.
    pub command: Option<String>,
    pub action: Action,
}

/// How to run.
pub struct Options<'a> {
    /// Ask before each step.
    pub interactive: bool,
    /// The first step to run (1-based); earlier ones are marked `before-from`.
    pub from: usize,
    /// The command line that resumes the run at a step.
    pub resume: &'a (dyn Fn(usize) -> String + Sync),
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunEnd {
    Running,
    Completed,
    Failed,
    Stopped,
    Interrupted,
}

/// What became of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    NotReached,
    /// Before `--from`: not run in this run.
    BeforeFrom,
    Running,
    Succeeded,
    Failed,
    Skipped,
    Stopped,
    /// Done by hand: shown, not run.
    ByHand,
    /// A dry run, and the command has no `--dry-run`.
    NotRunDryRun,
}

/// The record of a run, written as JSON next to the text output.
#[derive(Debug, Clone, Serialize)]
pub struct Transcript {
    pub runbook: String,
    pub title: String,
    pub source: String,
    pub env: String,
    pub values: BTreeMap<String, String>,
    pub dry_run: bool,
    pub from: usize,
    pub started_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub outcome: RunEnd,
    /// Why the run ended before its last step: `stopped by the user at step 3`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub exit_code: Option<u8>,
    #[serde(skip)]
    pub exit: Exit,
    /// The command line that resumes the run, when it did not complete.
    pub resume: Option<String>,
    /// Where this transcript is written.
    pub transcript: String,
    pub steps: Vec<StepRecord>,
}

/// One step in the transcript.
#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    pub number: usize,
    pub title: String,
    /// The command as run (placeholders filled), unless the step is done by hand.
    pub command: Option<String>,
    pub status: StepStatus,
    pub exit_code: Option<u8>,
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
}

impl StepRecord {
    /// A step not reached yet.
    pub fn of(step: &Planned) -> Self {
        StepRecord {
            number: step.number,
            title: step.title.clone(),
            command: step.command.clone(),
            status: StepStatus::NotReached,
            exit_code: None,
            started_at: None,
            ended_at: None,
        }
    }
}

/// Runs the plan's steps from `opts.from` on, and returns the finished transcript.
pub async fn run(
    mut t: Transcript,
    plan: &[Planned],
    opts: &Options<'_>,
    runner: &dyn StepRunner,
    operator: &dyn Operator,
    keeper: &dyn Keeper,
    interrupt: &Interrupt,
) -> anyhow::Result<Transcript> {
    let total = plan.len();
    let resume = opts.resume;
    let mut exit = Exit::Ok;
    // Whether a step has run a command: from then on the runbook may have changed things,
    // and its exit code must not be 2 ("nothing changed").
    let mut ran = false;
    for (i, step) in plan.iter().enumerate() {
        if step.number < opts.from {
            t.steps[i].status = StepStatus::BeforeFrom;
            continue;
        }
        operator.show_step(
            step.number,
            total,
            &step.title,
            &step.text,
            step.command.as_deref(),
        );
        match step.action {
            Action::NotInDryRun => {
                operator.note("not run in a dry run: the command has no --dry-run");
                t.steps[i].status = StepStatus::NotRunDryRun;
                continue;
            }
            Action::ByHand => {
                t.steps[i].status = StepStatus::ByHand;
                if opts.interactive && !operator.ask_done(step.number)? {
                    exit = stopped_by_user(&mut t, i, step.number, resume, operator);
                    break;
                }
                keeper.save(&t);
                continue;
            }
            Action::Command => {}
        }
        if opts.interactive {
            let answer = operator.ask_step(step.number)?;
            // Ctrl-C at the question: the step must not start.
            if interrupt.is_raised() {
                t.steps[i].status = StepStatus::Stopped;
                t.resume = Some(resume(step.number));
                t.outcome = RunEnd::Interrupted;
                t.reason = Some(format!("interrupted at step {}", step.number));
                exit = Exit::Interrupted;
                break;
            }
            match answer {
                Answer::Run => {}
                Answer::Skip => {
                    t.steps[i].status = StepStatus::Skipped;
                    keeper.save(&t);
                    continue;
                }
                Answer::Stop => {
                    exit = stopped_by_user(&mut t, i, step.number, resume, operator);
                    break;
                }
            }
        }

        let begun = Instant::now();
        t.steps[i].started_at = Some(Timestamp::now());
        t.steps[i].status = StepStatus::Running;
        keeper.save(&t);
        // The person answered "run" for this very step, having seen its prose and its
        // command: the runner passes that answer on, so the command does not ask again.
        let code = runner.run(i, opts.interactive).await;
        t.steps[i].ended_at = Some(Timestamp::now());
        t.steps[i].exit_code = Some(code.code());
        operator.step_done(step.number, code.code(), begun.elapsed().as_secs_f64());
        if code == Exit::Ok && !interrupt.is_raised() {
            ran = true;
            t.steps[i].status = StepStatus::Succeeded;
            keeper.save(&t);
            continue;
        }
        let interrupted = code == Exit::Interrupted || interrupt.is_raised();
        t.steps[i].status = if code == Exit::Ok {
            StepStatus::Succeeded
        } else {
            StepStatus::Failed
        };
        // An interrupted step is resumed where it was; a failed one once its cause is fixed.
        let again = if code == Exit::Ok {
            step.number + 1
        } else {
            step.number
        };
        exit = match code {
            Exit::Ok => Exit::Interrupted,
            Exit::BadInput if ran => Exit::Failed,
            code => code,
        };
        t.outcome = if interrupted {
            RunEnd::Interrupted
        } else {
            RunEnd::Failed
        };
        let what = if interrupted {
            format!("interrupted at step {}", step.number)
        } else {
            format!("step {} failed with exit code {}", step.number, code.code())
        };
        t.reason = Some(what.clone());
        if again <= total {
            t.resume = Some(resume(again));
            let advice = if interrupted {
                "read the state above; to carry on"
            } else {
                "read the step's output above and fix the cause; then"
            };
            operator.next(&what, advice, &resume(again));
        }
        break;
    }
    if t.outcome == RunEnd::Running {
        t.outcome = RunEnd::Completed;
    }
    t.ended_at = Some(Timestamp::now());
    t.exit_code = Some(exit.code());
    t.exit = exit;
    keeper.save(&t);
    Ok(t)
}

/// The person stopped the run at a step (`q`, or "not done" after a step by hand): that step
/// and the ones after it did not run. Exit 130, as for Ctrl-C: the run did not get to its
/// end (so not 0, which a script would read as "done"), nothing failed (so not 1), and, as
/// after Ctrl-C, where it stopped and how to resume are printed.
fn stopped_by_user(
    t: &mut Transcript,
    index: usize,
    number: usize,
    resume: &(dyn Fn(usize) -> String + Sync),
    operator: &dyn Operator,
) -> Exit {
    t.steps[index].status = StepStatus::Stopped;
    t.resume = Some(resume(number));
    t.outcome = RunEnd::Stopped;
    t.reason = Some(format!("stopped by the user at step {number}"));
    operator.next(
        &format!("by you at step {number}; it did not run"),
        "when you are ready",
        &resume(number),
    );
    Exit::Interrupted
}

impl Outcome for Transcript {
    fn exit(&self) -> Exit {
        self.exit
    }
}

impl fmt::Display for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = match self.outcome {
            RunEnd::Completed if self.dry_run => "dry run completed",
            RunEnd::Completed => "completed",
            RunEnd::Running => "running",
            RunEnd::Failed => "FAILED",
            RunEnd::Stopped => "stopped",
            RunEnd::Interrupted => "interrupted",
        };
        match (&self.reason, self.outcome) {
            (Some(reason), RunEnd::Stopped | RunEnd::Interrupted) => writeln!(
                f,
                "runbook {} on {}: {reason} (exit {})",
                self.runbook,
                self.env,
                self.exit.code()
            )?,
            _ => writeln!(f, "runbook {} on {}: {verdict}", self.runbook, self.env)?,
        }
        let width = self
            .steps
            .iter()
            .map(|s| s.title.chars().count())
            .max()
            .unwrap_or(0);
        for s in &self.steps {
            let status = match s.status {
                StepStatus::NotReached => "not reached",
                StepStatus::BeforeFrom => "before --from",
                StepStatus::Running => "running",
                StepStatus::Succeeded => "ok",
                StepStatus::Failed => "FAILED",
                StepStatus::Skipped => "skipped",
                StepStatus::Stopped => "stopped here",
                StepStatus::ByHand => "by hand",
                StepStatus::NotRunDryRun => "not run (no --dry-run)",
            };
            let exit = s
                .exit_code
                .map(|c| format!(" (exit {c})"))
                .unwrap_or_default();
            writeln!(f, "  {}. {:<width$}  {status}{exit}", s.number, s.title)?;
        }
        if let Some(resume) = &self.resume {
            writeln!(f, "resume with: {resume}")?;
        }
        write!(f, "transcript written to {}", self.transcript)
    }
}
