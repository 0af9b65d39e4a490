//! The edge: everything that faces the network. The listener accepts, the router
//! answers HTTP (static client, health, the lobby and admin APIs, the monitor),
//! and sessions carry WebSockets: decoded, checked client messages go to a room's
//! inbox; the room's messages and snapshots come back to the socket. The edge
//! names the lobby (to admit players) and the room's channel types; neither
//! names the edge.

pub mod activity;
pub mod assets;
pub mod listener;
pub mod origins;
pub mod router;
pub mod session;
pub mod subprotocol;
pub mod tls;
