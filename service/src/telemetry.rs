//! Logging: JSON lines on stdout, one object per event, carrying the request's span (and so
//! its `request_id`) for every event logged while handling a request.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `filter` is a `LOG_LEVEL` directive such as `info` or
/// `info,sqlx=warn`; it was validated with the settings.
pub fn init(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .flatten_event(true)
        // The whole span stack, not just the innermost span, so request_id is on every
        // line even inside nested spans.
        .with_current_span(false)
        .with_span_list(true)
        .with_writer(std::io::stdout)
        .init();
}
