//! Database snapshots and restores (RDS). A snapshot is tagged with who took it and why, and
//! a deploy takes one first where the env asks for it. A restore always creates a new
//! instance with the source's settings, and never modifies or deletes the source.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;
use tokio::time::Instant;

use super::pace::{Pacer, Shown, Stop};
use super::{Event, Interrupt, Outcome, Reporter};
use crate::aws::{Aws, AwsError, DbInstance, DbSnapshot, RestoreSettings};
use crate::config::EnvConfig;
use crate::error::{Exit, UserError};

pub use crate::aws::tags;

/// How long a snapshot or a restore is waited for unless `--timeout` says (and how long a
/// deploy waits for its snapshot): a large database takes a while.
pub const TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// How often to look at a snapshot or an instance: RDS changes slowly and its API is
/// rate-limited.
pub const POLL: Duration = Duration::from_secs(5);

/// The env's database instance, or how to configure one.
pub fn instance_of(env: &EnvConfig) -> Result<&str, UserError> {
    env.database
        .as_ref()
        .map(|d| d.instance.as_str())
        .ok_or_else(|| {
            UserError::new(format!("env.{} names no database", env.name)).hint(format!(
                "add database = {{ instance = \"...\" }} to [env.{}] in opsctl.toml",
                env.name
            ))
        })
}

/// Checks a new RDS instance identifier: 1 to 63 letters, digits and hyphens, starting with a
/// letter, with no trailing hyphen and no two hyphens in a row. Returns it in lower case, as
/// RDS stores it.
pub fn valid_identifier(name: &str) -> Result<String, UserError> {
    let problem = if name.is_empty() || name.len() > 63 {
        Some("must be 1 to 63 characters long")
    } else if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Some("may contain only letters, digits and hyphens")
    } else if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        Some("must start with a letter")
    } else if name.ends_with('-') {
        Some("must not end with a hyphen")
    } else if name.contains("--") {
        Some("must not contain two hyphens in a row")
    } else {
        None
    };
    match problem {
        Some(why) => Err(UserError::new(format!(
            "`{name}` is not a valid RDS instance identifier: it {why}"
        ))
        .hint("pick a name such as users-db-restore-0612")),
        None => Ok(name.to_ascii_lowercase()),
    }
}

/// `{instance}-{yyyymmddhhmmss}` in UTC, with `-{version}` when a deploy takes it (as an
/// identifier: letters, digits and single hyphens).
pub fn snapshot_name(instance: &str, at: Timestamp, version: Option<&str>) -> String {
    let mut name = format!(
        "{instance}-{}{}",
        at.strftime("%Y%m%d%H%M%S"),
        version.map(version_suffix).unwrap_or_default()
    );
    name.truncate(255);
    name.trim_end_matches('-').to_ascii_lowercase()
}

/// `-v1-2-0` for `v1.2.0`; empty when nothing of the version is left.
fn version_suffix(version: &str) -> String {
    let mut clean = String::new();
    for c in version.chars() {
        if c.is_ascii_alphanumeric() {
            clean.push(c.to_ascii_lowercase());
        } else if !clean.ends_with('-') {
            clean.push('-');
        }
    }
    match clean.trim_matches('-') {
        "" => String::new(),
        clean => format!("-{clean}"),
    }
}

/// RDS tag values allow letters, digits, spaces and `_ . : / = + - @`; anything else
/// becomes a space, and values stop at 256 characters.
fn tag_value(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c) {
                c
            } else {
                ' '
            }
        })
        .collect();
    mapped
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(256)
        .collect()
}

fn show_tags(tags: &BTreeMap<String, String>) -> String {
    tags.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

// --- waiting ---------------------------------------------------------------------------

/// The slowest RDS waits poll under throttling.
const MAX_POLL: Duration = Duration::from_secs(60);

/// How polling a resource ended.
enum Polled<R> {
    /// `judge` said the resource settled, with this result.
    Settled(R),
    /// The resource was missing from several answers in a row.
    Vanished,
    TimedOut,
    Interrupted,
}

/// Polls `fetch` at the pacer's pace until `judge` says the resource settled. A resource that
/// is briefly missing (just after its create call) is polled again; one missing for four
/// answers in a row has vanished.
async fn poll_until<'a, T, R>(
    call: &str,
    pacer: &mut Pacer,
    reporter: &dyn Reporter,
    fetch: impl Fn() -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Option<T>, AwsError>> + Send + 'a>,
    >,
    mut judge: impl FnMut(T) -> Option<R>,
) -> anyhow::Result<Polled<R>> {
    let mut unseen = 0;
    loop {
        match fetch().await {
            Ok(Some(seen)) => {
                pacer.answered();
                unseen = 0;
                if let Some(result) = judge(seen) {
                    return Ok(Polled::Settled(result));
                }
            }
            Ok(None) => {
                pacer.answered();
                unseen += 1;
                if unseen > 3 {
                    return Ok(Polled::Vanished);
                }
            }
            Err(e) => pacer.failed(call, e, reporter)?,
        }
        match pacer.nap().await {
            None => {}
            Some(Stop::TimedOut) => return Ok(Polled::TimedOut),
            Some(Stop::Interrupted) => return Ok(Polled::Interrupted),
        }
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

// --- snapshot --------------------------------------------------------------------------

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

fn snapshot_tags(opts: &SnapshotOptions) -> BTreeMap<String, String> {
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

async fn take(
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
    if source.status != "available" {
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
        super::confirm_change(
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
async fn wait_for_snapshot(
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
            let available = s.status == "available";
            let percent = s.percent.unwrap_or(if available { 100 } else { 0 });
            reporter.report(Event::Percent {
                what: what.clone(),
                percent,
            });
            let status = s.status.clone();
            out.snapshot = Some(s);
            if available {
                Some(SnapshotResult::Available)
            } else if SNAPSHOT_FAILED.contains(&status.as_str()) {
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

fn not_found(env: &EnvConfig, instance: &str) -> UserError {
    UserError::new(format!(
        "RDS instance {instance} (env.{}.database.instance) not found",
        env.name
    ))
    .hint("check database.instance in opsctl.toml, and the region and account in use")
}

// --- snapshots -------------------------------------------------------------------------

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
}

/// `opsctl db snapshots ENV`: newest first.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotList {
    pub env: String,
    pub instance: String,
    pub snapshots: Vec<SnapshotRow>,
}

impl Outcome for SnapshotList {
    fn exit(&self) -> Exit {
        Exit::Ok
    }
}

/// `90s`, `5m`, `3h`, `2d`.
fn age(secs: i64) -> String {
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
            return writeln!(f, "{} ({}): no snapshots", self.instance, self.env);
        }
        writeln!(
            f,
            "{} ({}): {} snapshot(s), newest first",
            self.instance,
            self.env,
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

/// Manual and automated snapshots of the env's instance, newest first; `now` gives ages.
pub async fn list(aws: &Aws, env: &EnvConfig, now: Timestamp) -> anyhow::Result<SnapshotList> {
    let instance = instance_of(env)?.to_owned();
    let mut snapshots = aws.db.list_snapshots(&instance).await?;
    snapshots.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
    let snapshots = snapshots
        .into_iter()
        .map(|s| SnapshotRow {
            age_secs: s.created_at.map(|t| now.as_second() - t.as_second()),
            created_by: s.tags.get(tags::CREATED_BY).cloned(),
            reason: s.tags.get(tags::REASON).cloned(),
            version: s.tags.get(tags::VERSION).cloned(),
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
        snapshots,
    })
}

// --- restore ---------------------------------------------------------------------------

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
    /// The new instance is available.
    Restored,
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
    pub result: RestoreResult,
    /// The settings the new instance got (copied from the source).
    pub settings: RestoreSettings,
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
            RestoreResult::Failed => Exit::Failed,
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
        if self.result != RestoreResult::Planned {
            writeln!(
                f,
                "  settings copied from {}: {}",
                self.source,
                describe_settings(&self.settings)
            )?;
        }
        for n in &self.next {
            writeln!(f, "  next: {n}")?;
        }
        Ok(())
    }
}

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

fn describe_settings(s: &RestoreSettings) -> String {
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

fn call_settings(s: &RestoreSettings) -> String {
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

fn restore_window(source: &DbInstance) -> Result<(Timestamp, Timestamp), UserError> {
    match (source.earliest_restorable, source.latest_restorable) {
        (Some(earliest), Some(latest)) => Ok((earliest, latest)),
        _ => Err(UserError::new(format!(
            "{} has no point-in-time restore window (automated backups kept {} days)",
            source.id, source.backup_retention_days
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
    let source = match aws.db.describe_instance(&instance).await {
        Ok(source) => source,
        Err(AwsError::NotFound(..)) => return Err(not_found(env, &instance).into()),
        Err(e) => return Err(e.into()),
    };
    if aws.db.find_instance(&target).await?.is_some() {
        crate::bad_input!(
            "a restore always creates a new instance: pick another --target",
            "an RDS instance named {target} already exists"
        );
    }

    let (from, provenance, call) = match &opts.from {
        RestoreFrom::Snapshot(id) => {
            let Some(snap) = aws.db.describe_snapshot(id).await? else {
                return Err(UserError::new(format!("snapshot {id} not found"))
                    .hint(format!(
                        "list the snapshots with `opsctl db snapshots {}`",
                        env.name
                    ))
                    .into());
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
            if snap.status != "available" {
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
            (
                format!("snapshot {}", snap.id),
                snap.id.clone(),
                format!(
                    "rds:RestoreDBInstanceFromDBSnapshot DBSnapshotIdentifier={} DBInstanceIdentifier={target}",
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
    let settings = copy_settings(
        &source,
        &target,
        BTreeMap::from([
            (tags::RESTORED_FROM.to_owned(), tag_value(&provenance)),
            (tags::CREATED_BY.to_owned(), tag_value(&opts.actor)),
        ]),
    );
    let mut out = RestoreOutcome {
        env: env.name.clone(),
        source: instance.clone(),
        from: from.clone(),
        target: target.clone(),
        result: RestoreResult::Planned,
        settings: settings.clone(),
        instance: None,
        endpoint: None,
        reason: None,
        calls: Vec::new(),
        next: Vec::new(),
        elapsed_secs: 0.0,
    };
    if opts.dry_run {
        out.calls
            .push(format!("{call} {}", call_settings(&settings)));
        if opts.wait {
            out.calls.push(format!(
                "then rds:DescribeDBInstances until {target} is available"
            ));
        }
        out.elapsed_secs = started.elapsed().as_secs_f64();
        return Ok(out);
    }
    super::confirm_change(
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
        RestoreFrom::Snapshot(id) => aws.db.restore_from_snapshot(id, &settings).await,
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
        Err(AwsError::AlreadyExists(e)) => match aws.db.find_instance(&target).await? {
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
    out.instance = Some(created);
    if !opts.wait {
        out.result = RestoreResult::Started;
        out.next = vec![
            format!("aws rds wait db-instance-available --db-instance-identifier {target}"),
            format!(
                "aws rds describe-db-instances --db-instance-identifier {target}   # its endpoint, once available"
            ),
        ];
        out.elapsed_secs = started.elapsed().as_secs_f64();
        return Ok(out);
    }
    wait_for_instance(aws, &mut out, opts, reporter, interrupt).await?;
    if out.result == RestoreResult::Restored {
        out.next = next_steps(env, &out);
    }
    out.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(out)
}

/// Polls the new instance until it is available or failed, reporting its status changes.
async fn wait_for_instance(
    aws: &Aws,
    out: &mut RestoreOutcome,
    opts: &RestoreOptions,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<()> {
    let target = out.target.clone();
    let shown = Shown::start(reporter, format!("{target} to be available"), opts.timeout);
    let mut pacer = Pacer::new(opts.timeout, opts.poll, MAX_POLL, interrupt);
    let mut last_status = out.instance.as_ref().map(|i| i.status.clone());
    let polled = poll_until(
        "DescribeDBInstances",
        &mut pacer,
        reporter,
        || aws.db.find_instance(&target),
        |instance: DbInstance| {
            if last_status.as_deref() != Some(instance.status.as_str()) {
                reporter.step("restore", format!("{target} is {}", instance.status));
                last_status = Some(instance.status.clone());
            }
            let status = instance.status.clone();
            out.instance = Some(instance);
            if status == "available" {
                Some(RestoreResult::Restored)
            } else if INSTANCE_FAILED.contains(&status.as_str()) {
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
            out.reason = Some(format!("not available within {}s", opts.timeout.as_secs()));
            RestoreResult::TimedOut
        }
        Polled::Interrupted => RestoreResult::Interrupted,
    };
    out.result = result;
    if let Some(i) = &out.instance
        && let Some(address) = &i.endpoint
    {
        out.endpoint = Some(match i.port {
            Some(port) => format!("{address}:{port}"),
            None => address.clone(),
        });
    }
    Ok(())
}

/// How to put the restored instance to use.
fn next_steps(env: &EnvConfig, out: &RestoreOutcome) -> Vec<String> {
    let instance = out.instance.as_ref();
    let address = instance
        .and_then(|i| i.endpoint.clone())
        .unwrap_or_else(|| out.target.clone());
    let port = instance
        .and_then(|i| i.port)
        .map(|p| p.to_string())
        .unwrap_or_else(|| "its port".into());
    let services = env.services();
    let mut next = vec![
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
    ];
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
        if out.settings.deletion_protection {
            " (deletion protection is on for both)"
        } else {
            ""
        }
    ));
    next
}

#[cfg(test)]
pub(crate) mod tests;
