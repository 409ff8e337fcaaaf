//! Deploys to a service ECS deploys itself (BLUE_GREEN, LINEAR, CANARY): opsctl follows the
//! service deployment to its end and reports it, on the fake under paused time.

use std::time::Duration;

use super::kit::*;
use crate::aws::fake::FakeAws;
use crate::aws::{AlarmState, DeploymentStrategy};
use crate::config::EnvConfig;
use crate::error::Exit;
use crate::workflows::deploy::{self, DeployOutcome, DeployResult};
use crate::workflows::{Event, Interrupt, Outcome, tags};

fn staging() -> EnvConfig {
    env(r#"
[env.staging]
region = "us-east-1"
cluster = "demo"
service = "staging-users"
container = "users"
repository = "users"
timeout = "2m"
alarms = ["staging-users-5xx"]
"#)
}

fn native(strategy: DeploymentStrategy) -> FakeAws {
    let fake = FakeAws::staging();
    fake.set_strategy("staging-users", strategy);
    fake
}

fn opts(version: &str) -> deploy::Options {
    super::kit::deploy_opts(version)
}

async fn deploy(fake: &FakeAws, o: &deploy::Options, rec: &Recorder) -> DeployOutcome {
    let (_handle, interrupt) = Interrupt::new();
    deploy::deploy(&fake.aws(), &staging(), "staging-users", o, rec, &interrupt)
        .await
        .unwrap()
}

fn stages(rec: &Recorder) -> Vec<String> {
    rec.events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Step { step, detail } if step == "stage" => Some(detail.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn each_native_strategy_is_followed_stage_by_stage_to_success() {
    for strategy in [
        DeploymentStrategy::BlueGreen,
        DeploymentStrategy::Linear,
        DeploymentStrategy::Canary,
    ] {
        let fake = native(strategy);
        let rec = Recorder::default();
        let out = deploy(&fake, &opts("v1.2.0"), &rec).await;
        assert_eq!(out.result, DeployResult::Deployed, "{strategy}: {out}");
        assert_eq!(out.exit(), Exit::Ok);
        assert_eq!(out.strategy, Some(strategy));
        assert!(out.service_deployment.is_some());
        let seen = stages(&rec);
        assert_eq!(
            seen,
            vec![
                "IN_PROGRESS at SCALE_UP, production traffic 0% on the new revision",
                "IN_PROGRESS at PRODUCTION_TRAFFIC_SHIFT, production traffic 100% on the new revision",
                "IN_PROGRESS at BAKE_TIME, production traffic 100% on the new revision",
                "SUCCESSFUL at CLEAN_UP, production traffic 100% on the new revision",
            ],
            "each stage reported once, in order"
        );
        let new = out.to.as_ref().unwrap().arn.clone();
        assert_eq!(
            fake.task_definition(&new).tags[tags::OUTCOME],
            tags::SUCCEEDED
        );
        assert_eq!(fake.service_task_definition("staging-users"), new);
        // One call a poll: the service deployment, not the service and its targets.
        let calls = fake.calls();
        assert!(
            !calls.iter().any(|c| c == "elbv2:DescribeTargetHealth"),
            "{calls:?}"
        );
        assert!(
            out.to_string()
                .contains(&format!("ECS {strategy} deployment: SUCCESSFUL")),
            "{out}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_broken_version_rolled_back_by_ecs_is_exit_3_with_its_reason() {
    let fake = native(DeploymentStrategy::BlueGreen);
    let rec = Recorder::default();
    let out = deploy(&fake, &opts("v1.4.0-broken"), &rec).await;
    assert_eq!(out.result, DeployResult::RolledBack, "{out}");
    assert_eq!(out.exit(), Exit::RolledBack);
    assert!(
        out.reason.as_deref().unwrap().contains("circuit breaker"),
        "{out}"
    );
    let new = out.to.as_ref().unwrap().arn.clone();
    // Rolled back, as a rolling deploy that ECS or opsctl took back reads in the history.
    assert_eq!(
        fake.task_definition(&new).tags[tags::OUTCOME],
        tags::ROLLED_BACK
    );
    assert_ne!(fake.service_task_definition("staging-users"), new);
    assert_eq!(
        fake.mutating_calls()
            .iter()
            .filter(|c| *c == "ecs:UpdateService")
            .count(),
        1,
        "ECS rolls back; opsctl does not update the service again"
    );
}

#[tokio::test(start_paused = true)]
async fn an_alarm_during_the_bake_is_rolled_back_by_ecs() {
    let fake = native(DeploymentStrategy::Canary);
    let rec = Recorder::default();
    let (_h, interrupt) = Interrupt::new();
    let aws = fake.aws();
    let env = staging();
    let o = opts("v1.2.0");
    let deploying = deploy::deploy(&aws, &env, "staging-users", &o, &rec, &interrupt);
    let firing = async {
        // Into ALARM once traffic has moved (stage 2 of the fake's 10 s stages).
        tokio::time::sleep(Duration::from_secs(15)).await;
        fake.set_alarm("staging-users-5xx", AlarmState::Alarm);
    };
    let (out, ()) = tokio::join!(deploying, firing);
    let out = out.unwrap();
    assert_eq!(out.result, DeployResult::RolledBack, "{out}");
    assert!(
        out.reason.as_deref().unwrap().contains("staging-users-5xx"),
        "{out}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_deployment_longer_than_the_timeout_says_ecs_carries_on() {
    let fake = native(DeploymentStrategy::Linear);
    fake.set_behaviour(|b| b.native_stage = Duration::from_secs(600));
    let mut o = opts("v1.2.0");
    o.timeout = Duration::from_secs(30);
    let out = deploy(&fake, &o, &Recorder::default()).await;
    assert_eq!(out.result, DeployResult::TimedOut, "{out}");
    assert_eq!(out.exit(), Exit::TimedOut);
    let reason = out.reason.unwrap();
    assert!(
        reason.contains("ECS carries on with service deployment"),
        "{reason}"
    );
    assert!(reason.contains("SCALE_UP"), "{reason}");
    assert_eq!(out.next, vec!["opsctl status staging"]);
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_leaves_the_deployment_to_ecs_and_says_so() {
    let fake = native(DeploymentStrategy::BlueGreen);
    let (handle, interrupt) = Interrupt::new();
    let aws = fake.aws();
    let env = staging();
    let o = opts("v1.2.0");
    let rec = Recorder::default();
    let deploying = deploy::deploy(&aws, &env, "staging-users", &o, &rec, &interrupt);
    let pressing = async {
        tokio::time::sleep(Duration::from_secs(12)).await;
        handle.raise();
    };
    let (out, ()) = tokio::join!(deploying, pressing);
    let out = out.unwrap();
    assert_eq!(out.result, DeployResult::Interrupted, "{out}");
    assert_eq!(out.exit(), Exit::Interrupted);
    assert!(
        out.reason
            .unwrap()
            .contains("ECS carries on with service deployment"),
        "the user is told where it was left"
    );
}

#[tokio::test(start_paused = true)]
async fn a_paused_traffic_shift_is_approved_when_the_analysis_passes() {
    let fake = native(DeploymentStrategy::Canary);
    fake.set_behaviour(|b| b.native_pause = true);
    let rec = Recorder::default();
    let out = deploy(&fake, &opts("v1.2.0"), &rec).await;
    assert_eq!(out.result, DeployResult::Deployed, "{out}");
    assert_eq!(
        fake.mutating_calls()
            .iter()
            .filter(|c| *c == "ecs:ContinueServiceDeployment")
            .count(),
        1,
        "the hook is answered once"
    );
    assert!(
        rec.steps()
            .iter()
            .any(|s| s.starts_with("approve: PRODUCTION_TRAFFIC_SHIFT: every check passed")),
        "{:?}",
        rec.steps()
    );
    assert!(out.checks.iter().any(|c| c.name == "alarms" && c.ok));
}

#[tokio::test(start_paused = true)]
async fn a_firing_alarm_at_the_paused_shift_is_answered_rollback() {
    let fake = native(DeploymentStrategy::Canary);
    fake.set_behaviour(|b| b.native_pause = true);
    let rec = Recorder::default();
    let (_h, interrupt) = Interrupt::new();
    let aws = fake.aws();
    let env = staging();
    let o = opts("v1.2.0");
    let deploying = deploy::deploy(&aws, &env, "staging-users", &o, &rec, &interrupt);
    let firing = async {
        // After the preflight, before the shift pauses (at 10 s).
        tokio::time::sleep(Duration::from_secs(5)).await;
        fake.set_alarm("staging-users-5xx", AlarmState::Alarm);
    };
    let (out, ()) = tokio::join!(deploying, firing);
    let out = out.unwrap();
    assert_eq!(out.result, DeployResult::RolledBack, "{out}");
    assert_eq!(out.exit(), Exit::RolledBack);
    let reason = out.reason.clone().unwrap();
    assert!(
        reason.starts_with("opsctl's analysis rolled the deployment back"),
        "{reason}"
    );
    assert!(reason.contains("staging-users-5xx"), "{reason}");
    assert!(rec.steps().iter().any(|s| s.starts_with("reject: ")));
    let new = out.to.as_ref().unwrap().arn.clone();
    assert_ne!(fake.service_task_definition("staging-users"), new);
}

#[tokio::test(start_paused = true)]
async fn promote_continues_a_paused_deployment_and_abort_rolls_one_back() {
    use crate::workflows::native::{Action, act};
    let fake = native(DeploymentStrategy::Canary);
    fake.set_behaviour(|b| b.native_pause = true);
    let env = staging();
    let (_h, interrupt) = Interrupt::new();
    let rec = Recorder::default();
    let mut o = opts("v1.2.0");
    o.no_wait = true;
    let started = deploy(&fake, &o, &rec).await;
    assert_eq!(started.result, DeployResult::Started, "{started}");
    assert!(
        started
            .to_string()
            .contains("Follow it with `opsctl status staging`"),
        "ECS runs it to its end; status shows where: {started}"
    );

    // Not paused yet: nothing to promote, nothing changed.
    let err = act(
        &fake.aws(),
        &env,
        "staging-users",
        Action::Promote,
        false,
        &rec,
        &interrupt,
    )
    .await
    .unwrap_err();
    assert!(user_error(err).message.contains("is not paused"));
    tokio::time::sleep(Duration::from_secs(12)).await;
    let before = fake.mutating_calls().len();
    let plan = act(
        &fake.aws(),
        &env,
        "staging-users",
        Action::Promote,
        true,
        &rec,
        &interrupt,
    )
    .await
    .unwrap();
    assert!(
        plan.planned && plan.was.contains("PRODUCTION_TRAFFIC_SHIFT"),
        "{plan}"
    );
    assert_eq!(
        fake.mutating_calls().len(),
        before,
        "a dry run changes nothing"
    );
    let done = act(
        &fake.aws(),
        &env,
        "staging-users",
        Action::Promote,
        false,
        &rec,
        &interrupt,
    )
    .await
    .unwrap();
    assert!(!done.planned, "{done}");
    assert_eq!(
        fake.mutating_calls().last().map(String::as_str),
        Some("ecs:ContinueServiceDeployment")
    );

    // A second deployment, aborted while it waits.
    tokio::time::sleep(Duration::from_secs(60)).await;
    let again = deploy(&fake, &opts_no_wait("v1.3.0"), &rec).await;
    assert_eq!(again.result, DeployResult::Started, "{again}");
    act(
        &fake.aws(),
        &env,
        "staging-users",
        Action::Abort,
        false,
        &rec,
        &interrupt,
    )
    .await
    .unwrap();
    assert_eq!(
        fake.mutating_calls().last().map(String::as_str),
        Some("ecs:StopServiceDeployment")
    );
    tokio::time::sleep(Duration::from_secs(30)).await;
    let err = act(
        &fake.aws(),
        &env,
        "staging-users",
        Action::Abort,
        false,
        &rec,
        &interrupt,
    )
    .await
    .unwrap_err();
    assert!(
        user_error(err)
            .message
            .contains("no service deployment of staging-users is in flight"),
        "an ended deployment is not aborted again"
    );
}

#[tokio::test(start_paused = true)]
async fn promote_and_abort_refuse_a_rolling_service() {
    use crate::workflows::native::{Action, act};
    let fake = FakeAws::staging();
    let (_h, interrupt) = Interrupt::new();
    let err = act(
        &fake.aws(),
        &staging(),
        "staging-users",
        Action::Abort,
        false,
        &Recorder::default(),
        &interrupt,
    )
    .await
    .unwrap_err();
    let err = user_error(err);
    assert!(err.message.contains("ROLLING strategy"), "{err}");
    assert!(fake.mutating_calls().is_empty());
}

fn opts_no_wait(version: &str) -> deploy::Options {
    let mut o = opts(version);
    o.no_wait = true;
    o
}

#[tokio::test(start_paused = true)]
async fn status_shows_the_paused_deployment_and_what_to_do() {
    let fake = native(DeploymentStrategy::Canary);
    fake.set_behaviour(|b| b.native_pause = true);
    deploy(&fake, &opts_no_wait("v1.2.0"), &Recorder::default()).await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    let out =
        crate::workflows::inspect::status(&fake.aws(), &staging(), &["staging-users".to_owned()])
            .await
            .unwrap();
    let text = out.to_string();
    assert!(
        text.contains("ECS CANARY deployment: IN_PROGRESS at PRODUCTION_TRAFFIC_SHIFT, production traffic 10% on the new revision; paused at a PAUSE hook (opsctl promote staging / opsctl abort staging)"),
        "{text}"
    );
    let json = serde_json::to_value(&out).unwrap();
    assert_eq!(json["services"][0]["strategy"], "CANARY");
    assert_eq!(
        json["services"][0]["service_deployment"]["awaiting_hook"],
        "pause-hook"
    );
}

#[tokio::test(start_paused = true)]
async fn wait_until_paused_returns_at_the_hook_and_leaves_it_to_promote() {
    let fake = native(DeploymentStrategy::Canary);
    fake.set_behaviour(|b| b.native_pause = true);
    let rec = Recorder::default();
    let mut o = opts("v1.2.0");
    o.wait_until = Some(deploy::WaitUntil::parse("paused").unwrap());
    let out = deploy(&fake, &o, &rec).await;
    assert_eq!(out.result, DeployResult::Started, "{out}");
    assert_eq!(out.exit(), crate::error::Exit::Ok);
    assert_eq!(
        fake.count("ecs:ContinueServiceDeployment"),
        0,
        "the hook is left for promote or abort"
    );
    let arn = out
        .service_deployment
        .clone()
        .expect("the deployment's ARN");
    let text = out.to_string();
    assert!(
        text.contains("reached a paused lifecycle hook: IN_PROGRESS at PRODUCTION_TRAFFIC_SHIFT"),
        "{text}"
    );
    assert!(
        text.contains(&format!("service deployment: {arn}")),
        "{text}"
    );
    assert!(text.contains("next: opsctl promote staging"), "{text}");
    assert!(text.contains("next: opsctl abort staging"), "{text}");
    let json = serde_json::to_value(&out).unwrap();
    assert_eq!(json["service_deployment"], arn.as_str());
    // The revision stays in progress: nobody has said how it ended.
    let new = fake.task_definition(&out.to.as_ref().unwrap().arn);
    assert_eq!(
        new.tags[crate::aws::tags::OUTCOME],
        crate::aws::tags::IN_PROGRESS
    );
}

#[tokio::test(start_paused = true)]
async fn wait_until_a_stage_returns_once_the_deployment_is_there_or_past_it() {
    let fake = native(DeploymentStrategy::BlueGreen);
    let rec = Recorder::default();
    let mut o = opts("v1.2.0");
    o.wait_until = Some(deploy::WaitUntil::parse("test-traffic-shift").unwrap());
    let out = deploy(&fake, &o, &rec).await;
    assert_eq!(out.result, DeployResult::Started, "{out}");
    let at = out.last_stage.clone().unwrap();
    let stage = deploy::STAGES
        .iter()
        .position(|s| at.contains(&format!(" at {s}")))
        .expect("a stage");
    let wanted = deploy::STAGES
        .iter()
        .position(|s| *s == "TEST_TRAFFIC_SHIFT")
        .unwrap();
    assert!(stage >= wanted, "at or past the stage: {at}");
    assert!(!at.starts_with("SUCCESSFUL"), "before the end: {at}");
    assert!(out.to_string().contains("ECS carries on"), "{out}");
}

#[test]
fn wait_until_names_the_stages_it_takes() {
    use deploy::WaitUntil;
    assert_eq!(WaitUntil::parse("PAUSED").unwrap(), WaitUntil::Paused);
    assert_eq!(
        WaitUntil::parse("bake-time").unwrap(),
        WaitUntil::Stage("BAKE_TIME".into())
    );
    let err = WaitUntil::parse("halfway").unwrap_err();
    assert!(err.contains("`halfway` is not a stage"), "{err}");
    assert!(err.contains("test-traffic-shift"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_declared_strategy_the_service_does_not_have_fails_preflight() {
    let fake = native(DeploymentStrategy::Linear);
    let mut env = staging();
    env.declared_strategy = Some(DeploymentStrategy::Canary);
    let (_h, interrupt) = Interrupt::new();
    let out = deploy::deploy(
        &fake.aws(),
        &env,
        "staging-users",
        &opts("v1.2.0"),
        &Recorder::default(),
        &interrupt,
    )
    .await
    .unwrap();
    assert_eq!(out.exit(), crate::error::Exit::BadInput, "{out}");
    let text = out.to_string();
    assert!(
        text.contains("opsctl.toml says CANARY, but ECS deploys staging-users with LINEAR"),
        "{text}"
    );
    assert!(
        text.contains("set strategy = \"linear\" in [env.staging]"),
        "{text}"
    );
    assert!(fake.mutating_calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_native_settings_the_service_lacks_go_in_the_deploys_update_service() {
    use crate::aws::{NativeSettings, TrafficStep};
    let fake = native(DeploymentStrategy::Canary);
    fake.set_native_settings(
        "staging-users",
        NativeSettings {
            bake_minutes: Some(2),
            canary: Some(TrafficStep {
                percent: Some(5.0),
                bake_minutes: Some(10),
            }),
            linear: None,
        },
    );
    let mut env = staging();
    env.declared_strategy = Some(DeploymentStrategy::Canary);
    env.native = NativeSettings {
        bake_minutes: Some(10),
        canary: Some(TrafficStep {
            percent: Some(20.0),
            bake_minutes: Some(10),
        }),
        linear: None,
    };
    let (_h, interrupt) = Interrupt::new();
    let run = |o: deploy::Options| {
        let (aws, env, interrupt) = (fake.aws(), env.clone(), interrupt.clone());
        async move {
            deploy::deploy(
                &aws,
                &env,
                "staging-users",
                &o,
                &Recorder::default(),
                &interrupt,
            )
            .await
            .unwrap()
        }
    };

    let mut dry = opts("v1.2.0");
    dry.dry_run = true;
    let planned = run(dry).await;
    let plan = planned.plan.as_ref().expect("a plan");
    assert_eq!(
        plan.deployment_configuration,
        vec!["bake time 2m -> 10m", "canary 5% -> 20%"],
        "the plan names each change, and only the changes"
    );
    assert!(
        plan.calls.iter().any(|c| c.starts_with("ecs:UpdateService")
            && c.contains("deploymentConfiguration: bake time 2m -> 10m, canary 5% -> 20%")),
        "{:?}",
        plan.calls
    );
    assert!(
        fake.mutating_calls().is_empty(),
        "a dry run changes nothing"
    );

    let out = run(opts("v1.2.0")).await;
    assert_eq!(out.result, DeployResult::Deployed, "{out}");
    assert_eq!(
        fake.native_updates("staging-users"),
        vec![NativeSettings {
            bake_minutes: Some(10),
            canary: Some(TrafficStep {
                percent: Some(20.0),
                bake_minutes: None,
            }),
            linear: None,
        }],
        "only what differs is sent; the canary's bake, already 10m, is kept"
    );
    assert_eq!(fake.count("ecs:UpdateService"), 1, "one UpdateService");

    // The service now has them: the next deploy sends the revision only.
    let again = run(opts("v1.3.0")).await;
    assert_eq!(again.result, DeployResult::Deployed, "{again}");
    assert!(again.plan.unwrap().deployment_configuration.is_empty());
    assert_eq!(fake.native_updates("staging-users").len(), 1);
}
