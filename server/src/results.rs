//! The results log: finished rounds appended as JSON lines, written by a task of
//! its own so a room's tick never waits on the disk.

use std::path::PathBuf;

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

/// Start the writer; the returned sender is cloned into every room. The task
/// ends (having written everything) when every sender is dropped.
pub fn spawn_writer(path: PathBuf) -> (mpsc::Sender<RoundRecord>, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<RoundRecord>(RESULTS_QUEUE);
    let task = tokio::spawn(async move {
        let mut file = match tokio::fs::OpenOptions::new().create(true).append(true).open(&path).await {
            Ok(file) => file,
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "cannot open the results log; results will not be kept");
                while rx.recv().await.is_some() {}
                return;
            }
        };
        while let Some(record) = rx.recv().await {
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
        let _ = file.sync_all().await;
    });
    (tx, task)
}
