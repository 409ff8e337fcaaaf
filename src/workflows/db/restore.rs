//! `opsctl db restore`: from a snapshot or a point in time, always into a new instance with the source's settings.

use super::*;

/// What to restore.
#[derive(Debug, Clone, PartialEq)]
pub enum RestoreFrom {
    /// A snapshot of the env's instance, by id.
    Snapshot(String),
    /// The env's instance as it was at this time.
    Time(Timestamp),
    /// The env's instance at its latest restorable time.
    Latest,
}

/// How to restore.
#[derive(Debug, Clone)]
pub struct RestoreOptions {
    pub from: RestoreFrom,
    /// The new instance's identifier.
    pub target: String,
    /// Restore a snapshot copied to this region (`database.dr`) into that region.
    pub region: Option<String>,
    /// Wait until the new instance is available.
    pub wait: bool,
    pub dry_run: bool,
    pub timeout: Duration,
    pub poll: Duration,
    /// Who restores, for the `opsctl:created-by` tag.
    pub actor: String,
}

/// How a restore ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RestoreResult {
    /// The new instance is available with every setting of the source.
    Restored,
    /// The new instance is available, but settings differ from the source's (listed).
    Incomplete,
    /// Started; nobody waited.
    Started,
    /// `--dry-run`: nothing changed.
    Planned,
    Failed,
    TimedOut,
    Interrupted,
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreOutcome {
    pub env: String,
    /// The env's instance, which the restore never changes.
    pub source: String,
    /// What was restored, in words.
    pub from: String,
    pub target: String,
    /// The region the new instance is in.
    pub region: String,
    pub result: RestoreResult,
    /// The settings the new instance got (copied from the source).
    pub settings: RestoreSettings,
    /// What no restore call takes, set with ModifyDBInstance once the instance was available.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub set_after: Vec<&'static str>,
    /// The source could not be read (its region lost): the settings it did not copy, which
    /// the new instance has from the snapshot or RDS's defaults.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_copied: Vec<String>,
    /// Settings of the new instance that still differ from the source's, as
    /// `name: source -> new`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<String>,
    /// The new instance as last seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<DbInstance>,
    /// `address:port`, once available.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The calls a dry run would make.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<String>,
    /// What to do next.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub next: Vec<String>,
    pub elapsed_secs: f64,
}

impl RestoreOutcome {
    fn status(&self) -> &str {
        self.instance
            .as_ref()
            .map_or("unknown", |i| i.status.as_str())
    }
}

impl Outcome for RestoreOutcome {
    fn exit(&self) -> Exit {
        match self.result {
            RestoreResult::Restored | RestoreResult::Started | RestoreResult::Planned => Exit::Ok,
            RestoreResult::Failed | RestoreResult::Incomplete => Exit::Failed,
            RestoreResult::TimedOut => Exit::TimedOut,
            RestoreResult::Interrupted => Exit::Interrupted,
        }
    }
}

impl fmt::Display for RestoreOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (from, target) = (&self.from, &self.target);
        let secs = self.elapsed_secs;
        match self.result {
            RestoreResult::Restored => {
                writeln!(
                    f,
                    "restored {from} into new instance {target} in {secs:.0}s"
                )?;
                if let Some(endpoint) = &self.endpoint {
                    writeln!(f, "  endpoint: {endpoint}")?;
                }
            }
            RestoreResult::Incomplete if !self.not_copied.is_empty() => {
                writeln!(
                    f,
                    "restored {from} into new instance {target} in {secs:.0}s with the snapshot's own settings, not all of {}'s (the instance is available)",
                    self.source
                )?;
                if let Some(endpoint) = &self.endpoint {
                    writeln!(f, "  endpoint: {endpoint}")?;
                }
            }
            RestoreResult::Incomplete => {
                writeln!(
                    f,
                    "restored {from} into new instance {target} in {secs:.0}s, but {} setting(s) differ from {} (the instance is available):",
                    self.differences.len(),
                    self.source
                )?;
                for d in &self.differences {
                    writeln!(f, "  differs: {d}")?;
                }
                if let Some(endpoint) = &self.endpoint {
                    writeln!(f, "  endpoint: {endpoint}")?;
                }
            }
            RestoreResult::Started => writeln!(
                f,
                "restoring {from} into new instance {target} ({}); not waiting",
                self.status()
            )?,
            RestoreResult::Planned => {
                writeln!(
                    f,
                    "would restore {from} into new instance {target} (nothing changed)\ncalls:"
                )?;
                for call in &self.calls {
                    writeln!(f, "  {call}")?;
                }
            }
            RestoreResult::Failed => writeln!(
                f,
                "restore of {from} into {target} FAILED ({})",
                self.status()
            )?,
            RestoreResult::TimedOut => writeln!(
                f,
                "{target} is still {} after {secs:.0}s (timed out); the restore goes on in AWS",
                self.status()
            )?,
            RestoreResult::Interrupted => writeln!(
                f,
                "stopped waiting for {target} ({}); the restore goes on in AWS",
                self.status()
            )?,
        }
        if let Some(reason) = &self.reason {
            writeln!(f, "  reason: {reason}")?;
        }
        if !self.not_copied.is_empty() {
            writeln!(
                f,
                "  not copied from {} (it could not be read): {}",
                self.source,
                self.not_copied.join(", ")
            )?;
        } else if self.result != RestoreResult::Planned {
            writeln!(
                f,
                "  settings copied from {}: {}",
                self.source,
                describe_settings(&self.settings)
            )?;
            if !self.set_after.is_empty() {
                writeln!(
                    f,
                    "  set once available (no restore call takes them): {}",
                    self.set_after.join(", ")
                )?;
            }
        }
        for n in &self.next {
            writeln!(f, "  next: {n}")?;
        }
        Ok(())
    }
}

/// Refuses a time outside the instance's restore window, naming both bounds.
pub fn check_restore_time(source: &DbInstance, time: Timestamp) -> Result<(), UserError> {
    let (earliest, latest) = restore_window(source)?;
    if time < earliest || time > latest {
        return Err(UserError::new(format!(
            "restore time {time} is outside the restorable window of {}: earliest {earliest}, latest {latest}",
            source.id
        ))
        .hint(format!(
            "pick a time from {earliest} to {latest}, or pass --latest"
        )));
    }
    Ok(())
}

pub(super) fn restore_window(source: &DbInstance) -> Result<(Timestamp, Timestamp), UserError> {
    match (source.earliest_restorable, source.latest_restorable) {
        (Some(earliest), Some(latest)) => Ok((earliest, latest)),
        _ => Err(UserError::new(format!(
            "{} has no point-in-time restore window (automated backups kept {} days)",
            source.id, source.settings.backup_retention_days
        ))
        .hint("restore a snapshot with --snapshot ID instead (see `opsctl db snapshots ENV`)")),
    }
}

/// `opsctl db restore ENV`: restores a snapshot or a point in time of the env's instance
/// into a NEW instance with the source's settings, and waits until it is available. Every
/// check runs before the one call that creates something; the source is never changed.
pub async fn restore(
    aws: &Aws,
    env: &EnvConfig,
    opts: &RestoreOptions,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<RestoreOutcome> {
    let started = Instant::now();
    let instance = instance_of(env)?.to_owned();
    let target = valid_identifier(&opts.target)?;
    if target == instance {
        crate::bad_input!(
            "name a new instance with --target",
            "--target {target} is the env's own instance; a restore never overwrites it"
        );
    }
    let (db, dr) = match &opts.region {
        Some(region) => {
            let Some(dr) = dr_for(env, region) else {
                crate::bad_input!(
                    format!(
                        "set database.dr = {{ region = \"{region}\", subnet_group = \"...\" }} in [env.{}]",
                        env.name
                    ),
                    "env.{}.database.dr does not name {region}: a restore there needs its subnet group",
                    env.name
                );
            };
            if !matches!(opts.from, RestoreFrom::Snapshot(_)) {
                crate::bad_input!(
                    format!(
                        "copy a snapshot there with `opsctl db copy {} --snapshot ID`, then restore it with --snapshot ID --to-region {region}",
                        env.name
                    ),
                    "a restore in {region} is made from a snapshot copied there; a point-in-time restore stays in the env's region"
                );
            }
            (other_region(aws, env, region, "--to-region")?, Some(dr))
        }
        None => (aws.db.clone(), None),
    };
    let region = opts
        .region
        .clone()
        .or_else(|| aws.regions.home())
        .unwrap_or_default();
    // The env's region may be the one that is lost: a restore in the recovery region then
    // goes on with the snapshot's own settings, and says what it could not copy.
    let mut unreadable = None;
    let source = match aws.db.describe_instance(&instance).await {
        Ok(source) => source,
        Err(AwsError::NotFound(..)) => return Err(not_found(env, &instance).into()),
        Err(e @ (AwsError::Unreachable(_) | AwsError::Other(_))) if dr.is_some() => {
            reporter.warn(format!(
                "{instance} cannot be read in its own region ({e}); restoring the copy with the snapshot's own settings"
            ));
            unreadable = Some(e.to_string());
            unread_source(&instance)
        }
        Err(e) => return Err(e.into()),
    };
    if db.find_instance(&target).await?.is_some() {
        crate::bad_input!(
            "a restore always creates a new instance: pick another --target",
            "an RDS instance named {target} already exists in {region}"
        );
    }

    let (from, provenance, call) = match &opts.from {
        RestoreFrom::Snapshot(id) => {
            let Some(snap) = db.describe_snapshot(id).await? else {
                let listing = match &opts.region {
                    Some(r) => format!("opsctl db snapshots {} --region {r}", env.name),
                    None => format!("opsctl db snapshots {}", env.name),
                };
                return Err(
                    UserError::new(format!("snapshot {id} not found in {region}"))
                        .hint(format!("list the snapshots with `{listing}`"))
                        .into(),
                );
            };
            if snap.instance != source.id {
                crate::bad_input!(
                    format!(
                        "restore a snapshot of {} (see `opsctl db snapshots {}`)",
                        source.id, env.name
                    ),
                    "snapshot {id} is of instance {}, not of {} (env.{}'s database)",
                    snap.instance,
                    source.id,
                    env.name
                );
            }
            if !snap.is_available() {
                let progress = snap.percent.map(|p| format!(", {p}%")).unwrap_or_default();
                crate::bad_input!(
                    format!(
                        "wait until `opsctl db snapshots {}` shows it available, or pick another",
                        env.name
                    ),
                    "snapshot {id} is {}{progress}; only an available snapshot can be restored",
                    snap.status
                );
            }
            let (whence, call_in) = match &opts.region {
                Some(r) => (format!(" (in {r})"), format!(" (in {r})")),
                None => (String::new(), String::new()),
            };
            (
                format!("snapshot {}{whence}", snap.id),
                format!(
                    "{}{}",
                    snap.id,
                    opts.region
                        .as_deref()
                        .map(|r| format!("@{r}"))
                        .unwrap_or_default()
                ),
                format!(
                    "rds:RestoreDBInstanceFromDBSnapshot{call_in} DBSnapshotIdentifier={} DBInstanceIdentifier={target}",
                    snap.id
                ),
            )
        }
        RestoreFrom::Time(time) => {
            check_restore_time(&source, *time)?;
            (
                format!("{instance} as of {time}"),
                format!("{instance}@{time}"),
                format!(
                    "rds:RestoreDBInstanceToPointInTime SourceDBInstanceIdentifier={instance} \
                     TargetDBInstanceIdentifier={target} RestoreTime={time}"
                ),
            )
        }
        RestoreFrom::Latest => {
            let (_, latest) = restore_window(&source)?;
            (
                format!("{instance} at its latest restorable time (about {latest})"),
                format!("{instance}@latest"),
                format!(
                    "rds:RestoreDBInstanceToPointInTime SourceDBInstanceIdentifier={instance} \
                     TargetDBInstanceIdentifier={target} UseLatestRestorableTime=true"
                ),
            )
        }
    };
    let mut settings = copy_settings(
        &source,
        &target,
        BTreeMap::from([
            (tags::RESTORED_FROM.to_owned(), tag_value(&provenance)),
            (tags::CREATED_BY.to_owned(), tag_value(&opts.actor)),
        ]),
    );
    if let Some(dr) = dr {
        recovery_settings(&mut settings.settings, dr);
    }
    let mut out = RestoreOutcome {
        env: env.name.clone(),
        source: instance.clone(),
        from: from.clone(),
        target: target.clone(),
        region: region.clone(),
        result: RestoreResult::Planned,
        settings: settings.clone(),
        set_after: Vec::new(),
        not_copied: Vec::new(),
        differences: Vec::new(),
        instance: None,
        endpoint: None,
        reason: None,
        calls: Vec::new(),
        next: Vec::new(),
        elapsed_secs: 0.0,
    };
    if opts.dry_run && unreadable.is_some() {
        out.calls.push(format!(
            "{call} (the snapshot's own settings) DBSubnetGroupName={} Tags={}",
            settings.settings.subnet_group.clone().unwrap_or_default(),
            show_tags(&settings.tags)
        ));
        out.elapsed_secs = started.elapsed().as_secs_f64();
        return Ok(out);
    }
    if opts.dry_run {
        out.calls
            .push(format!("{call} {}", call_settings(&settings)));
        if opts.wait {
            out.calls.push(format!(
                "then rds:DescribeDBInstances until {target} is available"
            ));
            let later = settings.settings.later(&DbSettings::default());
            if !later.is_empty() {
                out.calls.push(format!(
                    "then rds:ModifyDBInstance {target} ApplyImmediately=true for what no restore call takes: {}",
                    later.names().join(", ")
                ));
            }
        }
        out.elapsed_secs = started.elapsed().as_secs_f64();
        return Ok(out);
    }
    crate::workflows::confirm_change(
        env,
        reporter,
        interrupt,
        &format!(
            "Restore {from} into a new instance {target} ({})?",
            env.name
        ),
    )?;

    reporter.step(
        "restore",
        format!("restoring {from} into new instance {target}"),
    );
    let created = match &opts.from {
        RestoreFrom::Snapshot(id) if unreadable.is_some() => {
            db.restore_from_snapshot_as_is(id, &settings).await
        }
        RestoreFrom::Snapshot(id) => db.restore_from_snapshot(id, &settings).await,
        RestoreFrom::Time(time) => {
            aws.db
                .restore_to_time(&instance, Some(*time), &settings)
                .await
        }
        RestoreFrom::Latest => aws.db.restore_to_time(&instance, None, &settings).await,
    };
    let created = match created {
        Ok(created) => created,
        // `target` did not exist a moment ago: one that exists now with the tags this call
        // set is the instance it made, met by the retry of a call whose answer was lost.
        Err(AwsError::AlreadyExists(e)) => match db.find_instance(&target).await? {
            Some(found)
                if settings
                    .tags
                    .iter()
                    .filter(|(k, _)| k.starts_with("opsctl:"))
                    .all(|(k, v)| found.tags.get(k) == Some(v)) =>
            {
                reporter.warn(format!(
                    "the answer to the restore call was lost; {target} is the instance it made"
                ));
                found
            }
            _ => return Err(AwsError::AlreadyExists(e).into()),
        },
        Err(e) => return Err(e.into()),
    };
    let later = if unreadable.is_some() {
        LaterSettings::default()
    } else {
        settings.settings.later(&created.settings)
    };
    out.instance = Some(created);
    if !opts.wait {
        out.result = RestoreResult::Started;
        out.next = vec![
            format!("aws rds wait db-instance-available --db-instance-identifier {target}"),
            format!(
                "aws rds describe-db-instances --db-instance-identifier {target}   # its endpoint, once available"
            ),
        ];
        if !later.is_empty() {
            out.next.push(format!(
                "once available, set what no restore call takes ({}): {}",
                later.names().join(", "),
                modify_command(&target, &later)
            ));
        }
        out.elapsed_secs = started.elapsed().as_secs_f64();
        return Ok(out);
    }
    wait_for_instance(db.as_ref(), &mut out, opts, reporter, interrupt, &|_| true).await?;
    if let Some(why) = &unreadable {
        out.not_copied = not_copied_as_is();
        if out.result == RestoreResult::Restored {
            out.result = RestoreResult::Incomplete;
        }
        out.reason = Some(format!(
            "{instance} could not be read in its own region ({why}): the new instance has the snapshot's class, storage and port and RDS's defaults for the rest; set the others once {instance} can be read again, or by hand"
        ));
    } else if out.result == RestoreResult::Restored {
        finish_settings(db.as_ref(), &mut out, opts, reporter, interrupt).await?;
    }
    if matches!(
        out.result,
        RestoreResult::Restored | RestoreResult::Incomplete
    ) {
        out.next = next_steps(env, &source, &out, opts.region.as_deref());
    }
    out.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(out)
}

/// Sets what no restore call takes with one ModifyDBInstance, waits until the instance shows
/// it, and compares every setting with those it was to get (the source's, with a recovery
/// region's own where it restores into one).
async fn finish_settings(
    db: &dyn crate::aws::Database,
    out: &mut RestoreOutcome,
    opts: &RestoreOptions,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<()> {
    let target = out.target.clone();
    let restored = out.instance.as_ref().map(|i| i.settings.clone());
    let wanted = out.settings.settings.clone();
    let later = wanted.later(&restored.unwrap_or_default());
    if !later.is_empty() {
        let names = later.names();
        reporter.step(
            "restore",
            format!("setting what no restore call takes: {}", names.join(", ")),
        );
        match db.modify_instance(&target, &later).await {
            Ok(instance) => {
                out.instance = Some(instance);
                out.set_after = names;
                let wanted = &wanted;
                wait_for_instance(db, out, opts, reporter, interrupt, &|i| {
                    wanted.later(&i.settings).is_empty()
                })
                .await?;
                if out.result != RestoreResult::Restored {
                    return Ok(());
                }
            }
            Err(e) => {
                reporter.warn(format!("ModifyDBInstance {target} failed: {e}"));
                out.next.push(format!(
                    "set them by hand: {}",
                    modify_command(&target, &later)
                ));
            }
        }
    }
    if let Some(found) = db.find_instance(&target).await? {
        out.differences = wanted.differences(&found.settings);
        out.instance = Some(found);
    }
    if !out.differences.is_empty() {
        out.result = RestoreResult::Incomplete;
    }
    Ok(())
}

/// The aws CLI call that sets what no restore call takes.
fn modify_command(target: &str, later: &LaterSettings) -> String {
    let mut cmd =
        format!("aws rds modify-db-instance --db-instance-identifier {target} --apply-immediately");
    if let Some((interval, role)) = &later.monitoring {
        cmd.push_str(&format!(" --monitoring-interval {interval}"));
        if let Some(role) = role {
            cmd.push_str(&format!(" --monitoring-role-arn {role}"));
        }
    }
    if let Some((enabled, key, days)) = &later.performance_insights {
        if *enabled {
            cmd.push_str(" --enable-performance-insights");
            if let Some(key) = key {
                cmd.push_str(&format!(" --performance-insights-kms-key-id {key}"));
            }
            if let Some(days) = days {
                cmd.push_str(&format!(" --performance-insights-retention-period {days}"));
            }
        } else {
            cmd.push_str(" --no-enable-performance-insights");
        }
    }
    if let Some(mode) = &later.database_insights_mode {
        cmd.push_str(&format!(" --database-insights-mode {mode}"));
    }
    if let Some(window) = &later.maintenance_window {
        cmd.push_str(&format!(" --preferred-maintenance-window {window}"));
    }
    if let Some(gb) = later.max_allocated_gb {
        cmd.push_str(&format!(" --max-allocated-storage {gb}"));
    }
    cmd
}

/// Polls the new instance until it is available (and `settled`) or failed, reporting its
/// status changes.
pub(super) async fn wait_for_instance(
    db: &dyn crate::aws::Database,
    out: &mut RestoreOutcome,
    opts: &RestoreOptions,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
    settled: &(dyn Fn(&DbInstance) -> bool + Sync),
) -> anyhow::Result<()> {
    let target = out.target.clone();
    let shown = Shown::start(reporter, format!("{target} to be available"), opts.timeout);
    let mut pacer = Pacer::new(opts.timeout, opts.poll, MAX_POLL, interrupt);
    let mut last_status = out.instance.as_ref().map(|i| i.status.clone());
    let polled = poll_until(
        "DescribeDBInstances",
        &mut pacer,
        reporter,
        || db.find_instance(&target),
        |instance: DbInstance| {
            if last_status.as_deref() != Some(instance.status.as_str()) {
                reporter.step("restore", format!("{target} is {}", instance.status));
                last_status = Some(instance.status.clone());
            }
            let status = instance.status.clone();
            let (available, failed) = (
                instance.is_available() && settled(&instance),
                instance.has_failed(),
            );
            out.instance = Some(instance);
            if available {
                Some(RestoreResult::Restored)
            } else if failed {
                out.reason = Some(format!("RDS reports the new instance {status}"));
                Some(RestoreResult::Failed)
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
            out.reason = Some(format!("{target} disappeared"));
            RestoreResult::Failed
        }
        Polled::TimedOut => {
            out.reason = Some(format!(
                "not available with its settings within {}s",
                opts.timeout.as_secs()
            ));
            RestoreResult::TimedOut
        }
        Polled::Interrupted => RestoreResult::Interrupted,
    };
    out.result = result;
    if let Some(i) = &out.instance
        && let Some(address) = &i.endpoint
    {
        out.endpoint = Some(match i.settings.port {
            Some(port) => format!("{address}:{port}"),
            None => address.clone(),
        });
    }
    Ok(())
}

/// The source as known when it cannot be read: its name only.
fn unread_source(instance: &str) -> DbInstance {
    DbInstance {
        id: instance.to_owned(),
        arn: String::new(),
        status: "unknown".into(),
        engine: String::new(),
        engine_version: String::new(),
        encrypted: false,
        kms_key: None,
        zone: None,
        secondary_az: None,
        directory: None,
        settings: DbSettings::default(),
        tags: BTreeMap::new(),
        endpoint: None,
        earliest_restorable: None,
        latest_restorable: None,
        created_at: None,
    }
}

/// The settings a restore with the snapshot's own settings does not copy from the source:
/// all but what the snapshot holds (class, storage, port, license) and where it goes.
fn not_copied_as_is() -> Vec<String> {
    const CARRIED: &[&str] = &[
        "class",
        "port",
        "storage_type",
        "allocated_gb",
        "iops",
        "storage_throughput",
        "license_model",
        "subnet_group",
        "security_groups",
        "parameter_group",
        "option_group",
    ];
    match serde_json::to_value(DbSettings::default()) {
        Ok(serde_json::Value::Object(map)) => map
            .keys()
            .filter(|k| !CARRIED.contains(&k.as_str()))
            .cloned()
            .collect(),
        _ => Vec::new(),
    }
}

/// A restore into the recovery region takes that region's network, groups and keys: the
/// subnet group and security groups named in `database.dr`, its parameter and option groups
/// where named (else the source's names), RDS's default keys there, and any zone.
pub fn recovery_settings(settings: &mut DbSettings, dr: &crate::config::DisasterRecovery) {
    settings.subnet_group = Some(dr.subnet_group.clone());
    settings.security_groups = dr.security_groups.clone();
    if let Some(group) = &dr.parameter_group {
        settings.parameter_group = Some(group.clone());
    }
    if let Some(group) = &dr.option_group {
        settings.option_group = Some(group.clone());
    }
    settings.availability_zone = None;
    settings.master_secret_kms_key = None;
    settings.performance_insights_kms_key = None;
}

/// How to put the restored instance to use.
pub(super) fn next_steps(
    env: &EnvConfig,
    source: &DbInstance,
    out: &RestoreOutcome,
    recovery_region: Option<&str>,
) -> Vec<String> {
    let instance = out.instance.as_ref();
    let address = instance
        .and_then(|i| i.endpoint.clone())
        .unwrap_or_else(|| out.target.clone());
    let port = instance
        .and_then(|i| i.settings.port)
        .map(|p| p.to_string())
        .unwrap_or_else(|| "its port".into());
    let services = env.services();
    let mut next = out.next.clone();
    if let Some(directory) = &source.directory {
        next.push(format!(
            "{} is joined to directory {directory} and a restore does not join: \
             aws rds modify-db-instance --db-instance-identifier {} --domain {directory} --domain-iam-role-name ROLE --apply-immediately",
            out.source, out.target
        ));
    }
    if let Some(region) = recovery_region {
        next.extend([
            format!(
                "check the data: connect to {address} port {port} with {}'s credentials",
                out.source
            ),
            format!(
                "point the service in {region} at it (its own environment in opsctl.toml): DB_HOST={address} and DB_PORT={port}, or the `host` of the database secret it reads there; then deploy it there and move DNS to {region}'s load balancer"
            ),
            format!(
                "{} in {} is unchanged; once its region is back, decide which instance to keep",
                out.source,
                env.region.as_deref().unwrap_or("the env's region")
            ),
        ]);
        return next;
    }
    next.extend([
        format!(
            "check the data: connect to {address} port {port} with {}'s credentials",
            out.source
        ),
        format!(
            "point {} at it: set the `host` (and `port`) of the database secret it reads, or DB_HOST={address} and DB_PORT={port} in its task definition",
            if services.is_empty() {
                "the service".to_owned()
            } else {
                services.join(" and ")
            }
        ),
    ]);
    next.push(match services.first() {
        Some(service) => format!(
            "start tasks that read it: your next `opsctl deploy {} --version TAG`, or now with \
             `aws ecs update-service --cluster {} --service {service} --force-new-deployment` \
             and `opsctl wait-stable {}`",
            env.name, env.cluster, env.name
        ),
        None => format!(
            "start tasks that read it: `opsctl deploy {} --version TAG`",
            env.name
        ),
    });
    next.push(format!(
        "{} is unchanged; once you have switched, retire the instance you no longer need{}",
        out.source,
        if out.settings.settings.deletion_protection {
            " (deletion protection is on for both)"
        } else {
            ""
        }
    ));
    next
}
