//! Runbooks: Markdown procedures a person can read on their own, whose fenced `opsctl` blocks
//! are steps opsctl can run. This module parses them, fills their placeholders and checks
//! each step against the real command line; it never touches AWS, the terminal or the disk.
//! `commands::runbook` runs them.
//!
//! The format, in full:
//!
//! ````markdown
//! # Roll back a failed deploy
//!
//! ## When to use
//! A deploy failed, or the version it shipped misbehaves.
//!
//! ## Steps
//!
//! ### 1. Look at the service
//! What the step does and what to look for.
//!
//! ```opsctl
//! opsctl status {{env}}
//! ```
//!
//! ### 2. Point the service at the restored database
//! A step without an `opsctl` block is done by hand; opsctl shows it and waits.
//! ````
//!
//! - `# ` is the title; `## When to use` and `## Steps` are required; other `## ` sections
//!   are for the reader only.
//! - Steps are `### N. Title`, numbered 1, 2, 3, … in order.
//! - A step has at most one block tagged `opsctl`, and nothing but blank lines after it. The
//!   block holds one command line that starts with `opsctl` (a trailing `\` continues it on
//!   the next line). Words are split as a shell would: quotes group, nothing is expanded.
//! - `{{name}}` is a placeholder (lower-case letters, digits, `-`, `_`). `{{env}}` is filled
//!   from `--env`, the others from `--set name=value`. A placeholder fills a word, or part
//!   of one, and never splits into several words.
//! - A step names a command and its own flags. Global options (`--config`, `--output`,
//!   `--yes`, …) come from `opsctl runbook run` and apply to every step.

use std::collections::BTreeMap;
use std::fmt;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};
use serde::Serialize;

use crate::cli::Cli;

mod check;
mod placeholders;
mod words;

#[cfg(test)]
mod tests;

pub use check::*;
pub use placeholders::*;
pub use words::*;

/// The runbooks of this repository, compiled in, so that `opsctl runbook list` works in any
/// directory. Files in the runbook directory with the same name take precedence.
pub const BUILTIN: &[(&str, &str)] = &[
    ("release", include_str!("../../runbooks/release.md")),
    (
        "failed-deploy",
        include_str!("../../runbooks/failed-deploy.md"),
    ),
    (
        "high-error-rate",
        include_str!("../../runbooks/high-error-rate.md"),
    ),
    (
        "restore-db-to-time",
        include_str!("../../runbooks/restore-db-to-time.md"),
    ),
    (
        "restore-db-from-snapshot",
        include_str!("../../runbooks/restore-db-from-snapshot.md"),
    ),
    ("scale-out", include_str!("../../runbooks/scale-out.md")),
    (
        "run-migration",
        include_str!("../../runbooks/run-migration.md"),
    ),
    (
        "maintenance-window",
        include_str!("../../runbooks/maintenance-window.md"),
    ),
    (
        "database-primary-failed",
        include_str!("../../runbooks/database-primary-failed.md"),
    ),
    ("zone-lost", include_str!("../../runbooks/zone-lost.md")),
    ("region-lost", include_str!("../../runbooks/region-lost.md")),
];

/// A parsed runbook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Runbook {
    /// The file name without `.md`.
    pub name: String,
    pub title: String,
    /// The `## When to use` section.
    pub when: String,
    pub steps: Vec<Step>,
}

/// One numbered step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// 1, 2, 3, …
    pub number: usize,
    pub title: String,
    /// The prose: what the step does and what to look for.
    pub text: String,
    /// The command line, unless the step is done by hand.
    pub command: Option<CommandLine>,
}

/// A step's command line: the words after `opsctl`, placeholders not yet filled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandLine {
    /// Line of the file the block's command starts on.
    pub line: usize,
    pub words: Vec<String>,
}

impl CommandLine {
    /// `opsctl WORD…`, quoted where a shell would need it.
    pub fn display(&self) -> String {
        display_words(&self.words)
    }
}

/// `opsctl WORD…`, quoted where a shell would need it.
pub fn display_words(words: &[String]) -> String {
    let mut out = String::from("opsctl");
    for w in words {
        out.push(' ');
        out.push_str(&quote(w));
    }
    out
}

/// A mistake in a runbook file, with its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

fn err<T>(line: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        line,
        message: message.into(),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Preamble,
    When,
    Steps,
    Other,
}

struct Fence {
    marker: String,
    opsctl: bool,
    start: usize,
    lines: Vec<String>,
}

impl Runbook {
    /// Parses a runbook's Markdown. `name` is the file name without `.md`.
    pub fn parse(name: &str, text: &str) -> Result<Runbook, ParseError> {
        let mut title: Option<String> = None;
        let mut when = String::new();
        let mut seen_when = false;
        let mut seen_steps = false;
        let mut section = Section::Preamble;
        let mut steps: Vec<Step> = Vec::new();
        let mut fence: Option<Fence> = None;

        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            if let Some(f) = fence.as_mut() {
                let t = line.trim();
                if t.starts_with(&f.marker)
                    && t.chars().all(|c| c == f.marker.as_bytes()[0] as char)
                {
                    let f = fence.take().expect("an open fence");
                    if f.opsctl {
                        let Some(step) = steps.last_mut().filter(|_| section == Section::Steps)
                        else {
                            return err(
                                f.start,
                                "an opsctl block outside a step: put it under a `### N. Title` heading in `## Steps`",
                            );
                        };
                        if step.command.is_some() {
                            return err(
                                f.start,
                                format!(
                                    "step {} has a second opsctl block; a step runs one command",
                                    step.number
                                ),
                            );
                        }
                        step.command = Some(command_block(f.start, &f.lines)?);
                    } else {
                        append(section_text(section, &mut when, &mut steps), line);
                    }
                } else if f.opsctl {
                    f.lines.push(line.to_owned());
                } else {
                    append(section_text(section, &mut when, &mut steps), line);
                }
                continue;
            }
            let t = line.trim_start();
            let marker: String = t.chars().take_while(|&c| c == '`' || c == '~').collect();
            if marker.len() >= 3 && marker.chars().all(|c| c == marker.as_bytes()[0] as char) {
                if let Some(step) = steps.last().filter(|_| section == Section::Steps)
                    && step.command.is_some()
                {
                    return err(
                        n,
                        format!(
                            "a code block after the opsctl block of step {}: put it above the block",
                            step.number
                        ),
                    );
                }
                let info = t[marker.len()..].split_whitespace().next().unwrap_or("");
                let opsctl = info == "opsctl";
                if !opsctl {
                    append(section_text(section, &mut when, &mut steps), line);
                }
                fence = Some(Fence {
                    marker,
                    opsctl,
                    start: n,
                    lines: Vec::new(),
                });
                continue;
            }
            if let Some(h) = line.strip_prefix("# ") {
                if title.is_some() {
                    return err(n, "a second `# ` title; a runbook has one");
                }
                title = Some(h.trim().to_owned());
                continue;
            }
            if let Some(h) = line.strip_prefix("## ") {
                section = match h.trim().to_ascii_lowercase().as_str() {
                    "when to use" => {
                        seen_when = true;
                        Section::When
                    }
                    "steps" => {
                        seen_steps = true;
                        Section::Steps
                    }
                    _ => Section::Other,
                };
                continue;
            }
            if let Some(h) = line.strip_prefix("### ")
                && section == Section::Steps
            {
                let expected = steps.len() + 1;
                let (number, rest) = h.trim().split_once('.').unwrap_or(("", h));
                if number.trim().parse::<usize>().ok() != Some(expected) {
                    return err(
                        n,
                        format!(
                            "step headings read `### {expected}. Title`; this one is `### {}`",
                            h.trim()
                        ),
                    );
                }
                let step_title = rest.trim();
                if step_title.is_empty() {
                    return err(n, format!("step {expected} has no title"));
                }
                steps.push(Step {
                    number: expected,
                    title: step_title.to_owned(),
                    text: String::new(),
                    command: None,
                });
                continue;
            }
            if let Some(step) = steps.last().filter(|_| section == Section::Steps)
                && step.command.is_some()
                && !line.trim().is_empty()
            {
                return err(
                    n,
                    format!(
                        "text after the opsctl block of step {}: put it above the block",
                        step.number
                    ),
                );
            }
            if matches!(section, Section::When | Section::Steps) {
                append(section_text(section, &mut when, &mut steps), line);
            }
        }
        if let Some(f) = fence {
            return err(f.start, "a code block that is never closed");
        }
        let Some(title) = title.filter(|t| !t.is_empty()) else {
            return err(1, "no title: start the file with `# Title`");
        };
        if !seen_when || when.trim().is_empty() {
            return err(
                1,
                "no `## When to use` section saying when to use the runbook",
            );
        }
        if !seen_steps || steps.is_empty() {
            return err(1, "no steps: add `## Steps` with `### 1. Title` headings");
        }
        for step in &mut steps {
            step.text = step.text.trim().to_owned();
        }
        let runbook = Runbook {
            name: name.to_owned(),
            title,
            when: when.trim().to_owned(),
            steps,
        };
        // Placeholders must be well formed everywhere, prose included.
        runbook.scan_placeholders()?;
        Ok(runbook)
    }

    fn scan_placeholders(&self) -> Result<Vec<String>, ParseError> {
        let mut keys: Vec<String> = Vec::new();
        let mut add = |line: usize, text: &str| -> Result<(), ParseError> {
            for key in placeholders_in(text).map_err(|m| ParseError { line, message: m })? {
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
            Ok(())
        };
        add(1, &self.title)?;
        add(1, &self.when)?;
        for step in &self.steps {
            add(1, &step.title)?;
            add(1, &step.text)?;
            if let Some(c) = &step.command {
                for w in &c.words {
                    add(c.line, w)?;
                }
            }
        }
        Ok(keys)
    }

    /// Every placeholder the runbook uses, in the order they first appear.
    pub fn placeholders(&self) -> Vec<String> {
        // Checked when parsed.
        self.scan_placeholders().unwrap_or_default()
    }

    /// The placeholders of the runbook that `values` does not fill.
    pub fn missing(&self, values: &BTreeMap<String, String>) -> Vec<String> {
        self.placeholders()
            .into_iter()
            .filter(|k| !values.contains_key(k))
            .collect()
    }
}

/// The text a line belongs to in the current section; `None` for text that belongs to no
/// step (an intro, a "See also" section), which only the reader sees.
fn section_text<'a>(
    section: Section,
    when: &'a mut String,
    steps: &'a mut [Step],
) -> Option<&'a mut String> {
    match (section, steps.last_mut()) {
        (Section::When, _) => Some(when),
        (Section::Steps, Some(step)) => Some(&mut step.text),
        _ => None,
    }
}

fn append(text: Option<&mut String>, line: &str) {
    if let Some(text) = text {
        text.push_str(line);
        text.push('\n');
    }
}

/// The words of an `opsctl` block: one command line, `\` continuing it.
fn command_block(start: usize, lines: &[String]) -> Result<CommandLine, ParseError> {
    let mut joined = String::new();
    let mut first_line = None;
    let mut continued = false;
    for (i, line) in lines.iter().enumerate() {
        let n = start + 1 + i;
        let t = line.trim();
        if t.is_empty() {
            if continued {
                return err(n, "a `\\` continues the command onto an empty line");
            }
            continue;
        }
        if first_line.is_some() && !continued {
            return err(
                n,
                "a second command in one opsctl block; give each its own step",
            );
        }
        first_line.get_or_insert(n);
        let (body, more) = match t.strip_suffix('\\') {
            Some(b) => (b, true),
            None => (t, false),
        };
        joined.push_str(body);
        joined.push(' ');
        continued = more;
    }
    let Some(line) = first_line else {
        return err(start, "an empty opsctl block");
    };
    if continued {
        return err(line, "the command ends with `\\` and nothing follows");
    }
    let mut words = split_words(&joined).map_err(|m| ParseError { line, message: m })?;
    if words.first().map(String::as_str) != Some("opsctl") {
        return err(
            line,
            format!("the command must start with `opsctl`: `{}`", joined.trim()),
        );
    }
    words.remove(0);
    if words.is_empty() {
        return err(line, "`opsctl` alone: name the command");
    }
    Ok(CommandLine { line, words })
}
