//! `GET /openapi.json`: the OpenAPI 3.1 document, generated from the handlers and types, and
//! the contract the service is tested against (`make test-conformance`).

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Value, json};
use utoipa::OpenApi;

use crate::domain::{UserEmail, UserName};
use crate::startup::AppState;

/// The API description; every route is listed here.
#[derive(OpenApi)]
#[openapi(
    info(title = "users-service", description = "Users: create, fetch and list.\n\n\
        Every error is answered with a JSON `ErrorBody`. Every response carries an \
        `x-request-id` header (the request's own when it sent a sane one). A method a path \
        does not serve is answered 405 with an `Allow` header, an unknown path 404."),
    paths(
        super::users::list_users,
        super::users::create_user,
        super::users::get_user,
        super::health::health,
        super::health::ready,
        super::metrics::metrics,
        openapi,
    ),
    components(responses(
        crate::error::RateLimitedResponse,
        crate::error::RequestTimeoutResponse,
        crate::error::InternalResponse,
        crate::error::UnavailableResponse,
    )),
    tags(
        (name = "users", description = "User accounts"),
        (name = "probes", description = "Health, readiness and metrics"),
    )
)]
pub struct ApiDoc;

/// The document as served: what the derive produces, plus the rules it cannot express from
/// attributes, taken from the types that enforce them so that the two cannot drift apart.
pub fn document() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serialises");
    let create_user = "/components/schemas/CreateUser/properties";
    set(
        &mut doc,
        &format!("{create_user}/name"),
        "pattern",
        json!(UserName::pattern()),
    );
    set(
        &mut doc,
        &format!("{create_user}/email"),
        "pattern",
        json!(UserEmail::PATTERN),
    );
    set(
        &mut doc,
        &format!("{create_user}/email"),
        "format",
        json!("email"),
    );
    // The link says what a client (and the stateful conformance run) may do next: fetch the
    // user it just created.
    set(
        &mut doc,
        "/paths/~1api~1users/post/responses/201",
        "links",
        json!({
            "GetCreatedUser": {
                "operationId": "get_user",
                "parameters": {"id": "$response.body#/id"},
                "description": "The user just created, by its id",
            }
        }),
    );
    set(
        &mut doc,
        "/components/responses/RateLimitedResponse/headers/retry-after/schema",
        "minimum",
        json!(1),
    );
    doc
}

/// Sets `key` in the object at `pointer`, which must exist: a renamed type or field fails
/// the tests rather than silently dropping a rule from the contract.
fn set(doc: &mut Value, pointer: &str, key: &str, value: Value) {
    let object = doc
        .pointer_mut(pointer)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("the OpenAPI document has no object at {pointer}"));
    object.insert(key.to_owned(), value);
}

/// The document's route.
pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(openapi))
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "probes",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object,
        content_type = "application/json")))]
async fn openapi(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.openapi.clone(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operations(doc: &Value) -> Vec<(String, String, &serde_json::Map<String, Value>)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                out.push((
                    path.clone(),
                    method.clone(),
                    operation["responses"].as_object().unwrap(),
                ));
            }
        }
        out
    }

    #[test]
    fn the_body_rules_are_the_domain_rules() {
        let doc = document();
        let props = &doc["components"]["schemas"]["CreateUser"]["properties"];
        assert_eq!(props["name"]["pattern"], UserName::pattern());
        assert_eq!(props["name"]["minLength"], 2);
        assert_eq!(props["name"]["maxLength"], 100);
        assert_eq!(props["email"]["pattern"], UserEmail::PATTERN);
        assert_eq!(props["email"]["format"], "email");
        assert_eq!(props["email"]["maxLength"], 255);
        assert_eq!(
            doc["components"]["schemas"]["CreateUser"]["required"],
            json!(["name", "email"])
        );
    }

    #[test]
    fn query_and_path_integers_have_their_bounds() {
        let doc = document();
        let params = doc["paths"]["/api/users"]["get"]["parameters"]
            .as_array()
            .unwrap();
        let param =
            |name: &str| params.iter().find(|p| p["name"] == name).unwrap()["schema"].clone();
        assert_eq!(param("cursor")["type"], "integer");
        assert_eq!(param("cursor")["minimum"], 0);
        assert_eq!(param("cursor")["maximum"], i64::MAX);
        assert_eq!(param("limit")["minimum"], 1);
        assert_eq!(param("limit")["maximum"], 100);
        let id = &doc["paths"]["/api/users/{id}"]["get"]["parameters"][0]["schema"];
        assert_eq!(id["type"], "integer");
        assert_eq!(id["minimum"], 1);
        assert_eq!(id["maximum"], i64::MAX);
    }

    #[test]
    fn every_operation_on_the_database_documents_its_failures() {
        let doc = document();
        for (path, method, responses) in operations(&doc) {
            if path.starts_with("/api/") {
                for status in ["400", "429", "500", "503"] {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path} lacks {status}"
                    );
                }
            }
        }
        let create = doc["paths"]["/api/users"]["post"]["responses"]
            .as_object()
            .unwrap();
        let statuses: Vec<&str> = create.keys().map(String::as_str).collect();
        assert_eq!(
            statuses,
            [
                "201", "400", "408", "409", "413", "415", "422", "429", "500", "503"
            ]
        );
        let retry_after =
            &doc["components"]["responses"]["RateLimitedResponse"]["headers"]["retry-after"];
        assert_eq!(retry_after["schema"]["minimum"], 1);
    }

    #[test]
    fn every_error_code_is_listed() {
        let doc = document();
        let codes = doc["components"]["schemas"]["ErrorCode"]["enum"]
            .as_array()
            .unwrap();
        assert!(codes.contains(&json!("validation_failed")));
        assert!(codes.contains(&json!("rate_limited")));
    }
}
