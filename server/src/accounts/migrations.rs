//! Versioned schema migrations, built into the binary and run at every start: a
//! fresh database gets every one, an existing one only those it lacks (sqlx keeps
//! the applied versions and their checksums in `_sqlx_migrations`; a changed
//! migration that was already applied stops the start).
//!
//! One folder per engine (`server/migrations/{sqlite,postgres}`), the same versions in
//! both: the schemas differ only where the dialects do (identity columns, types).

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};

/// (version, description, SQLite text, PostgreSQL text), oldest first. Never edit one
/// that has shipped: add the next.
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "accounts, stats, matches",
        include_str!("../../migrations/sqlite/0001_accounts.sql"),
        include_str!("../../migrations/postgres/0001_accounts.sql"),
    ),
    (
        2,
        "rated_at and results log marks",
        include_str!("../../migrations/sqlite/0002_rated_at_and_log_marks.sql"),
        include_str!("../../migrations/postgres/0002_rated_at_and_log_marks.sql"),
    ),
];

/// Which dialect's migrations to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// The migrator for `dialect`, with every migration in [`MIGRATIONS`].
pub fn migrator(dialect: Dialect) -> Migrator {
    let migrations = MIGRATIONS
        .iter()
        .map(|&(version, description, sqlite, postgres)| {
            let sql = match dialect {
                Dialect::Sqlite => sqlite,
                Dialect::Postgres => postgres,
            };
            Migration::new(
                version,
                Cow::Borrowed(description),
                MigrationType::Simple,
                sqlx::SqlSafeStr::into_sql_str(sql),
                false,
            )
        })
        .collect();
    Migrator::with_migrations(migrations)
}

/// The newest schema version this binary knows.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}
