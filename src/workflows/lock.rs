//! The deploy lock: every command that changes an environment takes it first and holds it
//! until it ends, renewing its lease while it works; a second one is refused at once, naming
//! the holder, or waits with `--wait-for-lock`. `opsctl lock` sets a freeze by hand (no
//! lease: it holds until `opsctl unlock`), and `opsctl unlock` clears any lock.
//!
//! The records live in AWS itself (see [`crate::aws::LockRecord`]): taking the lock is
//! creating the record after the highest one, which exactly one of two racers can do.

use std::fmt;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::pace::{Pacer, Stop};
use super::{Interrupt, Outcome, Reporter};
use crate::aws::{Aws, AwsError, LockRecord, Released, lock_path};
use crate::config::EnvConfig;
use crate::error::{Exit, Interrupted, UserError};

/// How long a lock holds without renewal: a holder that died frees it after this.
pub const LEASE: Duration = Duration::from_secs(600);
/// How often a holder renews its lease.
pub const RENEW: Duration = Duration::from_secs(120);
/// How often `--wait-for-lock` looks again.
pub const POLL: Duration = Duration::from_secs(5);

/// A lock this process holds.
#[derive(Debug, Clone)]
pub struct Held {
    pub path: String,
    pub number: u64,
    pub record: LockRecord,
}

/// Who wants the lock, and for what.
#[derive(Debug, Clone)]
pub struct Want {
    pub holder: String,
    /// `deploy v1.2.4`, `rollback`, ...
    pub command: String,
    /// How long to wait for another holder to finish; zero: refuse at once.
    pub wait: Duration,
}

fn read_error(e: AwsError) -> anyhow::Error {
    anyhow::Error::new(e).context("could not read the deploy lock (Parameter Store)")
}

/// The records under `path`, highest number first, with their parsed values.
async fn records(aws: &Aws, path: &str) -> anyhow::Result<Vec<(u64, Option<LockRecord>)>> {
    let mut all: Vec<(u64, Option<LockRecord>)> = aws
        .locks
        .records(path)
        .await
        .map_err(read_error)?
        .into_iter()
        .map(|(n, v)| (n, LockRecord::parse(&v)))
        .collect();
    all.sort_by_key(|r| std::cmp::Reverse(r.0));
    Ok(all)
}

/// The lock holding `env` now, if any, with its number.
async fn holding(aws: &Aws, path: &str) -> anyhow::Result<(u64, Option<LockRecord>)> {
    let all = records(aws, path).await?;
    let now = Timestamp::now();
    Ok(match all.first() {
        None => (0, None),
        // A value opsctl did not write holds nothing; the next number is still taken after it.
        Some((n, record)) => (*n, record.clone().filter(|r| r.holds(now))),
    })
}

/// `12:03:10 UTC`, with the date when it is not today.
fn clock(t: Timestamp) -> String {
    let now = Timestamp::now();
    if now.strftime("%F").to_string() == t.strftime("%F").to_string() {
        t.strftime("%H:%M:%S UTC").to_string()
    } else {
        t.strftime("%F %H:%M:%S UTC").to_string()
    }
}

/// `prod is locked by ci@runner-7 (deploy v1.2.4) since 12:03:10 UTC`.
pub fn describe(env: &str, r: &LockRecord) -> String {
    format!("{env} is {}", held_as(r))
}

/// `locked by ci@runner-7 (deploy v1.2.4) since 12:03:10 UTC`, or a freeze's
/// `frozen by … since …: reason`.
fn held_as(r: &LockRecord) -> String {
    if r.is_freeze() {
        format!(
            "frozen by {} since {}{}",
            r.holder,
            clock(r.since),
            r.reason
                .as_deref()
                .map(|why| format!(": {why}"))
                .unwrap_or_default()
        )
    } else {
        format!(
            "locked by {} ({}) since {}",
            r.holder,
            r.command,
            clock(r.since)
        )
    }
}

fn refused(env: &str, r: &LockRecord, waited: Option<Duration>) -> anyhow::Error {
    let waited = waited
        .map(|w| format!(" (waited {})", humantime::format_duration(w)))
        .unwrap_or_default();
    let hint = if r.is_freeze() {
        format!("deploys are refused until the freeze ends: `opsctl unlock {env}` clears it")
    } else {
        format!(
            "wait for it (--wait-for-lock 15m), or `opsctl unlock {env}` if it is gone; \
             it expires by itself {} after its holder stops renewing it",
            humantime::format_duration(LEASE)
        )
    };
    UserError::new(format!("{}{waited}; nothing changed", describe(env, r)))
        .hint(hint)
        .into()
}

/// A new record, held from now, with its own token.
fn fresh(
    holder: &str,
    command: &str,
    expires: Option<Timestamp>,
    reason: Option<String>,
) -> LockRecord {
    LockRecord {
        holder: holder.to_owned(),
        command: command.to_owned(),
        since: Timestamp::now(),
        expires,
        reason,
        released: None,
        token: token(),
    }
}

fn token() -> String {
    format!("{}-{:016x}", std::process::id(), fastrand::u64(..))
}

/// Creates the record after `highest`; `Some` when this process won it.
async fn take(
    aws: &Aws,
    path: &str,
    highest: u64,
    record: LockRecord,
    reporter: &dyn Reporter,
) -> anyhow::Result<Option<Held>> {
    let number = highest + 1;
    let won = aws
        .locks
        .create(path, number, &record.to_value())
        .await
        .map_err(|e| anyhow::Error::new(e).context("could not take the deploy lock"))?;
    if !won {
        return Ok(None);
    }
    // The older records no longer matter; a failure to delete them is only untidy.
    let older: Vec<u64> = records(aws, path)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| *n < number)
        .collect();
    if !older.is_empty()
        && let Err(e) = aws.locks.delete(path, &older).await
    {
        reporter.warn(format!("could not delete old deploy lock records: {e}"));
    }
    Ok(Some(Held {
        path: path.to_owned(),
        number,
        record,
    }))
}

/// Takes `env`'s lock for `want`, waiting up to `want.wait` for another holder; refuses
/// with the holder named (exit 2, nothing changed) otherwise.
pub async fn acquire(
    aws: &Aws,
    env: &EnvConfig,
    want: &Want,
    reporter: &dyn Reporter,
    interrupt: &Interrupt,
) -> anyhow::Result<Held> {
    let path = lock_path(&env.cluster, &env.name);
    let mut pacer = Pacer::new(want.wait, POLL, POLL * 3, interrupt);
    let mut said = false;
    loop {
        let (highest, held) = holding(aws, &path).await?;
        match held {
            None => {
                let now = Timestamp::now();
                let record = fresh(
                    &want.holder,
                    &want.command,
                    Some(now + SignedDuration::try_from(LEASE).unwrap_or_default()),
                    None,
                );
                if let Some(held) = take(aws, &path, highest, record, reporter).await? {
                    return Ok(held);
                }
                // Another command took it between the read and the create: read it again,
                // to name the holder.
                continue;
            }
            Some(r) if want.wait.is_zero() || r.is_freeze() => {
                return Err(refused(&env.name, &r, None));
            }
            Some(r) => {
                if !said {
                    reporter.step(
                        "lock",
                        format!(
                            "{}; waiting up to {}",
                            describe(&env.name, &r),
                            humantime::format_duration(want.wait)
                        ),
                    );
                    said = true;
                }
                match pacer.nap().await {
                    None => {}
                    Some(Stop::TimedOut) => return Err(refused(&env.name, &r, Some(want.wait))),
                    Some(Stop::Interrupted) => {
                        return Err(Interrupted(format!(
                            "interrupted while waiting for the deploy lock ({}); nothing changed",
                            describe(&env.name, &r)
                        ))
                        .into());
                    }
                }
            }
        }
    }
}

/// Extends the lease. An error when the lock was lost (its lease ran out and another
/// command took it): the caller says so loudly.
pub async fn renew(aws: &Aws, held: &mut Held) -> anyhow::Result<()> {
    let all = records(aws, &held.path).await?;
    if let Some((_, other)) = all.iter().find(|(n, _)| *n > held.number) {
        let who = other
            .as_ref()
            .map(|r| format!("{} ({})", r.holder, r.command))
            .unwrap_or_else(|| "another command".into());
        anyhow::bail!("this command's deploy lock ran out and {who} took it");
    }
    let own = all
        .iter()
        .find(|(n, _)| *n == held.number)
        .and_then(|(_, r)| r.as_ref());
    match own {
        Some(r) if r.token != held.record.token => {
            anyhow::bail!(
                "this command's deploy lock record was replaced by {}",
                r.holder
            )
        }
        Some(LockRecord {
            released: Some(by), ..
        }) => anyhow::bail!(
            "this command's deploy lock was cleared by {} (opsctl unlock)",
            by.by
        ),
        Some(_) => {}
        None => anyhow::bail!("this command's deploy lock record was deleted"),
    }
    held.record.expires =
        Some(Timestamp::now() + SignedDuration::try_from(LEASE).unwrap_or_default());
    aws.locks
        .rewrite(&held.path, held.number, &held.record.to_value())
        .await
        .map_err(|e| anyhow::Error::new(e).context("could not renew the deploy lock"))
}

/// Releases a lock this process holds (its record is marked released, not deleted, so the
/// next number stays the next).
pub async fn release(aws: &Aws, held: &Held) -> anyhow::Result<()> {
    let mut record = held.record.clone();
    record.released = Some(Released {
        by: record.holder.clone(),
        at: Timestamp::now(),
    });
    aws.locks
        .rewrite(&held.path, held.number, &record.to_value())
        .await
        .map_err(|e| anyhow::Error::new(e).context("could not release the deploy lock"))
}

/// The lock holding `env` now, for `status`.
pub async fn current(aws: &Aws, env: &EnvConfig) -> anyhow::Result<Option<LockRecord>> {
    Ok(holding(aws, &lock_path(&env.cluster, &env.name)).await?.1)
}

/// What `opsctl lock` and `opsctl unlock` did.
#[derive(Debug, Clone, Serialize)]
pub struct LockOutcome {
    pub env: String,
    /// `frozen`, `unlocked`, or `not-locked`.
    pub result: &'static str,
    /// The freeze set, or the lock cleared.
    pub lock: Option<LockRecord>,
}

impl Outcome for LockOutcome {
    fn exit(&self) -> Exit {
        Exit::Ok
    }
}

impl fmt::Display for LockOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.result, &self.lock) {
            ("frozen", Some(r)) => writeln!(
                f,
                "{}; every command that changes it is refused until `opsctl unlock {}`",
                describe(&self.env, r),
                self.env
            ),
            ("unlocked", Some(r)) => writeln!(f, "unlocked {} (it was: {})", self.env, held_as(r)),
            _ => writeln!(f, "{} was not locked; nothing changed", self.env),
        }
    }
}

/// `opsctl lock ENV --reason R`: a freeze, held until unlocked. Refused while another
/// command holds the lock.
pub async fn freeze(
    aws: &Aws,
    env: &EnvConfig,
    holder: &str,
    reason: &str,
    reporter: &dyn Reporter,
) -> anyhow::Result<LockOutcome> {
    if reason.trim().is_empty() {
        crate::bad_input!(
            "say why, for whoever meets the freeze: --reason \"release freeze until Monday\"",
            "a freeze needs a reason"
        );
    }
    let path = lock_path(&env.cluster, &env.name);
    loop {
        let (highest, held) = holding(aws, &path).await?;
        if let Some(r) = held {
            return Err(refused(&env.name, &r, None));
        }
        let record = fresh(holder, "freeze", None, Some(reason.trim().to_owned()));
        if let Some(held) = take(aws, &path, highest, record, reporter).await? {
            return Ok(LockOutcome {
                env: env.name.clone(),
                result: "frozen",
                lock: Some(held.record),
            });
        }
    }
}

/// `opsctl unlock ENV`: clears whatever lock holds the environment (a freeze, or a lock
/// whose holder is gone).
pub async fn unlock(aws: &Aws, env: &EnvConfig, by: &str) -> anyhow::Result<LockOutcome> {
    let path = lock_path(&env.cluster, &env.name);
    let (number, held) = holding(aws, &path).await?;
    let Some(record) = held else {
        return Ok(LockOutcome {
            env: env.name.clone(),
            result: "not-locked",
            lock: None,
        });
    };
    let mut released = record.clone();
    released.released = Some(Released {
        by: by.to_owned(),
        at: Timestamp::now(),
    });
    aws.locks
        .rewrite(&path, number, &released.to_value())
        .await
        .map_err(|e| anyhow::Error::new(e).context("could not clear the deploy lock"))?;
    Ok(LockOutcome {
        env: env.name.clone(),
        result: "unlocked",
        lock: Some(record),
    })
}
