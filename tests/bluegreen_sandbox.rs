//! Blue/green with the real binary against the sandbox's seeded prod pair: the listener's
//! weights, read back through the SDK while opsctl works, match each step.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::Account;

async fn weights(account: &Account) -> (i32, i32) {
    account.weights().await
}

async fn desired_running(account: &Account, service: &str) -> (i32, i32) {
    account.desired_running(service).await
}

/// Runs opsctl in the background and records every distinct weight pair seen meanwhile.
async fn run_watching(account: &Account, args: &[&str]) -> (support::Run, Vec<(i32, i32)>) {
    let child = Command::new(env!("CARGO_BIN_EXE_opsctl"))
        .arg("--config")
        .arg(support::repo_root().join("opsctl.toml"))
        .args(["--no-progress", "--color", "never", "--yes"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", &account.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &account.secret_access_key)
        .env("AWS_REGION", &account.region)
        .env("AWS_ENDPOINT_URL", support::sandbox_url())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let waiter = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap());
    let mut seen = vec![weights(account).await];
    while !waiter.is_finished() {
        let w = weights(account).await;
        if seen.last() != Some(&w) {
            seen.push(w);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let run: support::Run = waiter.await.unwrap().into();
    let w = weights(account).await;
    if seen.last() != Some(&w) {
        seen.push(w);
    }
    (run, seen)
}

#[tokio::test]
async fn traffic_switch_moves_the_listener_weights_step_by_step() {
    let account = Account::seed();
    let (run, seen) = run_watching(
        &account,
        &[
            "--output",
            "json",
            "traffic",
            "prod",
            "--to",
            "green",
            "--steps",
            "10,50,100",
            "--interval",
            "2s",
        ],
    )
    .await;
    run.expect_code(0);
    assert_eq!(seen, vec![(100, 0), (90, 10), (50, 50), (0, 100)]);
    let json = run.json();
    assert_eq!(json["result"], "switched");
    let steps: Vec<u64> = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["percent"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, [10, 50, 100]);
    // Every check is in the JSON too.
    assert!(json["steps"][0]["checks"].as_array().unwrap().len() >= 4);
    assert!(
        json["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "check")
    );
}

#[tokio::test]
async fn bluegreen_deploy_makes_the_new_colour_live_and_keeps_the_old_running() {
    let account = Account::seed();
    let (run, seen) = run_watching(
        &account,
        &["--output", "json", "deploy", "prod", "--version", "v1.2.0"],
    )
    .await;
    run.expect_code(0);
    let json = run.json();
    assert_eq!(json["result"], "deployed");
    assert_eq!(json["colour"], "green");
    assert_eq!(seen.first(), Some(&(100, 0)));
    assert_eq!(seen.last(), Some(&(0, 100)));
    assert!(seen.contains(&(50, 50)), "went through the steps: {seen:?}");
    assert_eq!(
        desired_running(&account, "prod-users-blue").await,
        (3, 3),
        "old colour still running"
    );
    assert_eq!(desired_running(&account, "prod-users-green").await, (3, 3));
}

#[tokio::test]
async fn a_broken_version_never_receives_traffic() {
    let account = Account::seed();
    let (run, seen) =
        run_watching(&account, &["deploy", "prod", "--version", "v1.4.0-broken"]).await;
    run.expect_code(3);
    assert_eq!(seen, vec![(100, 0)], "the listener never changed");
    assert!(
        run.stdout.contains("traffic never left blue"),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn rollback_returns_traffic_in_one_change() {
    let account = Account::seed();
    account
        .opsctl(&["--yes", "deploy", "prod", "--version", "v1.2.0"])
        .expect_code(0);
    assert_eq!(weights(&account).await, (0, 100));
    let (run, seen) = run_watching(&account, &["--output", "json", "rollback", "prod"]).await;
    run.expect_code(0);
    assert_eq!(seen, vec![(0, 100), (100, 0)], "one change, straight back");
    let json = run.json();
    assert_eq!(json["result"], "rolled_back");
    assert_eq!(json["to"]["version"], "v1.1.0");
    let status = account.opsctl(&["--output", "json", "status", "prod"]);
    status.expect_code(0);
    let status = status.json();
    assert_eq!(status["traffic"]["live"], "blue");
    assert_eq!(status["traffic"]["weights"]["blue"], 100);
}

#[tokio::test]
async fn traffic_bad_input_changes_nothing() {
    let account = Account::seed();
    let run = account.opsctl(&["--yes", "traffic", "prod", "--to", "blue"]);
    run.expect_code(2);
    assert!(run.stderr.contains("already carries all"), "{}", run.stderr);
    let run = account.opsctl(&[
        "--yes", "traffic", "prod", "--to", "green", "--steps", "50,10",
    ]);
    run.expect_code(2);
    assert!(run.stderr.contains("do not increase"), "{}", run.stderr);
    let run = account.opsctl(&["--yes", "traffic", "staging", "--to", "green"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("not a blue/green environment"),
        "{}",
        run.stderr
    );
    let run = account.opsctl(&["--yes", "retire", "prod", "--colour", "blue"]);
    run.expect_code(2);
    assert!(run.stderr.contains("refusing to retire"), "{}", run.stderr);
    assert_eq!(weights(&account).await, (100, 0));
    assert_eq!(desired_running(&account, "prod-users-blue").await, (3, 3));
}

#[tokio::test]
async fn a_switch_keeps_the_rest_of_the_listener_as_it_was() {
    use aws_sdk_elasticloadbalancingv2::types::{
        Action, ActionTypeEnum, ForwardActionConfig, TargetGroupStickinessConfig, TargetGroupTuple,
    };
    let account = Account::seed();
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&account.sdk().await);
    let lb = elb
        .describe_load_balancers()
        .names("prod-alb")
        .send()
        .await
        .unwrap();
    let lb_arn = lb.load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_owned();
    let listener = elb
        .describe_listeners()
        .load_balancer_arn(&lb_arn)
        .send()
        .await
        .unwrap()
        .listeners()[0]
        .clone();
    let listener_arn = listener.listener_arn().unwrap().to_owned();
    let groups: Vec<TargetGroupTuple> = listener.default_actions()[0]
        .forward_config()
        .unwrap()
        .target_groups()
        .to_vec();
    // Turn stickiness on, as a team might have.
    elb.modify_listener()
        .listener_arn(&listener_arn)
        .default_actions(
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .forward_config(
                    ForwardActionConfig::builder()
                        .set_target_groups(Some(groups))
                        .target_group_stickiness_config(
                            TargetGroupStickinessConfig::builder()
                                .enabled(true)
                                .duration_seconds(600)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();

    account
        .opsctl(&[
            "--yes",
            "traffic",
            "prod",
            "--to",
            "green",
            "--steps",
            "50,100",
            "--interval",
            "1s",
        ])
        .expect_code(0);

    let after = elb
        .describe_listeners()
        .listener_arns(&listener_arn)
        .send()
        .await
        .unwrap();
    let action = &after.listeners()[0].default_actions()[0];
    let sticky = action
        .forward_config()
        .unwrap()
        .target_group_stickiness_config()
        .expect("stickiness kept");
    assert_eq!(sticky.enabled(), Some(true));
    assert_eq!(sticky.duration_seconds(), Some(600));
    assert_eq!(after.listeners()[0].port(), listener.port());
    assert_eq!(after.listeners()[0].protocol(), listener.protocol());
    assert_eq!(weights(&account).await, (0, 100));
}

/// check runs the preflight a deploy runs: of the idle colour, where the deploy goes, before
/// and after a deploy swaps the colours.
#[tokio::test]
async fn check_preflights_the_idle_colour_as_a_deploy_does() {
    let account = Account::seed();
    for (idle, live) in [("green", "blue"), ("blue", "green")] {
        let check = account.opsctl(&["--output", "json", "check", "prod", "--version", "v1.2.0"]);
        check.expect_code(0);
        assert_eq!(check.json()["service"], format!("prod-users-{idle}"));
        assert!(
            check
                .stderr
                .contains(&format!("{live} (prod-users-{live}) is live at")),
            "{}",
            check.stderr
        );
        assert!(
            check.stderr.contains(&format!(
                "checking {idle} (prod-users-{idle}), where a deploy goes"
            )),
            "{}",
            check.stderr
        );
        let plan = account.opsctl(&["plan", "prod", "--version", "v1.2.0"]);
        assert!(
            plan.stderr
                .contains(&format!("checking {idle} (prod-users-{idle})")),
            "plan preflights the same colour: {}",
            plan.stderr
        );
        // The deploy makes the idle colour live: the next check is of the other.
        account
            .opsctl(&["deploy", "prod", "--version", "v1.2.0", "--yes"])
            .expect_code(0);
    }
}
