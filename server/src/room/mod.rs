//! Per-room simulation task: owns the ECS world and advances it at a fixed tick
//! on a thread of its own, talking to sessions only through bounded channels.
//!
//! Why a thread per room and not a tokio task: a tick is CPU work. Measured with
//! `cargo bench -p arena-server --bench room_tick` (every player moving and
//! firing): 29 µs for 50 players, 124 µs for 200, 0.43 ms for 1,000. On a tokio
//! I/O worker that time would delay every socket the worker serves, and a heavy
//! room would delay the others' ticks; on its own thread the OS spreads rooms
//! over all cores and the I/O workers only move bytes. `std::thread::sleep` to
//! an absolute deadline keeps the rate without drift.

pub mod chat_budget;
pub mod combat;
pub mod components;
pub mod encoder;
pub mod fault;
pub mod house_bots;
pub mod input;
pub mod interest;
pub mod kill_feed;
pub mod latest;
pub mod movement;
pub mod pacing;
pub mod priority;
pub mod resources;
pub mod rounds;
pub mod snapshot;
pub mod tick_encoding;
pub mod world;
pub mod writer_wakes;

pub mod clients;
mod link;
pub mod membership;
pub mod publish;
mod replay_header;
mod spec;
mod task;

pub use link::{RoomLink, SeatHold};
pub use spec::{RoomSetup, RoomSpec, RoomStatus};

use std::sync::Arc;

use arena_protocol::{Input, PlayerId, SnapshotKind, Tick};
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::identity::Identity;

/// Inputs of about four ticks of a full room (1,000 players) before senders
/// see it as full and drop input (a client re-sends every tick anyway).
pub const ROOM_INBOX: usize = 4096;

/// Control messages (welcome, roster, events, chat) a client may have waiting:
/// several seconds of a busy room's chat, kills and rosters (rosters are sent at
/// most once a tick). A client this far behind is not reading and is disconnected.
pub const CLIENT_CONTROL_QUEUE: usize = 256;

/// What sessions and the lobby send to a room.
#[derive(Debug)]
pub enum RoomInput {
    Join(JoinRequest),
    /// A connection ended. Its seat comes along so a player with a verified
    /// identity can be held for a reconnection.
    Leave {
        player_id: PlayerId,
        connection: u64,
        seat: Option<Box<dyn SeatHold>>,
    },
    Input(PlayerId, Input),
    Chat(PlayerId, String),
    Admin(AdminCommand),
}

/// Operator actions on a room.
#[derive(Debug)]
pub enum AdminCommand {
    Announce(String),
    Close(String),
    /// Answers whether the player was in the room.
    Kick {
        player_id: PlayerId,
        reason: String,
        done: oneshot::Sender<bool>,
    },
    /// Make the next tick panic (only sent with `--fault-injection`).
    Fault,
    /// Change the house bots; answers how they are now.
    Bots {
        change: BotChange,
        done: oneshot::Sender<BotsNow>,
    },
}

/// An operator's change to a room's house bots; `None` keeps what the room has.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BotChange {
    pub fill_to: Option<usize>,
    pub difficulty: Option<house_bots::Difficulty>,
}

/// A room's house bots after an admin change.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BotsNow {
    pub fill: house_bots::BotFill,
    /// Bots playing now.
    pub playing: usize,
}

/// A session asking to take part. Its seat was already reserved.
#[derive(Debug)]
pub struct JoinRequest {
    pub identity: Identity,
    pub spectator: bool,
    /// Tells this connection's leave apart from a newer connection of the same player.
    pub connection: u64,
    pub outbox: ClientOutbox,
}

/// The room's side of one client's outgoing channels.
#[derive(Debug)]
pub struct ClientOutbox {
    /// Latest-wins: a slow client skips to the newest snapshot, and a close
    /// written here cannot be lost behind a full queue. Its control queue holds the
    /// ordered messages that must not be skipped.
    pub latest: latest::LatestSender,
}

impl ClientOutbox {
    /// Queue a control message and ring the writer's doorbell; a full queue is the
    /// caller's to handle (the client is not reading).
    pub fn send_control(&self, message: Bytes) -> Result<(), latest::ControlRefused> {
        self.latest.send_control(message)
    }
}

/// The newest thing a client's writer should act on (latest wins).
#[derive(Clone, Debug, Default)]
pub enum Latest {
    /// Nothing yet.
    #[default]
    Waiting,
    Snapshot(OutgoingSnapshot),
    /// Send this close frame and end the connection.
    Closed {
        code: u16,
        reason: String,
    },
}

/// One client's snapshot: its own header fields and its body, spliced from the
/// tick's pieces shared by every client of the room when the writer writes it.
#[derive(Clone, Debug)]
pub struct OutgoingSnapshot {
    pub kind: SnapshotKind,
    pub tick: Tick,
    pub last_input_seq: u32,
    pub body: tick_encoding::SplicedBody,
}

impl OutgoingSnapshot {
    /// This client's whole snapshot message: a few bytes of header, then its body.
    pub fn write_message(&self, out: &mut Vec<u8>) {
        out.clear();
        arena_protocol::snapshot::write_snapshot_header(self.kind, self.tick, self.last_input_seq, out);
        self.body.write(out);
    }
}

/// What each room thread runs first (the binary sets it: its allocator's per-thread settings).
static THREAD_START: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Have every room thread started from now on run `hook` first. Only the first call counts.
pub fn on_thread_start(hook: fn()) {
    let _ = THREAD_START.set(hook);
}

/// Start a room's thread. `link` is how it tells its owner that it is empty or has ended.
pub fn spawn(
    spec: Arc<RoomSpec>,
    status: Arc<RoomStatus>,
    inbox: mpsc::Receiver<RoomInput>,
    setup: &RoomSetup,
    link: Box<dyn RoomLink>,
) -> std::io::Result<()> {
    let name = format!("room-{}", spec.id);
    let nice = setup.room_thread_nice;
    let room = task::RoomTask::new(spec, status, inbox, setup);
    std::thread::Builder::new().name(name).spawn(move || {
        if let Some(hook) = THREAD_START.get() {
            hook();
        }
        priority::apply_to_this_thread(nice);
        room.run(link)
    })?;
    Ok(())
}
