//! The accounts database behind one interface: an embedded SQLite file (the default)
//! or a PostgreSQL server (`--database-url postgres://…`, for several nodes).
//!
//! Every query is a `&'static str` with bound parameters (`$1`, `$2`, … in both
//! dialects), checked at run time: no query macros, so no database at build time.
//! The SQL is one text for both engines except where the dialects differ (row locks).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use super::migrations::{self, Dialect};
use super::rank_cache::RankCache;

/// A connection that cannot be had this quickly counts as the database being down:
/// API calls answer 503 and the round writer retries later, nobody waits long.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// PostgreSQL connections one node holds at most.
pub const POSTGRES_POOL: u32 = 8;
/// SQLite connections: readers run beside the one writer (WAL mode).
pub const SQLITE_POOL: u32 = 4;
/// A statement running longer is cancelled (PostgreSQL `statement_timeout`), so a
/// stuck query cannot hold a pooled connection; SQLite waits for the write lock at
/// most [`SQLITE_BUSY_TIMEOUT`]. Joins wait far less (`token_versions::CHECK_TIMEOUT`).
pub const STATEMENT_TIMEOUT: &str = "5s";
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a background task moves SQLite's write-ahead log into the database file.
/// SQLite would otherwise do it inside whichever commit filled the log past 1,000
/// pages, and that commit (a round's, with a million accounts: tens of random pages
/// each) would wait for the copy and its fsync: the round store's slowest 1 %.
pub const SQLITE_CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Unix time in milliseconds, as the tables store it.
pub fn unix_ms() -> i64 {
    crate::ops::unix_ms_after(Duration::ZERO) as i64
}

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database is unavailable: {0}")]
    Unavailable(#[from] sqlx::Error),
    #[error("the database schema could not be brought up to date: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A reading failed moments ago and is not tried again yet (a caller's answer
    /// comes at once instead of another wait on a database that is away).
    #[error("the database failed moments ago: {0}")]
    RetryLater(&'static str),
}

impl StoreError {
    /// Whether the database could not be reached at all (no connection within the
    /// pool's wait, a connection or TLS error), rather than answering with an error.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable(
                sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::Io(_)
                    | sqlx::Error::Tls(_)
                    | sqlx::Error::WorkerCrashed
            )
        )
    }
}

/// The pool of the engine the URL named.
#[derive(Clone, Debug)]
pub enum Engine {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The accounts database.
#[derive(Clone, Debug)]
pub struct Store {
    pub(super) engine: Engine,
    /// Ranks read from memory, shared by every clone of the store.
    pub(super) ranks: Arc<RankCache>,
}

/// Checkpoint the SQLite log every [`SQLITE_CHECKPOINT_EVERY`] (PASSIVE: readers and
/// the writer go on meanwhile) until the pool is closed or every clone of the store
/// is gone (its rank cache with it).
async fn checkpoints(pool: SqlitePool, store_alive: std::sync::Weak<RankCache>) {
    let mut every = tokio::time::interval(SQLITE_CHECKPOINT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if pool.is_closed() || store_alive.strong_count() == 0 {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            tracing::debug!(error = %e, "cannot checkpoint the SQLite log now");
        }
    }
}

/// Run `$body` with `$pool` bound to whichever pool the store has: the body is
/// compiled once per engine, so the same query text serves both.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.engine {
            $crate::accounts::store::Engine::Sqlite($pool) => $body,
            $crate::accounts::store::Engine::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

impl Store {
    /// Open (SQLite: create) the database at `url` and bring its schema up to date.
    /// `sqlite://PATH` or `sqlite:PATH` for a file, `postgres://…` for a server.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let store = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)?.options([("statement_timeout", STATEMENT_TIMEOUT)]);
            let pool = PgPoolOptions::new()
                .max_connections(POSTGRES_POOL)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options)
                .await?;
            Store { engine: Engine::Postgres(pool), ranks: Arc::default() }
        } else {
            let options = SqliteConnectOptions::from_str(url)?;
            // The file's folder (the data folder, by default) may not exist yet.
            if let Some(folder) = options.get_filename().parent().filter(|f| !f.as_os_str().is_empty()) {
                let _ = std::fs::create_dir_all(folder);
            }
            let options = options
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .pragma("wal_autocheckpoint", "0");
            let pool = SqlitePoolOptions::new()
                .max_connections(SQLITE_POOL)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options)
                .await?;
            let store = Store { engine: Engine::Sqlite(pool.clone()), ranks: Arc::default() };
            tokio::spawn(checkpoints(pool, Arc::downgrade(&store.ranks)));
            store
        };
        store.migrate().await?;
        Ok(store)
    }

    pub fn dialect(&self) -> Dialect {
        match self.engine {
            Engine::Sqlite(_) => Dialect::Sqlite,
            Engine::Postgres(_) => Dialect::Postgres,
        }
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = migrations::migrator(self.dialect());
        match &self.engine {
            Engine::Sqlite(pool) => migrator.run(pool).await?,
            Engine::Postgres(pool) => migrator.run(pool).await?,
        }
        // Data the schema alone cannot bring up to date.
        self.backfill_name_keys().await?;
        Ok(())
    }

    /// The schema version the database is at (the newest migration applied).
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let sql = "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success";
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await?))
    }

    /// Whether the database answers now.
    pub async fn ping(&self) -> bool {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.is_ok())
    }

    /// Run seeding statements in one transaction, binding `$1` to `count` and `$2` to
    /// `text` where a statement names them (`server/benches/accounts_store.rs`).
    pub async fn seed_for_benchmark(
        &self,
        statements: &[&'static str],
        count: i64,
        text: &str,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for &sql in statements {
                let mut query = sqlx::query(sql);
                if sql.contains("$1") {
                    query = query.bind(count);
                }
                if sql.contains("$2") {
                    query = query.bind(text);
                }
                query.execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Close the pool (tests stopping a server cleanly).
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}
