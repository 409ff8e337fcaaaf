//! Bad input, across every command and config key, against a seeded sandbox account: exit 2,
//! a message that names the key, value or resource and the fix, no panic, and, read back
//! from the sandbox's request log, no call that changed anything.

mod support;

use std::path::{Path, PathBuf};

use support::{Account, Run};

/// The repository's opsctl.toml with `from` replaced by `to` (which must be there).
fn config_with(dir: &Path, n: usize, from: &str, to: &str) -> PathBuf {
    let text = support::repo_config();
    assert!(
        text.contains(from),
        "the repo's opsctl.toml has no `{from}`"
    );
    let path = dir.join(format!("case-{n}.toml"));
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    path
}

fn check(account: &Account, what: &str, run: &Run, says: &[&str], failures: &mut Vec<String>) {
    let said = format!("{}{}", run.stdout, run.stderr);
    let mut wrong = Vec::new();
    if run.code != 2 {
        wrong.push(format!("exit {} (want 2)", run.code));
    }
    if said.contains("panicked") {
        wrong.push("panicked".into());
    }
    for s in says {
        if !said.contains(s) {
            wrong.push(format!("does not say `{s}`"));
        }
    }
    // opsctl's own errors end with `fix:`; clap's say what is expected and point to --help.
    if !["fix:", "tip:", "Usage:", "try '--help'"]
        .iter()
        .any(|m| said.contains(m))
    {
        wrong.push("gives no fix".into());
    }
    if said.contains('\u{1b}') {
        wrong.push("echoes an escape character".into());
    }
    let changed: Vec<String> = account
        .requests()
        .into_iter()
        .filter(|r| r.changed())
        .map(|r| r.action)
        .collect();
    if !changed.is_empty() {
        wrong.push(format!("changed AWS: {changed:?}"));
    }
    account.clear_requests();
    if !wrong.is_empty() {
        failures.push(format!("{what}: {}\n{said}", wrong.join(", ")));
    }
}

#[tokio::test]
async fn bad_command_lines_are_refused_naming_the_problem_and_change_nothing() {
    let account = Account::seed();
    let long = "v".repeat(10_000);
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        // versions
        (vec!["deploy", "staging", "--version", ""], vec!["empty"]),
        (
            vec!["deploy", "staging", "--version", "v1 2"],
            vec!["v1 2", "cannot hold"],
        ),
        (
            vec!["deploy", "staging", "--version=-v1"],
            vec!["starts with `-`"],
        ),
        (vec!["deploy", "staging", "--version", "v1/2"], vec!["`/`"]),
        (
            vec!["deploy", "staging", "--version", &long],
            vec!["at most 128"],
        ),
        (
            vec!["deploy", "staging", "--version", "v1\u{1b}[31m"],
            vec!["control characters"],
        ),
        (vec!["plan", "staging", "--version", ""], vec!["empty"]),
        (vec!["check", "staging", "--version", "a:b"], vec!["`:`"]),
        (
            vec!["deploy", "staging", "--version", "v9.9.9"],
            vec!["v9.9.9 is not in ECR"],
        ),
        (vec!["deploy", "staging"], vec!["--version"]),
        // durations
        (
            vec![
                "deploy",
                "staging",
                "--version",
                "v1.2.0",
                "--timeout",
                "0s",
            ],
            vec!["at least 1s"],
        ),
        (
            vec![
                "deploy",
                "staging",
                "--version",
                "v1.2.0",
                "--timeout",
                "10000000000000000000s",
            ],
            vec!["10000000000000000000s"],
        ),
        (
            vec![
                "deploy",
                "staging",
                "--version",
                "v1.2.0",
                "--timeout",
                "25h",
            ],
            vec!["24h"],
        ),
        (
            vec![
                "deploy",
                "staging",
                "--version",
                "v1.2.0",
                "--timeout",
                "soon",
            ],
            vec!["such as 90s"],
        ),
        (
            vec!["deploy", "staging", "--version", "v1.2.0", "--timeout=-5m"],
            vec!["-5m"],
        ),
        (
            vec!["wait-stable", "staging", "--timeout", "0s"],
            vec!["at least 1s"],
        ),
        (
            vec!["rollback", "staging", "--timeout", "0s"],
            vec!["at least 1s"],
        ),
        (
            vec!["scale", "staging", "--count", "2", "--timeout", "0s"],
            vec!["at least 1s"],
        ),
        (
            vec!["db", "snapshot", "staging", "--timeout", "0s"],
            vec!["at least 1s"],
        ),
        (
            vec!["traffic", "prod", "--to", "green", "--interval", "25h"],
            vec!["24h"],
        ),
        (
            vec!["retire", "prod", "--timeout", "0s"],
            vec!["at least 1s"],
        ),
        // environments
        (
            vec!["deploy", "nope", "--version", "v1.2.0"],
            vec!["unknown environment `nope`"],
        ),
        (
            vec!["deploy", "stagin", "--version", "v1.2.0"],
            vec!["did you mean `staging`"],
        ),
        (vec!["status", "nope"], vec!["unknown environment"]),
        (vec!["history", "nope"], vec!["unknown environment"]),
        (vec!["wait-stable", "nope"], vec!["unknown environment"]),
        (vec!["check", "nope"], vec!["unknown environment"]),
        (vec!["iam-policy", "nope"], vec!["unknown environment"]),
        (
            vec!["status", "sta\u{1b}[2Jging"],
            vec!["control characters"],
        ),
        // services that do not exist
        (
            vec![
                "deploy",
                "staging",
                "--version",
                "v1.2.0",
                "--service",
                "nope",
            ],
            vec!["nope", "not found"],
        ),
        (vec!["status", "staging", "--service", "nope"], vec!["nope"]),
        (
            vec!["wait-stable", "staging", "--service", "nope"],
            vec!["nope"],
        ),
        (
            vec!["history", "staging", "--service", "nope"],
            vec!["nope"],
        ),
        (
            vec!["rollback", "staging", "--service", "nope"],
            vec!["nope"],
        ),
        (
            vec!["scale", "staging", "--service", "nope", "--count", "2"],
            vec!["nope"],
        ),
        (vec!["check", "staging", "--service", "nope"], vec!["nope"]),
        // rollback targets
        (
            vec!["rollback", "staging", "--to", "42"],
            vec!["revision 42"],
        ),
        (
            vec!["rollback", "staging", "--to", "v9.9.9"],
            vec!["v9.9.9"],
        ),
        (
            vec!["rollback", "staging", "--version", "42"],
            vec!["revision 42"],
        ),
        // flags a command does not take
        (
            vec!["status", "staging", "--version", "v1"],
            vec!["--version"],
        ),
        (
            vec!["history", "staging", "--version", "v1"],
            vec!["--version"],
        ),
        (
            vec!["wait-stable", "staging", "--version", "v1"],
            vec!["--version"],
        ),
        (vec!["--output", "yaml", "status", "staging"], vec!["yaml"]),
        // traffic
        (
            vec!["traffic", "staging", "--to", "green"],
            vec!["not a blue/green environment"],
        ),
        (vec!["traffic", "prod", "--to", "purple"], vec!["purple"]),
        (
            vec!["traffic", "prod", "--to", "green", "--steps", "50,10,100"],
            vec!["do not increase"],
        ),
        (
            vec!["traffic", "prod", "--to", "green", "--steps", "0,100"],
            vec!["1 to 100"],
        ),
        (
            vec!["traffic", "prod", "--to", "green", "--steps", "10,50"],
            vec!["end at 100"],
        ),
        (
            vec!["traffic", "prod", "--to", "green", "--steps", "ten"],
            vec!["ten"],
        ),
        (
            vec!["traffic", "prod", "--to", "blue"],
            vec!["already carries"],
        ),
        (
            vec!["retire", "staging"],
            vec!["not a blue/green environment"],
        ),
        (
            vec!["retire", "prod", "--colour", "blue"],
            vec!["refusing to retire"],
        ),
        // scale
        (vec!["scale", "staging", "--count", "100"], vec!["100"]),
        (vec!["scale", "staging", "--count", "-1"], vec!["-1"]),
        (
            vec!["scale", "staging", "--min", "5", "--max", "2"],
            vec!["5"],
        ),
        (vec!["scale", "staging", "--min", "1"], vec!["--max"]),
        (vec!["scale", "staging"], vec!["--count"]),
        // db
        (
            vec![
                "db",
                "restore",
                "staging",
                "--snapshot",
                "x",
                "--target",
                "bad name",
            ],
            vec!["bad name"],
        ),
        (
            vec![
                "db",
                "restore",
                "staging",
                "--to-time",
                "yesterday",
                "--target",
                "new1",
            ],
            vec!["RFC 3339"],
        ),
        (
            vec![
                "db",
                "restore",
                "staging",
                "--to-time",
                "1999-01-01T00:00:00Z",
                "--target",
                "new1",
            ],
            vec!["1999-01-01"],
        ),
        (
            vec![
                "db", "restore", "staging", "--latest", "--target", "users-db",
            ],
            vec!["users-db"],
        ),
        (
            vec![
                "db",
                "restore",
                "staging",
                "--snapshot",
                "nope",
                "--target",
                "new1",
            ],
            vec!["nope"],
        ),
        (
            vec![
                "db",
                "restore",
                "staging",
                "--snapshot",
                "a",
                "--latest",
                "--target",
                "new1",
            ],
            vec!["--latest"],
        ),
        (
            vec!["db", "restore", "staging", "--latest"],
            vec!["--target"],
        ),
        // the live colour in place
        (
            vec![
                "deploy",
                "prod",
                "--service",
                "prod-users-blue",
                "--version",
                "v1.2.0",
                "--yes",
            ],
            vec!["live colour", "--in-place-on-live-colour"],
        ),
        // confirmation without a terminal
        (
            vec!["deploy", "prod", "--version", "v1.2.0"],
            vec!["no terminal to ask on", "--yes"],
        ),
        (vec!["rollback", "prod"], vec!["no terminal", "--yes"]),
        (
            vec!["traffic", "prod", "--to", "green"],
            vec!["no terminal", "--yes"],
        ),
        // runbooks
        (
            vec!["runbook", "run", "nope", "--env", "staging"],
            vec!["nope"],
        ),
        (vec!["runbook", "show", "nope"], vec!["nope"]),
        (
            vec!["runbook", "run", "release", "--env", "nope", "--yes"],
            vec!["nope"],
        ),
        // the connection
        (
            vec!["--endpoint-url", "not a url", "status", "staging"],
            vec!["not a url"],
        ),
        (
            vec![
                "--endpoint-url",
                "http://127.0.0.1:99999",
                "status",
                "staging",
            ],
            vec!["99999"],
        ),
        (
            vec!["--region", "", "status", "staging"],
            vec!["region", "empty"],
        ),
    ];
    let count = cases.len() + 1;
    let mut failures = Vec::new();
    let missing = Path::new("/nonexistent/opsctl.toml");
    let run = account.opsctl_with_config(missing, &["status", "staging"]);
    check(
        &account,
        "a missing config file",
        &run,
        &["/nonexistent/opsctl.toml"],
        &mut failures,
    );
    for (args, says) in &cases {
        let run = account.opsctl(args);
        check(&account, &args.join(" "), &run, says, &mut failures);
    }
    assert!(
        failures.is_empty(),
        "{} of {count} cases:\n{}",
        failures.len(),
        failures.join("\n---\n")
    );
    assert!(count >= 70, "{count} cases");
}

#[tokio::test]
async fn bad_config_is_refused_naming_the_key_and_changes_nothing() {
    let account = Account::seed();
    let dir = tempfile::tempdir().unwrap();
    let staging = ["deploy", "staging", "--version", "v1.2.0"];
    let prod = ["deploy", "prod", "--version", "v1.2.0", "--yes"];
    let tg = r#"target_group = "prod-users-green" }"#;
    // (replace, with, command, says)
    let cases: Vec<(&str, String, &[&str], Vec<&str>)> = vec![
        (
            "[env.staging]",
            "[env.staging\n".into(),
            &staging,
            vec!["invalid config"],
        ),
        (
            "timeout = \"5m\"",
            "timeuot = \"5m\"".into(),
            &staging,
            vec!["timeuot"],
        ),
        (
            "timeout = \"5m\"",
            "timeout = 5".into(),
            &staging,
            vec!["timeout"],
        ),
        (
            "timeout = \"5m\"",
            "timeout = \"0s\"".into(),
            &staging,
            vec!["timeout", "at least 1s"],
        ),
        (
            "timeout = \"5m\"",
            "timeout = \"soon\"".into(),
            &staging,
            vec!["soon"],
        ),
        (
            "bake = \"3s\"",
            "bake = \"25h\"".into(),
            &staging,
            vec!["24h"],
        ),
        (
            "bake = \"3s\"",
            "bake = \"10000000000000000000s\"".into(),
            &staging,
            vec!["bake"],
        ),
        (
            "step_interval = \"3s\"",
            "step_interval = \"abc\"".into(),
            &prod,
            vec!["abc"],
        ),
        (
            "steps = [10, 50, 100]",
            "steps = [50, 10, 100]".into(),
            &prod,
            vec!["steps"],
        ),
        (
            "steps = [10, 50, 100]",
            "steps = []".into(),
            &prod,
            vec!["steps"],
        ),
        (
            "steps = [10, 50, 100]",
            "steps = [10, 50]".into(),
            &prod,
            vec!["end at 100"],
        ),
        (
            "step_interval = \"3s\"",
            "step_interval = \"3s\"\nmax_5xx_percent = -1.0".into(),
            &prod,
            vec!["max_5xx_percent"],
        ),
        (
            "step_interval = \"3s\"",
            "step_interval = \"3s\"\nmax_p99_increase_percent = 1e9".into(),
            &prod,
            vec!["max_p99_increase_percent"],
        ),
        (
            "scaling = { min = 1, max = 6 }",
            "scaling = { min = 5, max = 2 }".into(),
            &staging,
            vec!["scaling"],
        ),
        (
            "scaling = { min = 1, max = 6 }",
            "scaling = { min = -1, max = 2 }".into(),
            &staging,
            vec!["scaling"],
        ),
        (
            "scaling = { min = 1, max = 6 }",
            "scaling = { min = 1, maximum = 6 }".into(),
            &staging,
            vec!["maximum"],
        ),
        (
            "container = \"users\"",
            "container = \"users\"\nbluegreen = 1".into(),
            &staging,
            vec!["bluegreen"],
        ),
        (
            "service = \"staging-users\"",
            "".into(),
            &staging,
            vec!["names no service"],
        ),
        (
            "[env.prod.database]",
            "service = \"x\"\n[env.prod.database]".into(),
            &prod,
            vec!["both `service`"],
        ),
        (
            tg,
            r#"target_group = "prod-users-blue" }"#.into(),
            &prod,
            vec!["different services"],
        ),
        (
            "[env.staging]",
            "[env.\"sta ging\"]".into(),
            &staging,
            vec!["sta ging"],
        ),
        (
            "cluster = \"demo\"",
            "cluster = \"\"".into(),
            &staging,
            vec!["cluster", "empty"],
        ),
        (
            "cluster = \"demo\"",
            format!("cluster = \"{}\"", "c".repeat(10_000)),
            &staging,
            vec!["cluster", "long"],
        ),
        (
            "cluster = \"demo\"",
            "cluster = \"de\\u001b[2Jmo\"".into(),
            &staging,
            vec!["control characters"],
        ),
        (
            "service = \"staging-users\"",
            "service = \"\"".into(),
            &staging,
            vec!["service", "empty"],
        ),
        (
            "repository = \"users\"",
            "repository = \"\"".into(),
            &staging,
            vec!["repository", "empty"],
        ),
        (
            "container = \"users\"",
            "container = \"\"".into(),
            &staging,
            vec!["container", "empty"],
        ),
        (
            "database = { instance = \"users-db\" }",
            "database = { instance = \"\" }".into(),
            &["db", "snapshots", "staging"],
            vec!["instance", "empty"],
        ),
        (
            "database = { instance = \"users-db\" }",
            "database = { instanc = \"users-db\" }".into(),
            &["db", "snapshots", "staging"],
            vec!["instanc"],
        ),
        (
            "alarms = [\"staging-users-5xx\"]",
            "alarms = [\"\"]".into(),
            &staging,
            vec!["alarms", "empty"],
        ),
        (
            "listener = \"prod-alb:80\"",
            "listener = \"garbage\"".into(),
            &prod,
            vec!["garbage"],
        ),
        (
            "region = \"us-east-1\"",
            "region = \"\"".into(),
            &["status", "staging"],
            vec!["region", "empty"],
        ),
        // resources that do not exist: exit 2 with the key
        (
            "cluster = \"demo\"",
            "cluster = \"nope\"".into(),
            &["status", "staging"],
            vec!["cluster"],
        ),
        (
            "cluster = \"demo\"",
            "cluster = \"nope\"".into(),
            &["wait-stable", "staging"],
            vec!["cluster"],
        ),
        (
            "cluster = \"demo\"",
            "cluster = \"nope\"".into(),
            &["history", "staging"],
            vec!["cluster"],
        ),
        (
            "cluster = \"demo\"",
            "cluster = \"nope\"".into(),
            &staging,
            vec!["cluster"],
        ),
        (
            "cluster = \"demo\"",
            "cluster = \"nope\"".into(),
            &["iam-policy", "staging"],
            vec!["cluster"],
        ),
        (
            "service = \"staging-users\"",
            "service = \"nope\"".into(),
            &staging,
            vec!["service"],
        ),
        (
            "service = \"staging-users\"",
            "service = \"nope\"".into(),
            &["status", "staging"],
            vec!["service"],
        ),
        (
            "repository = \"users\"",
            "repository = \"nope\"".into(),
            &staging,
            vec!["nope"],
        ),
        (
            "container = \"users\"",
            "container = \"nope\"".into(),
            &staging,
            vec!["nope"],
        ),
        (
            "alarms = [\"staging-users-5xx\"]",
            "alarms = [\"nope\"]".into(),
            &staging,
            vec!["nope"],
        ),
        (
            "listener = \"prod-alb:80\"",
            "listener = \"prod-alb:99\"".into(),
            &prod,
            vec!["listener"],
        ),
        (
            "listener = \"prod-alb:80\"",
            "listener = \"prod-alb:99\"".into(),
            &["traffic", "prod", "--to", "green", "--yes"],
            vec!["listener"],
        ),
        (
            tg,
            r#"target_group = "nope" }"#.into(),
            &prod,
            vec!["target_group"],
        ),
        (
            r#"green = { service = "prod-users-green""#,
            r#"green = { service = "nope""#.into(),
            &["traffic", "prod", "--to", "green", "--yes"],
            vec!["nope"],
        ),
        (
            "database = { instance = \"users-db\" }",
            "database = { instance = \"nope\" }".into(),
            &["db", "snapshot", "staging"],
            vec!["nope"],
        ),
    ];
    let count = cases.len();
    let mut failures = Vec::new();
    for (n, (from, to, args, says)) in cases.iter().enumerate() {
        let config = config_with(dir.path(), n, from, to);
        let run = account.opsctl_with_config(&config, args);
        check(
            &account,
            &format!(
                "`{from}` -> `{}`: {}",
                to.chars().take(60).collect::<String>(),
                args.join(" ")
            ),
            &run,
            says,
            &mut failures,
        );
    }
    assert!(count >= 40, "{count} cases");
    assert!(
        failures.is_empty(),
        "{} of {count} cases:\n{}",
        failures.len(),
        failures.join("\n---\n")
    );
}
