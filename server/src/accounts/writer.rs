//! The round writer: derives the database from the results log.
//!
//! The results log is written first and stays the complete record. Each round it
//! syncs comes here through a bounded queue ([`STORE_QUEUE`]) and is stored in one
//! transaction. When the database cannot take a round (down, or the queue
//! overflowed), the writer drops what it holds (every round is in the log), waits,
//! and once the database answers again re-reads the log files (the current one and
//! those rotated aside) and stores every round it does not have yet: each round
//! exactly once, as rounds are keyed by their round id. It does the same at start,
//! for rounds a crash left unstored. Nothing here is awaited by a room.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use metrics::{counter, gauge, histogram};
use tokio::sync::mpsc;

use super::round_rows::round_id;
use super::store::Store;
use crate::ops::results::{Feed, RoundRecord};

/// Rounds waiting to be stored. Past it a round is read back from the log later.
pub const STORE_QUEUE: usize = 1024;
/// First wait before trying a database that failed; doubles up to [`RETRY_MAX`].
pub const RETRY_FIRST: Duration = Duration::from_millis(250);
pub const RETRY_MAX: Duration = Duration::from_secs(5);

/// The feed to hand the results log, and the writer's end of it.
pub fn channel() -> (Feed, Inbox) {
    let (tx, rx) = mpsc::channel(STORE_QUEUE);
    let missed = Arc::new(AtomicBool::new(false));
    (Feed { tx, missed: missed.clone() }, Inbox { rx, missed })
}

/// What the writer receives.
#[derive(Debug)]
pub struct Inbox {
    rx: mpsc::Receiver<RoundRecord>,
    missed: Arc<AtomicBool>,
}

/// Store rounds from `inbox` until the results log is gone, catching up from the log
/// at `log_path` at start and after every failure.
pub async fn run(store: Store, mut inbox: Inbox, log_path: PathBuf) {
    let mut behind = true;
    let mut wait = RETRY_FIRST;
    loop {
        if behind || inbox.missed.swap(false, Ordering::AcqRel) {
            // Take what is queued off first: it is all in the log, read below.
            while inbox.rx.try_recv().is_ok() {}
            match catch_up(&store, &log_path).await {
                Ok(stored) => {
                    if stored > 0 {
                        tracing::info!(rounds = stored, "stored rounds read back from the results log");
                    }
                    behind = false;
                    wait = RETRY_FIRST;
                    gauge!("arena_database_up").set(1.0);
                }
                Err(e) => {
                    gauge!("arena_database_up").set(0.0);
                    tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "cannot store rounds now; they wait in the results log");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(RETRY_MAX);
                    continue;
                }
            }
        }
        let record = tokio::select! {
            record = inbox.rx.recv() => record,
            // Wake now and then to see a raised `missed` without a round arriving.
            _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
        };
        let Some(record) = record else { return };
        if let Err(e) = store_one(&store, &record).await {
            tracing::warn!(error = %e, round = %round_id(&record), "cannot store a round; it waits in the results log");
            gauge!("arena_database_up").set(0.0);
            behind = true;
        }
    }
}

/// Store one round, counting it in the metrics.
async fn store_one(store: &Store, record: &RoundRecord) -> Result<bool, super::store::StoreError> {
    let started = Instant::now();
    match store.store_round(record).await {
        Ok(stored) => {
            histogram!("arena_round_store_seconds").record(started.elapsed().as_secs_f64());
            counter!("arena_rounds_stored_total", "outcome" => if stored { "stored" } else { "already_stored" })
                .increment(1);
            Ok(stored)
        }
        Err(e) => {
            counter!("arena_rounds_stored_total", "outcome" => "failed").increment(1);
            Err(e)
        }
    }
}

/// Store every round in the log files that the database lacks; how many were stored.
pub async fn catch_up(store: &Store, log_path: &Path) -> Result<u64, super::store::StoreError> {
    if !store.ping().await {
        // Say so plainly rather than failing on the first round.
        store.round_stored("").await?;
    }
    let mut stored = 0;
    for file in log_files(log_path) {
        let Ok(opened) = File::open(&file) else { continue };
        // Read on the blocking pool a chunk of lines at a time: log files are large.
        let mut lines = BufReader::new(opened).lines();
        loop {
            let (chunk, rest) = tokio::task::spawn_blocking(move || {
                let chunk: Vec<RoundRecord> = lines
                    .by_ref()
                    .take(512)
                    .map_while(Result::ok)
                    .filter_map(|l| serde_json::from_str(&l).ok())
                    .collect();
                (chunk, lines)
            })
            .await
            .expect("reading the results log does not panic");
            lines = rest;
            if chunk.is_empty() {
                break;
            }
            for record in chunk {
                if store.round_stored(&round_id(&record)).await? {
                    // Counted like the writer's own finds, so a catch-up shows how far it got.
                    counter!("arena_rounds_stored_total", "outcome" => "already_stored").increment(1);
                } else {
                    stored += u64::from(store_one(store, &record).await?);
                }
            }
        }
    }
    Ok(stored)
}

/// The results log and the files rotated aside from it (`<name>.<UTC time>[.n]`),
/// oldest first.
fn log_files(log_path: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (log_path.parent(), log_path.file_name()) else { return Vec::new() };
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let prefix = format!("{}.", name.to_string_lossy());
    let mut aside: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    aside.sort();
    aside.push(log_path.to_path_buf());
    aside
}
