use crate::helpers::{TestApp, json};

#[tokio::test]
async fn fetches_a_user_by_id() {
    let app = TestApp::spawn().await;
    app.db.seed_users(3).await;
    let (status, user) = json(app.get("/api/users/2").await).await;
    assert_eq!(status, 200);
    assert_eq!(user["id"], 2);
    assert_eq!(user["email"], "user2@example.com");
}

#[tokio::test]
async fn an_unknown_id_is_404() {
    let app = TestApp::spawn().await;
    for path in ["/api/users/1", "/api/users/9223372036854775807"] {
        let (status, error) = json(app.get(path).await).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(error["error"]["code"], "not_found");
    }
}

#[tokio::test]
async fn an_id_that_is_not_a_positive_integer_is_400() {
    let app = TestApp::spawn().await;
    for path in [
        // Ids start at 1: the document says `minimum: 1`, so these are bad requests.
        "/api/users/0",
        "/api/users/-4",
        "/api/users/abc",
        "/api/users/1.5",
        "/api/users/9223372036854775808",
        "/api/users/%20",
    ] {
        let (status, error) = json(app.get(path).await).await;
        assert_eq!(status, 400, "{path}: {error}");
        assert_eq!(error["error"]["code"], "bad_request");
    }
}
