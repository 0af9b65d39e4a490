//! Ranks from memory: every rating on the leaderboard, sorted, so a rank is a binary
//! search instead of a count over the index (which, with a million accounts, takes
//! tens of milliseconds on SQLite).
//!
//! The ratings are read once when first asked for; after that, a reading older than
//! [`RANK_CACHE_TTL`] (or [`RANK_CACHE_AFTER_CHANGE`] once this node changed a
//! rating) is answered as it is while a background task reads them again. So ranks
//! and the count of ranked players may be a few seconds stale; the leaderboard lines,
//! ratings included, are always read fresh.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::store::{Store, StoreError, on_pool};

/// How stale a rank may be.
pub const RANK_CACHE_TTL: Duration = Duration::from_secs(3);
/// After this node changed a rating, ranks are read again once this old, so a
/// player sees their own round in their rank almost at once.
pub const RANK_CACHE_AFTER_CHANGE: Duration = Duration::from_millis(250);

/// Ratings highest first, and when they were read.
#[derive(Debug, Default)]
struct Snapshot {
    ratings: Arc<Vec<f64>>,
    read_at: Option<Instant>,
}

/// The cached ratings of every ranked account.
#[derive(Debug, Default)]
pub struct RankCache {
    snapshot: Mutex<Snapshot>,
    /// Held by the one caller making the first reading.
    first_read: tokio::sync::Mutex<()>,
    /// A background reading is under way.
    refreshing: AtomicBool,
    /// This node changed a rating since the last reading began.
    changed: AtomicBool,
}

/// Ranks as of one reading of the ratings.
#[derive(Clone, Debug)]
pub struct Ranks(Arc<Vec<f64>>);

impl Ranks {
    /// One more than the ratings strictly higher (ties share a rank).
    pub fn rank_of(&self, rating: f64) -> i64 {
        self.0.partition_point(|&r| r > rating) as i64 + 1
    }

    /// Accounts on the leaderboard.
    pub fn players(&self) -> i64 {
        self.0.len() as i64
    }
}

/// Every rating, highest first.
async fn read(store: &Store) -> Result<Vec<f64>, StoreError> {
    let sql = "SELECT rating FROM stats ORDER BY rating DESC";
    Ok(on_pool!(store, pool => sqlx::query_scalar::<_, f64>(sql).fetch_all(pool).await?))
}

impl RankCache {
    /// The ratings as cached (a stale reading starts a new one in the background);
    /// the first caller reads them and the others wait for it.
    pub async fn ranks(&self, store: &Store) -> Result<Ranks, StoreError> {
        if let Some(ranks) = self.cached(store) {
            return Ok(ranks);
        }
        let _turn = self.first_read.lock().await;
        if let Some(ranks) = self.cached(store) {
            return Ok(ranks);
        }
        self.changed.store(false, Ordering::Release);
        let ratings = Arc::new(read(store).await?);
        self.put(ratings.clone());
        Ok(Ranks(ratings))
    }

    fn cached(&self, store: &Store) -> Option<Ranks> {
        let snapshot = self.snapshot.lock().expect("rank cache");
        let age = snapshot.read_at?.elapsed();
        let stale = age >= RANK_CACHE_TTL || (self.changed.load(Ordering::Acquire) && age >= RANK_CACHE_AFTER_CHANGE);
        if stale && !self.refreshing.swap(true, Ordering::AcqRel) {
            self.changed.store(false, Ordering::Release);
            let store = store.clone();
            tokio::spawn(async move {
                match read(&store).await {
                    Ok(ratings) => store.ranks.put(Arc::new(ratings)),
                    Err(e) => tracing::debug!(error = %e, "cannot read ratings for ranks; keeping the last reading"),
                }
                store.ranks.refreshing.store(false, Ordering::Release);
            });
        }
        Some(Ranks(snapshot.ratings.clone()))
    }

    fn put(&self, ratings: Arc<Vec<f64>>) {
        *self.snapshot.lock().expect("rank cache") = Snapshot { ratings, read_at: Some(Instant::now()) };
    }

    /// This node changed ratings (stored a round, deleted an account).
    pub fn note_change(&self) {
        self.changed.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_share_a_rank_and_the_next_counts_everyone_above() {
        let ranks = Ranks(Arc::new(vec![9.0, 7.0, 7.0, 3.0]));
        let got: Vec<i64> = [9.0, 7.0, 3.0, 1.0, 10.0].iter().map(|&r| ranks.rank_of(r)).collect();
        assert_eq!(got, vec![1, 2, 4, 5, 1]);
        assert_eq!(ranks.players(), 4);
    }
}
