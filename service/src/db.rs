//! The connection pool and the schema migrations.

use sqlx::migrate::{Migrate, MigrateError, Migration, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, PgConnection, PgPool};

use crate::config::PoolSettings;

/// The migrations in `service/migrations`, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// Builds the pool. It connects lazily: the first user (the migrations at startup, or the
/// first request) opens the first connection, and a database that goes away later only fails
/// `/ready` and the requests that need it, never the process.
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

/// `host:port/database`, for messages (never the credentials).
pub fn target(options: &PgConnectOptions) -> String {
    format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("")
    )
}

/// Applies any pending migrations. Safe with several instances starting at once: sqlx
/// serialises them with an advisory lock.
pub async fn migrate(pool: &PgPool) -> Result<(), MigrateError> {
    MIGRATOR.run(pool).await
}

/// Applies the pending migrations over `conn` and returns those it applied, oldest first.
///
/// The migrator's advisory lock is taken around the whole run, so the migrations found
/// pending are exactly the ones this run applies, even with another instance migrating at
/// the same time (that one waits, then finds nothing to do). PostgreSQL advisory locks nest
/// within a session, so the migrator taking the same lock again inside is fine.
pub async fn apply_migrations(
    conn: &mut PgConnection,
) -> Result<Vec<&'static Migration>, MigrateError> {
    conn.lock().await?;
    let result = apply_locked(conn).await;
    // Closing the connection would release the lock too; unlocking keeps it reusable.
    let unlocked = conn.unlock().await;
    let applied = result?;
    unlocked?;
    Ok(applied)
}

async fn apply_locked(conn: &mut PgConnection) -> Result<Vec<&'static Migration>, MigrateError> {
    conn.ensure_migrations_table(&MIGRATOR.table_name).await?;
    let before: Vec<i64> = conn
        .list_applied_migrations(&MIGRATOR.table_name)
        .await?
        .into_iter()
        .map(|applied| applied.version)
        .collect();
    MIGRATOR.run(&mut *conn).await?;
    Ok(up_migrations()
        .filter(|migration| !before.contains(&migration.version))
        .collect())
}

/// This binary's migrations that the database has not applied (successfully) yet, oldest
/// first. Migrations the database has and the binary does not know are not a problem here:
/// during a rolling deploy the old tasks serve on the new version's schema.
pub async fn pending_migrations(pool: &PgPool) -> Result<Vec<&'static Migration>, sqlx::Error> {
    let sql = format!("SELECT version FROM {} WHERE success", MIGRATOR.table_name);
    let applied: Vec<i64> = match sqlx::query_scalar(AssertSqlSafe(sql)).fetch_all(pool).await {
        Ok(applied) => applied,
        // undefined_table: nothing was ever migrated here.
        Err(sqlx::Error::Database(err)) if err.code().as_deref() == Some("42P01") => Vec::new(),
        Err(err) => return Err(err),
    };
    Ok(up_migrations()
        .filter(|migration| !applied.contains(&migration.version))
        .collect())
}

/// `0001 create users`: how a migration is named in messages.
pub fn describe(migration: &Migration) -> String {
    format!("{:04} {}", migration.version, migration.description)
}

fn up_migrations() -> impl Iterator<Item = &'static Migration> {
    MIGRATOR
        .iter()
        .filter(|migration| !migration.migration_type.is_down_migration())
}
