//! The image-scan gate (`scan = { fail_on = "HIGH" }`): the version's ECR scan must have
//! finished, within `scan.wait`, with no finding at `fail_on` or worse.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::aws::{Aws, Finding, Image, Scan, ScanStatus, Severity, describe_counts};
use crate::config::{EnvConfig, ScanGate};
use crate::workflows::pace::{Pacer, Shown, Stop};
use crate::workflows::{Check, Reporter};

/// About one read a few seconds while a scan is in progress (scans take tens of seconds to
/// minutes), slower under throttling.
const POLL: Duration = Duration::from_secs(3);
const MAX_POLL: Duration = Duration::from_secs(30);

/// How many of the worst findings a refusal names.
const WORST: usize = 5;

/// What the scan found, for `--output json` (the `scan` check's `scan`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanSummary {
    /// `repository:tag`
    pub image: String,
    pub digest: String,
    pub status: ScanStatus,
    pub fail_on: Severity,
    /// Findings per severity, worst first.
    pub counts: BTreeMap<Severity, usize>,
    /// How many findings are at `fail_on` or worse.
    pub at_or_above: usize,
    /// The worst of those (at most five), worst first.
    pub worst: Vec<Finding>,
}

/// Reads the scan of the version's image, waiting while it is in progress, and judges it.
/// A call that keeps failing ends the preflight with its error (which names the call).
pub async fn check(
    aws: &Aws,
    req: &super::Request<'_>,
    gate: &ScanGate,
    repository: &str,
    version: &str,
    image: &Image,
    reporter: &dyn Reporter,
) -> anyhow::Result<Check> {
    let env = req.env;
    let name = format!("{repository}:{version}");
    let wait = gate.wait.0;
    let mut pacer = Pacer::new(wait, POLL, MAX_POLL, req.interrupt);
    let mut shown = None;
    let mut last = None;
    loop {
        match aws.registry.scan(repository, &image.digest).await {
            Ok(None) => {
                return Ok(no_scan(
                    &name,
                    repository,
                    version,
                    "has never been scanned",
                ));
            }
            Ok(Some(scan)) if scan.status.is_pending() => {
                pacer.answered();
                let what = format!("the ECR scan of {name}");
                shown.get_or_insert_with(|| Shown::start(reporter, what.clone(), wait));
                pacer.count_down(&what, Some(scan.status.to_string()), reporter);
                last = Some(scan.status);
            }
            Ok(Some(scan)) if scan.status.has_findings() => {
                return Ok(judge(env, gate, &name, repository, version, image, &scan));
            }
            Ok(Some(scan)) => return Ok(unusable(&name, repository, version, &scan)),
            Err(e) => pacer.failed("DescribeImageScanFindings", e, reporter)?,
        }
        match pacer.nap().await {
            None => {}
            Some(Stop::TimedOut) => {
                let state = last.map_or("not finished".to_owned(), |s| s.to_string());
                return Ok(Check::fail(
                    "scan",
                    format!(
                        "the ECR scan of {name} is still {state} after {} (scan.wait)",
                        humantime::format_duration(wait)
                    ),
                    format!(
                        "run it again once the scan has finished \
                         (aws ecr describe-image-scan-findings --repository-name {repository} \
                         --image-id imageTag={version}), or raise scan.wait in [env.{}]",
                        env.name
                    ),
                ));
            }
            Some(Stop::Interrupted) => {
                return Err(crate::error::Interrupted(format!(
                    "interrupted while waiting for the ECR scan of {name}; nothing changed in {}",
                    env.name
                ))
                .into());
            }
        }
    }
}

/// A finished scan against the threshold.
fn judge(
    env: &EnvConfig,
    gate: &ScanGate,
    name: &str,
    repository: &str,
    version: &str,
    image: &Image,
    scan: &Scan,
) -> Check {
    let counts = scan.counts();
    let blocking = scan.at_or_above(gate.fail_on);
    let fail_on = gate.fail_on;
    let summary = ScanSummary {
        image: name.to_owned(),
        digest: image.digest.clone(),
        status: scan.status,
        fail_on,
        counts: counts.clone(),
        at_or_above: blocking.len(),
        worst: blocking.iter().take(WORST).map(|f| (*f).clone()).collect(),
    };
    let worse = if fail_on == Severity::Critical {
        "CRITICAL".to_owned()
    } else {
        format!("{fail_on} or worse")
    };
    let check = if blocking.is_empty() {
        let found = if counts.is_empty() {
            "no findings".to_owned()
        } else {
            format!("{}; none {worse}", describe_counts(&counts))
        };
        Check::pass("scan", format!("{name} scanned ({}): {found}", scan.status))
    } else {
        let mut named: Vec<String> = blocking.iter().take(WORST).map(|f| f.to_string()).collect();
        if blocking.len() > WORST {
            named.push(format!("and {} more", blocking.len() - WORST));
        }
        Check::fail(
            "scan",
            format!(
                "{name} has {} finding(s) {worse} (scan.fail_on = \"{fail_on}\"); found {}; worst: {}",
                blocking.len(),
                describe_counts(&counts),
                named.join(", ")
            ),
            format!(
                "rebuild the image on a patched base image (or upgrade the packages named), push \
                 it as a new version and deploy that; every finding: aws ecr \
                 describe-image-scan-findings --repository-name {repository} --image-id \
                 imageTag={version}. A risk accepted for env.{} is changed in opsctl.toml \
                 (scan.fail_on), where review sees it",
                env.name
            ),
        )
    };
    Check {
        scan: Some(summary),
        ..check
    }
}

/// No scan to judge: the image was never scanned.
fn no_scan(name: &str, repository: &str, version: &str, why: &str) -> Check {
    Check::fail(
        "scan",
        format!("{name} {why}: nothing says it is free of the findings scan.fail_on refuses"),
        format!(
            "scan it (aws ecr start-image-scan --repository-name {repository} --image-id \
             imageTag={version}) and run this again; turn on scan on push so that every version \
             is scanned (aws ecr put-image-scanning-configuration --repository-name {repository} \
             --image-scanning-configuration scanOnPush=true)"
        ),
    )
}

/// A scan that ended without findings to read (FAILED, UNSUPPORTED_IMAGE, ...).
fn unusable(name: &str, repository: &str, version: &str, scan: &Scan) -> Check {
    let why = match &scan.description {
        Some(d) => format!("has no usable scan: ECR says {} ({d})", scan.status),
        None => format!("has no usable scan: ECR says {}", scan.status),
    };
    if scan.status == ScanStatus::UnsupportedImage {
        return Check::fail(
            "scan",
            format!("{name} {why}"),
            "ECR cannot scan this image's operating system or format: build it on a base image \
             ECR scanning supports, push it as a new version and deploy that",
        );
    }
    no_scan(name, repository, version, &why)
}
