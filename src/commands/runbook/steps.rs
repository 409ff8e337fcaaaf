//! What the executor (`workflows::runbook`) runs with: steps run in this process, the operator
//! at the terminal, and the transcript file.

use super::*;

/// Runs a step's command line in this process: the same code, config and credentials as the
/// runbook itself, with the runbook's global options.
pub(super) struct InProcess<'a> {
    pub(super) global: &'a crate::cli::Global,
    /// Each step's parsed command line, taken when it runs (a step runs once).
    pub(super) steps: std::sync::Mutex<Vec<Option<Cli>>>,
    pub(super) interrupt: &'a Interrupt,
}

#[async_trait::async_trait]
impl workflow::StepRunner for InProcess<'_> {
    async fn run(&self, index: usize) -> Exit {
        let Some(mut step) = self.steps.lock().unwrap()[index].take() else {
            return Exit::Failed;
        };
        step.global = self.global.clone();
        Box::pin(crate::commands::run(step, self.interrupt.clone())).await
    }
}

/// The operator at the terminal (stderr), answering on stdin.
pub(super) struct Terminal<'a> {
    pub(super) printer: &'a Printer,
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
pub(super) struct File<'a> {
    pub(super) path: &'a Path,
    pub(super) reporter: &'a CliReporter,
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

pub(super) fn write(transcript: &workflow::Transcript, path: &Path) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(transcript).map_err(std::io::Error::other)?;
    std::fs::write(path, text + "\n")
}
