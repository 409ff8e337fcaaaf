//! Reading `opsctl.toml`: what parses, and what each mistake is told.

use std::path::Path;

use super::*;
use crate::error::UserError;

fn parse(text: &str) -> Result<Config, UserError> {
    Config::parse(Path::new("opsctl.toml"), text)
}

#[test]
fn repo_example_parses() {
    let text = include_str!("../../opsctl.toml");
    let config = parse(text).expect("the example config parses");
    let prod = config.env("prod").unwrap();
    assert!(prod.confirm);
    assert_eq!(prod.timeout.0, Duration::from_secs(600));
    assert_eq!(prod.two_service().unwrap().steps, vec![10, 50, 100]);
    assert_eq!(
        config.env("staging").unwrap().rolling_service(),
        Some("staging-users")
    );
}

#[test]
fn unknown_key_names_file_line_and_key() {
    let err = parse("[env.a]\ncluster = \"c\"\nservice = \"s\"\ntimeuot = \"5m\"\n").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("opsctl.toml"), "{msg}");
    assert!(msg.contains("line 4"), "{msg}");
    assert!(msg.contains("timeuot"), "{msg}");
}

#[test]
fn bad_duration_says_what_was_expected() {
    let err = parse("[env.a]\ncluster = \"c\"\nservice = \"s\"\ntimeout = \"soon\"\n").unwrap_err();
    assert!(err.to_string().contains("such as 90s, 5m"), "{err}");
    assert!(err.to_string().contains("line 4"), "{err}");
}

#[test]
fn unknown_env_suggests_the_close_one() {
    let config = parse("[env.prod]\ncluster = \"c\"\nservice = \"s\"\n").unwrap();
    let err = config.env("prd").unwrap_err();
    assert!(err.to_string().contains("unknown environment `prd`"));
    assert!(err.hint.unwrap().contains("did you mean `prod`"));
}

#[test]
fn env_without_service_is_refused_with_its_line() {
    let err = parse("\n[env.a]\ncluster = \"c\"\n").unwrap_err();
    assert!(err.to_string().contains("opsctl.toml:2"), "{err}");
    assert!(err.to_string().contains("names no service"), "{err}");
}

#[test]
fn zero_timeouts_absurd_durations_and_bad_thresholds_are_refused_with_their_line() {
    let base = "[env.a]\ncluster = \"c\"\nservice = \"s\"\n";
    let err = parse(&format!("{base}timeout = \"0s\"\n")).unwrap_err();
    assert!(err.to_string().contains("opsctl.toml:4"), "{err}");
    assert!(err.to_string().contains("timeout"), "{err}");
    let err = parse(&format!("{base}bake = \"10000000000000000000s\"\n")).unwrap_err();
    assert!(err.to_string().contains("line 4"), "{err}");
    let bg = "[env.b]\ncluster = \"c\"\n[env.b.bluegreen]\nlistener = \"l:80\"\n\
              blue = { service = \"b\", target_group = \"tb\" }\n\
              green = { service = \"g\", target_group = \"tg\" }\n";
    assert!(parse(bg).is_ok());
    let err = parse(&format!("{bg}max_5xx_percent = -1.0\n")).unwrap_err();
    assert!(err.to_string().contains("max_5xx_percent = -1"), "{err}");
    assert!(err.to_string().contains("opsctl.toml:7"), "{err}");
    let err = parse(&format!("{bg}max_p99_increase_percent = nan\n")).unwrap_err();
    assert!(
        err.to_string().contains("max_p99_increase_percent"),
        "{err}"
    );
}

#[test]
fn control_characters_in_a_value_are_refused_escaped() {
    let err = parse("[env.a]\ncluster = \"c\\u001b[2J\"\nservice = \"s\"\n").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("env.a.cluster holds control characters"),
        "{msg}"
    );
    assert!(msg.contains("c\\u{1b}[2J"), "{msg}");
    assert!(!msg.contains('\u{1b}'), "{msg}");
    assert!(msg.contains("opsctl.toml:2"), "{msg}");
}

#[test]
fn steps_must_increase_and_end_at_100() {
    assert!(validate_steps(&[10, 50, 100]).is_ok());
    assert!(
        validate_steps(&[50, 10, 100])
            .unwrap_err()
            .contains("do not increase")
    );
    assert!(
        validate_steps(&[10, 50])
            .unwrap_err()
            .contains("end at 100")
    );
    assert!(validate_steps(&[0, 100]).is_err());
}

#[test]
fn the_recovery_region_and_the_retention_are_checked_at_load() {
    let config = parse(include_str!("../../opsctl.toml")).unwrap();
    let db = config.env("prod").unwrap().database.clone().unwrap();
    assert_eq!(db.keep_snapshots, Some(5));
    let dr = db.dr.unwrap();
    assert_eq!(
        (dr.region.as_str(), dr.subnet_group.as_str()),
        ("us-west-2", "users-db-dr-subnets")
    );
    let with = |database: &str| {
        format!(
            "[env.x]\nregion = \"us-east-1\"\ncluster = \"c\"\nservice = \"s\"\n\n[env.x.database]\ninstance = \"db\"\n{database}\n"
        )
    };
    for (database, says, fix) in [
        (
            "keep_snapshots = 0",
            "would delete every snapshot",
            "keep at least 1",
        ),
        (
            "dr = { region = \"US West\", subnet_group = \"g\" }",
            "is not an AWS region name",
            "us-west-2",
        ),
        (
            "dr = { region = \"us-east-1\", subnet_group = \"g\" }",
            "the env's own region",
            "name another region",
        ),
        (
            "dr = { region = \"us-west-2\", subnet_group = \"\" }",
            "database.dr.subnet_group is empty",
            "name the AWS resource",
        ),
    ] {
        let e = parse(&with(database)).unwrap_err();
        assert!(e.message.contains(says), "{database}: {}", e.message);
        assert!(
            e.hint.as_deref().unwrap_or("").contains(fix),
            "{database}: {:?}",
            e.hint
        );
    }
    assert!(
        parse(&with(
            "keep_snapshots = 3\ndr = { region = \"eu-west-1\", subnet_group = \"g\" }"
        ))
        .is_ok()
    );
}

#[test]
fn a_role_arn_must_be_a_roles_and_an_external_id_needs_one() {
    let env = |extra: &str| {
        parse(&format!(
            "[env.a]\ncluster = \"c\"\nservice = \"s\"\n{extra}"
        ))
    };
    let ok = env(
        "role_arn = \"arn:aws:iam::222222222222:role/ops/deployer\"\nexternal_id = \"s3cret-1\"\n",
    )
    .unwrap();
    let role = ok.env("a").unwrap().role.clone().unwrap();
    assert_eq!(role.account(), "222222222222");
    assert_eq!(role.external_id.as_deref(), Some("s3cret-1"));
    for (bad, says) in [
        (
            "role_arn = \"arn:aws:iam::2222:role/x\"",
            "is not an IAM role ARN",
        ),
        (
            "role_arn = \"arn:aws:iam::222222222222:user/x\"",
            "is not an IAM role ARN",
        ),
        ("role_arn = \"deployer\"", "is not an IAM role ARN"),
        ("external_id = \"abc\"", "no role_arn to assume with it"),
        (
            "role_arn = \"arn:aws:iam::222222222222:role/x\"\nexternal_id = \"has space\"",
            "external_id must be",
        ),
    ] {
        let err = env(&format!("{bad}\n")).unwrap_err();
        assert!(err.to_string().contains(says), "{bad}: {err}");
        assert!(
            err.to_string().contains("opsctl.toml:"),
            "{bad}: names the line: {err}"
        );
        assert!(err.hint.is_some());
    }
}

#[test]
fn drift_needs_a_task_definition_to_measure_against() {
    let err = parse("[env.a]\ncluster = \"c\"\nservice = \"s\"\ndrift = \"refuse\"\n").unwrap_err();
    assert!(err.to_string().contains("no task_definition"), "{err}");
    let err = parse("[env.a]\ncluster = \"c\"\nservice = \"s\"\ndrift = \"never\"\n").unwrap_err();
    assert!(err.to_string().contains("never"), "{err}");
    let ok =
        parse("[env.a]\ncluster = \"c\"\nservice = \"s\"\ntask_definition = \"deploy/td.json\"\n")
            .unwrap();
    let file = ok.env("a").unwrap().task_definition.clone().unwrap();
    assert_eq!(file.drift, DriftMode::Warn);
    assert_eq!(file.shown, "deploy/td.json");
}

#[test]
fn a_declared_strategy_is_one_ecs_has_or_two_service_with_its_table() {
    let env = |extra: &str| parse(&format!("[env.a]\ncluster = \"c\"\n{extra}"));
    let canary = env("service = \"s\"\nstrategy = \"canary\"\n").unwrap();
    assert_eq!(
        canary.env("a").unwrap().declared_strategy,
        Some(crate::aws::DeploymentStrategy::Canary)
    );
    for (bad, says) in [
        (
            "service = \"s\"\nstrategy = \"blue-green\"\n",
            "is not a strategy",
        ),
        (
            "service = \"s\"\nstrategy = \"two-service\"\n",
            "needs a [env.a.bluegreen] table",
        ),
    ] {
        let err = env(bad).unwrap_err();
        assert!(err.to_string().contains(says), "{bad}: {err}");
    }
}

#[test]
fn the_scan_gate_is_read_with_its_default_wait() {
    let base = "[env.a]\ncluster = \"c\"\nservice = \"s\"\n";
    let env = parse(&format!("{base}scan = {{ fail_on = \"HIGH\" }}\n")).unwrap();
    let gate = env.env("a").unwrap().scan.unwrap();
    assert_eq!(gate.fail_on, crate::aws::Severity::High);
    assert_eq!(gate.wait.0, Duration::from_secs(300));
    let env = parse(&format!(
        "{base}[env.a.scan]\nfail_on = \"CRITICAL\"\nwait = \"90s\"\n"
    ))
    .unwrap();
    assert_eq!(
        env.env("a").unwrap().scan.unwrap().wait.0,
        Duration::from_secs(90)
    );
    assert!(parse(base).unwrap().env("a").unwrap().scan.is_none());
}

#[test]
fn scan_mistakes_are_refused_naming_the_key_and_the_fix() {
    let base = "[env.a]\ncluster = \"c\"\nservice = \"s\"\n";
    let err = parse(&format!("{base}scan = {{ fail_on = \"SEVERE\" }}\n")).unwrap_err();
    assert!(err.to_string().contains("opsctl.toml:4"), "{err}");
    assert!(
        err.to_string()
            .contains("env.a.scan.fail_on = \"SEVERE\" is not a severity"),
        "{err}"
    );
    let hint = err.hint.clone().unwrap();
    assert!(
        hint.contains("CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL"),
        "{hint}"
    );
    // Unranked and lower-case words are no threshold either.
    assert!(parse(&format!("{base}scan = {{ fail_on = \"UNTRIAGED\" }}\n")).is_err());
    assert!(parse(&format!("{base}scan = {{ fail_on = \"high\" }}\n")).is_err());
    let err = parse(&format!(
        "{base}scan = {{ fail_on = \"HIGH\", wait = \"soon\" }}\n"
    ))
    .unwrap_err();
    assert!(err.to_string().contains("line 4"), "{err}");
    assert!(err.to_string().contains("such as 90s, 5m"), "{err}");
    let err = parse(&format!(
        "{base}scan = {{ fail_on = \"HIGH\", fial = true }}\n"
    ))
    .unwrap_err();
    assert!(err.to_string().contains("line 4"), "{err}");
    assert!(err.to_string().contains("fial"), "{err}");
    let err = parse(&format!("{base}scan = {{ wait = \"5m\" }}\n")).unwrap_err();
    assert!(err.to_string().contains("fail_on"), "{err}");
    let err = parse(&format!("{base}scan = \"HIGH\"\n")).unwrap_err();
    assert!(err.to_string().contains("line 4"), "{err}");
}

#[test]
fn native_settings_are_read_in_minutes_and_checked_against_the_strategy_and_ecs_ranges() {
    use crate::aws::{NativeSettings, TrafficStep};
    let env = |extra: &str| {
        parse(&format!(
            "[env.a]\ncluster = \"c\"\nservice = \"s\"\n{extra}"
        ))
    };
    let canary = env(
        "strategy = \"canary\"\nbake_time = \"10m\"\ncanary = { percent = 12.5, bake = \"5m\" }\n",
    )
    .unwrap();
    assert_eq!(
        canary.env("a").unwrap().native,
        NativeSettings {
            bake_minutes: Some(10),
            canary: Some(TrafficStep {
                percent: Some(12.5),
                bake_minutes: Some(5)
            }),
            linear: None,
        }
    );
    let linear = env("strategy = \"linear\"\nlinear = { step_percent = 25 }\n").unwrap();
    assert_eq!(
        linear.env("a").unwrap().native.linear,
        Some(TrafficStep {
            percent: Some(25.0),
            bake_minutes: None
        })
    );
    assert!(env("").unwrap().env("a").unwrap().native.is_empty());
    for (bad, says, fix) in [
        (
            "bake_time = \"5m\"\n",
            "env.a.bake_time is a setting of the native strategy, but env.a declares no strategy",
            "set strategy = \"canary\", \"linear\" or \"bluegreen\"",
        ),
        (
            "strategy = \"rolling\"\nbake_time = \"5m\"\n",
            "declares strategy = \"rolling\"",
            "or remove `bake_time`",
        ),
        (
            "strategy = \"linear\"\ncanary = { percent = 10 }\n",
            "env.a.canary is a setting of the canary strategy, but env.a declares strategy = \"linear\"",
            "set strategy = \"canary\"",
        ),
        (
            "strategy = \"canary\"\nlinear = { step_percent = 10 }\n",
            "env.a.linear is a setting of the linear strategy",
            "set strategy = \"linear\"",
        ),
        (
            "strategy = \"canary\"\ncanary = { percent = 0.05 }\n",
            "env.a.canary.percent = 0.05 is outside 0.1 to 100",
            "from 0.1 to 100",
        ),
        (
            "strategy = \"linear\"\nlinear = { step_percent = 2 }\n",
            "env.a.linear.step_percent = 2 is outside 3 to 100",
            "from 3 to 100",
        ),
        (
            "strategy = \"bluegreen\"\nbake_time = \"90s\"\n",
            "env.a.bake_time = 90s is not a whole number of minutes from 0 to 1440",
            "whole minutes",
        ),
        (
            "strategy = \"linear\"\nlinear = { step_bake = \"30s\" }\n",
            "env.a.linear.step_bake = 30s is not a whole number of minutes",
            "whole minutes",
        ),
    ] {
        let err = env(bad).unwrap_err();
        assert!(err.to_string().contains(says), "{bad}: {err}");
        let hint = err.hint.clone().unwrap_or_default();
        assert!(hint.contains(fix), "{bad}: {hint}");
    }
}

#[test]
fn several_services_are_read_in_waves_with_their_containers() {
    let config = parse(
        "[env.prod]\ncluster = \"c\"\nrepository = \"users\"\nservices = [\n  { name = \"users-api\", container = \"users\" },\n  { name = \"users-worker\", container = \"worker\", repository = \"worker\", wave = 2 },\n]\n",
    )
    .unwrap();
    let prod = config.env("prod").unwrap();
    assert_eq!(prod.services(), vec!["users-api", "users-worker"]);
    assert_eq!(prod.strategy.name(), "rolling");
    assert_eq!(prod.rolling_service(), None);
    let members = prod.select(&[]).unwrap();
    assert_eq!(
        members.iter().map(|m| m.wave).collect::<Vec<_>>(),
        vec![1, 2]
    );
    let worker = prod.for_member(&members[1]);
    assert_eq!(worker.rolling_service(), Some("users-worker"));
    assert_eq!(worker.container.as_deref(), Some("worker"));
    assert_eq!(worker.repository.as_deref(), Some("worker"));
    // Unset on the member: the env's own.
    assert_eq!(
        prod.for_member(&members[0]).repository.as_deref(),
        Some("users")
    );
}

#[test]
fn service_lists_that_cannot_deploy_are_refused_naming_the_key_and_the_fix() {
    let base = "[env.a]\ncluster = \"c\"\n";
    for (extra, says, fix) in [
        (
            "service = \"s\"\nservices = [{ name = \"t\" }]\n",
            "both `service` and `services`",
            "keep one",
        ),
        (
            "services = []\n",
            "env.a.services is empty",
            "list the services",
        ),
        (
            "services = [{ name = \"t\" }, { name = \"t\", wave = 2 }]\n",
            "names `t` twice",
            "list each service once",
        ),
        (
            "services = [{ name = \"t\", wave = 0 }]\n",
            "`t` has wave = 0",
            "waves count from 1",
        ),
        (
            "services = [{ name = \"t\", wave = -1 }]\n",
            "`t` has wave = -1",
            "waves count from 1",
        ),
        (
            "services = [{ name = \"\" }]\n",
            "env.a.services.name is empty",
            "name the AWS resource",
        ),
        (
            "services = [{ name = \"t\" }]\n[env.a.bluegreen]\nlistener = \"l\"\nblue = { service = \"b\", target_group = \"tb\" }\ngreen = { service = \"g\", target_group = \"tg\" }\n",
            "both `services` and a bluegreen table",
            "remove `services`",
        ),
    ] {
        let err = parse(&format!("{base}{extra}")).unwrap_err();
        assert!(err.to_string().contains(says), "{extra}: {err}");
        assert!(err.to_string().contains("opsctl.toml:"), "{extra}: {err}");
        assert!(
            err.hint.as_deref().unwrap_or_default().contains(fix),
            "{extra}: {err:?}"
        );
    }
}

#[test]
fn an_unknown_service_name_is_refused_listing_the_envs_services() {
    let config =
        parse("[env.a]\ncluster = \"c\"\nservices = [{ name = \"api\" }, { name = \"worker\" }]\n")
            .unwrap();
    let env = config.env("a").unwrap();
    let err = env.select(&["wrker".into()]).unwrap_err();
    assert!(err.to_string().contains("no service `wrker`"), "{err}");
    assert_eq!(err.hint.as_deref(), Some("name one of: api, worker"));
    let one = env.select(&["worker".into()]).unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].name, "worker");
}

#[test]
fn notify_targets_parse_and_each_mistake_names_its_entry() {
    let env =
        |notify: &str| format!("[env.a]\ncluster = \"c\"\nservice = \"s\"\nnotify = {notify}\n");
    let config = parse(&env(
        r#"[{ webhook = "https://hooks.slack.com/services/T0/B0/SECRET" }, { sns = "arn:aws:sns:eu-west-1:123456789012:deploys" }]"#,
    ))
    .unwrap();
    let a = config.env("a").unwrap();
    assert_eq!(
        a.notify,
        vec![
            NotifyTarget::Webhook("https://hooks.slack.com/services/T0/B0/SECRET".into()),
            NotifyTarget::Sns("arn:aws:sns:eu-west-1:123456789012:deploys".into()),
        ]
    );
    assert_eq!(a.notify[0].shown(), "webhook https://hooks.slack.com/…");
    for (notify, names) in [
        (
            r#"[{ webhook = "hooks.slack.com/x" }]"#,
            "notify[0] webhook is not an absolute",
        ),
        (r#"[{ webhook = "ftp://h/x" }]"#, "notify[0] webhook"),
        (
            r#"[{ sns = "https://x" }, { sns = "arn:aws:sqs:eu-west-1:123456789012:q" }]"#,
            "notify[0] sns",
        ),
        (
            r#"[{ sns = "arn:aws:sns:eu-west-1:123456789012:ok" }, { sns = "arn:aws:sqs:eu-west-1:123456789012:q" }]"#,
            "notify[1] sns",
        ),
        (
            r#"[{ webhook = "https://h/x", sns = "arn:aws:sns:eu-west-1:123456789012:t" }]"#,
            "notify[0] must have exactly one",
        ),
        (
            r#"[{ email = "me@example.com" }]"#,
            "notify[0] has the unknown key `email`",
        ),
        (
            r#"[{ webhook = 5 }]"#,
            "notify[0] `webhook` must be a string",
        ),
    ] {
        let err = parse(&env(notify)).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&format!("env.a.{names}")), "{notify}: {msg}");
        assert!(msg.contains("opsctl.toml:4"), "{notify}: {msg}");
        assert!(err.hint.is_some(), "{notify}: no fix given");
    }
}
