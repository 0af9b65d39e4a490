//! Storing a finished round: its match, every player's line, and each account's stats
//! and rating, in one transaction, exactly once per round id.

use std::collections::{HashMap, HashSet};

use skillratings::weng_lin::WengLinRating;
use sqlx::Row;

use super::account_rows::DELETED_NAME;
use super::log_marks::{LogMark, SAVE_MARK};
use super::ratings::{self, ordinal};
use super::store::{Engine, Store, StoreError, on_pool, unix_ms};
use crate::identity::{IdKind, is_account_id};
use crate::ops::results::{PlayerRecord, RoundRecord};

/// The id a round is stored under: unique per round (room ids are random, a room
/// numbers its rounds, and the end time tells a reused room id apart), and the same
/// whenever the round is read back from the results log.
pub fn round_id(record: &RoundRecord) -> String {
    format!("{}/{}/{}", record.room_id, record.round, record.ended_at_ms)
}

/// What kind of player a line is, as match history shows it: a house bot (as the
/// log says, or by its id's range), an account, or a guest.
pub fn kind_of(player: &PlayerRecord) -> &'static str {
    if player.bot || IdKind::of(player.player_id) == Some(IdKind::Bot) {
        "bot"
    } else if is_account_id(player.player_id) {
        "account"
    } else {
        "guest"
    }
}

/// The live accounts of a round, locked (PostgreSQL: two nodes storing rounds with
/// the same player at once would otherwise lose one update; SQLite has one writer).
/// Ordered by id, so two such rounds wait for each other instead of deadlocking. The
/// id list follows.
const LOCK_ACCOUNTS: &str = "SELECT id FROM accounts WHERE deleted_at_ms IS NULL AND id IN (";
const LOCK_ACCOUNTS_END_SQLITE: &str = ") ORDER BY id";
const LOCK_ACCOUNTS_END_POSTGRES: &str = ") ORDER BY id FOR UPDATE";
/// Their ratings, read by a statement of its own once the locks are held: at READ
/// COMMITTED a statement sees what was committed when it began, so ratings read by
/// the locking statement itself (a join) would be those from before the round that
/// held the lock, and this round would overwrite that round's rating change.
const READ_RATINGS: &str = "SELECT account_id, mu, sigma FROM stats WHERE account_id IN (";

const INSERT_MATCH: &str = "INSERT INTO matches (round_id, room_id, room_name, round, reason, ended_at_ms, duration_s, player_count) \
                            VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (round_id) DO NOTHING RETURNING id";

/// Every account's totals in one statement; the rows follow, then [`UPSERT_STATS_END`].
const UPSERT_STATS: &str =
    "INSERT INTO stats (account_id, rounds, wins, kills, deaths, score, mu, sigma, rating, rated_at_ms) ";
const UPSERT_STATS_END: &str = " ON CONFLICT (account_id) DO UPDATE SET rounds = stats.rounds + 1, \
                                wins = stats.wins + excluded.wins, kills = stats.kills + excluded.kills, \
                                deaths = stats.deaths + excluded.deaths, score = stats.score + excluded.score, \
                                mu = excluded.mu, sigma = excluded.sigma, rating = excluded.rating, \
                                rated_at_ms = excluded.rated_at_ms";

/// History lines, many rows per statement; the rows follow.
const INSERT_LINES: &str = "INSERT INTO match_players (match_id, line, place, player_id, account_id, kind, name, kills, deaths, score, rating_before, rating_after) ";
/// Lines per statement: 12 parameters each, well inside both engines' limits
/// (SQLite 32,766 parameters, PostgreSQL 65,535), so a 1,000-player round takes two.
pub const LINES_PER_STATEMENT: usize = 500;
/// SQLite's most parameters in one statement (PostgreSQL's is 65,535).
const SQLITE_MAX_PARAMETERS: usize = 32_766;
/// Parameters per stats row and per history line, as bound below.
const STATS_PARAMETERS: usize = 10;
const LINE_PARAMETERS: usize = 12;
// The stats upsert is one statement for the whole round (a row per account, at most
// a full room), and the lines go [`LINES_PER_STATEMENT`] at a time.
const _: () = assert!(crate::settings::MAX_ROOM_CAPACITY * STATS_PARAMETERS <= SQLITE_MAX_PARAMETERS);
const _: () = assert!(LINES_PER_STATEMENT * LINE_PARAMETERS <= SQLITE_MAX_PARAMETERS);

/// One account's new totals.
struct StatsRow {
    account: i64,
    won: bool,
    kills: u32,
    deaths: u32,
    rating: WengLinRating,
}

/// One history line.
struct LineRow<'a> {
    line: usize,
    place: u32,
    player_id: i64,
    account: Option<i64>,
    kind: &'static str,
    name: &'a str,
    kills: u32,
    deaths: u32,
    before: Option<f64>,
    after: Option<f64>,
}

impl Store {
    /// Whether the round with this id is stored.
    pub async fn round_stored(&self, round_id: &str) -> Result<bool, StoreError> {
        let sql = "SELECT COUNT(*) FROM matches WHERE round_id = $1";
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, i64>(sql).bind(round_id).fetch_one(pool).await?) > 0)
    }

    /// Store a round in one transaction; false (and nothing changed) if it was
    /// stored before. A round is never counted twice: the match row's unique round
    /// id is written first, and a second try stops there. `mark` (the results log's
    /// mark row and where this round's line is) moves on in the same transaction.
    /// A round costs a handful of statements whatever its size: the match, one read
    /// of every account's rating, one upsert of every account's totals, and the
    /// history lines [`LINES_PER_STATEMENT`] at a time.
    pub async fn store_round(&self, record: &RoundRecord, mark: Option<(i64, &LogMark)>) -> Result<bool, StoreError> {
        let lock_end = match self.engine {
            Engine::Sqlite(_) => LOCK_ACCOUNTS_END_SQLITE,
            Engine::Postgres(_) => LOCK_ACCOUNTS_END_POSTGRES,
        };
        let id = round_id(record);
        let results: Vec<ratings::Result> =
            record.players.iter().map(|p| ratings::Result { kills: p.kills, deaths: p.deaths }).collect();
        let places = ratings::places(&results);
        let mut accounts: Vec<i64> =
            record.players.iter().filter(|p| kind_of(p) == "account").map(|p| i64::from(p.player_id.0)).collect();
        accounts.sort_unstable();
        accounts.dedup();
        // This node's clock, not the database's: the rank cache's change-readings on
        // other nodes look DELTA_OVERLAP_MS (30 s) back, which covers both a late commit
        // and nodes' clocks differing by seconds (rank_cache.rs).
        let rated_at_ms = unix_ms();
        let changes = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let match_id: Option<i64> = sqlx::query_scalar(INSERT_MATCH)
                .bind(&id)
                .bind(&record.room_id)
                .bind(&record.room_name)
                .bind(i64::from(record.round))
                .bind(&record.reason)
                .bind(record.ended_at_ms as i64)
                .bind(f64::from(record.duration_s))
                .bind(record.players.len() as i64)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(match_id) = match_id else {
                tx.rollback().await?;
                return Ok(false);
            };
            // Accounts that still exist, with their ratings (None: first round).
            let mut current: HashMap<i64, Option<WengLinRating>> = HashMap::new();
            if !accounts.is_empty() {
                let mut lock = sqlx::QueryBuilder::new(LOCK_ACCOUNTS);
                let mut ids = lock.separated(", ");
                for &account in &accounts {
                    ids.push_bind(account);
                }
                lock.push(lock_end);
                let live: Vec<i64> = lock.build_query_scalar().fetch_all(&mut *tx).await?;
                current.extend(live.iter().map(|&id| (id, None)));
            }
            if !current.is_empty() {
                let mut read = sqlx::QueryBuilder::new(READ_RATINGS);
                let mut ids = read.separated(", ");
                for account in current.keys() {
                    ids.push_bind(*account);
                }
                read.push(")");
                for row in read.build().fetch_all(&mut *tx).await? {
                    let rating = WengLinRating { rating: row.try_get("mu")?, uncertainty: row.try_get("sigma")? };
                    current.insert(row.try_get("account_id")?, Some(rating));
                }
            }
            let (stats, lines) = rows_of(record, &places, &current);
            if !stats.is_empty() {
                let mut query = sqlx::QueryBuilder::new(UPSERT_STATS);
                query.push_values(&stats, |mut row, s| {
                    row.push_bind(s.account)
                        .push_bind(1_i64)
                        .push_bind(i64::from(s.won))
                        .push_bind(i64::from(s.kills))
                        .push_bind(i64::from(s.deaths))
                        .push_bind(i64::from(s.kills))
                        .push_bind(s.rating.rating)
                        .push_bind(s.rating.uncertainty)
                        .push_bind(ordinal(&s.rating))
                        .push_bind(rated_at_ms);
                });
                query.push(UPSERT_STATS_END);
                query.build().execute(&mut *tx).await?;
            }
            for chunk in lines.chunks(LINES_PER_STATEMENT) {
                let mut query = sqlx::QueryBuilder::new(INSERT_LINES);
                query.push_values(chunk, |mut row, l| {
                    row.push_bind(match_id)
                        .push_bind(l.line as i64)
                        .push_bind(i64::from(l.place))
                        .push_bind(l.player_id)
                        .push_bind(l.account)
                        .push_bind(l.kind)
                        .push_bind(l.name)
                        .push_bind(i64::from(l.kills))
                        .push_bind(i64::from(l.deaths))
                        .push_bind(i64::from(l.kills))
                        .push_bind(l.before)
                        .push_bind(l.after);
                });
                query.build().execute(&mut *tx).await?;
            }
            if let Some((row, mark)) = mark {
                mark.bind_to(sqlx::query(SAVE_MARK), row, rated_at_ms).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            stats.iter().map(|s| (s.account, Some(ordinal(&s.rating)))).collect::<Vec<_>>()
        });
        self.ranks.apply(&changes);
        Ok(true)
    }
}

/// The stats rows (each live account once, at its first line) and history lines of a
/// round, given its places and the live accounts' current ratings.
fn rows_of<'a>(
    record: &'a RoundRecord,
    places: &[u32],
    current: &HashMap<i64, Option<WengLinRating>>,
) -> (Vec<StatsRow>, Vec<LineRow<'a>>) {
    // House bots are left out of the rating (an account beating easy bots would farm
    // rating); they stay in the match history with their places.
    let rated_lines: Vec<usize> = (0..record.players.len()).filter(|&i| kind_of(&record.players[i]) != "bot").collect();
    let entrants: Vec<(Option<WengLinRating>, u32)> = rated_lines
        .iter()
        .map(|&i| (current.get(&i64::from(record.players[i].player_id.0)).copied().flatten(), places[i]))
        .collect();
    let mut rated: Vec<Option<WengLinRating>> = vec![None; record.players.len()];
    for (&i, new) in rated_lines.iter().zip(ratings::rate(&entrants)) {
        rated[i] = Some(new);
    }
    let mut stats: Vec<StatsRow> = Vec::new();
    let mut counted = HashSet::new();
    let mut lines = Vec::with_capacity(record.players.len());
    for (line, ((player, &place), new)) in record.players.iter().zip(places).zip(&rated).enumerate() {
        let account = i64::from(player.player_id.0);
        let is_live_account = current.contains_key(&account);
        let before = current.get(&account).map(|r| ordinal(&r.unwrap_or_else(ratings::starting)));
        let new = new.unwrap_or_else(ratings::starting);
        let after = is_live_account.then(|| ordinal(&new));
        // An account id that is no longer live (deleted, perhaps while the round
        // waited in the log) is written as deletion leaves its lines.
        let deleted = kind_of(player) == "account" && !is_live_account;
        let (player_id, name) = if deleted { (0, DELETED_NAME) } else { (account, player.name.as_str()) };
        // One upsert may touch a row once: an account listed twice counts one round.
        if is_live_account && counted.insert(account) {
            let won = ratings::won(place, player.kills);
            stats.push(StatsRow { account, won, kills: player.kills, deaths: player.deaths, rating: new });
        }
        lines.push(LineRow {
            line,
            place,
            player_id,
            account: is_live_account.then_some(account),
            kind: kind_of(player),
            name,
            kills: player.kills,
            deaths: player.deaths,
            before,
            after,
        });
    }
    (stats, lines)
}
