use serde_json::json as j;

use crate::helpers::{TestApp, json};

#[tokio::test]
async fn creates_a_user_and_returns_it_with_its_location() {
    let app = TestApp::spawn().await;
    let response = app
        .post_user(&j!({"name": "Ada Lovelace", "email": "Ada@Example.COM"}))
        .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let (_, user) = json(response).await;
    assert_eq!(user["name"], "Ada Lovelace");
    assert_eq!(user["email"], "ada@example.com");
    let id = user["id"].as_i64().unwrap();
    assert!(id > 0);
    assert_eq!(location, format!("/api/users/{id}"));
    assert!(user["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(user["created_at"], user["updated_at"]);

    let (status, fetched) = json(app.get(&location).await).await;
    assert_eq!(status, 200);
    assert_eq!(fetched, user);
    assert_eq!(app.db.count_users().await, 1);
}

#[tokio::test]
async fn accepts_names_and_emails_at_their_limits() {
    let app = TestApp::spawn().await;
    let name = "é".repeat(100);
    let email = format!(
        "{}@{}.{}.{}.com",
        "a".repeat(64),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(58)
    );
    assert_eq!(email.len(), 255);
    let (status, user) = json(app.post_user(&j!({"name": name, "email": email})).await).await;
    assert_eq!(status, 201, "{user}");
    assert_eq!(user["name"], name);
    let (status, _) = json(
        app.post_user(&j!({"name": "Al", "email": "al@example.com"}))
            .await,
    )
    .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn invalid_fields_are_422_with_every_problem_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let cases = [
        (j!({"name": "A", "email": "ada@example.com"}), vec!["name"]),
        (
            j!({"name": "   ", "email": "ada@example.com"}),
            vec!["name"],
        ),
        (
            j!({"name": "x".repeat(101), "email": "ada@example.com"}),
            vec!["name"],
        ),
        (j!({"name": "Ada", "email": "not-an-email"}), vec!["email"]),
        (j!({"name": "Ada", "email": "ada@example"}), vec!["email"]),
        (
            j!({"name": "Ada", "email": format!("{}@{}.{}.{}.com", "a".repeat(64), "b".repeat(63), "c".repeat(63), "d".repeat(59))}),
            vec!["email"],
        ),
        (j!({"name": "A", "email": "nope"}), vec!["email", "name"]),
        (j!({}), vec!["email", "name"]),
        (j!({"name": null, "email": "ada@example.com"}), vec!["name"]),
        // Taken as given, not trimmed: what the OpenAPI document's pattern says.
        (
            j!({"name": " Ada", "email": "ada@example.com"}),
            vec!["name"],
        ),
        (
            j!({"name": "Ada ", "email": "ada@example.com"}),
            vec!["name"],
        ),
        (
            j!({"name": "Ada", "email": " ada@example.com"}),
            vec!["email"],
        ),
        (
            j!({"name": "Ada", "email": "ada@example.com "}),
            vec!["email"],
        ),
        // Invisible and direction-changing characters, anywhere.
        (
            j!({"name": "Ada\u{200B}", "email": "ada@example.com"}),
            vec!["name"],
        ),
        (
            j!({"name": "\u{202E}adA", "email": "ada@example.com"}),
            vec!["name"],
        ),
        (
            j!({"name": "Ada\u{2067}x", "email": "ada@example.com"}),
            vec!["name"],
        ),
        (
            j!({"name": "\u{3164}\u{3164}", "email": "ada@example.com"}),
            vec!["name"],
        ),
        (
            j!({"name": "Ada\u{FEFF}Lovelace", "email": "ada@example.com"}),
            vec!["name"],
        ),
        (
            j!({"name": "Ada\tLovelace", "email": "ada@example.com"}),
            vec!["name"],
        ),
        (
            j!({"name": "Ada", "email": "ada@example.1com"}),
            vec!["email"],
        ),
    ];
    for (body, fields) in cases {
        let (status, error) = json(app.post_user(&body).await).await;
        assert_eq!(status, 422, "{body} -> {error}");
        assert_eq!(error["error"]["code"], "validation_failed");
        let reported: Vec<&str> = error["error"]["fields"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(reported, fields, "{body} -> {error}");
    }
    assert_eq!(app.db.count_users().await, 0);
}

#[tokio::test]
async fn names_keep_inner_spaces_joiners_and_emoji() {
    let app = TestApp::spawn().await;
    for (i, name) in [
        "Ada  King",
        "Ada\u{00A0}Lovelace",
        "👩\u{200D}💻 Ada",
        "می\u{200C}خواهم",
    ]
    .into_iter()
    .enumerate()
    {
        let (status, user) = json(
            app.post_user(&j!({"name": name, "email": format!("u{i}@example.com")}))
                .await,
        )
        .await;
        assert_eq!(status, 201, "{name:?}: {user}");
        assert_eq!(user["name"], name);
    }
}

#[tokio::test]
async fn a_member_given_twice_is_422_whichever_it_is() {
    let app = TestApp::spawn().await;
    for body in [
        r#"{"name": "A", "name": "Ada Lovelace", "email": "ada@example.com"}"#,
        r#"{"name": "Ada", "email": "ada@example.com", "email": "eve@example.com"}"#,
        r#"{"name": "Ada", "email": "ada@example.com", "x": 1, "x": 2}"#,
    ] {
        let response = app
            .client
            .post(format!("{}/api/users", app.address))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, error) = json(response).await;
        assert_eq!(status, 422, "{body} -> {error}");
        assert_eq!(error["error"]["code"], "validation_failed");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("more than once"),
            "{error}"
        );
    }
    assert_eq!(app.db.count_users().await, 0);
}

#[tokio::test]
async fn wrong_json_types_are_422() {
    let app = TestApp::spawn().await;
    for body in [
        j!({"name": 5, "email": "ada@example.com"}),
        j!(["Ada", "ada@example.com"]),
        j!("Ada"),
    ] {
        let (status, error) = json(app.post_user(&body).await).await;
        assert_eq!(status, 422, "{body} -> {error}");
        assert_eq!(error["error"]["code"], "validation_failed");
    }
    assert_eq!(app.db.count_users().await, 0);
}

#[tokio::test]
async fn a_duplicate_email_is_409_whatever_its_case() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.post_user(&j!({"name": "Ada", "email": "ada@example.com"}))
            .await
            .status(),
        201
    );
    let (status, error) = json(
        app.post_user(&j!({"name": "Other Ada", "email": "ADA@Example.com"}))
            .await,
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(error["error"]["code"], "conflict");
    assert_eq!(app.db.count_users().await, 1);
}

#[tokio::test]
async fn concurrent_creates_with_one_email_yield_exactly_one_user() {
    let app = TestApp::spawn().await;
    let requests = (0..8).map(|i| {
        let request = app
            .client
            .post(format!("{}/api/users", app.address))
            .json(&j!({"name": format!("Racer {i}"), "email": "race@example.com"}));
        async move { request.send().await.unwrap().status().as_u16() }
    });
    let mut statuses: Vec<u16> = futures_join_all(requests).await;
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409, 409, 409, 409, 409, 409, 409]);
    assert_eq!(app.db.count_users().await, 1);
}

/// Runs the futures concurrently on the test runtime.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<u16>
where
    F: Future<Output = u16> + Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}
