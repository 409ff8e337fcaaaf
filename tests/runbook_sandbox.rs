//! Runbooks run end to end by the real binary against the sandbox, with `--yes`: one test
//! per runbook, each on a freshly seeded account; then what a run does when a step fails,
//! when there is no terminal, when values are missing, in a dry run, and from a later step.
//!
//! The database and scaling runbooks need `opsctl db` and `opsctl scale`.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{Account, Run};

/// `opsctl [--yes] runbook run ARGS… --transcript T` with the given config; the run and the
/// transcript it wrote (`Null` when it wrote none).
fn runbook_with(account: &Account, config: &Path, yes: bool, args: &[&str]) -> (Run, Value) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("transcript.json");
    let mut full: Vec<&str> = Vec::new();
    if yes {
        full.push("--yes");
    }
    full.extend(["runbook", "run"]);
    full.extend(args);
    let path_text = path.to_str().unwrap().to_owned();
    full.extend(["--transcript", &path_text]);
    let run = account.opsctl_with_config(config, &full);
    let transcript = std::fs::read_to_string(&path)
        .ok()
        .map(|t| serde_json::from_str(&t).expect("the transcript is JSON"))
        .unwrap_or(Value::Null);
    (run, transcript)
}

fn runbook(account: &Account, args: &[&str]) -> (Run, Value) {
    runbook_with(
        account,
        &support::repo_root().join("opsctl.toml"),
        true,
        args,
    )
}

/// The run completed: exit 0, and every step with a command ran and exited 0.
fn completed(run: &Run, transcript: &Value) {
    run.expect_code(0);
    assert_eq!(transcript["outcome"], "completed", "{transcript:#}");
    assert_eq!(transcript["exit_code"], 0);
    for step in transcript["steps"].as_array().unwrap() {
        if step["command"].is_null() {
            assert_eq!(step["status"], "by-hand", "{step}");
        } else {
            assert_eq!(step["status"], "succeeded", "{step}");
            assert_eq!(step["exit_code"], 0, "{step}");
            assert!(step["started_at"].is_string() && step["ended_at"].is_string());
        }
    }
}

async fn service(account: &Account, name: &str) -> aws_sdk_ecs::types::Service {
    let ecs = aws_sdk_ecs::Client::new(&account.sdk().await);
    let out = ecs
        .describe_services()
        .cluster("demo")
        .services(name)
        .send()
        .await
        .unwrap();
    out.services()[0].clone()
}

fn live_version(account: &Account) -> (String, String) {
    let status = account.opsctl(&["--output", "json", "status", "prod"]);
    status.expect_code(0);
    let json = status.json();
    let live = json["traffic"]["live"].as_str().unwrap().to_owned();
    (live, json.to_string())
}

async fn db_instance_exists(account: &Account, id: &str) -> bool {
    let rds = aws_sdk_rds::Client::new(&account.sdk().await);
    rds.describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .is_ok()
}

#[tokio::test]
async fn release_ships_a_version_to_prod() {
    let account = Account::seed();
    let (run, transcript) = runbook(
        &account,
        &["release", "--env", "prod", "--set", "version=v1.2.0"],
    );
    completed(&run, &transcript);
    assert_eq!(
        transcript["steps"][2]["command"],
        "opsctl deploy prod --version v1.2.0"
    );
    assert_eq!(transcript["values"]["version"], "v1.2.0");
    let (live, status) = live_version(&account);
    assert_eq!(live, "green", "{status}");
    assert!(status.contains("v1.2.0"), "{status}");
}

#[tokio::test]
async fn failed_deploy_rolls_back_to_the_last_good_revision() {
    let account = Account::seed();
    account
        .opsctl(&["deploy", "staging", "--version", "v1.2.0"])
        .expect_code(0);
    // The next release crashes at start-up; ECS fails it and opsctl rolls it back.
    account
        .opsctl(&["deploy", "staging", "--version", "v1.4.0-broken"])
        .expect_code(3);
    let (run, transcript) = runbook(&account, &["failed-deploy", "--env", "staging"]);
    completed(&run, &transcript);
    assert_eq!(
        transcript["steps"][1]["command"],
        "opsctl logs staging --since 30m"
    );
    // Step 2 shows what the crashed tasks said.
    assert!(run.stdout.contains("startup failed"), "{}", run.stdout);
    let svc = service(&account, "staging-users").await;
    assert!(
        svc.task_definition().unwrap().ends_with("staging-users:2"),
        "{:?}",
        svc.task_definition()
    );
}

#[tokio::test]
async fn high_error_rate_moves_traffic_back() {
    let account = Account::seed();
    account
        .opsctl(&["--yes", "deploy", "prod", "--version", "v1.2.0"])
        .expect_code(0);
    assert_eq!(live_version(&account).0, "green");
    let (run, transcript) = runbook(&account, &["high-error-rate", "--env", "prod"]);
    completed(&run, &transcript);
    let (live, status) = live_version(&account);
    assert_eq!(live, "blue", "{status}");
    // Step 5 reads the colour that lost the traffic: green, which started v1.2.0.
    assert_eq!(
        transcript["steps"][4]["command"],
        "opsctl logs prod --colour idle --since 30m"
    );
    assert!(
        run.stdout.contains(r#""version":"v1.2.0""#),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn restore_db_to_time_creates_a_new_instance() {
    let account = Account::seed();
    // The sandbox's latest restorable time trails the present as RDS's does (by seconds
    // there, minutes on AWS); this database is seconds old, so it may not trail here.
    account.configure(serde_json::json!({ "db_restorable_lag_seconds": 0.0 }));
    // A moment after the seed created the database.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let time = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_secs(1))
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let time_set = format!("time={time}");
    let (run, transcript) = runbook(
        &account,
        &[
            "restore-db-to-time",
            "--env",
            "staging",
            "--set",
            &time_set,
            "--set",
            "target=users-db-pitr",
        ],
    );
    completed(&run, &transcript);
    assert!(db_instance_exists(&account, "users-db-pitr").await);
    assert!(
        db_instance_exists(&account, "users-db").await,
        "the source stays"
    );
}

#[tokio::test]
async fn restore_db_from_snapshot_creates_a_new_instance() {
    let account = Account::seed();
    let rds = aws_sdk_rds::Client::new(&account.sdk().await);
    rds.create_db_snapshot()
        .db_instance_identifier("users-db")
        .db_snapshot_identifier("users-db-manual-1")
        .send()
        .await
        .unwrap();
    let (run, transcript) = runbook(
        &account,
        &[
            "restore-db-from-snapshot",
            "--env",
            "staging",
            "--set",
            "snapshot=users-db-manual-1",
            "--set",
            "target=users-db-restored",
        ],
    );
    completed(&run, &transcript);
    assert!(db_instance_exists(&account, "users-db-restored").await);
}

#[tokio::test]
async fn database_primary_failed_fails_over_and_checks_the_service() {
    let account = Account::seed_multi_az();
    let (run, transcript) = runbook(&account, &["database-primary-failed", "--env", "prod"]);
    completed(&run, &transcript);
    assert!(
        run.stdout
            .contains("users-db failed over from us-east-1a to us-east-1b"),
        "{}",
        run.stdout
    );
    let rds = aws_sdk_rds::Client::new(&account.sdk().await);
    let db = rds
        .describe_db_instances()
        .db_instance_identifier("users-db")
        .send()
        .await
        .unwrap()
        .db_instances()[0]
        .clone();
    assert_eq!(
        db.availability_zone(),
        Some("us-east-1b"),
        "the standby leads"
    );
}

#[tokio::test]
async fn zone_lost_shows_the_zones_and_scales_out() {
    let account = Account::seed();
    let (run, transcript) = runbook(
        &account,
        &["zone-lost", "--env", "staging", "--set", "count=4"],
    );
    completed(&run, &transcript);
    // Step 1 shows the tasks spread over the seed's two subnets' zones.
    assert!(
        run.stdout.contains("zones: us-east-1a 1 task(s), 1/1 targets healthy; us-east-1b 1 task(s), 1/1 targets healthy"),
        "{}",
        run.stdout
    );
    let svc = service(&account, "staging-users").await;
    assert_eq!((svc.desired_count(), svc.running_count()), (4, 4));
}

#[tokio::test]
async fn region_lost_restores_the_newest_copy_in_the_recovery_region() {
    let account = Account::seed();
    let (_, id) = account.snapshot_to_dr();
    let (run, transcript) = runbook(
        &account,
        &[
            "region-lost",
            "--env",
            "prod",
            "--set",
            "region=us-west-2",
            "--set",
            &format!("snapshot={id}"),
            "--set",
            "target=users-db-dr",
        ],
    );
    completed(&run, &transcript);
    assert!(
        run.stdout.contains(&id),
        "step 1 lists the copy: {}",
        run.stdout
    );
    let made = account
        .db_instance_in(support::DR_REGION, "users-db-dr")
        .await
        .expect("restored in us-west-2");
    assert_eq!(made.db_instance_status(), Some("available"));
}

#[tokio::test]
async fn scale_out_sets_the_count() {
    let account = Account::seed();
    let (run, transcript) = runbook(
        &account,
        &["scale-out", "--env", "staging", "--set", "count=4"],
    );
    completed(&run, &transcript);
    let svc = service(&account, "staging-users").await;
    assert_eq!((svc.desired_count(), svc.running_count()), (4, 4));
}

#[tokio::test]
async fn run_migration_snapshots_then_migrates_with_the_versions_revision() {
    let account = Account::seed();
    let (run, transcript) = runbook(
        &account,
        &[
            "run-migration",
            "--env",
            "staging",
            "--set",
            "version=v1.2.0",
        ],
    );
    completed(&run, &transcript);
    assert!(
        run.stderr.contains("users-service migrate")
            || run.stdout.contains("users-service migrate")
    );
    let actions: Vec<String> = account
        .requests()
        .into_iter()
        .filter(|r| r.changed())
        .map(|r| r.action)
        .collect();
    let at = |a: &str| actions.iter().position(|x| x == a).unwrap_or(usize::MAX);
    assert!(
        at("rds:CreateDBSnapshot") < at("ecs:RunTask") && at("ecs:RunTask") < usize::MAX,
        "{actions:?}"
    );
    assert!(
        !actions.iter().any(|a| a == "ecs:UpdateService"),
        "the service is not changed: {actions:?}"
    );
}

#[tokio::test]
async fn maintenance_window_scales_to_zero_and_back() {
    let account = Account::seed();
    // The window goes to 0 tasks: the environment's bounds must allow it.
    let text = support::repo_config();
    let text = text.replace(
        "scaling = { min = 1, max = 6 }",
        "scaling = { min = 0, max = 6 }",
    );
    assert!(text.contains("min = 0, max = 6"));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("opsctl.toml");
    std::fs::write(&config, text).unwrap();
    let (run, transcript) = runbook_with(
        &account,
        &config,
        true,
        &[
            "maintenance-window",
            "--env",
            "staging",
            "--set",
            "count=2",
            "--set",
            "min=1",
            "--set",
            "max=6",
        ],
    );
    completed(&run, &transcript);
    assert_eq!(transcript["steps"][2]["status"], "by-hand");
    let svc = service(&account, "staging-users").await;
    assert_eq!((svc.desired_count(), svc.running_count()), (2, 2));
}

#[tokio::test]
async fn a_failing_step_stops_the_run_and_says_how_to_resume() {
    let account = Account::seed();
    let (run, transcript) = runbook(
        &account,
        &[
            "release",
            "--env",
            "staging",
            "--set",
            "version=v1.4.0-broken",
        ],
    );
    run.expect_code(3);
    assert_eq!(transcript["outcome"], "failed", "{transcript:#}");
    assert_eq!(transcript["exit_code"], 3);
    let steps = transcript["steps"].as_array().unwrap();
    assert_eq!(steps[0]["status"], "succeeded");
    assert_eq!(steps[1]["status"], "succeeded");
    assert_eq!(steps[2]["status"], "failed");
    assert_eq!(steps[2]["exit_code"], 3);
    assert_eq!(steps[3]["status"], "not-reached");
    let resume = transcript["resume"].as_str().unwrap();
    assert!(
        resume.contains("runbook run release --env staging --set version=v1.4.0-broken --yes")
            && resume.ends_with("--from 3"),
        "{resume}"
    );
    assert!(
        run.stderr.contains("step 3 failed with exit code 3"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--from 3"), "{}", run.stderr);
    assert!(run.stdout.contains("resume with:"), "{}", run.stdout);
    // The deploy rolled itself back; the step after it never ran.
    let svc = service(&account, "staging-users").await;
    assert!(svc.task_definition().unwrap().ends_with("staging-users:2"));
}

#[tokio::test]
async fn without_a_terminal_or_yes_nothing_runs() {
    let account = Account::seed();
    account
        .opsctl(&["deploy", "staging", "--version", "v1.2.0"])
        .expect_code(0);
    let (run, transcript) = runbook_with(
        &account,
        &support::repo_root().join("opsctl.toml"),
        false,
        &["failed-deploy", "--env", "staging"],
    );
    run.expect_code(2);
    assert!(run.stderr.contains("no terminal"), "{}", run.stderr);
    assert!(run.stderr.contains("--yes"), "{}", run.stderr);
    assert!(transcript.is_null(), "no transcript when nothing ran");
    let svc = service(&account, "staging-users").await;
    assert!(svc.task_definition().unwrap().ends_with("staging-users:3"));
}

#[tokio::test]
async fn missing_values_and_bad_input_are_named_before_anything_runs() {
    let account = Account::seed();
    let (run, transcript) = runbook(&account, &["release", "--env", "prod"]);
    run.expect_code(2);
    assert!(run.stderr.contains("{{version}}"), "{}", run.stderr);
    assert!(run.stderr.contains("--set version=VALUE"), "{}", run.stderr);
    assert!(transcript.is_null());

    let (run, _) = runbook(
        &account,
        &["release", "--env", "prod", "--set", "verison=v1.2.0"],
    );
    run.expect_code(2);
    assert!(
        run.stderr.contains("no placeholder {{verison}}"),
        "{}",
        run.stderr
    );

    let (run, _) = runbook(
        &account,
        &["release", "--env", "prod", "--set", "version=--no-rollback"],
    );
    run.expect_code(2);
    assert!(
        run.stderr.contains("would read as a flag"),
        "{}",
        run.stderr
    );

    let (run, _) = runbook(
        &account,
        &["release", "--env", "prd", "--set", "version=v1"],
    );
    run.expect_code(2);
    assert!(
        run.stderr.contains("unknown environment `prd`"),
        "{}",
        run.stderr
    );

    let (run, _) = runbook(&account, &["relaese", "--env", "prod"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("no runbook named `relaese`"),
        "{}",
        run.stderr
    );

    let (run, _) = runbook(
        &account,
        &[
            "release",
            "--env",
            "prod",
            "--set",
            "version=v1.2.0",
            "--from",
            "9",
        ],
    );
    run.expect_code(2);
    assert!(run.stderr.contains("steps 1 to 4"), "{}", run.stderr);
    assert_eq!(live_version(&account).0, "blue", "nothing changed");
}

#[tokio::test]
async fn a_dry_run_runs_only_what_takes_dry_run_and_changes_nothing() {
    let account = Account::seed();
    // No --yes and no terminal: a dry run asks nothing.
    let (run, transcript) = runbook_with(
        &account,
        &support::repo_root().join("opsctl.toml"),
        false,
        &[
            "release",
            "--env",
            "prod",
            "--set",
            "version=v1.2.0",
            "--dry-run",
        ],
    );
    run.expect_code(0);
    assert_eq!(transcript["outcome"], "completed");
    assert_eq!(transcript["dry_run"], true);
    let steps = transcript["steps"].as_array().unwrap();
    assert_eq!(steps[0]["status"], "not-run-dry-run");
    assert_eq!(steps[1]["status"], "not-run-dry-run");
    assert_eq!(steps[2]["status"], "succeeded");
    assert_eq!(
        steps[2]["command"],
        "opsctl deploy prod --version v1.2.0 --dry-run"
    );
    assert_eq!(steps[3]["status"], "not-run-dry-run");
    assert!(run.stdout.contains("dry run completed"), "{}", run.stdout);
    assert_eq!(live_version(&account).0, "blue", "nothing changed");
}

#[tokio::test]
async fn from_resumes_at_a_later_step() {
    let account = Account::seed();
    account
        .opsctl(&["deploy", "staging", "--version", "v1.2.0"])
        .expect_code(0);
    let (run, transcript) = runbook(
        &account,
        &["failed-deploy", "--env", "staging", "--from", "4"],
    );
    run.expect_code(0);
    let steps = transcript["steps"].as_array().unwrap();
    for step in &steps[..3] {
        assert_eq!(step["status"], "before-from", "{step}");
    }
    assert_eq!(steps[3]["status"], "succeeded");
    assert_eq!(steps[4]["status"], "succeeded");
    let svc = service(&account, "staging-users").await;
    assert!(svc.task_definition().unwrap().ends_with("staging-users:2"));
}

/// `opsctl ARGS…` in `cwd`, without the sandbox.
fn opsctl_in(cwd: &Path, args: &[&str]) -> Run {
    std::process::Command::new(env!("CARGO_BIN_EXE_opsctl"))
        .current_dir(cwd)
        .args(["--color", "never"])
        .args(args)
        .env_remove("OPSCTL_RUNBOOKS")
        .output()
        .unwrap()
        .into()
}

#[test]
fn runbooks_are_listed_and_shown_anywhere() {
    let names = [
        "release",
        "failed-deploy",
        "high-error-rate",
        "restore-db-to-time",
        "restore-db-from-snapshot",
        "scale-out",
        "maintenance-window",
        "run-migration",
        "database-primary-failed",
        "zone-lost",
        "region-lost",
    ];
    // Built in: found with no runbooks directory at hand.
    let empty = tempfile::tempdir().unwrap();
    let list = opsctl_in(empty.path(), &["runbook", "list"]);
    list.expect_code(0);
    for name in names {
        assert!(list.stdout.contains(name), "{name}: {}", list.stdout);
    }
    assert!(list.stdout.contains("built in"), "{}", list.stdout);
    let show = opsctl_in(empty.path(), &["runbook", "show", "release"]);
    show.expect_code(0);
    assert!(
        show.stdout
            .contains("$ opsctl deploy {{env}} --version {{version}}"),
        "{}",
        show.stdout
    );
    assert!(show.stdout.contains("When to use:"), "{}", show.stdout);

    // A directory of its own: its runbooks join the built-in ones, and a broken one is named.
    std::fs::create_dir(empty.path().join("runbooks")).unwrap();
    std::fs::write(
        empty.path().join("runbooks/mine.md"),
        "# Mine\n\n## When to use\nAlways.\n\n## Steps\n\n### 1. Look\n```opsctl\nopsctl status {{env}}\n```\n",
    )
    .unwrap();
    let list = opsctl_in(empty.path(), &["--output", "json", "runbook", "list"]);
    list.expect_code(0);
    let listed = list.json();
    let mine = listed["runbooks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "mine")
        .expect("the directory's runbook is listed");
    assert_eq!(mine["source"], "runbooks/mine.md");
    std::fs::write(
        empty.path().join("runbooks/broken.md"),
        "# Broken\n\n## When to use\nNever.\n\n## Steps\n\n### 2. Wrong number\n",
    )
    .unwrap();
    let list = opsctl_in(empty.path(), &["runbook", "list"]);
    list.expect_code(2);
    assert!(list.stdout.contains("BROKEN"), "{}", list.stdout);
    assert!(list.stdout.contains("line 8"), "{}", list.stdout);
}

/// On a terminal (util-linux `script` gives the run one): a missing value is asked for, and
/// each step asks run, skip or stop.
#[tokio::test]
async fn on_a_terminal_it_asks_for_values_and_before_each_step() {
    let account = Account::seed();
    let dir = tempfile::tempdir().unwrap();
    let transcript = dir.path().join("transcript.json");
    let command = [
        env!("CARGO_BIN_EXE_opsctl").to_owned(),
        "--config".into(),
        support::repo_root()
            .join("opsctl.toml")
            .display()
            .to_string(),
        "--no-progress".into(),
        "--color".into(),
        "never".into(),
        "runbook".into(),
        "run".into(),
        "release".into(),
        "--env".into(),
        "staging".into(),
        "--transcript".into(),
        transcript.display().to_string(),
    ]
    .map(|w| opsctl::runbook::quote(&w))
    .join(" ");
    let mut child = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .env("AWS_ACCESS_KEY_ID", &account.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &account.secret_access_key)
        .env("AWS_REGION", &account.region)
        .env("AWS_ENDPOINT_URL", support::sandbox_url())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("GITHUB_ACTIONS")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs the test on a terminal");
    {
        use std::io::Write;
        // The version, then: run step 1, skip step 2, stop at step 3.
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"v1.2.0\nr\ns\nq\n").unwrap();
        // Keep the terminal open until the run is done with it.
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs(60));
            drop(stdin);
        });
    }
    let out = child.wait_with_output().unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "q stops the run: {screen}");
    assert!(screen.contains("Value for {{version}}"), "{screen}");
    assert!(
        screen.contains("Run step 1? [r]un, [s]kip, [q] stop"),
        "{screen}"
    );
    assert!(screen.contains("stopped: by you at step 3"), "{screen}");
    assert!(
        screen.contains("runbook release on staging: stopped by the user at step 3 (exit 130)"),
        "{screen}"
    );
    let t: Value = serde_json::from_str(&std::fs::read_to_string(&transcript).unwrap()).unwrap();
    assert_eq!(t["values"]["version"], "v1.2.0");
    assert_eq!(t["outcome"], "stopped");
    assert_eq!(t["reason"], "stopped by the user at step 3");
    assert_eq!(t["exit_code"], 130);
    let status: Vec<&str> = t["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(status, ["succeeded", "skipped", "stopped", "not-reached"]);
    assert!(t["resume"].as_str().unwrap().ends_with("--from 3"));
    let svc = service(&account, "staging-users").await;
    assert!(
        svc.task_definition().unwrap().ends_with("staging-users:2"),
        "nothing deployed"
    );
}

#[tokio::test]
async fn a_step_refusing_its_input_after_earlier_steps_ran_exits_1_not_2() {
    let account = Account::seed();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("runbooks")).unwrap();
    // Step 1 changes the service; step 2 asks for a count outside the env's bounds (exit 2).
    std::fs::write(
        dir.path().join("runbooks/two-steps.md"),
        "# Two steps\n\n## When to use\nTests.\n\n## Steps\n\n\
         ### 1. Scale a little\n```opsctl\nopsctl scale {{env}} --count 3\n```\n\n\
         ### 2. Scale too far\n```opsctl\nopsctl scale {{env}} --count 100\n```\n",
    )
    .unwrap();
    let transcript = dir.path().join("t.json");
    let run = account.opsctl(&[
        "--yes",
        "runbook",
        "--dir",
        dir.path().join("runbooks").to_str().unwrap(),
        "run",
        "two-steps",
        "--env",
        "staging",
        "--transcript",
        transcript.to_str().unwrap(),
    ]);
    run.expect_code(1);
    let t: Value = serde_json::from_str(&std::fs::read_to_string(&transcript).unwrap()).unwrap();
    assert_eq!(t["steps"][0]["status"], "succeeded", "{t:#}");
    assert_eq!(t["steps"][1]["exit_code"], 2, "{t:#}");
    assert_eq!(t["exit_code"], 1, "{t:#}");
}

/// `opsctl ARGS…` in `cwd` with extra environment variables, without the sandbox; the
/// transcript's state directory is never the machine's own.
fn opsctl_in_with(cwd: &Path, args: &[&str], vars: &[(&str, &Path)]) -> Run {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_opsctl"));
    cmd.current_dir(cwd)
        .args(["--color", "never"])
        .args(args)
        .env_remove("OPSCTL_RUNBOOKS")
        .env_remove("XDG_STATE_HOME")
        .env("HOME", cwd.join("home"))
        .stdin(std::process::Stdio::null());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().unwrap().into()
}

/// A repository of its own: the repo's opsctl.toml and a `runbooks/` directory holding
/// `runbooks` (name, text).
fn repo_with(runbooks: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        support::repo_root().join("opsctl.toml"),
        dir.path().join("opsctl.toml"),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("runbooks")).unwrap();
    for (name, text) in runbooks {
        std::fs::write(dir.path().join(format!("runbooks/{name}.md")), text).unwrap();
    }
    dir
}

/// A runbook whose only step is done by hand: it runs without AWS.
const BY_HAND: &str = "# Tell the team\n\n## When to use\nAfter a change.\n\n## Steps\n\n\
                       ### 1. Post in the channel\nSay that {{what}} is done.\n";

/// The `runbook-*.json` files directly in `dir`.
fn transcripts_in(dir: &Path) -> Vec<std::path::PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(listing) => listing
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy();
                name.starts_with("runbook-") && name.ends_with(".json")
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn the_transcript_goes_to_the_state_directory_and_its_place_is_printed() {
    let repo = repo_with(&[("tell", BY_HAND)]);
    let state = repo.path().join("state");
    let args = [
        "--yes", "runbook", "run", "tell", "--env", "staging", "--set", "what=it",
    ];
    let run = opsctl_in_with(repo.path(), &args, &[("XDG_STATE_HOME", &state)]);
    run.expect_code(0);
    assert!(
        transcripts_in(repo.path()).is_empty(),
        "nothing left in the repository"
    );
    let written = transcripts_in(&state.join("opsctl/runbooks"));
    assert_eq!(written.len(), 1, "{}", run.stdout);
    let path = written[0].display().to_string();
    assert!(path.contains("runbook-tell-"), "{path}");
    assert!(
        run.stdout
            .contains(&format!("transcript written to {path}")),
        "{}",
        run.stdout
    );
    let t: Value = serde_json::from_str(&std::fs::read_to_string(&written[0]).unwrap()).unwrap();
    assert_eq!(t["outcome"], "completed");
    assert_eq!(t["transcript"], path.as_str());

    // Without XDG_STATE_HOME: ~/.local/state, as XDG says; --output json names the file too.
    let mut json_args = vec!["--output", "json"];
    json_args.extend(args);
    let run = opsctl_in_with(repo.path(), &json_args, &[]);
    run.expect_code(0);
    let out = run.json();
    let path = out["transcript"].as_str().unwrap();
    let home = repo.path().join("home/.local/state/opsctl/runbooks");
    assert!(path.starts_with(home.to_str().unwrap()), "{path}");
    assert!(Path::new(path).is_file(), "{path}");
    assert!(transcripts_in(repo.path()).is_empty());

    // --transcript PATH still decides.
    let chosen = repo.path().join("mine.json");
    let mut chosen_args = args.to_vec();
    chosen_args.extend(["--transcript", chosen.to_str().unwrap()]);
    let run = opsctl_in_with(repo.path(), &chosen_args, &[("XDG_STATE_HOME", &state)]);
    run.expect_code(0);
    assert!(chosen.is_file());
    assert!(
        run.stdout
            .contains(&format!("transcript written to {}", chosen.display())),
        "{}",
        run.stdout
    );
}

#[test]
fn a_bad_value_on_the_command_line_is_the_flags_fault_not_the_runbooks() {
    let repo = repo_with(&[(
        "literal",
        "# Literal\n\n## When to use\nTests.\n\n## Steps\n\n\
         ### 1. Scale\n```opsctl\nopsctl scale {{env}} --count many\n```\n",
    )]);
    let state = repo.path().join("state");
    let vars = [("XDG_STATE_HOME", state.as_path())];
    let bad_count = |output: &str| {
        let args = [
            "--output",
            output,
            "--yes",
            "runbook",
            "run",
            "scale-out",
            "--env",
            "staging",
            "--set",
            "count=abc",
        ];
        let run = opsctl_in_with(repo.path(), &args, &vars);
        run.expect_code(2);
        run
    };
    let run = bad_count("text");
    let err = &run.stderr;
    assert!(
        err.contains("error: --set count=abc: {{count}} fills --count <N>"),
        "{err}"
    );
    assert!(
        err.contains("(the number of tasks to run, within"),
        "what it expects: {err}"
    );
    assert!(err.contains("refuses `abc`"), "{err}");
    assert!(err.contains("nothing ran"), "{err}");
    assert!(
        err.contains("fix: pass --set count=VALUE with a value --count <N> takes"),
        "{err}"
    );
    assert!(!err.contains("fix line"), "not the runbook's fault: {err}");
    assert!(
        transcripts_in(&state.join("opsctl/runbooks")).is_empty(),
        "nothing ran"
    );

    let out = bad_count("json").json();
    assert_eq!(out["exit_code"], 2);
    let message = out["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("--set count=abc: "), "{message}");

    // The same mistake written in the runbook is the runbook's, with its line.
    let run = opsctl_in_with(
        repo.path(),
        &["--yes", "runbook", "run", "literal", "--env", "staging"],
        &vars,
    );
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("step 1 of runbook literal is not a valid"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("fix: fix line 10 of the runbook"),
        "{}",
        run.stderr
    );
}

#[test]
fn show_refuses_what_run_would_and_still_shows_the_runbook() {
    let broken = "# Broken\n\n## When to use\nTests.\n\n## Steps\n\n\
                  ### 1. Look\n```opsctl\nopsctl status {{env}}\n```\n\n\
                  ### 2. Scale\n```opsctl\nopsctl scale {{env}} --count {{count}} --bogus\n```\n";
    let global = "# Global\n\n## When to use\nTests.\n\n## Steps\n\n\
                  ### 1. Restore\n```opsctl\nopsctl db restore {{env}} --to-time {{time}} \
                  --target {{target}} --output json\n```\n";
    let repo = repo_with(&[("broken", broken), ("global", global)]);
    let state = repo.path().join("state");
    let vars = [("XDG_STATE_HOME", state.as_path())];
    let cases: [(&str, &str, &[&str]); 2] = [
        ("broken", "--bogus", &["--set", "count=4"]),
        (
            "global",
            "--output is a global option",
            &["--set", "time=2025-06-01T12:00:00Z", "--set", "target=t"],
        ),
    ];
    for (name, what, values) in cases {
        let show = opsctl_in_with(repo.path(), &["runbook", "show", name], &vars);
        show.expect_code(2);
        assert!(
            show.stdout.contains("When to use:"),
            "still shown: {}",
            show.stdout
        );
        assert!(show.stdout.contains("$ opsctl"), "{}", show.stdout);
        let mut args = vec!["--yes", "runbook", "run", name, "--env", "staging"];
        args.extend(values);
        let run = opsctl_in_with(repo.path(), &args, &vars);
        run.expect_code(2);
        assert!(run.stderr.contains(what), "{}", run.stderr);
        let error = |stderr: &str| -> String {
            stderr
                .lines()
                .skip_while(|l| !l.starts_with("error:"))
                .take(2)
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(error(&show.stderr), error(&run.stderr), "the same error");
        let json = opsctl_in_with(
            repo.path(),
            &["--output", "json", "runbook", "show", name],
            &vars,
        );
        json.expect_code(2);
        let out = json.json();
        assert_eq!(out["exit_code"], 2);
        assert_eq!(out["ok"], false);
        assert!(out["steps"].is_array(), "{out}");
        assert!(
            out["error"]["message"].as_str().unwrap().contains(what),
            "{out}"
        );
        assert!(
            out["error"]["hint"]
                .as_str()
                .unwrap()
                .starts_with("fix line"),
            "{out}"
        );
    }
    // Every built-in runbook is valid: a value not given yet is not held against it.
    for (name, _) in opsctl::runbook::BUILTIN {
        let show = opsctl_in_with(repo.path(), &["runbook", "show", name], &vars);
        show.expect_code(0);
    }
}

/// Runs `opsctl ARGS…` in `cwd` on a terminal (util-linux `script`), typing `input`; the
/// screen and the exit code.
fn on_a_terminal(
    cwd: &Path,
    args: &[&str],
    input: &'static [u8],
    account: Option<&Account>,
) -> (String, Option<i32>) {
    let command = std::iter::once(env!("CARGO_BIN_EXE_opsctl"))
        .chain(["--no-progress", "--color", "never"])
        .chain(args.iter().copied())
        .map(opsctl::runbook::quote)
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-q", "-e", "-c", &command, "/dev/null"])
        .current_dir(cwd)
        .env_remove("OPSCTL_RUNBOOKS")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("AWS_PROFILE")
        .env("XDG_STATE_HOME", cwd.join("state"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(account) = account {
        cmd.env("AWS_ACCESS_KEY_ID", &account.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &account.secret_access_key)
            .env("AWS_REGION", &account.region)
            .env("AWS_ENDPOINT_URL", support::sandbox_url())
            .env("AWS_EC2_METADATA_DISABLED", "true");
    }
    let mut child = cmd
        .spawn()
        .expect("util-linux `script` runs the test on a terminal");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input).unwrap();
        // Keep the terminal open until the run is done with it.
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs(60));
            drop(stdin);
        });
    }
    let out = child.wait_with_output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code(),
    )
}

#[test]
fn on_a_terminal_the_runbook_is_named_before_values_are_asked_and_q_stops_it_with_130() {
    let repo = repo_with(&[("tell", BY_HAND)]);
    let (screen, code) = on_a_terminal(
        repo.path(),
        &["runbook", "run", "tell", "--env", "staging"],
        b"the deploy\nq\n",
        None,
    );
    let title = screen.find("Tell the team").expect(&screen);
    let steps = screen.find("1 step; asks before each step").expect(&screen);
    let asked = screen.find("Value for {{what}}").expect(&screen);
    assert!(title < asked && steps < asked, "the title first: {screen}");
    // q at "done?": stopped by the user, exit 130, and how to resume.
    assert_eq!(code, Some(130), "{screen}");
    assert!(screen.contains("stopped: by you at step 1"), "{screen}");
    assert!(
        screen.contains("runbook tell on staging: stopped by the user at step 1 (exit 130)"),
        "{screen}"
    );
    assert!(
        screen.contains("resume with: opsctl runbook run tell"),
        "{screen}"
    );
    let written = transcripts_in(&repo.path().join("state/opsctl/runbooks"));
    let t: Value = serde_json::from_str(&std::fs::read_to_string(&written[0]).unwrap()).unwrap();
    assert_eq!(t["outcome"], "stopped");
    assert_eq!(t["reason"], "stopped by the user at step 1");
    assert_eq!(t["exit_code"], 130);
    assert!(
        t["resume"]
            .as_str()
            .unwrap()
            .ends_with("--set 'what=the deploy' --from 1"),
        "{t:#}"
    );
}

/// prod asks before a change; in a runbook the step's own question is the only one.
#[tokio::test]
async fn a_prod_step_is_confirmed_once() {
    let account = Account::seed();
    let cwd = tempfile::tempdir().unwrap();
    let config = support::repo_root().join("opsctl.toml");
    let (screen, code) = on_a_terminal(
        cwd.path(),
        &[
            "--config",
            config.to_str().unwrap(),
            "runbook",
            "run",
            "scale-out",
            "--env",
            "prod",
            "--set",
            "count=5",
        ],
        b"r\nr\nr\n",
        Some(&account),
    );
    assert_eq!(code, Some(0), "{screen}");
    assert_eq!(
        screen
            .matches("Run step 2? [r]un, [s]kip, [q] stop")
            .count(),
        1,
        "{screen}"
    );
    assert!(!screen.contains("[y/N]"), "asked twice: {screen}");
    let live = live_version(&account).0;
    let svc = service(&account, &format!("prod-users-{live}")).await;
    assert_eq!(svc.desired_count(), 5, "the seed runs 3");
}
