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

mod catalog;
mod listing;
mod prepare;
mod steps;

use catalog::{catalog, find};
use listing::{List, Listed, Shown};
use prepare::{Values, ask_missing, given, plan, refuse_missing, resume_command};
use steps::{File, InProcess, Terminal, transcript_path, write};

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
            // The check `run` makes before its first step, with no values yet: what does not
            // depend on them is refused here as it would be there.
            let problem = plan(&runbook, &Values::unknown(&runbook), false).err();
            let out = Shown {
                source: entry.source.clone(),
                placeholders: runbook.placeholders(),
                error: problem.as_ref().map(|e| listing::Problem {
                    message: e.message.clone(),
                    hint: e.hint.clone(),
                }),
                runbook,
            };
            let exit = printer.finish(&out, reporter);
            // In JSON the problem is in the document; in text it is an error as run's is.
            if let Some(problem) = problem
                && printer.output == crate::cli::Output::Text
            {
                printer.error(&problem.into(), exit, reporter);
            }
            Ok(exit)
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
    // What the command line gives is checked before anything is shown or asked.
    let mut values = given(rb, run_args)?;
    if !terminal {
        refuse_missing(rb, &values)?;
    }
    if interactive && !terminal {
        crate::bad_input!(
            "pass --yes to run every step without asking, or --dry-run to see them",
            "runbook {} asks before each step, and there is no terminal to ask on; nothing ran",
            rb.name
        );
    }

    let mode = match (run_args.dry_run, interactive) {
        (true, _) => "dry run: only steps whose command takes --dry-run run, with it",
        (false, true) => "asks before each step",
        (false, false) => "--yes: runs every step without asking",
    };
    // The runbook is named before any value is asked for, so that the person knows what
    // they are answering for.
    show::header(
        printer,
        &rb.title,
        &format!(
            "runbook {} ({source}); {total} step{}; {mode}",
            rb.name,
            if total == 1 { "" } else { "s" }
        ),
    );
    ask_missing(rb, &mut values)?;
    let planned = plan(rb, &values, run_args.dry_run)?;
    let values = values.filled;

    let started = Timestamp::now();
    let path = transcript_path(run_args.transcript.as_deref(), &rb.name, started)?;
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
        reason: None,
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
    let shown_values: Vec<String> = values.iter().map(|(k, v)| format!("{k}={v}")).collect();
    show::detail(
        printer,
        &format!("{}; transcript {}", shown_values.join(" "), path.display()),
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
