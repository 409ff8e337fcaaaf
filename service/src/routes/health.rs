//! Liveness (`/health`) and readiness (`/ready`) probes.

use std::sync::atomic::Ordering;
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

/// The database answers a query, and has every migration of this binary: the task may
/// receive traffic.
#[utoipa::path(get, path = "/ready", tag = "probes",
    responses(
        (status = 200, description = "The database is reachable and its schema up to date",
            body = Status),
        (status = 503, description = "The database is not reachable, or its schema lacks a \
            migration of this version (the deploy's `users-service migrate` has not run)",
            body = ErrorBody),
    ))]
pub async fn ready(State(state): State<AppState>) -> Result<Json<Status>, ApiError> {
    let check = async {
        // Once current, a schema stays current (migrations only add), so the check is
        // then the plain round trip.
        if state.schema_current.load(Ordering::Relaxed) {
            return state
                .pool
                .run(async |conn| sqlx::query("SELECT 1").execute(conn).await)
                .await
                .map(|_| Ok(()));
        }
        let pending = crate::db::pending_migrations(&state.pool).await?;
        if pending.is_empty() {
            state.schema_current.store(true, Ordering::Relaxed);
            tracing::info!("the database schema has every migration; ready");
            return Ok(Ok(()));
        }
        let names: Vec<String> = pending.iter().map(|m| crate::db::describe(m)).collect();
        Ok(Err(names.join(", ")))
    };
    match tokio::time::timeout(READY_TIMEOUT, check).await {
        Ok(Ok(Ok(()))) => Ok(Json(Status { status: "ready" })),
        Ok(Ok(Err(pending))) => {
            tracing::warn!(pending = %pending, "not ready: the database schema lacks migrations");
            Err(ApiError::Unavailable(format!(
                "database schema is behind this version: migrations not applied: {pending}; \
                 run `users-service migrate`"
            )))
        }
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
