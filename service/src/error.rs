//! The one error type of the HTTP API. Every failure a client can see is one of these, and
//! every one is answered with a JSON [`ErrorBody`].

use std::collections::BTreeMap;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::{ToResponse, ToSchema};

use crate::domain::FieldErrors;

/// An error answered to the client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed (query string, path, JSON syntax).
    #[error("bad request: {message}")]
    BadRequest {
        /// What is wrong.
        message: String,
        /// Per-parameter problems, when there are any.
        fields: FieldErrors,
    },
    /// 404: no such resource or route.
    #[error("not found: {0}")]
    NotFound(String),
    /// 405: the route exists but not for this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 408: the request body did not arrive within the body-read timeout.
    #[error("request timeout")]
    RequestTimeout,
    /// 409: the request conflicts with existing data (duplicate email).
    #[error("conflict: {0}")]
    Conflict(String),
    /// 413: the body is larger than the limit.
    #[error("payload too large")]
    PayloadTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// 415: the body is not `application/json`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 422: well-formed JSON whose content is invalid.
    #[error("validation failed: {message}")]
    Unprocessable {
        /// Summary.
        message: String,
        /// Per-field problems.
        fields: FieldErrors,
    },
    /// 429: the client exceeded its rate limit.
    #[error("rate limited")]
    RateLimited {
        /// Seconds until a request would be accepted again.
        retry_after_secs: u64,
    },
    /// 503: a dependency (the database) is unavailable.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// 500: anything unexpected. The cause is logged, never sent.
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable machine-readable code; each status has one.
    pub code: ErrorCode,
    /// A human-readable explanation.
    pub message: String,
    /// Per-field problems (field name to message), for 400 and 422.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<&'static str, String>,
}

/// The stable machine-readable error codes, one per status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400.
    BadRequest,
    /// 404.
    NotFound,
    /// 405.
    MethodNotAllowed,
    /// 408.
    RequestTimeout,
    /// 409.
    Conflict,
    /// 413.
    PayloadTooLarge,
    /// 415.
    UnsupportedMediaType,
    /// 422.
    ValidationFailed,
    /// 429.
    RateLimited,
    /// 503.
    Unavailable,
    /// 500.
    Internal,
}

/// A 429 in the OpenAPI document.
#[derive(ToResponse)]
#[response(
    description = "This client made too many requests (code `rate_limited`); only when rate \
        limiting is on (`RATE_LIMIT_PER_SECOND` above 0)",
    headers(("retry-after" = u64, description = "Whole seconds to wait before retrying; at least 1"))
)]
pub struct RateLimitedResponse(pub ErrorBody);

/// A 408 in the OpenAPI document.
#[derive(ToResponse)]
#[response(
    description = "The body did not arrive within the body-read timeout (`HTTP_BODY_TIMEOUT_SECS`, \
        10 s) of the request head (code `request_timeout`); the connection is closed",
    headers(("connection" = String, description = "`close`"))
)]
pub struct RequestTimeoutResponse(pub ErrorBody);

/// A 500 in the OpenAPI document.
#[derive(ToResponse)]
#[response(
    description = "An unexpected failure (code `internal`); the cause is logged, never sent"
)]
pub struct InternalResponse(pub ErrorBody);

/// A 503 in the OpenAPI document.
#[derive(ToResponse)]
#[response(
    description = "The database cannot be reached or has no free connection in time \
        (code `unavailable`); retry later"
)]
pub struct UnavailableResponse(pub ErrorBody);

impl ApiError {
    /// A 400 with a message and no field detail.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            message: message.into(),
            fields: FieldErrors::new(),
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadRequest { .. } => ErrorCode::BadRequest,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            ApiError::RequestTimeout => ErrorCode::RequestTimeout,
            ApiError::Conflict(_) => ErrorCode::Conflict,
            ApiError::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            ApiError::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            ApiError::Unprocessable { .. } => ErrorCode::ValidationFailed,
            ApiError::RateLimited { .. } => ErrorCode::RateLimited,
            ApiError::Unavailable(_) => ErrorCode::Unavailable,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }

    fn body(self) -> ErrorBody {
        let code = self.code();
        let (message, fields) = match self {
            ApiError::BadRequest { message, fields }
            | ApiError::Unprocessable { message, fields } => (message, fields),
            ApiError::NotFound(message)
            | ApiError::Conflict(message)
            | ApiError::Unavailable(message) => (message, FieldErrors::new()),
            ApiError::MethodNotAllowed => (
                "method not allowed for this route".to_owned(),
                FieldErrors::new(),
            ),
            ApiError::RequestTimeout => (
                "the request body did not arrive in time".to_owned(),
                FieldErrors::new(),
            ),
            ApiError::PayloadTooLarge { limit } => (
                format!("request body is larger than {limit} bytes"),
                FieldErrors::new(),
            ),
            ApiError::UnsupportedMediaType => (
                "request body must be JSON with Content-Type: application/json".to_owned(),
                FieldErrors::new(),
            ),
            ApiError::RateLimited { retry_after_secs } => (
                format!("too many requests; retry after {retry_after_secs}s"),
                FieldErrors::new(),
            ),
            ApiError::Internal(_) => ("internal server error".to_owned(), FieldErrors::new()),
        };
        ErrorBody {
            error: ErrorDetail {
                code,
                message,
                fields,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let ApiError::Internal(cause) = &self {
            // The cause stays in the log (with the request id of the span); the client gets
            // a generic body.
            tracing::error!(error = format!("{cause:#}"), "request failed");
        }
        let retry_after = match &self {
            ApiError::RateLimited { retry_after_secs } => {
                Some(HeaderValue::from(*retry_after_secs))
            }
            _ => None,
        };
        // The rest of a body that is late is not worth waiting for: end the connection.
        let close = matches!(self, ApiError::RequestTimeout);
        let mut response = (status, Json(self.body())).into_response();
        if let Some(value) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if close {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;

    use super::*;

    async fn json(err: ApiError) -> (StatusCode, serde_json::Value) {
        let response = err.into_response();
        let status = response.status();
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn internal_errors_hide_their_cause() {
        let (status, body) = json(ApiError::Internal(anyhow::anyhow!("password=hunter2"))).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"]["code"], "internal");
        assert!(!body.to_string().contains("hunter2"));
    }

    #[tokio::test]
    async fn field_errors_are_listed_and_omitted_when_empty() {
        let mut fields = FieldErrors::new();
        fields.insert("name", "is required".into());
        let (status, body) = json(ApiError::Unprocessable {
            message: "invalid user".into(),
            fields,
        })
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["error"]["fields"]["name"], "is required");
        let (_, body) = json(ApiError::NotFound("no user 7".into())).await;
        assert!(body["error"].get("fields").is_none());
    }

    #[tokio::test]
    async fn rate_limited_sets_retry_after() {
        let response = ApiError::RateLimited {
            retry_after_secs: 2,
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
    }
}
