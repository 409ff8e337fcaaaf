//! Database snapshots and restores (RDS). A snapshot is tagged with who took it and why, and
//! a deploy takes one first where the env asks for it. A restore always creates a new
//! instance with the source's settings, and never modifies or deletes the source.
//!
//! This file holds the names, tags and the polling the others share; `snapshot`, `list`
//! and `restore` hold one command each.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;
use tokio::time::Instant;

use super::pace::{Pacer, Shown, Stop};
use super::{Event, Interrupt, Outcome, Reporter};
use crate::aws::{
    Aws, AwsError, DbInstance, DbSettings, DbSnapshot, LaterSettings, RestoreSettings,
};
use crate::config::EnvConfig;
use crate::error::{Exit, UserError};

pub use crate::aws::tags;

mod copy;
mod failover;
mod list;
mod regions;
mod restore;
mod retention;
mod snapshot;

pub use copy::*;
pub use failover::*;
pub use list::*;
pub use regions::*;
pub use restore::*;
pub use retention::*;
pub use snapshot::*;

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
