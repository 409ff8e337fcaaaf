//! The image-scan gate over the wire: `check` and `deploy` of the real binary against the
//! sandbox's ECR scans (findings, a scan in progress, no scan), with `scan` set in the env.

mod support;

use std::path::PathBuf;

use serde_json::json;
use support::{Account, Run};

/// The repository's opsctl.toml with `scan` (as given) in `[env.staging]`.
fn config_with_scan(scan: &str) -> PathBuf {
    let text = support::repo_config();
    let anchor = "database = { instance = \"users-db\" }\n";
    assert!(text.contains(anchor), "the staging table has moved");
    let text = text.replacen(anchor, &format!("{anchor}{scan}\n"), 1);
    let path = std::env::temp_dir().join(format!(
        "opsctl-scan-{}-{}.toml",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::write(&path, text).unwrap();
    path
}

const GATE: &str = r#"scan = { fail_on = "HIGH", wait = "1m" }"#;

fn said(run: &Run) -> String {
    format!("{}{}", run.stdout, run.stderr)
}

fn scan_check(run: &Run, key: &str) -> serde_json::Value {
    let json = run.json();
    json[key]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "scan")
        .unwrap_or_else(|| panic!("no scan check in {json:#}"))
        .clone()
}

fn nothing_changed(account: &Account) {
    let changed: Vec<_> = account
        .requests()
        .into_iter()
        .filter(|r| r.changed())
        .collect();
    assert!(changed.is_empty(), "{changed:?}");
}

fn high_and_critical() -> serde_json::Value {
    json!({
        "findings": [
            { "name": "CVE-2024-6387", "severity": "HIGH", "package": "openssh-server", "version": "1:9.6p1-3" },
            { "name": "CVE-2024-2961", "severity": "MEDIUM", "package": "glibc", "version": "2.36" },
        ],
        "enhanced_findings": [],
    })
}

#[tokio::test]
async fn check_passes_a_clean_scan_and_refuses_high_findings_naming_them() {
    let account = Account::seed();
    let config = config_with_scan(GATE);
    let clean = account.opsctl_with_config(&config, &["check", "staging", "--version", "v1.2.0"]);
    clean.expect_code(0);
    assert!(
        said(&clean).contains("users:v1.2.0 scanned (COMPLETE): no findings"),
        "{}",
        said(&clean)
    );

    account.set_scan("v1.3.0", high_and_critical());
    let refused = account.opsctl_with_config(&config, &["check", "staging", "--version", "v1.3.0"]);
    refused.expect_code(2);
    let text = said(&refused);
    assert!(
        text.contains(
            "users:v1.3.0 has 1 finding(s) HIGH or worse (scan.fail_on = \"HIGH\"); found 1 HIGH, \
             1 MEDIUM; worst: CVE-2024-6387 in openssh-server 1:9.6p1-3 (HIGH)"
        ),
        "{text}"
    );
    assert!(
        text.contains("fix: rebuild the image on a patched base image"),
        "{text}"
    );
    let json = account.opsctl_with_config(
        &config,
        &[
            "--output",
            "json",
            "check",
            "staging",
            "--version",
            "v1.3.0",
        ],
    );
    json.expect_code(2);
    let check = scan_check(&json, "checks");
    assert_eq!(check["ok"], false);
    assert_eq!(check["scan"]["counts"], json!({ "HIGH": 1, "MEDIUM": 1 }));
    assert_eq!(check["scan"]["worst"][0]["name"], "CVE-2024-6387");
    assert_eq!(
        check["scan"]["worst"][0]["package"],
        "openssh-server 1:9.6p1-3"
    );
    nothing_changed(&account);
}

#[tokio::test]
async fn enhanced_findings_refuse_a_deploy_and_nothing_changes() {
    let account = Account::seed();
    let config = config_with_scan(GATE);
    account.set_scan(
        "v1.3.0",
        json!({ "enhanced_findings": [
            { "name": "CVE-2023-4911", "severity": "CRITICAL", "package": "glibc",
              "version": "2.35", "fixed_in": "2.35-0ubuntu3.4" },
        ]}),
    );
    let before = account.service_state("staging-users").await;
    let run = account.opsctl_with_config(
        &config,
        &[
            "--output",
            "json",
            "deploy",
            "staging",
            "--version",
            "v1.3.0",
            "--yes",
        ],
    );
    run.expect_code(2);
    let check = scan_check(&run, "checks");
    assert_eq!(check["scan"]["status"], "ACTIVE");
    assert!(
        check["detail"]
            .as_str()
            .unwrap()
            .contains("CVE-2023-4911 in glibc 2.35 (CRITICAL, fixed in 2.35-0ubuntu3.4)"),
        "{check:#}"
    );
    assert_eq!(account.service_state("staging-users").await, before);
    nothing_changed(&account);
}

#[tokio::test]
async fn a_deploy_waits_for_a_scan_in_progress_then_deploys() {
    let account = Account::seed();
    let config = config_with_scan(GATE);
    account.set_scan("v1.2.0", json!({ "state": "in_progress", "seconds": 2.0 }));
    let run = account.opsctl_with_config(
        &config,
        &["deploy", "staging", "--version", "v1.2.0", "--yes"],
    );
    run.expect_code(0);
    let text = said(&run);
    assert!(
        text.contains("the ECR scan of users:v1.2.0: 1m left (IN_PROGRESS)")
            || text.contains("the ECR scan of users:v1.2.0: 59s left (IN_PROGRESS)"),
        "{text}"
    );
    assert!(
        text.contains("users:v1.2.0 scanned (COMPLETE): no findings"),
        "{text}"
    );
    assert_eq!(
        account.service_state("staging-users").await,
        "staging-users v1.2.0 x2 settled"
    );
}

#[tokio::test]
async fn a_scan_still_in_progress_at_the_bound_fails_the_check() {
    let account = Account::seed();
    let config = config_with_scan(r#"scan = { fail_on = "HIGH", wait = "2s" }"#);
    account.set_scan(
        "v1.2.0",
        json!({ "state": "in_progress", "seconds": 120.0 }),
    );
    let started = std::time::Instant::now();
    let run = account.opsctl_with_config(&config, &["check", "staging", "--version", "v1.2.0"]);
    run.expect_code(2);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let text = said(&run);
    assert!(
        text.contains("the ECR scan of users:v1.2.0 is still IN_PROGRESS after 2s (scan.wait)"),
        "{text}"
    );
    assert!(text.contains("raise scan.wait in [env.staging]"), "{text}");
}

#[tokio::test]
async fn an_image_without_a_scan_is_refused_with_the_fix() {
    let account = Account::seed();
    let config = config_with_scan(GATE);
    account.set_scan("v1.2.0", json!({ "state": "none" }));
    let run = account.opsctl_with_config(
        &config,
        &["deploy", "staging", "--version", "v1.2.0", "--yes"],
    );
    run.expect_code(2);
    let text = said(&run);
    assert!(
        text.contains("users:v1.2.0 has never been scanned"),
        "{text}"
    );
    assert!(
        text.contains(
            "aws ecr start-image-scan --repository-name users --image-id imageTag=v1.2.0"
        ),
        "{text}"
    );
    nothing_changed(&account);

    account.set_scan("v1.2.0", json!({ "state": "unsupported" }));
    let run = account.opsctl_with_config(&config, &["check", "staging", "--version", "v1.2.0"]);
    run.expect_code(2);
    assert!(
        said(&run).contains("users:v1.2.0 has no usable scan: ECR says UNSUPPORTED_IMAGE"),
        "{}",
        said(&run)
    );
}

#[tokio::test]
async fn without_scan_no_scan_is_read() {
    let account = Account::seed();
    account.set_scan("v1.3.0", high_and_critical());
    let run = account.opsctl(&["check", "staging", "--version", "v1.3.0"]);
    run.expect_code(0);
    let scans = account
        .requests()
        .iter()
        .filter(|r| r.action == "ecr:DescribeImageScanFindings")
        .count();
    assert_eq!(scans, 0);
}
