//! The deploy lock as AWS holds it: numbered records under one Parameter Store path per
//! environment. A record is created without overwrite, so of two creators of the same number
//! exactly one succeeds: that is the whole of the atomicity, and it needs nothing created
//! beforehand. The highest number is the lock; it is held while it is neither released nor
//! past its lease.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// One record: who took the lock, for what, since when and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRecord {
    /// Who holds it: `alice@laptop`, `octocat (GitHub Actions)`.
    pub holder: String,
    /// What for: `deploy v1.2.4`, `rollback`, `freeze`.
    pub command: String,
    pub since: Timestamp,
    /// The end of the lease, renewed while the holder works; `None`: a freeze, held until
    /// someone unlocks it.
    pub expires: Option<Timestamp>,
    /// Why, for a lock set by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Set when it was released or unlocked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released: Option<Released>,
    /// Unique to one taking of the lock, so a holder knows its own record.
    pub token: String,
}

/// Who released a record, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Released {
    pub by: String,
    pub at: Timestamp,
}

impl LockRecord {
    /// A freeze set by hand: it has no lease.
    pub fn is_freeze(&self) -> bool {
        self.expires.is_none()
    }

    /// Whether it still holds the environment at `now`.
    pub fn holds(&self, now: Timestamp) -> bool {
        self.released.is_none() && self.expires.is_none_or(|e| now < e)
    }

    /// The record as stored: one line of JSON.
    pub fn to_value(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A stored record; `None` for a value opsctl did not write.
    pub fn parse(value: &str) -> Option<LockRecord> {
        serde_json::from_str(value).ok()
    }
}

/// The Parameter Store path of an environment's lock records: one per cluster and
/// environment, so two repositories naming `prod` in different clusters do not share one.
pub fn lock_path(cluster: &str, env: &str) -> String {
    let clean = |s: &str| -> String {
        s.rsplit('/')
            .next()
            .unwrap_or(s)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    format!("/opsctl/locks/{}/{}", clean(cluster), clean(env))
}

/// The name of record `n` under `path` (zero-padded, so names sort as numbers).
pub fn record_name(path: &str, n: u64) -> String {
    format!("{path}/{n:010}")
}

/// The number of a record from its name; `None` for a name opsctl did not write.
pub fn record_number(path: &str, name: &str) -> Option<u64> {
    name.strip_prefix(path)?.strip_prefix('/')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_numbered_under_the_clusters_and_envs_path() {
        let path = lock_path("arn:aws:ecs:us-east-1:1:cluster/demo", "prod");
        assert_eq!(path, "/opsctl/locks/demo/prod");
        assert_eq!(record_name(&path, 7), "/opsctl/locks/demo/prod/0000000007");
        assert_eq!(record_number(&path, &record_name(&path, 7)), Some(7));
        assert_eq!(record_number(&path, "/opsctl/locks/demo/prod/x"), None);
        assert_eq!(record_number(&path, "/opsctl/locks/demo/prodx/1"), None);
    }

    #[test]
    fn a_record_holds_until_released_or_past_its_lease() {
        let t = |s| Timestamp::from_second(s).unwrap();
        let mut r = LockRecord {
            holder: "ci".into(),
            command: "deploy v1".into(),
            since: t(100),
            expires: Some(t(200)),
            reason: None,
            released: None,
            token: "a".into(),
        };
        assert!(r.holds(t(199)) && !r.holds(t(200)));
        assert_eq!(LockRecord::parse(&r.to_value()), Some(r.clone()));
        r.expires = None;
        assert!(r.is_freeze() && r.holds(t(10_000)));
        r.released = Some(Released {
            by: "me".into(),
            at: t(300),
        });
        assert!(!r.holds(t(300)));
        assert_eq!(LockRecord::parse("not json"), None);
    }
}
