use crate::helpers::{TestApp, json};

const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    (
        "strict-transport-security",
        "max-age=63072000; includeSubDomains",
    ),
    ("referrer-policy", "no-referrer"),
];

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    let responses = [
        app.get("/health").await,
        app.get("/api/users").await,
        app.get("/api/users/1").await,
        app.get("/nope").await,
        app.post_user(&serde_json::json!({})).await,
        app.get("/metrics").await,
    ];
    for response in responses {
        for (name, value) in SECURITY_HEADERS {
            assert_eq!(
                response.headers()[name],
                value,
                "{} {}",
                response.url(),
                response.status()
            );
        }
    }
}

#[tokio::test]
async fn a_sane_request_id_is_echoed() {
    let app = TestApp::spawn().await;
    for id in [
        "abc-123",
        "0f8fad5b-d9cb-469f-a165-70867728950e",
        "Root=1-5759e988-bd862e3fe1be46a994272793",
    ] {
        let response = app
            .client
            .get(format!("{}/api/users/1", app.address))
            .header("x-request-id", id)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["x-request-id"], id);
    }
}

#[tokio::test]
async fn a_missing_or_insane_request_id_is_replaced_by_a_uuid() {
    let app = TestApp::spawn().await;
    let generated = |response: &reqwest::Response| {
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        uuid::Uuid::parse_str(&id).unwrap_or_else(|_| panic!("{id} is not a UUID"));
        id
    };
    let first = generated(&app.get("/health").await);
    let second = generated(&app.get("/health").await);
    assert_ne!(first, second);
    for bad in ["has spaces", "semi;colon", &"x".repeat(200)] {
        let response = app
            .client
            .get(format!("{}/health", app.address))
            .header("x-request-id", bad)
            .send()
            .await
            .unwrap();
        assert_ne!(generated(&response), bad);
    }
}

async fn get_as(app: &TestApp, path: &str, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(format!("{}{path}", app.address));
    if let Some(xff) = forwarded_for {
        request = request.header("x-forwarded-for", xff);
    }
    request.send().await.unwrap()
}

/// Sends requests until one is rate limited; returns how many got through first and the
/// limited response. Bounded, so a broken limiter fails instead of looping.
async fn until_limited(
    app: &TestApp,
    forwarded_for: Option<&str>,
    burst: usize,
) -> reqwest::Response {
    let started = std::time::Instant::now();
    for passed in 0..20 {
        let response = get_as(app, "/api/users/1", forwarded_for).await;
        if response.status() == 429 {
            // The whole burst gets through; at 1/s, one more per second spent sending.
            let refilled = started.elapsed().as_secs() as usize + 1;
            assert!(
                (burst..=burst + refilled).contains(&passed),
                "{passed} requests passed before the limit (burst {burst})"
            );
            return response;
        }
        assert_eq!(response.status(), 404);
    }
    panic!("never rate limited");
}

#[tokio::test]
async fn clients_over_their_burst_get_429_with_retry_after() {
    let app = TestApp::spawn_with(|_| {
        vec![
            ("RATE_LIMIT_PER_SECOND", "1".into()),
            ("RATE_LIMIT_BURST", "3".into()),
        ]
    })
    .await;
    let limited = until_limited(&app, None, 3).await;
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(retry_after, 1);
    assert!(limited.headers().contains_key("x-request-id"));
    let (_, error) = json(limited).await;
    assert_eq!(error["error"]["code"], "rate_limited");

    // Probes are never limited.
    assert_eq!(get_as(&app, "/health", None).await.status(), 200);
    assert_eq!(get_as(&app, "/ready", None).await.status(), 200);

    // After Retry-After the client is served again.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(get_as(&app, "/api/users/1", None).await.status(), 404);
}

#[tokio::test]
async fn behind_the_load_balancer_each_forwarded_client_has_its_own_bucket() {
    let app = TestApp::spawn_with(|_| {
        vec![
            ("RATE_LIMIT_PER_SECOND", "1".into()),
            ("RATE_LIMIT_BURST", "2".into()),
        ]
    })
    .await;
    until_limited(&app, Some("203.0.113.1"), 2).await;
    // Forging entries to the left does not give the limited client a fresh bucket.
    let forged = get_as(&app, "/api/users/1", Some("198.51.100.7, 203.0.113.1")).await;
    assert_eq!(forged.status(), 429);
    // Another client (the rightmost X-Forwarded-For entry is what the ALB saw) is not
    // affected, and the direct peer has its own bucket too.
    let other = get_as(&app, "/api/users/1", Some("203.0.113.2")).await;
    assert_eq!(other.status(), 404);
    assert_eq!(get_as(&app, "/api/users/1", None).await.status(), 404);
}

#[tokio::test]
async fn rate_limit_zero_turns_limiting_off() {
    let app = TestApp::spawn_with(|_| {
        vec![
            ("RATE_LIMIT_PER_SECOND", "0".into()),
            ("RATE_LIMIT_BURST", "1".into()),
        ]
    })
    .await;
    for _ in 0..30 {
        assert_eq!(app.get("/api/users/1").await.status(), 404);
    }
}
