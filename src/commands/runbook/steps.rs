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
    async fn run(&self, index: usize, confirmed: bool) -> Exit {
        let Some(mut step) = self.steps.lock().unwrap()[index].take() else {
            return Exit::Failed;
        };
        step.global = self.global.clone();
        // One question per step: the runbook's. It is asked with the step's prose and its
        // filled command in view, and it is the one that can skip the step or stop the run
        // with a resume line; a prod-like environment's own y/N straight after it would ask
        // the same thing again, and a question asked twice is soon answered without reading.
        // So a step the person said "run" to runs as with --yes; the command's preflight
        // still refuses what it would refuse, and steps run with --yes or --dry-run are
        // unchanged.
        step.global.yes |= confirmed;
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

/// Where the transcript goes: `--transcript PATH`, else a new file in the state directory
/// (created as needed), so that runs leave nothing in the repository they are run from.
/// Made absolute, so that the path printed at the end can be opened from anywhere.
pub(super) fn transcript_path(
    given: Option<&Path>,
    name: &str,
    started: Timestamp,
) -> Result<PathBuf, UserError> {
    let path = match given {
        Some(path) => path.to_owned(),
        None => {
            let dir = transcript_dir(
                std::env::var_os("XDG_STATE_HOME").as_deref(),
                std::env::var_os("HOME").as_deref(),
            )
            .ok_or_else(|| {
                UserError::new(
                    "no place for the transcript: neither XDG_STATE_HOME nor HOME is set; nothing ran",
                )
                .hint("pass --transcript PATH")
            })?;
            std::fs::create_dir_all(&dir).map_err(|e| {
                UserError::new(format!(
                    "cannot create {} for the transcript: {e}; nothing ran",
                    dir.display()
                ))
                .hint("pass --transcript PATH to a writable place")
            })?;
            dir.join(format!(
                "runbook-{name}-{}.json",
                started.strftime("%Y%m%dT%H%M%SZ")
            ))
        }
    };
    Ok(std::path::absolute(&path).unwrap_or(path))
}

/// The directory transcripts go to by default: `$XDG_STATE_HOME/opsctl/runbooks`, else
/// `~/.local/state/opsctl/runbooks` (the XDG default). A relative `XDG_STATE_HOME` is
/// ignored, as the XDG specification asks.
pub(super) fn transcript_dir(
    state_home: Option<&std::ffi::OsStr>,
    home: Option<&std::ffi::OsStr>,
) -> Option<PathBuf> {
    let state = state_home
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            home.filter(|h| !h.is_empty())
                .map(|h| Path::new(h).join(".local/state"))
        })?;
    Some(state.join("opsctl").join("runbooks"))
}

#[cfg(test)]
mod tests {
    use super::transcript_dir;
    use std::ffi::OsStr;
    use std::path::PathBuf;

    #[test]
    fn transcripts_go_to_the_xdg_state_directory() {
        let dir = |state: Option<&str>, home: Option<&str>| {
            transcript_dir(state.map(OsStr::new), home.map(OsStr::new))
        };
        assert_eq!(
            dir(Some("/state"), Some("/home/me")),
            Some(PathBuf::from("/state/opsctl/runbooks"))
        );
        assert_eq!(
            dir(None, Some("/home/me")),
            Some(PathBuf::from("/home/me/.local/state/opsctl/runbooks"))
        );
        assert_eq!(
            dir(Some("relative"), Some("/home/me")),
            Some(PathBuf::from("/home/me/.local/state/opsctl/runbooks")),
            "a relative XDG_STATE_HOME is ignored"
        );
        assert_eq!(dir(None, None), None);
        assert_eq!(dir(Some(""), Some("")), None);
    }
}
