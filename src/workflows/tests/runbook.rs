//! The runbook executor's state machine: every way a run ends, with a scripted operator and
//! scripted step results, in milliseconds.

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::error::Exit;
use crate::workflows::Interrupt;
use crate::workflows::runbook::*;

/// Answers as scripted, and remembers what it was shown and told.
#[derive(Default)]
struct Script {
    answers: Mutex<VecDeque<Answer>>,
    done: Mutex<VecDeque<bool>>,
    shown: Mutex<Vec<usize>>,
    told: Mutex<Vec<String>>,
}

impl Operator for Script {
    fn show_step(&self, number: usize, _: usize, _: &str, _: &str, _: Option<&str>) {
        self.shown.lock().unwrap().push(number);
    }
    fn note(&self, _: &str) {}
    fn step_done(&self, _: usize, _: u8, _: f64) {}
    fn next(&self, what: &str, _: &str, resume: &str) {
        self.told.lock().unwrap().push(format!("{what} | {resume}"));
    }
    fn ask_step(&self, _: usize) -> anyhow::Result<Answer> {
        Ok(self
            .answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Answer::Stop))
    }
    fn ask_done(&self, _: usize) -> anyhow::Result<bool> {
        Ok(self.done.lock().unwrap().pop_front().unwrap_or(false))
    }
}

/// Step results by plan index; records which ran. Raises Ctrl-C after a step if told.
struct Results {
    codes: Vec<Exit>,
    ran: Mutex<Vec<usize>>,
    /// Whether each step that ran was run as confirmed by the person.
    confirmed: Mutex<Vec<bool>>,
    interrupt_after: Option<(usize, crate::workflows::InterruptHandle)>,
}

#[async_trait]
impl StepRunner for Results {
    async fn run(&self, index: usize, confirmed: bool) -> Exit {
        self.ran.lock().unwrap().push(index);
        self.confirmed.lock().unwrap().push(confirmed);
        if let Some((at, handle)) = &self.interrupt_after
            && *at == index
        {
            handle.raise();
        }
        self.codes[index]
    }
}

#[derive(Default)]
struct Saves(Mutex<Vec<RunEnd>>);

impl Keeper for Saves {
    fn save(&self, t: &Transcript) {
        self.0.lock().unwrap().push(t.outcome);
    }
}

fn plan(actions: &[Action]) -> Vec<Planned> {
    actions
        .iter()
        .enumerate()
        .map(|(i, a)| Planned {
            number: i + 1,
            title: format!("step {}", i + 1),
            text: String::new(),
            command: (*a != Action::ByHand).then(|| format!("status prod # {}", i + 1)),
            action: *a,
        })
        .collect()
}

fn transcript(plan: &[Planned]) -> Transcript {
    Transcript {
        runbook: "rb".into(),
        title: "A runbook".into(),
        source: "built in".into(),
        env: "prod".into(),
        values: Default::default(),
        dry_run: false,
        from: 1,
        started_at: jiff::Timestamp::now(),
        ended_at: None,
        outcome: RunEnd::Running,
        reason: None,
        exit_code: None,
        exit: Exit::Ok,
        resume: None,
        transcript: "t.json".into(),
        steps: plan.iter().map(StepRecord::of).collect(),
    }
}

struct Run {
    out: Transcript,
    ran: Vec<usize>,
    confirmed: Vec<bool>,
    told: Vec<String>,
    saves: Vec<RunEnd>,
}

async fn go(
    actions: &[Action],
    codes: &[Exit],
    interactive: bool,
    from: usize,
    op: Script,
    interrupt_after: Option<usize>,
) -> Run {
    let plan = plan(actions);
    let (handle, interrupt) = Interrupt::new();
    let runner = Results {
        codes: codes.to_vec(),
        ran: Mutex::new(Vec::new()),
        confirmed: Mutex::new(Vec::new()),
        interrupt_after: interrupt_after.map(|i| (i, handle)),
    };
    let saves = Saves::default();
    let resume = |step: usize| format!("opsctl runbook run rb --env prod --from {step}");
    let out = run(
        transcript(&plan),
        &plan,
        &Options {
            interactive,
            from,
            resume: &resume,
        },
        &runner,
        &op,
        &saves,
        &interrupt,
    )
    .await
    .unwrap();
    Run {
        out,
        ran: runner.ran.into_inner().unwrap(),
        confirmed: runner.confirmed.into_inner().unwrap(),
        told: op.told.into_inner().unwrap(),
        saves: saves.0.into_inner().unwrap(),
    }
}

fn statuses(t: &Transcript) -> Vec<StepStatus> {
    t.steps.iter().map(|s| s.status).collect()
}

use Action::{ByHand, Command};

#[tokio::test(start_paused = true)]
async fn every_step_runs_and_the_run_completes() {
    let r = go(
        &[Command, ByHand, Command],
        &[Exit::Ok, Exit::Ok, Exit::Ok],
        false,
        1,
        Script::default(),
        None,
    )
    .await;
    assert_eq!(r.out.outcome, RunEnd::Completed);
    assert_eq!(r.out.exit, Exit::Ok);
    assert_eq!(r.ran, vec![0, 2]);
    assert_eq!(
        statuses(&r.out),
        vec![
            StepStatus::Succeeded,
            StepStatus::ByHand,
            StepStatus::Succeeded
        ]
    );
    assert_eq!(r.out.resume, None);
    assert_eq!(r.saves.last(), Some(&RunEnd::Completed), "saved at the end");
}

#[tokio::test(start_paused = true)]
async fn bad_input_after_a_change_is_a_failure_not_nothing_changed() {
    let r = go(
        &[Command, Command, Command],
        &[Exit::Ok, Exit::BadInput, Exit::Ok],
        false,
        1,
        Script::default(),
        None,
    )
    .await;
    assert_eq!(r.out.outcome, RunEnd::Failed);
    assert_eq!(r.out.exit, Exit::Failed, "step 1 may have changed things");
    assert_eq!(r.ran, vec![0, 1], "nothing after the failed step");
    assert_eq!(
        r.out.resume.as_deref(),
        Some("opsctl runbook run rb --env prod --from 2"),
        "a failed step is resumed once fixed"
    );
    assert_eq!(statuses(&r.out)[2], StepStatus::NotReached);
}

#[tokio::test(start_paused = true)]
async fn bad_input_at_the_first_step_means_nothing_changed() {
    let r = go(
        &[Command, Command],
        &[Exit::BadInput, Exit::Ok],
        false,
        1,
        Script::default(),
        None,
    )
    .await;
    assert_eq!(r.out.exit, Exit::BadInput);
}

#[tokio::test(start_paused = true)]
async fn a_rolled_back_step_keeps_its_exit_code() {
    let r = go(
        &[Command, Command],
        &[Exit::Ok, Exit::RolledBack],
        false,
        1,
        Script::default(),
        None,
    )
    .await;
    assert_eq!(r.out.exit, Exit::RolledBack);
    assert_eq!(r.out.outcome, RunEnd::Failed);
}

#[tokio::test(start_paused = true)]
async fn the_operator_skips_then_stops_and_is_told_how_to_resume() {
    let op = Script::default();
    op.answers
        .lock()
        .unwrap()
        .extend([Answer::Run, Answer::Skip, Answer::Stop]);
    let r = go(
        &[Command, Command, Command, Command],
        &[Exit::Ok; 4],
        true,
        1,
        op,
        None,
    )
    .await;
    assert_eq!(r.ran, vec![0]);
    assert_eq!(
        statuses(&r.out),
        vec![
            StepStatus::Succeeded,
            StepStatus::Skipped,
            StepStatus::Stopped,
            StepStatus::NotReached
        ]
    );
    assert_eq!(r.out.outcome, RunEnd::Stopped);
    assert_eq!(
        r.out.exit,
        Exit::Interrupted,
        "a stop by the person exits 130"
    );
    assert_eq!(r.out.exit.code(), 130);
    assert_eq!(
        r.out.reason.as_deref(),
        Some("stopped by the user at step 3")
    );
    assert_eq!(
        r.told,
        vec!["by you at step 3; it did not run | opsctl runbook run rb --env prod --from 3"]
    );
    let text = r.out.to_string();
    assert!(
        text.starts_with("runbook rb on prod: stopped by the user at step 3 (exit 130)\n"),
        "{text}"
    );
    assert!(
        text.contains("resume with: opsctl runbook run rb --env prod --from 3"),
        "{text}"
    );
    let json = serde_json::to_value(&r.out).unwrap();
    assert_eq!(json["outcome"], "stopped");
    assert_eq!(json["reason"], "stopped by the user at step 3");
    assert_eq!(json["exit_code"], 130);
}

#[tokio::test(start_paused = true)]
async fn a_step_the_person_said_run_to_runs_as_confirmed_and_only_then() {
    let op = Script::default();
    op.answers
        .lock()
        .unwrap()
        .extend([Answer::Run, Answer::Run]);
    let r = go(&[Command, Command], &[Exit::Ok; 2], true, 1, op, None).await;
    assert_eq!(r.confirmed, vec![true, true], "the answer is passed on");
    // Not asked (--yes, or a dry run): nothing is confirmed on the person's behalf.
    let r = go(
        &[Command, Command],
        &[Exit::Ok; 2],
        false,
        1,
        Script::default(),
        None,
    )
    .await;
    assert_eq!(r.confirmed, vec![false, false]);
}

#[tokio::test(start_paused = true)]
async fn a_step_by_hand_not_done_stops_the_run() {
    let r = go(
        &[ByHand, Command],
        &[Exit::Ok, Exit::Ok],
        true,
        1,
        Script::default(),
        None,
    )
    .await;
    assert!(r.ran.is_empty());
    assert_eq!(r.out.outcome, RunEnd::Stopped);
    assert_eq!(r.out.exit, Exit::Interrupted);
    assert_eq!(
        r.out.reason.as_deref(),
        Some("stopped by the user at step 1")
    );
    assert_eq!(
        r.out.resume.as_deref(),
        Some("opsctl runbook run rb --env prod --from 1")
    );
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_during_a_step_that_succeeded_resumes_at_the_next() {
    let r = go(
        &[Command, Command, Command],
        &[Exit::Ok; 3],
        false,
        1,
        Script::default(),
        Some(0),
    )
    .await;
    assert_eq!(r.ran, vec![0]);
    assert_eq!(r.out.outcome, RunEnd::Interrupted);
    assert_eq!(r.out.exit, Exit::Interrupted);
    assert_eq!(
        r.out.resume.as_deref(),
        Some("opsctl runbook run rb --env prod --from 2")
    );
}

#[tokio::test(start_paused = true)]
async fn an_interrupted_step_is_resumed_where_it_was() {
    let r = go(
        &[Command, Command],
        &[Exit::Interrupted, Exit::Ok],
        false,
        1,
        Script::default(),
        None,
    )
    .await;
    assert_eq!(r.out.exit, Exit::Interrupted);
    assert_eq!(
        r.out.resume.as_deref(),
        Some("opsctl runbook run rb --env prod --from 1")
    );
}

#[tokio::test(start_paused = true)]
async fn from_skips_the_earlier_steps_and_dry_runs_show_what_they_cannot_run() {
    let r = go(
        &[Command, Action::NotInDryRun, Command],
        &[Exit::Ok; 3],
        false,
        2,
        Script::default(),
        None,
    )
    .await;
    assert_eq!(r.ran, vec![2]);
    assert_eq!(
        statuses(&r.out),
        vec![
            StepStatus::BeforeFrom,
            StepStatus::NotRunDryRun,
            StepStatus::Succeeded
        ]
    );
    assert_eq!(r.out.outcome, RunEnd::Completed);
}
