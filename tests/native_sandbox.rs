//! Deploys to a service ECS deploys itself (BLUE_GREEN, LINEAR, CANARY), with the real binary
//! against the sandbox: opsctl follows the service deployment to its end, and the listener
//! rule's weights are read back through the SDK.

mod support;

use support::Account;

const CONFIG: &str = r#"
[env.native]
region = "us-east-1"
cluster = "demo"
service = "native-users"
container = "users"
repository = "users"
timeout = "3m"
"#;

fn config() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("opsctl.toml");
    std::fs::write(&path, CONFIG).unwrap();
    (dir, path)
}

/// The production rule's weights on the main and alternate target groups, via the SDK.
async fn production_weights(account: &Account) -> (i32, i32) {
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&account.sdk().await);
    let rule = account.resources["native"]["production_listener_rule"]
        .as_str()
        .expect("the seed names the production rule")
        .to_owned();
    let rules = elb.describe_rules().rule_arns(rule).send().await.unwrap();
    let action = &rules.rules()[0].actions()[0];
    let groups = action.forward_config().unwrap().target_groups();
    let of = |name: &str| {
        groups
            .iter()
            .find(|t| t.target_group_arn().unwrap().contains(&format!("/{name}/")))
            .and_then(|t| t.weight())
            .unwrap_or(0)
    };
    (of("native-users-main"), of("native-users-alt"))
}

async fn strategy(account: &Account, strategy: aws_sdk_ecs::types::DeploymentStrategy) {
    set_strategy(account, strategy, false).await;
}

/// Sets the native service's strategy; `pause` adds a PAUSE hook at each production traffic
/// shift (and makes a canary shift 10 % first, with no bake between).
async fn set_strategy(
    account: &Account,
    strategy: aws_sdk_ecs::types::DeploymentStrategy,
    pause: bool,
) {
    let ecs = aws_sdk_ecs::Client::new(&account.sdk().await);
    let current = ecs
        .describe_services()
        .cluster("demo")
        .services("native-users")
        .send()
        .await
        .unwrap();
    let mut config = current.services()[0]
        .deployment_configuration()
        .unwrap()
        .clone();
    config.strategy = Some(strategy.clone());
    if strategy == aws_sdk_ecs::types::DeploymentStrategy::Linear {
        config.linear_configuration = Some(
            aws_sdk_ecs::types::LinearConfiguration::builder()
                .step_percent(50.0)
                .step_bake_time_in_minutes(1)
                .build(),
        );
    }
    if pause {
        use aws_sdk_ecs::types::{
            CanaryConfiguration, DeploymentLifecycleHook, DeploymentLifecycleHookStage,
            DeploymentLifecycleHookTargetType,
        };
        config.canary_configuration = Some(
            CanaryConfiguration::builder()
                .canary_percent(10.0)
                .canary_bake_time_in_minutes(0)
                .build(),
        );
        config.lifecycle_hooks = Some(vec![
            DeploymentLifecycleHook::builder()
                .target_type(DeploymentLifecycleHookTargetType::Pause)
                .lifecycle_stages(DeploymentLifecycleHookStage::ProductionTrafficShift)
                .build(),
        ]);
    }
    ecs.update_service()
        .cluster("demo")
        .service("native-users")
        .deployment_configuration(config)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_blue_green_deploy_is_followed_to_success_and_the_traffic_moves() {
    let account = Account::seed_native();
    let (_dir, path) = config();
    let before = production_weights(&account).await;
    assert_eq!(before, (100, 0), "the seed starts on the main target group");
    let run = account.opsctl_with_config(
        &path,
        &[
            "deploy",
            "native",
            "--version",
            "v1.2.0",
            "--output",
            "json",
        ],
    );
    run.expect_code(0);
    let out = run.json();
    assert_eq!(out["result"], "deployed", "{}", run.stderr);
    assert_eq!(out["strategy"], "BLUE_GREEN");
    assert!(
        out["service_deployment"]
            .as_str()
            .unwrap()
            .contains(":service-deployment/"),
        "{out}"
    );
    assert!(
        out["last_stage"]
            .as_str()
            .unwrap()
            .starts_with("SUCCESSFUL"),
        "{out}"
    );
    assert_eq!(
        production_weights(&account).await,
        (0, 100),
        "all production traffic on the other target group"
    );
    assert!(
        account
            .service_state("native-users")
            .await
            .contains("v1.2.0"),
        "the service runs the new version"
    );
    assert!(
        run.stderr.contains("PRODUCTION_TRAFFIC_SHIFT"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn a_linear_deploy_is_followed_through_its_steps() {
    let account = Account::seed_native();
    strategy(&account, aws_sdk_ecs::types::DeploymentStrategy::Linear).await;
    let (_dir, path) = config();
    let run = account.opsctl_with_config(
        &path,
        &[
            "deploy",
            "native",
            "--version",
            "v1.3.0",
            "--output",
            "json",
        ],
    );
    run.expect_code(0);
    assert_eq!(run.json()["strategy"], "LINEAR");
    assert!(
        run.stderr.contains("production traffic 50%"),
        "the half-way step is shown: {}",
        run.stderr
    );
    assert_eq!(production_weights(&account).await, (0, 100));
}

#[tokio::test]
async fn a_broken_version_is_rolled_back_by_ecs_and_exits_3() {
    let account = Account::seed_native();
    let (_dir, path) = config();
    let run = account.opsctl_with_config(
        &path,
        &[
            "deploy",
            "native",
            "--version",
            "v1.4.0-broken",
            "--output",
            "json",
        ],
    );
    run.expect_code(3);
    let out = run.json();
    assert_eq!(out["result"], "rolled_back", "{out}");
    assert!(
        out["last_stage"]
            .as_str()
            .unwrap()
            .starts_with("ROLLBACK_SUCCESSFUL"),
        "{out}"
    );
    assert_eq!(
        production_weights(&account).await,
        (100, 0),
        "users stay on the old revision"
    );
    assert!(
        account
            .service_state("native-users")
            .await
            .contains("v1.1.0"),
        "the service is back on the version it ran"
    );
}

/// Makes the sandbox's generated metrics for a target group look like `error_rate` and `p99`.
fn metrics(account: &Account, target_group: &str, error_rate: f64, p99: f64) {
    support::control(
        "POST",
        "/_sandbox/metrics",
        &serde_json::json!({
            "account_id": account.id,
            "target_group": target_group,
            "error_rate": error_rate,
            "p99": p99,
            "requests_per_minute": 600,
        }),
    );
}

/// A native account whose service deploys CANARY with a PAUSE hook at each production traffic
/// shift, and the config that reaches it.
async fn paused_canary() -> (Account, tempfile::TempDir, std::path::PathBuf) {
    let account = Account::seed_native();
    set_strategy(
        &account,
        aws_sdk_ecs::types::DeploymentStrategy::Canary,
        true,
    )
    .await;
    let (dir, path) = config();
    (account, dir, path)
}

#[tokio::test]
async fn opsctl_approves_each_paused_canary_step_when_its_analysis_passes() {
    let (account, _dir, path) = paused_canary().await;
    let run = account.opsctl_with_config(
        &path,
        &[
            "deploy",
            "native",
            "--version",
            "v1.2.0",
            "--output",
            "json",
        ],
    );
    run.expect_code(0);
    let approvals = run.stderr.matches("every check passed; CONTINUE").count();
    assert_eq!(approvals, 2, "the 10 % step and the rest: {}", run.stderr);
    assert_eq!(production_weights(&account).await, (0, 100));
}

#[tokio::test]
async fn a_canary_whose_errors_fail_the_analysis_is_answered_rollback() {
    let account = Account::seed_native();
    set_strategy(
        &account,
        aws_sdk_ecs::types::DeploymentStrategy::Canary,
        true,
    )
    .await;
    let alternate = account.resources["native"]["target_groups"]["alternate"]
        .as_str()
        .unwrap()
        .to_owned();
    metrics(&account, &alternate, 0.25, 0.12);
    let (_dir, path) = config();
    let run = account.opsctl_with_config(
        &path,
        &[
            "deploy",
            "native",
            "--version",
            "v1.2.0",
            "--output",
            "json",
        ],
    );
    run.expect_code(3);
    let out = run.json();
    let reason = out["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("opsctl's analysis rolled the deployment back"),
        "{reason}"
    );
    assert!(reason.contains("5xx"), "{reason}");
    assert_eq!(
        production_weights(&account).await,
        (100, 0),
        "the canary's 10 % is back on the old revision"
    );
}

/// Runs `opsctl ARGS` until it exits 0 (a deployment reaching its pause), for at most 60 s.
fn until_ok(account: &Account, path: &std::path::Path, args: &[&str]) -> support::Run {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let run = account.opsctl_with_config(path, args);
        if run.code == 0 || std::time::Instant::now() > deadline {
            return run;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

/// The newest service deployment's status once it is `want`, or as it is after 60 s.
async fn settled(account: &Account, want: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let status = last_status(account).await;
        if status == want || std::time::Instant::now() > deadline {
            return status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// The newest service deployment's status, via the SDK.
async fn last_status(account: &Account) -> String {
    let ecs = aws_sdk_ecs::Client::new(&account.sdk().await);
    let listed = ecs
        .list_service_deployments()
        .cluster("demo")
        .service("native-users")
        .send()
        .await
        .unwrap();
    let newest = listed
        .service_deployments()
        .iter()
        .max_by_key(|d| d.created_at().map(|t| t.as_nanos()))
        .unwrap();
    newest.status().unwrap().as_str().to_owned()
}

#[tokio::test]
async fn a_pipeline_promotes_each_pause_and_an_on_call_aborts_one() {
    let (account, _dir, path) = paused_canary().await;
    account
        .opsctl_with_config(
            &path,
            &["deploy", "native", "--version", "v1.2.0", "--no-wait"],
        )
        .expect_code(0);
    let early = account.opsctl_with_config(&path, &["promote", "native", "--dry-run"]);
    early.expect_code(2);
    assert!(early.stderr.contains("is not paused"), "{}", early.stderr);
    for _ in 0..2 {
        let run = until_ok(&account, &path, &["promote", "native", "--yes"]);
        run.expect_code(0);
        assert!(
            run.stdout.contains("continued service deployment"),
            "{}",
            run.stdout
        );
    }
    assert_eq!(settled(&account, "SUCCESSFUL").await, "SUCCESSFUL");
    assert_eq!(production_weights(&account).await, (0, 100));

    // The next release: paused at its canary, and aborted.
    account
        .opsctl_with_config(
            &path,
            &["deploy", "native", "--version", "v1.3.0", "--no-wait"],
        )
        .expect_code(0);
    until_ok(&account, &path, &["promote", "native", "--dry-run"]).expect_code(0);
    assert_eq!(
        production_weights(&account).await,
        (10, 90),
        "the canary carries 10 %"
    );
    let run = account.opsctl_with_config(&path, &["abort", "native", "--yes"]);
    run.expect_code(0);
    assert_eq!(
        settled(&account, "ROLLBACK_SUCCESSFUL").await,
        "ROLLBACK_SUCCESSFUL"
    );
    assert_eq!(
        production_weights(&account).await,
        (0, 100),
        "all traffic back on the revision that was live"
    );
    let again = account.opsctl_with_config(&path, &["abort", "native", "--yes"]);
    again.expect_code(2);
}

#[tokio::test]
async fn rollback_during_a_native_deployment_stops_it_and_ecs_rolls_it_back() {
    let (account, _dir, path) = paused_canary().await;
    account
        .opsctl_with_config(
            &path,
            &["deploy", "native", "--version", "v1.2.0", "--no-wait"],
        )
        .expect_code(0);
    until_ok(&account, &path, &["promote", "native", "--dry-run"]).expect_code(0);
    let run = account.opsctl_with_config(&path, &["rollback", "native", "--yes"]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("stopped; ECS is rolling back"),
        "{}",
        run.stdout
    );
    assert_eq!(
        settled(&account, "ROLLBACK_SUCCESSFUL").await,
        "ROLLBACK_SUCCESSFUL"
    );
    assert_eq!(production_weights(&account).await, (100, 0));
    assert!(
        account
            .service_state("native-users")
            .await
            .contains("v1.1.0"),
        "back on the version it ran"
    );
}

#[tokio::test]
async fn check_verifies_the_production_rule_of_a_native_service() {
    let account = Account::seed_native();
    let (_dir, path) = config();
    let run = account.opsctl_with_config(&path, &["--output", "json", "check", "native"]);
    run.expect_code(0);
    let checks = run.json()["checks"].clone();
    let native = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "native")
        .expect("a native check")
        .clone();
    assert_eq!(native["ok"], true, "{native}");
    assert!(
        native["detail"]
            .as_str()
            .unwrap()
            .contains("the production rule sends all traffic to native-users-main"),
        "{native}"
    );

    // Split by hand: ECS would have no side to shift to.
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&account.sdk().await);
    let native_res = &account.resources["native"];
    let rule = native_res["production_listener_rule"].as_str().unwrap();
    let group = |key: &str, weight: i32| {
        aws_sdk_elasticloadbalancingv2::types::TargetGroupTuple::builder()
            .target_group_arn(native_res["target_groups"][key].as_str().unwrap())
            .weight(weight)
            .build()
    };
    let forward = aws_sdk_elasticloadbalancingv2::types::Action::builder()
        .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::Forward)
        .forward_config(
            aws_sdk_elasticloadbalancingv2::types::ForwardActionConfig::builder()
                .target_groups(group("main", 50))
                .target_groups(group("alternate", 50))
                .build(),
        )
        .build();
    elb.modify_rule()
        .rule_arn(rule)
        .actions(forward)
        .send()
        .await
        .unwrap();
    let run = account.opsctl_with_config(&path, &["check", "native"]);
    run.expect_code(2);
    assert!(
        run.stdout
            .contains("not 100/0 between the service's two target groups"),
        "{}",
        run.stdout
    );
}

/// The pipeline that stops at each pause by itself: `deploy --wait-until paused` returns with
/// the deployment's ARN once a PAUSE hook waits, and `promote` goes on from there.
#[tokio::test]
async fn deploy_wait_until_paused_returns_at_the_pause_for_ci_to_promote() {
    let (account, _dir, path) = paused_canary().await;
    let run = account.opsctl_with_config(
        &path,
        &[
            "--output",
            "json",
            "deploy",
            "native",
            "--version",
            "v1.2.0",
            "--wait-until",
            "paused",
        ],
    );
    run.expect_code(0);
    let json = run.json();
    assert_eq!(json["result"], "started", "{json}");
    let arn = json["service_deployment"].as_str().expect("the ARN");
    assert!(arn.starts_with("arn:aws:ecs:"), "{arn}");
    assert!(
        json["reason"]
            .as_str()
            .unwrap()
            .starts_with("reached a paused lifecycle hook: IN_PROGRESS at"),
        "{json}"
    );
    assert_eq!(last_status(&account).await, "IN_PROGRESS");
    // Paused and not answered: promote finds it waiting at once.
    let run = account.opsctl_with_config(&path, &["promote", "native", "--yes"]);
    run.expect_code(0);

    // On a rolling service it is refused, nothing changed.
    account.clear_requests();
    let run = account.opsctl(&[
        "deploy",
        "staging",
        "--version",
        "v1.2.0",
        "--wait-until",
        "paused",
    ]);
    run.expect_code(2);
    assert!(run.stdout.contains("--wait-until"), "{}", run.stdout);
    assert!(
        account.requests().iter().all(|r| !r.changed()),
        "nothing changed"
    );
}

#[tokio::test]
async fn a_deploy_sets_the_native_settings_the_config_names_and_the_service_keeps_them() {
    let account = Account::seed_native();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("opsctl.toml");
    // The seed's service bakes 2 minutes; the config asks for 0, so the deploy ends at once.
    std::fs::write(
        &path,
        format!("{CONFIG}strategy = \"bluegreen\"\nbake_time = \"0m\"\n"),
    )
    .unwrap();
    let plan = account.opsctl_with_config(&path, &["plan", "native", "--version", "v1.2.0"]);
    plan.expect_code(0);
    assert!(
        plan.stdout.contains("bake time 2m -> 0m"),
        "{}{}",
        plan.stdout,
        plan.stderr
    );
    let run = account.opsctl_with_config(&path, &["deploy", "native", "--version", "v1.2.0"]);
    run.expect_code(0);
    let ecs = aws_sdk_ecs::Client::new(&account.sdk().await);
    let described = ecs
        .describe_services()
        .cluster("demo")
        .services("native-users")
        .send()
        .await
        .unwrap();
    let config = described.services()[0].deployment_configuration().unwrap();
    assert_eq!(config.bake_time_in_minutes(), Some(0), "{config:?}");
    assert!(
        !config.lifecycle_hooks().is_empty() || config.alarms().is_some(),
        "the rest of the deploymentConfiguration is kept: {config:?}"
    );
    assert_eq!(
        config.strategy(),
        Some(&aws_sdk_ecs::types::DeploymentStrategy::BlueGreen)
    );
}
