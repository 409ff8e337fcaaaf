//! The policy against the code: every SDK call granted, no grant unused, resources scoped.

use std::path::Path;

use super::*;
use crate::config::{Config, EnvConfig};

fn repo_env(name: &str) -> EnvConfig {
    let config = Config::parse(Path::new("opsctl.toml"), include_str!("../../opsctl.toml"))
        .expect("the repo's config parses");
    config.env(name).unwrap().clone()
}

fn scope() -> Scope {
    Scope {
        partition: "aws".into(),
        region: "us-east-1".into(),
        account: "123456789012".into(),
        families: vec!["prod-users".into()],
        roles: Some(vec![
            "arn:aws:iam::123456789012:role/users-task".into(),
            "arn:aws:iam::123456789012:role/users-execution".into(),
        ]),
        secrets: Some(vec![
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:users-db-AbCdEf".into(),
        ]),
        repositories: vec!["users".into()],
        native: Some(false),
    }
}

/// Case-insensitive, as IAM compares action names.
fn allowed(policy: &Policy, action: &str) -> bool {
    policy
        .actions()
        .iter()
        .any(|a| a.eq_ignore_ascii_case(action))
}

/// `(file, source)` of every SDK adapter: each file under `aws/sdk/`, read from the tree
/// so that a new adapter file cannot be missed.
fn adapter_sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/aws");
    let mut files: Vec<_> = std::fs::read_dir(root.join("sdk"))
        .expect("src/aws/sdk/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p.display().to_string(), text)
        })
        .collect()
}

/// Calls AWS answers for any valid credentials, whatever their policy says (even an explicit
/// Deny): the policy need not grant them.
const NEEDS_NO_PERMISSION: &[&str] = &["sts:GetCallerIdentity"];

#[test]
fn every_aws_call_in_the_code_is_in_the_policy() {
    let mut calls = Vec::new();
    for (file, source) in adapter_sources() {
        let found = sdk_calls(&source).unwrap_or_else(|e| panic!("{file}: {e}"));
        calls.extend(
            found
                .into_iter()
                .map(|(a, line)| (a, format!("{file}:{line}"))),
        );
    }
    let found: BTreeSet<&str> = calls.iter().map(|(a, _)| a.as_str()).collect();
    // The scan sees the calls it must: a scan that finds nothing proves nothing.
    for known in [
        "ecs:DescribeServices",
        "ecs:RegisterTaskDefinition",
        "ecs:ListTaskDefinitions",
        "ecr:DescribeImages",
        "secretsmanager:DescribeSecret",
        "cloudwatch:PutMetricData",
        "elasticloadbalancing:ModifyListener",
        "rds:CreateDbSnapshot",
        "rds:DescribeDbInstanceAutomatedBackups",
        "application-autoscaling:RegisterScalableTarget",
    ] {
        assert!(found.contains(known), "the scan missed {known}: {found:?}");
    }
    // Which calls an env needs depends on it (a listener or a rule): the calls are
    // covered by the policies of its kinds together, and no policy grants an action
    // that no adapter calls.
    let mut rule = repo_env("prod");
    rule.two_service_mut().unwrap().listener = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/prod-alb/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee".into();
    let mut scanned = repo_env("staging");
    scanned.scan = Some(crate::config::ScanGate {
        fail_on: crate::aws::Severity::High,
        wait: crate::config::Dur(std::time::Duration::from_secs(300)),
    });
    let mut notified = repo_env("staging");
    notified.notify = vec![crate::config::NotifyTarget::Sns(
        "arn:aws:sns:us-east-1:123456789012:deploys".into(),
    )];
    let mut notified = repo_env("staging");
    notified.notify = vec![crate::config::NotifyTarget::Sns(
        "arn:aws:sns:us-east-1:123456789012:deploys".into(),
    )];
    let policies = [
        policy(&repo_env("prod"), &scope()),
        policy(&notified, &scope()),
        policy(&scanned, &scope()),
        policy(&notified, &scope()),
        policy(&rule, &scope()),
        policy(&repo_env("staging"), &scope()),
        policy(
            &repo_env("staging"),
            &Scope {
                native: Some(true),
                ..scope()
            },
        ),
    ];
    for (action, at) in &calls {
        if NEEDS_NO_PERMISSION.contains(&action.as_str()) {
            continue;
        }
        assert!(
            policies.iter().any(|p| allowed(p, action)),
            "{at} calls {action}, which the IAM policy does not allow: add it to src/iam/policy.rs"
        );
    }
    // Granted without a call of their own: AWS checks them on a call that does something
    // on the side (passing the task's roles, tagging what a create makes).
    let implied = [
        "iam:PassRole",
        "rds:AddTagsToResource",
        "secretsmanager:CreateSecret",
        "secretsmanager:TagResource",
        "kms:DescribeKey",
        "kms:CreateGrant",
    ];
    for action in policies.iter().flat_map(|p| p.actions()) {
        assert!(
            calls.iter().any(|(a, _)| a.eq_ignore_ascii_case(&action))
                || implied.contains(&action.as_str()),
            "the policy grants {action}, which no adapter calls: remove it from src/iam/policy.rs"
        );
    }
    assert!(!allowed(&policies[0], "elasticloadbalancing:ModifyRule"));
    assert!(!allowed(
        &policies[2],
        "elasticloadbalancing:ModifyListener"
    ));
    assert!(!allowed(
        &policies[3],
        "elasticloadbalancing:DescribeListeners"
    ));
}

#[test]
fn database_and_scaling_actions_are_granted_ahead_of_their_commands() {
    let policy = policy(&repo_env("prod"), &scope());
    for action in [
        "rds:CreateDBSnapshot",
        "rds:DescribeDBSnapshots",
        "rds:DescribeDBInstances",
        "rds:RestoreDBInstanceFromDBSnapshot",
        "rds:RestoreDBInstanceToPointInTime",
        "rds:AddTagsToResource",
        "rds:DescribeDBInstanceAutomatedBackups",
        "application-autoscaling:DescribeScalableTargets",
        "application-autoscaling:RegisterScalableTarget",
    ] {
        assert!(allowed(&policy, action), "{action}");
    }
}

#[test]
fn resources_are_the_environments_own() {
    let prod = serde_json::to_value(policy(&repo_env("prod"), &scope())).unwrap();
    let text = prod.to_string();
    for arn in [
        "arn:aws:ecs:us-east-1:123456789012:service/demo/prod-users-blue",
        "arn:aws:ecs:us-east-1:123456789012:service/demo/prod-users-green",
        "arn:aws:ecs:us-east-1:123456789012:task-definition/prod-users:*",
        "arn:aws:ecr:us-east-1:123456789012:repository/users",
        "arn:aws:iam::123456789012:role/users-task",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:users-db-AbCdEf",
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:prod-users-5xx",
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/prod-alb/*",
        "arn:aws:rds:us-east-1:123456789012:db:users-db",
        "arn:aws:rds:us-east-1:123456789012:snapshot:users-db-*",
    ] {
        assert!(text.contains(arn), "{arn} missing from {prod:#}");
    }
    // Everything on `*` says so in its Sid, or is held by a condition.
    for s in prod["Statement"].as_array().unwrap() {
        if s["Resource"] == "*" {
            let sid = s["Sid"].as_str().unwrap();
            assert!(
                sid.ends_with("WithoutResourceScope") || s.get("Condition").is_some(),
                "{s}"
            );
        }
        assert!(
            s["Sid"]
                .as_str()
                .unwrap()
                .chars()
                .all(|c| c.is_ascii_alphanumeric())
        );
    }
    assert_eq!(prod["Version"], "2012-10-17");
}

#[test]
fn a_rolling_environment_gets_no_listener_changes() {
    let staging = policy(
        &repo_env("staging"),
        &Scope {
            families: vec!["staging-users".into()],
            ..scope()
        },
    );
    assert!(!allowed(&staging, "elasticloadbalancing:ModifyListener"));
    assert!(!allowed(&staging, "cloudwatch:GetMetricData"));
    let text = serde_json::to_string(&staging).unwrap();
    assert!(text.contains("service/demo/staging-users\""), "{text}");
    assert!(!text.contains("prod-users"), "{text}");
}

#[test]
fn unknown_details_become_wildcards_within_the_account() {
    let scope = Scope {
        families: Vec::new(),
        roles: None,
        secrets: None,
        repositories: Vec::new(),
        ..scope()
    };
    let text = serde_json::to_string(&policy(&repo_env("prod"), &scope)).unwrap();
    for arn in [
        "arn:aws:ecs:us-east-1:123456789012:task-definition/*",
        "arn:aws:iam::123456789012:role/*",
        "arn:aws:secretsmanager:*:123456789012:secret:*",
        "arn:aws:ecr:us-east-1:123456789012:repository/*",
    ] {
        assert!(text.contains(arn), "{arn} missing from {text}");
    }
    assert!(
        text.contains("ecs-tasks.amazonaws.com"),
        "PassRole stays tied to ECS"
    );
}

#[test]
fn listener_arns_are_used_as_they_are() {
    let mut env = repo_env("prod");
    let listener = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/prod-alb/50dc6c495c0c9188/f2f7dc8efc522ab2";
    env.two_service_mut().unwrap().listener = listener.into();
    let text = serde_json::to_string(&policy(&env, &scope())).unwrap();
    assert!(text.contains(&format!("\"{listener}\"")), "{text}");
    // A listener's own weights are changed with ModifyListener; no rule is touched.
    assert!(!text.contains("ModifyRule"), "{text}");
    assert!(!text.contains(":listener-rule/"), "{text}");
}

#[test]
fn the_scan_reads_chains_and_names_the_client() {
    let src = "\
pub struct SdkThing(pub aws_sdk_rds::Client);
impl Database for SdkThing {
async fn f(&self) {
    let out = self
        .0
        .create_db_snapshot()
        .db_instance_identifier(id(\"x\"))
        .tags(Tag::builder().key(\"k\").build())
        .send()
        .await;
    let mut pages = self.0.describe_db_snapshots().into_paginator().send();
}
}
";
    let calls = sdk_calls(src).unwrap();
    let names: Vec<&str> = calls.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(names, ["rds:CreateDbSnapshot", "rds:DescribeDbSnapshots"]);
    assert!(sdk_calls("fn f() { client.list_things().send(); }").is_err());
}

#[test]
fn partitions_and_arns() {
    assert_eq!(partition_of("cn-north-1"), "aws-cn");
    assert_eq!(partition_of("us-gov-west-1"), "aws-us-gov");
    assert_eq!(partition_of("eu-west-1"), "aws");
    assert_eq!(
        arn_parts("arn:aws:ecs:us-east-1:123456789012:service/demo/x"),
        Some(("aws", "ecs", "us-east-1", "123456789012", "service/demo/x"))
    );
    assert_eq!(arn_parts("demo"), None);
}

#[test]
fn native_deployments_are_followed_and_answered_only_where_a_service_is_native() {
    let rolling = policy(&repo_env("staging"), &scope());
    let native = policy(
        &repo_env("staging"),
        &Scope {
            native: Some(true),
            ..scope()
        },
    );
    for action in [
        "ecs:ListServiceDeployments",
        "ecs:DescribeServiceDeployments",
        "ecs:ContinueServiceDeployment",
        "ecs:StopServiceDeployment",
        "elasticloadbalancing:DescribeRules",
        "cloudwatch:GetMetricData",
    ] {
        assert!(allowed(&native, action), "{action}");
        assert!(!allowed(&rolling, action), "{action}");
    }
    let text = serde_json::to_string(&native).unwrap();
    assert!(
        text.contains("service-deployment/demo/staging-users/*"),
        "{text}"
    );
}

#[test]
fn scan_findings_are_read_only_where_the_env_gates_on_them() {
    let plain = policy(&repo_env("staging"), &scope());
    assert!(!allowed(&plain, "ecr:DescribeImageScanFindings"));
    let mut gated = repo_env("staging");
    gated.scan = Some(crate::config::ScanGate {
        fail_on: crate::aws::Severity::Critical,
        wait: crate::config::Dur(std::time::Duration::ZERO),
    });
    let gated = serde_json::to_value(policy(&gated, &scope())).unwrap();
    let statement = gated["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "EcrReadTheVersionsScanFindings")
        .expect("a statement for the scan gate");
    assert_eq!(statement["Action"], "ecr:DescribeImageScanFindings");
    assert_eq!(
        statement["Resource"],
        "arn:aws:ecr:us-east-1:123456789012:repository/users"
    );
}

#[test]
fn sns_publish_is_granted_on_exactly_the_envs_topics_and_only_where_it_names_one() {
    let mut env = repo_env("staging");
    env.notify = vec![crate::config::NotifyTarget::Webhook(
        "https://hooks.example.com/x".into(),
    )];
    assert!(!allowed(&policy(&env, &scope()), "sns:Publish"));
    env.notify.push(crate::config::NotifyTarget::Sns(
        "arn:aws:sns:us-east-1:123456789012:deploys".into(),
    ));
    let value = serde_json::to_value(policy(&env, &scope())).unwrap();
    let statement = value["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "SnsPublishTheNotices")
        .expect("a statement for the topics");
    assert_eq!(statement["Action"], "sns:Publish");
    assert_eq!(
        statement["Resource"],
        "arn:aws:sns:us-east-1:123456789012:deploys"
    );
}
