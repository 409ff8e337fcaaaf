//! What a restore copies from its source instance, and how the copy is shown: the one list
//! both kinds of restore send.

use super::*;

/// The new instance a restore creates: every setting of the source, plus opsctl's
/// provenance tags.
pub fn copy_settings(
    source: &DbInstance,
    target: &str,
    extra_tags: BTreeMap<String, String>,
) -> RestoreSettings {
    let mut tags = source.tags.clone();
    tags.extend(extra_tags);
    RestoreSettings {
        target: target.to_owned(),
        settings: source.settings.clone(),
        tags,
    }
}

/// The settings in words, the ones a person checks first.
pub(super) fn describe_settings(r: &RestoreSettings) -> String {
    let s = &r.settings;
    let none = || "default".to_owned();
    let on = |b: bool| if b { "on" } else { "off" };
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
        format!(
            "option group {}",
            s.option_group.clone().unwrap_or_else(none)
        ),
        format!("Multi-AZ {}", on(s.multi_az)),
        format!(
            "storage {} {} GB",
            s.storage_type.clone().unwrap_or_else(none),
            s.allocated_gb
        ),
    ];
    if let Some(iops) = s.iops.filter(|_| s.sends_iops()) {
        parts.push(format!("{iops} IOPS"));
    }
    if let Some(port) = s.port {
        parts.push(format!("port {port}"));
    }
    parts.push(format!("backups {} days", s.backup_retention_days));
    parts.push(format!("deletion protection {}", on(s.deletion_protection)));
    parts.push(format!("IAM auth {}", on(s.iam_auth)));
    parts.push(format!(
        "monitoring {}",
        if s.monitoring_interval > 0 {
            format!("every {}s", s.monitoring_interval)
        } else {
            "off".into()
        }
    ));
    parts.push(format!(
        "Performance Insights {}",
        on(s.performance_insights)
    ));
    parts.push(format!("{} tag(s)", r.tags.len()));
    parts.join(", ")
}

/// Every setting as `name=value`, in the order of `DbSettings`, with the tags last; unset
/// ones are left out.
pub(super) fn call_settings(r: &RestoreSettings) -> String {
    let mut parts = Vec::new();
    if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(&r.settings) {
        for (name, value) in map {
            let shown = match value {
                serde_json::Value::Null => continue,
                serde_json::Value::String(s) => s,
                serde_json::Value::Array(items) if items.is_empty() => continue,
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.to_string(),
            };
            parts.push(format!("{name}={shown}"));
        }
    }
    parts.push(format!("tags={}", show_tags(&r.tags)));
    parts.join(" ")
}
