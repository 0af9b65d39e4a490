//! The results log: finished rounds appended as JSON lines, written by a task of
//! its own so a room's tick never waits on the disk.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arena_protocol::PlayerId;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// Rounds waiting to be written. Rounds end seconds apart per room; this is
/// hundreds of rooms ending at once before a record is dropped (and logged).
pub const RESULTS_QUEUE: usize = 1024;

/// One finished round, as one line of the log.
#[derive(Clone, Debug, Serialize)]
pub struct RoundRecord {
    pub room_id: String,
    pub room_name: String,
    pub round: u32,
    /// `score_limit`, `time_limit` or `room_closed`.
    pub reason: String,
    /// Unix milliseconds.
    pub ended_at_ms: u64,
    pub duration_s: f32,
    pub players: Vec<PlayerRecord>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PlayerRecord {
    pub player_id: PlayerId,
    pub name: String,
    pub kills: u32,
    pub deaths: u32,
}

/// The rooms' handle on the results log.
#[derive(Debug)]
pub struct ResultsLog {
    tx: mpsc::Sender<RoundRecord>,
    queued: AtomicU64,
    written: Arc<AtomicU64>,
}

impl ResultsLog {
    /// Queue a finished round; never waits (a full queue drops the round, loudly).
    pub fn submit(&self, record: RoundRecord) {
        match self.tx.try_send(record) {
            Ok(()) => {
                self.queued.fetch_add(1, Ordering::AcqRel);
            }
            Err(e) => tracing::error!(error = %e, "the results log queue refused a round"),
        }
    }

    /// Whether every queued round is on disk (flushed).
    pub fn all_written(&self) -> bool {
        self.written.load(Ordering::Acquire) >= self.queued.load(Ordering::Acquire)
    }
}

/// Start the writer task, appending to `path`.
pub fn spawn_writer(path: PathBuf) -> Arc<ResultsLog> {
    let (tx, mut rx) = mpsc::channel::<RoundRecord>(RESULTS_QUEUE);
    let written = Arc::new(AtomicU64::new(0));
    let counter = written.clone();
    tokio::spawn(async move {
        let mut file = match tokio::fs::OpenOptions::new().create(true).append(true).open(&path).await {
            Ok(file) => Some(file),
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "cannot open the results log; results will not be kept");
                None
            }
        };
        while let Some(record) = rx.recv().await {
            if let Some(file) = file.as_mut() {
                let mut line = serde_json::to_vec(&record).expect("JSON of our own record");
                line.push(b'\n');
                // One write per line keeps lines whole; flushing makes each round durable on its own.
                if let Err(e) = async {
                    file.write_all(&line).await?;
                    file.flush().await
                }
                .await
                {
                    tracing::error!(path = %path.display(), error = %e, "cannot append to the results log");
                }
            }
            counter.fetch_add(1, Ordering::AcqRel);
            crate::ops::metrics::handles().rounds_logged.increment(1);
        }
    });
    Arc::new(ResultsLog { tx, queued: AtomicU64::new(0), written })
}
