//! Storing a finished round: its match, every player's line, and each account's stats
//! and rating, in one transaction, exactly once per round id.

use std::collections::HashMap;

use skillratings::weng_lin::WengLinRating;
use sqlx::Row;

use super::account_rows::DELETED_NAME;
use super::ratings::{self, ordinal};
use super::store::{Engine, Store, StoreError, on_pool};
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

/// Lock the account rows a round updates (PostgreSQL: two nodes storing rounds with
/// the same player at once would otherwise lose one update; SQLite has one writer).
const READ_RATINGS_SQLITE: &str = "SELECT a.id, s.mu, s.sigma FROM accounts a LEFT JOIN stats s ON s.account_id = a.id \
                                   WHERE a.id = $1 AND a.deleted_at_ms IS NULL";
const READ_RATINGS_POSTGRES: &str = "SELECT a.id, s.mu, s.sigma FROM accounts a LEFT JOIN stats s ON s.account_id = a.id \
                                     WHERE a.id = $1 AND a.deleted_at_ms IS NULL FOR UPDATE OF a";

const INSERT_MATCH: &str = "INSERT INTO matches (round_id, room_id, room_name, round, reason, ended_at_ms, duration_s, player_count) \
                            VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (round_id) DO NOTHING RETURNING id";

const UPSERT_STATS: &str = "INSERT INTO stats (account_id, rounds, wins, kills, deaths, score, mu, sigma, rating) \
                            VALUES ($1, 1, $2, $3, $4, $5, $6, $7, $8) \
                            ON CONFLICT (account_id) DO UPDATE SET rounds = stats.rounds + 1, wins = stats.wins + $2, \
                            kills = stats.kills + $3, deaths = stats.deaths + $4, score = stats.score + $5, \
                            mu = $6, sigma = $7, rating = $8";

const INSERT_LINE: &str = "INSERT INTO match_players (match_id, line, place, player_id, account_id, kind, name, kills, deaths, score, rating_before, rating_after) \
                           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

impl Store {
    /// Whether the round with this id is stored.
    pub async fn round_stored(&self, round_id: &str) -> Result<bool, StoreError> {
        let sql = "SELECT COUNT(*) FROM matches WHERE round_id = $1";
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, i64>(sql).bind(round_id).fetch_one(pool).await?) > 0)
    }

    /// Store a round in one transaction; false (and nothing changed) if it was
    /// stored before. A round is never counted twice: the match row's unique round
    /// id is written first, and a second try stops there.
    pub async fn store_round(&self, record: &RoundRecord) -> Result<bool, StoreError> {
        let read_ratings = match self.engine {
            Engine::Sqlite(_) => READ_RATINGS_SQLITE,
            Engine::Postgres(_) => READ_RATINGS_POSTGRES,
        };
        let id = round_id(record);
        let results: Vec<ratings::Result> =
            record.players.iter().map(|p| ratings::Result { kills: p.kills, deaths: p.deaths }).collect();
        let places = ratings::places(&results);
        on_pool!(self, pool => {
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
            // Accounts that still exist, with their ratings (None: first round). Rows
            // are locked in id order, so two nodes storing rounds that share players
            // wait for each other instead of deadlocking.
            let mut accounts: Vec<i64> = record
                .players
                .iter()
                .filter(|p| kind_of(p) == "account")
                .map(|p| i64::from(p.player_id.0))
                .collect();
            accounts.sort_unstable();
            accounts.dedup();
            let mut current: HashMap<i64, Option<WengLinRating>> = HashMap::new();
            for account in accounts {
                if let Some(row) = sqlx::query(read_ratings).bind(account).fetch_optional(&mut *tx).await? {
                    let mu: Option<f64> = row.try_get("mu")?;
                    let sigma: Option<f64> = row.try_get("sigma")?;
                    current.insert(account, mu.zip(sigma).map(|(rating, uncertainty)| WengLinRating { rating, uncertainty }));
                }
            }
            // House bots are left out of the rating (an account beating easy bots
            // would farm rating); they stay in the match history with their places.
            let rated_lines: Vec<usize> = (0..record.players.len()).filter(|&i| kind_of(&record.players[i]) != "bot").collect();
            let entrants: Vec<(Option<WengLinRating>, u32)> = rated_lines
                .iter()
                .map(|&i| (current.get(&i64::from(record.players[i].player_id.0)).copied().flatten(), places[i]))
                .collect();
            let mut rated: Vec<Option<WengLinRating>> = vec![None; record.players.len()];
            for (&i, new) in rated_lines.iter().zip(ratings::rate(&entrants)) {
                rated[i] = Some(new);
            }
            for (line, ((player, &place), new)) in record.players.iter().zip(&places).zip(&rated).enumerate() {
                let account = i64::from(player.player_id.0);
                let is_live_account = current.contains_key(&account);
                let before = current.get(&account).map(|r| ordinal(&r.unwrap_or_else(ratings::starting)));
                let new = new.unwrap_or_else(ratings::starting);
                let after = is_live_account.then(|| ordinal(&new));
                // An account id that is no longer live (deleted, perhaps while the
                // round waited in the log) is written as deletion leaves its lines.
                let deleted = kind_of(player) == "account" && !is_live_account;
                let (player_id, name) = if deleted { (0, DELETED_NAME) } else { (account, player.name.as_str()) };
                if is_live_account {
                    sqlx::query(UPSERT_STATS)
                        .bind(account)
                        .bind(i64::from(ratings::won(place, player.kills)))
                        .bind(i64::from(player.kills))
                        .bind(i64::from(player.deaths))
                        .bind(i64::from(player.kills))
                        .bind(new.rating)
                        .bind(new.uncertainty)
                        .bind(ordinal(&new))
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query(INSERT_LINE)
                    .bind(match_id)
                    .bind(line as i64)
                    .bind(i64::from(place))
                    .bind(player_id)
                    .bind(is_live_account.then_some(account))
                    .bind(kind_of(player))
                    .bind(name)
                    .bind(i64::from(player.kills))
                    .bind(i64::from(player.deaths))
                    .bind(i64::from(player.kills))
                    .bind(before)
                    .bind(after)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            self.ranks.note_change();
            Ok(true)
        })
    }
}
