//! What a user reads: `--help`, a plan, and error messages, pinned as snapshots so a
//! change to them is a reviewed change.

mod support;

use std::process::Command;

use support::Account;

fn opsctl_offline(args: &[&str]) -> support::Run {
    Command::new(env!("CARGO_BIN_EXE_opsctl"))
        .args(args)
        .env("COLUMNS", "100")
        .env("NO_COLOR", "1")
        .env_remove("OPSCTL_CONFIG")
        .current_dir(support::repo_root())
        .output()
        .expect("run opsctl")
        .into()
}

#[test]
fn top_level_help() {
    let run = opsctl_offline(&["--help"]);
    run.expect_code(0);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn deploy_help() {
    let run = opsctl_offline(&["deploy", "--help"]);
    run.expect_code(0);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn missing_version_is_a_usage_error() {
    let run = opsctl_offline(&["deploy", "staging"]);
    run.expect_code(2);
    insta::assert_snapshot!(run.stderr);
}

#[test]
fn unknown_environment() {
    let run = opsctl_offline(&["status", "qa"]);
    run.expect_code(2);
    insta::assert_snapshot!(run.stderr);
}

#[test]
fn plan_shows_the_diff_and_the_calls() {
    let account = Account::seed();
    let run = account.opsctl(&["-q", "plan", "staging", "--version", "v1.2.0"]);
    run.expect_code(0);
    insta::assert_snapshot!(account.scrub(&run.stdout));
}

#[test]
fn preflight_failure_names_the_problem_and_the_fix() {
    let account = Account::seed();
    let run = account.opsctl(&["-q", "deploy", "staging", "--version", "v7.0.0"]);
    run.expect_code(2);
    insta::assert_snapshot!(account.scrub(&run.stdout));
}
