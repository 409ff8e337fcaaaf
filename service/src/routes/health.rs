//! Liveness (`/health`) and readiness (`/ready`) probes.

use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::startup::AppState;

/// Longest a readiness check waits for the database. Load balancer health checks time out
/// after a few seconds; answering 503 before that tells them more than a timeout does.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// The probes' routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
}

/// A probe's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    /// `ok` or `ready`.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// The process is up and serving HTTP. Does not touch the database, so a database outage
/// never gets healthy tasks killed.
#[utoipa::path(get, path = "/health", tag = "probes",
    responses((status = 200, description = "The process is up", body = Status)))]
pub async fn health() -> Json<Status> {
    Json(Status { status: "ok" })
}

/// The database answers a query: the task may receive traffic.
#[utoipa::path(get, path = "/ready", tag = "probes",
    responses(
        (status = 200, description = "The database is reachable", body = Status),
        (status = 503, description = "The database is not reachable", body = ErrorBody),
    ))]
pub async fn ready(State(state): State<AppState>) -> Result<Json<Status>, ApiError> {
    let check = sqlx::query("SELECT 1").execute(&state.pool);
    match tokio::time::timeout(READY_TIMEOUT, check).await {
        Ok(Ok(_)) => Ok(Json(Status { status: "ready" })),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness check failed");
            Err(ApiError::Unavailable("database unavailable".to_owned()))
        }
        Err(_) => {
            tracing::warn!(
                timeout_ms = READY_TIMEOUT.as_millis() as u64,
                "readiness check timed out"
            );
            Err(ApiError::Unavailable("database unavailable".to_owned()))
        }
    }
}
