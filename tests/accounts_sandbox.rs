//! Environments in another account: opsctl assumes the env's `role_arn` (with its
//! `external_id`), acts there, and says so; a role it cannot assume is bad input before any
//! change. Two seeded accounts of the sandbox: the caller's (CI) and production's.

mod support;

use std::path::PathBuf;

use support::Account;

/// A config whose `staging` lives in another account, reached through `role_arn`.
fn config(dir: &tempfile::TempDir, role_arn: &str, external_id: Option<&str>) -> PathBuf {
    let path = dir.path().join("opsctl.toml");
    let external = external_id
        .map(|id| format!("external_id = \"{id}\"\n"))
        .unwrap_or_default();
    std::fs::write(
        &path,
        format!(
            "[env.staging]\nregion = \"us-east-1\"\ncluster = \"demo\"\nservice = \"staging-users\"\n\
             container = \"users\"\nrepository = \"users\"\nrole_arn = \"{role_arn}\"\n{external}"
        ),
    )
    .unwrap();
    path
}

#[tokio::test]
async fn a_deploy_acts_in_the_roles_account_named_after_the_deployer() {
    let ci = Account::seed();
    let prod = Account::seed();
    let role = prod.role_for(&ci, "deployer", None);
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir, &role, None);
    ci.clear_requests();
    prod.clear_requests();
    let run = ci.opsctl_with_env(
        &config,
        &[
            "--output",
            "json",
            "deploy",
            "staging",
            "--version",
            "v1.2.0",
        ],
        &[
            ("USER", "alice"),
            ("HOSTNAME", "laptop"),
            ("GITHUB_ACTOR", ""),
        ],
    );
    run.expect_code(0);
    let json = run.json();
    assert_eq!(json["acting_as"]["account"], prod.id.as_str(), "{json}");
    assert_eq!(json["acting_as"]["role_arn"], role.as_str());
    assert_eq!(json["acting_as"]["session"], "alice@laptop");
    assert!(
        run.stderr.contains(&format!(
            "acting as role/deployer in AWS account {} (session alice@laptop)",
            prod.id
        )),
        "{}",
        run.stderr
    );
    // The change landed in production's account, and only there.
    assert!(prod.changes().contains(&"ecs:UpdateService".to_owned()));
    assert!(ci.changes().is_empty(), "{:?}", ci.changes());
    let assumed: Vec<String> = ci
        .requests()
        .into_iter()
        .map(|r| r.action)
        .filter(|a| a == "sts:AssumeRole")
        .collect();
    assert_eq!(assumed.len(), 1, "one AssumeRole for the whole deploy");
    let prod_runs = prod.service_task_definition("staging-users").await;
    assert!(prod_runs.ends_with("staging-users:3"), "{prod_runs}");
    let ci_runs = ci.service_task_definition("staging-users").await;
    assert!(ci_runs.ends_with("staging-users:2"), "{ci_runs}");
}

#[test]
fn a_role_that_cannot_be_assumed_is_refused_before_any_call_naming_role_and_caller() {
    let ci = Account::seed();
    let prod = Account::seed();
    let stranger = Account::seed();
    let role = prod.role_for(&ci, "deployer", Some("s3cret"));
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("arn:aws:iam::{}:role/nope", prod.id);
    let cases = [
        ("no such role", &ci, missing.as_str(), None),
        (
            "a caller the role does not trust",
            &stranger,
            role.as_str(),
            Some("s3cret"),
        ),
        ("the wrong external id", &ci, role.as_str(), Some("guess")),
        ("no external id", &ci, role.as_str(), None),
    ];
    for (what, caller, role_arn, external_id) in cases {
        let config = config(&dir, role_arn, external_id);
        prod.clear_requests();
        let run = caller.opsctl_with_config(&config, &["deploy", "staging", "--version", "v1.2.0"]);
        assert_eq!(run.code, 2, "{what}: {}", run.stderr);
        // The role, the caller, what STS said, and the fix.
        let caller_arn = format!("as arn:aws:iam::{}:user/", caller.id);
        for said in [
            "cannot assume arn:aws:iam::",
            caller_arn.as_str(),
            "AccessDenied",
            "trust policy",
        ] {
            assert!(run.stderr.contains(said), "{what}: {said}: {}", run.stderr);
        }
        assert!(
            prod.requests().is_empty(),
            "{what}: nothing reached production"
        );
    }
    // With the external id the trust policy asks for, it works.
    let run = ci.opsctl_with_config(&config(&dir, &role, Some("s3cret")), &["status", "staging"]);
    run.expect_code(0);
    assert!(run.stderr.contains(&prod.id), "{}", run.stderr);
}
