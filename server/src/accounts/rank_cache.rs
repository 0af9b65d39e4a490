//! Ranks from memory: every ranked account's rating, sorted, so a rank is a count
//! of the ratings above instead of a count over the index (which, with a million
//! accounts, takes tens of milliseconds on SQLite).
//!
//! The ratings are read in full once, when first asked for. After that the cache is
//! kept current without reading them all again:
//! - each round this node stores applies its rating changes as it commits, and a
//!   deletion here removes the account at once: this node's own changes show at once;
//! - every [`DELTA_EVERY`] (when asked for ranks) a background task reads the stats
//!   rows changed lately (`rated_at_ms`, looking [`DELTA_OVERLAP_MS`] back so a
//!   transaction that committed late is not missed): other nodes' rounds on a shared
//!   PostgreSQL show within a few seconds;
//! - every [`FULL_EVERY`] the ratings are read in full again, which also drops
//!   accounts another node deleted (until then they still count above others).
//!
//! The leaderboard lines, ratings included, are always read fresh from the database.

use std::sync::Mutex;

use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::sorted_ratings::SortedRatings;
use super::store::{Store, StoreError, on_pool, unix_ms};

/// How often the ratings changed by other nodes are read.
pub const DELTA_EVERY: Duration = Duration::from_secs(2);
/// How far back a change-reading looks past the previous one's start: a transaction
/// stamped before that reading began may commit after it (statements time out after
/// 5 s), and nodes' clocks may differ a little.
pub const DELTA_OVERLAP_MS: i64 = 30_000;
/// How often every rating is read again.
pub const FULL_EVERY: Duration = Duration::from_secs(300);
/// After a failed reading, none is tried for this long: a first reading's callers
/// are answered with an error at once, and a refresh waits.
pub const RETRY_AFTER: Duration = Duration::from_secs(2);

/// One account's rating as a change says it: None, no longer ranked (deleted).
pub type Change = (i64, Option<f64>);

#[derive(Debug, Default)]
struct Inner {
    /// A full reading has been made.
    loaded: bool,
    /// Each ranked account's rating by id (a map: its memory follows the ranked
    /// accounts, not the highest id).
    by_account: FxHashMap<i64, f64>,
    sorted: SortedRatings,
    /// Changes this node made while a reading was under way, applied again on top
    /// of that reading (which may have begun before they committed).
    pending: Option<Vec<Change>>,
    full_at: Option<Instant>,
    delta_at: Option<Instant>,
    /// When a reading last failed: none is tried until [`RETRY_AFTER`] later.
    failed_at: Option<Instant>,
    /// Unix ms from which the next change-reading reads.
    delta_since_ms: i64,
}

impl Inner {
    fn set(&mut self, (account, rating): Change) {
        let old = match rating.filter(|r| !r.is_nan()) {
            Some(new) => {
                self.sorted.insert(new);
                self.by_account.insert(account, new)
            }
            None => self.by_account.remove(&account),
        };
        if let Some(old) = old {
            self.sorted.remove(old);
        }
    }

    fn failed_lately(&self) -> bool {
        self.failed_at.is_some_and(|at| at.elapsed() < RETRY_AFTER)
    }
}

/// The cached ratings of every ranked account.
#[derive(Debug, Default)]
pub struct RankCache {
    inner: Mutex<Inner>,
    /// Held by the one caller making the first reading; the others wait for it.
    first_read: tokio::sync::Mutex<()>,
    /// A background reading is under way.
    refreshing: AtomicBool,
}

/// (account, rating) of every ranked account, or of those rated since `since_ms`.
async fn read(store: &Store, since_ms: Option<i64>) -> Result<Vec<(i64, f64)>, StoreError> {
    let all = "SELECT account_id, rating FROM stats";
    let changed = "SELECT account_id, rating FROM stats WHERE rated_at_ms >= $1";
    Ok(on_pool!(store, pool => match since_ms {
        None => sqlx::query_as::<_, (i64, f64)>(all).fetch_all(pool).await?,
        Some(since) => sqlx::query_as::<_, (i64, f64)>(changed).bind(since).fetch_all(pool).await?,
    }))
}

impl RankCache {
    /// Make sure a full reading exists (the first caller makes it), and start a
    /// background reading when one is due.
    pub async fn ready(&self, store: &Store) -> Result<(), StoreError> {
        if self.lock().loaded {
            self.refresh_if_due(store);
            return Ok(());
        }
        let _turn = self.first_read.lock().await;
        {
            let inner = self.lock();
            if inner.loaded {
                return Ok(());
            }
            if inner.failed_lately() {
                return Err(StoreError::RetryLater("the ratings could not be read"));
            }
        }
        self.reading(store, None).await
    }

    /// One more than the ranked ratings strictly higher (ties share a rank).
    pub fn rank_of(&self, rating: f64) -> i64 {
        self.lock().sorted.above(rating) as i64 + 1
    }

    /// Accounts on the leaderboard.
    pub fn players(&self) -> i64 {
        self.lock().sorted.len() as i64
    }

    /// This node committed these ratings (a stored round, a deletion).
    pub fn apply(&self, changes: &[Change]) {
        let mut inner = self.lock();
        if let Some(pending) = inner.pending.as_mut() {
            pending.extend_from_slice(changes);
        }
        if inner.loaded {
            for &change in changes {
                inner.set(change);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("rank cache")
    }

    fn refresh_if_due(&self, store: &Store) {
        let due = {
            let inner = self.lock();
            let older = |at: Option<Instant>, age| at.is_none_or(|at| at.elapsed() >= age);
            if inner.failed_lately() {
                None
            } else if older(inner.full_at, FULL_EVERY) {
                Some(None)
            } else if older(inner.delta_at, DELTA_EVERY) {
                Some(Some(inner.delta_since_ms))
            } else {
                None
            }
        };
        let Some(since) = due else { return };
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let store = store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.ranks.reading(&store, since).await {
                tracing::debug!(error = %e, "cannot read ratings for ranks; keeping what is cached");
            }
            store.ranks.refreshing.store(false, Ordering::Release);
        });
    }

    /// Read every rating (`since` None) or those changed since `since` ms, and put
    /// them in, with this node's changes made meanwhile applied again on top.
    async fn reading(&self, store: &Store, since: Option<i64>) -> Result<(), StoreError> {
        let started_ms = unix_ms();
        self.lock().pending = Some(Vec::new());
        // A first reading runs in its caller's request: if that is dropped (the client
        // went away) the changes kept meanwhile are dropped too, not kept growing.
        let pending = PendingGuard(self);
        let rows = match read(store, since).await {
            Ok(rows) => rows,
            Err(e) => {
                // Try again only after a wait, not on every request.
                self.lock().failed_at = Some(Instant::now());
                return Err(e);
            }
        };
        let full = since.is_none().then(|| {
            let by_account: FxHashMap<i64, f64> = rows.iter().copied().filter(|(_, r)| !r.is_nan()).collect();
            let mut sorted: Vec<f64> = by_account.values().copied().collect();
            sorted.sort_unstable_by(|a, b| b.total_cmp(a));
            (by_account, SortedRatings::from_descending(&sorted))
        });
        // Done: what is pending is put in below.
        std::mem::forget(pending);
        let mut inner = self.lock();
        let now = Instant::now();
        match full {
            Some((by_account, sorted)) => {
                inner.by_account = by_account;
                inner.sorted = sorted;
                inner.loaded = true;
                inner.full_at = Some(now);
            }
            None => {
                for (id, rating) in rows {
                    inner.set((id, Some(rating)));
                }
            }
        }
        for change in inner.pending.take().unwrap_or_default() {
            inner.set(change);
        }
        inner.delta_at = Some(now);
        inner.failed_at = None;
        inner.delta_since_ms = started_ms - DELTA_OVERLAP_MS;
        Ok(())
    }
}

/// Stops keeping this node's changes for a reading that ended without putting them in.
struct PendingGuard<'a>(&'a RankCache);

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.0.lock().pending = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_move_an_account_and_ties_share_a_rank() {
        let cache = RankCache::default();
        cache.lock().loaded = true;
        cache.apply(&[(1, Some(9.0)), (2, Some(7.0)), (3, Some(7.0)), (4, Some(3.0))]);
        let ranks = |c: &RankCache| [9.0, 7.0, 3.0, 1.0, 10.0].map(|r| c.rank_of(r));
        assert_eq!(ranks(&cache), [1, 2, 4, 5, 1]);
        assert_eq!(cache.players(), 4);
        // Account 1 drops below 3, account 4 is deleted: one rating each, never two.
        cache.apply(&[(1, Some(2.0)), (4, None), (9, None)]);
        assert_eq!(cache.players(), 3);
        assert_eq!([7.0, 2.0, 3.0].map(|r| cache.rank_of(r)), [1, 3, 3]);
    }

    #[test]
    fn an_account_with_a_huge_id_costs_one_entry() {
        let cache = RankCache::default();
        cache.lock().loaded = true;
        cache.apply(&[(1 << 40, Some(4.0)), (i64::MAX, Some(5.0)), (-1, None)]);
        assert_eq!(cache.players(), 2);
        assert_eq!(cache.lock().by_account.len(), 2);
    }

    async fn store_in(name: &str) -> (Store, std::path::PathBuf) {
        let file =
            std::env::temp_dir().join(format!("arena-{name}-{}-{}.db", std::process::id(), rand::random::<u32>()));
        (Store::open(&format!("sqlite://{}", file.display())).await.unwrap(), file)
    }

    #[tokio::test]
    async fn a_first_reading_given_up_by_its_caller_keeps_no_changes() {
        let (store, file) = store_in("ranks-dropped").await;
        // Every connection taken, so the reading waits for one; given up meanwhile, as
        // by a request whose client left.
        let super::super::store::Engine::Sqlite(pool) = &store.engine else { unreachable!() };
        let mut taken = Vec::new();
        for _ in 0..super::super::store::SQLITE_POOL {
            taken.push(pool.acquire().await.unwrap());
        }
        let first = tokio::time::timeout(Duration::from_millis(50), store.ranks.ready(&store)).await;
        assert!(first.is_err(), "the reading was still waiting");
        drop(taken);
        store.ranks.apply(&[(1, Some(3.0))]);
        assert!(store.ranks.lock().pending.is_none(), "nobody will put these in");
        store.ranks.ready(&store).await.unwrap();
        assert!(store.ranks.lock().pending.is_none());
        store.close().await;
        let _ = std::fs::remove_file(file);
    }

    #[tokio::test]
    async fn a_failed_first_reading_is_not_tried_again_at_once() {
        let (store, file) = store_in("ranks-failed").await;
        store.close().await;
        let first = store.ranks.ready(&store).await;
        assert!(matches!(first, Err(StoreError::Unavailable(_))), "{first:?}");
        let again = store.ranks.ready(&store).await;
        assert!(matches!(again, Err(StoreError::RetryLater(_))), "{again:?}");
        store.ranks.lock().failed_at = Some(Instant::now() - RETRY_AFTER);
        let later = store.ranks.ready(&store).await;
        assert!(matches!(later, Err(StoreError::Unavailable(_))), "tried again after the wait: {later:?}");
        let _ = std::fs::remove_file(file);
    }

    #[test]
    fn changes_before_the_first_reading_are_left_to_it() {
        let cache = RankCache::default();
        cache.apply(&[(1, Some(9.0))]);
        assert_eq!(cache.players(), 0, "not loaded: the first reading will see the committed change");
    }
}
