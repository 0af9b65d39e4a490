//! How far each results log is stored: one row per log (each node has its own), so a
//! restart or a catch-up reads only the rounds written after it.

use sqlx::Row;

use super::store::{Store, StoreError, on_pool, unix_ms};

/// A place in a results log: the file (by its inode, which stays when the log is
/// renamed aside) and the line of the last round stored in order, with that round's
/// id, so the mark is checked against the file before it is trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogMark {
    pub file_id: u64,
    /// The file's name when the mark was made (for people reading the table).
    pub file_name: String,
    pub line_start: u64,
    pub line_end: u64,
    pub round_id: String,
}

/// Move a mark row on; `$1` the row, `$2..$6` the mark, `$7` the time.
pub const SAVE_MARK: &str = "UPDATE results_log_marks SET file_id = $2, file_name = $3, line_start = $4, line_end = $5, \
                             round_id = $6, updated_at_ms = $7 WHERE id = $1";

impl LogMark {
    /// `query` ([`SAVE_MARK`]) with this mark bound for row `row`.
    pub fn bind_to<'q, DB: sqlx::Database>(
        &'q self,
        query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>,
        row: i64,
        now_ms: i64,
    ) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
    where
        i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    {
        query
            .bind(row)
            .bind(self.file_id as i64)
            .bind(self.file_name.as_str())
            .bind(self.line_start as i64)
            .bind(self.line_end as i64)
            .bind(self.round_id.as_str())
            .bind(now_ms)
    }
}

impl Store {
    /// Every log's mark, by row id (one row per log that has stored rounds).
    pub async fn log_marks(&self) -> Result<Vec<(i64, LogMark)>, StoreError> {
        let sql = "SELECT id, file_id, file_name, line_start, line_end, round_id FROM results_log_marks ORDER BY id";
        on_pool!(self, pool => {
            let rows = sqlx::query(sql).fetch_all(pool).await?;
            rows.iter()
                .map(|r| {
                    Ok((
                        r.try_get("id")?,
                        LogMark {
                            file_id: r.try_get::<i64, _>("file_id")? as u64,
                            file_name: r.try_get("file_name")?,
                            line_start: r.try_get::<i64, _>("line_start")? as u64,
                            line_end: r.try_get::<i64, _>("line_end")? as u64,
                            round_id: r.try_get("round_id")?,
                        },
                    ))
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::from)
        })
    }

    /// A new mark row for a log that has none yet; its id.
    pub async fn new_log_mark(&self, mark: &LogMark) -> Result<i64, StoreError> {
        let sql = "INSERT INTO results_log_marks (file_id, file_name, line_start, line_end, round_id, updated_at_ms) \
                   VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, i64>(sql)
            .bind(mark.file_id as i64)
            .bind(mark.file_name.as_str())
            .bind(mark.line_start as i64)
            .bind(mark.line_end as i64)
            .bind(mark.round_id.as_str())
            .bind(unix_ms())
            .fetch_one(pool)
            .await?))
    }

    /// Move mark row `row` on (rounds found already stored, outside a round's transaction).
    pub async fn save_log_mark(&self, row: i64, mark: &LogMark) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            mark.bind_to(sqlx::query(SAVE_MARK), row, unix_ms()).execute(pool).await?;
        });
        Ok(())
    }
}
