//! Blue/green workflows against the in-memory AWS, under paused tokio time.

use crate::workflows::Outcome;
use std::time::Duration;

use super::kit::*;
use crate::aws::TargetGroupMetrics;
use crate::aws::fake::FakeAws;
use crate::config::EnvConfig;
use crate::error::{Exit, UserError};
use crate::workflows::Interrupt;
use crate::workflows::deploy::{self, DeployResult};
use crate::workflows::rollback;
use crate::workflows::traffic::{self, Colour, SwitchResult};

fn prod(extra: &str) -> EnvConfig {
    let text = format!(
        r#"
[env.prod]
cluster = "demo"
container = "users"
repository = "users"
timeout = "2m"
alarms = ["prod-users-5xx", "prod-users-p99"]
bake = "30s"
{extra}

[env.prod.bluegreen]
listener = "prod-alb:80"
blue  = {{ service = "prod-users-blue",  target_group = "prod-users-blue" }}
green = {{ service = "prod-users-green", target_group = "prod-users-green" }}
steps = [10, 50, 100]
step_interval = "60s"
"#
    );
    env(&text)
}

fn switch_opts(to: Colour) -> traffic::Options {
    traffic::Options {
        to,
        steps: vec![10, 50, 100],
        interval: Duration::from_secs(60),
        dry_run: false,
    }
}

async fn switch(
    fake: &FakeAws,
    env: &EnvConfig,
    opts: &traffic::Options,
) -> anyhow::Result<traffic::TrafficOutcome> {
    let aws = fake.aws();
    let pair = traffic::resolve(&aws, env).await?;
    let (_h, interrupt) = Interrupt::new();
    traffic::switch(&aws, env, &pair, opts, &Recorder::default(), &interrupt).await
}

#[tokio::test(start_paused = true)]
async fn each_step_interval_counts_down_with_what_the_last_checks_read() {
    let fake = FakeAws::prod();
    let aws = fake.aws();
    let env = prod("");
    let pair = traffic::resolve(&aws, &env).await.unwrap();
    let (_h, interrupt) = Interrupt::new();
    let rec = Recorder::default();
    traffic::switch(
        &aws,
        &env,
        &pair,
        &switch_opts(Colour::Green),
        &rec,
        &interrupt,
    )
    .await
    .unwrap();
    let ticks = rec.countdowns();
    let at_10: Vec<u64> = ticks
        .iter()
        .filter(|(w, ..)| w == "green at 10%")
        .map(|(_, left, _)| *left)
        .collect();
    // A 60 s interval, told about every 10 s (the pacer's ±20 %), counting down.
    assert_eq!(at_10.first(), Some(&60), "{ticks:?}");
    assert!(at_10.len() >= 5 && at_10.len() <= 8, "{ticks:?}");
    assert!(at_10.windows(2).all(|w| w[0] > w[1]), "{ticks:?}");
    // Before the first step's checks there is nothing to show; at 50 %, what 10 % read.
    assert!(
        ticks
            .iter()
            .filter(|(w, ..)| w == "green at 10%")
            .all(|(.., l)| l.is_none())
    );
    let at_50: Vec<_> = ticks.iter().filter(|(w, ..)| w == "green at 50%").collect();
    assert!(!at_50.is_empty(), "{ticks:?}");
    let read = at_50[0].2.as_deref().unwrap();
    assert!(read.contains("targets") && read.contains("p99"), "{read}");
}

#[tokio::test(start_paused = true)]
async fn clean_switch_moves_the_weights_step_by_step() {
    let fake = FakeAws::prod();
    let out = switch(&fake, &prod(""), &switch_opts(Colour::Green))
        .await
        .unwrap();
    assert_eq!(out.result, SwitchResult::Switched, "{out}");
    assert_eq!(out.exit(), Exit::Ok);
    assert_eq!(fake.weight_log(), vec![(90, 10), (50, 50), (0, 100)]);
    assert_eq!(fake.weights(), (0, 100));
    assert_eq!(out.steps.len(), 3);
    // Each step before the last was checked: health, alarms, 5xx, p99.
    let names: Vec<&str> = out.steps[0]
        .checks
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["targets", "alarms", "5xx", "p99"]);
    assert!(
        out.steps[0].checks[2].detail.contains("no datapoints"),
        "{out}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_check_failing_at_50_percent_puts_the_weights_back() {
    let fake = FakeAws::prod();
    // Healthy through the 10 % step's check (t=60s), sick by the 50 % step's (t=120s).
    fake.unhealthy_after("prod-users-green", Duration::from_secs(90));
    let out = switch(&fake, &prod(""), &switch_opts(Colour::Green))
        .await
        .unwrap();
    assert_eq!(out.result, SwitchResult::Restored, "{out}");
    assert_eq!(out.exit(), Exit::RolledBack);
    assert_eq!(fake.weight_log(), vec![(90, 10), (50, 50), (100, 0)]);
    assert_eq!(fake.weights(), (100, 0));
    let reason = out.reason.unwrap();
    assert!(
        reason.contains("at 50%") && reason.contains("targets"),
        "{reason}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_5xx_rate_above_the_threshold_fails_the_step_with_its_numbers() {
    let fake = FakeAws::prod();
    fake.set_metrics(
        "prod-users-green",
        TargetGroupMetrics {
            requests: Some(1000.0),
            errors_5xx: Some(50.0),
            p99_seconds: Some(0.2),
        },
    );
    let out = switch(&fake, &prod(""), &switch_opts(Colour::Green))
        .await
        .unwrap();
    assert_eq!(out.result, SwitchResult::Restored);
    assert!(
        out.reason
            .as_ref()
            .unwrap()
            .contains("5.00% 5xx of 1000 requests"),
        "{out}"
    );
    assert_eq!(fake.weights(), (100, 0));
}

#[tokio::test(start_paused = true)]
async fn missing_metrics_fail_only_when_required() {
    let fake = FakeAws::prod();
    let out = switch(&fake, &prod(""), &switch_opts(Colour::Green))
        .await
        .unwrap();
    assert_eq!(out.result, SwitchResult::Switched);

    let fake = FakeAws::prod();
    let strict = prod("").clone();
    let mut strict = strict;
    strict.two_service_mut().unwrap().require_metrics = true;
    let out = switch(&fake, &strict, &switch_opts(Colour::Green))
        .await
        .unwrap();
    assert_eq!(out.result, SwitchResult::Restored, "{out}");
    assert_eq!(fake.weights(), (100, 0));
}

#[tokio::test(start_paused = true)]
async fn unhealthy_targets_block_the_switch_before_any_change() {
    let fake = FakeAws::prod();
    fake.unhealthy_after("prod-users-green", Duration::ZERO);
    let out = switch(&fake, &prod(""), &switch_opts(Colour::Green))
        .await
        .unwrap();
    assert_eq!(out.result, SwitchResult::NotReady, "{out}");
    assert_eq!(out.exit(), Exit::BadInput);
    assert!(
        fake.mutating_calls().is_empty(),
        "{:?}",
        fake.mutating_calls()
    );
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_mid_switch_restores_the_weights() {
    let fake = FakeAws::prod();
    let env = prod("");
    let aws = fake.aws();
    let pair = traffic::resolve(&aws, &env).await.unwrap();
    let (handle, interrupt) = Interrupt::new();
    let rec = Recorder::default();
    let opts = switch_opts(Colour::Green);
    let run = traffic::switch(&aws, &env, &pair, &opts, &rec, &interrupt);
    let press = async {
        tokio::time::sleep(Duration::from_secs(90)).await;
        handle.raise();
    };
    let (out, ()) = tokio::join!(run, press);
    let out = out.unwrap();
    assert_eq!(out.result, SwitchResult::Interrupted);
    assert_eq!(out.exit(), Exit::Interrupted);
    assert_eq!(fake.weight_log(), vec![(90, 10), (50, 50), (100, 0)]);
}

#[tokio::test(start_paused = true)]
async fn bad_traffic_input_is_refused_and_changes_nothing() {
    let fake = FakeAws::prod();
    let env = prod("");
    let mut bad = switch_opts(Colour::Green);
    bad.steps = vec![50, 10, 100];
    let err = switch(&fake, &env, &bad).await.unwrap_err();
    assert!(err.to_string().contains("do not increase"), "{err}");
    let err = switch(&fake, &env, &switch_opts(Colour::Blue))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already carries all"), "{err}");

    let mut wrong = env.clone();
    wrong.two_service_mut().unwrap().green.target_group = "staging-users".into();
    let err = switch(&fake, &wrong, &switch_opts(Colour::Green))
        .await
        .unwrap_err();
    assert!(err.downcast_ref::<UserError>().is_some());
    assert!(
        err.to_string().contains("does not forward to both"),
        "{err}"
    );

    let mut none = env.clone();
    none.strategy = crate::config::Strategy::Rolling {
        service: "staging-users".into(),
    };
    let err = traffic::resolve(&fake.aws(), &none).await.unwrap_err();
    assert!(
        err.to_string().contains("not a blue/green environment"),
        "{err}"
    );
    assert!(fake.mutating_calls().is_empty());
}

fn deploy_opts(version: &str) -> deploy::Options {
    super::kit::deploy_opts(version)
}

async fn bg_deploy(fake: &FakeAws, version: &str) -> deploy::DeployOutcome {
    let (_h, interrupt) = Interrupt::new();
    deploy::two_service::deploy(
        &fake.aws(),
        &prod(""),
        &deploy_opts(version),
        &Recorder::default(),
        &interrupt,
    )
    .await
    .unwrap()
}

const PROD2: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/prod-users:2";
const PROD3: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/prod-users:3";

#[tokio::test(start_paused = true)]
async fn bluegreen_deploy_ends_with_the_new_colour_live_and_the_old_running() {
    let fake = FakeAws::prod();
    let out = bg_deploy(&fake, "v1.2.0").await;
    assert_eq!(out.result, DeployResult::Deployed, "{out}");
    assert_eq!(out.colour, Some(Colour::Green));
    assert_eq!(fake.service_task_definition("prod-users-green"), PROD3);
    assert_eq!(
        fake.service_task_definition("prod-users-blue"),
        PROD2,
        "old colour untouched"
    );
    assert_eq!(
        fake.desired("prod-users-blue"),
        3,
        "old colour keeps running"
    );
    assert_eq!(fake.weights(), (0, 100));
    // The new revision copies the live colour's (prod-users:2), not the idle one's.
    assert_eq!(
        fake.task_definition(PROD3).tags["opsctl:previous"],
        "prod-users:2"
    );
}

#[tokio::test(start_paused = true)]
async fn a_broken_version_never_receives_traffic() {
    let fake = FakeAws::prod();
    let out = bg_deploy(&fake, "v1.4.0-broken").await;
    assert_eq!(out.result, DeployResult::RolledBack, "{out}");
    assert_eq!(out.exit(), Exit::RolledBack);
    assert!(
        fake.weight_log().is_empty(),
        "no weight ever changed: {:?}",
        fake.weight_log()
    );
    assert!(
        out.reason
            .as_ref()
            .unwrap()
            .contains("traffic never left blue"),
        "{out}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_alarm_during_bake_moves_traffic_back() {
    let fake = FakeAws::prod();
    // Rollout 5 s + steps 120 s: the alarm fires during the 30 s bake.
    fake.alarm_after("prod-users-5xx", Duration::from_secs(140));
    let out = bg_deploy(&fake, "v1.2.0").await;
    assert_eq!(out.result, DeployResult::RolledBack, "{out}");
    assert_eq!(fake.weights(), (100, 0), "traffic back on blue");
    assert_eq!(*fake.weight_log().last().unwrap(), (100, 0));
    assert!(
        out.reason.as_ref().unwrap().contains("prod-users-5xx"),
        "{out}"
    );
    // Both moves are said, not "moved blue 100 / green 0 -> blue 100 / green 0".
    let text = out.to_string();
    assert!(
        text.contains("traffic: moved to green, then back to blue; now blue 100 / green 0"),
        "{text}"
    );
    assert!(!text.contains(" -> blue 100 / green 0"), "{text}");
    // The instant way back must not lead to the version that just failed.
    assert_eq!(
        fake.service_task_definition("prod-users-green"),
        "arn:aws:ecs:us-east-1:123456789012:task-definition/prod-users:1"
    );
    // History reads it as a rolling env's bake alarm does: failed, and put back.
    let new = fake.task_definition(&out.to.as_ref().unwrap().arn);
    assert_eq!(
        new.tags[crate::aws::tags::OUTCOME],
        crate::aws::tags::ROLLED_BACK,
        "{}",
        new.arn
    );
}

#[tokio::test(start_paused = true)]
async fn rollback_returns_traffic_in_one_listener_change() {
    let fake = FakeAws::prod();
    bg_deploy(&fake, "v1.2.0").await;
    let changes_before = fake.count("elbv2:ModifyListener");
    let updates_before = fake.count("ecs:UpdateService");
    let (_h, interrupt) = Interrupt::new();
    let rec = Recorder::default();
    let opts = rollback::Options {
        to: None,
        dry_run: false,
        no_wait: false,
        timeout: Duration::from_secs(60),
        poll: Duration::from_secs(1),
    };
    let out = rollback::two_service::rollback(&fake.aws(), &prod(""), &opts, &rec, &interrupt)
        .await
        .unwrap();
    assert_eq!(out.result, rollback::RollbackResult::RolledBack, "{out}");
    assert_eq!(out.to.version, "v1.1.0");
    assert_eq!(fake.weights(), (100, 0));
    assert_eq!(
        fake.count("elbv2:ModifyListener"),
        changes_before + 1,
        "one listener change"
    );
    assert_eq!(
        fake.count("ecs:UpdateService"),
        updates_before,
        "no ECS change"
    );
    assert!(
        rec.steps()
            .iter()
            .any(|s| s.contains("all traffic to blue"))
    );
}

#[tokio::test(start_paused = true)]
async fn rollback_falls_back_to_rolling_when_the_old_colour_is_gone() {
    let fake = FakeAws::prod();
    bg_deploy(&fake, "v1.2.0").await;
    let (_h, interrupt) = Interrupt::new();
    let aws = fake.aws();
    crate::workflows::retire::retire(
        &aws,
        &prod(""),
        None,
        false,
        Duration::from_secs(60),
        &Recorder::default(),
        &interrupt,
    )
    .await
    .unwrap();
    assert_eq!(fake.desired("prod-users-blue"), 0);
    let opts = rollback::Options {
        to: None,
        dry_run: false,
        no_wait: false,
        timeout: Duration::from_secs(60),
        poll: Duration::from_secs(1),
    };
    let out =
        rollback::two_service::rollback(&aws, &prod(""), &opts, &Recorder::default(), &interrupt)
            .await
            .unwrap();
    assert_eq!(out.result, rollback::RollbackResult::RolledBack, "{out}");
    assert_eq!(
        out.service, "prod-users-green",
        "rolled back in place on the live colour"
    );
    assert_eq!(fake.service_task_definition("prod-users-green"), PROD2);
    assert_eq!(fake.weights(), (0, 100), "traffic stays on green");
}

#[tokio::test(start_paused = true)]
async fn retire_refuses_the_colour_with_traffic() {
    let fake = FakeAws::prod();
    let (_h, interrupt) = Interrupt::new();
    let err = crate::workflows::retire::retire(
        &fake.aws(),
        &prod(""),
        Some(Colour::Blue),
        false,
        Duration::from_secs(60),
        &Recorder::default(),
        &interrupt,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("carries 100%"), "{err}");
    assert!(fake.mutating_calls().is_empty());
}

// --- Every failure after a change ends in a known, reported state -----------------------

use crate::aws::AwsError;

#[tokio::test(start_paused = true)]
async fn an_aws_error_mid_switch_puts_the_weights_back() {
    let fake = FakeAws::prod();
    // The checks after the 10 % step cannot read CloudWatch.
    fake.fail(
        "cloudwatch:GetMetricData",
        0,
        u32::MAX,
        AwsError::AccessDenied("GetMetricData: AccessDenied: not authorized".into()),
    );
    let out = switch(&fake, &prod(""), &switch_opts(Colour::Green))
        .await
        .unwrap();
    assert_eq!(out.result, SwitchResult::Restored, "{out}");
    assert_eq!(out.exit(), Exit::RolledBack);
    assert_eq!(fake.weights(), (100, 0));
    assert_eq!(out.after.blue, 100);
    assert!(
        out.reason.as_ref().unwrap().contains("GetMetricData"),
        "{out}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_weight_change_at_50_percent_puts_the_weights_back() {
    let fake = FakeAws::prod();
    fake.fail(
        "elbv2:ModifyListener",
        1,
        1,
        AwsError::Other("ModifyListener: InternalError".into()),
    );
    let out = switch(&fake, &prod(""), &switch_opts(Colour::Green))
        .await
        .unwrap();
    assert_eq!(out.result, SwitchResult::Restored, "{out}");
    assert_eq!(fake.weights(), (100, 0));
    assert_eq!(fake.weight_log(), vec![(90, 10), (100, 0)]);
}

#[tokio::test(start_paused = true)]
async fn weights_that_cannot_be_put_back_are_reported_where_they_are() {
    let fake = FakeAws::prod();
    fake.fail(
        "elbv2:ModifyListener",
        1,
        u32::MAX,
        AwsError::AccessDenied("ModifyListener: AccessDenied: revoked".into()),
    );
    let out = switch(&fake, &prod(""), &switch_opts(Colour::Green))
        .await
        .unwrap();
    assert_eq!(out.result, SwitchResult::Failed, "{out}");
    assert_eq!(out.exit(), Exit::Failed);
    assert_eq!(fake.weights(), (90, 10));
    assert_eq!((out.after.blue, out.after.green), (90, 10), "{out}");
    assert!(out.to_string().contains("blue 90 / green 10"), "{out}");
}

#[tokio::test(start_paused = true)]
async fn a_failed_bluegreen_deploy_exits_3_only_once_the_idle_colour_has_settled() {
    let fake = FakeAws::prod();
    fake.set_behaviour(|b| b.ecs_rollback = true);
    let out = bg_deploy(&fake, "v1.4.0-broken").await;
    assert_eq!(out.result, DeployResult::RolledBack, "{out}");
    // Green is back on what it ran, with nothing in flight: an instant rollback is there.
    assert_eq!(
        fake.service_task_definition("prod-users-green"),
        "arn:aws:ecs:us-east-1:123456789012:task-definition/prod-users:1"
    );
    let green = &fake
        .aws()
        .ecs
        .describe_services("demo", &["prod-users-green".to_owned()])
        .await
        .unwrap()[0];
    assert!(!green.deployment_in_flight(), "{green:?}");
    assert!(out.rollback.is_some(), "{out}");
    assert_eq!(fake.weights(), (100, 0));
}

#[tokio::test(start_paused = true)]
async fn an_aws_error_during_the_bluegreen_bake_moves_traffic_back() {
    let fake = FakeAws::prod();
    // Preflight's alarm check passes, the steps' checks pass; the bake's reads are denied.
    let checks = 1 + 2;
    fake.fail(
        "cloudwatch:DescribeAlarms",
        checks,
        u32::MAX,
        AwsError::AccessDenied("DescribeAlarms: AccessDenied: revoked".into()),
    );
    let out = bg_deploy(&fake, "v1.2.0").await;
    assert_eq!(out.result, DeployResult::RolledBack, "{out}");
    assert_eq!(fake.weights(), (100, 0));
    assert!(
        out.reason.as_ref().unwrap().contains("DescribeAlarms"),
        "{out}"
    );
}

#[tokio::test(start_paused = true)]
async fn rollback_waits_for_a_settling_colour_instead_of_rolling_the_live_one_in_place() {
    let fake = FakeAws::prod();
    bg_deploy(&fake, "v1.2.0").await;
    // Blue (idle, v1.1.0) is mid-deployment back to its own revision, as after a failed
    // deploy's rollback: not stable for a few seconds.
    fake.start_deployment_of("prod-users-blue", "prod-users", 2);
    let updates_before = fake.count("ecs:UpdateService");
    let (_h, interrupt) = Interrupt::new();
    let rec = Recorder::default();
    let opts = rollback::Options {
        to: None,
        dry_run: false,
        no_wait: false,
        timeout: Duration::from_secs(60),
        poll: Duration::from_secs(1),
    };
    let out = rollback::two_service::rollback(&fake.aws(), &prod(""), &opts, &rec, &interrupt)
        .await
        .unwrap();
    assert_eq!(out.result, rollback::RollbackResult::RolledBack, "{out}");
    assert_eq!(fake.weights(), (100, 0), "traffic back on blue at once");
    assert_eq!(
        fake.count("ecs:UpdateService"),
        updates_before,
        "the live colour was not rolled back in place"
    );
    assert!(
        rec.steps().iter().any(|s| s.contains("is settling")),
        "{:?}",
        rec.steps()
    );
}

#[tokio::test(start_paused = true)]
async fn the_plan_names_every_kind_of_call_the_bluegreen_deploy_makes() {
    let planning = FakeAws::prod();
    let mut o = deploy_opts("v1.2.0");
    o.dry_run = true;
    let planned = deploy::two_service::deploy(
        &planning.aws(),
        &prod(""),
        &o,
        &Recorder::default(),
        &Interrupt::new().1,
    )
    .await
    .unwrap();
    let plan = planned.plan.expect("a plan");
    let deploying = FakeAws::prod();
    let done = bg_deploy(&deploying, "v1.2.0").await;
    assert_eq!(done.result, DeployResult::Deployed, "{done}");
    assert_eq!(
        call_names(&plan.calls),
        call_names(&deploying.mutating_calls()),
        "plan: {:#?}",
        plan.calls
    );
}
