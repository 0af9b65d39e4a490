//! The replay writer: a thread that takes the rooms' frames and events from one
//! bounded queue, encodes and compresses each round into `<id>.replay.gz.partial`
//! (each batch a segment of the file's gzip stream, with one compressor for all),
//! renames it into place with its description when the round ends, and applies
//! the retention policy. A recording the room dropped (its queue was full) or that
//! failed to write is deleted, never left half-written; one with nobody in it, or
//! shorter than [`MIN_KEPT_SECONDS`] (a round cut short), is deleted too.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arena_protocol::replay::{REPLAY_GZIP_LEVEL, ReplayCompressor, ReplayEnd, ReplayHeader, ReplayStream};
use arena_protocol::{ServerMsg, Tick, decode_server};
use bytes::Bytes;

use super::retention::{self, Kept};
use super::store::{ReplayMeta, ReplayPlayer, ReplayStore, file_path, meta_path};
use super::{REPLAY_QUEUE, REPLAY_QUEUE_BYTES, RecordedFrame, ReplayPolicy};
use crate::ops::unix_ms_after;

/// How often the writer looks for recordings the rooms dropped while it had nothing to do.
const SWEEP_EVERY: Duration = Duration::from_millis(250);

/// The writer drains the queue, then sleeps this long instead of blocking on it: a
/// room's `try_send` then never finds it waiting and never pays the futex call that
/// wakes a thread (measured at about 5 % of a 50-player tick, BENCHMARKS.md). Costs up
/// to this much delay before a frame reaches the disk, and the queue holds at most this
/// long of every room's messages (20 ms of 1,000 busy rooms is about 300 of 2,048).
const WRITER_NAP: Duration = Duration::from_millis(20);

/// How often replays past the age limit are looked for (sizes are checked at every new replay).
const AGE_CHECK_EVERY: Duration = Duration::from_secs(60);

/// Recordings covering less than this (from their first frame to their end) are
/// deleted like empty ones: a round cut short just after it began (a room closed, a
/// server stopped) has nothing to watch, and the lobby would list it as a "0 s" replay.
/// Counted in ticks of the room's own rate, so it is the same second at any tick rate.
pub const MIN_KEPT_SECONDS: u32 = 1;

/// How a `roster_change` message begins on the wire: a one-entry map (0x81) whose key
/// is the 13-byte string (0xad) naming it.
const ROSTER_CHANGE_TAG: &[u8] = b"\x81\xadroster_change";

/// One thing a room recorded.
pub enum Recorded {
    Frame { tick: Tick, frame: Arc<dyn RecordedFrame> },
    Event { tick: Tick, bytes: Bytes },
}

/// What rooms send the writer.
pub enum WriterMsg {
    Begin {
        id: u64,
        header: Box<ReplayHeader>,
        state: Arc<RecordingState>,
    },
    /// What the room recorded since its last batch, in tick order; `bytes` of it count
    /// towards [`REPLAY_QUEUE_BYTES`] until written.
    Batch {
        id: u64,
        items: Vec<Recorded>,
        bytes: u64,
    },
    End {
        id: u64,
        end: ReplayEnd,
    },
}

/// Batches the writer has written, kept for their room: at most this many wait.
const HANDED_BACK_MAX: usize = 2;

/// Shared by a room and the writer for one recording.
#[derive(Default)]
pub struct RecordingState {
    /// Set by the room when the queue refused part of it: the writer deletes it.
    pub dropped: AtomicBool,
    /// Written batches, their frames and bytes still in them: the room frees those on
    /// its own thread (the allocator's caches stay the room thread's) and reuses the
    /// buffer for its next batch.
    handed_back: Mutex<Vec<Vec<Recorded>>>,
}

impl RecordingState {
    /// A written batch back to its room (or freed here when the room has not taken the last ones).
    fn hand_back(&self, items: Vec<Recorded>) {
        let mut back = self.handed_back.lock().unwrap_or_else(|e| e.into_inner());
        if back.len() < HANDED_BACK_MAX {
            back.push(items);
        }
    }

    /// A buffer for the room's next batch: one handed back, emptied here (on the room's thread).
    pub(super) fn take_handed_back(&self) -> Option<Vec<Recorded>> {
        let mut back = self.handed_back.lock().unwrap_or_else(|e| e.into_inner());
        let mut buffer = back.pop()?;
        let rest = std::mem::take(&mut *back);
        drop(back);
        drop(rest);
        buffer.clear();
        Some(buffer)
    }
}

/// The rooms' handle on the writer, and the store the API lists.
#[derive(Debug)]
pub struct Replays {
    tx: SyncSender<WriterMsg>,
    next_id: AtomicU64,
    /// Recordings begun; the writer settles each (written or deleted).
    begun: AtomicU64,
    settled: Arc<AtomicU64>,
    /// Bytes of the batches in the queue or being written.
    queued_bytes: Arc<AtomicU64>,
    pub store: Arc<ReplayStore>,
}

impl Replays {
    /// Start a recording; None when the queue is full.
    pub(super) fn begin(&self, header: ReplayHeader) -> Option<(u64, Arc<RecordingState>)> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(RecordingState::default());
        self.begun.fetch_add(1, Ordering::AcqRel);
        if self.try_send(WriterMsg::Begin { id, header: Box::new(header), state: state.clone() }, 0) {
            Some((id, state))
        } else {
            self.begun.fetch_sub(1, Ordering::AcqRel);
            None
        }
    }

    /// Queue without waiting; false when full (or the writer is gone), or when its
    /// `bytes` would take the queue past [`REPLAY_QUEUE_BYTES`].
    pub(super) fn try_send(&self, msg: WriterMsg, bytes: u64) -> bool {
        let queued = self.queued_bytes.fetch_add(bytes, Ordering::AcqRel) + bytes;
        let sent = queued <= REPLAY_QUEUE_BYTES && self.tx.try_send(msg).is_ok();
        if !sent {
            self.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
            metrics::counter!("arena_replay_queue_full_total").increment(1);
        }
        sent
    }

    /// Whether every recording begun is finished on disk (or deleted): what the drain waits for.
    pub fn all_written(&self) -> bool {
        self.settled.load(Ordering::Acquire) >= self.begun.load(Ordering::Acquire)
    }
}

/// Create the folder, forget half-written recordings of an earlier run, load the
/// finished ones, apply the retention policy, and start the writer thread.
pub fn spawn_writer(policy: ReplayPolicy) -> io::Result<Arc<Replays>> {
    std::fs::create_dir_all(&policy.dir)?;
    for entry in std::fs::read_dir(&policy.dir)?.flatten() {
        if entry.file_name().to_string_lossy().ends_with(".partial") {
            tracing::info!(path = %entry.path().display(), "deleting a replay an earlier run did not finish");
            let _ = std::fs::remove_file(entry.path());
        }
    }
    let store = Arc::new(ReplayStore::load(&policy.dir));
    let (tx, rx) = mpsc::sync_channel(REPLAY_QUEUE);
    let (settled, queued_bytes) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut writer = Writer {
        policy,
        store: store.clone(),
        open: HashMap::new(),
        compressor: ReplayCompressor::new(REPLAY_GZIP_LEVEL),
        settled: settled.clone(),
        queued_bytes: queued_bytes.clone(),
    };
    writer.apply_retention();
    // A thread, not a task: compressing and writing block; it ends when every
    // handle (and so the sender) is gone.
    std::thread::Builder::new().name("arena-replays".into()).spawn(move || writer.run(rx))?;
    Ok(Arc::new(Replays { tx, next_id: AtomicU64::new(1), begun: AtomicU64::new(0), settled, queued_bytes, store }))
}

struct Writer {
    policy: ReplayPolicy,
    store: Arc<ReplayStore>,
    open: HashMap<u64, Open>,
    /// The deflate state and buffers every recording shares: one batch is written at a
    /// time, so a recording keeps none between its batches (BENCHMARKS.md, "What one
    /// connection costs").
    compressor: ReplayCompressor,
    settled: Arc<AtomicU64>,
    queued_bytes: Arc<AtomicU64>,
}

/// A recording being written.
struct Open {
    seen: Seen,
    tick_rate_hz: u16,
    state: Arc<RecordingState>,
    stream: ReplayStream,
    /// Written a batch at a time (one write each), so not buffered.
    file: File,
    /// Bytes in the file so far, for retention's view of a recording in progress.
    written: u64,
    partial: PathBuf,
}

/// What a recording's description learns from its records.
struct Seen {
    meta: ReplayMeta,
    first_tick: Option<Tick>,
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<WriterMsg>) {
        let (mut last_sweep, mut last_age_check) = (Instant::now(), Instant::now());
        'running: loop {
            loop {
                match rx.try_recv() {
                    Ok(msg) => self.handle(msg),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => break 'running,
                }
            }
            std::thread::sleep(WRITER_NAP);
            if last_sweep.elapsed() >= SWEEP_EVERY {
                last_sweep = Instant::now();
                let dropped: Vec<u64> = self
                    .open
                    .iter()
                    .filter(|(_, o)| o.state.dropped.load(Ordering::Acquire))
                    .map(|(&id, _)| id)
                    .collect();
                for id in dropped {
                    self.abandon(id, "dropped");
                }
            }
            if last_age_check.elapsed() >= AGE_CHECK_EVERY {
                last_age_check = Instant::now();
                self.apply_retention();
            }
        }
        // Every room is gone: what was never ended is not a whole round.
        let ids: Vec<u64> = self.open.keys().copied().collect();
        for id in ids {
            self.abandon(id, "dropped");
        }
    }

    fn handle(&mut self, msg: WriterMsg) {
        let (id, result) = match msg {
            WriterMsg::Begin { id, header, state } => (id, self.begin(id, *header, state)),
            WriterMsg::Batch { id, items, bytes } => {
                let written = self.write_batch(id, items);
                self.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
                (id, written)
            }
            WriterMsg::End { id, end } => (id, self.finish(id, end)),
        };
        if let Err(e) = result {
            tracing::error!(dir = %self.policy.dir.display(), error = %e, "cannot write a replay; this round's is dropped");
            self.abandon(id, "failed");
        }
    }

    /// Write a batch in order as one segment of the file, then hand it back to its room.
    fn write_batch(&mut self, id: u64, items: Vec<Recorded>) -> io::Result<()> {
        let Some(open) = self.open.get_mut(&id) else { return Ok(()) };
        if open.state.dropped.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut batch = open.stream.batch(&mut self.compressor);
        for item in &items {
            match item {
                Recorded::Frame { tick, frame } => {
                    open.seen.frame(*tick);
                    batch.frame(*tick, frame.entities());
                }
                Recorded::Event { tick, bytes } => {
                    open.seen.event(bytes);
                    batch.event(*tick, bytes);
                }
            }
        }
        let written = batch.write_to(&mut open.file);
        open.state.hand_back(items);
        open.written += written?;
        Ok(())
    }

    fn begin(&mut self, id: u64, header: ReplayHeader, state: Arc<RecordingState>) -> io::Result<()> {
        let replay_id = format!("{:012x}{:08x}", header.started_at_ms & 0xffff_ffff_ffff, rand::random::<u32>());
        let partial = self.policy.dir.join(format!("{replay_id}.replay.gz.partial"));
        let meta = ReplayMeta {
            id: replay_id,
            room_id: header.room_id.clone(),
            room_name: header.room_name.clone(),
            private: header.private,
            round: header.round.round,
            reason: String::new(),
            started_at_ms: header.started_at_ms,
            ended_at_ms: 0,
            duration_s: 0.0,
            bytes: 0,
            frames: 0,
            players: header
                .players
                .iter()
                .map(|p| ReplayPlayer { player_id: p.player_id, name: p.name.clone(), bot: p.bot })
                .collect(),
            node: None,
            url: None,
        };
        let tick_rate_hz = header.tick_rate_hz;
        let started = (|| {
            let mut file = File::create(&partial)?;
            let (stream, written) = ReplayStream::begin(&header, &mut self.compressor, &mut file)?;
            Ok::<_, io::Error>((stream, file, written))
        })();
        match started {
            Ok((stream, file, written)) => {
                let seen = Seen { meta, first_tick: None };
                self.open.insert(id, Open { seen, tick_rate_hz, state, stream, file, written, partial });
                Ok(())
            }
            Err(e) => {
                // Never opened, so abandon() will not find it: settle it here.
                self.discard(&partial, "failed");
                Err(e)
            }
        }
    }

    fn finish(&mut self, id: u64, end: ReplayEnd) -> io::Result<()> {
        let Some(open) = self.open.remove(&id) else { return Ok(()) };
        let Open { seen: Seen { mut meta, first_tick }, tick_rate_hz, state, stream, mut file, written, partial } =
            open;
        // No frame at all counts as no time at all.
        let ticks = first_tick.map_or(0, |first| end.tick.since(first).max(0) as u32);
        let too_short = ticks < MIN_KEPT_SECONDS * u32::from(tick_rate_hz.max(1));
        let nobody = meta.players.is_empty();
        if nobody || too_short || state.dropped.load(Ordering::Acquire) {
            // Nobody played, or too little to watch (a round cut short, as at shutdown),
            // or dropped by the room: nothing worth keeping.
            let outcome = if nobody {
                "empty"
            } else if too_short {
                "too_short"
            } else {
                "dropped"
            };
            drop(file);
            self.discard(&partial, outcome);
            return Ok(());
        }
        let result = (|| {
            let written = written + stream.finish(&end, &mut self.compressor, &mut file)?;
            file.sync_data()?;
            drop(file);
            meta.bytes = written;
            meta.reason = end.reason.clone();
            meta.ended_at_ms = end.ended_at_ms;
            meta.duration_s = ticks as f32 / f32::from(tick_rate_hz.max(1));
            std::fs::rename(&partial, file_path(&self.policy.dir, &meta.id))?;
            let description = meta_path(&self.policy.dir, &meta.id);
            let temporary = description.with_extension("json.partial");
            std::fs::write(&temporary, serde_json::to_vec(&meta).expect("JSON of our own description"))?;
            std::fs::rename(&temporary, &description)
        })();
        self.settled.fetch_add(1, Ordering::AcqRel);
        if let Err(e) = result {
            let _ = std::fs::remove_file(&partial);
            let _ = std::fs::remove_file(file_path(&self.policy.dir, &meta.id));
            metrics::counter!("arena_replays_total", "outcome" => "failed").increment(1);
            tracing::error!(id = %meta.id, error = %e, "cannot finish a replay; deleted");
            return Ok(());
        }
        tracing::info!(id = %meta.id, room = %meta.room_id, round = meta.round, bytes = meta.bytes, "replay written");
        metrics::counter!("arena_replays_total", "outcome" => "written").increment(1);
        metrics::counter!("arena_replay_bytes_total").increment(meta.bytes);
        self.store.insert(meta);
        self.apply_retention();
        Ok(())
    }

    /// Delete a recording in progress (dropped by its room, or failed to write).
    fn abandon(&mut self, id: u64, outcome: &'static str) {
        if let Some(open) = self.open.remove(&id) {
            drop(open.file);
            self.discard(&open.partial, outcome);
        }
    }

    fn discard(&self, partial: &PathBuf, outcome: &'static str) {
        let _ = std::fs::remove_file(partial);
        self.settled.fetch_add(1, Ordering::AcqRel);
        metrics::counter!("arena_replays_total", "outcome" => outcome).increment(1);
        // Rounds nobody played or cut short are normal; the others lost a recording.
        if !matches!(outcome, "empty" | "too_short") {
            tracing::warn!(path = %partial.display(), outcome, "replay not kept");
        }
    }

    fn apply_retention(&mut self) {
        let mut kept: Vec<Kept> = self
            .store
            .all()
            .into_iter()
            .map(|m| Kept { id: m.id, ended_at_ms: m.ended_at_ms, bytes: m.bytes, writing: false })
            .collect();
        kept.extend(self.open.values().map(|o| Kept {
            id: o.seen.meta.id.clone(),
            ended_at_ms: u64::MAX,
            bytes: o.written,
            writing: true,
        }));
        let max_age_ms = self.policy.max_age.as_millis().min(u128::from(u64::MAX)) as u64;
        for id in retention::to_delete(&kept, unix_ms_after(Duration::ZERO), max_age_ms, self.policy.max_bytes) {
            self.store.remove(&id);
            let _ = std::fs::remove_file(meta_path(&self.policy.dir, &id));
            if let Err(e) = std::fs::remove_file(file_path(&self.policy.dir, &id)) {
                tracing::warn!(%id, error = %e, "cannot delete an old replay");
            }
            metrics::counter!("arena_replays_deleted_total").increment(1);
            tracing::debug!(%id, "old replay deleted (retention)");
        }
    }
}

impl Seen {
    fn frame(&mut self, tick: Tick) {
        self.first_tick.get_or_insert(tick);
        self.meta.frames += 1;
    }

    fn event(&mut self, bytes: &[u8]) {
        // Who played: the header's roster and everyone who joined since. Only roster
        // changes are decoded (by their tag), not every kill, chat line and scoreboard.
        if bytes.starts_with(ROSTER_CHANGE_TAG)
            && let Ok(ServerMsg::RosterChange(change)) = decode_server(bytes)
        {
            for joined in change.joined {
                if !self.meta.players.iter().any(|p| p.player_id == joined.player_id) && joined.net_id.0 != 0 {
                    let bot = joined.bot;
                    self.meta.players.push(ReplayPlayer { player_id: joined.player_id, name: joined.name, bot });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use arena_protocol::{PlayerId, PlayerInfo, Pong, RosterChange, ServerMsg, encode};

    use super::ROSTER_CHANGE_TAG;

    #[test]
    fn a_roster_change_is_told_by_its_tag() {
        let change = RosterChange { joined: Vec::<PlayerInfo>::new(), left: vec![PlayerId(1)] };
        assert!(encode(&ServerMsg::RosterChange(change)).starts_with(ROSTER_CHANGE_TAG));
        assert!(!encode(&ServerMsg::Pong(Pong { client_time_ms: 1.0 })).starts_with(ROSTER_CHANGE_TAG));
    }
}
