//! Each step checked against the real command line (clap), before anything runs.

use clap::error::{ContextKind, ContextValue};

use super::*;

/// A step's command line, parsed by the real command-line parser.
#[derive(Debug)]
pub struct Checked {
    /// The parsed command line; `None` when some values were let through unchecked (see
    /// [`check_words`]), so that it could not be read into its types.
    pub cli: Option<Cli>,
    /// The command takes `--dry-run`.
    pub has_dry_run: bool,
    /// `--dry-run` is already among the words.
    pub is_dry_run: bool,
}

/// Why a command line does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckError {
    /// What is wrong, on one line.
    pub message: String,
    /// Set when the parser refused the value of one argument.
    pub value: Option<Box<BadValue>>,
}

/// A value the parser refused, and the argument that refused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadValue {
    /// The argument as the parser names it: `--count <N>`.
    pub arg: String,
    /// The argument's id, for [`check_words`]'s `unchecked`.
    pub id: String,
    /// The value refused.
    pub value: String,
    /// Why, as the argument's parser says it.
    pub reason: String,
    /// The argument's help: what it expects.
    pub help: Option<String>,
}

/// Parses a step's filled words (after `opsctl`) as opsctl itself would, and refuses what a
/// runbook step may not do: set global options, or run runbooks.
pub fn check_command(words: &[String]) -> Result<Checked, String> {
    check_words(words, &[]).map_err(|e| e.message)
}

/// As [`check_command`], with the values of the arguments named in `unchecked` (by id) let
/// through whatever they are: a placeholder that has no value yet cannot be judged, and the
/// rest of the line still can.
pub fn check_words(words: &[String], unchecked: &[String]) -> Result<Checked, CheckError> {
    let mut root = Cli::command();
    for id in unchecked {
        root = let_through(root, &subcommand_path(words), id);
    }
    let argv = std::iter::once("opsctl".to_owned()).chain(words.iter().cloned());
    let matches = root
        .clone()
        .try_get_matches_from(argv)
        .map_err(|e| CheckError {
            message: one_line(&e),
            value: bad_value(&e, words).map(Box::new),
        })?;
    let refuse = |message: String| CheckError {
        message,
        value: None,
    };
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
            return Err(refuse(format!(
                "--{arg} is a global option: pass it to `opsctl runbook run`, which applies it to every step"
            )));
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
        return Err(refuse("a runbook step cannot run runbooks".into()));
    }
    let has_dry_run = cmd.get_arguments().any(|a| a.get_id() == "dry_run");
    let is_dry_run = has_dry_run && m.get_flag("dry_run");
    // Values let through are strings, not the types the command reads.
    let cli = if unchecked.is_empty() {
        Some(Cli::from_arg_matches(&matches).map_err(|e| refuse(e.to_string()))?)
    } else {
        None
    };
    Ok(Checked {
        cli,
        has_dry_run,
        is_dry_run,
    })
}

/// What is wrong, on one line; clap's usage and help lines are for a terminal.
fn one_line(e: &clap::Error) -> String {
    let text = e.to_string();
    let what = text.split("\n\nUsage:").next().unwrap_or(&text);
    let what = what
        .split("\n\nFor more information")
        .next()
        .unwrap_or(what);
    let words: Vec<&str> = what.split_whitespace().collect();
    words.join(" ").trim_start_matches("error: ").to_owned()
}

/// The subcommands the words name, outermost first (`db`, `restore`).
fn subcommand_path(words: &[String]) -> Vec<String> {
    let root = Cli::command();
    let mut cmd = &root;
    let mut path = Vec::new();
    for w in words.iter().filter(|w| !w.starts_with('-')) {
        match cmd.find_subcommand(w) {
            Some(sub) => {
                path.push(sub.get_name().to_owned());
                cmd = sub;
            }
            None => break,
        }
    }
    path
}

/// The command with the argument `id` taking any string, wherever it is defined along
/// `path` (the root's, for a global option; the subcommand's own).
fn let_through(cmd: clap::Command, path: &[String], id: &str) -> clap::Command {
    let cmd = if cmd.get_arguments().any(|a| a.get_id() == id) {
        any_string(cmd, id)
    } else {
        cmd
    };
    match path.split_first() {
        Some((name, rest)) => cmd.mut_subcommand(name, |sub| let_through(sub, rest, id)),
        None => cmd,
    }
}

fn any_string(cmd: clap::Command, id: &str) -> clap::Command {
    cmd.mut_arg(id, |a| a.value_parser(clap::builder::ValueParser::string()))
}

/// The value the parser refused, and what the argument refusing it expects.
fn bad_value(e: &clap::Error, words: &[String]) -> Option<BadValue> {
    use clap::error::ErrorKind;
    if !matches!(
        e.kind(),
        ErrorKind::ValueValidation | ErrorKind::InvalidValue
    ) {
        return None;
    }
    let text = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let arg_name = text(ContextKind::InvalidArg)?;
    let value = text(ContextKind::InvalidValue)?;
    let reason = match e.get(ContextKind::ValidValue) {
        Some(ContextValue::Strings(valid)) => format!("it takes one of {}", valid.join(", ")),
        _ => std::error::Error::source(e)
            .map(|s| s.to_string())
            .unwrap_or_else(|| one_line(e)),
    };
    let root = Cli::command();
    let mut cmd = &root;
    for name in subcommand_path(words) {
        cmd = cmd
            .find_subcommand(&name)
            .expect("a subcommand of the path");
    }
    let matches_name = |a: &clap::Arg| match arg_name.strip_prefix("--") {
        Some(long) => a.get_long() == long.split([' ', '=']).next(),
        None => a.get_value_names().is_some_and(|names| {
            names
                .iter()
                .any(|n| arg_name.trim_matches(['<', '>', '.']) == n.as_str())
        }),
    };
    let arg = cmd
        .get_arguments()
        .find(|a| matches_name(a))
        .or_else(|| root.get_arguments().find(|a| matches_name(a)))?;
    Some(BadValue {
        arg: arg_name,
        id: arg.get_id().to_string(),
        value,
        reason,
        help: arg.get_help().map(|h| h.to_string()),
    })
}
