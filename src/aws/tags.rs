//! The tags opsctl writes on what it creates, and reads back for history and rollback: the
//! one vocabulary, kept beside the AWS types so every layer imports it downwards.

/// On a task-definition revision: the version it deploys.
pub const VERSION: &str = "opsctl:version";
/// On a revision: the revision it replaced, where rollback goes back to.
pub const PREVIOUS: &str = "opsctl:previous";
pub const DEPLOYED_BY: &str = "opsctl:deployed-by";
pub const DEPLOYED_AT: &str = "opsctl:deployed-at";
/// On a revision: how its deploy ended, one of the values below (the README's "Deploy
/// outcomes" lists them for users).
pub const OUTCOME: &str = "opsctl:outcome";

/// Stable on it, with the bake and checks passed (or stable when `wait-stable` looked).
pub const SUCCEEDED: &str = "succeeded";
/// It failed and the service was left on it (`--no-rollback`, or the way back failed too).
pub const FAILED: &str = "failed";
/// It failed, and the service was put back on the revision before it (by opsctl or ECS).
pub const ROLLED_BACK: &str = "rolled-back";
/// It succeeded, and `opsctl rollback` later took the service back from it by hand.
pub const REVERTED: &str = "reverted";
/// The service points at it and the deploy has not ended, or `--no-wait` did not wait for it:
/// `opsctl wait-stable` records how it ends.
pub const IN_PROGRESS: &str = "in-progress";
/// Ctrl-C while opsctl followed it: ECS may still be rolling it out, and `opsctl wait-stable`
/// records how it ends.
pub const INTERRUPTED: &str = "interrupted";
/// Registered, but the service was never pointed at it (UpdateService failed).
pub const NOT_DEPLOYED: &str = "not-deployed";

/// What `opsctl rollback` records on the revision it leaves: a deploy that had succeeded
/// was `reverted`; one that had not ended well, or had not ended, `rolled-back`.
pub fn after_rollback(outcome: Option<&str>) -> &'static str {
    match outcome {
        Some(SUCCEEDED) | Some(REVERTED) => REVERTED,
        _ => ROLLED_BACK,
    }
}

/// The outcomes of a deploy that has not ended as far as opsctl knows: `wait-stable` completes them.
pub fn unfinished(outcome: Option<&str>) -> bool {
    matches!(outcome, Some(IN_PROGRESS) | Some(INTERRUPTED))
}

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
