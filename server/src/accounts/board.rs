//! Reading what rounds stored: the leaderboard and ranks, a player's profile, and
//! their match history a page at a time.
//!
//! Ranks: accounts that played at least one round, by rating (`μ − 3σ`), highest
//! first. Equal ratings share a rank (the next distinct rating's rank counts every
//! player above it: 1, 2, 2, 4); among equals, the older account is listed first.

use serde::Serialize;
use sqlx::Row;

use super::store::{Store, StoreError, on_pool};

/// One leaderboard line.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BoardLine {
    pub rank: i64,
    pub player_id: i64,
    pub name: String,
    pub rating: f64,
    pub rounds: i64,
    pub wins: i64,
}

/// An account's totals.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stats {
    pub rounds: i64,
    pub wins: i64,
    pub kills: i64,
    pub deaths: i64,
    pub score: i64,
    pub rating: f64,
    /// None until the first round.
    pub rank: Option<i64>,
}

/// `GET /api/players/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Profile {
    pub player_id: i64,
    pub name: String,
    pub created_at_ms: i64,
    pub stats: Stats,
}

/// One line of a stored match.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MatchLine {
    pub place: i64,
    /// The in-game id (an account's id, a guest's or a bot's).
    pub player_id: i64,
    /// `account`, `guest` or `bot`.
    pub kind: String,
    pub name: String,
    pub kills: i64,
    pub deaths: i64,
    pub score: i64,
    /// Accounts only: the rating before and after this round.
    pub rating_before: Option<f64>,
    pub rating_after: Option<f64>,
}

/// One match in a player's history.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MatchSummary {
    pub match_id: i64,
    pub round_id: String,
    pub room_id: String,
    pub room_name: String,
    pub round: i64,
    pub reason: String,
    pub ended_at_ms: i64,
    pub duration_s: f64,
    pub player_count: i64,
    /// The player's own line.
    pub me: MatchLine,
    /// The best [`PODIUM`] lines (the full table stays in the results log).
    pub top: Vec<MatchLine>,
}

/// Lines of each match a history page carries besides the player's own.
pub const PODIUM: i64 = 3;

/// (id, name, rating, rounds, wins) of a leaderboard line, before its rank.
type BoardRow = (i64, String, f64, i64, i64);

/// `around`'s statement: side 0 is the account's own line ($1), sides 1 to 4 up to
/// $2 lines each, nearest first. Each side is its own range scan of `stats_by_rating`
/// in the index's order; the account's rating is a scalar subquery, not a join, so
/// SQLite's planner keeps that order instead of sorting every higher (lower) rating.
const AROUND: &str = "SELECT CAST(0 AS BIGINT), s.account_id, a.name, s.rating, s.rounds, s.wins \
        FROM stats s JOIN accounts a ON a.id = s.account_id WHERE s.account_id = $1 \
    UNION ALL SELECT * FROM (SELECT CAST(1 AS BIGINT), s.account_id, a.name, s.rating, s.rounds, s.wins \
        FROM stats s JOIN accounts a ON a.id = s.account_id \
        WHERE s.rating = (SELECT rating FROM stats WHERE account_id = $1) AND s.account_id < $1 \
        ORDER BY s.account_id DESC LIMIT $2) AS tied_above \
    UNION ALL SELECT * FROM (SELECT CAST(2 AS BIGINT), s.account_id, a.name, s.rating, s.rounds, s.wins \
        FROM stats s JOIN accounts a ON a.id = s.account_id \
        WHERE s.rating > (SELECT rating FROM stats WHERE account_id = $1) \
        ORDER BY s.rating ASC, s.account_id DESC LIMIT $2) AS higher \
    UNION ALL SELECT * FROM (SELECT CAST(3 AS BIGINT), s.account_id, a.name, s.rating, s.rounds, s.wins \
        FROM stats s JOIN accounts a ON a.id = s.account_id \
        WHERE s.rating = (SELECT rating FROM stats WHERE account_id = $1) AND s.account_id > $1 \
        ORDER BY s.account_id ASC LIMIT $2) AS tied_below \
    UNION ALL SELECT * FROM (SELECT CAST(4 AS BIGINT), s.account_id, a.name, s.rating, s.rounds, s.wins \
        FROM stats s JOIN accounts a ON a.id = s.account_id \
        WHERE s.rating < (SELECT rating FROM stats WHERE account_id = $1) \
        ORDER BY s.rating DESC, s.account_id ASC LIMIT $2) AS lower";

/// The best lines of one match.
const PODIUM_SQL: &str = "SELECT place, player_id, kind, name, kills, deaths, score, rating_before, rating_after \
                          FROM match_players WHERE match_id = $1 ORDER BY place ASC, line ASC LIMIT $2";

fn line_of<R: Row>(row: &R) -> Result<MatchLine, sqlx::Error>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<f64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(MatchLine {
        place: row.try_get("place")?,
        player_id: row.try_get("player_id")?,
        kind: row.try_get("kind")?,
        name: row.try_get("name")?,
        kills: row.try_get("kills")?,
        deaths: row.try_get("deaths")?,
        score: row.try_get("score")?,
        rating_before: row.try_get("rating_before")?,
        rating_after: row.try_get("rating_after")?,
    })
}

impl Store {
    /// The rank a rating has: one more than the players rated strictly higher (from
    /// the rank cache: up to a few seconds stale).
    pub async fn rank_of(&self, rating: f64) -> Result<i64, StoreError> {
        self.ranks.ready(self).await?;
        Ok(self.ranks.rank_of(rating))
    }

    /// Players on the leaderboard (from the rank cache).
    pub async fn ranked_players(&self) -> Result<i64, StoreError> {
        self.ranks.ready(self).await?;
        Ok(self.ranks.players())
    }

    /// The best `limit` lines.
    pub async fn top(&self, limit: i64) -> Result<Vec<BoardLine>, StoreError> {
        let sql = "SELECT s.account_id, a.name, s.rating, s.rounds, s.wins FROM stats s JOIN accounts a ON a.id = s.account_id \
                   ORDER BY s.rating DESC, s.account_id ASC LIMIT $1";
        let rows = self.board_rows(sql, None, &[limit]).await?;
        self.ranked(rows, Some(1)).await
    }

    /// The account's line with up to `span` lines above and below it; empty if the
    /// account is not on the leaderboard. One statement: the account's own line and,
    /// nearest first, up to `span` lines from each of four index range scans (an OR
    /// across them would scan the table): equal ratings listed before mine, higher
    /// ratings, equal ratings listed after mine, lower ratings.
    pub async fn around(&self, account: i64, span: i64) -> Result<Vec<BoardLine>, StoreError> {
        let mut sides: [Vec<BoardRow>; 5] = Default::default();
        on_pool!(self, pool => {
            let rows = sqlx::query(AROUND).bind(account).bind(span).fetch_all(pool).await?;
            for r in &rows {
                let side: i64 = r.try_get(0)?;
                let row = (r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?, r.try_get(5)?);
                if let Some(side) = usize::try_from(side).ok().and_then(|s| sides.get_mut(s)) {
                    side.push(row);
                }
            }
        });
        let [mine, tied_above, higher, tied_below, lower] = sides;
        let Some(me) = mine.into_iter().next() else { return Ok(Vec::new()) };
        let span = usize::try_from(span).unwrap_or(0);
        let mut rows: Vec<BoardRow> = tied_above.into_iter().chain(higher).take(span).collect();
        rows.reverse();
        rows.push(me);
        rows.extend(tied_below.into_iter().chain(lower).take(span));
        self.ranked(rows, None).await
    }

    /// (id, name, rating, rounds, wins) rows of a leaderboard query; `rating`, when
    /// given, is bound as the query's first parameter, before `params`.
    async fn board_rows(
        &self,
        sql: &'static str,
        rating: Option<f64>,
        params: &[i64],
    ) -> Result<Vec<BoardRow>, StoreError> {
        on_pool!(self, pool => {
            let mut query = sqlx::query(sql);
            if let Some(rating) = rating {
                query = query.bind(rating);
            }
            for p in params {
                query = query.bind(*p);
            }
            let rows = query.fetch_all(pool).await?;
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?)))
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::from)
        })
    }

    /// Lines in leaderboard order with their ranks: the first line's rank is given
    /// (the top) or counted; each next one shares its rank when the rating is equal.
    async fn ranked(&self, rows: Vec<BoardRow>, first_rank: Option<i64>) -> Result<Vec<BoardLine>, StoreError> {
        let mut lines: Vec<BoardLine> = Vec::with_capacity(rows.len());
        for (position, (player_id, name, rating, rounds, wins)) in rows.into_iter().enumerate() {
            let rank = match (lines.last(), first_rank) {
                (Some(previous), _) if previous.rating == rating => previous.rank,
                (_, Some(first)) => first + position as i64,
                (_, None) => self.rank_of(rating).await?,
            };
            lines.push(BoardLine { rank, player_id, name, rating, rounds, wins });
        }
        Ok(lines)
    }

    /// A live account's profile and totals.
    pub async fn profile(&self, account: i64) -> Result<Option<Profile>, StoreError> {
        let sql = "SELECT a.id, a.name, a.created_at_ms, s.rounds, s.wins, s.kills, s.deaths, s.score, s.rating \
                   FROM accounts a LEFT JOIN stats s ON s.account_id = a.id WHERE a.id = $1 AND a.deleted_at_ms IS NULL";
        let row = on_pool!(self, pool => {
            let row = sqlx::query(sql).bind(account).fetch_optional(pool).await?;
            row.map(|r| -> Result<_, sqlx::Error> {
                let rounds: Option<i64> = r.try_get("rounds")?;
                Ok((
                    Profile {
                        player_id: r.try_get("id")?,
                        name: r.try_get("name")?,
                        created_at_ms: r.try_get("created_at_ms")?,
                        stats: Stats {
                            rounds: rounds.unwrap_or(0),
                            wins: r.try_get::<Option<i64>, _>("wins")?.unwrap_or(0),
                            kills: r.try_get::<Option<i64>, _>("kills")?.unwrap_or(0),
                            deaths: r.try_get::<Option<i64>, _>("deaths")?.unwrap_or(0),
                            score: r.try_get::<Option<i64>, _>("score")?.unwrap_or(0),
                            rating: r.try_get::<Option<f64>, _>("rating")?.unwrap_or(0.0),
                            rank: None,
                        },
                    },
                    rounds.is_some(),
                ))
            })
            .transpose()?
        });
        let Some((mut profile, ranked)) = row else { return Ok(None) };
        if ranked {
            profile.stats.rank = Some(self.rank_of(profile.stats.rating).await?);
        }
        Ok(Some(profile))
    }

    /// A page of the account's matches, newest first: those with a match id below
    /// `before` (None: from the newest), at most `limit`.
    pub async fn matches_of(
        &self,
        account: i64,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<MatchSummary>, StoreError> {
        let page = "SELECT m.id, m.round_id, m.room_id, m.room_name, m.round, m.reason, m.ended_at_ms, m.duration_s, m.player_count, \
                    p.place, p.player_id, p.kind, p.name, p.kills, p.deaths, p.score, p.rating_before, p.rating_after \
                    FROM match_players p JOIN matches m ON m.id = p.match_id \
                    WHERE p.account_id = $1 AND p.match_id < $2 ORDER BY p.match_id DESC LIMIT $3";
        let before = before.unwrap_or(i64::MAX);
        on_pool!(self, pool => {
            let rows = sqlx::query(page).bind(account).bind(before).bind(limit).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let match_id: i64 = r.try_get("id")?;
                let top = sqlx::query(PODIUM_SQL).bind(match_id).bind(PODIUM).fetch_all(pool).await?;
                out.push(MatchSummary {
                    match_id,
                    round_id: r.try_get("round_id")?,
                    room_id: r.try_get("room_id")?,
                    room_name: r.try_get("room_name")?,
                    round: r.try_get("round")?,
                    reason: r.try_get("reason")?,
                    ended_at_ms: r.try_get("ended_at_ms")?,
                    duration_s: r.try_get("duration_s")?,
                    player_count: r.try_get("player_count")?,
                    me: line_of(r)?,
                    top: top.iter().map(line_of).collect::<Result<_, _>>()?,
                });
            }
            Ok(out)
        })
    }
}
