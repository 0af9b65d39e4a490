//! The replay file format: one round of a room as its spectators saw it, gzip-compressed
//! (written as segments of one gzip stream, `segments.rs`, so a writer of many
//! recordings needs one compressor, not one each).
//!
//! After gunzip, a replay is a sequence of MessagePack values: a [`ReplayHeader`]
//! (whose first two items are the magic string and the format version, so a reader
//! can refuse other files and other versions before reading anything else), then
//! [`Record`]s: a keyframe (a whole snapshot) every [`KEYFRAME_EVERY_S`] seconds,
//! deltas against the previous recorded frame in between, and the room's events as
//! the wire messages everyone received, each with its tick; the last record is `end`.
//! `protocol/README.md` documents it byte by byte for readers in other languages.

mod reader;
mod records;
mod segments;
mod write;

pub use reader::{MAX_DECOMPRESSED_BYTES, Replay, ReplayError, ReplayReader};
pub use records::{
    DeltaScratch, FrameScratch, RecordEncoder, write_delta, write_delta_with, write_end, write_event, write_keyframe,
};
pub use segments::{GzipMember, SegmentCompressor};
pub use write::{Batch, REPLAY_GZIP_LEVEL, ReplayCompressor, ReplayEncoder, ReplayStream, SCRATCH_KEPT_MAX};

use glam::Vec2;
use serde::{Deserialize, Serialize};

use crate::{DeltaSnapshot, PlayerInfo, RoundStart, ServerMsg, Snapshot, Tick};

/// First item of every replay header: tells a replay from any other MessagePack.
pub const MAGIC: &str = "arena-replay";

/// Version of the replay format (not the wire protocol's, which the header names too).
/// A reader refuses files of other versions with [`ReplayError::UnsupportedVersion`].
pub const FORMAT_VERSION: u16 = 1;

/// Seconds between keyframes: seeking decodes at most this much of deltas.
pub const KEYFRAME_EVERY_S: u16 = 5;

/// What a replay is of, written once at the start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplayHeader {
    /// Always [`MAGIC`].
    pub magic: String,
    /// [`FORMAT_VERSION`] when written.
    pub format_version: u16,
    /// The wire protocol's version (`crate::PROTOCOL_VERSION`) of the recorded messages.
    pub protocol_version: u16,
    pub room_id: String,
    pub room_name: String,
    /// Private rooms' replays are listed only to someone who was in them.
    pub private: bool,
    pub round: RoundStart,
    /// Unix milliseconds when the recording began.
    pub started_at_ms: u64,
    /// The room's simulation rate: ticks in the file advance at this rate.
    pub tick_rate_hz: u16,
    /// Frames recorded per second (at most the tick rate): playback interpolates between them.
    pub recorded_rate_hz: u16,
    pub arena_size: Vec2,
    pub player_radius: f32,
    pub projectile_radius: f32,
    pub player_speed: f32,
    pub max_health: u16,
    /// Who was in the room when the recording began (players and bots; ids tell
    /// them apart, see the README's player id ranges). Later joins are events.
    pub players: Vec<PlayerInfo>,
}

/// One item after the header. Encoded like wire messages: `{"<kind>": value}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Record {
    /// The whole world at a tick (`last_input_seq` is 0), as a spectator's `snapshot`.
    Keyframe(Snapshot),
    /// The world at a tick as changes from the previous recorded frame (its `baseline`).
    Delta(DeltaSnapshot),
    /// A message the room sent everyone at a tick: `kill`, `chat`, `event`,
    /// `roster_change` or `scores`.
    Event(TickedMsg),
    /// The last record: how the recording ended.
    End(ReplayEnd),
}

/// A broadcast message and the tick it was sent in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TickedMsg {
    pub tick: Tick,
    pub msg: ServerMsg,
}

/// The end of a recording.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplayEnd {
    /// The last tick recorded.
    pub tick: Tick,
    /// `score_limit`, `time_limit`, `room_closed` (shutdown included) or `room_failed`.
    pub reason: String,
    /// Unix milliseconds when the recording ended.
    pub ended_at_ms: u64,
}

#[cfg(test)]
mod tests;
