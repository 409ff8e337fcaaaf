//! One-off tasks (`opsctl run`) against the in-memory AWS, under paused tokio time.

use std::time::Duration;

use super::kit::*;
use crate::aws::fake::FakeAws;
use crate::config::EnvConfig;
use crate::error::Exit;
use crate::workflows::Outcome;
use crate::workflows::run::*;
use crate::workflows::{Event, Interrupt};

fn staging() -> EnvConfig {
    env(r#"
[env.staging]
region = "us-east-1"
cluster = "demo"
service = "staging-users"
container = "users"
repository = "users"
confirm = false
"#)
}

fn opts(command: &[&str]) -> RunOptions {
    RunOptions {
        service: None,
        container: None,
        version: None,
        command: command.iter().map(|c| (*c).to_owned()).collect(),
        logs: true,
        dry_run: false,
        timeout: Duration::from_secs(600),
        poll: POLL,
        actor: "tester@laptop".into(),
    }
}

async fn go(fake: &FakeAws, opts: &RunOptions) -> (RunOutcome, Recorder) {
    let rec = Recorder::default();
    let (_h, interrupt) = Interrupt::new();
    let out = run(&fake.aws(), &staging(), opts, &rec, &interrupt)
        .await
        .unwrap();
    (out, rec)
}

#[tokio::test(start_paused = true)]
async fn a_task_runs_on_the_services_revision_and_network_and_streams_its_lines() {
    let fake = FakeAws::staging();
    let (out, rec) = go(&fake, &opts(&["users-service", "migrate"])).await;
    assert_eq!(out.result, RunResult::Succeeded, "{out}");
    assert_eq!(out.exit(), Exit::Ok);
    assert_eq!(out.exit_code, Some(0));
    assert_eq!(fake.mutating_calls(), ["ecs:RunTask"]);
    let request = &fake.run_requests()[0];
    assert!(request.task_definition.ends_with("staging-users:2"));
    assert_eq!(request.container, "users");
    assert_eq!(request.command, ["users-service", "migrate"]);
    assert_eq!(request.placement.subnets, ["subnet-0a", "subnet-0b"]);
    assert_eq!(request.placement.launch_type.as_deref(), Some("FARGATE"));
    assert_eq!(request.tags["opsctl:run"], "run");
    assert_eq!(out.log_group.as_deref(), Some("/ecs/staging-users"));
    assert!(
        out.log_stream
            .as_deref()
            .is_some_and(|s| s.starts_with("users/users/")),
        "{:?}",
        out.log_stream
    );
    let logged: Vec<String> = rec
        .events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Log { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        logged,
        [
            "applying migration 0001_users",
            "applying migration 0002_users_email_index",
            "2 migrations applied"
        ],
        "every line once, in order"
    );
    assert!(out.to_string().contains("`users-service migrate` exited 0"));
}

#[tokio::test(start_paused = true)]
async fn the_containers_exit_code_is_passed_through_with_its_last_lines() {
    let fake = FakeAws::staging();
    fake.set_next_run(|r| {
        r.exit_code = Some(3);
        r.lines = vec!["ERROR relation \"users\" already exists".into()];
    });
    let (out, _) = go(&fake, &opts(&["users-service", "migrate"])).await;
    assert_eq!(out.result, RunResult::Failed);
    assert_eq!(out.exit(), Exit::Passed(3));
    assert_eq!(out.exit().code(), 3);
    let text = out.to_string();
    assert!(text.contains("FAILED: exit 3"), "{text}");
    assert!(text.contains("ERROR relation"), "{text}");
    assert!(
        out.next
            .iter()
            .any(|n| n.contains("aws logs get-log-events")),
        "{:?}",
        out.next
    );
}

#[tokio::test(start_paused = true)]
async fn a_task_that_never_starts_exits_1_with_the_reason() {
    let fake = FakeAws::staging();
    fake.set_next_run(|r| r.exit_code = None);
    let (out, _) = go(&fake, &opts(&["users-service", "migrate"])).await;
    assert_eq!(out.result, RunResult::NotStarted);
    assert_eq!(out.exit(), Exit::Failed);
    assert!(out.to_string().contains("never started (task"), "{out}");
    assert!(
        out.to_string().contains("CannotPullContainerError"),
        "{out}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_timeout_leaves_the_task_running_and_says_how_to_find_and_stop_it() {
    let fake = FakeAws::staging();
    fake.set_next_run(|r| r.runs_for = Duration::from_secs(3600));
    let mut o = opts(&["sleep", "3600"]);
    o.timeout = Duration::from_secs(60);
    let (out, _) = go(&fake, &o).await;
    assert_eq!(out.result, RunResult::TimedOut);
    assert_eq!(out.exit(), Exit::TimedOut);
    assert_eq!(fake.mutating_calls(), ["ecs:RunTask"], "not stopped");
    assert!(
        out.next
            .iter()
            .any(|n| n.contains("aws ecs describe-tasks"))
    );
    assert!(out.next.iter().any(|n| n.contains("aws ecs stop-task")));
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_asks_and_stops_the_task_or_leaves_it_and_says_where() {
    for (refuse, result, calls) in [
        (
            false,
            RunResult::Stopped,
            vec!["ecs:RunTask", "ecs:StopTask"],
        ),
        (true, RunResult::Interrupted, vec!["ecs:RunTask"]),
    ] {
        let fake = FakeAws::staging();
        fake.set_next_run(|r| r.runs_for = Duration::from_secs(3600));
        let rec = Recorder {
            refuse,
            ..Recorder::default()
        };
        let (handle, interrupt) = Interrupt::new();
        let aws = fake.aws();
        let env = staging();
        let o = opts(&["sleep", "3600"]);
        let task = run(&aws, &env, &o, &rec, &interrupt);
        let press = async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            handle.raise();
        };
        let (out, ()) = tokio::join!(task, press);
        let out = out.unwrap();
        assert_eq!(out.result, result, "{out}");
        assert_eq!(fake.mutating_calls(), calls);
        assert!(
            rec.questions.lock().unwrap()[0].starts_with("Stop task"),
            "{:?}",
            rec.questions
        );
        if refuse {
            assert_eq!(out.exit(), Exit::Interrupted);
            assert!(out.next[0].contains("aws ecs describe-tasks"));
        } else {
            assert_eq!(out.exit(), Exit::Failed);
            // The result is the task as ECS recorded its stop, read after StopTask.
            assert_eq!(
                out.stop_reason.as_deref(),
                Some("stopped from opsctl run (Ctrl-C)"),
                "{out}"
            );
            assert_eq!(out.stop_code.as_deref(), Some("UserInitiated"));
            assert!(out.stopped_at.is_some());
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_version_runs_the_revision_a_deploy_would_register_and_bad_input_changes_nothing() {
    let fake = FakeAws::staging();
    let mut o = opts(&["users-service", "migrate"]);
    o.version = Some("v1.2.0".into());
    let (out, _) = go(&fake, &o).await;
    assert_eq!(out.result, RunResult::Succeeded, "{out}");
    assert_eq!(
        fake.mutating_calls(),
        ["ecs:RegisterTaskDefinition", "ecs:RunTask"]
    );
    assert_eq!(out.task_definition, "staging-users:3");

    let fake = FakeAws::staging();
    let (_h, interrupt) = Interrupt::new();
    for (o, says) in [
        (
            RunOptions {
                version: Some("v9.9.9".into()),
                ..opts(&["users-service", "migrate"])
            },
            "version v9.9.9 is not in repository users",
        ),
        (
            RunOptions {
                container: Some("nope".into()),
                ..opts(&["true"])
            },
            "container `nope` is not in",
        ),
        (
            RunOptions {
                service: Some("other-users".into()),
                ..opts(&["true"])
            },
            "--service other-users is not a service of env.staging",
        ),
        (opts(&[]), "no command to run"),
    ] {
        let err = run(
            &fake.aws(),
            &staging(),
            &o,
            &Recorder::default(),
            &interrupt,
        )
        .await
        .unwrap_err();
        let err = user_error(err);
        assert!(err.message.contains(says), "{err}");
    }
    let mut dry = opts(&["users-service", "migrate"]);
    dry.dry_run = true;
    let (out, _) = go(&fake, &dry).await;
    assert_eq!(out.result, RunResult::Planned);
    assert!(
        out.calls[0].starts_with(
            "ecs:RunTask cluster=demo taskDefinition=staging-users:2 launchType=FARGATE"
        )
    );
    assert!(fake.mutating_calls().is_empty(), "{:?}", fake.calls());
}

// --- before_deploy: migrations as a deploy step

fn migrating() -> EnvConfig {
    env(r#"
[env.staging]
region = "us-east-1"
cluster = "demo"
service = "staging-users"
container = "users"
repository = "users"
timeout = "2m"
confirm = false
before_deploy = [{ name = "migrate", command = ["users-service", "migrate"], timeout = "5m" }]
"#)
}

fn deploy_opts(version: &str, dry_run: bool) -> crate::workflows::deploy::Options {
    crate::workflows::deploy::Options {
        dry_run,
        ..super::kit::deploy_opts(version)
    }
}

async fn deploy(fake: &FakeAws, dry_run: bool) -> crate::workflows::deploy::DeployOutcome {
    let (_h, interrupt) = Interrupt::new();
    crate::workflows::deploy::deploy(
        &fake.aws(),
        &migrating(),
        "staging-users",
        &deploy_opts("v1.2.0", dry_run),
        &Recorder::default(),
        &interrupt,
    )
    .await
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_deploy_runs_its_migration_on_the_new_revision_before_changing_the_service() {
    let fake = FakeAws::staging();
    let out = deploy(&fake, false).await;
    assert_eq!(
        out.result,
        crate::workflows::deploy::DeployResult::Deployed,
        "{out}"
    );
    let changes = fake.mutating_calls();
    let at = |call: &str| changes.iter().position(|c| c == call).unwrap();
    assert!(
        at("ecs:RegisterTaskDefinition") < at("ecs:RunTask")
            && at("ecs:RunTask") < at("ecs:UpdateService"),
        "{changes:?}"
    );
    let request = &fake.run_requests()[0];
    assert!(
        request.task_definition.ends_with("staging-users:3"),
        "the new revision: {}",
        request.task_definition
    );
    assert_eq!(request.command, ["users-service", "migrate"]);
    assert_eq!(request.tags["opsctl:run"], "migrate");
}

#[tokio::test(start_paused = true)]
async fn a_failing_migration_leaves_the_service_untouched_and_says_how_to_rerun_it() {
    let fake = FakeAws::staging();
    fake.set_next_run(|r| {
        r.exit_code = Some(1);
        r.lines = vec!["ERROR: column \"email\" contains null values".into()];
    });
    let out = deploy(&fake, false).await;
    assert_eq!(
        out.result,
        crate::workflows::deploy::DeployResult::Failed,
        "{out}"
    );
    assert_eq!(out.exit(), Exit::Failed);
    let changes = fake.mutating_calls();
    assert!(
        !changes.iter().any(|c| c == "ecs:UpdateService"),
        "no UpdateService: {changes:?}"
    );
    let reason = out.reason.clone().unwrap();
    assert!(
        reason.contains("migrate `users-service migrate` exited 1"),
        "{reason}"
    );
    assert!(
        reason.contains("the service was not changed: staging-users still runs staging-users:2"),
        "{reason}"
    );
    assert!(
        reason.contains("column \"email\" contains null values"),
        "{reason}"
    );
    assert!(
        out.next
            .iter()
            .any(|n| n.contains("opsctl run staging --version v1.2.0 -- users-service migrate")),
        "{:?}",
        out.next
    );
    assert_eq!(
        fake.task_definition("arn:aws:ecs:us-east-1:123456789012:task-definition/staging-users:3")
            .tags[crate::workflows::tags::OUTCOME],
        crate::workflows::tags::NOT_DEPLOYED
    );
}

#[tokio::test(start_paused = true)]
async fn the_plan_lists_the_migration_between_register_and_update() {
    let fake = FakeAws::staging();
    let out = deploy(&fake, true).await;
    let calls = &out.plan.as_ref().unwrap().calls;
    let at = |prefix: &str| calls.iter().position(|c| c.starts_with(prefix)).unwrap();
    assert!(
        at("ecs:RegisterTaskDefinition") < at("ecs:RunTask migrate")
            && at("ecs:RunTask migrate") < at("ecs:UpdateService"),
        "{calls:?}"
    );
    assert!(fake.mutating_calls().is_empty());
}

// --- logs

fn logs_opts(
    container: Option<&str>,
    pattern: Option<&str>,
) -> crate::workflows::logs::LogsOptions {
    crate::workflows::logs::LogsOptions {
        service: None,
        colour: None,
        container: container.map(str::to_owned),
        task: None,
        start: jiff::Timestamp::UNIX_EPOCH,
        end: None,
        pattern: pattern.map(str::to_owned),
        follow: false,
        follow_for: None,
        poll: crate::workflows::logs::POLL,
    }
}

#[tokio::test(start_paused = true)]
async fn logs_gives_the_containers_lines_with_their_task_and_refuses_what_it_cannot_read() {
    let fake = FakeAws::staging();
    let (out, _) = go(&fake, &opts(&["users-service", "migrate"])).await;
    let task = out.task_arn.unwrap().rsplit('/').next().unwrap().to_owned();
    let (_h, interrupt) = Interrupt::new();
    let mut got = Vec::new();
    let n = crate::workflows::logs::logs(
        &fake.aws(),
        &staging(),
        &logs_opts(None, Some("applying")),
        &Recorder::default(),
        &interrupt,
        &mut |l| got.push(l.clone()),
    )
    .await
    .unwrap();
    assert_eq!(n, 2);
    assert!(got.iter().all(|l| l.task == task && l.container == "users"));
    assert!(got[0].at <= got[1].at);

    let err = crate::workflows::logs::logs(
        &fake.aws(),
        &staging(),
        &logs_opts(Some("log-router"), None),
        &Recorder::default(),
        &interrupt,
        &mut |_| {},
    )
    .await
    .unwrap_err();
    let err = user_error(err);
    assert!(
        err.message
            .contains("log-router in staging-users:2 has no logConfiguration"),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn logs_by_colour_needs_a_blue_green_environment_and_calls_nothing_without_one() {
    let fake = FakeAws::staging();
    let (_h, interrupt) = Interrupt::new();
    let mut opts = logs_opts(None, None);
    opts.colour = Some(crate::workflows::logs::Which::Idle);
    let err = crate::workflows::logs::logs(
        &fake.aws(),
        &staging(),
        &opts,
        &Recorder::default(),
        &interrupt,
        &mut |_| {},
    )
    .await
    .unwrap_err();
    let err = user_error(err);
    assert!(
        err.message
            .contains("env.staging is not a blue/green environment"),
        "{err}"
    );
    assert!(
        err.hint.as_deref().is_some_and(|h| h.contains("--service")),
        "{err:?}"
    );
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
}
