//! The tags opsctl writes on what it creates, and reads back for history and rollback: the
//! one vocabulary, kept beside the AWS types so every layer imports it downwards.

/// On a task-definition revision: the version it deploys.
pub const VERSION: &str = "opsctl:version";
/// On a revision: the revision it replaced, where rollback goes back to.
pub const PREVIOUS: &str = "opsctl:previous";
pub const DEPLOYED_BY: &str = "opsctl:deployed-by";
pub const DEPLOYED_AT: &str = "opsctl:deployed-at";
/// On a revision: how its deploy ended, one of the values below.
pub const OUTCOME: &str = "opsctl:outcome";

pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";
pub const ROLLED_BACK: &str = "rolled-back";
pub const IN_PROGRESS: &str = "in-progress";
/// Registered, but the service was never pointed at it (UpdateService failed).
pub const NOT_DEPLOYED: &str = "not-deployed";

/// On a DB snapshot or a restored instance: who made it.
pub const CREATED_BY: &str = "opsctl:created-by";
/// On a DB snapshot: why it was taken.
pub const REASON: &str = "opsctl:reason";
/// On a DB snapshot copied to another region: the ARN of the snapshot it copies.
pub const COPIED_FROM: &str = "opsctl:copied-from";
/// On a restored instance: the snapshot or the instance and time it came from.
pub const RESTORED_FROM: &str = "opsctl:restored-from";

/// On a one-off task (and a revision registered for one): what it runs (`run`, or the name
/// of a `before_deploy` command).
pub const RUN: &str = "opsctl:run";
/// On a one-off task: the environment it ran for.
pub const ENV: &str = "opsctl:env";
