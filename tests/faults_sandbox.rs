//! Faults injected into the sandbox's AWS, for each command, each AWS action it calls, and
//! each kind of fault: a passing fault (a throttling burst, one 500, one dropped connection)
//! changes neither the outcome nor the exit code; a lasting one (AccessDenied) ends with an
//! exit code that matches the state read back, a message that names the call, and no panic.
//!
//! The actions are not listed by hand: a clean run of each command, read from the sandbox's
//! request log, says which it calls.

mod support;

use std::collections::BTreeSet;

use support::{Account, Run};

/// What a user reads back after a command: the services' versions and whether they settled,
/// and for blue/green the listener's weights.
async fn state(account: &Account, services: &[&str], weights: bool) -> String {
    let mut parts = Vec::new();
    if services.is_empty() {
        // A database command: its snapshots and instances, and their states.
        let snapshots = manual_snapshots(account).await;
        parts.push(format!(
            "{} manual snapshot(s) {:?}",
            snapshots.len(),
            snapshots
                .iter()
                .map(|(_, status)| status)
                .collect::<Vec<_>>()
        ));
        let rds = aws_sdk_rds::Client::new(&account.sdk().await);
        let instances = rds.describe_db_instances().send().await.unwrap();
        for i in instances.db_instances() {
            parts.push(format!(
                "{} {}",
                i.db_instance_identifier().unwrap_or_default(),
                i.db_instance_status().unwrap_or_default()
            ));
        }
    }
    for s in services {
        parts.push(account.service_state(s).await);
    }
    if weights {
        parts.push(format!("weights {:?}", account.weights().await));
    }
    parts.join("; ")
}

/// A command and what it acts on.
struct Case {
    args: &'static [&'static str],
    services: &'static [&'static str],
    weights: bool,
    /// The clean run's exit code.
    clean: i32,
}

/// The passing faults of the matrix, each a run: a burst of three throttled answers, then a
/// 500 followed at once by a dropped connection.
const PASSING: &[&[&str]] = &[&["throttle", "throttle", "throttle"], &["500", "drop"]];

fn no_panic(run: &Run, what: &str) {
    assert_ne!(run.code, 101, "{what}: panicked\n{}", run.stderr);
    assert!(
        !run.stderr.contains("panicked"),
        "{what}: panicked\n{}",
        run.stderr
    );
}

/// The repository's opsctl.toml with short bakes and steps, so that each of the matrix's
/// many runs takes a second or two.
fn fast_config() -> std::path::PathBuf {
    fast_config_with("", "")
}

/// [`fast_config`] with `extra` added to `[env.staging]`, in a file named by `name`.
fn fast_config_with(name: &str, extra: &str) -> std::path::PathBuf {
    let anchor = "database = { instance = \"users-db\" }\n";
    let text = support::repo_config()
        .replacen(anchor, &format!("{anchor}{extra}"), 1)
        .replace("bake = \"3s\"", "bake = \"1s\"")
        .replace("bake = \"5s\"", "bake = \"1s\"")
        .replace("step_interval = \"3s\"", "step_interval = \"1s\"")
        .replace("steps = [10, 50, 100]", "steps = [50, 100]");
    let path =
        std::env::temp_dir().join(format!("opsctl-faults{name}-{}.toml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

async fn matrix(case: Case) {
    matrix_in(case, fast_config()).await;
}

async fn matrix_in(case: Case, config: std::path::PathBuf) {
    let opsctl = |account: &Account| account.opsctl_with_config(&config, case.args);
    // The clean run: its outcome, the state it leaves, and the actions it calls.
    let account = Account::seed();
    let before = state(&account, case.services, case.weights).await;
    let clean = opsctl(&account);
    clean.expect_code(case.clean);
    let after = state(&account, case.services, case.weights).await;
    let actions: BTreeSet<String> = account.requests().into_iter().map(|r| r.action).collect();
    assert!(
        actions.len() >= 3,
        "the clean run called too little: {actions:?}"
    );

    let mut failures = Vec::new();
    for action in &actions {
        for &faults in PASSING {
            let account = Account::seed();
            for (i, fault) in faults.iter().enumerate() {
                account.fault(action, fault, Some(1), i as u32);
            }
            let run = opsctl(&account);
            let what = format!(
                "{} with {} on {action}",
                case.args.join(" "),
                faults.join(", ")
            );
            no_panic(&run, &what);
            account.clear_faults();
            let now = state(&account, case.services, case.weights).await;
            if run.code != case.clean || now != after {
                failures.push(format!(
                    "{what}: exit {} (clean {}), state `{now}` (clean `{after}`)\n{}{}",
                    run.code, case.clean, run.stdout, run.stderr
                ));
            }
        }
        // A lasting AccessDenied: whatever the exit code, it must be the truth.
        let account = Account::seed();
        account.fault(action, "access_denied", None, 0);
        let run = opsctl(&account);
        let what = format!("{} with access_denied on {action}", case.args.join(" "));
        no_panic(&run, &what);
        account.clear_faults();
        let now = state(&account, case.services, case.weights).await;
        let call = action.split(':').nth(1).unwrap();
        let said = format!("{}{}", run.stdout, run.stderr);
        let truthful = match run.code {
            0 => now == after,
            3 => now == before,
            2 => !account.requests().iter().any(|r| r.changed()),
            _ => said.contains(call),
        };
        // A message names the call that failed, on every exit but success.
        let named = run.code == 0 || said.contains(call);
        if !truthful || !named {
            failures.push(format!(
                "{what}: exit {}, state `{now}` (before `{before}`, clean `{after}`)\n{said}",
                run.code
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
}

#[tokio::test]
async fn a_rolling_deploy_survives_every_fault() {
    matrix(Case {
        args: &["deploy", "staging", "--version", "v1.2.0", "--yes"],
        services: &["staging-users"],
        weights: false,
        clean: 0,
    })
    .await;
}

#[tokio::test]
async fn a_broken_rolling_deploy_rolls_back_under_every_fault() {
    matrix(Case {
        args: &["deploy", "staging", "--version", "v1.4.0-broken", "--yes"],
        services: &["staging-users"],
        weights: false,
        clean: 3,
    })
    .await;
}

#[tokio::test]
async fn the_scan_gate_survives_every_fault() {
    // The env gates on scans, so the preflight reads the version's scan too.
    matrix_in(
        Case {
            args: &["check", "staging", "--version", "v1.2.0"],
            services: &["staging-users"],
            weights: false,
            clean: 0,
        },
        fast_config_with("-scan", "scan = { fail_on = \"HIGH\", wait = \"30s\" }\n"),
    )
    .await;
}

#[tokio::test]
async fn a_rollback_survives_every_fault() {
    matrix(Case {
        args: &["rollback", "staging", "--yes"],
        services: &["staging-users"],
        weights: false,
        clean: 0,
    })
    .await;
}

#[tokio::test]
async fn a_traffic_switch_survives_every_fault() {
    matrix(Case {
        args: &[
            "traffic",
            "prod",
            "--to",
            "green",
            "--steps",
            "50,100",
            "--interval",
            "1s",
            "--yes",
        ],
        services: &["prod-users-blue", "prod-users-green"],
        weights: true,
        clean: 0,
    })
    .await;
}

#[tokio::test]
async fn a_bluegreen_deploy_survives_every_fault() {
    matrix(Case {
        args: &["deploy", "prod", "--version", "v1.2.0", "--yes"],
        services: &["prod-users-blue", "prod-users-green"],
        weights: true,
        clean: 0,
    })
    .await;
}

#[tokio::test]
async fn wait_stable_survives_every_fault() {
    matrix(Case {
        args: &["wait-stable", "staging"],
        services: &["staging-users"],
        weights: false,
        clean: 0,
    })
    .await;
}

#[tokio::test]
async fn a_database_snapshot_survives_every_fault() {
    matrix(Case {
        args: &["db", "snapshot", "staging", "--wait"],
        services: &[],
        weights: false,
        clean: 0,
    })
    .await;
}

#[tokio::test]
async fn a_database_restore_survives_every_fault() {
    matrix(Case {
        args: &[
            "db",
            "restore",
            "staging",
            "--latest",
            "--target",
            "users-db-restored",
        ],
        services: &[],
        weights: false,
        clean: 0,
    })
    .await;
}

#[tokio::test]
async fn scaling_survives_every_fault() {
    matrix(Case {
        args: &["scale", "staging", "--count", "3", "--yes"],
        services: &["staging-users"],
        weights: false,
        clean: 0,
    })
    .await;
}

/// The manual snapshots of the demo database, as `(id, status)`.
async fn manual_snapshots(account: &Account) -> Vec<(String, String)> {
    let rds = aws_sdk_rds::Client::new(&account.sdk().await);
    let out = rds
        .describe_db_snapshots()
        .db_instance_identifier("users-db")
        .snapshot_type("manual")
        .send()
        .await
        .unwrap();
    out.db_snapshots()
        .iter()
        .map(|s| {
            (
                s.db_snapshot_identifier().unwrap_or_default().to_owned(),
                s.status().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_lost_answer_to_create_db_snapshot_is_recognised_as_its_own_snapshot() {
    let account = Account::seed();
    account.fault("rds:CreateDBSnapshot", "lost_answer", Some(1), 0);
    let run = account.opsctl(&["db", "snapshot", "staging", "--wait"]);
    run.expect_code(0);
    assert!(
        run.stderr.contains("answer to CreateDBSnapshot was lost"),
        "{}",
        run.stderr
    );
    account.clear_faults();
    assert_eq!(manual_snapshots(&account).await.len(), 1);
}

#[tokio::test]
async fn a_lost_answer_to_a_restore_is_recognised_as_its_own_instance() {
    let account = Account::seed();
    account.fault(
        "rds:RestoreDBInstanceToPointInTime",
        "lost_answer",
        Some(1),
        0,
    );
    let run = account.opsctl(&[
        "db",
        "restore",
        "staging",
        "--latest",
        "--target",
        "users-db-copy",
    ]);
    run.expect_code(0);
    assert!(
        run.stderr.contains("answer to the restore call was lost"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("users-db-copy"), "{}", run.stdout);
}

#[tokio::test]
async fn a_revision_registered_by_a_lost_answer_reads_not_deployed() {
    let account = Account::seed();
    account.fault("ecs:RegisterTaskDefinition", "lost_answer", Some(1), 0);
    account
        .opsctl(&["deploy", "staging", "--version", "v1.2.0"])
        .expect_code(0);
    account.clear_faults();
    let ecs = aws_sdk_ecs::Client::new(&account.sdk().await);
    let outcome = |revision: &'static str| {
        let ecs = ecs.clone();
        async move {
            let out = ecs
                .describe_task_definition()
                .task_definition(revision)
                .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
                .send()
                .await
                .unwrap();
            out.tags()
                .iter()
                .find(|t| t.key() == Some("opsctl:outcome"))
                .and_then(|t| t.value())
                .unwrap_or_default()
                .to_owned()
        }
    };
    // The first attempt's revision was registered and never deployed; the retry's was.
    assert_eq!(outcome("staging-users:3").await, "not-deployed");
    assert_eq!(outcome("staging-users:4").await, "succeeded");
}

fn ctrl_c(child: &std::process::Child) {
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
}

#[tokio::test]
async fn ctrl_c_mid_switch_puts_the_weights_back() {
    let account = Account::seed();
    let child = account.spawn(&[
        "traffic",
        "prod",
        "--to",
        "green",
        "--steps",
        "50,100",
        "--interval",
        "30s",
        "--yes",
    ]);
    for _ in 0..200 {
        if account.weights().await == (50, 50) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        account.weights().await,
        (50, 50),
        "the switch reached its first step"
    );
    ctrl_c(&child);
    let run: Run = child.wait_with_output().unwrap().into();
    run.expect_code(130);
    assert_eq!(account.weights().await, (100, 0), "weights restored");
    assert!(
        run.stdout
            .contains("weights restored to blue 100 / green 0"),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn ctrl_c_during_a_slow_preflight_changes_nothing() {
    let account = Account::seed();
    // The preflight's image lookup takes 2 s: Ctrl-C lands inside the preflight.
    slow_image_lookup(&account);
    let child = account.spawn(&["deploy", "staging", "--version", "v1.2.0"]);
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    ctrl_c(&child);
    let run: Run = child.wait_with_output().unwrap().into();
    run.expect_code(130);
    assert!(
        format!("{}{}", run.stdout, run.stderr).contains("nothing changed"),
        "{}",
        run.stderr
    );
    assert!(
        !account.requests().iter().any(|r| r.changed()),
        "{:?}",
        account.requests()
    );
}

/// The preflight's image lookup answers after 2 s.
fn slow_image_lookup(account: &Account) {
    support::control(
        "POST",
        "/_sandbox/faults",
        &serde_json::json!({
            "account_id": account.id, "action": "ecr:DescribeImages", "fault": "delay",
            "delay_ms": 2000,
        }),
    );
}
