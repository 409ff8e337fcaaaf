//! ECR image scans: a scan's status, its findings and their severities, and the rules that
//! read them (what counts as finished, what is at or above a threshold, which are worst).

use std::collections::BTreeMap;

use serde::Serialize;

aws_words!(
    /// How bad a finding is, as ECR writes it (basic scanning's `FindingSeverity`, enhanced
    /// scanning's Inspector severities). `UNDEFINED` and `UNTRIAGED` have no rank: they are
    /// counted and shown, never at or above a threshold. An unknown word reads as `UNDEFINED`.
    Severity, unknown = Undefined, {
        Critical = "CRITICAL",
        High = "HIGH",
        Medium = "MEDIUM",
        Low = "LOW",
        Informational = "INFORMATIONAL",
        Undefined = "UNDEFINED",
        Untriaged = "UNTRIAGED",
    }
);

impl Severity {
    /// The severities a threshold (`scan.fail_on`) may name, worst first.
    pub const RANKED: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Informational,
    ];

    /// Higher is worse; `None` for the unranked ones.
    pub fn rank(self) -> Option<u8> {
        match self {
            Severity::Critical => Some(5),
            Severity::High => Some(4),
            Severity::Medium => Some(3),
            Severity::Low => Some(2),
            Severity::Informational => Some(1),
            Severity::Undefined | Severity::Untriaged => None,
        }
    }

    /// Whether a finding of this severity is at or above `threshold`.
    pub fn at_least(self, threshold: Severity) -> bool {
        matches!((self.rank(), threshold.rank()), (Some(a), Some(t)) if a >= t)
    }

    /// A ranked severity from how `opsctl.toml` writes it (as AWS does: `HIGH`).
    pub fn parse_threshold(word: &str) -> Option<Severity> {
        Severity::RANKED.into_iter().find(|s| s.as_str() == word)
    }
}

aws_words!(
    /// Where an image's scan is (`imageScanStatus.status`). An unknown word reads as
    /// `FAILED`: a scan opsctl cannot read is no clean scan.
    ScanStatus, unknown = Failed, {
        InProgress = "IN_PROGRESS",
        Pending = "PENDING",
        Complete = "COMPLETE",
        Active = "ACTIVE",
        Failed = "FAILED",
        UnsupportedImage = "UNSUPPORTED_IMAGE",
        ScanEligibilityExpired = "SCAN_ELIGIBILITY_EXPIRED",
        FindingsUnavailable = "FINDINGS_UNAVAILABLE",
        LimitExceeded = "LIMIT_EXCEEDED",
        ImageArchived = "IMAGE_ARCHIVED",
    }
);

impl ScanStatus {
    /// The scan is still to finish: wait for it.
    pub fn is_pending(self) -> bool {
        matches!(self, ScanStatus::InProgress | ScanStatus::Pending)
    }

    /// The findings are there to read: a basic scan that completed, or an enhanced
    /// (continuous) scan that is active.
    pub fn has_findings(self) -> bool {
        matches!(self, ScanStatus::Complete | ScanStatus::Active)
    }
}

/// One vulnerability a scan found in the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The vulnerability's id, usually a CVE (`CVE-2024-3094`).
    pub name: String,
    pub severity: Severity,
    /// The package it is in, with its version (`xz-utils 5.6.0`), where the scan says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// The package version that fixes it (enhanced scanning says), where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_in: Option<String>,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.name)?;
        if let Some(package) = &self.package {
            write!(f, " in {package}")?;
        }
        write!(f, " ({}", self.severity)?;
        if let Some(fixed) = &self.fixed_in {
            write!(f, ", fixed in {fixed}")?;
        }
        write!(f, ")")
    }
}

/// An image's scan (`DescribeImageScanFindings`, every page): its status and, once it has
/// them, every finding, basic and enhanced alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scan {
    pub status: ScanStatus,
    /// What ECR says about the status (why a scan failed, for one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub findings: Vec<Finding>,
}

impl Scan {
    /// How many findings there are of each severity.
    pub fn counts(&self) -> BTreeMap<Severity, usize> {
        let mut counts = BTreeMap::new();
        for f in &self.findings {
            *counts.entry(f.severity).or_insert(0) += 1;
        }
        counts
    }

    /// The findings at or above `threshold`, worst first (then by name, for a stable order).
    pub fn at_or_above(&self, threshold: Severity) -> Vec<&Finding> {
        let mut found: Vec<&Finding> = self
            .findings
            .iter()
            .filter(|f| f.severity.at_least(threshold))
            .collect();
        found.sort_by(|a, b| {
            b.severity
                .rank()
                .cmp(&a.severity.rank())
                .then_with(|| a.name.cmp(&b.name))
        });
        found
    }
}

impl PartialOrd for Severity {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Severity {
    /// Worst first: CRITICAL sorts before HIGH, the unranked last.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let key = |s: &Severity| (std::cmp::Reverse(s.rank()), s.as_str());
        key(self).cmp(&key(other))
    }
}

/// `1 CRITICAL, 2 HIGH, 3 MEDIUM`: counts, worst first.
pub fn describe_counts(counts: &BTreeMap<Severity, usize>) -> String {
    counts
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_rank_and_sort_worst_first() {
        assert!(Severity::Critical.at_least(Severity::High));
        assert!(Severity::High.at_least(Severity::High));
        assert!(!Severity::Medium.at_least(Severity::High));
        assert!(!Severity::Untriaged.at_least(Severity::Informational));
        assert_eq!(Severity::from_aws("NEW"), Severity::Undefined);
        let counts = BTreeMap::from([
            (Severity::Low, 3),
            (Severity::Untriaged, 1),
            (Severity::Critical, 1),
        ]);
        assert_eq!(describe_counts(&counts), "1 CRITICAL, 3 LOW, 1 UNTRIAGED");
        assert_eq!(Severity::parse_threshold("HIGH"), Some(Severity::High));
        assert_eq!(Severity::parse_threshold("UNTRIAGED"), None);
        assert_eq!(Severity::parse_threshold("high"), None);
    }
}
