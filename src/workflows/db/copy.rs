//! What a restore copies from its source instance, and how the copy is shown: the one list
//! both kinds of restore send.

use super::*;

/// The settings a restore copies from the source, plus opsctl's provenance tags.
pub fn copy_settings(
    source: &DbInstance,
    target: &str,
    extra_tags: BTreeMap<String, String>,
) -> RestoreSettings {
    let mut tags = source.tags.clone();
    tags.extend(extra_tags);
    RestoreSettings {
        target: target.to_owned(),
        class: source.class.clone(),
        subnet_group: source.subnet_group.clone(),
        security_groups: source.security_groups.clone(),
        parameter_group: source.parameter_group.clone(),
        multi_az: source.multi_az,
        storage_type: source.storage_type.clone(),
        allocated_gb: Some(source.allocated_gb).filter(|gb| *gb > 0),
        // Only provisioned-IOPS storage takes an IOPS value on restore; gp3 below 400 GB
        // refuses one.
        iops: source
            .iops
            .filter(|_| matches!(source.storage_type.as_deref(), Some("io1") | Some("io2"))),
        port: source.port,
        deletion_protection: source.deletion_protection,
        publicly_accessible: source.publicly_accessible,
        backup_retention_days: Some(source.backup_retention_days),
        tags,
    }
}

pub(super) fn describe_settings(s: &RestoreSettings) -> String {
    let none = || "default".to_owned();
    let mut parts = vec![
        format!("class {}", s.class),
        format!(
            "subnet group {}",
            s.subnet_group.clone().unwrap_or_else(none)
        ),
        format!(
            "security groups {}",
            if s.security_groups.is_empty() {
                none()
            } else {
                s.security_groups.join(",")
            }
        ),
        format!(
            "parameter group {}",
            s.parameter_group.clone().unwrap_or_else(none)
        ),
        format!("Multi-AZ {}", if s.multi_az { "on" } else { "off" }),
        format!(
            "storage {}{}",
            s.storage_type.clone().unwrap_or_else(none),
            s.allocated_gb
                .map(|g| format!(" {g} GB"))
                .unwrap_or_default()
        ),
    ];
    if let Some(iops) = s.iops {
        parts.push(format!("{iops} IOPS"));
    }
    if let Some(port) = s.port {
        parts.push(format!("port {port}"));
    }
    parts.push(format!(
        "deletion protection {}",
        if s.deletion_protection { "on" } else { "off" }
    ));
    parts.push(format!("{} tag(s)", s.tags.len()));
    parts.join(", ")
}

pub(super) fn call_settings(s: &RestoreSettings) -> String {
    let mut parts = vec![format!("DBInstanceClass={}", s.class)];
    if let Some(g) = &s.subnet_group {
        parts.push(format!("DBSubnetGroupName={g}"));
    }
    if !s.security_groups.is_empty() {
        parts.push(format!(
            "VpcSecurityGroupIds={}",
            s.security_groups.join(",")
        ));
    }
    if let Some(g) = &s.parameter_group {
        parts.push(format!("DBParameterGroupName={g}"));
    }
    parts.push(format!("MultiAZ={}", s.multi_az));
    if let Some(t) = &s.storage_type {
        parts.push(format!("StorageType={t}"));
    }
    if let Some(gb) = s.allocated_gb {
        parts.push(format!("AllocatedStorage={gb}"));
    }
    if let Some(iops) = s.iops {
        parts.push(format!("Iops={iops}"));
    }
    if let Some(port) = s.port {
        parts.push(format!("Port={port}"));
    }
    parts.push(format!("DeletionProtection={}", s.deletion_protection));
    if let Some(public) = s.publicly_accessible {
        parts.push(format!("PubliclyAccessible={public}"));
    }
    if let Some(days) = s.backup_retention_days {
        parts.push(format!("BackupRetentionPeriod={days}"));
    }
    parts.push(format!("Tags={}", show_tags(&s.tags)));
    parts.join(" ")
}
