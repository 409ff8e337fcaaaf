//! The runbooks there are: built in, replaced by files of the same name in the runbook
//! directory.

use super::*;

/// The runbook directory when neither `--dir` nor `OPSCTL_RUNBOOKS` names one.
pub(super) const DEFAULT_DIR: &str = "runbooks";

/// A runbook's text and where it came from.
pub(super) struct Entry {
    pub(super) name: String,
    /// `built in`, or the file's path.
    pub(super) source: String,
    pub(super) text: String,
}

impl Entry {
    pub(super) fn parse(&self) -> Result<Runbook, UserError> {
        Runbook::parse(&self.name, &self.text).map_err(|e| {
            UserError::new(format!("runbook {} ({}), {e}", self.name, self.source))
                .hint("fix the runbook; its format is in the README's Runbooks section")
        })
    }
}

/// The built-in runbooks, replaced by files of the same name in the runbook directory.
pub(super) fn catalog(dir: Option<&Path>) -> anyhow::Result<Vec<Entry>> {
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

pub(super) fn find<'a>(entries: &'a [Entry], name: &str) -> Result<&'a Entry, UserError> {
    entries.iter().find(|e| e.name == name).ok_or_else(|| {
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        UserError::new(format!("no runbook named `{name}`")).hint(format!(
            "use one of: {} (opsctl runbook list)",
            names.join(", ")
        ))
    })
}
