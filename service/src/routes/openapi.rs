//! `GET /openapi.json`: the OpenAPI 3 document, generated from the handlers and types.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use utoipa::OpenApi;

use crate::startup::AppState;

/// The API description; every route is listed here.
#[derive(OpenApi)]
#[openapi(
    info(title = "users-service", description = "Users: create, fetch and list."),
    paths(
        super::users::list_users,
        super::users::create_user,
        super::users::get_user,
        super::health::health,
        super::health::ready,
        super::metrics::metrics,
    ),
    tags(
        (name = "users", description = "User accounts"),
        (name = "probes", description = "Health, readiness and metrics"),
    )
)]
pub struct ApiDoc;

/// The document's route.
pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(openapi))
}

async fn openapi(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.openapi.clone(),
    )
}
