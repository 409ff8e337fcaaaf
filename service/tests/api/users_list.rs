use serde_json::Value;

use crate::helpers::{TestApp, json};

fn ids(page: &Value) -> Vec<i64> {
    page["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn an_empty_table_is_an_empty_last_page() {
    let app = TestApp::spawn().await;
    let (status, page) = json(app.get("/api/users").await).await;
    assert_eq!(status, 200);
    assert_eq!(page["users"], Value::Array(vec![]));
    assert_eq!(page["next_cursor"], Value::Null);
}

#[tokio::test]
async fn pages_default_to_20_and_the_cursor_walks_every_user_once() {
    let app = TestApp::spawn().await;
    app.db.seed_users(45).await;
    let mut seen = Vec::new();
    let mut path = "/api/users".to_owned();
    let mut sizes = Vec::new();
    loop {
        let (status, page) = json(app.get(&path).await).await;
        assert_eq!(status, 200, "{page}");
        sizes.push(ids(&page).len());
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/users?cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(sizes, [20, 20, 5]);
    assert_eq!(seen, (1..=45).collect::<Vec<i64>>());
}

#[tokio::test]
async fn an_exactly_full_last_page_has_no_next_cursor() {
    let app = TestApp::spawn().await;
    app.db.seed_users(20).await;
    let (_, page) = json(app.get("/api/users?limit=10").await).await;
    assert_eq!(ids(&page), (1..=10).collect::<Vec<i64>>());
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (_, page) = json(
        app.get(&format!("/api/users?limit=10&cursor={cursor}"))
            .await,
    )
    .await;
    assert_eq!(ids(&page), (11..=20).collect::<Vec<i64>>());
    assert_eq!(page["next_cursor"], Value::Null);

    let (_, page) = json(app.get("/api/users?limit=20").await).await;
    assert_eq!(ids(&page).len(), 20);
    assert_eq!(page["next_cursor"], Value::Null);
}

#[tokio::test]
async fn limit_accepts_1_to_100() {
    let app = TestApp::spawn().await;
    app.db.seed_users(120).await;
    let (_, page) = json(app.get("/api/users?limit=1").await).await;
    assert_eq!(ids(&page), [1]);
    assert_eq!(page["next_cursor"], "1");
    let (_, page) = json(app.get("/api/users?limit=100").await).await;
    assert_eq!(ids(&page).len(), 100);
    assert_eq!(page["next_cursor"], "100");
    let (_, page) = json(app.get("/api/users?limit=100&cursor=100").await).await;
    assert_eq!(ids(&page), (101..=120).collect::<Vec<i64>>());
    assert_eq!(page["next_cursor"], Value::Null);
}

#[tokio::test]
async fn a_cursor_past_the_end_is_an_empty_page() {
    let app = TestApp::spawn().await;
    app.db.seed_users(3).await;
    let (status, page) = json(app.get("/api/users?cursor=3").await).await;
    assert_eq!(status, 200);
    assert!(ids(&page).is_empty());
    assert_eq!(page["next_cursor"], Value::Null);
}

#[tokio::test]
async fn any_non_negative_integer_is_a_cursor() {
    let app = TestApp::spawn().await;
    app.db.seed_users(3).await;
    let (_, page) = json(app.get("/api/users?cursor=0").await).await;
    assert_eq!(ids(&page), [1, 2, 3]);
    let (_, page) = json(app.get("/api/users?cursor=1").await).await;
    assert_eq!(ids(&page), [2, 3]);
    let (status, page) = json(app.get(&format!("/api/users?cursor={}", i64::MAX)).await).await;
    assert_eq!(status, 200);
    assert!(ids(&page).is_empty());
}

#[tokio::test]
async fn bad_limit_or_cursor_is_400_naming_the_parameter() {
    let app = TestApp::spawn().await;
    let cases = [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("limit=", "limit"),
        ("limit=99999999999999999999", "limit"),
        ("cursor=abc", "cursor"),
        ("cursor=-5", "cursor"),
        ("cursor=", "cursor"),
        ("cursor=1.5", "cursor"),
        ("cursor=9223372036854775808", "cursor"),
        // Integers, as the document says: not padded with spaces.
        ("limit=%205", "limit"),
        ("cursor=5%20", "cursor"),
    ];
    for (query, field) in cases {
        let (status, error) = json(app.get(&format!("/api/users?{query}")).await).await;
        assert_eq!(status, 400, "{query}: {error}");
        assert_eq!(error["error"]["code"], "bad_request");
        assert!(
            error["error"]["fields"][field].is_string(),
            "{query}: {error}"
        );
    }
    let (status, error) = json(app.get("/api/users?limit=0&cursor=x").await).await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["fields"].as_object().unwrap().len(), 2);
    // Duplicated parameters are ambiguous: rejected too.
    let (status, _) = json(app.get("/api/users?limit=1&limit=2").await).await;
    assert_eq!(status, 400);
}
