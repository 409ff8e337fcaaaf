//! The HTTP routes. Each module exposes `router()`; [`crate::startup::router`] merges them.

use axum::http::{Method, Uri};

use crate::error::ApiError;

pub mod health;
pub mod metrics;
pub mod openapi;
pub mod users;

/// Fallback for paths that match no route: a JSON 404 like every other error.
pub async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {method} {}", uri.path()))
}

/// Fallback for a known path with the wrong method: a JSON 405.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
