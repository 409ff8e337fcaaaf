//! The real opsctl binary against the local AWS sandbox: deploy, failed deploy, wait-stable,
//! rollback, status, history, and bad input that changes nothing.

mod support;

use aws_sdk_ecs::types::TaskDefinition;
use support::Account;

const SERVICE: &str = "staging-users";

async fn service_td(account: &Account) -> String {
    account.service_task_definition(SERVICE).await
}

async fn describe(account: &Account, td: &str) -> (TaskDefinition, Vec<(String, String)>) {
    let ecs = aws_sdk_ecs::Client::new(&account.sdk().await);
    let out = ecs
        .describe_task_definition()
        .task_definition(td)
        .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
        .send()
        .await
        .unwrap();
    let tags = out
        .tags()
        .iter()
        .map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned()))
        .collect();
    (out.task_definition.unwrap(), tags)
}

async fn revision_count(account: &Account) -> usize {
    let ecs = aws_sdk_ecs::Client::new(&account.sdk().await);
    ecs.list_task_definitions()
        .family_prefix(SERVICE)
        .send()
        .await
        .unwrap()
        .task_definition_arns()
        .len()
}

#[tokio::test]
async fn good_deploy_changes_only_the_users_image_and_tags_the_revision() {
    let account = Account::seed();
    let run = account.opsctl(&[
        "--output",
        "json",
        "deploy",
        "staging",
        "--version",
        "v1.2.0",
    ]);
    run.expect_code(0);
    let json = run.json();
    assert_eq!(json["result"], "deployed");
    assert_eq!(json["to"]["task_definition"], "staging-users:3");
    assert_eq!(json["exit_code"], 0);
    // Progress lines without a terminal start with their time, in UTC and saying so.
    for line in run.stderr.lines().filter(|l| !l.starts_with(' ')) {
        let (time, _) = line.split_once(' ').unwrap_or((line, ""));
        assert!(
            time.len() == 9 && time.ends_with('Z') && time.as_bytes()[2] == b':',
            "a progress line without its UTC time: {line:?}"
        );
    }
    assert!(run.stderr.contains("==> bake:"), "{}", run.stderr);

    let now = service_td(&account).await;
    assert!(now.ends_with("task-definition/staging-users:3"), "{now}");
    let (new, tags) = describe(&account, "staging-users:3").await;
    let (old, _) = describe(&account, "staging-users:2").await;
    let image = |td: &TaskDefinition, name: &str| {
        td.container_definitions()
            .iter()
            .find(|c| c.name() == Some(name))
            .and_then(|c| c.image())
            .unwrap()
            .to_owned()
    };
    assert!(image(&new, "users").ends_with("/users:v1.2.0"));
    assert_eq!(
        image(&new, "log-router"),
        image(&old, "log-router"),
        "the sidecar keeps its image"
    );
    // Everything but the image is carried over.
    let mut expected = old.container_definitions().to_vec();
    for c in &mut expected {
        if c.name() == Some("users") {
            c.image = Some(image(&new, "users"));
        }
    }
    assert_eq!(new.container_definitions(), expected.as_slice());
    assert_eq!(new.cpu(), old.cpu());
    assert_eq!(new.memory(), old.memory());
    assert_eq!(new.network_mode(), old.network_mode());
    assert_eq!(new.execution_role_arn(), old.execution_role_arn());
    assert_eq!(new.task_role_arn(), old.task_role_arn());
    assert_eq!(new.volumes(), old.volumes());
    assert_eq!(new.runtime_platform(), old.runtime_platform());
    assert_eq!(
        new.requires_compatibilities(),
        old.requires_compatibilities()
    );
    let tag = |k: &str| {
        tags.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(tag("opsctl:version"), Some("v1.2.0"));
    assert_eq!(tag("opsctl:previous"), Some("staging-users:2"));
    assert_eq!(tag("opsctl:outcome"), Some("succeeded"));
    assert!(tag("opsctl:deployed-at").is_some());
    assert_eq!(
        tag("app"),
        Some("users"),
        "the base revision's own tags are kept"
    );
}

#[tokio::test]
async fn broken_version_is_rolled_back_and_exits_3() {
    let account = Account::seed();
    let run = account.opsctl(&["deploy", "staging", "--version", "v1.4.0-broken"]);
    run.expect_code(3);
    assert!(run.stdout.contains("FAILED"), "{}", run.stdout);
    assert!(
        run.stdout.contains("rolled back to staging-users:2"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("stopped task"),
        "stopped-task reasons:\n{}",
        run.stdout
    );
    let now = service_td(&account).await;
    assert!(
        now.ends_with("staging-users:2"),
        "back on the previous revision: {now}"
    );
    let (_, tags) = describe(&account, "staging-users:3").await;
    assert!(
        tags.contains(&("opsctl:outcome".into(), "rolled-back".into())),
        "{tags:?}"
    );
}

#[tokio::test]
async fn wait_stable_follows_a_deploy_started_without_waiting() {
    let account = Account::seed();
    account
        .opsctl(&["deploy", "staging", "--version", "v1.3.0", "--no-wait"])
        .expect_code(0);
    let run = account.opsctl(&["--output", "json", "wait-stable", "staging"]);
    run.expect_code(0);
    let json = run.json();
    let svc = &json["services"][0];
    assert_eq!(svc["verdict"], "stable");
    assert_eq!(svc["running"], svc["desired"]);
    assert!(
        svc["task_definition"]
            .as_str()
            .unwrap()
            .ends_with("staging-users:3")
    );
}

#[tokio::test]
async fn rollback_returns_to_the_previous_revision() {
    let account = Account::seed();
    account
        .opsctl(&["deploy", "staging", "--version", "v1.2.0"])
        .expect_code(0);
    let run = account.opsctl(&["--output", "json", "rollback", "staging"]);
    run.expect_code(0);
    let json = run.json();
    assert_eq!(json["result"], "rolled_back");
    assert_eq!(json["to"]["task_definition"], "staging-users:2");
    assert_eq!(json["to"]["version"], "v1.1.0");
    assert!(service_td(&account).await.ends_with("staging-users:2"));
}

#[tokio::test]
async fn status_and_history_as_json() {
    let account = Account::seed();
    account
        .opsctl(&["deploy", "staging", "--version", "v1.2.0"])
        .expect_code(0);

    let status = account.opsctl(&["--output", "json", "status", "staging"]);
    status.expect_code(0);
    let json = status.json();
    let svc = &json["services"][0];
    assert_eq!(svc["service"], SERVICE);
    assert_eq!(svc["revision"]["version"], "v1.2.0");
    assert_eq!(svc["revision"]["task_definition"], "staging-users:3");
    assert_eq!(svc["running"], 2);
    assert_eq!(svc["desired"], 2);
    assert_eq!(svc["targets"][0]["healthy"], 2);
    assert_eq!(json["alarms"][0]["name"], "staging-users-5xx");
    assert_eq!(json["alarms"][0]["state"], "OK");

    let history = account.opsctl(&["--output", "json", "history", "staging"]);
    history.expect_code(0);
    let entries = history.json()["entries"].as_array().unwrap().clone();
    let versions: Vec<&str> = entries
        .iter()
        .map(|e| e["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["v1.2.0", "v1.1.0", "v1.0.0"]);
    assert_eq!(entries[0]["current"], true);
    assert_eq!(entries[0]["outcome"], "succeeded");
    assert_eq!(entries[1]["deployed_by"], "seed");
}

#[tokio::test]
async fn bad_input_is_refused_with_the_fix_and_changes_nothing() {
    let account = Account::seed();
    let before = revision_count(&account).await;

    let run = account.opsctl(&["deploy", "stagin", "--version", "v1.2.0"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("unknown environment `stagin`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean `staging`"),
        "{}",
        run.stderr
    );

    let run = account.opsctl(&["deploy", "staging", "--version", "v9.9.9"]);
    run.expect_code(2);
    assert!(
        run.stdout
            .contains("version v9.9.9 is not in ECR repository users"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("fix:"), "{}", run.stdout);

    let run = account.opsctl(&[
        "deploy",
        "staging",
        "--version",
        "v1.2.0",
        "--timeout",
        "soon",
    ]);
    run.expect_code(2);
    assert!(run.stderr.contains("such as 90s, 5m"), "{}", run.stderr);

    // prod asks for confirmation; with no terminal and no --yes it refuses.
    let run = account.opsctl(&[
        "deploy",
        "prod",
        "--service",
        "prod-users-green",
        "--version",
        "v1.2.0",
    ]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("no terminal to ask on"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--yes"), "{}", run.stderr);

    let run = account.opsctl(&["rollback", "staging", "--to", "42"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("revision 42 is not an ACTIVE revision"),
        "{}",
        run.stderr
    );

    assert_eq!(
        revision_count(&account).await,
        before,
        "no revision registered"
    );
    assert!(
        service_td(&account).await.ends_with("staging-users:2"),
        "service untouched"
    );
}

#[tokio::test]
async fn broken_config_names_file_line_and_key() {
    let account = Account::seed();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("opsctl.toml");
    std::fs::write(
        &path,
        "[env.staging]\ncluster = \"demo\"\nservice = \"staging-users\"\nbake = \"3s\"\nalarm = [\"x\"]\n",
    )
    .unwrap();
    let run = account.opsctl_with_config(&path, &["status", "staging"]);
    run.expect_code(2);
    assert!(run.stderr.contains("opsctl.toml"), "{}", run.stderr);
    assert!(run.stderr.contains("line 5"), "{}", run.stderr);
    assert!(
        run.stderr.contains("unknown field `alarm`"),
        "{}",
        run.stderr
    );

    let run = account.opsctl_with_config(&dir.path().join("missing.toml"), &["status", "staging"]);
    run.expect_code(2);
    assert!(run.stderr.contains("no config file at"), "{}", run.stderr);
    assert!(run.stderr.contains("--config"), "{}", run.stderr);
}

#[tokio::test]
async fn github_actions_gets_groups_annotations_and_a_job_summary() {
    let account = Account::seed();
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    let vars = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
    ];
    let config = support::repo_root().join("opsctl.toml");
    let run = account.opsctl_with_env(
        &config,
        &["deploy", "staging", "--version", "v1.2.0"],
        &vars,
    );
    run.expect_code(0);
    assert!(
        run.stderr.contains("::group::waiting for staging-users"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("::endgroup::"), "{}", run.stderr);
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.contains("deployed v1.2.0 to staging"), "{text}");

    let run = account.opsctl_with_env(
        &config,
        &["deploy", "staging", "--version", "v1.4.0-broken"],
        &vars,
    );
    run.expect_code(3);
    assert!(
        run.stderr.contains("::error title=opsctl deploy"),
        "{}",
        run.stderr
    );
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(
        text.contains("v1.4.0-broken to staging (staging-users) FAILED"),
        "{text}"
    );
}

#[tokio::test]
async fn a_deploy_publishes_a_deployment_marker() {
    let account = Account::seed();
    account
        .opsctl(&["deploy", "staging", "--version", "v1.2.0"])
        .expect_code(0);
    let cw = aws_sdk_cloudwatch::Client::new(&account.sdk().await);
    let metrics = cw
        .list_metrics()
        .namespace("opsctl")
        .metric_name("Deployment")
        .send()
        .await
        .unwrap();
    let dims: Vec<(String, String)> = metrics.metrics()[0]
        .dimensions()
        .iter()
        .map(|d| (d.name().unwrap().to_owned(), d.value().unwrap().to_owned()))
        .collect();
    assert!(dims.contains(&("env".into(), "staging".into())), "{dims:?}");
    assert!(
        dims.contains(&("version".into(), "v1.2.0".into())),
        "{dims:?}"
    );
}

#[tokio::test]
async fn missing_service_and_firing_alarm_are_refused_before_any_change() {
    let account = Account::seed();
    let before = revision_count(&account).await;
    let run = account.opsctl(&[
        "deploy",
        "staging",
        "--service",
        "nope",
        "--version",
        "v1.2.0",
    ]);
    run.expect_code(2);
    assert!(
        run.stdout
            .contains("service nope not found in cluster demo"),
        "{}",
        run.stdout
    );

    let cw = aws_sdk_cloudwatch::Client::new(&account.sdk().await);
    cw.set_alarm_state()
        .alarm_name("staging-users-5xx")
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .state_reason("5xx above 1% for 3 minutes")
        .send()
        .await
        .unwrap();
    let run = account.opsctl(&["deploy", "staging", "--version", "v1.2.0"]);
    run.expect_code(2);
    assert!(
        run.stdout
            .contains("in ALARM: staging-users-5xx (5xx above 1% for 3 minutes)"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("--ignore-alarms"), "{}", run.stdout);
    assert_eq!(revision_count(&account).await, before);

    // plan and check refuse as the deploy does: one preflight, run alike.
    for command in ["plan", "check"] {
        let run = account.opsctl(&[command, "staging", "--version", "v1.2.0"]);
        run.expect_code(2);
        assert!(
            run.stdout.contains("in ALARM: staging-users-5xx"),
            "{command}: {}",
            run.stdout
        );
    }
    let run = account.opsctl(&["plan", "staging", "--version", "v1.2.0", "--ignore-alarms"]);
    run.expect_code(0);
    assert!(
        run.stdout
            .contains("warn alarms     in ALARM but ignored: staging-users-5xx"),
        "{}",
        run.stdout
    );
    assert_eq!(revision_count(&account).await, before);
}

#[tokio::test]
async fn ctrl_c_while_waiting_exits_130_and_says_how_to_resume() {
    let account = Account::seed();
    // Slow rollouts so the deploy is still waiting when Ctrl-C comes.
    account.configure(serde_json::json!({ "task_start_seconds": 30.0 }));
    let child = account.spawn(&["deploy", "staging", "--version", "v1.2.0"]);
    let pid = child.id().to_string();
    // Wait until it is waiting on the rollout, then press Ctrl-C.
    for _ in 0..100 {
        if service_td(&account).await.ends_with("staging-users:3") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    let run: support::Run = child.wait_with_output().unwrap().into();
    run.expect_code(130);
    assert!(run.stdout.contains("was interrupted"), "{}", run.stdout);
    assert!(
        run.stdout.contains("opsctl wait-stable staging"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("opsctl rollback staging"),
        "{}",
        run.stdout
    );
    // Nothing was rolled back behind the user's back.
    assert!(service_td(&account).await.ends_with("staging-users:3"));
}

#[tokio::test]
async fn check_says_each_thing_once() {
    let account = Account::seed();
    let run = account.opsctl(&["check", "staging", "--version", "v1.2.0"]);
    run.expect_code(0);
    let header = run.stdout.lines().next().unwrap_or_default();
    assert_eq!(header.matches("staging").count(), 2, "{header}"); // env and its service
    assert!(header.contains("checks passed"), "{}", run.stdout);
    // Each check shows once: as it ran, on stderr, not again in the result.
    let image_lines = format!("{}{}", run.stdout, run.stderr)
        .lines()
        .filter(|l| l.contains(" image "))
        .count();
    assert_eq!(image_lines, 1, "{}\n{}", run.stdout, run.stderr);
}

#[tokio::test]
async fn an_error_as_json_carries_the_events_that_led_to_it() {
    let account = Account::seed();
    let run = account.opsctl(&[
        "--output",
        "json",
        "deploy",
        "staging",
        "--version",
        "v1.2.0",
        "--service",
        "nope",
    ]);
    run.expect_code(2);
    let json = run.json();
    assert_eq!(json["ok"], false);
    let events = json["events"].as_array().expect("events");
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "step" && e["step"] == "preflight"),
        "{json:#}"
    );
}

/// On a terminal (util-linux `script`), with stdout sent to a file: colour on the terminal's
/// stream only.
#[tokio::test]
async fn colour_is_decided_per_stream() {
    let account = Account::seed();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.txt");
    let command = format!(
        "{} --config {} --no-progress check staging > {}",
        env!("CARGO_BIN_EXE_opsctl"),
        support::repo_root().join("opsctl.toml").display(),
        out.display()
    );
    let run = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .env("AWS_ACCESS_KEY_ID", &account.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &account.secret_access_key)
        .env("AWS_REGION", &account.region)
        .env("AWS_ENDPOINT_URL", support::sandbox_url())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("NO_COLOR")
        .env_remove("AWS_PROFILE")
        .env_remove("GITHUB_ACTIONS")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("util-linux `script` runs the test on a terminal");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
    let terminal = String::from_utf8_lossy(&run.stdout);
    let file = std::fs::read_to_string(&out).unwrap();
    assert!(file.contains("checks passed"), "{file}");
    assert!(!file.contains('\u{1b}'), "colour in the file: {file:?}");
    assert!(
        terminal.contains('\u{1b}'),
        "no colour on the terminal: {terminal:?}"
    );
}

/// `-v` logs each AWS call, one line with its answer and duration; `-vv` adds the SDK's own
/// debug; without either, no call is logged.
#[tokio::test]
async fn verbose_logs_each_aws_call_and_very_verbose_the_sdks_debug() {
    let account = Account::seed();
    let quiet = account.opsctl(&["status", "staging"]);
    quiet.expect_code(0);
    assert!(!quiet.stderr.contains("opsctl::aws"), "{}", quiet.stderr);

    // A throttled first answer is retried: the line says so.
    account.fault("cloudwatch:DescribeAlarms", "throttle", Some(1), 0);
    account.clear_requests();
    let run = account.opsctl(&["-v", "status", "staging"]);
    run.expect_code(0);
    let mut logged: Vec<String> = run
        .stderr
        .lines()
        .filter_map(|l| l.split_once("opsctl::aws: ").map(|(_, call)| call))
        .map(|call| call.split(' ').next().unwrap().to_owned())
        .collect();
    // One line per call made, whatever its attempts: the sandbox saw each attempt, so the
    // throttled one is there twice.
    let mut served: Vec<String> = account.requests().into_iter().map(|r| r.action).collect();
    let throttled = served
        .iter()
        .position(|a| a == "cloudwatch:DescribeAlarms")
        .expect("status reads the alarms");
    served.remove(throttled);
    logged.sort();
    served.sort();
    assert_eq!(logged, served, "{}", run.stderr);
    assert!(
        run.stderr
            .lines()
            .any(|l| l.contains("opsctl::aws: ecs:DescribeServices 200 in ") && l.ends_with(" ms")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .lines()
            .any(|l| l.contains("cloudwatch:DescribeAlarms 200 in ") && l.ends_with("(2 attempts)")),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("DEBUG"), "{}", run.stderr);

    let debug = account.opsctl(&["-vv", "status", "staging"]);
    debug.expect_code(0);
    assert!(
        debug
            .stderr
            .lines()
            .any(|l| l.contains("DEBUG") && l.contains("aws_smithy_runtime")),
        "the SDK's debug: {}",
        debug.stderr
    );
}

/// Registers a revision changed by hand, as in the console (memory 2048, LOG_LEVEL=debug), and
/// puts the service on it; returns once the service is stable on it.
async fn drift_by_hand(account: &Account) -> String {
    let ecs = aws_sdk_ecs::Client::new(&account.sdk().await);
    let (td, _) = describe(account, &service_td(account).await).await;
    let mut containers = td.container_definitions().to_vec();
    for e in containers[0].environment.iter_mut().flatten() {
        if e.name() == Some("LOG_LEVEL") {
            e.value = Some("debug".into());
        }
    }
    let new = ecs
        .register_task_definition()
        .family(td.family().unwrap())
        .set_task_role_arn(td.task_role_arn().map(str::to_owned))
        .set_execution_role_arn(td.execution_role_arn().map(str::to_owned))
        .set_network_mode(td.network_mode().cloned())
        .set_container_definitions(Some(containers))
        .set_volumes(Some(td.volumes().to_vec()))
        .set_requires_compatibilities(Some(td.requires_compatibilities().to_vec()))
        .set_runtime_platform(td.runtime_platform().cloned())
        .cpu(td.cpu().unwrap())
        .memory("2048")
        .send()
        .await
        .unwrap()
        .task_definition
        .unwrap()
        .task_definition_arn
        .unwrap();
    ecs.update_service()
        .cluster("demo")
        .service(SERVICE)
        .task_definition(&new)
        .send()
        .await
        .unwrap();
    account.opsctl(&["wait-stable", "staging"]).expect_code(0);
    new
}

#[tokio::test]
async fn drift_from_the_repositorys_task_definition_is_named_carried_or_refused() {
    let account = Account::seed();
    // As seeded, the service runs what the file says.
    let run = account.opsctl(&["check", "staging"]);
    run.expect_code(0);
    assert!(
        run.stderr
            .contains("matches service/deploy/task-definition.json"),
        "{}",
        run.stderr
    );

    drift_by_hand(&account).await;
    let fields = [
        "containerDefinitions[users].environment[LOG_LEVEL].value: file \"info\", live \"debug\"",
        "memory: file \"1024\", live \"2048\"",
    ];
    let run = account.opsctl(&["check", "staging"]);
    run.expect_code(0);
    assert!(run.stdout.contains("1 with a warning"), "{}", run.stdout);
    for field in fields {
        assert!(run.stdout.contains(field), "{field}\n{}", run.stdout);
    }
    assert!(
        run.stdout
            .contains("differs from service/deploy/task-definition.json in 2 fields"),
        "{}",
        run.stdout
    );
    let json = account
        .opsctl(&["--output", "json", "check", "staging"])
        .json();
    let drift = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "drift")
        .unwrap()
        .clone();
    assert_eq!(drift["ok"], true);
    assert_eq!(drift["warning"], true);

    // drift = "refuse": exit 2, nothing changed, every field named.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("opsctl.toml");
    let file = support::repo_root().join("service/deploy/task-definition.json");
    std::fs::write(
        &config,
        format!(
            "[env.staging]\nregion = \"us-east-1\"\ncluster = \"demo\"\nservice = \"staging-users\"\n\
             container = \"users\"\nrepository = \"users\"\n\
             task_definition = \"{}\"\ndrift = \"refuse\"\n",
            file.display()
        ),
    )
    .unwrap();
    account.clear_requests();
    let run = account.opsctl_with_config(&config, &["deploy", "staging", "--version", "v1.2.0"]);
    run.expect_code(2);
    for field in fields {
        assert!(run.stdout.contains(field), "{field}\n{}", run.stdout);
    }
    assert!(run.stdout.contains("drift = \"refuse\""), "{}", run.stdout);
    assert!(account.changes().is_empty(), "{:?}", account.changes());

    // The default warns, deploys, and the drift rides along: that is what it warns of.
    let run = account.opsctl(&["deploy", "staging", "--version", "v1.2.0"]);
    run.expect_code(0);
    assert!(run.stdout.contains("warn drift"), "{}", run.stdout);
    let (td, _) = describe(&account, &service_td(&account).await).await;
    assert_eq!(td.memory(), Some("2048"));
}

#[tokio::test]
async fn check_looks_up_a_secret_of_another_region_in_that_region() {
    let account = Account::seed();
    let sdk = account.sdk().await;
    let west = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::config::Builder::from(&sdk)
            .region(aws_config::Region::new("us-west-2"))
            .build(),
    );
    let present = west
        .create_secret()
        .name("users/west-key")
        .secret_string("k")
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    // The same ARN with another secret's name: it exists in neither region.
    let absent = present.replace("users/west-key", "users/west-gone");
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let (td, _) = describe(&account, &service_td(&account).await).await;
    let mut containers = td.container_definitions().to_vec();
    let secret = |name: &str, from: &str| {
        aws_sdk_ecs::types::Secret::builder()
            .name(name)
            .value_from(from)
            .build()
            .unwrap()
    };
    containers[0].secrets.get_or_insert_with(Vec::new).extend([
        secret("WEST_KEY", &present),
        secret("WEST_GONE_USER", &format!("{absent}:user::")),
        secret("WEST_GONE_PASSWORD", &format!("{absent}:password::")),
    ]);
    let registered = ecs
        .register_task_definition()
        .family(td.family().unwrap())
        .set_container_definitions(Some(containers))
        .set_execution_role_arn(td.execution_role_arn().map(str::to_owned))
        .set_task_role_arn(td.task_role_arn().map(str::to_owned))
        .set_network_mode(td.network_mode().cloned())
        .set_requires_compatibilities(Some(td.requires_compatibilities().to_vec()))
        .set_cpu(td.cpu().map(str::to_owned))
        .set_memory(td.memory().map(str::to_owned))
        .send()
        .await
        .unwrap();
    let arn = registered
        .task_definition()
        .unwrap()
        .task_definition_arn()
        .unwrap();
    ecs.update_service()
        .cluster("demo")
        .service("staging-users")
        .task_definition(arn)
        .send()
        .await
        .unwrap();

    let run = account.opsctl(&["check", "staging"]);
    run.expect_code(2);
    let text = format!("{}{}", run.stdout, run.stderr);
    // The secrets check's line (the drift check also lists the new references).
    let line = text
        .lines()
        .find(|l| l.contains("FAIL secrets"))
        .unwrap_or_else(|| panic!("no secrets check failed: {text}"));
    assert_eq!(
        line.matches(&format!("{absent} (in us-west-2)")).count(),
        1,
        "{text}"
    );
    assert!(!line.contains(&present), "{text}");
}
