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

/// Where a placeholder's value came from: what to blame when a step refuses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    /// `--env`.
    Env,
    /// `--set KEY=VALUE`.
    Set,
    /// Typed in at the terminal.
    Asked,
    /// No value yet (`runbook show`): the placeholder stands in for itself.
    Unknown,
}

/// The placeholder values, and where each came from.
pub(super) struct Values {
    pub(super) filled: BTreeMap<String, String>,
    pub(super) from: BTreeMap<String, Source>,
}

impl Values {
    /// Every placeholder standing in for itself, for checking a runbook with no values.
    pub(super) fn unknown(rb: &Runbook) -> Values {
        let mut values = Values {
            filled: BTreeMap::new(),
            from: BTreeMap::new(),
        };
        for key in rb.placeholders() {
            values.put(&key, format!("{{{{{key}}}}}"), Source::Unknown);
        }
        values
    }

    fn put(&mut self, key: &str, value: String, from: Source) {
        self.filled.insert(key.to_owned(), value);
        self.from.insert(key.to_owned(), from);
    }

    /// Where the value of `key` came from, as the person gave it: `--set count=abc`.
    fn given(&self, key: &str) -> String {
        let value = self.filled.get(key).map(String::as_str).unwrap_or("");
        match self.from.get(key) {
            Some(Source::Env) => format!("--env {}", runbook::quote(value)),
            Some(Source::Set) => format!("--set {}", runbook::quote(&format!("{key}={value}"))),
            Some(Source::Asked) => format!("the value typed for {{{{{key}}}}} ({value})"),
            Some(Source::Unknown) | None => format!("{{{{{key}}}}}"),
        }
    }
}

/// The placeholder values the command line gives: `--env`, then `--set`. Each is checked;
/// a mistake is the flag's, and nothing runs.
pub(super) fn given(rb: &Runbook, args: &RunbookRunArgs) -> anyhow::Result<Values> {
    let mut values = Values {
        filled: BTreeMap::new(),
        from: BTreeMap::new(),
    };
    values.put("env", args.env.clone(), Source::Env);
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
        values.put(key, value.clone(), Source::Set);
    }
    for (key, value) in &values.filled {
        if let Err(msg) = runbook::check_value(key, value) {
            crate::bad_input!(
                "give the value as it is meant to appear in the command",
                "{msg}"
            );
        }
    }
    Ok(values)
}

/// Without a terminal to ask on, every value must come from the command line.
pub(super) fn refuse_missing(rb: &Runbook, values: &Values) -> anyhow::Result<()> {
    let missing = rb.missing(&values.filled);
    if missing.is_empty() {
        return Ok(());
    }
    let sets: Vec<String> = missing.iter().map(|k| format!("--set {k}=VALUE")).collect();
    let keys: Vec<String> = missing.iter().map(|k| format!("{{{{{k}}}}}")).collect();
    crate::bad_input!(
        format!("pass {}", sets.join(" ")),
        "runbook {} needs a value for {}, and there is no terminal to ask on; nothing ran",
        rb.name,
        keys.join(", ")
    );
}

/// Asks at the terminal for the values the command line left out.
pub(super) fn ask_missing(rb: &Runbook, values: &mut Values) -> anyhow::Result<()> {
    for key in rb.missing(&values.filled) {
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
        values.put(&key, value, Source::Asked);
    }
    Ok(())
}

/// Fills and checks every step before the first one runs, so that a mistake in step 5 is
/// found before step 1 changes anything. `runbook show` checks with [`Values::unknown`]:
/// what depends on a value not given yet is let through, the rest is checked as a run would.
///
/// A value a step's command refuses is blamed on where it came from (`--set count=abc`); any
/// other mistake on the runbook's line.
pub(super) fn plan(
    rb: &Runbook,
    values: &Values,
    dry_run: bool,
) -> Result<Vec<Planned>, UserError> {
    let mut planned = Vec::new();
    for step in &rb.steps {
        let Some(command) = &step.command else {
            planned.push(Planned {
                words: Vec::new(),
                cli: None,
            });
            continue;
        };
        let words = runbook::fill_words(&command.words, &values.filled).map_err(|missing| {
            invalid_step(
                rb,
                step.number,
                command,
                &format!("no value for {}", missing.join(", ")),
            )
        })?;
        let checked = check_step(rb, step.number, command, values, &words)?;
        if !dry_run || checked.is_dry_run {
            planned.push(Planned {
                words,
                cli: checked.cli,
            });
        } else if checked.has_dry_run {
            let mut words = words;
            words.push("--dry-run".into());
            let checked = check_step(rb, step.number, command, values, &words)?;
            planned.push(Planned {
                words,
                cli: checked.cli,
            });
        } else {
            planned.push(Planned { words, cli: None });
        }
    }
    Ok(planned)
}

/// One step's filled words, checked by the real parser.
fn check_step(
    rb: &Runbook,
    number: usize,
    command: &runbook::CommandLine,
    values: &Values,
    words: &[String],
) -> Result<runbook::Checked, UserError> {
    let mut unchecked: Vec<String> = Vec::new();
    loop {
        let e = match runbook::check_words(words, &unchecked) {
            Ok(checked) => return Ok(checked),
            Err(e) => e,
        };
        let Some(bad) = &e.value else {
            return Err(invalid_step(rb, number, command, &e.message));
        };
        // The runbook's word that became the refused value, and the placeholders in it.
        let keys: Vec<String> = command
            .words
            .iter()
            .zip(words)
            .filter(|(_, filled)| {
                filled.as_str() == bad.value
                    || (filled.starts_with("--") && filled.ends_with(&format!("={}", bad.value)))
            })
            .flat_map(|(word, _)| runbook::placeholders_in(word).unwrap_or_default())
            .collect();
        if keys.is_empty() {
            return Err(invalid_step(rb, number, command, &e.message));
        }
        let unknown = keys
            .iter()
            .any(|k| values.from.get(k) == Some(&Source::Unknown));
        if unknown && !unchecked.contains(&bad.id) {
            unchecked.push(bad.id.clone());
            continue;
        }
        if unknown {
            return Err(invalid_step(rb, number, command, &e.message));
        }
        return Err(bad_value(rb, number, command, values, &keys, bad));
    }
}

/// A step the runbook itself gets wrong: blamed on its line.
fn invalid_step(
    rb: &Runbook,
    number: usize,
    command: &runbook::CommandLine,
    msg: &str,
) -> UserError {
    UserError::new(format!(
        "step {number} of runbook {} is not a valid opsctl command line: {msg}",
        rb.name
    ))
    .hint(format!(
        "fix line {} of the runbook: {}",
        command.line,
        command.display()
    ))
}

/// A value given for the run that a step's command refuses: blamed on where it came from.
fn bad_value(
    rb: &Runbook,
    number: usize,
    command: &runbook::CommandLine,
    values: &Values,
    keys: &[String],
    bad: &runbook::BadValue,
) -> UserError {
    let given: Vec<String> = keys.iter().map(|k| values.given(k)).collect();
    let placeholders: Vec<String> = keys.iter().map(|k| format!("{{{{{k}}}}}")).collect();
    let expects = match &bad.help {
        Some(help) => {
            let help = help.trim_end_matches('.');
            let mut chars = help.chars();
            let first = chars.next().map(|c| c.to_lowercase().collect::<String>());
            format!(" ({}{})", first.unwrap_or_default(), chars.as_str())
        }
        None => String::new(),
    };
    let fix = match keys
        .iter()
        .find(|k| values.from.get(k.as_str()) != Some(&Source::Env))
    {
        Some(key) => format!("pass --set {key}=VALUE with a value {} takes", bad.arg),
        None => format!("pass --env with an environment {} takes", bad.arg),
    };
    UserError::new(format!(
        "{}: {} fills {}{expects} in step {number} of runbook {} (`{}`), which refuses `{}`: {}; nothing ran",
        given.join(" "),
        placeholders.join(", "),
        bad.arg,
        rb.name,
        command.display(),
        bad.value,
        bad.reason
    ))
    .hint(fix)
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
