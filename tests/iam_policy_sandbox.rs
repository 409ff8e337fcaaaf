//! `opsctl iam-policy` with the real binary: read from a seeded sandbox account, and from
//! the config alone with `--account`.

mod support;

use serde_json::Value;
use support::Account;

#[tokio::test]
async fn iam_policy_is_read_from_the_environment() {
    let account = Account::seed();
    let run = account.opsctl(&["iam-policy", "prod"]);
    run.expect_code(0);
    let policy = run.json();
    assert_eq!(policy["Version"], "2012-10-17");
    assert!(policy.get("ok").is_none(), "a bare policy document");
    let text = policy.to_string();
    let id = &account.id;
    for arn in [
        format!("arn:aws:ecs:us-east-1:{id}:service/demo/prod-users-blue"),
        format!("arn:aws:ecs:us-east-1:{id}:task-definition/prod-users:*"),
        format!("arn:aws:iam::{id}:role/prod-users-task"),
        format!("arn:aws:iam::{id}:role/prod-users-execution"),
        format!("arn:aws:ecr:us-east-1:{id}:repository/users"),
        format!("arn:aws:secretsmanager:us-east-1:{id}:secret:"),
    ] {
        assert!(text.contains(&arn), "{arn} missing from {policy:#}");
    }
    // --output json: the same document in the envelope every command's JSON has, with what
    // it was scoped from.
    let json = account.opsctl(&["--output", "json", "iam-policy", "prod"]);
    json.expect_code(0);
    let out = json.json();
    assert_eq!(out["ok"], true);
    assert_eq!(out["exit_code"], 0);
    assert_eq!(out["env"], "prod");
    assert_eq!(out["scoped_from"], "services");
    assert_eq!(out["scope"]["account"], id.as_str());
    assert_eq!(out["policy"], policy);
}

#[test]
fn iam_policy_with_account_needs_no_aws() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_opsctl"))
        .args(["--config"])
        .arg(support::repo_root().join("opsctl.toml"))
        .args(["iam-policy", "staging", "--account", "123456789012"])
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let policy: Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = policy.to_string();
    assert!(text.contains("arn:aws:ecs:us-east-1:123456789012:service/demo/staging-users"));
    assert!(text.contains("arn:aws:ecs:us-east-1:123456789012:task-definition/*"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no AWS call made"), "{stderr}");
}
