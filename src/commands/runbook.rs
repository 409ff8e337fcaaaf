//! `opsctl runbook list | show | run`: finds runbooks (built in, and in the runbook
//! directory), fills their placeholders, checks every step before the first runs, and runs
//! the steps in this process, one real opsctl command line at a time, writing a transcript.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Serialize;

use crate::cli::{Cli, RunbookArgs, RunbookCommand, RunbookRunArgs};
use crate::config::Config;
use crate::error::{Exit, UserError};
use crate::runbook::{self, Runbook};
use crate::ui::runbook as show;
use crate::ui::{CliReporter, Printer};
use crate::workflows::runbook as workflow;
use crate::workflows::{Interrupt, Outcome};

/// The runbook directory when neither `--dir` nor `OPSCTL_RUNBOOKS` names one.
const DEFAULT_DIR: &str = "runbooks";

/// A runbook's text and where it came from.
struct Entry {
    name: String,
    /// `built in`, or the file's path.
    source: String,
    text: String,
}

impl Entry {
    fn parse(&self) -> Result<Runbook, UserError> {
        Runbook::parse(&self.name, &self.text).map_err(|e| {
            UserError::new(format!("runbook {} ({}), {e}", self.name, self.source))
                .hint("fix the runbook; its format is in the README's Runbooks section")
        })
    }
}

/// The built-in runbooks, replaced by files of the same name in the runbook directory.
fn catalog(dir: Option<&Path>) -> anyhow::Result<Vec<Entry>> {
    let mut entries: BTreeMap<String, Entry> = runbook::BUILTIN
        .iter()
        .map(|(name, text)| {
            (
                (*name).to_owned(),
                Entry {
                    name: (*name).to_owned(),
                    source: "built in".into(),
                    text: (*text).to_owned(),
                },
            )
        })
        .collect();
    let (dir, explicit) = match dir {
        Some(d) => (d, true),
        None => (Path::new(DEFAULT_DIR), false),
    };
    let listing = match std::fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(entries.into_values().collect());
        }
        Err(e) => {
            return Err(UserError::new(format!(
                "cannot read the runbook directory {}: {e}",
                dir.display()
            ))
            .hint("pass --dir DIR (or set OPSCTL_RUNBOOKS) to a directory of .md runbooks")
            .into());
        }
    };
    let mut paths: Vec<PathBuf> = listing
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md") && p.is_file())
        .collect();
    paths.sort();
    for path in paths {
        let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            UserError::new(format!("cannot read {}: {e}", path.display()))
                .hint("check the file's permissions and that it is UTF-8")
        })?;
        entries.insert(
            name.to_owned(),
            Entry {
                name: name.to_owned(),
                source: path.display().to_string(),
                text,
            },
        );
    }
    Ok(entries.into_values().collect())
}

fn find<'a>(entries: &'a [Entry], name: &str) -> Result<&'a Entry, UserError> {
    entries.iter().find(|e| e.name == name).ok_or_else(|| {
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        UserError::new(format!("no runbook named `{name}`")).hint(format!(
            "use one of: {} (opsctl runbook list)",
            names.join(", ")
        ))
    })
}

/// Runs `opsctl runbook …`.
pub(super) async fn run(
    cli: &Cli,
    args: &RunbookArgs,
    printer: &Printer,
    reporter: &CliReporter,
    interrupt: &Interrupt,
) -> anyhow::Result<Exit> {
    let entries = catalog(args.dir.as_deref())?;
    match &args.command {
        RunbookCommand::List => {
            let runbooks = entries
                .iter()
                .map(|e| match e.parse() {
                    Ok(rb) => Listed {
                        name: rb.name.clone(),
                        title: rb.title.clone(),
                        source: e.source.clone(),
                        placeholders: rb.placeholders(),
                        error: None,
                    },
                    Err(err) => Listed {
                        name: e.name.clone(),
                        title: String::new(),
                        source: e.source.clone(),
                        placeholders: Vec::new(),
                        error: Some(err.message),
                    },
                })
                .collect();
            let out = List { runbooks };
            Ok(printer.finish(&out, reporter))
        }
        RunbookCommand::Show { name } => {
            let entry = find(&entries, name)?;
            let runbook = entry.parse()?;
            let out = Shown {
                source: entry.source.clone(),
                placeholders: runbook.placeholders(),
                runbook,
            };
            Ok(printer.finish(&out, reporter))
        }
        RunbookCommand::Run(run_args) => {
            let entry = find(&entries, &run_args.name)?;
            let rb = entry.parse()?;
            execute(
                cli,
                args,
                run_args,
                &rb,
                &entry.source,
                printer,
                reporter,
                interrupt,
            )
            .await
        }
    }
}

/// A step's command line, filled and checked by the real parser.
struct Planned {
    /// The words after `opsctl`, as they will run (with `--dry-run` in a dry run).
    words: Vec<String>,
    /// `None` when the step is done by hand, or (in a dry run) not run.
    cli: Option<Cli>,
}

/// The placeholder values: `--env`, then `--set`, then (on a terminal) asked for.
fn values(
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
fn plan(
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

#[allow(clippy::too_many_arguments)]
async fn execute(
    cli: &Cli,
    args: &RunbookArgs,
    run_args: &RunbookRunArgs,
    rb: &Runbook,
    source: &str,
    printer: &Printer,
    reporter: &CliReporter,
    interrupt: &Interrupt,
) -> anyhow::Result<Exit> {
    let total = rb.steps.len();
    if run_args.from == 0 || run_args.from > total {
        crate::bad_input!(
            format!("use a step from 1 to {total}"),
            "--from {}: runbook {} has steps 1 to {total}",
            run_args.from,
            rb.name
        );
    }
    // The environment must exist before any step runs.
    Config::find(cli.global.config.as_deref())?.env(&run_args.env)?;
    let interactive = !cli.global.yes && !run_args.dry_run;
    let terminal = show::terminal();
    let values = values(rb, run_args, terminal)?;
    if interactive && !terminal {
        crate::bad_input!(
            "pass --yes to run every step without asking, or --dry-run to see them",
            "runbook {} asks before each step, and there is no terminal to ask on; nothing ran",
            rb.name
        );
    }
    let planned = plan(rb, &values, run_args.dry_run)?;

    let started = Timestamp::now();
    let path = run_args.transcript.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "runbook-{}-{}.json",
            rb.name,
            started.strftime("%Y%m%dT%H%M%SZ")
        ))
    });
    let steps: Vec<workflow::Planned> = rb
        .steps
        .iter()
        .zip(&planned)
        .map(|(s, p)| workflow::Planned {
            number: s.number,
            title: runbook::fill(&s.title, &values),
            text: runbook::fill(&s.text, &values),
            command: s.command.as_ref().map(|_| runbook::display_words(&p.words)),
            action: match (&s.command, &p.cli) {
                (None, _) => workflow::Action::ByHand,
                (Some(_), None) => workflow::Action::NotInDryRun,
                (Some(_), Some(_)) => workflow::Action::Command,
            },
        })
        .collect();
    let transcript = workflow::Transcript {
        runbook: rb.name.clone(),
        title: rb.title.clone(),
        source: source.to_owned(),
        env: run_args.env.clone(),
        values: values.clone(),
        dry_run: run_args.dry_run,
        from: run_args.from,
        started_at: started,
        ended_at: None,
        outcome: workflow::RunEnd::Running,
        exit_code: None,
        exit: Exit::Ok,
        resume: None,
        transcript: path.display().to_string(),
        steps: steps.iter().map(workflow::StepRecord::of).collect(),
    };
    // Written before the first step, so that a path that cannot be written stops the run
    // before anything changes; rewritten after every step.
    write(&transcript, &path).map_err(|e| {
        UserError::new(format!(
            "cannot write the transcript {}: {e}; nothing ran",
            path.display()
        ))
        .hint("pass --transcript PATH to a writable place")
    })?;

    let mode = match (run_args.dry_run, interactive) {
        (true, _) => "dry run: only steps whose command takes --dry-run run, with it",
        (false, true) => "asks before each step",
        (false, false) => "--yes: runs every step without asking",
    };
    let shown_values: Vec<String> = values.iter().map(|(k, v)| format!("{k}={v}")).collect();
    show::header(
        printer,
        &rb.title,
        &format!(
            "runbook {} ({source}); {}; {mode}; transcript {}",
            rb.name,
            shown_values.join(" "),
            path.display()
        ),
    );

    let resume = |step: usize| resume_command(cli, args, run_args, &values, step);
    let runner = InProcess {
        global: &cli.global,
        steps: std::sync::Mutex::new(planned.into_iter().map(|p| p.cli).collect()),
        interrupt,
    };
    let done = workflow::run(
        transcript,
        &steps,
        &workflow::Options {
            interactive,
            from: run_args.from,
            resume: &resume,
        },
        &runner,
        &Terminal { printer },
        &File {
            path: &path,
            reporter,
        },
        interrupt,
    )
    .await?;
    Ok(printer.finish(&done, reporter))
}

/// Runs a step's command line in this process: the same code, config and credentials as the
/// runbook itself, with the runbook's global options.
struct InProcess<'a> {
    global: &'a crate::cli::Global,
    /// Each step's parsed command line, taken when it runs (a step runs once).
    steps: std::sync::Mutex<Vec<Option<Cli>>>,
    interrupt: &'a Interrupt,
}

#[async_trait::async_trait]
impl workflow::StepRunner for InProcess<'_> {
    async fn run(&self, index: usize) -> Exit {
        let Some(mut step) = self.steps.lock().unwrap()[index].take() else {
            return Exit::Failed;
        };
        step.global = self.global.clone();
        Box::pin(super::run(step, self.interrupt.clone())).await
    }
}

/// The operator at the terminal (stderr), answering on stdin.
struct Terminal<'a> {
    printer: &'a Printer,
}

impl workflow::Operator for Terminal<'_> {
    fn show_step(
        &self,
        number: usize,
        total: usize,
        title: &str,
        text: &str,
        command: Option<&str>,
    ) {
        show::step(self.printer, number, total, title, text, command);
    }

    fn note(&self, text: &str) {
        show::note(self.printer, text);
    }

    fn step_done(&self, number: usize, code: u8, seconds: f64) {
        show::step_done(self.printer, number, code, seconds);
    }

    fn next(&self, what: &str, advice: &str, resume: &str) {
        show::next(what, advice, resume);
    }

    fn ask_step(&self, number: usize) -> anyhow::Result<workflow::Answer> {
        Ok(show::ask_step(number)?)
    }

    fn ask_done(&self, number: usize) -> anyhow::Result<bool> {
        Ok(show::ask_done(number)?)
    }
}

/// The transcript file, rewritten after every step; a failed write is a warning.
struct File<'a> {
    path: &'a Path,
    reporter: &'a CliReporter,
}

impl workflow::Keeper for File<'_> {
    fn save(&self, transcript: &workflow::Transcript) {
        if let Err(e) = write(transcript, self.path) {
            use crate::workflows::Reporter;
            self.reporter.warn(format!(
                "cannot write the transcript {}: {e}",
                self.path.display()
            ));
        }
    }
}

fn write(transcript: &workflow::Transcript, path: &Path) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(transcript).map_err(std::io::Error::other)?;
    std::fs::write(path, text + "\n")
}

/// The command line that resumes this run at `step`.
fn resume_command(
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

/// `opsctl runbook list`.
#[derive(Debug, Serialize)]
struct List {
    runbooks: Vec<Listed>,
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
struct Listed {
    name: String,
    title: String,
    source: String,
    placeholders: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
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
struct Shown {
    source: String,
    placeholders: Vec<String>,
    #[serde(flatten)]
    runbook: Runbook,
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
    fn exit(&self) -> Exit {
        Exit::Ok
    }
}
