use serde_json::json as j;

use crate::helpers::{TestApp, json};

/// The value of the sample line starting with `series` (labels included), or 0.
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| {
            line.strip_prefix(series)
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or(0.0)
}

async fn metrics(app: &TestApp) -> String {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    response.text().await.unwrap()
}

#[tokio::test]
async fn metrics_count_requests_latency_and_created_users() {
    let app = TestApp::spawn().await;
    let ok_by_id = r#"http_requests_total{method="GET",route="/api/users/{id}",status="200"}"#;
    let missing_by_id = r#"http_requests_total{method="GET",route="/api/users/{id}",status="404"}"#;
    let created = r#"http_requests_total{method="POST",route="/api/users",status="201"}"#;
    let unmatched = r#"http_requests_total{method="GET",route="unmatched",status="404"}"#;
    let latency_count =
        r#"http_request_duration_seconds_count{method="GET",route="/api/users/{id}"}"#;

    let before = metrics(&app).await;
    assert_eq!(sample(&before, "users_created_total"), 0.0);

    let (status, user) = json(
        app.post_user(&j!({"name": "Ada", "email": "ada@example.com"}))
            .await,
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(
        app.get(&format!("/api/users/{}", user["id"]))
            .await
            .status(),
        200
    );
    assert_eq!(app.get("/api/users/999").await.status(), 404);
    assert_eq!(app.get("/api/users/998").await.status(), 404);
    assert_eq!(app.get("/no/such/route").await.status(), 404);
    // A failed create is a request but not a created user.
    assert_eq!(
        app.post_user(&j!({"name": "Ada", "email": "ada@example.com"}))
            .await
            .status(),
        409
    );

    let after = metrics(&app).await;
    assert_eq!(sample(&after, "users_created_total"), 1.0);
    assert_eq!(sample(&after, created), sample(&before, created) + 1.0);
    assert_eq!(sample(&after, ok_by_id), 1.0);
    assert_eq!(sample(&after, missing_by_id), 2.0);
    assert_eq!(sample(&after, unmatched), 1.0);
    assert_eq!(sample(&after, latency_count), 3.0);
    // Routes are templates: raw ids never become labels.
    assert!(!after.contains("/api/users/999"));
    assert!(after.contains("# TYPE http_request_duration_seconds histogram"));
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let app = TestApp::spawn().await;
    let (status, doc) = json(app.get("/openapi.json").await).await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/users",
        "/api/users/{id}",
        "/health",
        "/ready",
        "/metrics",
        "/openapi.json",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    // The served document is the one with the domain's rules filled in.
    assert_eq!(doc, users_service::routes::openapi::document());
    assert_eq!(
        doc["paths"]["/api/users"]["get"]["parameters"][1]["schema"]["type"], "integer",
        "cursor"
    );
    assert!(doc["paths"]["/api/users"]["post"]["responses"]["409"].is_object());
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for schema in ["User", "CreateUser", "UserPage", "ErrorBody"] {
        assert!(schemas.contains_key(schema), "{schema} missing");
    }
    let required = &doc["components"]["schemas"]["CreateUser"]["required"];
    assert_eq!(required, &j!(["name", "email"]));
}
