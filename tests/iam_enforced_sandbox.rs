//! Least privilege, enforced: the sandbox checks every call against the policy of its user,
//! actions, resource ARNs and conditions as AWS checks them, and that user holds exactly the
//! policy `opsctl iam-policy ENV` prints. Every command of the environment must work with
//! it; with one statement narrowed to another resource, or its condition changed, or without
//! one action, the command that needs it fails with a message that names the call, the
//! resource, AWS's code and the way to the fix.

mod support;

use std::collections::BTreeSet;

use serde_json::Value;
use support::Account;

/// The policy `opsctl iam-policy ENV` prints for the account.
fn printed_policy(account: &Account, env: &str) -> Value {
    let run = account.opsctl(&["iam-policy", env]);
    run.expect_code(0);
    run.json()
}

/// The actions of the policy `opsctl iam-policy ENV` prints for the account.
fn policy_actions(account: &Account, env: &str) -> Vec<String> {
    let mut actions = BTreeSet::new();
    for statement in printed_policy(account, env)["Statement"]
        .as_array()
        .unwrap()
    {
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
    account.enforce_iam_policy(&printed_policy(&account, "staging"));
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
    account.enforce_iam_policy(&printed_policy(&account, "prod"));
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

/// A change to one statement of a policy.
type Change = Box<dyn FnOnce(&mut Value)>;

/// A narrowed statement: its Sid, the change, the command, its exit code, and the action and
/// resource the refusal must name.
type Case<'a> = (&'a str, Change, Vec<&'a str>, i32, &'a str, String);

/// The printed policy with the statement `sid` changed by `change`.
fn with_statement(mut policy: Value, sid: &str, change: impl FnOnce(&mut Value)) -> Value {
    let statement = policy["Statement"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|s| s["Sid"] == sid)
        .unwrap_or_else(|| panic!("no statement {sid} in the printed policy"));
    change(statement);
    policy
}

/// One statement of the printed policy narrowed to another resource, or its condition
/// changed: the command that needs it fails, naming the call and the resource it was refused.
#[tokio::test]
async fn a_statement_narrowed_to_another_resource_or_condition_fails_the_command_that_needs_it() {
    let account = Account::seed();
    let arn = |service: &str, resource: &str| {
        format!("arn:aws:{service}:us-east-1:{}:{resource}", account.id)
    };
    let printed = printed_policy(&account, "staging");
    let resource = |r: Value| -> Change { Box::new(move |s: &mut Value| s["Resource"] = r) };
    let condition = |c: Value| -> Change { Box::new(move |s: &mut Value| s["Condition"] = c) };
    // Every refusal is a failure (exit 1): AWS refused, opsctl changed what it had got to.
    let cases: Vec<Case> = vec![
        // an ECS service ARN
        (
            "EcsReadAndUpdateTheServices",
            resource(arn("ecs", "service/demo/other-users").into()),
            vec!["deploy", "staging", "--version", "v1.2.0"],
            1,
            "ecs:DescribeServices",
            arn("ecs", "service/demo/staging-users"),
        ),
        // an ECR repository ARN
        (
            "EcrFindVersions",
            resource(arn("ecr", "repository/other").into()),
            vec!["check", "staging", "--version", "v1.2.0"],
            1,
            "ecr:",
            arn("ecr", "repository/users"),
        ),
        // a CloudWatch alarm ARN
        (
            "CloudWatchReadTheAlarms",
            resource(arn("cloudwatch", "alarm:other-5xx").into()),
            vec!["check", "staging", "--version", "v1.2.0"],
            1,
            "cloudwatch:DescribeAlarms",
            arn("cloudwatch", "alarm:staging-users-5xx"),
        ),
        // an SSM parameter ARN (the deploy lock)
        (
            "SsmKeepTheDeployLock",
            resource(serde_json::json!([arn(
                "ssm",
                "parameter/opsctl/locks/demo/prod"
            )])),
            vec!["deploy", "staging", "--version", "v1.2.0"],
            1,
            "ssm:",
            arn("ssm", "parameter/opsctl/locks/demo/staging"),
        ),
        // an RDS snapshot ARN (snapshot:NAME)
        (
            "RdsSnapshotTheDatabase",
            resource(serde_json::json!([
                arn("rds", "db:users-db"),
                arn("rds", "snapshot:other-db-*")
            ])),
            vec!["db", "snapshot", "staging"],
            1,
            "rds:CreateDBSnapshot",
            arn("rds", "snapshot:users-db-"),
        ),
        // the ecs:cluster condition (ArnEquals)
        (
            "EcsRunOneOffTasksOfTheFamilies",
            condition(
                serde_json::json!({ "ArnEquals": { "ecs:cluster": arn("ecs", "cluster/other") } }),
            ),
            vec!["run", "staging", "--", "users-service", "migrate"],
            1,
            "ecs:RunTask",
            arn("ecs", "task-definition/"),
        ),
        // the iam:PassedToService condition (StringEquals)
        (
            "PassTheTaskRolesToEcs",
            condition(
                serde_json::json!({ "StringEquals": { "iam:PassedToService": "lambda.amazonaws.com" } }),
            ),
            vec!["deploy", "staging", "--version", "v1.2.0"],
            1,
            "iam:PassRole",
            arn("iam", "role/").replace(":us-east-1:", "::"),
        ),
        // an aws:ResourceTag condition (StringLike) on a restored instance
        (
            "RdsFinishRestoredInstances",
            condition(
                serde_json::json!({ "StringLike": { "aws:ResourceTag/opsctl:not-a-tag": "*" } }),
            ),
            vec![
                "db",
                "restore",
                "staging",
                "--latest",
                "--target",
                "users-db-restored",
            ],
            1,
            "rds:ModifyDBInstance",
            arn("rds", "db:users-db-restored"),
        ),
    ];
    for (sid, change, args, code, action, resource) in cases {
        account.enforce_iam_policy(&with_statement(printed.clone(), sid, change));
        let run = account.opsctl(&args);
        let said = format!("{}{}", run.stdout, run.stderr);
        assert_eq!(run.code, code, "{sid}: {}\n{said}", args.join(" "));
        assert!(said.contains(action), "{sid}: no {action} in\n{said}");
        assert!(said.contains(&resource), "{sid}: no {resource} in\n{said}");
        assert!(!said.contains("Error {"), "{sid}: a Debug dump: {said}");
    }
}
