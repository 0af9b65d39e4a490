//! JSON shapes of the HTTP lobby API (`/health`, `/api/rooms`).

use serde::{Deserialize, Serialize};

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

/// One room in `GET /api/rooms`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoomSummary {
    /// Opaque id; pass it as `room=` when joining.
    pub id: String,
    pub name: String,
    pub players: usize,
    pub capacity: usize,
    pub tick_rate_hz: u16,
}

/// `GET /api/rooms`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoomList {
    pub rooms: Vec<RoomSummary>,
}
