//! Building and running the application: database, listener, router, graceful shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::db::Db;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use axum::middleware::{from_fn, from_fn_with_state};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::LatencyUnit;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::{Level, Span};

use crate::config::{ConfigError, HttpSettings, RateLimitSettings, Settings};
use crate::extract::BODY_LIMIT;
use crate::metrics::{self, Metrics};
use crate::middleware::rate_limit::{self, RateLimit};
use crate::middleware::request_id::{self, RequestId};
use crate::middleware::security_headers;
use crate::routes;

/// Longest wait for the pool's connections to close at shutdown, after the shutdown timeout.
pub const POOL_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// The same after giving up on in-flight requests.
const ABANDONED_POOL_CLOSE_TIMEOUT: Duration = Duration::from_millis(500);

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The database pool.
    pub pool: Db,
    /// The metrics registry.
    pub metrics: Metrics,
    /// The OpenAPI document, rendered once at startup.
    pub openapi: Bytes,
    /// Set once the database is known to hold every migration of this binary (at startup
    /// when it migrates); until then `/ready` checks, see [`crate::routes::health`].
    pub schema_current: Arc<AtomicBool>,
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A setting is missing or wrong (including the database secret).
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// The database could not be reached or migrated.
    #[error(
        "cannot prepare the database at {target}: {source}; check the database location \
         (DATABASE_URL, or DB_HOST/DB_PORT/DB_NAME), the credentials, and that it accepts connections"
    )]
    Database {
        /// host:port/database, for the message.
        target: String,
        /// The cause.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}; choose another PORT or HOST")]
    Bind {
        /// The address tried.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl StartupError {
    /// The process exit code: 2 for configuration, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            StartupError::Config(_) => 2,
            _ => 1,
        }
    }
}

/// The service, built and bound, ready to run.
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    router: Router,
    pool: Db,
    shutdown_timeout: Duration,
    http: HttpSettings,
}

impl Application {
    /// Resolves the credentials, migrates the database (unless `MIGRATE_ON_START=false`) and
    /// binds the listener (port 0 picks a free port; see [`Application::port`]).
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let options = settings.database.connect_options().await?;
        let target = crate::db::target(&options);
        let pool = crate::db::pool(options, &settings.database.pool);
        if settings.migrate_on_start {
            crate::db::migrate(&pool)
                .await
                .map_err(|source| StartupError::Database {
                    target: target.clone(),
                    source,
                })?;
            tracing::info!(database = %target, "database reachable, schema up to date");
        } else {
            // Nothing touches the database now: the pool is lazy, and /ready tells whether
            // the deploy's `users-service migrate` has brought the schema up to date.
            tracing::info!(
                database = %target,
                "migrations at startup are off (MIGRATE_ON_START=false); not ready until the \
                 schema has every migration"
            );
        }

        let addr = SocketAddr::new(settings.host, settings.port);
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartupError::Bind { addr, source })?;
        let address = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr, source })?;

        let openapi = crate::routes::openapi::document().to_string();
        let state = AppState {
            pool: pool.clone(),
            metrics: Metrics::new(),
            openapi: Bytes::from(openapi),
            schema_current: Arc::new(AtomicBool::new(settings.migrate_on_start)),
        };
        Ok(Self {
            listener,
            address,
            router: router(state, &settings.rate_limit),
            pool,
            shutdown_timeout: settings.shutdown_timeout,
            http: settings.http,
        })
    }

    /// The port the listener is bound to.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Serves until SIGTERM or Ctrl-C, then shuts down gracefully (see
    /// [`Application::run_until`]).
    pub async fn run_until_stopped(self) -> io::Result<()> {
        let signal = shutdown_signal()?;
        self.run_until(signal).await
    }

    /// Serves until `shutdown` completes. Then: stop accepting connections, let in-flight
    /// requests finish for up to the shutdown timeout (see [`crate::server`] for what happens
    /// to keep-alive connections), close the pool (up to [`POOL_CLOSE_TIMEOUT`] more).
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let Application {
            listener,
            address,
            router,
            pool,
            shutdown_timeout,
            http,
        } = self;
        tracing::info!(address = %address, port = address.port(), "listening");
        let on_shutdown = move || {
            tracing::info!(
                timeout_secs = shutdown_timeout.as_secs(),
                "shutting down: no new connections, finishing in-flight requests"
            );
        };
        let drained = crate::server::serve(
            listener,
            router,
            http,
            shutdown,
            on_shutdown,
            shutdown_timeout,
        )
        .await;
        if !drained {
            tracing::warn!(
                timeout_secs = shutdown_timeout.as_secs(),
                "in-flight requests did not finish within the shutdown timeout; abandoning them"
            );
        }

        // Closing waits for checked-out connections; abandoned requests may hold some for
        // good, so then only the idle ones get a moment to close cleanly.
        let close_wait = if drained {
            POOL_CLOSE_TIMEOUT
        } else {
            ABANDONED_POOL_CLOSE_TIMEOUT
        };
        if tokio::time::timeout(close_wait, pool.close())
            .await
            .is_err()
        {
            tracing::warn!("database connections did not close in time");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Completes on SIGTERM (what ECS sends) or Ctrl-C. The handlers are installed now, before
/// serving starts, so that an early signal is never the default "terminate at once".
pub fn shutdown_signal() -> io::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = terminate.recv() => tracing::info!(signal = "SIGTERM", "signal received"),
                _ = interrupt.recv() => tracing::info!(signal = "SIGINT", "signal received"),
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

/// The whole HTTP stack. Layers, outermost first: request id, tracing span, security
/// headers, body limit, metrics, then per route (only `/api/*`) the rate limit.
pub fn router(state: AppState, rate_limit: &RateLimitSettings) -> Router {
    let mut api = routes::users::router();
    // Probes, metrics and the API document are not limited: a load balancer or scraper
    // must never be told to go away.
    if let Some(limiter) = RateLimit::new(rate_limit) {
        limiter.spawn_eviction();
        api = api.layer(from_fn_with_state(limiter, rate_limit::limit));
    }
    let [nosniff, frame, hsts, referrer] = security_headers::layers();
    Router::new()
        .merge(routes::health::router())
        .merge(routes::metrics::router())
        .merge(routes::openapi::router())
        .merge(api)
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(from_fn_with_state(state.metrics.clone(), metrics::track))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(
            ServiceBuilder::new()
                .layer(from_fn(request_id::assign))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        .on_response(
                            DefaultOnResponse::new()
                                .level(Level::INFO)
                                .latency_unit(LatencyUnit::Micros),
                        ),
                )
                .layer(nosniff)
                .layer(frame)
                .layer(hsts)
                .layer(referrer),
        )
        .with_state(state)
}

/// The span every log line of a request is recorded in.
fn request_span(req: &Request<Body>) -> Span {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map_or("", |id| id.0.as_str());
    tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %req.method(),
        path = %req.uri().path(),
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::Value;

    use super::POOL_CLOSE_TIMEOUT;
    use crate::server::DRAIN_GRACE;

    /// The task definition opsctl deploys gives the service time to stop on its own: ECS
    /// sends SIGTERM, waits `stopTimeout`, then SIGKILLs. See `deploy/README.md`.
    #[test]
    fn the_task_definition_outlasts_the_shutdown() {
        let task: Value =
            serde_json::from_str(include_str!("../deploy/task-definition.json")).unwrap();
        let container = task["containerDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "users")
            .unwrap();
        let env = |name: &str| {
            container["environment"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["name"] == name)
                .and_then(|e| e["value"].as_str())
                .map(|v| v.parse::<u64>().unwrap())
        };
        let shutdown = Duration::from_secs(env("SHUTDOWN_TIMEOUT_SECS").unwrap());
        // The drain grace runs inside the shutdown timeout; the pool closes after it.
        assert!(DRAIN_GRACE < shutdown);
        let worst_case = shutdown + POOL_CLOSE_TIMEOUT;
        let margin = Duration::from_secs(5);
        let stop = Duration::from_secs(container["stopTimeout"].as_u64().unwrap());
        assert!(
            stop >= worst_case + margin,
            "stopTimeout {stop:?} must exceed the shutdown {worst_case:?} plus {margin:?}"
        );
        // Fargate's ceiling.
        assert!(stop <= Duration::from_secs(120));
        // Keep-alive connections outlive the ALB's 60 s idle timeout (see crate::server).
        assert!(env("HTTP_IDLE_TIMEOUT_SECS").unwrap() > 60);
    }

    fn users_container() -> Value {
        let task: Value =
            serde_json::from_str(include_str!("../deploy/task-definition.json")).unwrap();
        task["containerDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "users")
            .unwrap()
            .clone()
    }

    /// Production migrates only through the deploy's one-off task; every environment value
    /// is a string, as ECS (and the sandbox's seed) require.
    #[test]
    fn the_task_definition_turns_migrations_at_startup_off() {
        let environment = users_container()["environment"].as_array().unwrap().clone();
        assert!(
            environment
                .iter()
                .all(|e| e["name"].is_string() && e["value"].is_string())
        );
        let migrate = environment
            .iter()
            .find(|e| e["name"] == "MIGRATE_ON_START")
            .expect("MIGRATE_ON_START is set");
        assert_eq!(migrate["value"], "false");
        // It parses as the service reads it.
        let settings = crate::config::Settings::from_lookup(|name| match name {
            "MIGRATE_ON_START" => migrate["value"].as_str().map(str::to_owned),
            "DATABASE_URL" => Some("postgres://u@h/d".to_owned()),
            _ => None,
        })
        .unwrap();
        assert!(!settings.migrate_on_start);
        // The task definition does not set a command: the image's CMD runs the server, and
        // the deploy overrides it with the whole argv to migrate.
        assert!(users_container().get("command").is_none());
        assert!(users_container().get("entryPoint").is_none());
    }

    /// The deploy's one-off task overrides the container command with
    /// `["users-service", "migrate"]`: with no ENTRYPOINT that argv is run as given, the
    /// binary found on the image's PATH.
    #[test]
    fn the_image_runs_an_overridden_command_as_given() {
        let dockerfile = include_str!("../Dockerfile");
        let instructions: Vec<&str> = dockerfile
            .lines()
            .filter(|line| !line.starts_with('#'))
            .collect();
        assert!(!instructions.iter().any(|l| l.starts_with("ENTRYPOINT")));
        assert!(instructions.contains(&r#"CMD ["users-service"]"#));
        assert!(
            instructions
                .iter()
                .any(|l| l.starts_with("COPY") && l.ends_with(" /usr/local/bin/users-service"))
        );
        let path = instructions
            .iter()
            .find_map(|l| l.strip_prefix("ENV PATH="))
            .expect("the image sets PATH");
        assert!(path.split(':').any(|dir| dir == "/usr/local/bin"));
    }
}
