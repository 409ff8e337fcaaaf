//! Settings, read once from the environment at startup.
//!
//! Every variable is optional and has a default except the database location. An empty value
//! counts as unset, because ECS passes unfilled template values through as empty strings.
//! A bad value is a [`ConfigError`] naming the variable and saying how to fix it.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgSslMode};

use crate::credentials::{self, DbSecret};

/// A configuration problem: the variable at fault and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    /// The environment variable (or secret) that is wrong or missing.
    pub var: &'static str,
    /// What is wrong and how to fix it. Never contains a secret value.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(var: &'static str, message: impl Into<String>) -> Self {
        Self {
            var,
            message: message.into(),
        }
    }
}

/// Everything the service needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on (`HOST`, default `0.0.0.0`).
    pub host: IpAddr,
    /// Port to listen on (`PORT`, default 8080; 0 picks a free port).
    pub port: u16,
    /// A tracing filter directive (`LOG_LEVEL`, default `info`), e.g. `debug` or
    /// `info,sqlx=warn`.
    pub log_level: String,
    /// Where the database is and how to reach it.
    pub database: DatabaseSettings,
    /// Whether the server applies pending migrations at startup (`MIGRATE_ON_START`, default
    /// true). Off in production, where the deploy runs `users-service migrate` first; the
    /// server then only reports not ready while its migrations are missing.
    pub migrate_on_start: bool,
    /// Per-client request rate limits.
    pub rate_limit: RateLimitSettings,
    /// How long in-flight requests may take to finish after a shutdown signal
    /// (`SHUTDOWN_TIMEOUT_SECS`, default 30).
    pub shutdown_timeout: Duration,
    /// Connection timeouts.
    pub http: HttpSettings,
}

/// How long a connection may take over each part of a request, and stay idle between them.
/// See [`crate::server`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpSettings {
    /// From a connection's first byte (or its opening) to the end of the request head:
    /// `HTTP_HEADER_TIMEOUT_SECS` (10).
    pub header_read_timeout: Duration,
    /// From the end of the head to the end of the body, for handlers that read one (else
    /// 408): `HTTP_BODY_TIMEOUT_SECS` (10).
    pub body_read_timeout: Duration,
    /// How long a keep-alive connection may wait for its next request:
    /// `HTTP_IDLE_TIMEOUT_SECS` (75, above the ALB's default idle timeout of 60 s, so that
    /// the load balancer is the one to close idle connections).
    pub idle_timeout: Duration,
    /// How many keep-alive connections may wait between requests at once:
    /// `HTTP_MAX_IDLE_CONNECTIONS` (512). At the cap, a response carries `Connection: close`
    /// and its connection ends after it, so idle connections cannot pile up past it (each
    /// holds a socket and its buffers). `0` keeps none: every connection serves one request.
    pub max_idle_connections: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            max_idle_connections: 512,
        }
    }
}

/// The database to use and the pool that talks to it.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// Where the database is.
    pub target: DatabaseTarget,
    /// Connection pool sizing and timeouts.
    pub pool: PoolSettings,
}

/// Where the database is: a full URL for local use, or parts plus credentials in AWS.
#[derive(Clone)]
pub enum DatabaseTarget {
    /// `DATABASE_URL`, taken as is.
    Url(Box<PgConnectOptions>),
    /// `DB_HOST`, `DB_PORT`, `DB_NAME`, `DB_SSLMODE` and credentials from Secrets Manager.
    Parts(DatabaseParts),
}

/// The database location given piece by piece; the secret may fill in what env did not give.
#[derive(Debug, Clone)]
pub struct DatabaseParts {
    /// `DB_HOST`.
    pub host: Option<String>,
    /// `DB_PORT`.
    pub port: Option<u16>,
    /// `DB_NAME`.
    pub name: Option<String>,
    /// `DB_SSLMODE` (default `prefer`).
    pub ssl_mode: PgSslMode,
    /// Where the username and password come from.
    pub credentials: CredentialSource,
}

/// Where the database credentials come from.
#[derive(Debug, Clone)]
pub enum CredentialSource {
    /// `DB_CREDENTIALS`: the secret's JSON, injected by ECS from Secrets Manager.
    Inline(DbSecret),
    /// `DB_SECRET_ARN`: fetched from Secrets Manager at startup.
    SecretsManager {
        /// The secret's ARN or name.
        arn: String,
    },
}

// Hand-written so that a password inside the URL options can never reach a log line.
impl fmt::Debug for DatabaseTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseTarget::Url(options) => f
                .debug_struct("Url")
                .field("host", &options.get_host())
                .field("port", &options.get_port())
                .field("database", &options.get_database())
                .field("username", &options.get_username())
                .finish_non_exhaustive(),
            DatabaseTarget::Parts(parts) => f.debug_tuple("Parts").field(parts).finish(),
        }
    }
}

/// Connection pool settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    /// `DB_MAX_CONNECTIONS` (25).
    pub max_connections: u32,
    /// Connections kept open when idle: `DB_MIN_CONNECTIONS` (5).
    pub min_connections: u32,
    /// Connections are recycled after this long: `DB_MAX_LIFETIME_SECS` (300).
    pub max_lifetime: Duration,
    /// How long a request waits for a free connection: `DB_ACQUIRE_TIMEOUT_SECS` (5).
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 25,
            min_connections: 5,
            max_lifetime: Duration::from_secs(300),
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// Per-client rate limiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Sustained requests per second per client: `RATE_LIMIT_PER_SECOND` (100; 0 turns
    /// limiting off).
    pub per_second: u32,
    /// Requests a client may make at once above the sustained rate: `RATE_LIMIT_BURST` (10).
    pub burst: u32,
    /// Proxies in front of the service that append to `X-Forwarded-For`:
    /// `TRUSTED_PROXY_HOPS` (1, the load balancer). See [`crate::middleware::rate_limit`].
    pub trusted_proxy_hops: usize,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            per_second: 100,
            burst: 10,
            trusted_proxy_hops: 1,
        }
    }
}

impl RateLimitSettings {
    /// Whether limiting is on at all.
    pub fn enabled(&self) -> bool {
        self.per_second > 0
    }
}

impl Settings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`, which returns a variable's value if it is set.
    /// Tests pass a map here rather than touching the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        let host = env.parse(
            "HOST",
            Ipv4Addr::UNSPECIFIED.into(),
            "an IP address such as 0.0.0.0",
        )?;
        let port = env.parse(
            "PORT",
            8080u16,
            "a port number between 0 and 65535, such as 8080",
        )?;
        let log_level = env.get("LOG_LEVEL").unwrap_or_else(|| "info".to_owned());
        if let Err(err) = tracing_subscriber::EnvFilter::try_new(&log_level) {
            return Err(ConfigError::new(
                "LOG_LEVEL",
                format!(
                    "{log_level:?} is not a log filter ({err}); use a level such as info or debug"
                ),
            ));
        }

        let database = DatabaseSettings {
            target: database_target(&env)?,
            pool: pool_settings(&env)?,
        };

        let migrate_on_start = env.parse("MIGRATE_ON_START", true, "true or false")?;

        let rate_limit = RateLimitSettings {
            per_second: env.parse(
                "RATE_LIMIT_PER_SECOND",
                100u32,
                "a whole number of requests per second, or 0 to turn rate limiting off",
            )?,
            burst: env.parse(
                "RATE_LIMIT_BURST",
                10u32,
                "a whole number of requests, at least 1",
            )?,
            trusted_proxy_hops: env.parse(
                "TRUSTED_PROXY_HOPS",
                1usize,
                "the number of proxies in front of the service, such as 1 behind a load balancer",
            )?,
        };
        if rate_limit.burst == 0 {
            return Err(ConfigError::new(
                "RATE_LIMIT_BURST",
                "must be at least 1; to turn rate limiting off set RATE_LIMIT_PER_SECOND=0",
            ));
        }

        let shutdown_secs = env.parse(
            "SHUTDOWN_TIMEOUT_SECS",
            30u64,
            "a whole number of seconds, such as 30",
        )?;

        Ok(Self {
            host,
            port,
            log_level,
            database,
            migrate_on_start,
            rate_limit,
            shutdown_timeout: Duration::from_secs(shutdown_secs),
            http: http_settings(&env)?,
        })
    }
}

impl DatabaseSettings {
    /// The options to connect with, fetching the credentials from Secrets Manager when
    /// `DB_SECRET_ARN` is the source.
    pub async fn connect_options(&self) -> Result<PgConnectOptions, ConfigError> {
        let options = match &self.target {
            DatabaseTarget::Url(options) => (**options).clone(),
            DatabaseTarget::Parts(parts) => {
                let secret = match &parts.credentials {
                    CredentialSource::Inline(secret) => secret.clone(),
                    CredentialSource::SecretsManager { arn } => credentials::fetch(arn).await?,
                };
                parts.connect_options(&secret)?
            }
        };
        // Names our connections in pg_stat_activity, which is how operators tell them apart.
        Ok(options.application_name("users-service"))
    }
}

impl DatabaseParts {
    /// Combines env and secret: env wins, the secret fills in what env left out.
    pub fn connect_options(&self, secret: &DbSecret) -> Result<PgConnectOptions, ConfigError> {
        use secrecy::ExposeSecret;

        let host = self.host.clone().or_else(|| secret.host.clone()).ok_or_else(|| {
            ConfigError::new(
                "DB_HOST",
                "not set, and the database secret has no \"host\"; set DB_HOST to the database endpoint",
            )
        })?;
        let name = self.name.clone().or_else(|| secret.dbname.clone()).ok_or_else(|| {
            ConfigError::new(
                "DB_NAME",
                "not set, and the database secret has no \"dbname\"; set DB_NAME to the database name",
            )
        })?;
        let port = self.port.or(secret.port).unwrap_or(5432);
        Ok(PgConnectOptions::new_without_pgpass()
            .host(&host)
            .port(port)
            .database(&name)
            .username(&secret.username)
            .password(secret.password.expose_secret())
            .ssl_mode(self.ssl_mode))
    }
}

fn database_target(env: &Env<'_>) -> Result<DatabaseTarget, ConfigError> {
    if let Some(url) = env.get("DATABASE_URL") {
        let not_postgres = || {
            ConfigError::new(
                "DATABASE_URL",
                "is not a PostgreSQL URL; use postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE",
            )
        };
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(not_postgres());
        }
        // The parse error is not shown: it could quote the URL, password included.
        let options = PgConnectOptions::from_str(&url).map_err(|_| not_postgres())?;
        return Ok(DatabaseTarget::Url(Box::new(options)));
    }

    // DB_CREDENTIALS first: ECS already fetched the secret for us, so no API call is needed.
    let credentials = if let Some(json) = env.get("DB_CREDENTIALS") {
        CredentialSource::Inline(credentials::parse("DB_CREDENTIALS", &json)?)
    } else if let Some(arn) = env.get("DB_SECRET_ARN") {
        CredentialSource::SecretsManager { arn }
    } else {
        return Err(ConfigError::new(
            "DATABASE_URL",
            "no database configured; set DATABASE_URL=postgres://USER@HOST:PORT/DATABASE for local \
             use, or DB_HOST and DB_NAME with DB_SECRET_ARN (or DB_CREDENTIALS) naming the \
             credentials in AWS",
        ));
    };

    let ssl_mode = match env.get("DB_SSLMODE") {
        None => PgSslMode::Prefer,
        Some(raw) => PgSslMode::from_str(&raw).map_err(|_| {
            ConfigError::new(
                "DB_SSLMODE",
                format!(
                    "{raw:?} is not an SSL mode; use one of disable, allow, prefer, require, \
                     verify-ca, verify-full"
                ),
            )
        })?,
    };
    let port = match env.get("DB_PORT") {
        None => None,
        Some(_) => Some(env.parse("DB_PORT", 5432u16, "a port number such as 5432")?),
    };
    Ok(DatabaseTarget::Parts(DatabaseParts {
        host: env.get("DB_HOST"),
        port,
        name: env.get("DB_NAME"),
        ssl_mode,
        credentials,
    }))
}

fn pool_settings(env: &Env<'_>) -> Result<PoolSettings, ConfigError> {
    let defaults = PoolSettings::default();
    let max_connections = env.parse(
        "DB_MAX_CONNECTIONS",
        defaults.max_connections,
        "a whole number of connections, at least 1",
    )?;
    if max_connections == 0 {
        return Err(ConfigError::new(
            "DB_MAX_CONNECTIONS",
            "must be at least 1, such as 25",
        ));
    }
    let min_connections = env.parse(
        "DB_MIN_CONNECTIONS",
        defaults.min_connections.min(max_connections),
        "a whole number of connections, such as 5",
    )?;
    if min_connections > max_connections {
        return Err(ConfigError::new(
            "DB_MIN_CONNECTIONS",
            format!(
                "is {min_connections}, more than DB_MAX_CONNECTIONS ({max_connections}); lower it"
            ),
        ));
    }
    let lifetime = env.parse(
        "DB_MAX_LIFETIME_SECS",
        300u64,
        "a whole number of seconds, such as 300",
    )?;
    let acquire = env.parse(
        "DB_ACQUIRE_TIMEOUT_SECS",
        5u64,
        "a whole number of seconds, such as 5",
    )?;
    if acquire == 0 {
        return Err(ConfigError::new(
            "DB_ACQUIRE_TIMEOUT_SECS",
            "must be at least 1 second, such as 5",
        ));
    }
    Ok(PoolSettings {
        max_connections,
        min_connections,
        max_lifetime: Duration::from_secs(lifetime),
        acquire_timeout: Duration::from_secs(acquire),
    })
}

fn http_settings(env: &Env<'_>) -> Result<HttpSettings, ConfigError> {
    let defaults = HttpSettings::default();
    let seconds = |name: &'static str, default: Duration| -> Result<Duration, ConfigError> {
        let secs = env.parse(
            name,
            default.as_secs(),
            "a whole number of seconds, at least 1",
        )?;
        if secs == 0 {
            return Err(ConfigError::new(
                name,
                format!("must be at least 1 second, such as {}", default.as_secs()),
            ));
        }
        Ok(Duration::from_secs(secs))
    };
    Ok(HttpSettings {
        header_read_timeout: seconds("HTTP_HEADER_TIMEOUT_SECS", defaults.header_read_timeout)?,
        body_read_timeout: seconds("HTTP_BODY_TIMEOUT_SECS", defaults.body_read_timeout)?,
        idle_timeout: seconds("HTTP_IDLE_TIMEOUT_SECS", defaults.idle_timeout)?,
        max_idle_connections: env.parse(
            "HTTP_MAX_IDLE_CONNECTIONS",
            defaults.max_idle_connections,
            "a whole number of connections, such as 512 (0: no keep-alive)",
        )?,
    })
}

/// Variable lookup with the "empty means unset" rule and typed parsing.
struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    }

    fn parse<T: FromStr>(
        &self,
        name: &'static str,
        default: T,
        expected: &str,
    ) -> Result<T, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw.parse().map_err(|_| {
                ConfigError::new(name, format!("{raw:?} is not valid; expected {expected}"))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    const URL: (&str, &str) = (
        "DATABASE_URL",
        "postgres://app:topsecret@db.internal:6543/users",
    );

    #[test]
    fn defaults_apply_when_only_the_database_is_given() {
        let s = settings(&[URL]).unwrap();
        assert_eq!(s.port, 8080);
        assert_eq!(s.host, IpAddr::from(Ipv4Addr::UNSPECIFIED));
        assert_eq!(s.log_level, "info");
        assert_eq!(s.database.pool, PoolSettings::default());
        assert!(s.migrate_on_start);
        assert_eq!(s.rate_limit, RateLimitSettings::default());
        assert_eq!(s.shutdown_timeout, Duration::from_secs(30));
        assert_eq!(s.http, HttpSettings::default());
        assert!(
            s.http.idle_timeout > Duration::from_secs(60),
            "above the ALB's idle timeout"
        );
        let DatabaseTarget::Url(options) = &s.database.target else {
            panic!("expected a URL")
        };
        assert_eq!(options.get_host(), "db.internal");
        assert_eq!(options.get_port(), 6543);
    }

    #[test]
    fn every_setting_is_read_from_its_variable() {
        let s = settings(&[
            URL,
            ("PORT", "9000"),
            ("HOST", "127.0.0.1"),
            ("LOG_LEVEL", "debug,sqlx=warn"),
            ("DB_MAX_CONNECTIONS", "7"),
            ("DB_MIN_CONNECTIONS", "2"),
            ("DB_MAX_LIFETIME_SECS", "60"),
            ("DB_ACQUIRE_TIMEOUT_SECS", "3"),
            ("MIGRATE_ON_START", "false"),
            ("RATE_LIMIT_PER_SECOND", "0"),
            ("RATE_LIMIT_BURST", "4"),
            ("TRUSTED_PROXY_HOPS", "2"),
            ("SHUTDOWN_TIMEOUT_SECS", "5"),
            ("HTTP_HEADER_TIMEOUT_SECS", "3"),
            ("HTTP_BODY_TIMEOUT_SECS", "4"),
            ("HTTP_IDLE_TIMEOUT_SECS", "120"),
            ("HTTP_MAX_IDLE_CONNECTIONS", "64"),
        ])
        .unwrap();
        assert_eq!(
            s.http,
            HttpSettings {
                header_read_timeout: Duration::from_secs(3),
                body_read_timeout: Duration::from_secs(4),
                idle_timeout: Duration::from_secs(120),
                max_idle_connections: 64,
            }
        );
        let bad = settings(&[URL, ("HTTP_MAX_IDLE_CONNECTIONS", "-1")]).unwrap_err();
        assert_eq!(bad.var, "HTTP_MAX_IDLE_CONNECTIONS");
        for var in [
            "HTTP_HEADER_TIMEOUT_SECS",
            "HTTP_BODY_TIMEOUT_SECS",
            "HTTP_IDLE_TIMEOUT_SECS",
        ] {
            assert_eq!(settings(&[URL, (var, "0")]).unwrap_err().var, var);
            assert_eq!(settings(&[URL, (var, "soon")]).unwrap_err().var, var);
        }
        assert_eq!(s.port, 9000);
        assert_eq!(s.host, IpAddr::from(Ipv4Addr::LOCALHOST));
        assert_eq!(
            s.database.pool,
            PoolSettings {
                max_connections: 7,
                min_connections: 2,
                max_lifetime: Duration::from_secs(60),
                acquire_timeout: Duration::from_secs(3),
            }
        );
        assert!(!s.migrate_on_start);
        assert!(!s.rate_limit.enabled());
        assert_eq!(s.rate_limit.burst, 4);
        assert_eq!(s.rate_limit.trusted_proxy_hops, 2);
        assert_eq!(s.shutdown_timeout, Duration::from_secs(5));
    }

    #[test]
    fn empty_values_count_as_unset() {
        let s = settings(&[URL, ("PORT", ""), ("DB_SECRET_ARN", " ")]).unwrap();
        assert_eq!(s.port, 8080);
    }

    #[test]
    fn bad_values_name_the_variable_and_the_fix() {
        type Vars<'a> = &'a [(&'a str, &'a str)];
        let cases: &[(Vars<'_>, &str, &str)] = &[
            (&[URL, ("PORT", "http")], "PORT", "port number"),
            (&[URL, ("PORT", "70000")], "PORT", "port number"),
            (
                &[URL, ("LOG_LEVEL", "info,=[")],
                "LOG_LEVEL",
                "info or debug",
            ),
            (
                &[URL, ("RATE_LIMIT_BURST", "0")],
                "RATE_LIMIT_BURST",
                "RATE_LIMIT_PER_SECOND=0",
            ),
            (
                &[URL, ("RATE_LIMIT_PER_SECOND", "-1")],
                "RATE_LIMIT_PER_SECOND",
                "0 to turn",
            ),
            (
                &[URL, ("DB_MAX_CONNECTIONS", "0")],
                "DB_MAX_CONNECTIONS",
                "at least 1",
            ),
            (
                &[
                    URL,
                    ("DB_MAX_CONNECTIONS", "3"),
                    ("DB_MIN_CONNECTIONS", "4"),
                ],
                "DB_MIN_CONNECTIONS",
                "lower it",
            ),
            (
                &[URL, ("DB_ACQUIRE_TIMEOUT_SECS", "0")],
                "DB_ACQUIRE_TIMEOUT_SECS",
                "at least 1",
            ),
            (
                &[URL, ("MIGRATE_ON_START", "no")],
                "MIGRATE_ON_START",
                "true or false",
            ),
            (
                &[URL, ("SHUTDOWN_TIMEOUT_SECS", "soon")],
                "SHUTDOWN_TIMEOUT_SECS",
                "seconds",
            ),
            (
                &[("DATABASE_URL", "mysql://x")],
                "DATABASE_URL",
                "postgres://",
            ),
            (&[], "DATABASE_URL", "DB_SECRET_ARN"),
            (
                &[("DB_SECRET_ARN", "arn"), ("DB_SSLMODE", "sometimes")],
                "DB_SSLMODE",
                "verify-full",
            ),
            (
                &[("DB_SECRET_ARN", "arn"), ("DB_PORT", "x")],
                "DB_PORT",
                "5432",
            ),
            (
                &[("DB_CREDENTIALS", "{\"username\": 1}")],
                "DB_CREDENTIALS",
                "username",
            ),
        ];
        for (vars, var, hint) in cases {
            let err = settings(vars).unwrap_err();
            assert_eq!(err.var, *var, "{vars:?}: {err}");
            assert!(
                err.to_string().contains(hint),
                "{vars:?}: {err} lacks {hint:?}"
            );
        }
    }

    #[test]
    fn min_connections_default_never_exceeds_a_smaller_max() {
        let s = settings(&[URL, ("DB_MAX_CONNECTIONS", "2")]).unwrap();
        assert_eq!(s.database.pool.min_connections, 2);
    }

    #[test]
    fn inline_credentials_win_over_the_secret_arn() {
        let s = settings(&[
            ("DB_CREDENTIALS", r#"{"username":"app","password":"s3cret","host":"from-secret","port":"6000","dbname":"users"}"#),
            ("DB_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:db"),
            ("DB_HOST", "from-env"),
            ("DB_SSLMODE", "require"),
        ])
        .unwrap();
        let DatabaseTarget::Parts(parts) = &s.database.target else {
            panic!("expected parts")
        };
        let CredentialSource::Inline(secret) = &parts.credentials else {
            panic!("expected inline")
        };
        let options = parts.connect_options(secret).unwrap();
        // Env wins over the secret; the secret fills in the rest.
        assert_eq!(options.get_host(), "from-env");
        assert_eq!(options.get_port(), 6000);
        assert_eq!(options.get_database(), Some("users"));
        assert_eq!(options.get_username(), "app");
        assert!(matches!(options.get_ssl_mode(), PgSslMode::Require));
    }

    #[test]
    fn missing_host_or_name_is_reported_once_the_secret_is_known() {
        let s = settings(&[("DB_CREDENTIALS", r#"{"username":"app","password":"pw"}"#)]).unwrap();
        let DatabaseTarget::Parts(parts) = &s.database.target else {
            panic!("expected parts")
        };
        let CredentialSource::Inline(secret) = &parts.credentials else {
            panic!("expected inline")
        };
        assert_eq!(parts.connect_options(secret).unwrap_err().var, "DB_HOST");
        let with_host = DatabaseParts {
            host: Some("h".into()),
            ..parts.clone()
        };
        assert_eq!(
            with_host.connect_options(secret).unwrap_err().var,
            "DB_NAME"
        );
    }

    #[test]
    fn debug_output_never_shows_passwords() {
        let s = settings(&[URL]).unwrap();
        assert!(!format!("{s:?}").contains("topsecret"));
        let s = settings(&[
            (
                "DB_CREDENTIALS",
                r#"{"username":"app","password":"hunter2"}"#,
            ),
            ("DB_HOST", "h"),
        ])
        .unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
