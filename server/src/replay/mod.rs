//! Match replays: every round of a room recorded off the tick, kept under a
//! retention policy, listed and served. The room hands over what it already built
//! (the tick's shared snapshot frame and the wire bytes of what it broadcast) into
//! one bounded queue; a writer thread encodes, compresses and writes. The file
//! format and its reader are in `arena_protocol::replay`.
//!
//! This part names no other part of the server but operations (the room names it;
//! the lobby serves its API, `lobby/replays/`).

pub mod recorder;
pub mod retention;
pub mod sample;
pub mod store;
pub mod writer;

use std::path::PathBuf;
use std::time::Duration;

use arena_protocol::{ServerMsg, WireEntity};

pub use recorder::RoundRecorder;
pub use store::{ReplayMeta, ReplayStore};
pub use writer::{Replays, spawn_writer};

/// Frames recorded per second. Playback interpolates between frames as the live
/// client does between snapshots, so 10 Hz looks the same as 30 Hz on screen and
/// costs about a third of the bytes (a 50-player room then stays under 1 MB a minute).
pub const RECORDED_RATE_HZ: u16 = 10;

/// Messages waiting for the writer, from every room together. A room sends about one
/// a second (a batch of ten frames and the events between them), so this is some
/// 25 s of 20 busy rooms, or 2.5 s of 200.
pub const REPLAY_QUEUE: usize = 512;

/// What the waiting batches may hold in all (entities at their size in memory, events
/// at their length): a batch that would pass it gives up its round's recording. Rooms
/// of 1,000 make batches of about half a megabyte, and a chat flood larger events, so
/// the count of batches alone bounds nothing useful.
pub const REPLAY_QUEUE_BYTES: u64 = 64 << 20;

/// Where replays go and how long they stay.
#[derive(Clone, Debug)]
pub struct ReplayPolicy {
    pub dir: PathBuf,
    /// Finished replays older than this are deleted.
    pub max_age: Duration,
    /// Past this many bytes in all, the oldest finished replays are deleted.
    pub max_bytes: u64,
}

/// A frame the room already built, shared with the writer instead of copied.
pub trait RecordedFrame: Send + Sync {
    /// Every entity of the frame, sorted by net id.
    fn entities(&self) -> &[WireEntity];
}

/// Whether a broadcast message belongs in a replay: what a spectator needs to see
/// the round again (the kill feed, chat, presence, round events, the scoreboard).
pub fn is_recorded(msg: &ServerMsg) -> bool {
    matches!(
        msg,
        ServerMsg::Kill(_)
            | ServerMsg::Chat(_)
            | ServerMsg::Event(_)
            | ServerMsg::RosterChange(_)
            | ServerMsg::Scores(_)
    )
}
