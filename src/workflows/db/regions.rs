//! `opsctl db copy` (and `db snapshot --copy-to`): a snapshot copied into another region,
//! tagged like its source, so the database can be restored there when its own region is
//! lost. The copy is made by RDS in the target region; the source is never changed.

use std::sync::Arc;

use super::*;
use crate::aws::Database;
use crate::config::DisasterRecovery;

/// How to copy a snapshot to another region.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// The snapshot of the env's instance, by id (see `db snapshots`).
    pub snapshot: String,
    pub to_region: String,
    /// A KMS key of the target region; default `database.dr.kms_key` for that region.
    pub kms_key: Option<String>,
    /// Wait until the copy is available, reporting its progress.
    pub wait: bool,
    pub dry_run: bool,
    pub timeout: Duration,
    pub poll: Duration,
    /// Who copies, for the `opsctl:created-by` tag.
    pub actor: String,
}

/// What a copy did.
#[derive(Debug, Clone, Serialize)]
pub struct CopyOutcome {
    pub env: String,
    /// The snapshot copied, and its region.
    pub source: String,
    pub source_region: String,
    /// The region the copy is in, and its id there.
    pub region: String,
    pub copy_id: String,
    pub result: SnapshotResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
    /// The copy as last seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<DbSnapshot>,
    /// Older copies the target region's retention deleted (`database.keep_snapshots`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pruned: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<String>,
    pub elapsed_secs: f64,
}

impl Outcome for CopyOutcome {
    fn exit(&self) -> Exit {
        snapshot_exit(self.result)
    }
}

/// The exit of a snapshot or a copy that ended so.
pub(super) fn snapshot_exit(result: SnapshotResult) -> Exit {
    match result {
        SnapshotResult::Available | SnapshotResult::Started | SnapshotResult::Planned => Exit::Ok,
        SnapshotResult::Failed => Exit::Failed,
        SnapshotResult::TimedOut => Exit::TimedOut,
        SnapshotResult::Interrupted => Exit::Interrupted,
    }
}

impl fmt::Display for CopyOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (source, copy, region) = (&self.source, &self.copy_id, &self.region);
        let progress = progress(self.snapshot.as_ref());
        let secs = self.elapsed_secs;
        match self.result {
            SnapshotResult::Available if copy == source => writeln!(
                f,
                "copy of {source} is available in {region} after {secs:.0}s"
            )?,
            SnapshotResult::Available => writeln!(
                f,
                "copy {copy} of {source} is available in {region} after {secs:.0}s"
            )?,
            SnapshotResult::Started => writeln!(
                f,
                "copying {source} to {region} as {copy} ({progress}); not waiting. Follow it with `opsctl db snapshots {} --region {region}`",
                self.env
            )?,
            SnapshotResult::Planned => {
                writeln!(
                    f,
                    "would copy {source} ({}) to {region} as {copy} (nothing changed)\ncalls:",
                    self.source_region
                )?;
                for call in &self.calls {
                    writeln!(f, "  {call}")?;
                }
            }
            SnapshotResult::Failed => {
                writeln!(f, "copy of {source} to {region} FAILED ({progress})")?
            }
            SnapshotResult::TimedOut => writeln!(
                f,
                "copy {copy} in {region} is still not available after {secs:.0}s ({progress}); it goes on in AWS"
            )?,
            SnapshotResult::Interrupted => writeln!(
                f,
                "stopped waiting for copy {copy} in {region} ({progress}); it goes on in AWS"
            )?,
        }
        if let Some(key) = &self.kms_key {
            writeln!(f, "  encrypted with {key}")?;
        }
        if !self.pruned.is_empty() {
            writeln!(
                f,
                "  deleted older copies in {region} (keep_snapshots): {}",
                self.pruned.join(", ")
            )?;
        }
        if let Some(reason) = &self.reason {
            writeln!(f, "  reason: {reason}")?;
        }
        Ok(())
    }
}

/// The env's `database.dr` when it names `region`.
pub fn dr_for<'a>(env: &'a EnvConfig, region: &str) -> Option<&'a DisasterRecovery> {
    env.database
        .as_ref()
        .and_then(|d| d.dr.as_ref())
        .filter(|dr| dr.region == region)
}

/// RDS in `region`, refused when it is the env's own region.
pub(super) fn other_region(
    aws: &Aws,
    env: &EnvConfig,
    region: &str,
    what: &str,
) -> Result<Arc<dyn Database>, UserError> {
    if aws.regions.home().as_deref() == Some(region) {
        return Err(UserError::new(format!(
            "{region} is env.{}'s own region; {what} names another region",
            env.name
        ))
        .hint(match env.database.as_ref().and_then(|d| d.dr.as_ref()) {
            Some(dr) => format!("the env's recovery region is {}", dr.region),
            None => "name the region to recover into, such as us-west-2".to_owned(),
        }));
    }
    Ok(aws.regions.database(region))
}

/// The env's recovery region, `database.dr.region`, or how to name one.
pub fn dr_region(env: &EnvConfig) -> Result<&str, UserError> {
    env.database
        .as_ref()
        .and_then(|d| d.dr.as_ref())
        .map(|dr| dr.region.as_str())
        .ok_or_else(|| {
            UserError::new(format!("env.{} has no recovery region", env.name)).hint(format!(
                "set database.dr = {{ region = \"...\", subnet_group = \"...\" }} in [env.{}]",
                env.name
            ))
        })
}

/// RDS in `region` (another region) or the env's own, with the region's name.
pub(super) fn rds_in(
    aws: &Aws,
    env: &EnvConfig,
    region: Option<&str>,
) -> Result<(Arc<dyn Database>, String), UserError> {
    Ok(match region {
        Some(r) => (other_region(aws, env, r, "--dr")?, r.to_owned()),
        None => (aws.db.clone(), aws.regions.home().unwrap_or_default()),
    })
}

/// The KMS key a copy into `region` is encrypted with: `given` (`--kms-key`), else the env's
/// `database.dr.kms_key` for that region. `encrypted` names what is encrypted, which then
/// needs a key; a key ARN of another region is refused as well.
pub(super) fn copy_key(
    env: &EnvConfig,
    region: &str,
    given: Option<&str>,
    encrypted: Option<String>,
) -> Result<Option<String>, UserError> {
    let key = given
        .map(str::to_owned)
        .or_else(|| dr_for(env, region).and_then(|dr| dr.kms_key.clone()));
    if let (Some(what), None) = (&encrypted, &key) {
        return Err(UserError::new(format!(
            "{what} is encrypted, and a copy in {region} needs a KMS key of {region}"
        ))
        .hint(format!(
            "pass --kms-key with a key of {region}, or set kms_key in env.{}.database.dr",
            env.name
        )));
    }
    if let Some(key) = &key
        && let Some(key_region) = key.strip_prefix("arn:").and_then(|k| k.split(':').nth(2))
        && key_region != region
    {
        return Err(UserError::new(format!(
            "KMS key {key} is in {key_region}; a copy in {region} is encrypted with a key of {region}"
        ))
        .hint(format!("name a key of {region}: its ARN, id or alias there")));
    }
    Ok(key)
}

/// A copy's id: the source's, without the `rds:` of an automated snapshot (an id of a manual
/// snapshot holds no colon).
pub fn copy_name(source: &str) -> String {
    source.trim_start_matches("rds:").to_owned()
}

/// `opsctl db copy ENV --snapshot ID --to-region R`: copies a snapshot of the env's
/// instance to another region, encrypted with a key of that region where the source is
/// encrypted, with the source's tags and `opsctl:copied-from`. Every check runs before the
/// one call that creates the copy.
pub async fn copy(
    aws: &Aws,
    env: &EnvConfig,
    opts: &CopyOptions,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<CopyOutcome> {
    copy_with(aws, env, opts, true, reporter, interrupt).await
}

/// The copy; `ask`: whether to confirm it first (a snapshot that copies itself has asked).
pub(super) async fn copy_with(
    aws: &Aws,
    env: &EnvConfig,
    opts: &CopyOptions,
    ask: bool,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<CopyOutcome> {
    let started = Instant::now();
    let instance = instance_of(env)?.to_owned();
    let region = opts.to_region.clone();
    let target_db = other_region(aws, env, &region, "--to-region")?;
    let home = aws.regions.home().unwrap_or_default();
    let Some(source) = aws.db.describe_snapshot(&opts.snapshot).await? else {
        return Err(
            UserError::new(format!("snapshot {} not found in {home}", opts.snapshot))
                .hint(format!(
                    "list the snapshots with `opsctl db snapshots {}`",
                    env.name
                ))
                .into(),
        );
    };
    if source.instance != instance {
        crate::bad_input!(
            format!(
                "copy a snapshot of {instance} (see `opsctl db snapshots {}`)",
                env.name
            ),
            "snapshot {} is of instance {}, not of {instance} (env.{}'s database)",
            source.id,
            source.instance,
            env.name
        );
    }
    if !source.is_available() {
        crate::bad_input!(
            format!(
                "wait until `opsctl db snapshots {}` shows it available, or copy with `opsctl db snapshot {} --copy-to {region}`, which waits",
                env.name, env.name
            ),
            "snapshot {} is {}; only an available snapshot can be copied",
            source.id,
            source.status
        );
    }
    let kms_key = copy_key(
        env,
        &region,
        opts.kms_key.as_deref(),
        source.encrypted.then(|| format!("snapshot {}", source.id)),
    )?;
    let copy_id = copy_name(&source.id);
    let mut out = CopyOutcome {
        env: env.name.clone(),
        source: source.id.clone(),
        source_region: home.clone(),
        region: region.clone(),
        copy_id: copy_id.clone(),
        result: SnapshotResult::Planned,
        kms_key: kms_key.clone(),
        snapshot: None,
        pruned: Vec::new(),
        reason: None,
        calls: Vec::new(),
        elapsed_secs: 0.0,
    };
    let mut tags = source.tags.clone();
    tags.insert(tags::COPIED_FROM.to_owned(), tag_value(&source.arn));
    tags.insert(tags::CREATED_BY.to_owned(), tag_value(&opts.actor));

    if let Some(existing) = target_db.describe_snapshot(&copy_id).await? {
        if existing.tags.get(tags::COPIED_FROM) != tags.get(tags::COPIED_FROM) {
            crate::bad_input!(
                format!(
                    "see it with `opsctl db snapshots {} --region {region}`",
                    env.name
                ),
                "{region} already holds a snapshot named {copy_id} that is not a copy of {}",
                source.arn
            );
        }
        // Copied before (a rerun of a runbook step): say so, and wait for it if asked.
        reporter.step(
            "copy",
            format!("{copy_id} in {region} is already a copy of {}", source.id),
        );
        out.result = if existing.is_available() {
            SnapshotResult::Available
        } else if opts.dry_run {
            SnapshotResult::Planned
        } else {
            SnapshotResult::Started
        };
        out.snapshot = Some(existing);
        if out.result != SnapshotResult::Started || !opts.wait {
            out.elapsed_secs = started.elapsed().as_secs_f64();
            return Ok(out);
        }
        return finish(
            env,
            target_db.as_ref(),
            out,
            opts,
            started,
            reporter,
            interrupt,
        )
        .await;
    }

    if opts.dry_run {
        out.calls.push(format!(
            "rds:CopyDBSnapshot (in {region}) SourceDBSnapshotIdentifier={} TargetDBSnapshotIdentifier={copy_id}{} Tags={}",
            source.arn,
            kms_key
                .as_deref()
                .map(|k| format!(" KmsKeyId={k}"))
                .unwrap_or_default(),
            show_tags(&tags)
        ));
        if opts.wait {
            out.calls.push(format!(
                "then rds:DescribeDBSnapshots (in {region}) until {copy_id} is available"
            ));
        }
        out.elapsed_secs = started.elapsed().as_secs_f64();
        return Ok(out);
    }
    if ask {
        crate::workflows::confirm_change(
            env,
            reporter,
            interrupt,
            &format!(
                "Copy snapshot {} to {region} as {copy_id} ({})?",
                source.id, env.name
            ),
        )?;
    }
    reporter.step(
        "copy",
        format!("copying snapshot {} to {region} as {copy_id}", source.id),
    );
    match target_db
        .copy_snapshot(&source.arn, &copy_id, kms_key.as_deref(), &tags)
        .await
    {
        Ok(created) => out.snapshot = Some(created),
        // A retry after a lost answer meets the copy its first attempt made.
        Err(AwsError::AlreadyExists(e)) => match target_db.describe_snapshot(&copy_id).await? {
            Some(found) if found.tags.get(tags::COPIED_FROM) == tags.get(tags::COPIED_FROM) => {
                reporter.warn(format!(
                    "the answer to CopyDBSnapshot was lost; {copy_id} in {region} is the copy it made"
                ));
                out.snapshot = Some(found);
            }
            _ => return Err(AwsError::AlreadyExists(e).into()),
        },
        Err(AwsError::Invalid(e)) => {
            out.result = SnapshotResult::Failed;
            out.reason = Some(e);
            out.elapsed_secs = started.elapsed().as_secs_f64();
            return Ok(out);
        }
        Err(e) => return Err(e.into()),
    }
    if !opts.wait {
        out.result = SnapshotResult::Started;
        out.elapsed_secs = started.elapsed().as_secs_f64();
        return Ok(out);
    }
    finish(
        env,
        target_db.as_ref(),
        out,
        opts,
        started,
        reporter,
        interrupt,
    )
    .await
}

/// Waits for the copy; once available, applies the retention in its region.
async fn finish(
    env: &EnvConfig,
    target_db: &dyn Database,
    mut out: CopyOutcome,
    opts: &CopyOptions,
    started: Instant,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<CopyOutcome> {
    let waited = wait_snapshot(
        target_db,
        &out.copy_id,
        &format!("copy {} in {}", out.copy_id, out.region),
        (opts.timeout, opts.poll),
        reporter,
        interrupt,
    )
    .await?;
    out.result = waited.result;
    out.snapshot = waited.snapshot.or(out.snapshot.take());
    out.reason = waited.reason;
    if out.result == SnapshotResult::Available {
        out.pruned = prune_after(target_db, env, Some(&out.region), reporter).await;
    }
    out.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(out)
}
