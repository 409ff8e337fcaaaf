//! The connection pool and the schema migrations.

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::config::PoolSettings;

/// The migrations in `service/migrations`, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// Builds the pool. It connects lazily: the first user (the migrations at startup) opens
/// the first connection, and a database that goes away later only fails `/ready` and the
/// requests that need it, never the process.
pub fn pool(options: PgConnectOptions, settings: &PoolSettings) -> PgPool {
    PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .min_connections(settings.min_connections)
        .max_lifetime(settings.max_lifetime)
        .acquire_timeout(settings.acquire_timeout)
        // No ping before every checkout: it would double the round trips of every request.
        // A broken connection fails its query once and is then discarded; `/ready` notices.
        .test_before_acquire(false)
        .connect_lazy_with(options)
}

/// Applies any pending migrations. Safe with several instances starting at once: sqlx
/// serialises them with an advisory lock.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}
