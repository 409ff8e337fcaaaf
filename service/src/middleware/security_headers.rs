//! Response headers that harden browsers' handling of every response.

use axum::http::{HeaderName, HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;

/// The headers set on every response, overriding any a handler set.
pub const HEADERS: [(HeaderName, &str); 4] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (
        header::STRICT_TRANSPORT_SECURITY,
        "max-age=63072000; includeSubDomains",
    ),
    (header::REFERRER_POLICY, "no-referrer"),
];

/// One layer per header in [`HEADERS`].
pub fn layers() -> [SetResponseHeaderLayer<HeaderValue>; 4] {
    HEADERS.map(|(name, value)| {
        SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
    })
}
