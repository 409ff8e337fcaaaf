//! Every runbook in runbooks/ parses, is built into the binary, and each of its steps is a
//! valid opsctl command line once its placeholders are filled with sample values, as the real
//! command-line parser reads it. One test per runbook, so a failure names the runbook.

use std::collections::BTreeMap;

use opsctl::runbook::{self, Runbook};

/// A sample value for every placeholder the runbooks use.
fn samples() -> BTreeMap<String, String> {
    [
        ("env", "prod"),
        ("version", "v1.2.3"),
        ("time", "2025-06-01T13:59:00Z"),
        ("target", "users-db-restored"),
        ("snapshot", "users-db-20250601135900-v1.2.3"),
        ("count", "4"),
        ("min", "1"),
        ("max", "6"),
        ("region", "us-west-2"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("runbooks")
        .join(format!("{name}.md"))
}

fn check(name: &str) {
    let text = std::fs::read_to_string(path(name)).unwrap();
    let rb = Runbook::parse(name, &text).unwrap_or_else(|e| panic!("runbooks/{name}.md: {e}"));
    assert!(
        runbook::BUILTIN.contains(&(name, text.as_str())),
        "runbooks/{name}.md is not built in: add it to runbook::BUILTIN"
    );
    assert!(
        rb.steps.iter().any(|s| s.command.is_some()),
        "runbooks/{name}.md runs nothing"
    );
    let values = samples();
    for step in &rb.steps {
        let Some(command) = &step.command else {
            continue;
        };
        let words = runbook::fill_words(&command.words, &values).unwrap_or_else(|missing| {
            panic!("runbooks/{name}.md: no sample value for {missing:?}: add one to samples()")
        });
        if let Err(e) = runbook::check_command(&words) {
            panic!(
                "runbooks/{name}.md:{} step {}: `{}` is not a valid opsctl command line: {e}",
                command.line,
                step.number,
                runbook::display_words(&words)
            );
        }
    }
}

macro_rules! runbooks {
    ($($test:ident => $name:literal),* $(,)?) => {
        const TESTED: &[&str] = &[$($name),*];
        $(
            #[test]
            fn $test() {
                check($name);
            }
        )*
    };
}

runbooks! {
    release_is_valid => "release",
    failed_deploy_is_valid => "failed-deploy",
    high_error_rate_is_valid => "high-error-rate",
    restore_db_to_time_is_valid => "restore-db-to-time",
    restore_db_from_snapshot_is_valid => "restore-db-from-snapshot",
    scale_out_is_valid => "scale-out",
    maintenance_window_is_valid => "maintenance-window",
    run_migration_is_valid => "run-migration",
    database_primary_failed_is_valid => "database-primary-failed",
    region_lost_is_valid => "region-lost",
    zone_lost_is_valid => "zone-lost",
}

#[test]
fn every_runbook_file_is_tested_and_built_in() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "md").then(|| p.file_stem().unwrap().to_str().unwrap().to_owned())
        })
        .collect();
    files.sort();
    let mut tested: Vec<String> = TESTED.iter().map(|s| (*s).to_owned()).collect();
    tested.sort();
    let mut builtin: Vec<String> = runbook::BUILTIN
        .iter()
        .map(|(n, _)| (*n).to_owned())
        .collect();
    builtin.sort();
    assert_eq!(files, tested, "every runbook file has a test above");
    assert_eq!(files, builtin, "every runbook file is in runbook::BUILTIN");
}
