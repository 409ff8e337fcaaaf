//! `x-request-id`: taken from the request when it looks sane, generated (UUID v4) otherwise,
//! echoed on the response and carried by the request's tracing span, so every log line of
//! the request has it.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The header's name.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id, stored in the request extensions for the tracing span.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Longest id accepted from a client.
const MAX_LEN: usize = 128;

/// Whether a client-supplied id can be used as is: short, and only characters that cannot
/// forge or break a log line.
pub fn is_sane(id: &str) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(&b))
}

/// Middleware: assigns the id before anything else runs and sets it on the response.
pub async fn assign(mut req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| is_sane(id));
    let id = match given {
        Some(id) => id.to_owned(),
        // A request id needs uniqueness, not secrecy: a fast thread-local generator spares
        // a getrandom system call on every request.
        None => uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes())
            .into_uuid()
            .to_string(),
    };
    // Sane ids and UUIDs are plain ASCII, which is always a valid header value.
    let value = HeaderValue::from_str(&id).expect("request id is a valid header value");
    req.headers_mut()
        .insert(X_REQUEST_ID.clone(), value.clone());
    req.extensions_mut().insert(RequestId(id));
    let mut response = next.run(req).await;
    response.headers_mut().insert(X_REQUEST_ID.clone(), value);
    response
}

#[cfg(test)]
mod tests {
    use super::is_sane;

    #[test]
    fn accepts_common_id_formats() {
        for id in [
            "abc",
            "0f8fad5b-d9cb-469f-a165-70867728950e",
            "Root=1-67891233-abcdef012345678912345678",
            "req_01:2/3+4",
        ] {
            assert!(is_sane(id), "{id}");
        }
    }

    #[test]
    fn rejects_empty_long_and_odd_ids() {
        for id in [
            "",
            "has space",
            "quote\"",
            "new\nline",
            "ünï",
            &"a".repeat(129),
        ] {
            assert!(!is_sane(id), "{id:?}");
        }
    }
}
