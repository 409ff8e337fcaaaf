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
        match &self.snapshot {
            Some(s) => match s.percent {
                Some(p) => format!("{}, {p}%", s.status),
                None => s.status.clone(),
            },
            None => "not created".into(),
        }
    }
}

impl Outcome for SnapshotOutcome {
    fn exit(&self) -> Exit {
        match self.result {
            SnapshotResult::Available | SnapshotResult::Started | SnapshotResult::Planned => {
                Exit::Ok
            }
            SnapshotResult::Failed => Exit::Failed,
            SnapshotResult::TimedOut => Exit::TimedOut,
            SnapshotResult::Interrupted => Exit::Interrupted,
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
        elapsed_secs: 0.0,
    };
    if opts.dry_run {
        out.calls.push(format!(
            "rds:CreateDBSnapshot DBInstanceIdentifier={instance} DBSnapshotIdentifier={id} Tags={}",
            show_tags(&tags)
        ));
        if opts.wait {
            out.calls.push(format!(
                "then rds:DescribeDBSnapshots until {id} is available"
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
    if !opts.wait {
        out.result = SnapshotResult::Started;
        out.elapsed_secs = started.elapsed().as_secs_f64();
        return Ok(out);
    }
    wait_for_snapshot(aws, &mut out, opts, reporter, interrupt).await?;
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
    let what = format!("snapshot {}", out.snapshot_id);
    let shown = Shown::start(reporter, what.clone(), opts.timeout);
    let mut pacer = Pacer::new(opts.timeout, opts.poll, MAX_POLL, interrupt);
    let id = out.snapshot_id.clone();
    let polled = poll_until(
        "DescribeDBSnapshots",
        &mut pacer,
        reporter,
        || aws.db.describe_snapshot(&id),
        |s: DbSnapshot| {
            let (available, failed) = (s.is_available(), s.has_failed());
            let percent = s.percent.unwrap_or(if available { 100 } else { 0 });
            reporter.report(Event::Percent {
                what: what.clone(),
                percent,
            });
            let status = s.status.clone();
            out.snapshot = Some(s);
            if available {
                Some(SnapshotResult::Available)
            } else if failed {
                out.reason = Some(format!("RDS reports the snapshot {status}"));
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
            out.reason = Some("the snapshot disappeared".into());
            SnapshotResult::Failed
        }
        Polled::TimedOut => {
            out.reason = Some(format!("not available within {}s", opts.timeout.as_secs()));
            SnapshotResult::TimedOut
        }
        Polled::Interrupted => SnapshotResult::Interrupted,
    };
    out.result = result;
    Ok(())
}

pub(super) fn not_found(env: &EnvConfig, instance: &str) -> UserError {
    UserError::new(format!(
        "RDS instance {instance} (env.{}.database.instance) not found",
        env.name
    ))
    .hint("check database.instance in opsctl.toml, and the region and account in use")
}
