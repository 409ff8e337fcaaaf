//! Whose credentials opsctl uses, and whom it records, with the real binary on the sandbox:
//! `--profile` is checked and wins over `AWS_*` keys; without a user named, the deploy is
//! recorded as the AWS caller.

mod support;

use std::path::Path;

use support::{Account, repo_root};

/// `AWS_CONFIG_FILE` and `AWS_SHARED_CREDENTIALS_FILE` in `dir`: a `sandbox` profile holding
/// the account's keys.
fn profile_files(dir: &Path, account: &Account) -> (String, String) {
    let config = dir.join("config");
    let credentials = dir.join("credentials");
    std::fs::write(&config, "[profile sandbox]\nregion = us-east-1\n").unwrap();
    std::fs::write(
        &credentials,
        format!(
            "[sandbox]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            account.access_key_id, account.secret_access_key
        ),
    )
    .unwrap();
    (
        config.display().to_string(),
        credentials.display().to_string(),
    )
}

#[test]
fn a_profile_that_is_not_defined_is_refused_before_any_call() {
    let account = Account::seed();
    let dir = tempfile::tempdir().unwrap();
    let (config, credentials) = profile_files(dir.path(), &account);
    account.clear_requests();
    let run = account.opsctl_with_env(
        &repo_root().join("opsctl.toml"),
        &[
            "--profile",
            "nope",
            "deploy",
            "staging",
            "--version",
            "v1.2.0",
        ],
        &[
            ("AWS_CONFIG_FILE", &config),
            ("AWS_SHARED_CREDENTIALS_FILE", &credentials),
        ],
    );
    run.expect_code(2);
    assert!(
        run.stderr.contains("--profile nope: no such profile"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(&config), "{}", run.stderr);
    assert!(run.stderr.contains("they define sandbox"), "{}", run.stderr);
    assert!(
        run.stderr.contains("aws configure --profile nope"),
        "{}",
        run.stderr
    );
    assert!(account.requests().is_empty(), "{:?}", account.requests());
}

#[test]
fn the_profile_named_beats_the_keys_in_the_environment() {
    let account = Account::seed();
    let dir = tempfile::tempdir().unwrap();
    let (config, credentials) = profile_files(dir.path(), &account);
    let files = [
        ("AWS_CONFIG_FILE", config.as_str()),
        ("AWS_SHARED_CREDENTIALS_FILE", credentials.as_str()),
        // A key no user owns: the sandbox's default account, which has no cluster.
        ("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNUNKNOWN00"),
        ("AWS_SECRET_ACCESS_KEY", "x"),
    ];
    let opsctl_toml = repo_root().join("opsctl.toml");
    let with_keys = account.opsctl_with_env(&opsctl_toml, &["status", "staging"], &files);
    assert_ne!(with_keys.code, 0, "the keys alone reach another account");
    let with_profile = account.opsctl_with_env(
        &opsctl_toml,
        &["--profile", "sandbox", "status", "staging"],
        &files,
    );
    with_profile.expect_code(0);
    assert!(
        with_profile.stdout.contains("staging-users"),
        "{}",
        with_profile.stdout
    );
}

#[test]
fn without_a_user_named_the_deploy_is_recorded_as_the_aws_caller() {
    let account = Account::seed();
    let opsctl_toml = repo_root().join("opsctl.toml");
    // Empty counts as unset.
    let nobody = [("USER", ""), ("USERNAME", ""), ("GITHUB_ACTOR", "")];
    account
        .opsctl_with_env(
            &opsctl_toml,
            &["deploy", "staging", "--version", "v1.2.0"],
            &nobody,
        )
        .expect_code(0);
    let history = account.opsctl(&["--output", "json", "history", "staging"]);
    history.expect_code(0);
    let newest = &history.json()["entries"][0];
    let by = newest["deployed_by"].as_str().unwrap();
    assert!(
        by.starts_with("user/") && by.ends_with(&format!("(AWS {})", account.id)),
        "{newest}"
    );
    assert!(
        account
            .requests()
            .iter()
            .any(|r| r.action == "sts:GetCallerIdentity"),
        "asked STS who the caller is"
    );
}
