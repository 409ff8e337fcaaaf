//! Least privilege, enforced: the sandbox checks every call against the policy of its user,
//! and that user holds exactly the actions `opsctl iam-policy ENV` prints. Every command of
//! the environment must work with them; without one of them, the command that needs it fails
//! with a message that names the call, AWS's code and the way to the fix.

mod support;

use std::collections::BTreeSet;

use serde_json::Value;
use support::Account;

/// The actions of the policy `opsctl iam-policy ENV` prints for the account.
fn policy_actions(account: &Account, env: &str) -> Vec<String> {
    let run = account.opsctl(&["iam-policy", env]);
    run.expect_code(0);
    let mut actions = BTreeSet::new();
    for statement in run.json()["Statement"].as_array().unwrap() {
        match &statement["Action"] {
            Value::String(a) => {
                actions.insert(a.clone());
            }
            Value::Array(list) => {
                actions.extend(list.iter().map(|a| a.as_str().unwrap().to_owned()));
            }
            other => panic!("an Action that is neither a string nor a list: {other}"),
        }
    }
    actions.into_iter().collect()
}

#[tokio::test]
async fn every_staging_command_works_with_exactly_the_printed_policy() {
    let account = Account::seed();
    let allow = policy_actions(&account, "staging");
    account.enforce_iam(&allow);
    for (args, code) in [
        (vec!["check", "staging", "--version", "v1.2.0"], 0),
        (vec!["plan", "staging", "--version", "v1.2.0"], 0),
        (vec!["deploy", "staging", "--version", "v1.2.0"], 0),
        (vec!["status", "staging"], 0),
        (vec!["history", "staging"], 0),
        (vec!["wait-stable", "staging"], 0),
        (vec!["deploy", "staging", "--version", "v1.4.0-broken"], 3),
        (vec!["rollback", "staging"], 0),
        (vec!["run", "staging", "--", "users-service", "migrate"], 0),
        (
            vec!["run", "staging", "--version", "v1.3.0", "--", "exit=3"],
            3,
        ),
        (
            vec!["logs", "staging", "--since", "10m", "--filter", "ERROR"],
            0,
        ),
        (vec!["scale", "staging", "--count", "3"], 0),
        (vec!["scale", "staging", "--min", "1", "--max", "5"], 0),
        (vec!["db", "snapshot", "staging", "--wait"], 0),
        (vec!["db", "snapshots", "staging"], 0),
        (
            vec![
                "db",
                "restore",
                "staging",
                "--latest",
                "--target",
                "users-db-restored",
            ],
            0,
        ),
    ] {
        let run = account.opsctl(&args);
        assert_eq!(
            run.code,
            code,
            "{}\n--- stdout\n{}\n--- stderr\n{}",
            args.join(" "),
            run.stdout,
            run.stderr
        );
        let denied: Vec<_> = account
            .requests()
            .into_iter()
            .filter(|r| r.status == Some(400) || r.status == Some(403))
            .filter(|r| r.fault.is_none())
            .collect();
        assert!(denied.is_empty(), "{}: refused {denied:?}", args.join(" "));
        account.clear_requests();
    }
}

#[tokio::test]
async fn every_prod_command_works_with_exactly_the_printed_policy() {
    let account = Account::seed_multi_az();
    let allow = policy_actions(&account, "prod");
    account.enforce_iam(&allow);
    for args in [
        vec!["check", "prod", "--version", "v1.2.0"],
        vec!["deploy", "prod", "--version", "v1.2.0", "--yes"],
        vec!["status", "prod"],
        vec!["rollback", "prod", "--yes"],
        vec![
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
        vec!["logs", "prod", "--colour", "idle", "--since", "30m"],
        vec!["retire", "prod", "--yes"],
        vec!["db", "failover", "prod", "--wait", "--yes"],
        vec!["db", "snapshots", "prod", "--prune", "--dry-run"],
    ] {
        account.opsctl(&args).expect_code(0);
    }
    // Disaster recovery in database.dr's region: a copy there, its list, a restore there.
    let (_, id) = account.snapshot_to_dr();
    account
        .opsctl(&["db", "snapshots", "prod", "--dr"])
        .expect_code(0);
    account.restore_in_dr(&id, "users-db-dr").expect_code(0);
}

#[tokio::test]
async fn a_missing_grant_fails_the_command_naming_the_call_and_aws_code() {
    let account = Account::seed();
    let allow: Vec<String> = policy_actions(&account, "staging")
        .into_iter()
        .filter(|a| a != "ecs:UpdateService")
        .collect();
    account.enforce_iam(&allow);
    let run = account.opsctl(&["deploy", "staging", "--version", "v1.2.0"]);
    run.expect_code(1);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(said.contains("UpdateService"), "{said}");
    assert!(said.contains("AccessDeniedException"), "{said}");
    assert!(said.contains("never deployed"), "{said}");
    assert!(!said.contains("Error {"), "a Debug dump: {said}");

    // A query-protocol service (RDS) denied: code and message, not a dump.
    let allow: Vec<String> = allow
        .into_iter()
        .filter(|a| a != "rds:DescribeDBSnapshots")
        .collect();
    account.enforce_iam(&allow);
    let run = account.opsctl(&["db", "snapshots", "staging"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("DescribeDBSnapshots: AccessDenied"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("iam-policy"), "{}", run.stderr);
    assert!(
        !run.stderr.contains("Error {"),
        "a Debug dump: {}",
        run.stderr
    );
}
