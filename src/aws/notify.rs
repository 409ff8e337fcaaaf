//! Notifications: the one call that delivers an env's notice to one of its `notify` targets
//! (a webhook or an SNS topic). What is sent, when, and how often it is tried is
//! `workflows::notify`.

use async_trait::async_trait;

pub use crate::config::NotifyTarget;

/// Delivers notices: one attempt per call; the caller bounds it in time and retries.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Sends `document` (JSON) to `to`; `subject` is its one-line summary (an SNS message's
    /// subject). The error says why, never with a webhook's URL in it.
    async fn deliver(&self, to: &NotifyTarget, subject: &str, document: &str)
    -> Result<(), String>;
}
