//! Workflows against the in-memory AWS, under paused tokio time: every failure path in
//! milliseconds.

use crate::workflows::Outcome;
use std::time::Duration;

use tokio::time::Instant;

use super::kit::*;
use crate::aws::AlarmState;
use crate::aws::fake::{FakeAws, REGISTRY};
use crate::config::EnvConfig;
use crate::error::{Exit, UserError};
use crate::workflows::deploy::{self, DeployOutcome};
use crate::workflows::rollback;
use crate::workflows::wait::{self, Verdict};
use crate::workflows::{Interrupt, tags};

fn staging(confirm: bool) -> EnvConfig {
    let text = format!(
        r#"
[env.staging]
region = "us-east-1"
cluster = "demo"
service = "staging-users"
container = "users"
repository = "users"
timeout = "2m"
alarms = ["staging-users-5xx"]
bake = "30s"
confirm = {confirm}
"#
    );
    env(&text)
}

fn opts(version: &str) -> deploy::Options {
    super::kit::deploy_opts(version)
}

async fn run_deploy(fake: &FakeAws, o: &deploy::Options, rec: &Recorder) -> DeployOutcome {
    deploy_to(fake, &staging(false), o, rec).await
}

/// A deploy to `env`'s staging-users, never interrupted.
async fn deploy_to(
    fake: &FakeAws,
    env: &EnvConfig,
    o: &deploy::Options,
    rec: &Recorder,
) -> DeployOutcome {
    let (_handle, interrupt) = Interrupt::new();
    deploy::deploy(&fake.aws(), env, "staging-users", o, rec, &interrupt)
        .await
        .unwrap()
}

const REV1: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/staging-users:1";
const REV2: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/staging-users:2";
const REV3: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/staging-users:3";

#[tokio::test(start_paused = true)]
async fn good_deploy_changes_only_the_image_and_tags_the_revision() {
    let fake = FakeAws::staging();
    let rec = Recorder::default();
    let out = run_deploy(&fake, &opts("v1.2.0"), &rec).await;

    assert_eq!(out.result, deploy::DeployResult::Deployed, "{out}");
    assert_eq!(out.exit(), Exit::Ok);
    assert_eq!(fake.service_task_definition("staging-users"), REV3);
    let new = fake.task_definition(REV3);
    let old = fake.task_definition(REV2);
    assert_eq!(
        new.image_of("users"),
        Some(format!("{REGISTRY}/users:v1.2.0").as_str())
    );
    assert_eq!(new.image_of("log-router"), old.image_of("log-router"));
    assert_eq!(new.secrets, old.secrets);
    assert_eq!(new.tags[tags::VERSION], "v1.2.0");
    assert_eq!(new.tags[tags::PREVIOUS], "staging-users:2");
    assert_eq!(new.tags[tags::DEPLOYED_BY], "tester");
    assert_eq!(new.tags[tags::OUTCOME], tags::SUCCEEDED);
    assert_eq!(
        fake.count("cloudwatch:PutMetricData"),
        1,
        "deployment marker"
    );
    assert!(
        rec.service_events()
            .iter()
            .any(|e| e.contains("steady state")),
        "service events are reported as they come: {:?}",
        rec.service_events()
    );
}

#[tokio::test(start_paused = true)]
async fn waiter_notices_completion_within_two_seconds_with_one_call_per_poll() {
    let fake = FakeAws::staging();
    let rec = Recorder::default();
    let mut o = opts("v1.2.0");
    o.timeout = Duration::from_secs(60);
    let env = staging(false);
    let aws = fake.aws();
    let (_h, interrupt) = Interrupt::new();
    let mut env_no_bake = env.clone();
    env_no_bake.bake.0 = Duration::ZERO;
    let out = deploy::deploy(&aws, &env_no_bake, "staging-users", &o, &rec, &interrupt)
        .await
        .unwrap();
    let returned = Instant::now();
    let completed = fake.completed_at().expect("the rollout completed");
    assert_eq!(out.result, deploy::DeployResult::Deployed);
    let lag = returned - completed;
    assert!(
        lag <= Duration::from_secs(2),
        "noticed {lag:?} after completion"
    );
    let wait = out.wait.unwrap();
    // Rollout takes 5 s in the fake: about one DescribeServices call per second.
    assert!((4..=8).contains(&wait.polls), "polls: {}", wait.polls);
    assert_eq!(fake.count("ecs:DescribeServices") as u32, wait.polls + 1);
}

#[tokio::test(start_paused = true)]
async fn failing_rollout_is_rolled_back_and_exits_3() {
    let fake = FakeAws::staging();
    let rec = Recorder::default();
    let out = run_deploy(&fake, &opts("v1.4.0-broken"), &rec).await;

    assert_eq!(out.result, deploy::DeployResult::RolledBack, "{out}");
    assert_eq!(out.exit(), Exit::RolledBack);
    assert_eq!(
        fake.service_task_definition("staging-users"),
        REV2,
        "back on the previous revision"
    );
    assert_eq!(
        fake.task_definition(REV3).tags[tags::OUTCOME],
        tags::ROLLED_BACK
    );
    let rb = out.rollback.as_ref().unwrap();
    assert!(!rb.by_ecs);
    assert_eq!(
        fake.count("ecs:UpdateService"),
        2,
        "deploy, then opsctl's rollback"
    );
    assert!(out.reason.as_ref().unwrap().contains("circuit breaker"));
    let wait = out.wait.as_ref().unwrap();
    assert!(
        !wait.services[0].stopped_tasks.is_empty(),
        "stopped-task reasons are reported"
    );
    let text = out.to_string();
    assert!(
        text.contains("Essential container in task exited"),
        "{text}"
    );
    assert!(text.contains("rolled back to staging-users:2"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn circuit_breaker_rollback_is_a_failed_deploy_not_a_success() {
    let fake = FakeAws::staging();
    // ECS rolls back on its own, half a second after the failure: a 1 s poller that only
    // compares counts would call the result stable.
    fake.set_behaviour(|b| {
        b.ecs_rollback = true;
        b.rollback_delay = Duration::from_millis(500);
    });
    let rec = Recorder::default();
    let out = run_deploy(&fake, &opts("v1.4.0-broken"), &rec).await;

    assert_eq!(out.result, deploy::DeployResult::RolledBack, "{out}");
    assert_eq!(out.exit(), Exit::RolledBack);
    assert!(
        out.rollback.as_ref().unwrap().by_ecs,
        "opsctl followed ECS's rollback"
    );
    assert_eq!(
        fake.count("ecs:UpdateService"),
        1,
        "no second rollback on top of ECS's"
    );
    assert_eq!(fake.service_task_definition("staging-users"), REV2);
}

#[tokio::test(start_paused = true)]
async fn circuit_breaker_rollback_fails_standalone_wait_too() {
    let fake = FakeAws::staging();
    fake.set_behaviour(|b| {
        b.ecs_rollback = true;
        b.rollback_delay = Duration::from_millis(300);
    });
    let aws = fake.aws();
    aws.ecs
        .update_task_definition("demo", "staging-users", &{
            let td = aws
                .ecs
                .register_with_image(
                    REV2,
                    "users",
                    &format!("{REGISTRY}/users:v1.4.0-broken"),
                    &Default::default(),
                )
                .await
                .unwrap();
            td.arn
        })
        .await
        .unwrap();
    let rec = Recorder::default();
    let (_h, interrupt) = Interrupt::new();
    let out = wait::wait(
        &aws,
        "demo",
        vec![wait::Target::current("staging-users")],
        &wait::Options::with_timeout(Duration::from_secs(60)),
        &rec,
        &interrupt,
    )
    .await
    .unwrap();
    assert_eq!(out.verdict(), Verdict::Failed, "{out}");
}

#[tokio::test(start_paused = true)]
async fn the_bake_counts_down_with_the_alarms_last_states() {
    let fake = FakeAws::staging();
    let rec = Recorder::default();
    let out = run_deploy(&fake, &opts("v1.2.0"), &rec).await;
    assert_eq!(out.exit(), Exit::Ok, "{out}");
    let ticks = rec.countdowns();
    assert!(!ticks.is_empty(), "the 30 s bake said nothing while it ran");
    assert!(ticks.iter().all(|(w, ..)| w == "the bake"), "{ticks:?}");
    let left: Vec<u64> = ticks.iter().map(|(_, l, _)| *l).collect();
    assert!(left[0] <= 30 && left[0] >= 20, "{left:?}");
    assert!(left.windows(2).all(|w| w[0] > w[1]), "{left:?}");
    assert!(
        ticks
            .iter()
            .all(|(.., last)| last.as_deref() == Some("staging-users-5xx OK")),
        "{ticks:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn alarm_during_bake_rolls_back() {
    let fake = FakeAws::staging();
    fake.alarm_after("staging-users-5xx", Duration::from_secs(15));
    let rec = Recorder::default();
    let out = run_deploy(&fake, &opts("v1.2.0"), &rec).await;

    assert_eq!(out.result, deploy::DeployResult::RolledBack, "{out}");
    assert!(
        out.reason.as_ref().unwrap().contains("staging-users-5xx"),
        "{out}"
    );
    assert_eq!(fake.service_task_definition("staging-users"), REV2);
}

#[tokio::test(start_paused = true)]
async fn timeout_without_rollback_exits_4_and_reports_the_state() {
    let fake = FakeAws::staging();
    fake.set_behaviour(|b| b.stuck = true);
    let rec = Recorder::default();
    let mut o = opts("v1.2.0");
    o.no_rollback = true;
    o.timeout = Duration::from_secs(30);
    let started = Instant::now();
    let out = run_deploy(&fake, &o, &rec).await;

    assert_eq!(out.result, deploy::DeployResult::TimedOut, "{out}");
    assert_eq!(out.exit(), Exit::TimedOut);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(30) && waited < Duration::from_secs(32),
        "{waited:?}"
    );
    let text = out.to_string();
    assert!(text.contains("state: staging-users"), "{text}");
    assert!(
        text.contains("0/2 running") || text.contains("2/2 running"),
        "{text}"
    );
    assert!(text.contains("opsctl rollback staging"), "{text}");
    assert_eq!(
        fake.service_task_definition("staging-users"),
        REV3,
        "left where it was"
    );
}

#[tokio::test(start_paused = true)]
async fn timeout_with_rollback_goes_back_and_exits_3() {
    let fake = FakeAws::staging();
    let rec = Recorder::default();
    // Stuck only for the new revision: flip after the deploy starts waiting.
    fake.set_behaviour(|b| b.task_start = Duration::from_secs(45));
    let mut o = opts("v1.2.0");
    o.timeout = Duration::from_secs(30);
    let out = run_deploy(&fake, &o, &rec).await;
    // The rollback's own rollout also takes 45 s > 30 s: it times out too, and says so.
    assert_eq!(out.result, deploy::DeployResult::TimedOut, "{out}");
    assert_eq!(out.exit(), Exit::TimedOut);
    assert!(out.to_string().contains("did NOT settle"), "{out}");
}

#[tokio::test(start_paused = true)]
async fn throttling_bursts_slow_the_waiter_but_do_not_fail_it() {
    let fake = FakeAws::staging();
    let rec = Recorder::default();
    let aws = fake.aws();
    let td = aws
        .ecs
        .register_with_image(
            REV2,
            "users",
            &format!("{REGISTRY}/users:v1.2.0"),
            &Default::default(),
        )
        .await
        .unwrap();
    aws.ecs
        .update_task_definition("demo", "staging-users", &td.arn)
        .await
        .unwrap();
    fake.throttle(4);
    let (_h, interrupt) = Interrupt::new();
    let started = Instant::now();
    let out = wait::wait(
        &aws,
        "demo",
        vec![wait::Target::current("staging-users")],
        &wait::Options::with_timeout(Duration::from_secs(120)),
        &rec,
        &interrupt,
    )
    .await
    .unwrap();
    assert_eq!(out.verdict(), Verdict::Stable, "{out}");
    assert_eq!(rec.warnings().len(), 4, "{:?}", rec.warnings());
    // Backed off 2+4+8+16 s (±20 %) before succeeding.
    assert!(
        started.elapsed() >= Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn redeploying_the_running_version_changes_nothing() {
    let fake = FakeAws::staging();
    let rec = Recorder::default();
    let out = run_deploy(&fake, &opts("v1.1.0"), &rec).await;
    assert_eq!(out.result, deploy::DeployResult::Unchanged, "{out}");
    assert_eq!(out.exit(), Exit::Ok);
    assert!(
        fake.mutating_calls().is_empty(),
        "{:?}",
        fake.mutating_calls()
    );
}

#[tokio::test(start_paused = true)]
async fn bad_input_changes_nothing() {
    type Setup = Box<dyn Fn(&FakeAws)>;
    let cases: Vec<(&str, Setup, &str)> = vec![
        ("v9.9.9", Box::new(|_| {}), "is not in ECR repository users"),
        (
            "v1.2.0",
            Box::new(|f| f.set_alarm("staging-users-5xx", AlarmState::Alarm)),
            "in ALARM",
        ),
        ("v1.2.0", Box::new(|f| f.remove_secrets()), "do not exist"),
        (
            "v1.2.0",
            Box::new(|f| f.start_foreign_deployment("staging-users", 1)),
            "already in progress",
        ),
    ];
    for (version, setup, expected) in cases {
        let fake = FakeAws::staging();
        setup(&fake);
        let rec = Recorder::default();
        let out = run_deploy(&fake, &opts(version), &rec).await;
        assert_eq!(
            out.result,
            deploy::DeployResult::PreflightFailed,
            "{version}: {out}"
        );
        assert_eq!(out.exit(), Exit::BadInput);
        assert!(out.to_string().contains(expected), "{out}");
        assert!(
            out.to_string().contains("fix:"),
            "every failed check says how to fix it: {out}"
        );
        // start_foreign_deployment bypasses the recorder, so any mutating call is ours.
        assert!(
            fake.mutating_calls().is_empty(),
            "{expected}: {:?}",
            fake.mutating_calls()
        );
        assert_eq!(fake.revisions(), 2, "no revision registered");
    }
}

#[tokio::test(start_paused = true)]
async fn alarm_in_alarm_can_be_ignored_when_the_deploy_is_the_fix() {
    let fake = FakeAws::staging();
    fake.set_alarm("staging-users-5xx", AlarmState::Alarm);
    let rec = Recorder::default();
    let mut o = opts("v1.2.0");
    o.ignore_alarms = true;
    let mut env = staging(false);
    env.bake.0 = Duration::ZERO;
    let out = deploy_to(&fake, &env, &o, &rec).await;
    assert_eq!(out.result, deploy::DeployResult::Deployed, "{out}");
    // Passed with a warning, and said again with the result.
    let alarms = out.checks.iter().find(|c| c.name == "alarms").unwrap();
    assert!(alarms.ok && alarms.warning, "{alarms}");
    assert!(
        out.to_string()
            .contains("warn alarms     in ALARM but ignored: staging-users-5xx"),
        "{out}"
    );
}

#[tokio::test(start_paused = true)]
async fn wrong_container_name_fails_preflight() {
    let fake = FakeAws::staging();
    let mut env = staging(false);
    env.container = Some("web".into());
    let rec = Recorder::default();
    let out = deploy_to(&fake, &env, &opts("v1.2.0"), &rec).await;
    assert_eq!(out.exit(), Exit::BadInput);
    assert!(
        out.to_string()
            .contains("container `web` is not in staging-users:2 (it has: users, log-router)"),
        "{out}"
    );
    assert!(fake.mutating_calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn dry_run_plans_and_changes_nothing() {
    let fake = FakeAws::staging();
    let rec = Recorder::default();
    let mut o = opts("v1.2.0");
    o.dry_run = true;
    let out = run_deploy(&fake, &o, &rec).await;
    assert_eq!(out.result, deploy::DeployResult::Planned);
    let plan = out.plan.as_ref().unwrap();
    assert!(plan.image_to.ends_with("users:v1.2.0"));
    assert_eq!(plan.unchanged_containers, vec!["log-router".to_owned()]);
    assert!(fake.mutating_calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn prod_without_confirmation_changes_nothing() {
    let fake = FakeAws::staging();
    let rec = Recorder {
        refuse: true,
        ..Default::default()
    };
    let (_h, interrupt) = Interrupt::new();
    let err = deploy::deploy(
        &fake.aws(),
        &staging(true),
        "staging-users",
        &opts("v1.2.0"),
        &rec,
        &interrupt,
    )
    .await
    .unwrap_err();
    assert!(err.downcast_ref::<UserError>().is_some(), "{err}");
    assert!(fake.mutating_calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_while_waiting_stops_and_says_how_to_resume() {
    let fake = FakeAws::staging();
    fake.set_behaviour(|b| b.stuck = true);
    let rec = Recorder::default();
    let (handle, interrupt) = Interrupt::new();
    let env = staging(false);
    let aws = fake.aws();
    let o = opts("v1.2.0");
    let deploy = deploy::deploy(&aws, &env, "staging-users", &o, &rec, &interrupt);
    let press = async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        handle.raise();
    };
    let (out, ()) = tokio::join!(deploy, press);
    let out = out.unwrap();
    assert_eq!(out.result, deploy::DeployResult::Interrupted);
    assert_eq!(out.exit(), Exit::Interrupted);
    let text = out.to_string();
    assert!(text.contains("opsctl wait-stable staging"), "{text}");
    assert!(text.contains("opsctl rollback staging"), "{text}");
    assert_eq!(fake.count("ecs:UpdateService"), 1, "no rollback on Ctrl-C");
    assert_eq!(
        fake.task_definition(REV3).tags[tags::OUTCOME],
        tags::INTERRUPTED,
        "the history says opsctl stopped following it"
    );
    // The rollout goes on; `wait-stable` follows it to the end and completes the history.
    fake.set_behaviour(|b| b.stuck = false);
    let waited = wait_stable(&fake).await;
    assert_eq!(waited.verdict(), Verdict::Stable, "{waited}");
    assert_eq!(
        fake.task_definition(REV3).tags[tags::OUTCOME],
        tags::SUCCEEDED
    );
}

fn rb_opts(to: Option<&str>) -> rollback::Options {
    rollback::Options {
        to: to.map(str::to_owned),
        dry_run: false,
        no_wait: false,
        timeout: Duration::from_secs(60),
        poll: Duration::from_secs(1),
    }
}

#[tokio::test(start_paused = true)]
async fn rollback_returns_to_the_previous_revision() {
    let fake = FakeAws::staging();
    let rec = Recorder::default();
    let out = run_deploy(&fake, &opts("v1.2.0"), &rec).await;
    assert_eq!(out.result, deploy::DeployResult::Deployed);

    let (_h, interrupt) = Interrupt::new();
    let out = rollback::rollback(
        &fake.aws(),
        &staging(false),
        "staging-users",
        &rb_opts(None),
        &rec,
        &interrupt,
    )
    .await
    .unwrap();
    assert_eq!(out.result, rollback::RollbackResult::RolledBack, "{out}");
    assert_eq!(out.to.task_definition, "staging-users:2");
    assert_eq!(out.to.version, "v1.1.0");
    assert_eq!(fake.service_task_definition("staging-users"), REV2);
    // A good deploy taken back by hand is not a failed one: it reads `reverted`.
    assert_eq!(out.leaves_as, tags::REVERTED);
    assert_eq!(
        fake.task_definition(REV3).tags[tags::OUTCOME],
        tags::REVERTED
    );
}

#[tokio::test(start_paused = true)]
async fn rolling_back_an_unfinished_deploy_records_it_rolled_back() {
    let fake = FakeAws::staging();
    let rec = Recorder::default();
    let mut o = opts("v1.2.0");
    o.no_wait = true;
    run_deploy(&fake, &o, &rec).await;
    assert_eq!(
        fake.task_definition(REV3).tags[tags::OUTCOME],
        tags::IN_PROGRESS
    );
    let (_h, interrupt) = Interrupt::new();
    let out = rollback::rollback(
        &fake.aws(),
        &staging(false),
        "staging-users",
        &rb_opts(None),
        &rec,
        &interrupt,
    )
    .await
    .unwrap();
    assert_eq!(out.leaves_as, tags::ROLLED_BACK, "{out}");
    assert_eq!(
        fake.task_definition(REV3).tags[tags::OUTCOME],
        tags::ROLLED_BACK
    );
}

async fn wait_stable(fake: &FakeAws) -> wait::WaitOutcome {
    let (_h, interrupt) = Interrupt::new();
    wait::wait_stable(
        &fake.aws(),
        &staging(false),
        "staging-users",
        &wait::Options::with_timeout(Duration::from_secs(60)),
        &Recorder::default(),
        &interrupt,
    )
    .await
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn wait_stable_records_how_a_no_wait_deploy_ended() {
    let fake = FakeAws::staging();
    let rec = Recorder::default();
    let mut o = opts("v1.2.0");
    o.no_wait = true;
    run_deploy(&fake, &o, &rec).await;
    assert_eq!(
        fake.task_definition(REV3).tags[tags::OUTCOME],
        tags::IN_PROGRESS
    );
    let out = wait_stable(&fake).await;
    assert_eq!(out.verdict(), Verdict::Stable, "{out}");
    assert_eq!(out.services[0].recorded.as_deref(), Some(tags::SUCCEEDED));
    assert_eq!(
        fake.task_definition(REV3).tags[tags::OUTCOME],
        tags::SUCCEEDED
    );
    assert!(
        out.to_string()
            .contains("recorded the deploy of staging-users:3 as succeeded"),
        "{out}"
    );
    // A second wait finds nothing unfinished and tags nothing.
    let tags_before = fake.count("ecs:TagResource");
    let again = wait_stable(&fake).await;
    assert_eq!(again.services[0].recorded, None);
    assert_eq!(fake.count("ecs:TagResource"), tags_before);
}

#[tokio::test(start_paused = true)]
async fn wait_stable_records_a_broken_no_wait_deploy_as_rolled_back_by_ecs() {
    let fake = FakeAws::staging();
    fake.set_behaviour(|b| {
        b.ecs_rollback = true;
        b.rollback_delay = Duration::from_millis(300);
    });
    let rec = Recorder::default();
    let mut o = opts("v1.4.0-broken");
    o.no_wait = true;
    run_deploy(&fake, &o, &rec).await;
    let out = wait_stable(&fake).await;
    assert_eq!(out.verdict(), Verdict::Failed, "{out}");
    assert_eq!(out.services[0].recorded.as_deref(), Some(tags::ROLLED_BACK));
    assert_eq!(
        fake.task_definition(REV3).tags[tags::OUTCOME],
        tags::ROLLED_BACK
    );
}

#[tokio::test(start_paused = true)]
async fn wait_stable_records_a_rollout_that_failed_in_place_as_failed() {
    // No circuit-breaker rollback: the service stays on the broken revision.
    let fake = FakeAws::staging();
    let rec = Recorder::default();
    let mut o = opts("v1.4.0-broken");
    o.no_wait = true;
    run_deploy(&fake, &o, &rec).await;
    let out = wait_stable(&fake).await;
    assert_eq!(out.verdict(), Verdict::Failed, "{out}");
    assert_eq!(out.services[0].recorded.as_deref(), Some(tags::FAILED));
    assert_eq!(fake.task_definition(REV3).tags[tags::OUTCOME], tags::FAILED);
}

#[tokio::test(start_paused = true)]
async fn wait_stable_leaves_the_outcome_to_the_deploy_that_holds_the_lock() {
    let fake = FakeAws::staging();
    let rec = Recorder::default();
    let mut o = opts("v1.2.0");
    o.no_wait = true;
    run_deploy(&fake, &o, &rec).await;
    let (_h, interrupt) = Interrupt::new();
    let want = crate::workflows::lock::Want {
        holder: "ci@runner-7".into(),
        command: "deploy v1.2.0".into(),
        wait: Duration::ZERO,
    };
    let _held =
        crate::workflows::lock::acquire(&fake.aws(), &staging(false), &want, &rec, &interrupt)
            .await
            .unwrap();
    let out = wait_stable(&fake).await;
    assert_eq!(out.verdict(), Verdict::Stable, "{out}");
    assert_eq!(out.services[0].recorded, None);
    assert_eq!(
        fake.task_definition(REV3).tags[tags::OUTCOME],
        tags::IN_PROGRESS
    );
}

#[tokio::test(start_paused = true)]
async fn rollback_skips_revisions_whose_deploy_failed() {
    let fake = FakeAws::staging();
    let rec = Recorder::default();
    // v1.4.0-broken fails and is rolled back (rev 3), then v1.2.0 succeeds (rev 4).
    run_deploy(&fake, &opts("v1.4.0-broken"), &rec).await;
    run_deploy(&fake, &opts("v1.2.0"), &rec).await;
    // Strip the `previous` tag so the choice falls to outcomes.
    let aws = fake.aws();
    let rev4 = REV3.replace(":3", ":4");
    fake.remove_tag(&rev4, tags::PREVIOUS);
    assert_eq!(fake.service_task_definition("staging-users"), rev4);
    let (_h, interrupt) = Interrupt::new();
    let out = rollback::rollback(
        &aws,
        &staging(false),
        "staging-users",
        &rb_opts(None),
        &rec,
        &interrupt,
    )
    .await
    .unwrap();
    assert_eq!(out.to.task_definition, "staging-users:2", "{out}");
}

#[tokio::test(start_paused = true)]
async fn rollback_to_a_version_or_revision() {
    let fake = FakeAws::staging();
    let rec = Recorder::default();
    let (_h, interrupt) = Interrupt::new();
    let aws = fake.aws();
    let env = staging(false);
    let out = rollback::rollback(
        &aws,
        &env,
        "staging-users",
        &rb_opts(Some("v1.0.0")),
        &rec,
        &interrupt,
    )
    .await
    .unwrap();
    assert_eq!(out.to.task_definition, "staging-users:1");
    assert_eq!(fake.service_task_definition("staging-users"), REV1);

    let err = rollback::rollback(
        &aws,
        &env,
        "staging-users",
        &rb_opts(Some("7")),
        &rec,
        &interrupt,
    )
    .await
    .unwrap_err();
    let user = err.downcast_ref::<UserError>().expect("bad input");
    assert!(
        user.message
            .contains("revision 7 is not an ACTIVE revision"),
        "{user}"
    );
    assert!(user.hint.as_ref().unwrap().contains("2, 1"), "{user:?}");

    let before = fake.mutating_calls().len();
    let err = rollback::rollback(
        &aws,
        &env,
        "staging-users",
        &rb_opts(Some("v3.0.0")),
        &rec,
        &interrupt,
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("no ACTIVE revision of staging-users runs version v3.0.0")
    );
    assert_eq!(
        fake.mutating_calls().len(),
        before,
        "bad --to changes nothing"
    );
}

// --- Every failure after a change ends in a known, reported state -----------------------

use crate::aws::AwsError;

fn denied(call: &str) -> AwsError {
    AwsError::AccessDenied(format!("{call}: AccessDeniedException: not authorized"))
}

#[tokio::test(start_paused = true)]
async fn an_aws_error_during_the_bake_still_rolls_back() {
    let fake = FakeAws::staging();
    // The preflight's DescribeAlarms passes; every one of the bake's is denied.
    fake.fail(
        "cloudwatch:DescribeAlarms",
        1,
        u32::MAX,
        denied("DescribeAlarms"),
    );
    let rec = Recorder::default();
    let out = run_deploy(&fake, &opts("v1.2.0"), &rec).await;
    assert_eq!(out.result, deploy::DeployResult::RolledBack, "{out}");
    assert_eq!(out.exit(), Exit::RolledBack);
    assert_eq!(fake.service_task_definition("staging-users"), REV2);
    assert!(
        out.reason.as_ref().unwrap().contains("DescribeAlarms"),
        "{out}"
    );
    assert_eq!(
        fake.task_definition(REV3).tags[tags::OUTCOME],
        tags::ROLLED_BACK
    );
    assert_eq!(out.points_at.as_deref(), Some("staging-users:2"));
}

#[tokio::test(start_paused = true)]
async fn a_transient_error_during_the_bake_is_tried_again() {
    let fake = FakeAws::staging();
    fake.fail(
        "cloudwatch:DescribeAlarms",
        1,
        2,
        AwsError::Other("DescribeAlarms: InternalFailure".into()),
    );
    let rec = Recorder::default();
    let out = run_deploy(&fake, &opts("v1.2.0"), &rec).await;
    assert_eq!(out.result, deploy::DeployResult::Deployed, "{out}");
    assert!(
        rec.warnings().iter().any(|w| w.contains("trying again")),
        "{:?}",
        rec.warnings()
    );
}

#[tokio::test(start_paused = true)]
async fn a_bake_alarm_rolls_back_at_once_without_waiting_for_ecs() {
    let fake = FakeAws::staging();
    // The circuit breaker is on, but the rollout completes: no ECS rollback can come.
    fake.set_behaviour(|b| b.ecs_rollback = true);
    fake.alarm_after("staging-users-5xx", Duration::from_secs(15));
    let rec = Recorder::default();
    let started = Instant::now();
    let out = run_deploy(&fake, &opts("v1.2.0"), &rec).await;
    assert_eq!(out.result, deploy::DeployResult::RolledBack, "{out}");
    assert!(!out.rollback.as_ref().unwrap().by_ecs);
    // Alarm at 15 s, seen within a 5 s poll, rollback settled in about 6 s: not 30 s more.
    assert!(
        started.elapsed() < Duration::from_secs(35),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn a_denied_update_tags_the_revision_as_never_deployed() {
    let fake = FakeAws::staging();
    fake.fail("ecs:UpdateService", 0, u32::MAX, denied("UpdateService"));
    let rec = Recorder::default();
    let out = run_deploy(&fake, &opts("v1.2.0"), &rec).await;
    assert_eq!(out.result, deploy::DeployResult::Failed, "{out}");
    assert_eq!(out.exit(), Exit::Failed);
    let reason = out.reason.clone().unwrap();
    assert!(reason.contains("UpdateService"), "{reason}");
    assert!(reason.contains("never deployed"), "{reason}");
    assert_eq!(fake.service_task_definition("staging-users"), REV2);
    assert_eq!(
        fake.task_definition(REV3).tags[tags::OUTCOME],
        tags::NOT_DEPLOYED
    );
}

#[tokio::test(start_paused = true)]
async fn a_denied_rollback_says_where_the_service_was_left() {
    let fake = FakeAws::staging();
    // The deploy's UpdateService passes; the rollback's is denied.
    fake.fail("ecs:UpdateService", 1, u32::MAX, denied("UpdateService"));
    let rec = Recorder::default();
    let out = run_deploy(&fake, &opts("v1.4.0-broken"), &rec).await;
    assert_eq!(out.result, deploy::DeployResult::Failed, "{out}");
    assert_eq!(out.exit(), Exit::Failed);
    assert!(
        out.reason.as_ref().unwrap().contains("rollback failed too"),
        "{out}"
    );
    assert_eq!(out.points_at.as_deref(), Some("staging-users:3"));
    assert!(
        out.next.iter().any(|n| n.contains("opsctl rollback")),
        "{out}"
    );
    assert_eq!(fake.task_definition(REV3).tags[tags::OUTCOME], tags::FAILED);
}

#[tokio::test(start_paused = true)]
async fn a_lost_wait_after_the_update_still_rolls_back() {
    let fake = FakeAws::staging();
    // Preflight reads the service; the waiter's first read is denied (AccessDenied is not
    // worth a retry), which ends the wait with an error after the service was changed.
    fake.fail("ecs:DescribeServices", 1, 1, denied("DescribeServices"));
    let rec = Recorder::default();
    let out = run_deploy(&fake, &opts("v1.2.0"), &rec).await;
    assert_eq!(out.result, deploy::DeployResult::RolledBack, "{out}");
    assert!(
        out.reason.as_ref().unwrap().contains("DescribeServices"),
        "{out}"
    );
    assert_eq!(fake.service_task_definition("staging-users"), REV2);
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_before_the_first_change_changes_nothing() {
    let fake = FakeAws::staging();
    let (handle, interrupt) = Interrupt::new();
    handle.raise();
    let rec = Recorder::default();
    let err = deploy::deploy(
        &fake.aws(),
        &staging(false),
        "staging-users",
        &opts("v1.2.0"),
        &rec,
        &interrupt,
    )
    .await
    .unwrap_err();
    assert!(
        err.downcast_ref::<crate::error::Interrupted>().is_some(),
        "{err:#}"
    );
    assert!(err.to_string().contains("nothing changed"), "{err}");
    assert!(
        fake.mutating_calls().is_empty(),
        "{:?}",
        fake.mutating_calls()
    );
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_during_a_rollbacks_preflight_stops_it_with_nothing_changed() {
    let fake = FakeAws::staging();
    let (handle, interrupt) = Interrupt::new();
    handle.raise();
    let err = rollback::rollback(
        &fake.aws(),
        &staging(false),
        "staging-users",
        &rb_opts(None),
        &Recorder::default(),
        &interrupt,
    )
    .await
    .unwrap_err();
    assert!(
        err.downcast_ref::<crate::error::Interrupted>().is_some(),
        "{err:#}"
    );
    assert!(err.to_string().contains("nothing changed"), "{err}");
    assert!(
        fake.mutating_calls().is_empty(),
        "{:?}",
        fake.mutating_calls()
    );
}

#[tokio::test(start_paused = true)]
async fn preflight_checks_every_secret_reference_and_names_each_missing_one_once() {
    let fake = FakeAws::staging();
    let log_key = "arn:aws:secretsmanager:us-east-1:123456789012:secret:logs/key-Ab12Cd";
    let parameter = "arn:aws:ssm:us-east-1:123456789012:parameter/users/registry";
    fake.reference_missing_secrets(&[log_key, parameter, "plain-parameter"]);
    let rec = Recorder::default();
    let out = run_deploy(&fake, &opts("v1.2.0"), &rec).await;
    assert_eq!(out.result, deploy::DeployResult::PreflightFailed, "{out}");
    let text = out.to_string();
    for missing in [log_key, parameter, "plain-parameter"] {
        assert_eq!(text.matches(missing).count(), 1, "{missing}: {text}");
    }
    assert!(
        fake.count("ssm:DescribeParameters") == 2,
        "{:?}",
        fake.calls()
    );
    assert!(fake.mutating_calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn preflight_looks_up_a_secret_of_another_region_in_that_region() {
    let fake = FakeAws::staging();
    let present = "arn:aws:secretsmanager:us-west-2:123456789012:secret:users/api-Ab12Cd";
    let absent = "arn:aws:secretsmanager:us-west-2:123456789012:secret:users/gone-Ef34Gh";
    let parameter = "arn:aws:ssm:us-west-2:123456789012:parameter/users/token";
    fake.add_secret("us-west-2", present);
    fake.add_secret("us-west-2", "/users/token");
    // In the home region, under the same names, they would wrongly pass.
    fake.add_secret("us-east-1", absent);
    fake.reference_missing_secrets(&[
        &format!("{present}:key::"),
        &format!("{absent}:user::"),
        &format!("{absent}:password::"),
        parameter,
    ]);
    let out = run_deploy(&fake, &opts("v1.2.0"), &Recorder::default()).await;
    assert_eq!(out.result, deploy::DeployResult::PreflightFailed, "{out}");
    let text = out.to_string();
    assert_eq!(
        text.matches(&format!("{absent} (in us-west-2)")).count(),
        1,
        "{text}"
    );
    assert!(!text.contains(present), "{text}");
    assert!(!text.contains(parameter), "{text}");
    assert!(fake.mutating_calls().is_empty());

    // Once the missing one exists there, the preflight passes and the deploy goes on.
    fake.add_secret("us-west-2", absent);
    let out = run_deploy(&fake, &opts("v1.2.0"), &Recorder::default()).await;
    assert_eq!(out.result, deploy::DeployResult::Deployed, "{out}");
}

#[tokio::test(start_paused = true)]
async fn the_plan_names_every_kind_of_call_the_deploy_makes() {
    let planning = FakeAws::staging();
    let mut o = opts("v1.2.0");
    o.dry_run = true;
    let planned = run_deploy(&planning, &o, &Recorder::default()).await;
    let plan = planned.plan.expect("a plan");
    let deploying = FakeAws::staging();
    let done = run_deploy(&deploying, &opts("v1.2.0"), &Recorder::default()).await;
    assert_eq!(done.result, deploy::DeployResult::Deployed, "{done}");
    assert_eq!(
        call_names(&plan.calls),
        call_names(&deploying.mutating_calls()),
        "plan: {:#?}",
        plan.calls
    );
}

#[tokio::test(start_paused = true)]
async fn status_names_the_target_group_its_events_carry_by_arn() {
    let fake = FakeAws::staging();
    let out = run_deploy(&fake, &opts("v1.2.0"), &Recorder::default()).await;
    assert_eq!(out.exit(), Exit::Ok, "{out}");
    let status =
        crate::workflows::inspect::status(&fake.aws(), &staging(false), &["staging-users".into()])
            .await
            .unwrap();
    let text = status.to_string();
    assert!(
        text.contains("registered 2 targets in (target-group staging-users)"),
        "{text}"
    );
    assert!(!text.contains("arn:aws:elasticloadbalancing"), "{text}");
    // JSON keeps the ARN whole for scripts.
    let json = serde_json::to_string(&status).unwrap();
    assert!(
        json.contains("(target-group arn:aws:elasticloadbalancing:"),
        "{json}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_task_definition_file_that_cannot_be_read_fails_preflight_naming_it() {
    let fake = FakeAws::staging();
    let mut env = staging(false);
    env.task_definition = Some(crate::config::TaskDefinitionFile {
        shown: "deploy/missing.json".into(),
        path: "/nonexistent/deploy/missing.json".into(),
        drift: crate::config::DriftMode::Warn,
    });
    let rec = Recorder::default();
    let out = deploy_to(&fake, &env, &opts("v1.2.0"), &rec).await;
    assert_eq!(out.exit(), Exit::BadInput, "{out}");
    let text = out.to_string();
    assert!(
        text.contains("cannot compare staging-users:2 with deploy/missing.json: cannot read it"),
        "{text}"
    );
    assert!(
        text.contains("fix task_definition in [env.staging]"),
        "{text}"
    );
    assert!(fake.mutating_calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn drift_in_a_field_opsctl_does_not_know_is_warned_about() {
    let fake = FakeAws::staging();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        r#"{"family": "${FAMILY}", "containerDefinitions": [{"name": "users", "image": "${IMAGE}"}, {"name": "log-router", "image": "x"}]}"#,
    )
    .unwrap();
    let arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/staging-users:2";
    fake.set_document(
        arn,
        serde_json::json!({
            "taskDefinitionArn": arn, "family": "staging-users", "revision": 2,
            "containerDefinitions": [{"name": "users", "image": "u:1"}, {"name": "log-router", "image": "x"}],
            "trustedExecutionConfiguration": {"enabled": true},
        }),
    );
    let mut env = staging(false);
    env.task_definition = Some(crate::config::TaskDefinitionFile {
        shown: "td.json".into(),
        path: file.path().to_owned(),
        drift: crate::config::DriftMode::Refuse,
    });
    let rec = Recorder::default();
    let (_h, interrupt) = Interrupt::new();
    let report = crate::workflows::preflight::run(
        &fake.aws(),
        &crate::workflows::preflight::Request {
            env: &env,
            service: "staging-users",
            version: Some("v1.2.0"),
            ignore_alarms: false,
            interrupt: &interrupt,
        },
        &rec,
    )
    .await
    .unwrap();
    let drift = report.checks.iter().find(|c| c.name == "drift").unwrap();
    assert!(drift.ok, "{drift}");
    assert!(
        rec.warnings().iter().any(|w| w.contains(
            "staging-users:2 has fields this opsctl does not know, which a deploy's copy would drop: trustedExecutionConfiguration"
        )),
        "{:?}",
        rec.warnings()
    );
}

#[tokio::test(start_paused = true)]
async fn wait_until_on_a_rolling_service_is_refused_before_any_change() {
    let fake = FakeAws::staging();
    let mut o = opts("v1.2.0");
    o.wait_until = Some(deploy::WaitUntil::Paused);
    let out = run_deploy(&fake, &o, &Recorder::default()).await;
    assert_eq!(out.exit(), Exit::BadInput, "{out}");
    assert!(
        out.to_string().contains(
            "--wait-until a paused lifecycle hook: staging-users is deployed by ROLLING updates"
        ),
        "{out}"
    );
    assert!(fake.mutating_calls().is_empty());
}
