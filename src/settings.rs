//! Flags, the process environment and `opsctl.toml`, resolved into the plain options each
//! workflow takes, before any workflow runs. Workflows never see `cli` types.
//!
//! Precedence, for every setting: the flag, then the process environment, then the env's
//! table in `opsctl.toml`, then opsctl's default. One exception, the region: an env's
//! `region` in `opsctl.toml` says where that environment lives, so it beats the machine-wide
//! `AWS_REGION` (a CI runner's default for everything else); only `--region` beats it. See
//! [`region`].

use std::time::Duration;

use crate::cli::{
    DbCopyArgs, DbFailoverArgs, DbRestoreArgs, DbSnapshotArgs, DeployArgs, Global, LogsArgs,
    LogsColour, PlanArgs, RetireArgs, RollbackArgs, RunArgs, ScaleArgs, TrafficArgs, WaitArgs,
};
use crate::config::{BlueGreen, EnvConfig};
use crate::error::UserError;
use crate::workflows::{self, db, deploy, rollback, scale, traffic, wait};

/// The waiter's base poll interval.
pub const POLL: Duration = Duration::from_secs(1);

/// Reads one variable of the process environment (a parameter, so tests need not change
/// the real one).
pub type Vars<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process's own environment; empty values count as unset.
pub fn process_vars(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The region to use for `env`: `--region`, then the env's `region`, then `AWS_REGION` and
/// `AWS_DEFAULT_REGION`. `None` leaves it to the SDK, which reads the profile's region.
/// An empty value given on purpose is bad input.
pub fn region(
    global: &Global,
    env: &EnvConfig,
    vars: Vars<'_>,
) -> Result<Option<String>, UserError> {
    let chosen = global
        .region
        .clone()
        .or_else(|| env.region.clone())
        .or_else(|| vars("AWS_REGION"))
        .or_else(|| vars("AWS_DEFAULT_REGION"));
    if chosen.as_deref().is_some_and(|r| r.trim().is_empty()) {
        return Err(
            UserError::new(format!("the region for env.{} is empty", env.name)).hint(format!(
                "set region = \"us-east-1\" (say) in [env.{}], or pass --region",
                env.name
            )),
        );
    }
    Ok(chosen)
}

/// `--profile NAME` must name a profile the AWS config files define: one that does not would
/// otherwise fail later with a bare "no credentials", or go unnoticed while `AWS_*` keys are set.
pub fn check_profile(profile: &str, defined: &[String], vars: Vars<'_>) -> Result<(), UserError> {
    if defined.iter().any(|p| p == profile) {
        return Ok(());
    }
    let config = vars("AWS_CONFIG_FILE").unwrap_or_else(|| "~/.aws/config".into());
    let credentials =
        vars("AWS_SHARED_CREDENTIALS_FILE").unwrap_or_else(|| "~/.aws/credentials".into());
    let known = if defined.is_empty() {
        "they define no profile".to_owned()
    } else {
        format!("they define {}", defined.join(", "))
    };
    Err(UserError::new(format!(
        "--profile {}: no such profile in {config} or {credentials} ({known})",
        crate::input::escape(profile)
    ))
    .hint(format!(
        "pass one of the profiles defined, or create it: aws configure --profile {} (or aws configure sso)",
        crate::input::escape(profile)
    )))
}

/// How long a command waits: `--timeout`, else the env's `timeout` (15 minutes unless set).
fn timeout(flag: Option<Duration>, env: &EnvConfig) -> Duration {
    flag.unwrap_or(env.timeout.0)
}

/// `opsctl deploy`.
pub fn deploy(args: &DeployArgs, env: &EnvConfig, actor: &str) -> deploy::Options {
    deploy::Options {
        version: args.version.clone(),
        dry_run: args.dry_run,
        no_wait: args.no_wait,
        no_rollback: args.no_rollback,
        ignore_alarms: args.ignore_alarms,
        timeout: timeout(args.timeout, env),
        poll: POLL,
        actor: actor.to_owned(),
        wait_until: args.wait_until.clone(),
    }
}

/// `opsctl plan`: a deploy that changes nothing, with the preflight the deploy would run
/// (alarms in ALARM fail it, as they fail the deploy, unless `--ignore-alarms`).
pub fn plan(args: &PlanArgs, env: &EnvConfig, actor: &str) -> deploy::Options {
    deploy::Options {
        version: args.version.clone(),
        dry_run: true,
        no_wait: true,
        no_rollback: false,
        ignore_alarms: args.ignore_alarms,
        timeout: env.timeout.0,
        poll: POLL,
        actor: actor.to_owned(),
        wait_until: None,
    }
}

/// `opsctl wait-stable`: counts and target health.
pub fn wait(args: &WaitArgs, env: &EnvConfig) -> wait::Options {
    wait::Options {
        timeout: timeout(args.timeout, env),
        poll: POLL,
        check_targets: true,
    }
}

/// `opsctl rollback`.
pub fn rollback(args: &RollbackArgs, env: &EnvConfig) -> rollback::Options {
    rollback::Options {
        to: args.to.clone(),
        dry_run: args.dry_run,
        no_wait: args.no_wait,
        timeout: timeout(args.timeout, env),
        poll: POLL,
    }
}

/// `opsctl traffic`: `--steps` and `--interval` over the env's bluegreen table.
pub fn traffic(args: &TrafficArgs, bg: &BlueGreen, to: traffic::Colour) -> traffic::Options {
    traffic::Options {
        to,
        steps: args.steps.clone().unwrap_or_else(|| bg.steps.clone()),
        interval: args.interval.unwrap_or(bg.step_interval.0),
        dry_run: args.dry_run,
    }
}

/// `opsctl retire`: how long to wait for the colour to reach zero.
pub fn retire_timeout(args: &RetireArgs, env: &EnvConfig) -> Duration {
    timeout(args.timeout, env)
}

/// `opsctl scale`.
pub fn scale(args: &ScaleArgs, env: &EnvConfig) -> scale::Options {
    scale::Options {
        count: args.count,
        min: args.min,
        max: args.max,
        dry_run: args.dry_run,
        no_wait: args.no_wait,
        timeout: timeout(args.timeout, env),
        poll: POLL,
    }
}

/// `opsctl db snapshot`: a database waits longer than a service (`db::TIMEOUT`).
pub fn snapshot(args: &DbSnapshotArgs, actor: &str) -> db::SnapshotOptions {
    db::SnapshotOptions {
        reason: args.reason.clone(),
        version: None,
        wait: args.wait,
        dry_run: args.dry_run,
        timeout: args.timeout.unwrap_or(db::TIMEOUT),
        poll: db::POLL,
        actor: actor.to_owned(),
        copy_to: args.copy_to.clone(),
        kms_key: args.kms_key.clone(),
    }
}

/// `opsctl db copy`: the region is `--to-region`, else the env's `database.dr.region`.
pub fn copy(
    args: &DbCopyArgs,
    env: &crate::config::EnvConfig,
    actor: &str,
) -> Result<db::CopyOptions, crate::error::UserError> {
    let dr = env.database.as_ref().and_then(|d| d.dr.as_ref());
    let Some(to_region) = args
        .to_region
        .clone()
        .or_else(|| dr.map(|d| d.region.clone()))
    else {
        return Err(crate::error::UserError::new(format!(
            "no region to copy to: env.{} has no database.dr and no --to-region was given",
            env.name
        ))
        .hint(format!(
            "pass --to-region REGION, or set database.dr = {{ region = \"...\", subnet_group = \"...\" }} in [env.{}]",
            env.name
        )));
    };
    Ok(db::CopyOptions {
        snapshot: args.snapshot.clone(),
        to_region,
        kms_key: args.kms_key.clone(),
        wait: args.wait,
        dry_run: args.dry_run,
        timeout: args.timeout.unwrap_or(db::TIMEOUT),
        poll: db::POLL,
        actor: actor.to_owned(),
    })
}

/// `opsctl db restore`.
pub fn restore(args: &DbRestoreArgs, actor: &str) -> db::RestoreOptions {
    let from = match (&args.snapshot, args.to_time) {
        (Some(id), _) => db::RestoreFrom::Snapshot(id.clone()),
        (None, Some(time)) => db::RestoreFrom::Time(time),
        (None, None) => db::RestoreFrom::Latest,
    };
    db::RestoreOptions {
        from,
        target: args.target.clone(),
        region: args.to_region.clone(),
        wait: !args.no_wait,
        dry_run: args.dry_run,
        timeout: args.timeout.unwrap_or(db::TIMEOUT),
        poll: db::POLL,
        actor: actor.to_owned(),
    }
}

/// `opsctl logs`: `--since` (default 10m) or `--start`, from `now`.
pub fn logs(args: &LogsArgs, now: jiff::Timestamp) -> workflows::logs::LogsOptions {
    let since = args.since.unwrap_or(std::time::Duration::from_secs(600));
    let back = jiff::SignedDuration::try_from(since).unwrap_or(jiff::SignedDuration::ZERO);
    use workflows::logs::Which;
    workflows::logs::LogsOptions {
        service: args.target.service.first().cloned(),
        colour: args.colour.map(|c| match c {
            LogsColour::Blue => Which::Colour(workflows::traffic::Colour::Blue),
            LogsColour::Green => Which::Colour(workflows::traffic::Colour::Green),
            LogsColour::Live => Which::Live,
            LogsColour::Idle => Which::Idle,
        }),
        container: args.container.clone(),
        task: args.task.clone(),
        start: args
            .start
            .unwrap_or_else(|| now.checked_sub(back).unwrap_or(jiff::Timestamp::UNIX_EPOCH)),
        end: args.end,
        pattern: args.filter.clone(),
        follow: args.follow,
        follow_for: args.follow_for,
        poll: workflows::logs::POLL,
    }
}

/// `opsctl run`.
pub fn run(args: &RunArgs, actor: &str) -> workflows::run::RunOptions {
    workflows::run::RunOptions {
        service: args.target.service.first().cloned(),
        container: args.container.clone(),
        version: args.version.clone(),
        command: args.command.clone(),
        logs: !args.no_logs,
        dry_run: args.dry_run,
        timeout: args.timeout.unwrap_or(workflows::run::TIMEOUT),
        poll: workflows::run::POLL,
        actor: actor.to_owned(),
    }
}

/// `opsctl db failover`.
pub fn failover(args: &DbFailoverArgs) -> db::FailoverOptions {
    db::FailoverOptions {
        wait: args.wait,
        dry_run: args.dry_run,
        timeout: args.timeout.unwrap_or(db::TIMEOUT),
        poll: db::POLL,
    }
}

/// The session name of an assumed role: who is deploying (`alice@laptop`, `octocat (GitHub
/// Actions)` → `alice@laptop`, `octocat-GitHub-Actions`) in the characters STS allows
/// (`[\w+=,.@-]`, 2 to 64 of them), else `opsctl`.
pub fn session_name(actor: Option<String>) -> String {
    let Some(actor) = actor else {
        return "opsctl".into();
    };
    let mut name = String::new();
    for c in actor.chars() {
        let keep = c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
        match (keep, name.ends_with('-')) {
            (true, _) => name.push(c),
            (false, false) => name.push('-'),
            (false, true) => {}
        }
    }
    let name: String = name.trim_matches('-').chars().take(64).collect();
    if name.len() < 2 {
        "opsctl".into()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use clap::Parser;

    use super::*;

    #[test]
    fn a_session_name_is_who_deploys_in_the_characters_sts_takes() {
        assert_eq!(session_name(Some("alice@laptop".into())), "alice@laptop");
        assert_eq!(
            session_name(Some("octocat (GitHub Actions)".into())),
            "octocat-GitHub-Actions"
        );
        assert_eq!(session_name(Some("ünïcode".into())), "n-code");
        assert_eq!(session_name(Some("x".repeat(100))).len(), 64);
        assert_eq!(session_name(Some("é".into())), "opsctl");
        assert_eq!(session_name(None), "opsctl");
    }
    use crate::cli::{Cli, Command};
    use crate::config::Config;

    fn env(table: &str) -> EnvConfig {
        let text = format!("[env.prod]\ncluster = \"c\"\nservice = \"s\"\n{table}");
        Config::parse(Path::new("opsctl.toml"), &text)
            .unwrap()
            .env("prod")
            .unwrap()
            .clone()
    }

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("opsctl").chain(args.iter().copied())).unwrap()
    }

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn region_is_the_flag_then_the_env_table_then_aws_region() {
        let file = env("region = \"ap-south-1\"");
        let bare = env("");
        let ambient = vars(&[
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
        ]);
        let flag = cli(&["--region", "eu-central-1", "status", "prod"]);
        let none = cli(&["status", "prod"]);
        assert_eq!(
            region(&flag.global, &file, &ambient).unwrap().as_deref(),
            Some("eu-central-1"),
            "--region beats everything"
        );
        assert_eq!(
            region(&none.global, &file, &ambient).unwrap().as_deref(),
            Some("ap-south-1"),
            "the env's own region beats the machine's AWS_REGION"
        );
        assert_eq!(
            region(&none.global, &bare, &ambient).unwrap().as_deref(),
            Some("us-east-1"),
            "AWS_REGION before AWS_DEFAULT_REGION"
        );
        assert_eq!(
            region(
                &none.global,
                &bare,
                &vars(&[("AWS_DEFAULT_REGION", "eu-west-1")])
            )
            .unwrap()
            .as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(region(&none.global, &bare, &vars(&[])).unwrap(), None);
        let empty = cli(&["--region", " ", "status", "prod"]);
        let err = region(&empty.global, &file, &ambient).unwrap_err();
        assert!(err.message.contains("is empty"), "{err}");
    }

    #[test]
    fn a_timeout_is_the_flag_then_the_env_table_then_fifteen_minutes() {
        let deploy_args = |cli: &Cli| match &cli.command {
            Command::Deploy(args) => deploy(args, &env("timeout = \"20m\""), "asha"),
            _ => unreachable!(),
        };
        let flag = cli(&["deploy", "prod", "--version", "v1", "--timeout", "90s"]);
        assert_eq!(deploy_args(&flag).timeout, Duration::from_secs(90));
        let file = cli(&["deploy", "prod", "--version", "v1"]);
        assert_eq!(deploy_args(&file).timeout, Duration::from_secs(20 * 60));
        let Command::WaitStable(args) = &cli(&["wait-stable", "prod"]).command else {
            unreachable!()
        };
        assert_eq!(wait(args, &env("")).timeout, Duration::from_secs(15 * 60));
    }

    #[test]
    fn a_profile_must_be_defined_and_the_error_names_the_files_and_the_profiles() {
        let defined = ["default".to_owned(), "sandbox".to_owned()];
        assert!(check_profile("sandbox", &defined, &vars(&[])).is_ok());
        let err = check_profile("nope", &defined, &vars(&[])).unwrap_err();
        let text = format!("{err}");
        assert!(text.contains("--profile nope: no such profile"), "{text}");
        assert!(
            text.contains("~/.aws/config or ~/.aws/credentials"),
            "{text}"
        );
        assert!(text.contains("they define default, sandbox"), "{text}");
        assert!(
            err.hint
                .as_deref()
                .unwrap()
                .contains("aws configure --profile nope"),
            "{err:?}"
        );
        let moved = vars(&[("AWS_CONFIG_FILE", "/etc/aws.conf")]);
        let err = check_profile("nope", &[], &moved).unwrap_err();
        assert!(format!("{err}").contains("/etc/aws.conf"), "{err}");
        assert!(format!("{err}").contains("they define no profile"), "{err}");
    }

    #[test]
    fn database_waits_default_to_an_hour_and_obey_the_flag() {
        let Command::Db {
            command: crate::cli::DbCommand::Snapshot(args),
        } = &cli(&["db", "snapshot", "prod"]).command
        else {
            unreachable!()
        };
        assert_eq!(snapshot(args, "asha").timeout, Duration::from_secs(3600));
        let Command::Db {
            command: crate::cli::DbCommand::Restore(args),
        } = &cli(&[
            "db",
            "restore",
            "prod",
            "--latest",
            "--target",
            "t",
            "--timeout",
            "2h",
        ])
        .command
        else {
            unreachable!()
        };
        let opts = restore(args, "asha");
        assert_eq!(opts.timeout, Duration::from_secs(7200));
        assert!(matches!(opts.from, db::RestoreFrom::Latest));
    }
}
