use std::time::Duration;

use crate::helpers::{TcpProxy, TestApp, eventually, json};

#[tokio::test]
async fn health_answers_without_the_database() {
    let app = TestApp::spawn().await;
    let (status, body) = json(app.get("/health").await).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn ready_when_the_database_answers() {
    let app = TestApp::spawn().await;
    let (status, body) = json(app.get("/ready").await).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ready");
}

#[tokio::test]
async fn ready_turns_503_while_the_database_is_unreachable_and_back_to_200() {
    let proxy = TcpProxy::start().await;
    let port = proxy.port;
    let app = TestApp::spawn_with(|db| vec![("DATABASE_URL", db.url_via(port))]).await;
    assert_eq!(app.get("/ready").await.status(), 200);

    proxy.cut();
    let (status, body) = json(app.get("/ready").await).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "unavailable");
    // Liveness does not depend on the database: the task must not be killed for it.
    assert_eq!(app.get("/health").await.status(), 200);
    // Requests that need the database fail cleanly, as JSON.
    let (status, body) = json(app.get("/api/users/1").await).await;
    assert_eq!(status, 503, "{body}");

    proxy.restore();
    let back = eventually(Duration::from_secs(15), || async {
        app.get("/ready").await.status() == 200
    })
    .await;
    assert!(back, "/ready did not recover after the database came back");
    assert_eq!(app.get("/api/users/1").await.status(), 404);
}
