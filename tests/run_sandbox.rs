//! The real opsctl binary against the local AWS sandbox: one-off tasks (`opsctl run`) and the
//! migrations a deploy runs first (`before_deploy`). What ECS and CloudWatch Logs hold is read
//! back through the SDK, independently of opsctl.

mod support;

use support::Account;

const CONFIG: &str = r#"
[env.staging]
region = "us-east-1"
cluster = "demo"
service = "staging-users"
container = "users"
repository = "users"
timeout = "3m"
before_deploy = [{ name = "migrate", command = ["users-service", "migrate"], timeout = "2m" }]

[env.broken]
region = "us-east-1"
cluster = "demo"
service = "staging-users"
container = "users"
repository = "users"
timeout = "3m"
before_deploy = [{ name = "migrate", command = ["users-service", "migrate", "--fail-on-purpose"] }]
"#;

fn config() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("opsctl.toml");
    std::fs::write(&path, CONFIG).unwrap();
    (dir, path)
}

async fn ecs(account: &Account) -> aws_sdk_ecs::Client {
    aws_sdk_ecs::Client::new(&account.sdk().await)
}

async fn service_revision(account: &Account) -> String {
    account.service_task_definition("staging-users").await
}

#[tokio::test]
async fn run_starts_a_task_like_the_services_and_passes_its_exit_code_through() {
    let account = Account::seed();
    let (_dir, config) = config();

    let run = account.opsctl_with_config(
        &config,
        &[
            "--output",
            "json",
            "run",
            "staging",
            "--",
            "users-service",
            "migrate",
        ],
    );
    run.expect_code(0);
    let json = run.json();
    assert_eq!(json["result"], "succeeded", "{json}");
    assert_eq!(json["exit_code"], 0);
    let arn = json["task_arn"].as_str().unwrap().to_owned();

    // ECS ran the service's revision, on its network, with the command overridden.
    let tasks = ecs(&account)
        .await
        .describe_tasks()
        .cluster("demo")
        .tasks(&arn)
        .send()
        .await
        .unwrap();
    let task = &tasks.tasks()[0];
    assert_eq!(
        task.task_definition_arn(),
        Some(service_revision(&account).await.as_str())
    );
    assert_eq!(task.last_status(), Some("STOPPED"));
    let command = task.overrides().unwrap().container_overrides()[0].command();
    assert_eq!(command, ["users-service", "migrate"]);
    assert_eq!(task.started_by(), Some("opsctl-run"));

    // The lines opsctl streamed are the ones CloudWatch Logs holds for the task.
    let logs = aws_sdk_cloudwatchlogs::Client::new(&account.sdk().await);
    let stream = json["log_stream"].as_str().unwrap();
    let events = logs
        .get_log_events()
        .log_group_name(json["log_group"].as_str().unwrap())
        .log_stream_name(stream)
        .start_from_head(true)
        .send()
        .await
        .unwrap();
    let held: Vec<&str> = events.events().iter().filter_map(|e| e.message()).collect();
    assert!(!held.is_empty());
    for line in &held {
        assert!(
            run.stderr.contains(line),
            "{line} streamed:\n{}",
            run.stderr
        );
    }

    let failing = account.opsctl_with_config(&config, &["run", "staging", "--", "exit=7"]);
    failing.expect_code(7);
    assert!(
        failing.stdout.contains("FAILED: exit 7"),
        "{}",
        failing.stdout
    );
}

#[tokio::test]
async fn a_deploy_migrates_first_and_a_failing_migration_changes_no_service() {
    let account = Account::seed();
    let (_dir, config) = config();
    let before = service_revision(&account).await;

    let bad = account.opsctl_with_config(&config, &["deploy", "broken", "--version", "v1.2.0"]);
    bad.expect_code(1);
    let text = format!("{}{}", bad.stdout, bad.stderr);
    assert!(text.contains("the service was not changed"), "{text}");
    assert!(
        text.contains(
            "opsctl run broken --version v1.2.0 -- users-service migrate --fail-on-purpose"
        ),
        "{text}"
    );
    assert_eq!(
        service_revision(&account).await,
        before,
        "UpdateService was never called"
    );
    assert!(
        !account
            .requests()
            .iter()
            .any(|r| r.action == "ecs:UpdateService"),
        "no UpdateService request"
    );

    let good = account.opsctl_with_config(
        &config,
        &[
            "--output",
            "json",
            "deploy",
            "staging",
            "--version",
            "v1.2.0",
        ],
    );
    good.expect_code(0);
    let after = service_revision(&account).await;
    assert_ne!(after, before);
    // The migration ran the new revision, before the service was pointed at it.
    let actions: Vec<String> = account
        .requests()
        .into_iter()
        .filter(|r| r.changed())
        .map(|r| r.action)
        .collect();
    let last = |a: &str| actions.iter().rposition(|x| x == a).unwrap();
    assert!(
        last("ecs:RunTask") < last("ecs:UpdateService"),
        "{actions:?}"
    );
    let listed = ecs(&account)
        .await
        .list_tasks()
        .cluster("demo")
        .started_by("opsctl-migrate")
        .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
        .send()
        .await
        .unwrap();
    let described = ecs(&account)
        .await
        .describe_tasks()
        .cluster("demo")
        .set_tasks(Some(listed.task_arns().to_vec()))
        .send()
        .await
        .unwrap();
    assert!(
        described
            .tasks()
            .iter()
            .any(|t| t.task_definition_arn() == Some(after.as_str())
                && t.containers().iter().any(|c| c.exit_code() == Some(0))),
        "a migration of the new revision exited 0"
    );
}

#[tokio::test]
async fn logs_reads_the_services_lines_since_a_time_filtered_and_as_json_lines() {
    let account = Account::seed();
    let (_dir, config) = config();
    account
        .opsctl_with_config(&config, &["run", "staging", "--", "exit=4"])
        .expect_code(4);
    account
        .opsctl_with_config(
            &config,
            &["run", "staging", "--", "users-service", "migrate"],
        )
        .expect_code(0);

    let text = account.opsctl_with_config(&config, &["logs", "staging", "--since", "10m"]);
    text.expect_code(0);
    assert!(text.stdout.contains("command failed"), "{}", text.stdout);
    assert!(text.stdout.contains("schema up to date"), "{}", text.stdout);

    let errors = account.opsctl_with_config(
        &config,
        &["--output", "json", "logs", "staging", "--filter", "ERROR"],
    );
    errors.expect_code(0);
    let lines: Vec<serde_json::Value> = errors
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect();
    assert!(!lines.is_empty(), "{}", errors.stdout);
    for l in &lines {
        assert!(l["message"].as_str().unwrap().contains("ERROR"), "{l}");
        assert_eq!(l["container"], "users");
        assert_eq!(l["task"].as_str().unwrap().len(), 32, "{l}");
    }
    let stamps: Vec<&str> = lines.iter().map(|l| l["at"].as_str().unwrap()).collect();
    let mut sorted = stamps.clone();
    sorted.sort();
    assert_eq!(stamps, sorted, "oldest first");

    // Nothing logged in the future window; a bounded follow ends by itself.
    let later = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1)).to_string();
    let none = account.opsctl_with_config(&config, &["logs", "staging", "--start", &later]);
    none.expect_code(0);
    assert!(none.stdout.trim().is_empty(), "{}", none.stdout);
    let follow = account.opsctl_with_config(
        &config,
        &[
            "logs",
            "staging",
            "--follow",
            "--follow-for",
            "3s",
            "--filter",
            "ERROR",
        ],
    );
    follow.expect_code(0);
    let once = follow.stdout.matches("command failed").count();
    assert_eq!(
        once, 1,
        "each line once while following:\n{}",
        follow.stdout
    );
}

#[tokio::test]
async fn a_failed_deploy_shows_what_its_stopped_tasks_logged_last() {
    let account = Account::seed();
    // The repository's opsctl.toml: staging has no before_deploy, so the broken version's
    // tasks start, crash, and ECS rolls the deployment back.
    let run = account.opsctl(&["deploy", "staging", "--version", "v1.4.0-broken"]);
    run.expect_code(3);
    // The broken tasks stopped alike: said once, naming each, with one task's last lines.
    assert!(run.stdout.contains("stopped tasks ("), "{}", run.stdout);
    assert!(run.stdout.contains("the last lines of "), "{}", run.stdout);
    assert_eq!(
        run.stdout.matches("startup failed").count(),
        1,
        "{}",
        run.stdout
    );
}

/// The versions a `logs` read's lines say they started (the service's `starting` lines).
fn started_versions(run: &support::Run) -> std::collections::BTreeSet<String> {
    run.stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("one JSON object a line"))
        .filter_map(|l| {
            let message: serde_json::Value = serde_json::from_str(l["message"].as_str()?).ok()?;
            (message["message"] == "starting")
                .then(|| message["version"].as_str().map(str::to_owned))?
        })
        .collect()
}

#[tokio::test]
async fn logs_by_colour_reads_that_colours_tasks_only() {
    let account = Account::seed();
    // Both colours run revisions of one family, so they log to one group and prefix.
    account
        .opsctl(&["--yes", "deploy", "prod", "--version", "v1.2.0"])
        .expect_code(0);
    let live = account.opsctl(&[
        "--output", "json", "logs", "prod", "--colour", "live", "--since", "30m",
    ]);
    live.expect_code(0);
    let idle = account.opsctl(&[
        "--output", "json", "logs", "prod", "--colour", "idle", "--since", "30m",
    ]);
    idle.expect_code(0);
    let (live, idle) = (started_versions(&live), started_versions(&idle));
    // Green (now live) replaced its seeded tasks with v1.2.0; blue runs v1.1.0.
    assert!(
        live.contains("v1.2.0") && !live.contains("v1.1.0"),
        "green: {live:?}"
    );
    assert!(
        idle.contains("v1.1.0") && !idle.contains("v1.2.0"),
        "blue: {idle:?}"
    );

    let rolling = account.opsctl(&["logs", "staging", "--colour", "idle"]);
    rolling.expect_code(2);
    assert!(
        rolling
            .stderr
            .contains("env.staging is not a blue/green environment"),
        "{}",
        rolling.stderr
    );
}
