//! The room's side of recording: begin a round, hand over frames (every few ticks)
//! and broadcast bytes, end it. Every hand-over is a `try_send` of things the tick
//! already built; a full queue drops the round's recording, never waits.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use arena_protocol::Tick;
use arena_protocol::replay::{ReplayEnd, ReplayHeader};
use bytes::Bytes;

use super::writer::{RecordingState, Replays, WriterMsg};
use super::{RECORDED_RATE_HZ, RecordedFrame};

/// One room's recorder; rooms that opted out (or a server without replays) hold a disabled one.
pub struct RoundRecorder {
    replays: Option<Arc<Replays>>,
    state: State,
    /// Ticks between recorded frames.
    frame_every: u32,
    last_frame: Option<Tick>,
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
        RoundRecorder { replays, state: State::Idle, frame_every, last_frame: None }
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
        self.send(|id| WriterMsg::Frame { id, tick, frame });
    }

    /// A message everyone in the room was sent, as its wire bytes.
    pub fn event(&mut self, tick: Tick, bytes: Bytes) {
        self.send(|id| WriterMsg::Event { id, tick, bytes });
    }

    /// Close the recording (a round over, a room closing): the writer finishes the file.
    pub fn end(&mut self, end: ReplayEnd) {
        self.send(|id| WriterMsg::End { id, end });
        if self.is_recording() {
            self.state = State::Idle;
        }
    }

    fn send(&mut self, msg: impl FnOnce(u64) -> WriterMsg) {
        let (Some(replays), State::Recording { id, state }) = (&self.replays, &self.state) else { return };
        if !replays.try_send(msg(*id)) {
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
