//! Prometheus metrics: requests by method, route and status, request latency, users created.
//!
//! Routes are labelled by their template (`/api/users/{id}`), never the raw path, and
//! requests that matched no route share the label `unmatched`, so a scanner cannot blow up
//! the number of series.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The content type of the exposition format written by [`Metrics::render`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Latency bucket upper bounds, in seconds: 1 ms to 10 s.
const LATENCY_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

type LatencyFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// The service's metrics and the registry that renders them. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    users_created: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric in a fresh registry.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests handled, by method, route and status",
            requests.clone(),
        );
        let latency: LatencyFamily =
            Family::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS));
        registry.register(
            "http_request_duration_seconds",
            "Time to produce the response, by method and route",
            latency.clone(),
        );
        let users_created = Counter::default();
        registry.register("users_created", "Users created", users_created.clone());
        Self {
            registry: Arc::new(registry),
            requests,
            latency,
            users_created,
        }
    }

    /// Counts one created user.
    pub fn user_created(&self) {
        self.users_created.inc();
    }

    /// Renders every metric in the OpenMetrics text format, which Prometheus scrapes.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        encode(&mut out, &self.registry).expect("encoding metrics to a String");
        out
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(seconds);
    }
}

/// Middleware recording every request. Install with `Router::layer` so that it sees the
/// matched route.
pub async fn track(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned());
    let response = next.run(req).await;
    metrics.observe(
        method.as_str(),
        route.as_deref().unwrap_or("unmatched"),
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::Metrics;

    #[test]
    fn renders_counters_and_histograms() {
        let metrics = Metrics::new();
        metrics.observe("GET", "/api/users/{id}", 200, 0.002);
        metrics.observe("GET", "/api/users/{id}", 200, 0.2);
        metrics.user_created();
        let text = metrics.render();
        assert!(
            text.contains(
                r#"http_requests_total{method="GET",route="/api/users/{id}",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains(
            r#"http_request_duration_seconds_count{method="GET",route="/api/users/{id}"} 2"#
        ));
        assert!(text.contains(r#"http_request_duration_seconds_bucket{le="0.0025",method="GET",route="/api/users/{id}"} 1"#) ||
            text.contains(r#"http_request_duration_seconds_bucket{method="GET",route="/api/users/{id}",le="0.0025"} 1"#), "{text}");
        assert!(text.contains("users_created_total 1"));
        assert!(text.ends_with("# EOF\n"));
    }
}
