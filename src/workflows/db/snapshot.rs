//! `opsctl db snapshot`, and the snapshot a deploy takes first: tagged, waited for with percent progress.

use super::*;

/// How to take a snapshot.
#[derive(Debug, Clone)]
pub struct SnapshotOptions {
    /// Why, for the `opsctl:reason` tag.
    pub reason: Option<String>,
    /// The version being deployed, when a deploy takes the snapshot.
    pub version: Option<String>,
    /// Wait until the snapshot is available, reporting its progress.
    pub wait: bool,
    /// Show the call and change nothing.
    pub dry_run: bool,
    pub timeout: Duration,
    pub poll: Duration,
    /// Who takes it, for the `opsctl:created-by` tag.
    pub actor: String,
    /// Once available, copy it to this region (`--copy-to`), with this key there.
    pub copy_to: Option<String>,
    pub kms_key: Option<String>,
}

/// How a snapshot ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotResult {
    /// The snapshot is available.
    Available,
    /// Started; nobody waited.
    Started,
    /// `--dry-run`: nothing changed.
    Planned,
    Failed,
    TimedOut,
    Interrupted,
}

/// What a snapshot did.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotOutcome {
    pub env: String,
    pub instance: String,
    pub snapshot_id: String,
    pub result: SnapshotResult,
    /// The snapshot as last seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<DbSnapshot>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The calls a dry run would make.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<String>,
    /// Older snapshots the retention deleted (`database.keep_snapshots`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pruned: Vec<String>,
    /// The copy to another region (`--copy-to`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copy: Option<Box<CopyOutcome>>,
    pub elapsed_secs: f64,
}

impl SnapshotOutcome {
    /// For a deploy: why this snapshot must stop it, or `None` when it is available.
    pub fn stops_deploy(&self) -> Option<String> {
        let what = match self.result {
            SnapshotResult::Available | SnapshotResult::Planned => return None,
            SnapshotResult::Started | SnapshotResult::Failed => "failed",
            SnapshotResult::TimedOut => "was not available in time",
            SnapshotResult::Interrupted => "was interrupted",
        };
        let id = if self.snapshot_id.is_empty() {
            String::new()
        } else {
            format!(" {}", self.snapshot_id)
        };
        let why = self
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        Some(format!(
            "the database snapshot{id} of {} {what}{why}; nothing was deployed",
            self.instance
        ))
    }

    fn progress(&self) -> String {
        progress(self.snapshot.as_ref())
    }
}

/// A snapshot's (or a copy's) state in words: `creating, 40%`, `available`, `not created`.
pub(super) fn progress(snapshot: Option<&DbSnapshot>) -> String {
    match snapshot {
        Some(s) => match s.percent {
            Some(p) if !s.is_available() => format!("{}, {p}%", s.status),
            _ => s.status.clone(),
        },
        None => "not created".into(),
    }
}

impl Outcome for SnapshotOutcome {
    fn exit(&self) -> Exit {
        match (snapshot_exit(self.result), &self.copy) {
            (Exit::Ok, Some(copy)) => copy.exit(),
            (exit, _) => exit,
        }
    }
}

impl fmt::Display for SnapshotOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (id, instance) = (&self.snapshot_id, &self.instance);
        let secs = self.elapsed_secs;
        match self.result {
            SnapshotResult::Available => {
                let size = self.snapshot.as_ref().map_or(0, |s| s.size_gb);
                writeln!(
                    f,
                    "snapshot {id} of {instance} is available ({size} GB) after {secs:.0}s"
                )?;
            }
            SnapshotResult::Started => writeln!(
                f,
                "snapshot {id} of {instance} started ({}); not waiting. Follow it with `opsctl db snapshots {}`",
                self.progress(),
                self.env
            )?,
            SnapshotResult::Planned => {
                writeln!(
                    f,
                    "would snapshot {instance} as {id} (nothing changed)\ncalls:"
                )?;
                for call in &self.calls {
                    writeln!(f, "  {call}")?;
                }
            }
            SnapshotResult::Failed => {
                writeln!(
                    f,
                    "snapshot {id} of {instance} FAILED ({})",
                    self.progress()
                )?;
            }
            SnapshotResult::TimedOut => writeln!(
                f,
                "snapshot {id} of {instance} is still not available after {secs:.0}s ({}); it goes on in AWS",
                self.progress()
            )?,
            SnapshotResult::Interrupted => writeln!(
                f,
                "stopped waiting for snapshot {id} of {instance} ({}); it goes on in AWS",
                self.progress()
            )?,
        }
        if let Some(reason) = &self.reason {
            writeln!(f, "  reason: {reason}")?;
        }
        if !self.pruned.is_empty() {
            writeln!(
                f,
                "  deleted older snapshots (keep_snapshots): {}",
                self.pruned.join(", ")
            )?;
        }
        if let Some(copy) = &self.copy {
            write!(f, "{copy}")?;
        }
        Ok(())
    }
}

/// `opsctl db snapshot ENV`: a manual snapshot of the env's instance, tagged with who and
/// why; asks first on prod-like environments.
pub async fn snapshot(
    aws: &Aws,
    env: &EnvConfig,
    opts: &SnapshotOptions,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<SnapshotOutcome> {
    take(aws, env, opts, true, reporter, interrupt).await
}

/// The snapshot a deploy takes before it changes anything, where the env sets
/// `snapshot_before_deploy`; `None` where it does not. The deploy's own confirmation covers
/// it. Every failure becomes an outcome that is not available: the deploy must stop.
pub async fn snapshot_before_deploy(
    aws: &Aws,
    env: &EnvConfig,
    version: &str,
    actor: &str,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> Option<SnapshotOutcome> {
    let database = env.database.as_ref().filter(|d| d.snapshot_before_deploy)?;
    let opts = SnapshotOptions {
        reason: Some(format!("before deploying {version}")),
        version: Some(version.to_owned()),
        wait: true,
        dry_run: false,
        timeout: TIMEOUT,
        poll: POLL,
        actor: actor.to_owned(),
        copy_to: None,
        kms_key: None,
    };
    let started = Instant::now();
    Some(
        match take(aws, env, &opts, false, reporter, interrupt).await {
            Ok(out) => out,
            Err(e) => SnapshotOutcome {
                env: env.name.clone(),
                instance: database.instance.clone(),
                snapshot_id: String::new(),
                result: SnapshotResult::Failed,
                snapshot: None,
                reason: Some(format!("{e:#}")),
                calls: Vec::new(),
                pruned: Vec::new(),
                copy: None,
                elapsed_secs: started.elapsed().as_secs_f64(),
            },
        },
    )
}

/// The call a deploy's plan lists for its snapshot, where the env asks for one.
pub fn deploy_plan_call(env: &EnvConfig, version: &str) -> Option<String> {
    let database = env.database.as_ref().filter(|d| d.snapshot_before_deploy)?;
    Some(format!(
        "rds:CreateDBSnapshot DBInstanceIdentifier={instance} \
         DBSnapshotIdentifier={instance}-<yyyymmddhhmmss>{suffix} (tagged {}={version}), \
         then wait until it is available",
        tags::VERSION,
        instance = database.instance,
        suffix = version_suffix(version),
    ))
}

pub(super) fn snapshot_tags(opts: &SnapshotOptions) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    tags.insert(tags::CREATED_BY.to_owned(), tag_value(&opts.actor));
    if let Some(reason) = opts.reason.as_deref().map(tag_value)
        && !reason.is_empty()
    {
        tags.insert(tags::REASON.to_owned(), reason);
    }
    if let Some(version) = &opts.version {
        tags.insert(tags::VERSION.to_owned(), tag_value(version));
    }
    tags
}

pub(super) async fn take(
    aws: &Aws,
    env: &EnvConfig,
    opts: &SnapshotOptions,
    ask: bool,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<SnapshotOutcome> {
    let started = Instant::now();
    let instance = instance_of(env)?.to_owned();
    let Some(source) = aws.db.find_instance(&instance).await? else {
        return Err(not_found(env, &instance).into());
    };
    if !source.is_available() {
        crate::bad_input!(
            "wait until it is available, then try again",
            "RDS instance {instance} is {}; a snapshot needs it available",
            source.status
        );
    }
    // A copy that could not be made is refused now, before the snapshot.
    let copy_key = match &opts.copy_to {
        Some(region) => {
            other_region(aws, env, region, "--copy-to")?;
            copy_key(
                env,
                region,
                opts.kms_key.as_deref(),
                source.encrypted.then(|| instance.clone()),
            )?
        }
        None => None,
    };
    let id = snapshot_name(&instance, Timestamp::now(), opts.version.as_deref());
    let tags = snapshot_tags(opts);
    let mut out = SnapshotOutcome {
        env: env.name.clone(),
        instance: instance.clone(),
        snapshot_id: id.clone(),
        result: SnapshotResult::Planned,
        snapshot: None,
        reason: None,
        calls: Vec::new(),
        pruned: Vec::new(),
        copy: None,
        elapsed_secs: 0.0,
    };
    if opts.dry_run {
        out.calls.push(format!(
            "rds:CreateDBSnapshot DBInstanceIdentifier={instance} DBSnapshotIdentifier={id} Tags={}",
            show_tags(&tags)
        ));
        if opts.wait || opts.copy_to.is_some() {
            out.calls.push(format!(
                "then rds:DescribeDBSnapshots until {id} is available"
            ));
        }
        if let Some(keep) = env.database.as_ref().and_then(|d| d.keep_snapshots) {
            out.calls.push(format!(
                "then rds:DeleteDBSnapshot for snapshots opsctl made beyond the newest {keep} (keep_snapshots)"
            ));
        }
        if let Some(region) = &opts.copy_to {
            out.calls.push(format!(
                "then rds:CopyDBSnapshot (in {region}) of {id} as {id}{}",
                copy_key
                    .as_deref()
                    .map(|k| format!(" KmsKeyId={k}"))
                    .unwrap_or_default()
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
            &format!("Take snapshot {id} of {instance} ({})?", env.name),
        )?;
    }

    reporter.step("snapshot", format!("creating snapshot {id} of {instance}"));
    match aws.db.create_snapshot(&instance, &id, &tags).await {
        Ok(created) => out.snapshot = Some(created),
        // A retry after a lost answer meets the snapshot its first attempt made: ours when it
        // is of this instance and carries exactly the tags this call sent.
        Err(AwsError::AlreadyExists(e)) => match aws.db.describe_snapshot(&id).await? {
            Some(found)
                if found.instance == instance
                    && tags.iter().all(|(k, v)| found.tags.get(k) == Some(v)) =>
            {
                reporter.warn(format!(
                    "the answer to CreateDBSnapshot was lost; {id} is the snapshot it made"
                ));
                out.snapshot = Some(found);
            }
            _ => {
                out.result = SnapshotResult::Failed;
                out.reason = Some(e);
                out.elapsed_secs = started.elapsed().as_secs_f64();
                return Ok(out);
            }
        },
        Err(e) => {
            out.result = SnapshotResult::Failed;
            out.reason = Some(e.to_string());
            out.elapsed_secs = started.elapsed().as_secs_f64();
            return Ok(out);
        }
    }
    if !opts.wait && opts.copy_to.is_none() {
        out.result = SnapshotResult::Started;
        out.elapsed_secs = started.elapsed().as_secs_f64();
        return Ok(out);
    }
    wait_for_snapshot(aws, &mut out, opts, reporter, interrupt).await?;
    if out.result == SnapshotResult::Available {
        out.pruned = prune_after(aws.db.as_ref(), env, None, reporter).await;
        if let Some(region) = &opts.copy_to {
            let copy_opts = CopyOptions {
                snapshot: id.clone(),
                to_region: region.clone(),
                kms_key: copy_key,
                wait: opts.wait,
                dry_run: false,
                timeout: opts.timeout,
                poll: opts.poll,
                actor: opts.actor.clone(),
            };
            // The snapshot's own confirmation covered the copy.
            let copied = copy_with(aws, env, &copy_opts, false, reporter, interrupt).await;
            out.copy = Some(Box::new(match copied {
                Ok(copy) => copy,
                Err(e) => CopyOutcome {
                    env: env.name.clone(),
                    source: id.clone(),
                    source_region: aws.regions.home().unwrap_or_default(),
                    region: region.clone(),
                    copy_id: copy_name(&id),
                    result: SnapshotResult::Failed,
                    kms_key: copy_opts.kms_key.clone(),
                    snapshot: None,
                    pruned: Vec::new(),
                    reason: Some(format!("{e:#}")),
                    calls: Vec::new(),
                    elapsed_secs: 0.0,
                },
            }));
        }
    }
    out.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(out)
}

/// Polls the snapshot until it is available or failed, reporting its percent progress.
pub(super) async fn wait_for_snapshot(
    aws: &Aws,
    out: &mut SnapshotOutcome,
    opts: &SnapshotOptions,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<()> {
    let waited = wait_snapshot(
        aws.db.as_ref(),
        &out.snapshot_id,
        &format!("snapshot {}", out.snapshot_id),
        (opts.timeout, opts.poll),
        reporter,
        interrupt,
    )
    .await?;
    out.result = waited.result;
    out.snapshot = waited.snapshot.or(out.snapshot.take());
    out.reason = waited.reason.or(out.reason.take());
    Ok(())
}

/// How waiting for a snapshot (or a copy) ended.
pub(super) struct Waited {
    pub result: SnapshotResult,
    /// The snapshot as last seen.
    pub snapshot: Option<DbSnapshot>,
    pub reason: Option<String>,
}

/// Polls snapshot `id` in `db` until it is available or failed, within `(timeout, poll)`,
/// reporting its percent progress as `what`'s.
pub(super) async fn wait_snapshot(
    db: &dyn crate::aws::Database,
    id: &str,
    what: &str,
    (timeout, poll): (Duration, Duration),
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<Waited> {
    let what = what.to_owned();
    let shown = Shown::start(reporter, what.clone(), timeout);
    let mut pacer = Pacer::new(timeout, poll, MAX_POLL, interrupt);
    let mut last: Option<DbSnapshot> = None;
    let mut reason = None;
    let polled = poll_until(
        "DescribeDBSnapshots",
        &mut pacer,
        reporter,
        || db.describe_snapshot(id),
        |s: DbSnapshot| {
            let (available, failed) = (s.is_available(), s.has_failed());
            let percent = s.percent.unwrap_or(if available { 100 } else { 0 });
            reporter.report(Event::Percent {
                what: what.clone(),
                percent,
            });
            let status = s.status.clone();
            last = Some(s);
            if available {
                Some(SnapshotResult::Available)
            } else if failed {
                reason = Some(format!("RDS reports the snapshot {status}"));
                Some(SnapshotResult::Failed)
            } else {
                None
            }
        },
    )
    .await;
    drop(shown);
    let result = match polled? {
        Polled::Settled(result) => result,
        Polled::Vanished => {
            reason = Some("the snapshot disappeared".into());
            SnapshotResult::Failed
        }
        Polled::TimedOut => {
            reason = Some(format!("not available within {}s", timeout.as_secs()));
            SnapshotResult::TimedOut
        }
        Polled::Interrupted => SnapshotResult::Interrupted,
    };
    Ok(Waited {
        result,
        snapshot: last,
        reason,
    })
}

pub(super) fn not_found(env: &EnvConfig, instance: &str) -> UserError {
    UserError::new(format!(
        "RDS instance {instance} (env.{}.database.instance) not found",
        env.name
    ))
    .hint("check database.instance in opsctl.toml, and the region and account in use")
}
