//! JSON shapes of the HTTP lobby API. Documented with examples in the top-level README.

use serde::{Deserialize, Serialize};

use crate::PlayerId;

/// `GET /health`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// Always `"ok"` while the server serves.
    pub status: String,
    pub rooms: usize,
    pub players: usize,
    /// The default tick rate of rooms on this server.
    pub tick_rate_hz: u16,
    pub version: String,
}

/// How a room's rounds end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchRules {
    /// Kills that win a round (1–1000).
    pub score_limit: u32,
    /// Seconds a round lasts at most (10–3600).
    pub time_limit_s: u32,
}

/// One room as the lobby shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoomSummary {
    /// Opaque id; pass it as `room=` when joining.
    pub id: String,
    pub name: String,
    pub players: usize,
    pub spectators: usize,
    pub capacity: usize,
    pub tick_rate_hz: u16,
    /// Unlisted: joinable by id only.
    pub private: bool,
    /// Seconds since the room was made.
    pub age_s: u64,
    /// `"playing"` or `"results"` (between rounds).
    pub match_state: String,
    pub round: u32,
    pub rules: MatchRules,
    /// House bots playing in the room (not counted in `players`; they hold no seat).
    #[serde(default)]
    pub bots: usize,
    /// With several nodes: the node that runs the room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// With several nodes: the WebSocket URL of that node (join there with `?room=ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ws_url: Option<String>,
}

/// One public room as the lobby feed (`/ws/lobby`) sends it: a `RoomSummary`
/// without what changes by itself (its age), so an unchanged lobby sends nothing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LobbyRoom {
    pub id: String,
    pub name: String,
    pub players: usize,
    pub spectators: usize,
    pub capacity: usize,
    /// `"playing"` or `"results"`.
    pub match_state: String,
    pub round: u32,
    /// With several nodes: where to join it (`?room=ID` added); nil: on this server.
    pub ws_url: Option<String>,
    /// House bots playing in the room (not in `players`).
    pub bots: usize,
}

impl From<&RoomSummary> for LobbyRoom {
    fn from(r: &RoomSummary) -> LobbyRoom {
        LobbyRoom {
            id: r.id.clone(),
            name: r.name.clone(),
            players: r.players,
            spectators: r.spectators,
            capacity: r.capacity,
            match_state: r.match_state.clone(),
            round: r.round,
            ws_url: r.ws_url.clone(),
            bots: r.bots,
        }
    }
}

/// `GET /api/rooms`: the public rooms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoomList {
    pub rooms: Vec<RoomSummary>,
}

/// `POST /api/rooms` body. Only `name` is required.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRoom {
    pub name: String,
    /// 1–1000; default the server's `--room-capacity`.
    #[serde(default)]
    pub capacity: Option<usize>,
    /// 10–60; default the server's `--tick-rate`.
    #[serde(default)]
    pub tick_rate_hz: Option<u16>,
    #[serde(default)]
    pub private: bool,
    /// Default: the settings file's `score_limit` and `round_time_limit_s`.
    #[serde(default)]
    pub rules: Option<MatchRules>,
    /// House bots to keep the room playing. Default: none (`fill_to` 0).
    #[serde(default)]
    pub bots: Option<RoomBots>,
    /// `false`: do not record this room's rounds as replays. Default: recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replays: Option<bool>,
}

/// A room's house bots, as `POST /api/rooms` and `POST /api/admin/rooms/{id}/bots`
/// take them: people plus bots up to `fill_to` (at most the capacity), at `difficulty`
/// (`"easy"`, `"normal"` or `"hard"`). Either may be left out: unchanged, or for a new
/// room 0 and `"normal"`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomBots {
    #[serde(default)]
    pub fill_to: Option<usize>,
    #[serde(default)]
    pub difficulty: Option<String>,
}

/// `POST /api/admin/rooms/{id}/bots` answer: the room's bots as they are now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoomBotsSet {
    pub fill_to: usize,
    pub difficulty: String,
    /// Bots playing now (fewer than `fill_to` minus people when the room is full).
    pub bots: usize,
}

/// `POST /api/matchmake` answer: a seat held for a few seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Matchmade {
    pub room: RoomSummary,
    /// WebSocket URL that claims the seat (it carries the reservation).
    pub ws_url: String,
    pub reservation: String,
    /// Unix time in milliseconds after which the seat is released.
    pub expires_at: u64,
}

/// `POST /api/session` body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionRequest {
    pub name: String,
}

/// `POST /api/session` answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionGranted {
    /// Signed token (JWT, HS256); pass it as `token=` when joining.
    pub token: String,
    pub player_id: PlayerId,
    pub name: String,
    /// Unix time in seconds.
    pub expires_at: u64,
}

/// `POST /api/admin/announce` body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Announce {
    pub text: String,
}

/// `POST /api/admin/rooms/{id}/kick` body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Kick {
    pub player_id: PlayerId,
    pub reason: String,
}

/// Every 4xx/5xx answer of the API.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
    /// With 429: the per-client budget that was spent (`reservations_per_address`,
    /// `open_rooms_per_address`, `rooms_per_address_per_hour`, `private_rooms`,
    /// `sessions_per_address_per_minute`, `connections_per_address`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<String>,
}
