//! Errors sorted by what they mean for the user, and the exit codes they map to.

use std::fmt;

/// Exit codes, as documented in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Exit {
    /// 0: done.
    Ok,
    /// 1: failed.
    Failed,
    /// 2: bad input, config or preflight; nothing changed.
    BadInput,
    /// 3: the deploy failed and was rolled back.
    RolledBack,
    /// 4: timed out waiting; the state was printed.
    TimedOut,
    /// 130: interrupted (Ctrl-C, or a runbook run stopped by the person); the state was printed.
    Interrupted,
    /// A one-off task's container exit code, passed through (`opsctl run`).
    Passed(u8),
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Failed => 1,
            Exit::BadInput => 2,
            Exit::RolledBack => 3,
            Exit::TimedOut => 4,
            Exit::Interrupted => 130,
            Exit::Passed(code) => code,
        }
    }
}

/// Bad input: names the problem and the fix. Exit 2; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserError {
    pub message: String,
    pub hint: Option<String>,
}

impl UserError {
    pub fn new(message: impl Into<String>) -> Self {
        UserError {
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UserError {}

/// Returns a [`UserError`] (exit 2) from a function that returns `anyhow::Result`:
/// `bad_input!(HINT, FORMAT, ARGS...)`.
#[macro_export]
macro_rules! bad_input {
    ($hint:expr, $($fmt:tt)+) => {
        return Err($crate::error::UserError::new(format!($($fmt)+)).hint($hint).into())
    };
}

/// Ctrl-C before the first change: exit 130, and nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Interrupted(pub String);
