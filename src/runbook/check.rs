//! Each step checked against the real command line (clap), before anything runs.

use super::*;

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
