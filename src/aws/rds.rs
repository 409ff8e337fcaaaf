//! RDS and Application Auto Scaling as workflows see them: instances, snapshots, the
//! settings a restore copies, and scaling bounds.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

/// An RDS DB instance: its state, and every setting a restore copies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DbInstance {
    pub id: String,
    pub arn: String,
    /// `available`, `creating`, `backing-up`, `modifying`, `failed`, ...
    pub status: String,
    /// The instance class, e.g. `db.t3.micro`.
    pub class: String,
    pub engine: String,
    pub engine_version: String,
    pub subnet_group: Option<String>,
    /// VPC security group ids.
    pub security_groups: Vec<String>,
    pub parameter_group: Option<String>,
    pub multi_az: bool,
    /// `gp2`, `gp3`, `io1`, ...
    pub storage_type: Option<String>,
    pub allocated_gb: i32,
    /// Provisioned IOPS, where AWS reports them.
    pub iops: Option<i32>,
    pub port: Option<i32>,
    pub deletion_protection: bool,
    /// `None` when AWS does not say.
    pub publicly_accessible: Option<bool>,
    pub backup_retention_days: i32,
    pub tags: BTreeMap<String, String>,
    /// The endpoint's address, once AWS has one.
    pub endpoint: Option<String>,
    /// The point-in-time restore window; `None` where AWS has none (no automated backups)
    /// or the call did not ask for it.
    pub earliest_restorable: Option<Timestamp>,
    pub latest_restorable: Option<Timestamp>,
    pub created_at: Option<Timestamp>,
}

/// An RDS DB snapshot, manual or automated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DbSnapshot {
    pub id: String,
    pub arn: String,
    /// The instance it was taken of.
    pub instance: String,
    /// `manual` or `automated`.
    pub kind: String,
    /// `creating`, `available`, `failed`, ...
    pub status: String,
    /// How far a snapshot in progress is, where AWS says.
    pub percent: Option<i32>,
    pub size_gb: i32,
    pub created_at: Option<Timestamp>,
    pub tags: BTreeMap<String, String>,
}

/// The settings of a new instance a restore creates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestoreSettings {
    /// The new instance's identifier.
    pub target: String,
    pub class: String,
    pub subnet_group: Option<String>,
    pub security_groups: Vec<String>,
    pub parameter_group: Option<String>,
    pub multi_az: bool,
    pub storage_type: Option<String>,
    pub allocated_gb: Option<i32>,
    /// Sent only for provisioned-IOPS storage.
    pub iops: Option<i32>,
    pub port: Option<i32>,
    pub deletion_protection: bool,
    pub publicly_accessible: Option<bool>,
    pub backup_retention_days: Option<i32>,
    pub tags: BTreeMap<String, String>,
}

/// The bounds of an Application Auto Scaling scalable target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ScalingBounds {
    pub min: i32,
    pub max: i32,
}

impl std::fmt::Display for ScalingBounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..{}", self.min, self.max)
    }
}

/// Snapshot statuses that will never become `available`.
const SNAPSHOT_FAILED: &[&str] = &["failed", "error", "deleting", "deleted"];

/// Instance statuses a restore does not recover from by itself.
const INSTANCE_FAILED: &[&str] = &[
    "failed",
    "restore-error",
    "incompatible-restore",
    "incompatible-parameters",
    "incompatible-network",
    "incompatible-option-group",
    "storage-full",
    "inaccessible-encryption-credentials",
    "inaccessible-encryption-credentials-recoverable",
    "deleting",
];

impl DbInstance {
    /// Ready for use (and for a snapshot).
    pub fn is_available(&self) -> bool {
        self.status == "available"
    }

    /// In a state RDS does not recover from by itself.
    pub fn has_failed(&self) -> bool {
        INSTANCE_FAILED.contains(&self.status.as_str())
    }
}

impl DbSnapshot {
    /// Complete: it can be restored from.
    pub fn is_available(&self) -> bool {
        self.status == "available"
    }

    /// In a state that will never become `available`.
    pub fn has_failed(&self) -> bool {
        SNAPSHOT_FAILED.contains(&self.status.as_str())
    }
}
