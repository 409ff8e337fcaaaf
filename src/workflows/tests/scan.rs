//! The image-scan gate of the preflight (`scan = { fail_on = ... }`), through a deploy: what
//! it refuses and names, what it waits for, and that without `scan` no scan is read.

use std::time::Duration;

use super::kit::*;
use crate::aws::fake::FakeAws;
use crate::aws::{AwsError, Finding, Scan, ScanStatus, Severity};
use crate::config::EnvConfig;
use crate::error::Exit;
use crate::workflows::deploy::{self, DeployOutcome, DeployResult};
use crate::workflows::{Interrupt, Outcome};

fn staging(scan: &str) -> EnvConfig {
    env(&format!(
        r#"
[env.staging]
cluster = "demo"
service = "staging-users"
container = "users"
repository = "users"
timeout = "2m"
{scan}
"#
    ))
}

fn opts(version: &str, dry_run: bool) -> deploy::Options {
    crate::workflows::deploy::Options {
        dry_run,
        ..super::kit::deploy_opts(version)
    }
}

async fn run(
    fake: &FakeAws,
    env: &EnvConfig,
    o: &deploy::Options,
    rec: &Recorder,
) -> anyhow::Result<DeployOutcome> {
    let (_handle, interrupt) = Interrupt::new();
    deploy::deploy(&fake.aws(), env, "staging-users", o, rec, &interrupt).await
}

const GATE: &str = r#"scan = { fail_on = "HIGH", wait = "2m" }"#;

fn finding(name: &str, severity: Severity, package: &str) -> Finding {
    Finding {
        name: name.into(),
        severity,
        package: Some(package.into()),
        fixed_in: None,
    }
}

fn complete(findings: Vec<Finding>) -> Scan {
    Scan {
        status: ScanStatus::Complete,
        description: None,
        findings,
    }
}

/// The scan check's JSON, as `--output json` has it.
fn scan_check(out: &DeployOutcome) -> serde_json::Value {
    let json = serde_json::to_value(out).unwrap();
    json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "scan")
        .unwrap_or_else(|| panic!("no scan check in {json:#}"))
        .clone()
}

#[tokio::test(start_paused = true)]
async fn a_clean_scan_passes_and_the_deploy_goes_on() {
    let fake = FakeAws::staging();
    let rec = Recorder::default();
    let out = run(&fake, &staging(GATE), &opts("v1.2.0", false), &rec)
        .await
        .unwrap();
    assert_eq!(out.result, DeployResult::Deployed, "{out}");
    assert_eq!(fake.count("ecr:DescribeImageScanFindings"), 1);
    let check = scan_check(&out);
    assert_eq!(check["ok"], true);
    assert_eq!(
        check["detail"],
        "users:v1.2.0 scanned (COMPLETE): no findings"
    );
    assert_eq!(check["scan"]["at_or_above"], 0);
}

#[tokio::test(start_paused = true)]
async fn a_high_finding_is_refused_naming_it_and_nothing_changes() {
    let fake = FakeAws::staging();
    fake.set_scan(
        "v1.2.0",
        Some(complete(vec![
            finding("CVE-2024-0002", Severity::Medium, "zlib 1.2.11"),
            finding("CVE-2024-0001", Severity::High, "openssl 3.0.1"),
            finding("CVE-2024-3094", Severity::Critical, "xz-utils 5.6.0"),
            finding("CVE-2024-0003", Severity::Low, "bash 5.1"),
        ])),
    );
    let rec = Recorder::default();
    let out = run(&fake, &staging(GATE), &opts("v1.2.0", false), &rec)
        .await
        .unwrap();
    assert_eq!(out.result, DeployResult::PreflightFailed, "{out}");
    assert_eq!(out.exit(), Exit::BadInput);
    assert!(
        fake.mutating_calls().is_empty(),
        "{:?}",
        fake.mutating_calls()
    );
    let text = out.to_string();
    assert!(
        text.contains(
            "users:v1.2.0 has 2 finding(s) HIGH or worse (scan.fail_on = \"HIGH\"); \
             found 1 CRITICAL, 1 HIGH, 1 MEDIUM, 1 LOW; worst: CVE-2024-3094 in xz-utils 5.6.0 \
             (CRITICAL), CVE-2024-0001 in openssl 3.0.1 (HIGH)"
        ),
        "{text}"
    );
    assert!(
        text.contains("rebuild the image on a patched base image"),
        "{text}"
    );
    let check = scan_check(&out);
    assert_eq!(check["ok"], false);
    assert_eq!(check["scan"]["fail_on"], "HIGH");
    assert_eq!(check["scan"]["at_or_above"], 2);
    assert_eq!(
        check["scan"]["counts"],
        serde_json::json!({ "CRITICAL": 1, "HIGH": 1, "MEDIUM": 1, "LOW": 1 })
    );
    assert_eq!(check["scan"]["worst"][0]["name"], "CVE-2024-3094");
    assert_eq!(check["scan"]["worst"][0]["package"], "xz-utils 5.6.0");
    assert_eq!(check["scan"]["worst"][1]["severity"], "HIGH");
}

#[tokio::test(start_paused = true)]
async fn the_plan_is_refused_alike() {
    let fake = FakeAws::staging();
    fake.set_scan(
        "v1.2.0",
        Some(complete(vec![finding(
            "CVE-2024-0001",
            Severity::High,
            "openssl 3.0.1",
        )])),
    );
    let rec = Recorder::default();
    let out = run(&fake, &staging(GATE), &opts("v1.2.0", true), &rec)
        .await
        .unwrap();
    assert_eq!(out.result, DeployResult::PreflightFailed, "{out}");
    assert!(out.plan.is_none(), "{out}");
}

#[tokio::test(start_paused = true)]
async fn a_medium_finding_passes_a_high_gate() {
    let fake = FakeAws::staging();
    fake.set_scan(
        "v1.2.0",
        Some(complete(vec![
            finding("CVE-2024-0002", Severity::Medium, "zlib 1.2.11"),
            finding("CVE-2024-0004", Severity::Untriaged, "curl 8.0"),
        ])),
    );
    let rec = Recorder::default();
    let out = run(&fake, &staging(GATE), &opts("v1.2.0", false), &rec)
        .await
        .unwrap();
    assert_eq!(out.result, DeployResult::Deployed, "{out}");
    assert_eq!(
        scan_check(&out)["detail"],
        "users:v1.2.0 scanned (COMPLETE): 1 MEDIUM, 1 UNTRIAGED; none HIGH or worse"
    );
    // The same finding refuses a MEDIUM gate.
    let fake = FakeAws::staging();
    fake.set_scan(
        "v1.2.0",
        Some(complete(vec![finding(
            "CVE-2024-0002",
            Severity::Medium,
            "zlib 1.2.11",
        )])),
    );
    let out = run(
        &fake,
        &staging(r#"scan = { fail_on = "MEDIUM" }"#),
        &opts("v1.2.0", false),
        &rec,
    )
    .await
    .unwrap();
    assert_eq!(out.result, DeployResult::PreflightFailed, "{out}");
}

#[tokio::test(start_paused = true)]
async fn enhanced_findings_are_counted_with_their_fix() {
    let fake = FakeAws::staging();
    // Enhanced scanning (Inspector) reports ACTIVE, and says which version fixes a package.
    fake.set_scan(
        "v1.2.0",
        Some(Scan {
            status: ScanStatus::Active,
            description: None,
            findings: vec![Finding {
                fixed_in: Some("2.35-0ubuntu3.4".into()),
                ..finding("CVE-2023-4911", Severity::Critical, "glibc 2.35")
            }],
        }),
    );
    let rec = Recorder::default();
    let out = run(&fake, &staging(GATE), &opts("v1.2.0", false), &rec)
        .await
        .unwrap();
    assert_eq!(out.result, DeployResult::PreflightFailed, "{out}");
    assert!(
        out.to_string()
            .contains("CVE-2023-4911 in glibc 2.35 (CRITICAL, fixed in 2.35-0ubuntu3.4)"),
        "{out}"
    );
    assert_eq!(scan_check(&out)["scan"]["status"], "ACTIVE");
    assert_eq!(scan_check(&out)["scan"]["counts"]["CRITICAL"], 1);
}

#[tokio::test(start_paused = true)]
async fn a_scan_in_progress_is_waited_for_with_progress() {
    let fake = FakeAws::staging();
    fake.scan_in_progress("v1.2.0", Duration::from_secs(20), complete(Vec::new()));
    let rec = Recorder::default();
    let out = run(&fake, &staging(GATE), &opts("v1.2.0", false), &rec)
        .await
        .unwrap();
    assert_eq!(out.result, DeployResult::Deployed, "{out}");
    assert!(scan_check(&out)["ok"] == true, "{out}");
    let polls = fake.count("ecr:DescribeImageScanFindings");
    assert!(
        (6..=12).contains(&polls),
        "about one read every 3s: {polls}"
    );
    let countdowns = rec.countdowns();
    assert_eq!(
        countdowns[0],
        (
            "the ECR scan of users:v1.2.0".to_owned(),
            120,
            Some("IN_PROGRESS".to_owned())
        )
    );
    let events = rec.events.lock().unwrap();
    assert!(events.iter().any(|e| matches!(
        e,
        crate::workflows::Event::WaitStart { what, timeout_secs: 120 }
            if what == "the ECR scan of users:v1.2.0"
    )));
    assert!(events.contains(&crate::workflows::Event::WaitEnd));
}

#[tokio::test(start_paused = true)]
async fn a_scan_still_in_progress_at_the_bound_fails_naming_state_and_bound() {
    let fake = FakeAws::staging();
    fake.scan_in_progress("v1.2.0", Duration::from_secs(600), complete(Vec::new()));
    let rec = Recorder::default();
    let started = tokio::time::Instant::now();
    let out = run(
        &fake,
        &staging(r#"scan = { fail_on = "HIGH", wait = "30s" }"#),
        &opts("v1.2.0", false),
        &rec,
    )
    .await
    .unwrap();
    assert_eq!(out.result, DeployResult::PreflightFailed, "{out}");
    assert!(started.elapsed() <= Duration::from_secs(31));
    assert!(fake.mutating_calls().is_empty());
    let text = out.to_string();
    assert!(
        text.contains("the ECR scan of users:v1.2.0 is still IN_PROGRESS after 30s (scan.wait)"),
        "{text}"
    );
    assert!(text.contains("raise scan.wait in [env.staging]"), "{text}");
    assert_eq!(scan_check(&out)["ok"], false);
}

#[tokio::test(start_paused = true)]
async fn an_image_without_a_scan_is_reported_as_such() {
    for (scan, says) in [
        (None, "users:v1.2.0 has never been scanned"),
        (
            Some(Scan {
                status: ScanStatus::Failed,
                description: Some("the scan failed".into()),
                findings: Vec::new(),
            }),
            "users:v1.2.0 has no usable scan: ECR says FAILED (the scan failed)",
        ),
        (
            Some(Scan {
                status: ScanStatus::UnsupportedImage,
                description: None,
                findings: Vec::new(),
            }),
            "users:v1.2.0 has no usable scan: ECR says UNSUPPORTED_IMAGE",
        ),
    ] {
        let fake = FakeAws::staging();
        let unsupported = scan
            .as_ref()
            .is_some_and(|s| s.status == ScanStatus::UnsupportedImage);
        fake.set_scan("v1.2.0", scan);
        let rec = Recorder::default();
        let out = run(&fake, &staging(GATE), &opts("v1.2.0", false), &rec)
            .await
            .unwrap();
        assert_eq!(out.result, DeployResult::PreflightFailed, "{out}");
        assert!(fake.mutating_calls().is_empty());
        let text = out.to_string();
        assert!(text.contains(says), "{text}");
        let fix = if unsupported {
            "build it on a base image ECR scanning supports"
        } else {
            "aws ecr start-image-scan --repository-name users --image-id imageTag=v1.2.0"
        };
        assert!(text.contains(fix), "{text}");
        assert_eq!(scan_check(&out)["ok"], false);
    }
}

#[tokio::test(start_paused = true)]
async fn a_failing_scan_call_is_named_and_nothing_changes() {
    let fake = FakeAws::staging();
    fake.fail(
        "ecr:DescribeImageScanFindings",
        0,
        u32::MAX,
        AwsError::AccessDenied(
            "DescribeImageScanFindings: AccessDeniedException: not authorized".into(),
        ),
    );
    let rec = Recorder::default();
    let err = run(&fake, &staging(GATE), &opts("v1.2.0", false), &rec)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("DescribeImageScanFindings"),
        "{err}"
    );
    assert!(matches!(
        err.downcast_ref::<AwsError>(),
        Some(AwsError::AccessDenied(_))
    ));
    assert!(fake.mutating_calls().is_empty());
    // A passing failure is tried again, and the gate still judges the scan.
    let fake = FakeAws::staging();
    fake.fail(
        "ecr:DescribeImageScanFindings",
        0,
        1,
        AwsError::Throttled("DescribeImageScanFindings: ThrottlingException".into()),
    );
    let out = run(&fake, &staging(GATE), &opts("v1.2.0", false), &rec)
        .await
        .unwrap();
    assert_eq!(out.result, DeployResult::Deployed, "{out}");
    assert_eq!(fake.count("ecr:DescribeImageScanFindings"), 2);
}

#[tokio::test(start_paused = true)]
async fn without_scan_no_scan_is_read() {
    let fake = FakeAws::staging();
    // Even an image with findings deploys: the env does not gate on scans.
    fake.set_scan(
        "v1.2.0",
        Some(complete(vec![finding(
            "CVE-2024-3094",
            Severity::Critical,
            "xz-utils 5.6.0",
        )])),
    );
    let rec = Recorder::default();
    let out = run(&fake, &staging(""), &opts("v1.2.0", false), &rec)
        .await
        .unwrap();
    assert_eq!(out.result, DeployResult::Deployed, "{out}");
    assert_eq!(fake.count("ecr:DescribeImageScanFindings"), 0);
    assert!(out.checks.iter().all(|c| c.name != "scan"));
}
