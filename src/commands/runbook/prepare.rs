//! Before the first step runs: the placeholder values, every step filled and checked by the
//! real parser, and the command line that resumes a run.

use super::*;

/// A step's command line, filled and checked by the real parser.
pub(super) struct Planned {
    /// The words after `opsctl`, as they will run (with `--dry-run` in a dry run).
    pub(super) words: Vec<String>,
    /// `None` when the step is done by hand, or (in a dry run) not run.
    pub(super) cli: Option<Cli>,
}

/// The placeholder values: `--env`, then `--set`, then (on a terminal) asked for.
pub(super) fn values(
    rb: &Runbook,
    args: &RunbookRunArgs,
    interactive_values: bool,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut values = BTreeMap::new();
    values.insert("env".to_owned(), args.env.clone());
    let known = rb.placeholders();
    for (key, value) in &args.set {
        if key == "env" {
            if value != &args.env {
                crate::bad_input!(
                    "drop --set env=…; --env fills {{env}}",
                    "--set env={value} and --env {} disagree",
                    args.env
                );
            }
            continue;
        }
        if !known.contains(key) {
            let takes: Vec<String> = known.iter().map(|k| format!("{{{{{k}}}}}")).collect();
            crate::bad_input!(
                format!("it takes: {}", takes.join(", ")),
                "runbook {} has no placeholder {{{{{key}}}}}",
                rb.name
            );
        }
        values.insert(key.clone(), value.clone());
    }
    for (key, value) in &values {
        if let Err(msg) = runbook::check_value(key, value) {
            crate::bad_input!(
                "give the value as it is meant to appear in the command",
                "{msg}"
            );
        }
    }
    let missing = rb.missing(&values);
    if missing.is_empty() {
        return Ok(values);
    }
    if !interactive_values {
        let sets: Vec<String> = missing.iter().map(|k| format!("--set {k}=VALUE")).collect();
        let keys: Vec<String> = missing.iter().map(|k| format!("{{{{{k}}}}}")).collect();
        crate::bad_input!(
            format!("pass {}", sets.join(" ")),
            "runbook {} needs a value for {}, and there is no terminal to ask on; nothing ran",
            rb.name,
            keys.join(", ")
        );
    }
    for key in missing {
        let value = show::ask_value(&key)?.ok_or_else(|| {
            UserError::new(format!("no value for {{{{{key}}}}}; nothing ran"))
                .hint(format!("pass --set {key}=VALUE"))
        })?;
        if let Err(msg) = runbook::check_value(&key, &value) {
            crate::bad_input!(
                "give the value as it is meant to appear in the command",
                "{msg}"
            );
        }
        values.insert(key, value);
    }
    Ok(values)
}

/// Fills and checks every step before the first one runs, so that a mistake in step 5 is
/// found before step 1 changes anything.
pub(super) fn plan(
    rb: &Runbook,
    values: &BTreeMap<String, String>,
    dry_run: bool,
) -> anyhow::Result<Vec<Planned>> {
    let mut planned = Vec::new();
    for step in &rb.steps {
        let Some(command) = &step.command else {
            planned.push(Planned {
                words: Vec::new(),
                cli: None,
            });
            continue;
        };
        let invalid = |msg: String| {
            UserError::new(format!(
                "step {} of runbook {} is not a valid opsctl command line: {msg}",
                step.number, rb.name
            ))
            .hint(format!(
                "fix line {} of the runbook: {}",
                command.line,
                command.display()
            ))
        };
        let words = runbook::fill_words(&command.words, values)
            .map_err(|missing| invalid(format!("no value for {}", missing.join(", "))))?;
        let checked = runbook::check_command(&words).map_err(invalid)?;
        if !dry_run || checked.is_dry_run {
            planned.push(Planned {
                words,
                cli: Some(checked.cli),
            });
        } else if checked.has_dry_run {
            let mut words = words;
            words.push("--dry-run".into());
            let checked = runbook::check_command(&words).map_err(invalid)?;
            planned.push(Planned {
                words,
                cli: Some(checked.cli),
            });
        } else {
            planned.push(Planned { words, cli: None });
        }
    }
    Ok(planned)
}

/// The command line that resumes this run at `step`.
pub(super) fn resume_command(
    cli: &Cli,
    args: &RunbookArgs,
    run_args: &RunbookRunArgs,
    values: &BTreeMap<String, String>,
    step: usize,
) -> String {
    let mut words: Vec<String> = Vec::new();
    if let Some(config) = &cli.global.config {
        words.extend(["--config".into(), config.display().to_string()]);
    }
    words.extend(["runbook".into(), "run".into(), run_args.name.clone()]);
    if let Some(dir) = &args.dir {
        words.extend(["--dir".into(), dir.display().to_string()]);
    }
    words.extend(["--env".into(), run_args.env.clone()]);
    for (k, v) in values.iter().filter(|(k, _)| k.as_str() != "env") {
        words.extend(["--set".into(), format!("{k}={v}")]);
    }
    if cli.global.yes {
        words.push("--yes".into());
    }
    if run_args.dry_run {
        words.push("--dry-run".into());
    }
    words.extend(["--from".into(), step.to_string()]);
    runbook::display_words(&words)
}
