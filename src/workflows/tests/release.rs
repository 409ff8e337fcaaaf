//! Releases of several services of one env (`services = [...]`): waves, all or nothing, one
//! DescribeServices a poll for every ten services.

use super::kit::*;
use crate::aws::fake::{FakeAws, REGISTRY};
use crate::config::EnvConfig;
use crate::error::Exit;
use crate::workflows::Interrupt;
use crate::workflows::Outcome;
use crate::workflows::deploy::DeployResult;
use crate::workflows::deploy::release::{self, ReleaseOutcome, ServiceResult};

/// staging-users in wave 1 with `api`, and `worker` (its own repository) in wave 2.
fn two_waves() -> (FakeAws, EnvConfig) {
    let fake = FakeAws::staging();
    fake.add_service("api");
    fake.add_service("worker");
    fake.add_image("worker", "v1.2.0");
    let env = env(r#"
[env.prod]
region = "us-east-1"
cluster = "demo"
repository = "users"
timeout = "2m"
services = [
  { name = "staging-users", container = "users" },
  { name = "api", container = "users" },
  { name = "worker", container = "users", repository = "worker", wave = 2 },
]
"#);
    (fake, env)
}

async fn release(
    fake: &FakeAws,
    env: &EnvConfig,
    named: &[&str],
    rec: &Recorder,
) -> ReleaseOutcome {
    let (_h, interrupt) = Interrupt::new();
    let named: Vec<String> = named.iter().map(|s| (*s).to_owned()).collect();
    let members = env.select(&named).unwrap();
    release::deploy(
        &fake.aws(),
        env,
        &members,
        &deploy_opts("v1.2.0"),
        rec,
        &interrupt,
    )
    .await
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_release_deploys_every_service_wave_after_wave() {
    let (fake, env) = two_waves();
    let rec = Recorder::default();
    let out = release(&fake, &env, &[], &rec).await;
    assert_eq!(out.result, DeployResult::Deployed, "{out}");
    assert_eq!(out.exit(), Exit::Ok);
    for (service, rev) in [("staging-users", 3), ("api", 2), ("worker", 2)] {
        let td = fake.service_task_definition(service);
        assert!(
            td.ends_with(&format!("/{service}:{rev}")),
            "{service}: {td}"
        );
    }
    assert_eq!(
        fake.task_definition(&fake.service_task_definition("worker"))
            .image_of("users"),
        Some(format!("{REGISTRY}/worker:v1.2.0").as_str())
    );
    // Wave 2 is updated only once wave 1 is stable: after its wait.
    let steps = rec.steps();
    let wave2 = steps.iter().position(|s| s.contains("wave 2")).unwrap();
    let wait1 = steps
        .iter()
        .position(|s| s.contains("waiting for wave 1"))
        .unwrap();
    assert!(wait1 < wave2, "{steps:?}");
    let text = out.to_string();
    assert!(
        text.contains("deployed v1.2.0 to prod (3 services)"),
        "{text}"
    );
    assert!(text.contains("SERVICE"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn a_service_failing_in_wave_two_takes_wave_one_back_too() {
    let (fake, env) = two_waves();
    fake.set_behaviour(|b| b.fail_pattern = "worker:v1.2.0".into());
    let rec = Recorder::default();
    let out = release(&fake, &env, &[], &rec).await;

    assert_eq!(out.result, DeployResult::RolledBack, "{out}");
    assert_eq!(out.exit(), Exit::RolledBack);
    assert_eq!(out.failed, vec!["worker".to_owned()]);
    for (service, rev) in [("staging-users", 2), ("api", 1), ("worker", 1)] {
        let td = fake.service_task_definition(service);
        assert!(
            td.ends_with(&format!("/{service}:{rev}")),
            "{service}: {td}"
        );
        let s = out.services.iter().find(|s| s.service == service).unwrap();
        assert_eq!(s.result, ServiceResult::RolledBack, "{service}: {out}");
        assert_eq!(
            s.ends_on.as_deref(),
            Some(format!("{service}:{rev}").as_str())
        );
    }
    let text = out.to_string();
    assert!(text.contains("worker: "), "{text}");
    assert!(text.contains("back on its previous revision"), "{text}");
    let json = serde_json::to_value(&out).unwrap();
    assert_eq!(json["failed"][0], "worker");
    assert_eq!(json["services"][0]["result"], "rolled_back");
}

#[tokio::test(start_paused = true)]
async fn a_failed_preflight_of_one_service_changes_none() {
    let (fake, env) = two_waves();
    // worker's repository has no v1.2.0 now.
    let env = {
        let mut env = env;
        if let crate::config::Strategy::Several { services } = &mut env.strategy {
            services[2].repository = Some("missing".into());
        }
        env
    };
    let rec = Recorder::default();
    let out = release(&fake, &env, &[], &rec).await;
    assert_eq!(out.result, DeployResult::PreflightFailed, "{out}");
    assert_eq!(out.exit(), Exit::BadInput);
    assert_eq!(out.failed, vec!["worker".to_owned()]);
    assert!(
        fake.mutating_calls().is_empty(),
        "{:?}",
        fake.mutating_calls()
    );
}

#[tokio::test(start_paused = true)]
async fn service_limits_a_release_to_the_services_named() {
    let (fake, env) = two_waves();
    let rec = Recorder::default();
    let out = release(&fake, &env, &["api"], &rec).await;
    assert_eq!(out.result, DeployResult::Deployed, "{out}");
    assert_eq!(out.services.len(), 1);
    assert!(fake.service_task_definition("api").ends_with("/api:2"));
    assert!(
        fake.service_task_definition("worker")
            .ends_with("/worker:1")
    );
    assert!(
        fake.service_task_definition("staging-users")
            .ends_with("/staging-users:2")
    );
}

#[tokio::test(start_paused = true)]
async fn twenty_services_cost_two_describe_services_a_poll() {
    let fake = FakeAws::staging();
    let names: Vec<String> = (1..=20).map(|i| format!("svc-{i:02}")).collect();
    let mut list = String::new();
    for n in &names {
        fake.add_service(n);
        list.push_str(&format!("  {{ name = \"{n}\", container = \"users\" }},\n"));
    }
    let env = env(&format!(
        "[env.big]\nregion = \"us-east-1\"\ncluster = \"demo\"\nrepository = \"users\"\nservices = [\n{list}]\n"
    ));
    let rec = Recorder::default();
    let (_h, interrupt) = Interrupt::new();
    let before = fake.count("ecs:DescribeServices");
    let out = crate::workflows::wait::wait_stable_all(
        &fake.aws(),
        &env,
        &names,
        &crate::workflows::wait::Options::with_timeout(std::time::Duration::from_secs(60)),
        &rec,
        &interrupt,
    )
    .await
    .unwrap();
    assert_eq!(out.services.len(), 20, "{out}");
    assert_eq!(out.polls, 1, "{out}");
    assert_eq!(fake.count("ecs:DescribeServices") - before, 2);

    // And a release of all twenty: every poll of its wait costs two calls.
    let out = release(&fake, &env, &[], &rec).await;
    assert_eq!(out.result, DeployResult::Deployed, "{out}");
    assert!(
        names
            .iter()
            .all(|n| fake.service_task_definition(n).ends_with(":2"))
    );
}
