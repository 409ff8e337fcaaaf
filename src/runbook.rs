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

/// The runbooks of this repository, compiled in, so that `opsctl runbook list` works in any
/// directory. Files in the runbook directory with the same name take precedence.
pub const BUILTIN: &[(&str, &str)] = &[
    ("release", include_str!("../runbooks/release.md")),
    (
        "failed-deploy",
        include_str!("../runbooks/failed-deploy.md"),
    ),
    (
        "high-error-rate",
        include_str!("../runbooks/high-error-rate.md"),
    ),
    (
        "restore-db-to-time",
        include_str!("../runbooks/restore-db-to-time.md"),
    ),
    (
        "restore-db-from-snapshot",
        include_str!("../runbooks/restore-db-from-snapshot.md"),
    ),
    ("scale-out", include_str!("../runbooks/scale-out.md")),
    (
        "maintenance-window",
        include_str!("../runbooks/maintenance-window.md"),
    ),
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

/// Splits a command line into words as a POSIX shell would, without expanding anything:
/// `'…'` is literal, `"…"` allows `\"` and `\\`, and `\` escapes one character elsewhere.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(format!("unclosed ' in `{}`", line.trim())),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(format!("unclosed \" in `{}`", line.trim())),
                        },
                        Some(c) => word.push(c),
                        None => return Err(format!("unclosed \" in `{}`", line.trim())),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err(format!("a trailing \\ in `{}`", line.trim())),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// A word as a shell would need it written.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+%{}".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// The placeholders of a text, in order, each once; an error for a malformed one.
pub fn placeholders_in(text: &str) -> Result<Vec<String>, String> {
    let mut keys = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(format!("`{{{{` without `}}}}` in `{}`", text.trim()));
        };
        let key = after[..end].trim();
        if !valid_key(key) {
            return Err(format!(
                "`{{{{{key}}}}}` is not a placeholder: use lower-case letters, digits, - and _, starting with a letter"
            ));
        }
        if !keys.iter().any(|k| k == key) {
            keys.push(key.to_owned());
        }
        rest = &after[end + 2..];
    }
    Ok(keys)
}

/// Whether `key` may name a placeholder.
pub fn valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Replaces the placeholders `values` knows; others stay as they are.
pub fn fill(text: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let key = after[..end].trim();
        out.push_str(&rest[..start]);
        match values.get(key) {
            Some(v) => out.push_str(v),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// A step's words with every placeholder filled, or the placeholders left unfilled.
pub fn fill_words(
    words: &[String],
    values: &BTreeMap<String, String>,
) -> Result<Vec<String>, Vec<String>> {
    let mut missing = Vec::new();
    let filled = words
        .iter()
        .map(|w| {
            for k in placeholders_in(w).unwrap_or_default() {
                if !values.contains_key(&k) && !missing.contains(&k) {
                    missing.push(k);
                }
            }
            fill(w, values)
        })
        .collect();
    if missing.is_empty() {
        Ok(filled)
    } else {
        Err(missing)
    }
}

/// Checks a value for a placeholder: it must not be empty, nor read as a flag.
pub fn check_value(key: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("{{{{{key}}}}} is empty"));
    }
    if value.starts_with('-') {
        return Err(format!(
            "{{{{{key}}}}} = `{value}` starts with `-` and would read as a flag"
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{{{{{key}}}}} holds a control character"));
    }
    Ok(())
}

/// A step's command line, parsed by the real command-line parser.
#[derive(Debug)]
pub struct Checked {
    pub cli: Cli,
    /// The command takes `--dry-run`.
    pub has_dry_run: bool,
    /// `--dry-run` is already among the words.
    pub is_dry_run: bool,
}

/// Parses a step's filled words (after `opsctl`) as opsctl itself would, and refuses what a
/// runbook step may not do: set global options, or run runbooks.
pub fn check_command(words: &[String]) -> Result<Checked, String> {
    let root = Cli::command();
    let argv = std::iter::once("opsctl".to_owned()).chain(words.iter().cloned());
    let matches = root.clone().try_get_matches_from(argv).map_err(|e| {
        // What is wrong, on one line; clap's usage and help lines are for a terminal.
        let text = e.to_string();
        let what = text.split("\n\nUsage:").next().unwrap_or(&text);
        let what = what
            .split("\n\nFor more information")
            .next()
            .unwrap_or(what);
        let words: Vec<&str> = what.split_whitespace().collect();
        words.join(" ").trim_start_matches("error: ").to_owned()
    })?;
    let globals: Vec<String> = root
        .get_arguments()
        .filter(|a| a.is_global_set())
        .map(|a| a.get_id().to_string())
        .collect();
    for id in &globals {
        if matches.value_source(id) == Some(ValueSource::CommandLine) {
            let arg = root
                .get_arguments()
                .find(|a| a.get_id() == id)
                .and_then(|a| a.get_long())
                .unwrap_or(id);
            return Err(format!(
                "--{arg} is a global option: pass it to `opsctl runbook run`, which applies it to every step"
            ));
        }
    }
    // The leaf subcommand: does it take --dry-run?
    let mut cmd = &root;
    let mut m = &matches;
    let mut path = Vec::new();
    while let Some((name, sub)) = m.subcommand() {
        path.push(name.to_owned());
        cmd = cmd
            .find_subcommand(name)
            .expect("clap matched a subcommand it knows");
        m = sub;
    }
    if path.first().map(String::as_str) == Some("runbook") {
        return Err("a runbook step cannot run runbooks".into());
    }
    let has_dry_run = cmd.get_arguments().any(|a| a.get_id() == "dry_run");
    let is_dry_run = has_dry_run && m.get_flag("dry_run");
    let cli = Cli::from_arg_matches(&matches).map_err(|e| e.to_string())?;
    Ok(Checked {
        cli,
        has_dry_run,
        is_dry_run,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
# Roll back a failed deploy

Intro for the reader.

## When to use
A deploy of {{version}} failed.

## Steps

### 1. Look at the service
Shows the revision.

```opsctl
opsctl status {{env}}
```

### 2. Roll back
```sh
echo not a step
### not a heading either
```

```opsctl
opsctl rollback {{env}} \\
  --to '{{version}}'
```

### 3. Tell the team
By hand: post in the channel.

## See also
Nothing here is a step.
";

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn words(ws: &[&str]) -> Vec<String> {
        ws.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn parses_title_when_and_numbered_steps() {
        let rb = Runbook::parse("failed", GOOD).unwrap();
        assert_eq!(rb.title, "Roll back a failed deploy");
        assert_eq!(rb.when, "A deploy of {{version}} failed.");
        assert_eq!(rb.steps.len(), 3);
        let s1 = &rb.steps[0];
        assert_eq!((s1.number, s1.title.as_str()), (1, "Look at the service"));
        assert_eq!(s1.text, "Shows the revision.");
        assert_eq!(
            s1.command.as_ref().unwrap().words,
            words(&["status", "{{env}}"])
        );
        assert_eq!(s1.command.as_ref().unwrap().line, 14);
        let s2 = &rb.steps[1];
        assert!(s2.text.contains("echo not a step"), "{}", s2.text);
        assert!(s2.text.contains("### not a heading"), "{}", s2.text);
        assert_eq!(
            s2.command.as_ref().unwrap().words,
            words(&["rollback", "{{env}}", "--to", "{{version}}"])
        );
        let s3 = &rb.steps[2];
        assert!(s3.command.is_none());
        assert_eq!(s3.text, "By hand: post in the channel.");
        assert_eq!(rb.placeholders(), vec!["version", "env"]);
    }

    #[test]
    fn mistakes_name_their_line() {
        let cases: &[(&str, usize, &str)] = &[
            (
                "# T\n## When to use\nx\n## Steps\n### 2. Two\n",
                5,
                "### 1. Title",
            ),
            (
                "# T\n## When to use\nx\n## Steps\n### 1. A\n```opsctl\nstatus prod\n```\n",
                7,
                "start with `opsctl`",
            ),
            (
                "# T\n## When to use\nx\n## Steps\n### 1. A\n```opsctl\nopsctl status a\nopsctl status b\n```\n",
                8,
                "second command",
            ),
            (
                "# T\n## When to use\nx\n## Steps\n### 1. A\n```opsctl\nopsctl status a\n```\nmore\n",
                9,
                "text after the opsctl block",
            ),
            (
                "# T\n## When to use\nx\n## Steps\n### 1. A\n```opsctl\nopsctl status 'a\n```\n",
                7,
                "unclosed '",
            ),
            (
                "# T\n## When to use\nx\n## Steps\n### 1. A\n```opsctl\nopsctl status {{Env}}\n```\n",
                7,
                "not a placeholder",
            ),
            (
                "# T\n## When to use\nx\n## Steps\n### 1. A\n```opsctl\nopsctl status a\n",
                6,
                "never closed",
            ),
            (
                "# T\n## When to use\nx\n```opsctl\nopsctl status a\n```\n## Steps\n### 1. A\n",
                4,
                "outside a step",
            ),
            ("# T\n## Steps\n### 1. A\n", 1, "When to use"),
            ("# T\n## When to use\nx\n", 1, "no steps"),
            ("## When to use\nx\n## Steps\n### 1. A\n", 1, "no title"),
        ];
        for (text, line, needle) in cases {
            let e = Runbook::parse("t", text).unwrap_err();
            assert_eq!(e.line, *line, "{text:?}: {e}");
            assert!(e.message.contains(needle), "{text:?}: {e}");
        }
    }

    #[test]
    fn words_split_like_a_shell_without_expanding() {
        let w =
            split_words(r#"deploy prod --reason "before the \"fix\"" 'it''s' a\ b $HOME"#).unwrap();
        assert_eq!(
            w,
            words(&[
                "deploy",
                "prod",
                "--reason",
                "before the \"fix\"",
                "its",
                "a b",
                "$HOME"
            ])
        );
        assert_eq!(split_words("  ").unwrap(), Vec::<String>::new());
        assert_eq!(split_words("''").unwrap(), words(&[""]));
        assert!(split_words("\"open").is_err());
    }

    #[test]
    fn quoting_round_trips() {
        for w in ["plain", "two words", "it's", "", "--to=v1.2.3", "{{env}}"] {
            let line = quote(w);
            assert_eq!(split_words(&line).unwrap(), vec![w.to_owned()], "{line}");
        }
        assert_eq!(
            display_words(&words(&["status", "a b"])),
            "opsctl status 'a b'"
        );
    }

    #[test]
    fn filling_keeps_each_placeholder_inside_its_word() {
        let v = values(&[("env", "prod"), ("version", "v1 --yes")]);
        let filled = fill_words(
            &words(&["deploy", "{{env}}", "--version={{ version }}"]),
            &v,
        );
        assert_eq!(
            filled.unwrap(),
            words(&["deploy", "prod", "--version=v1 --yes"])
        );
        let missing = fill_words(
            &words(&["restore", "{{env}}", "{{target}}", "{{time}}"]),
            &v,
        );
        assert_eq!(missing.unwrap_err(), words(&["target", "time"]));
        assert_eq!(
            fill("to {{target}} in {{env}}", &v),
            "to {{target}} in prod"
        );
    }

    #[test]
    fn values_that_would_read_as_flags_are_refused() {
        assert!(check_value("version", "v1.2.3").is_ok());
        assert!(check_value("version", "--yes").is_err());
        assert!(check_value("version", "").is_err());
        assert!(check_value("version", "a\nb").is_err());
        assert!(valid_key("target-db_2"));
        assert!(!valid_key("2x") && !valid_key("Env") && !valid_key(""));
    }

    #[test]
    fn steps_are_checked_by_the_real_parser() {
        let ok = check_command(&words(&["deploy", "prod", "--version", "v1"])).unwrap();
        assert!(ok.has_dry_run && !ok.is_dry_run);
        let dry = check_command(&words(&["rollback", "prod", "--dry-run"])).unwrap();
        assert!(dry.is_dry_run);
        let status = check_command(&words(&["status", "prod"])).unwrap();
        assert!(!status.has_dry_run);
        let e = check_command(&words(&["deploy", "prod"])).unwrap_err();
        assert!(e.contains("--version"), "{e}");
        let e = check_command(&words(&["deploy", "prod", "--version", "v1", "--yes"])).unwrap_err();
        assert!(e.contains("--yes is a global option"), "{e}");
        let e = check_command(&words(&["status", "prod", "--output", "json"])).unwrap_err();
        assert!(e.contains("--output is a global option"), "{e}");
        let e = check_command(&words(&["runbook", "list"])).unwrap_err();
        assert!(e.contains("cannot run runbooks"), "{e}");
        let e = check_command(&words(&["deplyo", "prod"])).unwrap_err();
        assert!(e.contains("deplyo"), "{e}");
    }

    #[test]
    fn builtin_runbooks_parse() {
        for (name, text) in BUILTIN {
            Runbook::parse(name, text).unwrap_or_else(|e| panic!("runbooks/{name}.md: {e}"));
        }
    }
}
