//! The room's side of recording: begin a round, hand over frames (every few ticks)
//! and broadcast bytes, end it. What the tick already built is gathered into a batch
//! (an `Arc` clone or a `Bytes` a thing) and the batch goes to the writer's queue
//! about once a second with one `try_send`; a full queue drops the round's recording,
//! never waits. The writer hands each written batch back, so the frames are freed
//! and the buffer reused on the room's own thread.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use arena_protocol::Tick;
use arena_protocol::replay::{ReplayEnd, ReplayHeader};
use bytes::Bytes;

use super::writer::{Recorded, RecordingState, Replays, WriterMsg};
use super::{RECORDED_RATE_HZ, RecordedFrame};

/// Frames a batch gathers before it goes to the writer: a second of recording at 10 Hz.
/// Fewer hand-overs cost the room less (one queue operation a second, not one a
/// frame or event); more hold more frames alive and reach the disk later.
const FRAMES_PER_BATCH: usize = 10;

/// Past this many things (a burst of events between frames), a batch goes at once.
const MAX_BATCH: usize = 256;

/// One room's recorder; rooms that opted out (or a server without replays) hold a disabled one.
pub struct RoundRecorder {
    replays: Option<Arc<Replays>>,
    state: State,
    /// Ticks between recorded frames.
    frame_every: u32,
    last_frame: Option<Tick>,
    /// What was recorded since the last batch went, how many frames of it and its size.
    batch: Vec<Recorded>,
    frames_in_batch: usize,
    batch_bytes: u64,
}

enum State {
    /// Not recording; the next round with a player in it begins a recording.
    Idle,
    Recording {
        id: u64,
        state: Arc<RecordingState>,
    },
    /// The queue was full: this round's recording was dropped; the next round records again.
    Dropped,
}

impl RoundRecorder {
    pub fn new(replays: Option<Arc<Replays>>, tick_rate_hz: u16) -> RoundRecorder {
        let frame_every = u32::from(tick_rate_hz.max(1)).div_ceil(u32::from(RECORDED_RATE_HZ)).max(1);
        RoundRecorder {
            replays,
            state: State::Idle,
            frame_every,
            last_frame: None,
            batch: Vec::new(),
            frames_in_batch: 0,
            batch_bytes: 0,
        }
    }

    /// Frames per second this recorder keeps, for the header.
    pub fn recorded_rate_hz(&self, tick_rate_hz: u16) -> u16 {
        (u32::from(tick_rate_hz) / self.frame_every).max(1) as u16
    }

    /// Whether a recording should begin now (enabled, and none running or dropped this round).
    pub fn ready_to_begin(&self) -> bool {
        self.replays.is_some() && matches!(self.state, State::Idle)
    }

    pub fn is_recording(&self) -> bool {
        matches!(self.state, State::Recording { .. })
    }

    /// A new round: a recording dropped in the last one may begin again.
    pub fn round_started(&mut self) {
        if matches!(self.state, State::Dropped) {
            self.state = State::Idle;
        }
    }

    pub fn begin(&mut self, header: ReplayHeader) {
        let Some(replays) = &self.replays else { return };
        self.last_frame = None;
        self.batch.clear();
        (self.frames_in_batch, self.batch_bytes) = (0, 0);
        self.state = match replays.begin(header) {
            Some((id, state)) => State::Recording { id, state },
            None => State::Dropped,
        };
    }

    /// Whether this tick's frame is to be recorded.
    pub fn frame_due(&self, tick: Tick) -> bool {
        self.is_recording() && self.last_frame.is_none_or(|last| tick.since(last) >= self.frame_every as i32)
    }

    pub fn frame(&mut self, tick: Tick, frame: Arc<dyn RecordedFrame>) {
        self.last_frame = Some(tick);
        self.frames_in_batch += 1;
        let bytes = std::mem::size_of_val(frame.entities());
        self.gather(Recorded::Frame { tick, frame }, bytes);
    }

    /// A message everyone in the room was sent, as its wire bytes.
    pub fn event(&mut self, tick: Tick, bytes: Bytes) {
        let size = bytes.len();
        self.gather(Recorded::Event { tick, bytes }, size);
    }

    /// Close the recording (a round over, a room closing): what is gathered goes, then
    /// the writer finishes the file.
    pub fn end(&mut self, end: ReplayEnd) {
        self.send_batch();
        self.send(0, |id| WriterMsg::End { id, end });
        if self.is_recording() {
            self.state = State::Idle;
        }
    }

    fn gather(&mut self, item: Recorded, bytes: usize) {
        if !self.is_recording() {
            return;
        }
        self.batch.push(item);
        self.batch_bytes += bytes as u64;
        if self.frames_in_batch >= FRAMES_PER_BATCH || self.batch.len() >= MAX_BATCH {
            self.send_batch();
        }
    }

    /// The batch to the writer, and a buffer it handed back (emptied here) for the next one.
    fn send_batch(&mut self) {
        let State::Recording { state, .. } = &self.state else { return };
        if self.batch.is_empty() {
            return;
        }
        let next = state.take_handed_back().unwrap_or_else(|| Vec::with_capacity(self.batch.capacity()));
        let items = std::mem::replace(&mut self.batch, next);
        let bytes = std::mem::take(&mut self.batch_bytes);
        self.frames_in_batch = 0;
        self.send(bytes, |id| WriterMsg::Batch { id, items, bytes });
    }

    fn send(&mut self, bytes: u64, msg: impl FnOnce(u64) -> WriterMsg) {
        let (Some(replays), State::Recording { id, state }) = (&self.replays, &self.state) else { return };
        if !replays.try_send(msg(*id), bytes) {
            // Storage is not keeping up: give up this round, not the tick.
            state.dropped.store(true, Ordering::Release);
            tracing::warn!(recording = id, "replay queue full: this round's recording is dropped");
            self.state = State::Dropped;
        }
    }
}

impl Drop for RoundRecorder {
    /// A room that ends without closing its recording (it cannot, short of a bug)
    /// leaves no half file behind: the writer drops it.
    fn drop(&mut self) {
        if let State::Recording { state, .. } = &self.state {
            state.dropped.store(true, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use arena_protocol::replay::{FORMAT_VERSION, MAGIC, Replay};
    use arena_protocol::{
        EntityKind, EntityState, NetId, PROTOCOL_VERSION, PlayerId, RoundStart, ServerMsg, WireEntity, encode,
    };
    use glam::Vec2;

    use super::*;
    use crate::replay::{ReplayPolicy, Replays, spawn_writer};

    struct Frame(Vec<WireEntity>);

    impl RecordedFrame for Frame {
        fn entities(&self) -> &[WireEntity] {
            &self.0
        }
    }

    fn frame_at(x: f32) -> Arc<dyn RecordedFrame> {
        let state = EntityState {
            net_id: NetId(1),
            kind: EntityKind::Player,
            owner: PlayerId(1),
            pos: Vec2::new(x, 10.0),
            vel: Vec2::ZERO,
            aim: 0.0,
            health: 100,
            score: 0,
        };
        Arc::new(Frame(vec![state.into()]))
    }

    fn header() -> ReplayHeader {
        ReplayHeader {
            magic: MAGIC.into(),
            format_version: FORMAT_VERSION,
            protocol_version: PROTOCOL_VERSION,
            room_id: "r".into(),
            room_name: "r".into(),
            private: false,
            round: RoundStart { round: 1, score_limit: 10, time_limit_s: 60 },
            started_at_ms: 1_795_000_000_000,
            tick_rate_hz: 30,
            recorded_rate_hz: 10,
            arena_size: Vec2::new(2000.0, 2000.0),
            player_radius: 20.0,
            projectile_radius: 5.0,
            player_speed: 300.0,
            max_health: 100,
            players: vec![arena_protocol::PlayerInfo {
                player_id: PlayerId(1),
                net_id: NetId(1),
                name: "ann".into(),
                bot: false,
            }],
        }
    }

    /// A writer on a folder of its own and a recorder that has begun a round.
    fn recording(test: &str) -> (std::path::PathBuf, Arc<Replays>, RoundRecorder) {
        let dir = std::env::temp_dir().join(format!("arena-recorder-{test}-{}", std::process::id()));
        let policy = ReplayPolicy { dir: dir.clone(), max_age: Duration::from_secs(3600), max_bytes: 1 << 30 };
        let replays = spawn_writer(policy).expect("a replay folder");
        let mut recorder = RoundRecorder::new(Some(replays.clone()), 30);
        recorder.begin(header());
        (dir, replays, recorder)
    }

    /// What `check` gives, once it gives something; panics naming `what` after 10 s.
    fn within_10_s<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match check() {
                Some(found) => return found,
                None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                None => panic!("no {what} in 10 s"),
            }
        }
    }

    /// Frames and events go to the writer in batches of a second, reach the file in
    /// order (the last, part-filled batch with the end), and written batches come back
    /// to the room to be emptied and reused.
    #[test]
    fn batches_reach_the_file_in_order_and_come_back_to_the_room() {
        let (dir, replays, mut recorder) = recording("order");
        let State::Recording { state, .. } = &recorder.state else { panic!("recording") };
        let state = state.clone();
        let frames = FRAMES_PER_BATCH * 2 + 5;
        for n in 0..frames {
            let tick = Tick(3 * n as u32 + 1);
            assert!(recorder.frame_due(tick));
            recorder.frame(tick, frame_at(n as f32));
            let chat = arena_protocol::ChatLine { player_id: PlayerId(1), name: "ann".into(), text: format!("{n}") };
            recorder.event(tick, Bytes::from(encode(&ServerMsg::Chat(chat))));
            assert!(
                recorder.batch.len() < 2 * FRAMES_PER_BATCH,
                "a batch goes once it holds {FRAMES_PER_BATCH} frames"
            );
        }
        // A batch goes as its 10th frame comes: the event of that tick opens the next one.
        assert_eq!(recorder.batch.len(), 1 + 5 * 2, "the last 5 frames and their events wait for the end");
        // The first two batches come back written.
        let back = within_10_s("written batch handed back", || state.take_handed_back());
        assert!(back.is_empty() && back.capacity() >= FRAMES_PER_BATCH * 2, "emptied, its room kept");
        let end_tick = Tick(3 * frames as u32);
        let ended_at_ms = crate::ops::unix_ms_after(Duration::ZERO);
        recorder.end(ReplayEnd { tick: end_tick, reason: "score_limit".into(), ended_at_ms });
        assert!(!recorder.is_recording() && recorder.batch.is_empty());
        let meta = within_10_s("replay listed", || replays.store.all().pop());
        let replay = Replay::read(&std::fs::read(crate::replay::store::file_path(&dir, &meta.id)).unwrap()).unwrap();
        let xs: Vec<f32> = replay.frames.iter().map(|f| f.entities[0].pos.x).collect();
        assert_eq!(xs, (0..frames).map(|n| n as f32).collect::<Vec<_>>(), "every frame once, in order");
        let texts: Vec<String> = replay
            .events
            .iter()
            .map(|e| match &e.msg {
                ServerMsg::Chat(c) => c.text.clone(),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(texts, (0..frames).map(|n| n.to_string()).collect::<Vec<_>>());
        assert_eq!(replay.end.tick, end_tick);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A round that ends before its first frame (cut short at once, as at shutdown)
    /// leaves no replay to list, as one nobody played in.
    #[test]
    fn a_round_without_a_frame_is_not_kept() {
        let (dir, replays, mut recorder) = recording("no-frame");
        let chat = arena_protocol::ChatLine { player_id: PlayerId(1), name: "ann".into(), text: "hi".into() };
        recorder.event(Tick(1), Bytes::from(encode(&ServerMsg::Chat(chat))));
        let ended_at_ms = crate::ops::unix_ms_after(Duration::ZERO);
        recorder.end(ReplayEnd { tick: Tick(1), reason: "room_closed".into(), ended_at_ms });
        within_10_s("settling of the recording by the writer", || replays.all_written().then_some(()));
        assert!(replays.store.all().is_empty(), "not listed");
        let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name()).collect();
        assert!(leftovers.is_empty(), "no file left: {leftovers:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A round cut short after a few frames (under a second at the room's tick rate)
    /// leaves no replay, as an empty one; a second's worth is kept. The writer settles
    /// recordings in order, so once the kept one is listed the short one is settled.
    #[test]
    fn a_round_shorter_than_the_minimum_is_not_kept() {
        let (dir, replays, mut recorder) = recording("short");
        let min_ticks = crate::replay::writer::MIN_KEPT_SECONDS * 30;
        let record_until = |recorder: &mut RoundRecorder, end_tick: u32| {
            for tick in (1..=end_tick).step_by(3) {
                recorder.frame(Tick(tick), frame_at(tick as f32));
            }
            let ended_at_ms = crate::ops::unix_ms_after(Duration::ZERO);
            recorder.end(ReplayEnd { tick: Tick(end_tick), reason: "room_closed".into(), ended_at_ms });
        };
        // First frame at tick 1: ending at `min_ticks` covers one tick less than the minimum.
        record_until(&mut recorder, min_ticks);
        assert!(recorder.ready_to_begin(), "the short recording ended");
        recorder.begin(header());
        record_until(&mut recorder, min_ticks + 1);
        let kept = within_10_s("the second recording listed", || replays.store.all().pop());
        within_10_s("settling of both recordings by the writer", || replays.all_written().then_some(()));
        assert_eq!(replays.store.all().len(), 1, "only the one of a second is listed");
        assert_eq!(kept.duration_s, 1.0);
        let mut left: Vec<String> =
            std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into()).collect();
        left.sort();
        assert_eq!(left, [format!("{}.json", kept.id), format!("{}.replay.gz", kept.id)], "no file of the short one");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A batch that would take the queue past its byte budget gives up its round (the
    /// room goes on; the writer deletes the partial file), whatever the count of batches.
    #[test]
    fn a_batch_past_the_queue_budget_drops_the_round() {
        let (dir, replays, mut recorder) = recording("budget");
        let entity = frame_at(0.0).entities()[0];
        // Each frame counts its size: ten of these are a batch past REPLAY_QUEUE_BYTES.
        let per_frame = crate::replay::REPLAY_QUEUE_BYTES as usize / std::mem::size_of::<WireEntity>() / 9;
        let big: Arc<dyn RecordedFrame> = Arc::new(Frame(vec![entity; per_frame]));
        for n in 0..FRAMES_PER_BATCH {
            assert!(recorder.is_recording(), "recording until the batch goes");
            recorder.frame(Tick(3 * n as u32 + 1), big.clone());
        }
        assert!(!recorder.is_recording() && !recorder.ready_to_begin(), "dropped for this round");
        recorder.round_started();
        assert!(recorder.ready_to_begin(), "the next round records again");
        within_10_s("settling of the dropped recording by the writer", || replays.all_written().then_some(()));
        assert!(replays.store.all().is_empty());
        let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name()).collect();
        assert!(leftovers.is_empty(), "no partial file left: {leftovers:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
