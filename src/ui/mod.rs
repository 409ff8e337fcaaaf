//! The only place that prints: progress on stderr (spinners on a terminal, timestamped lines
//! elsewhere, GitHub Actions annotations in CI), the result on stdout (text or one JSON object).

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use console::Style;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{ColorChoice, Output};
use crate::error::{Exit, UserError};
use crate::input::escape;
use crate::workflows::{Event, Outcome, Reporter};

pub mod man;
pub mod runbook;

/// Decides once how to print: quiet or verbose, text or JSON, spinners or lines.
#[derive(Debug, Clone)]
pub struct Printer {
    pub output: Output,
    pub quiet: bool,
    /// Spinners: a terminal on stderr, not `--no-progress`, and no verbose logs to tangle with.
    pub spinners: bool,
    /// Running under GitHub Actions: annotations and a step summary.
    pub github: bool,
    /// Answer yes to every confirmation.
    pub yes: bool,
    /// The command line, for the step summary's title.
    pub title: String,
}

impl Printer {
    pub fn new(
        output: Output,
        quiet: bool,
        verbose: u8,
        no_progress: bool,
        color: ColorChoice,
        yes: bool,
        title: String,
    ) -> Self {
        let stderr_tty = std::io::stderr().is_terminal();
        // Decided per stream: `opsctl history > file` gets no colour even on a terminal.
        console::set_colors_enabled(colors_for(color, std::io::stdout().is_terminal()));
        console::set_colors_enabled_stderr(colors_for(color, stderr_tty));
        Printer {
            output,
            quiet,
            spinners: stderr_tty && !no_progress && verbose == 0 && !quiet,
            github: std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"),
            yes,
            title,
        }
    }

    /// Prints one line of `opsctl logs` on stdout as it comes: a JSON object with
    /// `--output json`, else its time, task and container (dim on a terminal) and the
    /// message, with anything that could drive the terminal escaped.
    pub fn log_line(&self, line: &crate::workflows::logs::Line) {
        use std::io::Write;
        // A reader that went away (`| head`) ends the output, not the process.
        let mut out = std::io::stdout().lock();
        if self.output == Output::Json {
            let _ = writeln!(out, "{}", serde_json::to_string(line).unwrap_or_default());
            return;
        }
        let dim = Style::new().dim();
        let task: String = line.task.chars().take(8).collect();
        let _ = writeln!(
            out,
            "{} {} {}",
            dim.apply_to(line.at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")),
            dim.apply_to(format!("{task}/{}", escape(&line.container))),
            escape(&line.message)
        );
    }

    /// Prints a workflow's outcome: `Display` on stdout, or one JSON object with the exit
    /// code and the reported events.
    /// Prints the outcome (text or JSON) and returns the exit code it means.
    pub fn finish<T: Outcome>(&self, outcome: &T, reporter: &CliReporter) -> Exit {
        let exit = outcome.exit();
        match self.output {
            Output::Text => {
                // AWS's texts (events, reasons) and the user's are shown, never obeyed.
                let text = escape(&outcome.to_string());
                let style = if exit == Exit::Ok {
                    Style::new().green()
                } else {
                    Style::new().red().bold()
                };
                let mut out = std::io::stdout().lock();
                let mut lines = text.lines();
                // A closed stdout (`| head`) is the reader's choice, not an error.
                if let Some(first) = lines.next() {
                    let _ = writeln!(out, "{}", style.apply_to(first));
                }
                for line in lines {
                    let _ = writeln!(out, "{line}");
                }
                if self.github && exit != Exit::Ok {
                    eprintln!(
                        "::error title={}::{}",
                        escape_property(&self.title),
                        escape_annotation(text.trim_end())
                    );
                }
            }
            Output::Json => {
                let mut value = serde_json::to_value(outcome).unwrap_or_default();
                if let Some(map) = value.as_object_mut() {
                    map.insert("ok".into(), (exit == Exit::Ok).into());
                    map.insert("exit_code".into(), exit.code().into());
                    if let Some(role) = reporter.acting_as.lock().unwrap().clone() {
                        map.insert("acting_as".into(), role);
                    }
                    map.insert(
                        "events".into(),
                        serde_json::to_value(reporter.take_log()).unwrap_or_default(),
                    );
                }
                print_json(&value);
            }
        }
        self.summary(&outcome.to_string());
        exit
    }

    /// Prints an error: what went wrong and how to fix it.
    pub fn error(&self, err: &anyhow::Error, exit: Exit, reporter: &CliReporter) {
        let hint = err
            .downcast_ref::<UserError>()
            .and_then(|u| u.hint.as_deref().map(escape));
        let message = escape(&format!("{err:#}"));
        match self.output {
            Output::Text => {
                eprintln!(
                    "{} {message}",
                    Style::new().for_stderr().red().bold().apply_to("error:")
                );
                if let Some(hint) = &hint {
                    eprintln!(
                        "  {} {hint}",
                        Style::new().for_stderr().yellow().apply_to("fix:")
                    );
                }
            }
            Output::Json => {
                let value = serde_json::json!({
                    "ok": false,
                    "exit_code": exit.code(),
                    "error": { "message": message, "hint": hint },
                    "events": reporter.take_log(),
                });
                print_json(&value);
            }
        }
        if self.github {
            eprintln!(
                "::error title={}::{}",
                escape_property(&self.title),
                escape_annotation(&message)
            );
        }
        self.summary(&match &hint {
            Some(h) => format!("error: {message}\nfix: {h}"),
            None => format!("error: {message}"),
        });
    }

    /// Appends the result to the GitHub Actions job summary, when there is one.
    fn summary(&self, text: &str) {
        if !self.github {
            return;
        }
        let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") else {
            return;
        };
        let append = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path);
        if let Ok(mut file) = append {
            let _ = writeln!(
                file,
                "### `{}`\n\n```\n{}\n```\n",
                self.title,
                text.trim_end()
            );
        }
    }
}

/// Whether a stream gets colour: `--color`, else a terminal and no `NO_COLOR`.
pub fn colors_for(choice: ColorChoice, terminal: bool) -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && !no_color,
    }
}

/// Bytes on stdout as they are (completions, the man page); a closed stdout (`| head`) is
/// the reader's choice, not an error.
pub fn print_bytes(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|()| out.flush());
}

/// One JSON document on stdout; a closed stdout is the reader's choice, not an error.
pub fn print_json(value: &serde_json::Value) {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// Annotation properties also escape `:` and `,`.
fn escape_property(text: &str) -> String {
    escape_annotation(text)
        .replace(':', "%3A")
        .replace(',', "%2C")
}

/// `%`, CR and LF must be escaped in workflow commands.
fn escape_annotation(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// The event with every text it carries from outside (AWS, the user) escaped.
fn escaped(event: Event) -> Event {
    match event {
        Event::Step { step, detail } => Event::Step {
            step,
            detail: escape(&detail),
        },
        Event::Check(mut c) => {
            c.detail = escape(&c.detail);
            c.hint = c.hint.as_deref().map(escape);
            Event::Check(c)
        }
        Event::ServiceEvent {
            service,
            at,
            message,
        } => Event::ServiceEvent {
            service: escape(&service),
            at,
            message: escape(&message),
        },
        Event::Log {
            source,
            at,
            message,
        } => Event::Log {
            source: escape(&source),
            at,
            message: escape(&message),
        },
        Event::Warning { message } => Event::Warning {
            message: escape(&message),
        },
        other => other,
    }
}

/// The CLI's [`Reporter`]: renders events as they come and keeps a log for JSON output.
pub struct CliReporter {
    printer: Printer,
    spinner: Mutex<Option<ProgressBar>>,
    last_progress: Mutex<Option<String>>,
    /// The countdown last printed as a line (without spinners): what, and the seconds left.
    last_countdown: Mutex<Option<(String, u64)>>,
    log: Mutex<Vec<Event>>,
    /// The role the command acts as, when its env names one (`acting_as` in the JSON).
    acting_as: Mutex<Option<serde_json::Value>>,
}

/// How often, without a spinner, a countdown prints a line.
const COUNTDOWN_LINE_EVERY: u64 = 30;

/// Whether a countdown at `remaining` seconds gets a line: its first tick, and then one
/// every [`COUNTDOWN_LINE_EVERY`] seconds.
fn countdown_due(last: &mut Option<(String, u64)>, what: &str, remaining: u64) -> bool {
    let due = match last {
        Some((w, at)) if w == what => at.saturating_sub(remaining) >= COUNTDOWN_LINE_EVERY,
        _ => true,
    };
    if due {
        *last = Some((what.to_owned(), remaining));
    }
    due
}

impl CliReporter {
    pub fn new(printer: &Printer) -> Self {
        CliReporter {
            printer: printer.clone(),
            spinner: Mutex::new(None),
            last_progress: Mutex::new(None),
            last_countdown: Mutex::new(None),
            log: Mutex::new(Vec::new()),
            acting_as: Mutex::new(None),
        }
    }

    /// Says, once, which role in which account the command acts as; the JSON result says it
    /// too.
    pub fn acting_as(&self, role: &str, account: &str, session: &str) {
        let value = serde_json::json!({ "role_arn": role, "account": account, "session": session });
        let mut known = self.acting_as.lock().unwrap();
        if known.as_ref() == Some(&value) {
            return;
        }
        *known = Some(value);
        drop(known);
        let name = role.rsplit(':').next().unwrap_or(role);
        self.report(Event::Step {
            step: "role".into(),
            detail: format!("acting as {name} in AWS account {account} (session {session})"),
        });
    }

    /// The events worth keeping (progress ticks left out).
    pub fn take_log(&self) -> Vec<Event> {
        std::mem::take(&mut self.log.lock().unwrap())
    }

    fn line(&self, text: String) {
        self.line_at(jiff::Timestamp::now(), text);
    }

    /// A progress line; without spinners it starts with the time it speaks of.
    fn line_at(&self, at: jiff::Timestamp, text: String) {
        if self.printer.quiet {
            return;
        }
        let text = if self.printer.spinners {
            text
        } else {
            format!("{} {text}", at.strftime("%H:%M:%SZ"))
        };
        match self.spinner.lock().unwrap().as_ref() {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }
}

impl Reporter for CliReporter {
    fn report(&self, event: Event) {
        let event = escaped(event);
        let dim = Style::new().for_stderr().dim();
        match &event {
            Event::Step { step, detail } => {
                self.line(format!(
                    "{} {detail}",
                    Style::new()
                        .for_stderr()
                        .cyan()
                        .bold()
                        .apply_to(format!("==> {step}:"))
                ));
            }
            Event::Check(check) => {
                let mark = match (check.ok, check.warning) {
                    (true, false) => Style::new().for_stderr().green().apply_to("ok  "),
                    (true, true) => Style::new().for_stderr().yellow().bold().apply_to("warn"),
                    (false, _) => Style::new().for_stderr().red().bold().apply_to("FAIL"),
                };
                self.line(format!("    {mark} {:<10} {}", check.name, check.detail));
                if let Some(hint) = check.hint.as_ref().filter(|_| !check.ok || check.warning) {
                    let (label, level) = if check.ok {
                        ("note", "warning")
                    } else {
                        ("fix", "error")
                    };
                    self.line(format!("         {label}: {hint}"));
                    if self.printer.github {
                        eprintln!(
                            "::{level} title=preflight {}::{}",
                            check.name,
                            escape_annotation(&check.detail)
                        );
                    }
                }
            }
            Event::Progress {
                service,
                running,
                desired,
                pending,
                rollout,
                targets,
            } => {
                let mut text = format!("{service}: {running}/{desired} running, {pending} pending");
                if let Some(r) = rollout {
                    text.push_str(&format!(", rollout {r}"));
                }
                if let Some((healthy, total)) = targets {
                    text.push_str(&format!(", targets {healthy}/{total} healthy"));
                }
                if let Some(bar) = self.spinner.lock().unwrap().as_ref() {
                    bar.set_message(text);
                    return;
                }
                // Without a spinner, print only when something changed.
                let mut last = self.last_progress.lock().unwrap();
                if last.as_deref() != Some(text.as_str()) {
                    *last = Some(text.clone());
                    drop(last);
                    self.line(format!("    {}", dim.apply_to(text)));
                }
                return;
            }
            Event::ServiceEvent {
                service,
                at,
                message,
            } => {
                let short = message
                    .strip_prefix(&format!("(service {service}) "))
                    .unwrap_or(message);
                let short = &crate::aws::short_arns(short);
                if self.printer.spinners {
                    let when = dim.apply_to(at.strftime("%H:%M:%SZ"));
                    self.line(format!("    {when} {service}: {short}"));
                } else {
                    // Plain lines start with a time already: ECS's, for its events.
                    self.line_at(*at, format!("    {service}: {short}"));
                }
            }
            Event::Log {
                source,
                at,
                message,
            } => {
                if self.printer.spinners {
                    let when = dim.apply_to(at.strftime("%H:%M:%SZ"));
                    self.line(format!("    {when} {}: {message}", dim.apply_to(source)));
                } else {
                    self.line_at(*at, format!("    {source}: {message}"));
                }
            }
            Event::Warning { message } => {
                eprintln!(
                    "{} {message}",
                    Style::new()
                        .for_stderr()
                        .yellow()
                        .bold()
                        .apply_to("warning:")
                );
                if self.printer.github {
                    eprintln!("::warning::{}", escape_annotation(message));
                }
            }
            Event::WaitStart { what, timeout_secs } => {
                if self.printer.github {
                    eprintln!("::group::waiting for {what}");
                }
                if self.printer.spinners {
                    let bar = ProgressBar::new_spinner();
                    bar.set_style(
                        ProgressStyle::with_template("  {spinner} {elapsed:>4} {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    bar.set_message(format!("waiting for {what} (timeout {timeout_secs}s)"));
                    bar.enable_steady_tick(Duration::from_millis(120));
                    *self.spinner.lock().unwrap() = Some(bar);
                }
            }
            Event::Percent { what, percent } => {
                let percent = (*percent).clamp(0, 100);
                if self.printer.spinners {
                    // A progress bar in place of the wait's spinner.
                    let mut slot = self.spinner.lock().unwrap();
                    let bar = slot.get_or_insert_with(|| ProgressBar::new(100));
                    bar.set_message(what.clone());
                    bar.set_position(percent as u64);
                    if bar.length() != Some(100) {
                        bar.set_length(100);
                        bar.set_style(
                            ProgressStyle::with_template(
                                "  {bar:30.cyan/blue} {pos:>3}% {elapsed:>4} {msg}",
                            )
                            .unwrap_or_else(|_| ProgressStyle::default_bar()),
                        );
                    }
                    return;
                }
                // Without a bar, a line whenever the percentage changes.
                let text = format!("{what}: {percent}%");
                let mut last = self.last_progress.lock().unwrap();
                if last.as_deref() != Some(text.as_str()) {
                    *last = Some(text.clone());
                    drop(last);
                    self.line(format!("    {}", dim.apply_to(text)));
                }
                return;
            }
            Event::Countdown {
                what,
                remaining_secs,
                last,
            } => {
                let left = humantime::format_duration(Duration::from_secs(*remaining_secs));
                let mut text = format!("{what}: {left} left");
                if let Some(last) = last {
                    text.push_str(&format!(" ({last})"));
                }
                if let Some(bar) = self.spinner.lock().unwrap().as_ref() {
                    bar.set_message(text);
                    return;
                }
                if countdown_due(
                    &mut self.last_countdown.lock().unwrap(),
                    what,
                    *remaining_secs,
                ) {
                    self.line(format!("    {}", dim.apply_to(text)));
                }
                return;
            }
            Event::WaitEnd => {
                if let Some(bar) = self.spinner.lock().unwrap().take() {
                    bar.finish_and_clear();
                }
                *self.last_progress.lock().unwrap() = None;
                *self.last_countdown.lock().unwrap() = None;
                if self.printer.github {
                    eprintln!("::endgroup::");
                }
            }
        }
        if !matches!(event, Event::WaitStart { .. } | Event::WaitEnd) {
            self.log.lock().unwrap().push(event);
        }
    }

    fn confirm(&self, question: &str) -> anyhow::Result<bool> {
        if self.printer.yes {
            return Ok(true);
        }
        if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            return Err(UserError::new(format!(
                "{question} This environment asks for confirmation, and there is no terminal to ask on; nothing changed"
            ))
            .hint("review the change with --dry-run, then pass --yes")
            .into());
        }
        let bar = self.spinner.lock().unwrap().take();
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        eprint!(
            "{} [y/N] ",
            Style::new().for_stderr().bold().apply_to(question)
        );
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        Ok(matches!(
            answer.trim().to_ascii_lowercase().as_str(),
            "y" | "yes"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::countdown_due;

    #[test]
    fn a_countdown_prints_its_first_tick_then_a_line_every_30_seconds() {
        let mut last = None;
        let printed: Vec<u64> = (0..=30)
            .rev()
            .map(|t| t * 10) // ticks every 10 s from 300 s down
            .filter(|&left| countdown_due(&mut last, "the bake", left))
            .collect();
        assert_eq!(printed, [300, 270, 240, 210, 180, 150, 120, 90, 60, 30, 0]);
        // Another watch starts its own.
        assert!(countdown_due(&mut last, "green at 10%", 120));
        assert!(!countdown_due(&mut last, "green at 10%", 110));
    }
}
