//! `opsctl man`: the manual, as one complete page or as a page per command.

use clap::CommandFactory;
use std::path::{Path, PathBuf};

use crate::cli::Cli;

/// The command tree as the manual shows it: built, so every subcommand knows its full name
/// (`opsctl-db-snapshot`), without clap's `help` subcommand.
fn command() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// Every visible command below `cmd` with its full name (`opsctl db snapshot`), depth first,
/// in the order `--help` lists them.
fn commands(cmd: &clap::Command, name: &str) -> Vec<(String, clap::Command)> {
    let mut out = Vec::new();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let full = format!("{name} {}", sub.get_name());
        out.push((full.clone(), sub.clone()));
        out.extend(commands(sub, &full));
    }
    out
}

/// The command without the global options: the top of the page documents those once.
fn own_options(cmd: clap::Command, globals: &[clap::Id]) -> clap::Command {
    globals
        .iter()
        .fold(cmd, |cmd, id| cmd.mut_arg(id.clone(), |a| a.hide(true)))
}

/// One page with everything: the top level's synopsis, description and global options, then a
/// section per command (`OPSCTL DEPLOY`, `OPSCTL DB SNAPSHOT`, …) with its own synopsis,
/// description and options, so `opsctl man | man -l -` documents every flag.
pub fn one_page() -> std::io::Result<Vec<u8>> {
    let top = command();
    let man = clap_mangen::Man::new(top.clone());
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    let globals: Vec<clap::Id> = top
        .get_arguments()
        .filter(|a| a.is_global_set())
        .map(|a| a.get_id().clone())
        .collect();
    for (name, cmd) in commands(&top, top.get_name()) {
        page.extend_from_slice(format!(".SH \"{}\"\n", name.to_uppercase()).as_bytes());
        let cmd = own_options(cmd, &globals);
        let man = clap_mangen::Man::new(cmd.clone());
        let mut part = Vec::new();
        man.render_synopsis_section(&mut part)?;
        man.render_description_section(&mut part)?;
        if cmd.get_arguments().any(|a| !a.is_hide_set()) {
            man.render_options_section(&mut part)?;
        }
        // The command's own headings become subsections of its section.
        for line in String::from_utf8_lossy(&part).lines() {
            match line.strip_prefix(".SH ") {
                Some(heading) => page.extend_from_slice(format!(".SS {heading}\n").as_bytes()),
                None => page.extend_from_slice(format!("{line}\n").as_bytes()),
            }
        }
    }
    man.render_version_section(&mut page)?;
    Ok(page)
}

/// A page per command in `dir` (`opsctl.1`, `opsctl-deploy.1`, `opsctl-db-snapshot.1`, …), as
/// packagers install them; the top page's SUBCOMMANDS section names them. Returns the files
/// written.
pub fn pages_to(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let top = command();
    let mut written = vec![clap_mangen::Man::new(top.clone()).generate_to(dir)?];
    for (_, cmd) in commands(&top, top.get_name()) {
        written.push(clap_mangen::Man::new(cmd).generate_to(dir)?);
    }
    Ok(written)
}
