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
    pub engine: String,
    pub engine_version: String,
    /// Encrypted at rest (a restore keeps the snapshot's encryption and key).
    pub encrypted: bool,
    pub kms_key: Option<String>,
    /// The primary's zone, and the standby's of a Multi-AZ instance.
    pub zone: Option<String>,
    pub secondary_az: Option<String>,
    /// The Active Directory domain it is joined to, if any (a restore does not rejoin it).
    pub directory: Option<String>,
    pub settings: DbSettings,
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
    /// When the data was snapshotted: for a copy, its source's time (AWS's
    /// OriginalSnapshotCreateTime), else `created_at`.
    pub original_created_at: Option<Timestamp>,
    /// Encrypted at rest, and with which key (a copy to another region needs a key there).
    pub encrypted: bool,
    pub kms_key: Option<String>,
    /// Where a cross-region copy came from: the source's region and snapshot ARN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_snapshot: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// Every setting of an instance that a restore carries over to the new one: the one list
/// that is read (DescribeDBInstances), sent (the restore call, and ModifyDBInstance for what
/// it does not take), shown, and compared afterwards.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DbSettings {
    /// The instance class, e.g. `db.t3.micro`.
    pub class: String,
    /// The zone of a single-AZ instance (a Multi-AZ one has RDS choose).
    pub availability_zone: Option<String>,
    pub subnet_group: Option<String>,
    /// VPC security group ids.
    pub security_groups: Vec<String>,
    pub parameter_group: Option<String>,
    pub option_group: Option<String>,
    pub multi_az: bool,
    pub network_type: Option<String>,
    /// `None` when AWS does not say.
    pub publicly_accessible: Option<bool>,
    pub port: Option<i32>,
    /// `gp2`, `gp3`, `io1`, ...
    pub storage_type: Option<String>,
    pub allocated_gb: i32,
    /// The storage autoscaling ceiling, where one is set.
    pub max_allocated_gb: Option<i32>,
    /// Provisioned IOPS and throughput, where AWS reports them.
    pub iops: Option<i32>,
    pub storage_throughput: Option<i32>,
    pub dedicated_log_volume: bool,
    pub deletion_protection: bool,
    pub backup_retention_days: i32,
    /// `hh24:mi-hh24:mi` (UTC).
    pub backup_window: Option<String>,
    /// `ddd:hh24:mi-ddd:hh24:mi` (UTC).
    pub maintenance_window: Option<String>,
    pub copy_tags_to_snapshot: bool,
    pub auto_minor_version_upgrade: bool,
    pub iam_auth: bool,
    /// The logs exported to CloudWatch Logs (`postgresql`, `upgrade`, ...).
    pub log_exports: Vec<String>,
    pub ca_certificate: Option<String>,
    pub license_model: Option<String>,
    pub engine_lifecycle_support: Option<String>,
    /// The master password is kept in Secrets Manager by RDS, encrypted with this key.
    pub managed_master_password: bool,
    pub master_secret_kms_key: Option<String>,
    /// Enhanced monitoring: seconds between samples (0: off) and the role it uses.
    pub monitoring_interval: i32,
    pub monitoring_role: Option<String>,
    pub performance_insights: bool,
    pub performance_insights_kms_key: Option<String>,
    pub performance_insights_retention_days: Option<i32>,
    pub database_insights_mode: Option<String>,
}

/// The settings no restore call takes, set with one ModifyDBInstance once the new
/// instance is available. Each is `Some` only where the new instance differs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LaterSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<(i32, Option<String>)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub performance_insights: Option<(bool, Option<String>, Option<i32>)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_insights_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintenance_window: Option<String>,
    /// RestoreDBInstanceFromDBSnapshot takes no storage autoscaling ceiling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_allocated_gb: Option<i32>,
}

impl DbSettings {
    /// The names of the settings that differ between the two, as `name: ours -> theirs`.
    /// The zone of a Multi-AZ instance is RDS's choice and not compared; so are the zone and
    /// the security groups where ours names none (a restore into a recovery region that
    /// leaves them to RDS).
    pub fn differences(&self, other: &DbSettings) -> Vec<String> {
        let mut out = Vec::new();
        macro_rules! compare {
            ($($field:ident),* $(,)?) => {$(
                if self.$field != other.$field {
                    out.push(format!(
                        "{}: {:?} -> {:?}",
                        stringify!($field),
                        self.$field,
                        other.$field
                    ));
                }
            )*};
        }
        compare!(
            class,
            subnet_group,
            parameter_group,
            option_group,
            multi_az,
            network_type,
            publicly_accessible,
            port,
            storage_type,
            allocated_gb,
            max_allocated_gb,
            iops,
            storage_throughput,
            dedicated_log_volume,
            deletion_protection,
            backup_retention_days,
            backup_window,
            maintenance_window,
            copy_tags_to_snapshot,
            auto_minor_version_upgrade,
            iam_auth,
            log_exports,
            ca_certificate,
            license_model,
            engine_lifecycle_support,
            managed_master_password,
            monitoring_interval,
            monitoring_role,
            performance_insights,
            performance_insights_retention_days,
            database_insights_mode,
        );
        if !self.security_groups.is_empty() && self.security_groups != other.security_groups {
            out.push(format!(
                "security_groups: {:?} -> {:?}",
                self.security_groups, other.security_groups
            ));
        }
        if !self.multi_az
            && !other.multi_az
            && self.availability_zone.is_some()
            && self.availability_zone != other.availability_zone
        {
            out.push(format!(
                "availability_zone: {:?} -> {:?}",
                self.availability_zone, other.availability_zone
            ));
        }
        // A key named by alias and by ARN are the same key; compare only when both are set.
        for (name, a, b) in [
            (
                "master_secret_kms_key",
                &self.master_secret_kms_key,
                &other.master_secret_kms_key,
            ),
            (
                "performance_insights_kms_key",
                &self.performance_insights_kms_key,
                &other.performance_insights_kms_key,
            ),
        ] {
            if let (Some(a), Some(b)) = (a, b)
                && !same_key(a, b)
            {
                out.push(format!("{name}: {a:?} -> {b:?}"));
            }
        }
        out
    }

    /// Whether the restore call may name IOPS and throughput: provisioned-IOPS storage
    /// always, gp3 only from 400 GB (below it RDS refuses both and uses its baseline).
    pub fn sends_iops(&self) -> bool {
        match self.storage_type.as_deref() {
            Some("io1") | Some("io2") => true,
            Some("gp3") => self.allocated_gb >= 400,
            _ => false,
        }
    }

    /// What a ModifyDBInstance must still set on `restored` (as the restore left it) to
    /// match these settings.
    pub fn later(&self, restored: &DbSettings) -> LaterSettings {
        LaterSettings {
            monitoring: (self.monitoring_interval != restored.monitoring_interval
                || (self.monitoring_interval > 0
                    && self.monitoring_role != restored.monitoring_role))
                .then(|| (self.monitoring_interval, self.monitoring_role.clone())),
            performance_insights: (self.performance_insights != restored.performance_insights
                || (self.performance_insights
                    && self.performance_insights_retention_days
                        != restored.performance_insights_retention_days))
                .then(|| {
                    (
                        self.performance_insights,
                        self.performance_insights_kms_key.clone(),
                        self.performance_insights_retention_days,
                    )
                }),
            database_insights_mode: (self.database_insights_mode.is_some()
                && self.database_insights_mode != restored.database_insights_mode)
                .then(|| self.database_insights_mode.clone())
                .flatten(),
            maintenance_window: (self.maintenance_window.is_some()
                && self.maintenance_window != restored.maintenance_window)
                .then(|| self.maintenance_window.clone())
                .flatten(),
            max_allocated_gb: (self.max_allocated_gb != restored.max_allocated_gb)
                .then_some(self.max_allocated_gb)
                .flatten(),
        }
    }
}
/// The same KMS key, named by id, alias or ARN: the last part of an ARN is its id.
fn same_key(a: &str, b: &str) -> bool {
    let tail = |k: &str| k.rsplit(['/', ':']).next().unwrap_or(k).to_owned();
    a == b || tail(a) == tail(b)
}

impl LaterSettings {
    pub fn is_empty(&self) -> bool {
        self.names().is_empty()
    }

    /// The settings it sets, in words.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.monitoring.is_some() {
            names.push("enhanced monitoring");
        }
        if self.performance_insights.is_some() {
            names.push("Performance Insights");
        }
        if self.database_insights_mode.is_some() {
            names.push("Database Insights mode");
        }
        if self.maintenance_window.is_some() {
            names.push("maintenance window");
        }
        if self.max_allocated_gb.is_some() {
            names.push("storage autoscaling ceiling");
        }
        names
    }
}

/// The new instance a restore creates: its name, the source's settings and its tags.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestoreSettings {
    /// The new instance's identifier.
    pub target: String,
    pub settings: DbSettings,
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
