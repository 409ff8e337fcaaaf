//! `users-service migrate`, and the server with migrations at startup off.

use std::process::Output;

use sqlx::Executor;

use crate::helpers::{TestApp, TestDb, binary_env, command, json};

/// Runs `users-service migrate` off the runtime's threads (it may be serving a test app).
async fn migrate(vars: Vec<(&'static str, String)>) -> Output {
    tokio::task::spawn_blocking(move || command(&vars).arg("migrate").output().unwrap())
        .await
        .unwrap()
}

async fn table_exists(db: &TestDb, table: &str) -> bool {
    let mut conn = db.connect().await;
    sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(table)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn migrate_applies_every_migration_once_then_none() {
    let db = TestDb::create().await;

    let first = migrate(binary_env(db.url())).await;
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(stdout.contains("applied 0001 create users"), "{stdout}");
    assert!(stdout.contains("applied 1 of 1 migrations"), "{stdout}");
    assert!(table_exists(&db, "users").await);

    let second = migrate(binary_env(db.url())).await;
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert_eq!(second.status.code(), Some(0), "{stdout}");
    assert!(!stdout.contains("applied 0001"), "{stdout}");
    assert!(stdout.contains("no pending migrations"), "{stdout}");
}

#[tokio::test]
async fn migrate_against_an_unreachable_database_exits_1_saying_why() {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let mut env = binary_env("postgres://postgres@127.0.0.1:1/users".to_owned());
    env.push(("DB_ACQUIRE_TIMEOUT_SECS", "2".to_owned()));
    let output = migrate(env).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot connect to the database at 127.0.0.1:1/users"),
        "{stderr}"
    );
    assert!(stderr.contains("refused"), "{stderr}");
}

#[tokio::test]
async fn migrate_with_bad_configuration_exits_2_naming_the_variable() {
    let output = migrate(vec![]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("invalid configuration: DATABASE_URL"),
        "{stderr}"
    );
}

#[tokio::test]
async fn without_migrations_at_startup_the_server_is_not_ready_until_migrated() {
    let app = TestApp::spawn_with(|_| vec![("MIGRATE_ON_START", "false".to_owned())]).await;
    assert!(!table_exists(&app.db, "users").await);
    assert!(!table_exists(&app.db, "_sqlx_migrations").await);

    let (status, body) = json(app.get("/ready").await).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "unavailable");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("schema is behind"), "{message}");
    assert!(message.contains("0001 create users"), "{message}");
    assert!(message.contains("users-service migrate"), "{message}");
    // The process itself is fine: liveness must not get it killed.
    assert_eq!(app.get("/health").await.status(), 200);
    // /ready changed nothing either.
    assert!(!table_exists(&app.db, "users").await);

    let output = migrate(binary_env(app.db.url())).await;
    assert_eq!(output.status.code(), Some(0));
    let (status, body) = json(app.get("/ready").await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.get("/api/users/1").await.status(), 404);
}

#[tokio::test]
async fn a_schema_ahead_of_the_binary_is_ready() {
    // A rolling deploy: the new version migrated, the old tasks still serve.
    let db = TestDb::create().await;
    assert_eq!(migrate(binary_env(db.url())).await.status.code(), Some(0));
    let mut conn = db.connect().await;
    conn.execute(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from a newer version', true, '\\x00', 0)",
    )
    .await
    .unwrap();
    drop(conn);
    let app = TestApp::spawn_with(|_| {
        vec![
            ("DATABASE_URL", db.url()),
            ("MIGRATE_ON_START", "false".to_owned()),
        ]
    })
    .await;
    let (status, body) = json(app.get("/ready").await).await;
    assert_eq!(status, 200, "{body}");
}
