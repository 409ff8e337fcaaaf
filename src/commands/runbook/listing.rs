//! `opsctl runbook list` and `opsctl runbook show`: their outcomes.

use super::*;

/// `opsctl runbook list`.
#[derive(Debug, Serialize)]
pub(super) struct List {
    pub(super) runbooks: Vec<Listed>,
}

impl Outcome for List {
    /// A runbook that does not parse is bad input.
    fn exit(&self) -> Exit {
        if self.runbooks.iter().any(|r| r.error.is_some()) {
            Exit::BadInput
        } else {
            Exit::Ok
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct Listed {
    pub(super) name: String,
    pub(super) title: String,
    pub(super) source: String,
    pub(super) placeholders: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) error: Option<String>,
}

impl fmt::Display for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} runbooks", self.runbooks.len())?;
        let width = self
            .runbooks
            .iter()
            .map(|r| r.name.len())
            .max()
            .unwrap_or(0);
        for r in &self.runbooks {
            match &r.error {
                None => writeln!(f, "  {:<width$}  {}", r.name, r.title)?,
                Some(e) => writeln!(f, "  {:<width$}  BROKEN: {e}", r.name)?,
            }
            let keys: Vec<String> = r
                .placeholders
                .iter()
                .map(|k| format!("{{{{{k}}}}}"))
                .collect();
            writeln!(f, "  {:<width$}  {} · {}", "", keys.join(" "), r.source)?;
        }
        write!(f, "Run one with: opsctl runbook run NAME --env ENV")
    }
}

/// `opsctl runbook show NAME`.
#[derive(Debug, Serialize)]
pub(super) struct Shown {
    pub(super) source: String,
    pub(super) placeholders: Vec<String>,
    /// What `runbook run` would refuse before its first step, as it would say it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) error: Option<Problem>,
    #[serde(flatten)]
    pub(super) runbook: Runbook,
}

/// A mistake found in a runbook: what is wrong and the fix.
#[derive(Debug, Serialize)]
pub(super) struct Problem {
    pub(super) message: String,
    pub(super) hint: Option<String>,
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rb = &self.runbook;
        writeln!(f, "{} ({}, {})", rb.title, rb.name, self.source)?;
        writeln!(f)?;
        writeln!(f, "When to use:")?;
        for line in rb.when.lines() {
            writeln!(f, "  {line}")?;
        }
        let keys: Vec<String> = self
            .placeholders
            .iter()
            .map(|k| format!("{{{{{k}}}}}"))
            .collect();
        writeln!(f)?;
        writeln!(
            f,
            "Placeholders: {} ({{{{env}}}} from --env, the others from --set KEY=VALUE)",
            keys.join(" ")
        )?;
        for step in &rb.steps {
            writeln!(f)?;
            writeln!(f, "{}. {}", step.number, step.title)?;
            for line in step.text.lines() {
                writeln!(f, "   {line}")?;
            }
            match &step.command {
                Some(c) => writeln!(f, "   $ {}", c.display())?,
                None => writeln!(f, "   (done by hand)")?,
            }
        }
        write!(f, "\nRun it with: opsctl runbook run {} --env ENV", rb.name)
    }
}

impl Outcome for Shown {
    /// A runbook that `run` would refuse is bad input, as it is there.
    fn exit(&self) -> Exit {
        if self.error.is_some() {
            Exit::BadInput
        } else {
            Exit::Ok
        }
    }
}
