//! The connection pool and the schema migrations.
//!
//! The connections are sqlx's (its driver, TLS, prepared-statement cache and migrations); the
//! pool is deadpool's. sqlx's own pool sends a round trip (a `Sync`) on every connection as it
//! goes back to the pool, and sqlx 0.9 has no setting to skip it: under load that was about
//! 15 % of the service's CPU and PostgreSQL's busiest extra work (see `bench/README.md`).
//! deadpool hands a connection back as it is; what the ping was for is done otherwise:
//! - a connection that failed with a connection-level error is discarded, not returned
//!   ([`Db::run`]), and a database that is down fails the next connect;
//! - one whose query was abandoned midway (a cancelled request) is brought back in step by
//!   sqlx itself, which reads what is left of the old answer before its next query.

use std::time::Duration;

use deadpool::managed::{self, Metrics, Object, PoolError, RecycleError, RecycleResult};
use sqlx::migrate::{Migrate, MigrateError, Migration, Migrator};
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, PgConnection};

use crate::config::PoolSettings;

/// The migrations in `service/migrations`, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// How often idle connections past their lifetime are closed and the pool is topped up to
/// its minimum.
const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(5);

/// The pool of database connections. Cheap to clone; every clone is the same pool.
#[derive(Clone)]
pub struct Db {
    pool: managed::Pool<Manager>,
    acquire_timeout: Duration,
}

/// Opens connections, and retires them at the end of their lifetime.
pub struct Manager {
    options: PgConnectOptions,
    max_lifetime: Duration,
}

impl managed::Manager for Manager {
    type Type = PgConnection;
    type Error = sqlx::Error;

    async fn create(&self) -> Result<PgConnection, sqlx::Error> {
        self.options.connect().await
    }

    async fn recycle(&self, _: &mut PgConnection, metrics: &Metrics) -> RecycleResult<sqlx::Error> {
        // No round trip here either: a connection is tried by its next query.
        if metrics.age() >= self.max_lifetime {
            return Err(RecycleError::message("past its lifetime"));
        }
        Ok(())
    }
}

/// A connection checked out of the pool; it goes back when dropped.
pub type PooledConnection = Object<Manager>;

/// Builds the pool. It connects lazily: the first user (the migrations at startup, or the
/// first request) opens the first connection, and a database that goes away later only fails
/// `/ready` and the requests that need it, never the process. A background task keeps
/// `min_connections` open and closes idle connections past their lifetime; call within the
/// runtime.
pub fn pool(options: PgConnectOptions, settings: &PoolSettings) -> Db {
    let manager = Manager {
        options,
        max_lifetime: settings.max_lifetime,
    };
    let pool = managed::Pool::builder(manager)
        .max_size(settings.max_connections as usize)
        .build()
        .expect("no timeouts are set, so no runtime is needed");
    let db = Db {
        pool,
        acquire_timeout: settings.acquire_timeout,
    };
    tokio::spawn(maintain(db.clone(), settings.min_connections as usize));
    db
}

impl Db {
    /// A connection, waiting at most the acquire timeout for one to be free or opened.
    /// Errors are sqlx's: `PoolTimedOut`, `PoolClosed`, or why the connection failed.
    pub async fn acquire(&self) -> Result<PooledConnection, sqlx::Error> {
        match tokio::time::timeout(self.acquire_timeout, self.pool.get()).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(PoolError::Backend(err))) => Err(err),
            Ok(Err(PoolError::Closed)) => Err(sqlx::Error::PoolClosed),
            // Deadpool's own timeouts and hooks are not used.
            Ok(Err(PoolError::Timeout(_) | PoolError::NoRuntimeSpecified)) | Err(_) => {
                Err(sqlx::Error::PoolTimedOut)
            }
            Ok(Err(PoolError::PostCreateHook(err))) => {
                Err(sqlx::Error::Protocol(format!("connection set-up: {err}")))
            }
        }
    }

    /// Runs `work` on a connection from the pool. A connection that failed with a
    /// connection-level error (see [`is_unavailable`]) is closed rather than handed back, so
    /// the next user gets a fresh one.
    pub async fn run<T>(
        &self,
        work: impl AsyncFnOnce(&mut PgConnection) -> Result<T, sqlx::Error>,
    ) -> Result<T, sqlx::Error> {
        let mut conn = self.acquire().await?;
        let result = work(&mut conn).await;
        if let Err(err) = &result
            && is_unavailable(err)
        {
            drop(Object::take(conn));
        }
        result
    }

    /// Stops handing out connections, closes the idle ones, and waits until every connection
    /// in use has come back (each is then dropped). Bound it with a timeout: a request that is
    /// never going to finish holds its connection for good.
    pub async fn close(&self) {
        let idle = self.pool.retain(|_, _| false).removed;
        self.pool.close();
        for conn in idle {
            let _ = conn.close().await;
        }
        while self.pool.status().size > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Every [`MAINTENANCE_INTERVAL`], until the pool is closed: close idle connections past
/// their lifetime (those in use are retired when they come back), then open connections
/// until `min` are open.
async fn maintain(db: Db, min: usize) {
    let max_lifetime = db.pool.manager().max_lifetime;
    while !db.pool.is_closed() {
        let expired = db
            .pool
            .retain(|_, metrics| metrics.age() < max_lifetime)
            .removed;
        for conn in expired {
            let _ = conn.close().await;
        }
        // The pool grows only while connections are held, so hold them until there are enough.
        let mut held = Vec::new();
        while db.pool.status().size < min {
            match db.acquire().await {
                Ok(conn) => held.push(conn),
                Err(err) => {
                    tracing::debug!(error = %err, "cannot open the pool's minimum connections");
                    break;
                }
            }
        }
        drop(held);
        tokio::time::sleep(MAINTENANCE_INTERVAL).await;
    }
}

/// Whether `err` means "cannot talk to the database" rather than "the query is wrong".
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        // A connection that breaks mid-handshake (e.g. closed by a failing-over host)
        // surfaces as a protocol error.
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => true,
        // Connection exceptions (08), too many connections, shutting down or starting up.
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "53300" | "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
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
pub async fn migrate(db: &Db) -> Result<(), MigrateError> {
    let mut conn = db.acquire().await?;
    MIGRATOR.run(&mut *conn).await
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
pub async fn pending_migrations(db: &Db) -> Result<Vec<&'static Migration>, sqlx::Error> {
    let sql = format!("SELECT version FROM {} WHERE success", MIGRATOR.table_name);
    let applied = db
        .run(async |conn| {
            sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql))
                .fetch_all(conn)
                .await
        })
        .await;
    let applied: Vec<i64> = match applied {
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
