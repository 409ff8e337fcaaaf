//! The binary itself: its subcommand, configuration errors, and credential sources.

use std::process::Stdio;

use crate::helpers::{
    ServiceProcess, Started, TestApp, TestDb, admin_parts, binary_env, command, json,
};

#[tokio::test]
async fn healthcheck_exits_0_when_healthy_and_1_otherwise() {
    let app = TestApp::spawn().await;
    // Off the runtime's thread: the app under test is served by it.
    let run = |port: u16| {
        tokio::task::spawn_blocking(move || {
            command(&[("PORT", port.to_string())])
                .arg("healthcheck")
                .output()
                .unwrap()
        })
    };
    let healthy = run(app.port).await.unwrap();
    assert_eq!(
        healthy.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&healthy.stderr)
    );

    // Nothing listens on a port we just released.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unhealthy = run(free).await.unwrap();
    assert_eq!(unhealthy.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unhealthy.stderr).contains("unhealthy"));
}

#[test]
fn bad_configuration_exits_2_naming_the_variable() {
    let cases = [
        (vec![("PORT", "eighty".to_owned())], "PORT"),
        (
            vec![("RATE_LIMIT_BURST", "0".to_owned())],
            "RATE_LIMIT_BURST",
        ),
        (vec![], "DATABASE_URL"),
        (
            vec![("DB_CREDENTIALS", "{not json".to_owned())],
            "DB_CREDENTIALS",
        ),
    ];
    for (mut vars, name) in cases {
        if name != "DATABASE_URL" && name != "DB_CREDENTIALS" {
            vars.push((
                "DATABASE_URL",
                "postgres://postgres@127.0.0.1:1/none".to_owned(),
            ));
        }
        let output = command(&vars).stdin(Stdio::null()).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{vars:?}: {stderr}");
        assert!(
            stderr.contains(&format!("invalid configuration: {name}")),
            "{stderr}"
        );
    }
}

#[test]
fn unknown_arguments_print_the_usage() {
    let output = command(&[]).arg("frobnicate").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("healthcheck"));
}

#[tokio::test]
async fn an_unreachable_database_fails_startup_with_a_clear_error() {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let mut env = binary_env("postgres://postgres@127.0.0.1:1/users".to_owned());
    env.push(("DB_ACQUIRE_TIMEOUT_SECS", "1".to_owned()));
    match ServiceProcess::start(&env) {
        Started::Listening(_) => panic!("started without a database"),
        Started::Exited(status, output) => {
            assert_eq!(status.code(), Some(1), "{output}");
            assert!(
                output.contains("cannot prepare the database at 127.0.0.1:1/users"),
                "{output}"
            );
        }
    }
}

#[tokio::test]
async fn db_credentials_are_used_without_calling_secrets_manager() {
    let db = TestDb::create().await;
    let (host, port, username, password) = admin_parts();
    let credentials = serde_json::json!({
        "username": username,
        "password": password.clone().unwrap_or_else(|| "unused-with-trust-auth".to_owned()),
        "host": host,
        "port": port,
    });
    let env = vec![
        ("HOST", "127.0.0.1".to_owned()),
        ("PORT", "0".to_owned()),
        ("DB_NAME", db.name.clone()),
        ("DB_SSLMODE", "disable".to_owned()),
        ("DB_CREDENTIALS", credentials.to_string()),
        // Present but unusable: were it called, startup would fail.
        (
            "DB_SECRET_ARN",
            "arn:aws:secretsmanager:us-east-1:000000000000:secret:missing".to_owned(),
        ),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:1".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("DB_MIN_CONNECTIONS", "0".to_owned()),
        ("DB_MAX_CONNECTIONS", "2".to_owned()),
    ];
    let service = ServiceProcess::start_listening(&env);
    let (status, _) = json(reqwest_get(&format!("{}/ready", service.address())).await).await;
    assert_eq!(status, 200);
}

async fn reqwest_get(url: &str) -> reqwest::Response {
    crate::helpers::client().get(url).send().await.unwrap()
}
