//! Snapshot retention (`database.keep_snapshots = N`): the newest N manual snapshots opsctl
//! made of the env's instance are kept, older ones deleted. Never an automated snapshot, never
//! one opsctl did not make (no `opsctl:created-by` tag), never one still being made.

use super::*;
use crate::aws::Database;

/// What a prune did, or would do.
#[derive(Debug, Clone, Serialize)]
pub struct PruneOutcome {
    pub env: String,
    pub instance: String,
    pub region: String,
    pub keep: u32,
    /// `--dry-run`: nothing was deleted.
    pub dry_run: bool,
    /// Deleted (or, in a dry run, to be deleted), oldest last.
    pub deleted: Vec<String>,
    /// The snapshots opsctl made that are kept, newest first.
    pub kept: Vec<String>,
    /// Left alone: automated, or not made by opsctl.
    pub untouched: usize,
    /// Deletes that failed, with why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<String>,
}

impl Outcome for PruneOutcome {
    fn exit(&self) -> Exit {
        if self.failed.is_empty() {
            Exit::Ok
        } else {
            Exit::Failed
        }
    }
}

impl fmt::Display for PruneOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (instance, region, keep) = (&self.instance, &self.region, self.keep);
        let verb = if self.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        if self.deleted.is_empty() {
            writeln!(
                f,
                "{instance} in {region}: {} snapshot(s) made by opsctl, keep_snapshots = {keep}; nothing to delete",
                self.kept.len()
            )?;
        } else {
            writeln!(
                f,
                "{instance} in {region}: keeping the newest {keep} snapshot(s) made by opsctl; {verb} {}{}:",
                self.deleted.len(),
                if self.dry_run {
                    " (nothing changed)"
                } else {
                    ""
                }
            )?;
            for id in &self.deleted {
                writeln!(f, "  {verb}: {id}")?;
            }
        }
        for id in &self.kept {
            writeln!(f, "  kept: {id}")?;
        }
        if self.untouched > 0 {
            writeln!(
                f,
                "  left alone: {} automated or not made by opsctl",
                self.untouched
            )?;
        }
        for e in &self.failed {
            writeln!(f, "  FAILED: {e}")?;
        }
        Ok(())
    }
}

/// Which of the instance's snapshots retention deletes: the manual, available ones opsctl
/// made, beyond the newest `keep`. Returns (delete, keep, untouched).
pub fn to_prune(snapshots: &[DbSnapshot], keep: u32) -> (Vec<DbSnapshot>, Vec<DbSnapshot>, usize) {
    let (mut ours, others): (Vec<&DbSnapshot>, Vec<&DbSnapshot>) = snapshots
        .iter()
        .partition(|s| s.kind == "manual" && s.tags.contains_key(tags::CREATED_BY));
    let mut untouched = others.len();
    // One still being made (or failed) is neither counted nor deleted.
    let before = ours.len();
    ours.retain(|s| s.is_available());
    untouched += before - ours.len();
    ours.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    let keep = (keep as usize).min(ours.len());
    let deleted = ours.split_off(keep);
    (
        deleted.into_iter().cloned().collect(),
        ours.into_iter().cloned().collect(),
        untouched,
    )
}

/// `opsctl db snapshots ENV --prune [--dr] [--dry-run]`: applies `database.keep_snapshots`
/// now, in the env's region or `region`.
pub async fn prune(
    aws: &Aws,
    env: &EnvConfig,
    region: Option<&str>,
    dry_run: bool,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<PruneOutcome> {
    let instance = instance_of(env)?.to_owned();
    let Some(keep) = env.database.as_ref().and_then(|d| d.keep_snapshots) else {
        crate::bad_input!(
            format!(
                "set keep_snapshots = N in env.{}.database to say how many to keep",
                env.name
            ),
            "env.{} sets no snapshot retention; --prune deletes only beyond database.keep_snapshots",
            env.name
        );
    };
    let (db, region_name) = rds_in(aws, env, region)?;
    let snapshots = db.list_snapshots(&instance).await?;
    let (delete, kept, untouched) = to_prune(&snapshots, keep);
    let mut out = PruneOutcome {
        env: env.name.clone(),
        instance,
        region: region_name.clone(),
        keep,
        dry_run,
        deleted: delete.iter().map(|s| s.id.clone()).collect(),
        kept: kept.iter().map(|s| s.id.clone()).collect(),
        untouched,
        failed: Vec::new(),
    };
    if dry_run || delete.is_empty() {
        return Ok(out);
    }
    crate::workflows::confirm_change(
        env,
        reporter,
        interrupt,
        &format!(
            "Delete {} snapshot(s) of {} in {region_name} older than the newest {keep} ({})?",
            delete.len(),
            out.instance,
            env.name
        ),
    )?;
    let (deleted, failed) = delete_all(db.as_ref(), &delete, reporter).await;
    out.deleted = deleted;
    out.failed = failed;
    Ok(out)
}

/// After a snapshot (or a copy) became available: applies `database.keep_snapshots` in that
/// region, if set. A failure to list or delete is a warning: the snapshot just made stands.
pub(super) async fn prune_after(
    db: &dyn Database,
    env: &EnvConfig,
    region: Option<&str>,
    reporter: &dyn Reporter,
) -> Vec<String> {
    let Some(database) = env.database.as_ref() else {
        return Vec::new();
    };
    let Some(keep) = database.keep_snapshots else {
        return Vec::new();
    };
    let snapshots = match db.list_snapshots(&database.instance).await {
        Ok(s) => s,
        Err(e) => {
            reporter.warn(format!(
                "could not apply keep_snapshots = {keep}: {e}; run `opsctl db snapshots {} --prune` later",
                env.name
            ));
            return Vec::new();
        }
    };
    let (delete, _, _) = to_prune(&snapshots, keep);
    if delete.is_empty() {
        return Vec::new();
    }
    reporter.step(
        "retention",
        format!(
            "keep_snapshots = {keep}: deleting {} older snapshot(s){}",
            delete.len(),
            region.map(|r| format!(" in {r}")).unwrap_or_default()
        ),
    );
    let (deleted, failed) = delete_all(db, &delete, reporter).await;
    for e in failed {
        reporter.warn(format!("could not delete {e}"));
    }
    deleted
}

/// Deletes each snapshot; returns the ids deleted and `id: why` of those that were not.
async fn delete_all(
    db: &dyn Database,
    delete: &[DbSnapshot],
    reporter: &dyn Reporter,
) -> (Vec<String>, Vec<String>) {
    let (mut deleted, mut failed) = (Vec::new(), Vec::new());
    for s in delete {
        match db.delete_snapshot(&s.id).await {
            Ok(()) => {
                reporter.step("retention", format!("deleted snapshot {}", s.id));
                deleted.push(s.id.clone());
            }
            // Gone already: what retention wanted.
            Err(AwsError::NotFound(..)) => deleted.push(s.id.clone()),
            Err(e) => failed.push(format!("{}: {e}", s.id)),
        }
    }
    (deleted, failed)
}
