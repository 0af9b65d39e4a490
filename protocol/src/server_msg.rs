//! Messages the server sends to a client.

use glam::Vec2;
use serde::{Deserialize, Serialize};

use crate::{NetId, PlayerId, Snapshot};

/// Everything the server may send. Encoded as `{"<variant>": fields}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerMsg {
    /// First message on every connection: who you are and how the room runs.
    Welcome(Welcome),
    /// The room's state after one tick; one per tick.
    Snapshot(Snapshot),
    /// Answer to a [`crate::ClientMsg::Ping`].
    Pong(Pong),
    /// Everyone in the room, sent on join and whenever someone joins or leaves.
    Roster(Vec<PlayerInfo>),
    /// A player was killed (kill feed).
    Kill(Kill),
    /// Something the client should show; the close frame that may follow carries its own code.
    Error(ErrorMsg),
}

/// Sent once, right after the upgrade.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    pub protocol_version: u16,
    pub player_id: PlayerId,
    /// The player's own entity in snapshots.
    pub net_id: NetId,
    /// Opaque room id (as listed by `GET /api/rooms`).
    pub room_id: String,
    pub room_name: String,
    /// Simulation steps per second.
    pub tick_rate_hz: u16,
    /// Snapshots per second the client should expect (equal to the tick rate today).
    pub snapshot_rate_hz: u16,
    /// Width and height of the arena; (0,0) is the top-left corner.
    pub arena_size: Vec2,
    /// Radius of every player's circle.
    pub player_radius: f32,
    /// Radius of every projectile.
    pub projectile_radius: f32,
    /// Player speed in units per second at full stick.
    pub player_speed: f32,
    /// Health of a freshly spawned player.
    pub max_health: u16,
}

/// Answer to a ping.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pong {
    /// The ping's `client_time_ms`, unchanged.
    pub client_time_ms: f64,
}

/// One roster line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlayerInfo {
    pub player_id: PlayerId,
    pub net_id: NetId,
    pub name: String,
}

/// Kill feed entry.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Kill {
    pub killer: PlayerId,
    pub victim: PlayerId,
}

/// A human-readable problem report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorMsg {
    /// One of the codes in [`crate::close_code`].
    pub code: u16,
    pub message: String,
}
