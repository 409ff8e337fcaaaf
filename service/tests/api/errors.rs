use crate::helpers::{TestApp, json};

async fn post_raw(
    app: &TestApp,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(format!("{}/api/users", app.address))
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = TestApp::spawn().await;
    for body in [
        r#"{"name": "Ada", "email": "#,
        "{name: Ada}",
        "",
        "{} trailing",
    ] {
        let (status, error) = json(post_raw(&app, Some("application/json"), body).await).await;
        assert_eq!(status, 400, "{body:?}: {error}");
        assert_eq!(error["error"]["code"], "bad_request");
    }
    assert_eq!(app.db.count_users().await, 0);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415() {
    let app = TestApp::spawn().await;
    let body = r#"{"name": "Ada", "email": "ada@example.com"}"#;
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let (status, error) = json(post_raw(&app, content_type, body).await).await;
        assert_eq!(status, 415, "{content_type:?}");
        assert_eq!(error["error"]["code"], "unsupported_media_type");
    }
    // A JSON subtype with parameters is still JSON.
    let (status, _) =
        json(post_raw(&app, Some("application/json; charset=utf-8"), body).await).await;
    assert_eq!(status, 201);
    assert_eq!(app.db.count_users().await, 1);
}

#[tokio::test]
async fn a_body_over_16_kib_is_413_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let big = format!(
        r#"{{"name": "Ada", "email": "ada@example.com", "padding": "{}"}}"#,
        "x".repeat(16 * 1024)
    );
    let (status, error) = json(post_raw(&app, Some("application/json"), big).await).await;
    assert_eq!(status, 413);
    assert_eq!(error["error"]["code"], "payload_too_large");
    assert_eq!(app.db.count_users().await, 0);
    // Just under the limit is read (and then judged on its content).
    let fits = format!(
        r#"{{"name": "Ada", "email": "ada@example.com", "padding": "{}"}}"#,
        "x".repeat(15 * 1024)
    );
    assert_eq!(
        post_raw(&app, Some("application/json"), fits)
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413_too() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = TestApp::spawn().await;
    // No Content-Length: the limit must hold while streaming, not only on the header.
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    let head = "POST /api/users HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
                Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    let mut request = head.as_bytes().to_vec();
    for _ in 0..40 {
        request.extend_from_slice(b"400\r\n");
        request.extend_from_slice(&[b' '; 1024]);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    // The server may answer and close before reading it all; a failed write is fine.
    let _ = stream.write_all(&request).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("payload_too_large"), "{response}");
}

#[tokio::test]
async fn unknown_routes_are_json_404s() {
    let app = TestApp::spawn().await;
    for path in ["/", "/api", "/api/users/1/friends", "/nope"] {
        let (status, error) = json(app.get(path).await).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(error["error"]["code"], "not_found");
    }
}

#[tokio::test]
async fn a_wrong_method_is_a_json_405_with_allow() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .delete(format!("{}/api/users/1", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    let allow = response.headers()["allow"].to_str().unwrap().to_owned();
    assert!(allow.contains("GET"), "{allow}");
    let (_, error) = json(response).await;
    assert_eq!(error["error"]["code"], "method_not_allowed");
}
