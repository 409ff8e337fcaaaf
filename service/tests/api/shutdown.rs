//! Graceful shutdown: a request in flight when SIGTERM arrives still completes.
//!
//! To hold a request in flight without any test-only code in the service, the test takes an
//! ACCESS EXCLUSIVE lock on `users` in its own transaction: the service's query then waits
//! in PostgreSQL until the test releases the lock.

use std::time::Duration;

use sqlx::PgConnection;

use crate::helpers::{
    ServiceProcess, TestApp, TestDb, binary_env, client, eventually, is_listening, json,
};

/// Locks the users table in `conn`'s open transaction.
async fn lock_users(conn: &mut PgConnection) {
    sqlx::query("BEGIN").execute(&mut *conn).await.unwrap();
    sqlx::query("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *conn)
        .await
        .unwrap();
}

/// Waits until one of the service's connections is blocked on a lock in `db`.
async fn wait_until_blocked(db: &TestDb) {
    let mut conn = db.connect().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = $1 AND application_name = 'users-service' AND wait_event_type = 'Lock'",
        )
        .bind(&db.name)
        .fetch_one(&mut conn)
        .await
        .unwrap();
        if waiting > 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the request never reached the database lock"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn sigterm_lets_the_in_flight_request_finish_then_exits_0() {
    let db = TestDb::create().await;
    let mut env = binary_env(db.url());
    env.push(("SHUTDOWN_TIMEOUT_SECS", "20".to_owned()));
    let mut service = ServiceProcess::start_listening(&env);
    let address = service.address();
    let http = client();
    let (status, user) = json(
        http.post(format!("{address}/api/users"))
            .json(&serde_json::json!({"name": "Ada", "email": "ada@example.com"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201);

    let mut locker = db.connect().await;
    lock_users(&mut locker).await;
    let in_flight = tokio::spawn({
        let request = http
            .get(format!("{address}/api/users/{}", user["id"]))
            .header("x-request-id", "in-flight-request");
        async move { request.send().await }
    });
    wait_until_blocked(&db).await;

    service.terminate();
    let draining = eventually(Duration::from_secs(10), || {
        let logs = service.logs();
        async move { logs.iter().any(|line| line.contains("shutting down")) }
    })
    .await;
    assert!(
        draining,
        "no shutdown log line:\n{}",
        service.logs().join("\n")
    );
    // New connections are refused while the old request is still running.
    let port = service.port;
    let closed = eventually(Duration::from_secs(5), || async move {
        !is_listening(port).await
    })
    .await;
    assert!(closed, "still accepting connections after SIGTERM");
    assert!(
        service.child.try_wait().unwrap().is_none(),
        "exited before the request finished"
    );

    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    let response = in_flight
        .await
        .unwrap()
        .expect("the in-flight request was answered");
    assert_eq!(response.status(), 200);
    let (_, fetched) = json(response).await;
    assert_eq!(fetched, user);

    let status = service
        .wait_exit(Duration::from_secs(15))
        .await
        .expect("the service exited");
    assert_eq!(status.code(), Some(0), "{status}");

    // Every log line of the request carries its id, from the request's span.
    let logs = service.logs();
    let lines: Vec<&String> = logs
        .iter()
        .filter(|line| line.contains("in-flight-request"))
        .collect();
    assert!(!lines.is_empty());
    for line in lines {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            event["spans"][0]["request_id"], "in-flight-request",
            "{line}"
        );
    }
    assert!(
        logs.iter()
            .any(|line| line.contains(r#""message":"stopped""#))
    );
}

#[tokio::test]
async fn shutdown_gives_up_on_requests_that_outlast_the_timeout() {
    let mut app = TestApp::spawn_with(|_| vec![("SHUTDOWN_TIMEOUT_SECS", "1".into())]).await;
    let mut locker = app.db.connect().await;
    lock_users(&mut locker).await;
    let stuck = tokio::spawn(
        app.client
            .get(format!("{}/api/users/1", app.address))
            .send(),
    );
    wait_until_blocked(&app.db).await;

    let started = std::time::Instant::now();
    let server = app.shutdown();
    let result = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("shutdown finished despite the stuck request");
    result.unwrap().unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "gave up too early: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    stuck.abort();
}

#[tokio::test]
async fn an_idle_service_stops_at_once() {
    let mut app = TestApp::spawn().await;
    assert_eq!(app.get("/health").await.status(), 200);
    let started = std::time::Instant::now();
    app.shutdown().await.unwrap().unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(!is_listening(app.port).await);
}
