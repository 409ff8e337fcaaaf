//! What `opsctl runbook run` shows and asks between the steps, on stderr: each step's prose
//! and command, the question before it, and what to do when one fails. The steps' own
//! results go to stdout, as when they are run by hand.

use std::io::{BufRead, IsTerminal, Write};

use console::Style;

use super::Printer;
use crate::workflows::runbook::Answer;

/// Whether there is a person to ask: standard input and standard error are terminals.
pub fn terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// The runbook's heading.
pub fn header(printer: &Printer, title: &str, what: &str) {
    if printer.quiet {
        return;
    }
    eprintln!("{}", Style::new().for_stderr().bold().apply_to(title));
    eprintln!("{}", Style::new().for_stderr().dim().apply_to(what));
}

/// A dim line under the heading: the values, the transcript's place.
pub fn detail(printer: &Printer, what: &str) {
    if !printer.quiet {
        eprintln!("{}", Style::new().for_stderr().dim().apply_to(what));
    }
}

/// A step: its number and title, its prose (unless quiet), and its command.
pub fn step(
    printer: &Printer,
    number: usize,
    total: usize,
    title: &str,
    text: &str,
    command: Option<&str>,
) {
    let head = Style::new().for_stderr().cyan().bold();
    eprintln!();
    eprintln!(
        "{}",
        head.apply_to(format!("── step {number}/{total}: {title}"))
    );
    if !printer.quiet {
        for line in text.lines() {
            if line.trim().is_empty() {
                eprintln!();
            } else {
                eprintln!("   {line}");
            }
        }
    }
    match command {
        Some(c) => eprintln!("   {} {c}", Style::new().for_stderr().bold().apply_to("$")),
        None => eprintln!(
            "   {}",
            Style::new()
                .for_stderr()
                .yellow()
                .apply_to("(done by hand)")
        ),
    }
}

/// A line about the run itself: a skipped step, the transcript's place.
pub fn note(printer: &Printer, text: &str) {
    if !printer.quiet {
        eprintln!("   {}", Style::new().for_stderr().dim().apply_to(text));
    }
}

/// How a step ended.
pub fn step_done(printer: &Printer, number: usize, code: u8, seconds: f64) {
    if code == 0 {
        note(
            printer,
            &format!("step {number} done (exit 0, {seconds:.1}s)"),
        );
    } else {
        eprintln!(
            "   {} step {number} exited {code} after {seconds:.1}s",
            Style::new().for_stderr().red().bold().apply_to("✗")
        );
    }
}

/// What to do after a step failed, or the run was interrupted or stopped.
pub fn next(what: &str, advice: &str, resume: &str) {
    eprintln!();
    eprintln!(
        "{} {what}",
        Style::new().for_stderr().red().bold().apply_to("stopped:")
    );
    eprintln!(
        "  {} {advice}, resume with:\n    {resume}",
        Style::new().for_stderr().yellow().apply_to("next:")
    );
}

/// Asks whether to run, skip or stop; end of input means stop.
pub fn ask_step(number: usize) -> std::io::Result<Answer> {
    loop {
        let answer = ask(&format!("Run step {number}? [r]un, [s]kip, [q] stop:"))?
            .map(|a| a.to_ascii_lowercase());
        match answer.as_deref() {
            None => return Ok(Answer::Stop),
            Some("r" | "run" | "y" | "yes") => return Ok(Answer::Run),
            Some("s" | "skip") => return Ok(Answer::Skip),
            Some("q" | "stop" | "quit" | "n" | "no") => return Ok(Answer::Stop),
            Some(_) => eprintln!("   answer r, s or q"),
        }
    }
}

/// After a step done by hand: go on, or stop. End of input means stop.
pub fn ask_done(number: usize) -> std::io::Result<bool> {
    loop {
        let answer = ask(&format!("Step {number} done? [c]ontinue, [q] stop:"))?
            .map(|a| a.to_ascii_lowercase());
        match answer.as_deref() {
            None | Some("q" | "stop" | "quit" | "n" | "no") => return Ok(false),
            Some("c" | "continue" | "y" | "yes" | "d" | "done") => return Ok(true),
            Some(_) => eprintln!("   answer c or q"),
        }
    }
}

/// Asks for a placeholder's value; `None` at the end of input.
pub fn ask_value(key: &str) -> std::io::Result<Option<String>> {
    loop {
        match ask(&format!("Value for {{{{{key}}}}}:"))? {
            None => return Ok(None),
            Some(v) if v.is_empty() => continue,
            Some(v) => return Ok(Some(v)),
        }
    }
}

/// One line from the terminal, trimmed; `None` at the end of input.
fn ask(question: &str) -> std::io::Result<Option<String>> {
    eprint!(
        "   {} ",
        Style::new().for_stderr().bold().apply_to(question)
    );
    std::io::stderr().flush()?;
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line)? == 0 {
        eprintln!();
        return Ok(None);
    }
    Ok(Some(line.trim().to_owned()))
}
