//! `opsctl db snapshots`: what there is to restore from, newest first, with the restore window.

use super::*;

/// One snapshot, as the list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotRow {
    pub id: String,
    /// `manual` or `automated`.
    pub kind: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<i32>,
    pub size_gb: i32,
    pub created_at: Option<Timestamp>,
    pub age_secs: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// For a copy from another region: the source snapshot's ARN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copied_from: Option<String>,
}

/// `opsctl db snapshots ENV`: newest first.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotList {
    pub env: String,
    pub instance: String,
    /// The region listed.
    pub region: String,
    pub snapshots: Vec<SnapshotRow>,
}

impl Outcome for SnapshotList {
    fn exit(&self) -> Exit {
        Exit::Ok
    }
}

/// `90s`, `5m`, `3h`, `2d`.
pub(super) fn age(secs: i64) -> String {
    match secs.max(0) {
        s if s < 120 => format!("{s}s"),
        s if s < 120 * 60 => format!("{}m", s / 60),
        s if s < 48 * 3600 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

impl fmt::Display for SnapshotList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.snapshots.is_empty() {
            return writeln!(
                f,
                "{} ({}, {}): no snapshots",
                self.instance, self.env, self.region
            );
        }
        writeln!(
            f,
            "{} ({}, {}): {} snapshot(s), newest first",
            self.instance,
            self.env,
            self.region,
            self.snapshots.len()
        )?;
        let status = |s: &SnapshotRow| match (s.status.as_str(), s.percent) {
            ("available", _) | (_, None) => s.status.clone(),
            (status, Some(p)) => format!("{status} {p}%"),
        };
        let width = self
            .snapshots
            .iter()
            .map(|s| s.id.len())
            .max()
            .unwrap_or(0)
            .max(2);
        let status_width = self
            .snapshots
            .iter()
            .map(|s| status(s).len())
            .max()
            .unwrap_or(0)
            .max(6);
        writeln!(
            f,
            "  {:<width$}  {:<9}  {:<status_width$}  {:>6}  {:>4}  NOTE",
            "ID", "TYPE", "STATUS", "SIZE", "AGE"
        )?;
        for s in &self.snapshots {
            let note = [
                s.copied_from.as_ref().map(|c| format!("copy of {c}")),
                s.version.as_ref().map(|v| format!("version {v}")),
                s.reason.clone(),
                s.created_by.as_ref().map(|b| format!("by {b}")),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("; ");
            let line = format!(
                "  {:<width$}  {:<9}  {:<status_width$}  {:>6}  {:>4}  {note}",
                s.id,
                s.kind,
                status(s),
                format!("{} GB", s.size_gb),
                s.age_secs.map(age).unwrap_or_else(|| "?".into()),
            );
            writeln!(f, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// Manual and automated snapshots of the env's instance, newest first, in its region or (the
/// copies) in `region`; `now` gives ages.
pub async fn list(
    aws: &Aws,
    env: &EnvConfig,
    region: Option<&str>,
    now: Timestamp,
) -> anyhow::Result<SnapshotList> {
    let instance = instance_of(env)?.to_owned();
    let (db, region) = rds_in(aws, env, region)?;
    let mut snapshots = db.list_snapshots(&instance).await?;
    snapshots.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
    let snapshots = snapshots
        .into_iter()
        .map(|s| SnapshotRow {
            age_secs: s.created_at.map(|t| now.as_second() - t.as_second()),
            created_by: s.tags.get(tags::CREATED_BY).cloned(),
            reason: s.tags.get(tags::REASON).cloned(),
            version: s.tags.get(tags::VERSION).cloned(),
            copied_from: s
                .source_snapshot
                .clone()
                .or_else(|| s.tags.get(tags::COPIED_FROM).cloned()),
            id: s.id,
            kind: s.kind,
            status: s.status,
            percent: s.percent,
            size_gb: s.size_gb,
            created_at: s.created_at,
        })
        .collect();
    Ok(SnapshotList {
        env: env.name.clone(),
        instance,
        region,
        snapshots,
    })
}
