//! The connection pool: its minimum, its connections' lifetime, and a connection whose
//! request was abandoned midway.

use std::time::Duration;

use sqlx::PgConnection;

use crate::helpers::{TestApp, TestDb, eventually};

/// The backends of the service's connections to `db`.
async fn backends(db: &TestDb) -> Vec<i32> {
    let mut conn = db.connect().await;
    sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity \
         WHERE datname = $1 AND application_name = 'users-service' ORDER BY pid",
    )
    .bind(&db.name)
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn the_minimum_is_opened_and_connections_are_replaced_at_the_end_of_their_lifetime() {
    let app = TestApp::spawn_with(|_| {
        vec![
            ("DB_MIN_CONNECTIONS", "2".to_owned()),
            ("DB_MAX_LIFETIME_SECS", "1".to_owned()),
        ]
    })
    .await;
    let opened = eventually(Duration::from_secs(15), || async {
        backends(&app.db).await.len() >= 2
    })
    .await;
    assert!(opened, "the pool did not open its minimum");
    let first = backends(&app.db).await;
    // Idle past their lifetime: closed and replaced by new ones, the minimum kept.
    let replaced = eventually(Duration::from_secs(20), || async {
        let now = backends(&app.db).await;
        now.len() >= 2 && now.iter().all(|pid| !first.contains(pid))
    })
    .await;
    assert!(replaced, "connections outlived their lifetime");
    assert_eq!(app.get("/api/users/1").await.status(), 404);
}

#[tokio::test]
async fn a_connection_whose_request_was_abandoned_serves_the_next_one() {
    // One connection, so the next request must reuse the one left midway.
    let app = TestApp::spawn_with(|_| vec![("DB_MAX_CONNECTIONS", "1".to_owned())]).await;
    assert_eq!(app.get("/api/users/1").await.status(), 404);

    // Hold the query in PostgreSQL with a lock, and give up on the request meanwhile.
    let mut locker: PgConnection = app.db.connect().await;
    sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
    sqlx::query("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        .execute(&mut locker)
        .await
        .unwrap();
    let abandoned = app
        .client
        .get(format!("{}/api/users/1", app.address))
        .timeout(Duration::from_millis(500))
        .send()
        .await;
    assert!(abandoned.is_err(), "the request was meant to time out");
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    // The handler was dropped with its client (had it finished, the 404 would count twice).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let metrics = app.get("/metrics").await.text().await.unwrap();
    let missing = r#"http_requests_total{method="GET",route="/api/users/{id}",status="404"} 1"#;
    assert!(metrics.contains(missing), "{metrics}");

    // The connection still has the old query's answer coming; it must be read past, not
    // taken for the new query's.
    let (status, body) = crate::helpers::json(
        app.post_user(&serde_json::json!({"name": "Ada", "email": "ada@example.com"}))
            .await,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_i64().unwrap();
    let (status, fetched) = crate::helpers::json(app.get(&format!("/api/users/{id}")).await).await;
    assert_eq!(status, 200, "{fetched}");
    assert_eq!(fetched["email"], "ada@example.com");
}
