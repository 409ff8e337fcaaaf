//! `users-service migrate`: applies the pending schema migrations and exits.
//!
//! The deploy step runs it as a one-off task before the new version's tasks start, with the
//! service's own environment, so the credentials are resolved exactly as the server resolves
//! them (`DATABASE_URL`, or `DB_*` with `DB_CREDENTIALS` or `DB_SECRET_ARN`).

use std::process::ExitCode;

use sqlx::{ConnectOptions, Connection};

use crate::config::Settings;
use crate::db;

/// The subcommand: prints each migration it applied on stdout and exits 0; on failure
/// prints the cause on stderr and exits 2 (configuration) or 1 (anything else).
pub fn run() -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("users-service migrate: invalid configuration: {err}");
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init(&settings.log_level);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("users-service migrate: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(migrate(&settings)) {
        Ok(applied) => {
            for migration in &applied {
                println!("applied {}", db::describe(migration));
            }
            let total = db::MIGRATOR.iter().count();
            match applied.len() {
                0 => println!("schema up to date: no pending migrations ({total} applied)"),
                n => println!("schema up to date: applied {n} of {total} migrations"),
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("users-service migrate: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

/// Why the migrations could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum MigrateCommandError {
    /// A setting is missing or wrong (including the database secret).
    #[error("invalid configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    /// The database could not be reached in time.
    #[error(
        "cannot connect to the database at {target}: {reason}; check the database location \
         (DATABASE_URL, or DB_HOST/DB_PORT/DB_NAME), the credentials, and that it accepts \
         connections"
    )]
    Connect {
        /// host:port/database.
        target: String,
        /// The cause.
        reason: String,
    },
    /// A migration failed, or the applied ones do not match the binary's.
    #[error("cannot migrate the database at {target}: {source}")]
    Migrate {
        /// host:port/database.
        target: String,
        /// The cause.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
}

impl MigrateCommandError {
    /// The process exit code: 2 for configuration, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            MigrateCommandError::Config(_) => 2,
            _ => 1,
        }
    }
}

/// Connects with the server's settings and applies what is pending.
pub async fn migrate(
    settings: &Settings,
) -> Result<Vec<&'static sqlx::migrate::Migration>, MigrateCommandError> {
    let options = settings.database.connect_options().await?;
    let target = db::target(&options);
    // The pool's acquire timeout bounds the server's first connection; the same bounds ours,
    // so a database that drops packets fails in seconds, not after TCP's own timeout.
    let timeout = settings.database.pool.acquire_timeout;
    let mut conn = match tokio::time::timeout(timeout, options.connect()).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(err)) => {
            return Err(MigrateCommandError::Connect {
                target,
                reason: err.to_string(),
            });
        }
        Err(_) => {
            return Err(MigrateCommandError::Connect {
                target,
                reason: format!("no answer within {} s", timeout.as_secs()),
            });
        }
    };
    let applied =
        db::apply_migrations(&mut conn)
            .await
            .map_err(|source| MigrateCommandError::Migrate {
                target: target.clone(),
                source,
            })?;
    // Best effort: the work is done and committed either way.
    let _ = conn.close().await;
    Ok(applied)
}
