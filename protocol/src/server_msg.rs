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
    /// The room's state after one tick; one per tick (per snapshot interval).
    Snapshot(Snapshot),
    /// Answer to a [`crate::ClientMsg::Ping`].
    Pong(Pong),
    /// Everyone in the room: sent to a client when it joins or reconnects. It keeps
    /// it up to date from the `roster_change` messages that follow.
    Roster(Vec<PlayerInfo>),
    /// Who joined and who left since the last roster message; at most one a tick,
    /// to everyone. Apply `joined`, then `left`.
    RosterChange(RosterChange),
    /// A player was killed (kill feed).
    Kill(Kill),
    /// Something the client should show; the close frame that may follow carries its own code.
    Error(ErrorMsg),
    /// A chat line said in the room.
    Chat(ChatLine),
    /// Something happened in the room.
    Event(RoomEvent),
    /// The best [`SCOREBOARD_SIZE`] standings, best first, once a second (snapshots
    /// may carry only the nearby players; the whole table comes with `round_over`).
    Scores(Vec<Standing>),
    /// A snapshot as the changes since one the client acknowledged; replaces
    /// `snapshot` once the client sends `ack_tick` in its inputs.
    Delta(crate::delta::DeltaSnapshot),
    /// The public rooms, on the lobby feed (`/ws/lobby`): first on connecting, then
    /// whenever the list changes.
    Lobby(Vec<crate::lobby::LobbyRoom>),
}

/// A chat line as everyone in the room receives it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatLine {
    pub player_id: PlayerId,
    pub name: String,
    pub text: String,
}

/// Room events. Encoded like messages: `{"event": {"<kind>": fields}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomEvent {
    /// Someone joined (as a player or a spectator).
    Joined(PlayerInfo),
    /// Someone left, or their reconnection grace ran out.
    Left(PlayerInfo),
    /// A round began; it ends at `score_limit` kills or after `time_limit_s`.
    RoundStarted(RoundStart),
    /// A round ended; the next starts after `next_round_in_s`.
    RoundOver(RoundResults),
    /// The room is closing (the close frame follows).
    Closing(Notice),
    /// A message from the server's operators to everyone.
    Announcement(Notice),
}

/// A text from the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    pub text: String,
}

/// Start of a round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoundStart {
    /// 1 for the room's first round.
    pub round: u32,
    pub score_limit: u32,
    pub time_limit_s: u32,
}

/// End of a round and its standings, best first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoundResults {
    pub round: u32,
    /// `"score_limit"`, `"time_limit"` or `"room_closed"`.
    pub reason: String,
    pub duration_s: f32,
    pub next_round_in_s: f32,
    pub standings: Vec<Standing>,
}

/// One player's line in a round's results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Standing {
    pub player_id: PlayerId,
    pub name: String,
    pub kills: u32,
    pub deaths: u32,
    /// A house bot (simulated by the server), not a person.
    pub bot: bool,
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
    /// True when this connection watches without a body (its `net_id` is 0).
    pub spectator: bool,
    /// The current round (see [`RoundStart`]).
    pub round: RoundStart,
}

/// Answer to a ping.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pong {
    /// The ping's `client_time_ms`, unchanged.
    pub client_time_ms: f64,
}

/// Standings a `scores` message lists at most.
pub const SCOREBOARD_SIZE: usize = 10;

/// The roster's changes in one tick.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RosterChange {
    pub joined: Vec<PlayerInfo>,
    pub left: Vec<PlayerId>,
}

/// One roster line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlayerInfo {
    pub player_id: PlayerId,
    pub net_id: NetId,
    pub name: String,
    /// A house bot (simulated by the server), not a person.
    pub bot: bool,
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
