//! Notifications around the workflows that change an env, against the in-memory AWS and a
//! notifier that records (or fails, or hangs), under paused tokio time.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::kit::*;
use crate::aws::fake::{Failing, FakeAws, FakeNotifier};
use crate::config::EnvConfig;
use crate::error::Exit;
use crate::workflows::deploy::{self, DeployOutcome};
use crate::workflows::notify::{self, About, End, Notices};
use crate::workflows::{Interrupt, Outcome};

const HOOK: &str = "https://hooks.example.com/services/T000/B000/SECRETTOKEN";

fn staging() -> EnvConfig {
    env(&format!(
        r#"
[env.staging]
region = "us-east-1"
cluster = "demo"
service = "staging-users"
container = "users"
repository = "users"
timeout = "2m"
bake = "30s"
notify = [{{ webhook = "{HOOK}" }}, {{ sns = "arn:aws:sns:us-east-1:123456789012:deploys" }}]
"#
    ))
}

fn about(env: &EnvConfig, version: Option<&str>) -> About {
    About {
        env: env.name.clone(),
        command: "deploy".into(),
        services: env.services().into_iter().map(str::to_owned).collect(),
        version: version.map(str::to_owned),
        who: "tester".into(),
        ci_run: None,
    }
}

/// A deploy of `version` to staging with its notices; with how long the end waited for them.
async fn deploy_notified(
    fake: &FakeAws,
    notifier: &FakeNotifier,
    o: &deploy::Options,
    rec: &Recorder,
) -> (DeployOutcome, Duration) {
    let env = staging();
    let notices = Notices::start(
        Arc::new(notifier.clone()),
        &env.notify,
        about(&env, Some(&o.version)),
    );
    let (_h, interrupt) = Interrupt::new();
    let out = deploy::deploy(
        &fake.aws(),
        &env,
        "staging-users",
        o,
        &notices.reporter(rec),
        &interrupt,
    )
    .await
    .unwrap();
    let at = Instant::now();
    notices.finish(End::of(&out), rec).await;
    (out, at.elapsed())
}

/// The documents one target received, in order.
fn received(notifier: &FakeNotifier, target: &str) -> Vec<serde_json::Value> {
    notifier
        .sent
        .lock()
        .unwrap()
        .iter()
        .filter(|(t, _)| t.shown().starts_with(target))
        .map(|(_, doc)| doc.clone())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_good_deploy_notifies_its_start_then_its_success_with_from_and_to() {
    let fake = FakeAws::staging();
    let notifier = FakeNotifier::default();
    let rec = Recorder::default();
    let (out, _) = deploy_notified(&fake, &notifier, &deploy_opts("v1.2.0"), &rec).await;
    assert_eq!(out.exit(), Exit::Ok);
    for target in ["webhook", "sns"] {
        let docs = received(&notifier, target);
        let events: Vec<&str> = docs.iter().map(|d| d["event"].as_str().unwrap()).collect();
        assert_eq!(events, ["started", "succeeded"], "{target}");
        let end = &docs[1];
        assert_eq!(end["env"], "staging");
        assert_eq!(end["services"], serde_json::json!(["staging-users"]));
        assert_eq!(end["version"], "v1.2.0");
        assert_eq!(end["who"], "tester");
        assert_eq!(end["outcome"], "deployed");
        assert_eq!(end["exit_code"], 0);
        assert_eq!(end["from"]["revision"], "staging-users:2");
        assert_eq!(end["from"]["version"], "v1.1.0");
        assert_eq!(end["to"]["revision"], "staging-users:3");
        assert_eq!(end["to"]["version"], "v1.2.0");
        assert!(
            end["duration_secs"].as_f64().unwrap() >= 5.0,
            "tasks take 5s to start"
        );
        assert!(end["text"].as_str().unwrap().contains("deployed v1.2.0"));
    }
    assert!(rec.warnings().is_empty(), "{:?}", rec.warnings());
}

#[tokio::test(start_paused = true)]
async fn a_rolled_back_deploy_and_a_failed_one_say_so_with_their_exit_codes() {
    let fake = FakeAws::staging();
    let notifier = FakeNotifier::default();
    let (out, _) = deploy_notified(
        &fake,
        &notifier,
        &deploy_opts("v1.4.0-broken"),
        &Recorder::default(),
    )
    .await;
    assert_eq!(out.exit(), Exit::RolledBack);
    let docs = received(&notifier, "webhook");
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[1]["event"], "rolled_back");
    assert_eq!(docs[1]["exit_code"], 3);
    assert!(docs[1]["reason"].as_str().is_some_and(|r| !r.is_empty()));

    let fake = FakeAws::staging();
    let notifier = FakeNotifier::default();
    let mut o = deploy_opts("v1.4.0-broken");
    o.no_rollback = true;
    let (out, _) = deploy_notified(&fake, &notifier, &o, &Recorder::default()).await;
    assert_eq!(out.exit(), Exit::Failed);
    let events: Vec<String> = received(&notifier, "webhook")
        .iter()
        .map(|d| d["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(events, ["started", "failed"]);
}

#[tokio::test(start_paused = true)]
async fn a_notifier_that_fails_or_hangs_is_a_warning_and_changes_no_outcome() {
    for how in [Failing::Errors, Failing::Hangs] {
        let fake = FakeAws::staging();
        let notifier = FakeNotifier::failing(how);
        let rec = Recorder::default();
        let (out, waited) = deploy_notified(&fake, &notifier, &deploy_opts("v1.2.0"), &rec).await;
        assert_eq!(out.exit(), Exit::Ok, "{how:?}");
        assert_eq!(out.result, deploy::DeployResult::Deployed, "{how:?}");
        // The end waits for its notices a few seconds at most.
        assert!(
            waited <= notify::TIMEOUT + Duration::from_millis(10),
            "{how:?}: {waited:?}"
        );
        let warnings = rec.warnings();
        // Each target, for the start and for the end.
        assert_eq!(warnings.len(), 4, "{how:?}: {warnings:?}");
        assert!(
            warnings[0].contains("env.staging.notify[0] (webhook https://hooks.example.com/…)"),
            "{warnings:?}"
        );
        assert!(
            warnings.iter().all(|w| !w.contains("SECRETTOKEN")),
            "{warnings:?}"
        );
        // Two attempts while the target had not failed, one after.
        assert_eq!(*notifier.attempts.lock().unwrap(), 2 * 2 + 2, "{how:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_blue_green_deploy_notifies_each_traffic_step_between_start_and_end() {
    let fake = FakeAws::prod();
    let env = env(&format!(
        r#"
[env.prod]
cluster = "demo"
container = "users"
repository = "users"
timeout = "2m"
bake = "30s"
notify = [{{ webhook = "{HOOK}" }}]

[env.prod.bluegreen]
listener = "prod-alb:80"
blue  = {{ service = "prod-users-blue",  target_group = "prod-users-blue" }}
green = {{ service = "prod-users-green", target_group = "prod-users-green" }}
steps = [10, 50, 100]
step_interval = "60s"
"#
    ));
    let notifier = FakeNotifier::default();
    let notices = Notices::start(
        Arc::new(notifier.clone()),
        &env.notify,
        about(&env, Some("v1.2.0")),
    );
    let rec = Recorder::default();
    let (_h, interrupt) = Interrupt::new();
    let out = deploy::two_service::deploy(
        &fake.aws(),
        &env,
        &deploy_opts("v1.2.0"),
        &notices.reporter(&rec),
        &interrupt,
    )
    .await
    .unwrap();
    assert_eq!(out.exit(), Exit::Ok, "{out}");
    notices.finish(End::of(&out), &rec).await;
    let docs = notifier.sent.lock().unwrap().clone();
    let events: Vec<&str> = docs
        .iter()
        .map(|(_, d)| d["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["started", "step", "step", "step", "succeeded"]);
    let steps: Vec<&str> = docs[1..4]
        .iter()
        .map(|(_, d)| d["step"].as_str().unwrap())
        .collect();
    assert!(steps[0].starts_with("green 10%"), "{steps:?}");
    assert!(steps[1].starts_with("green 50%"), "{steps:?}");
    assert!(steps[2].starts_with("green 100%"), "{steps:?}");
}

#[test]
fn a_ci_run_is_linked_when_github_says_where_and_a_dry_run_says_what_it_would_send() {
    let vars = |k: &str| match k {
        "GITHUB_SERVER_URL" => Some("https://github.com".to_owned()),
        "GITHUB_REPOSITORY" => Some("acme/users".to_owned()),
        "GITHUB_RUN_ID" => Some("42".to_owned()),
        _ => None,
    };
    assert_eq!(
        notify::ci_run(&vars).as_deref(),
        Some("https://github.com/acme/users/actions/runs/42")
    );
    assert_eq!(notify::ci_run(&|_| None), None);
    let line = notify::would_send(&staging().notify).unwrap();
    assert!(
        line.contains("webhook https://hooks.example.com/…"),
        "{line}"
    );
    assert!(!line.contains("SECRETTOKEN"), "{line}");
    assert_eq!(notify::would_send(&[]), None);
}
