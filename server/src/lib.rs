//! Arena server library: everything but argument parsing lives here, so tests,
//! benches and bots can start a real server on `127.0.0.1:0`.
//!
//! # The parts, and the arrows between them
//!
//! ```text
//! edge        edge/: listener (accept, connection limits), router (HTTP), sessions
//!   │  names ▼ the lobby (join checks, directory) and the room's channel types
//! lobby       lobby/: directory and seat books, join checks, lobby and admin APIs,
//!   │         room list for watchers, cluster (Redis); accounts/: accounts, ratings,
//!   │         leaderboard and history in SQLite or PostgreSQL, derived from the results log
//!   │  opens ▼ rooms and holds their handles
//! simulation  room/: the bevy_ecs world, systems, membership, publishing, the tick loop
//!   │  answers ▲ only through its RoomLink ("may I close?", "I ended")
//!   ▼
//! operations  ops/: metrics, telemetry, history, results log (names no other part);
//!             monitor.rs: `/api/monitor`, reading the directory
//! ```
//!
//! Leaves every part may use: `config`, `settings`, `identity` (tokens and ids),
//! `shutdown` (the signal and its close reason), `web` (HTTP reply helpers).
//! `server.rs` builds the parts and wires them; nothing names it. `stress.rs` runs
//! rooms of house bots without the rest (`arena-server stress`). No file under
//! `room/` names the lobby, the edge or the server.

pub mod accounts;
pub mod allocator;
pub mod config;
pub mod edge;
pub mod identity;
pub mod lobby;
pub mod monitor;
pub mod ops;
pub mod rate;
pub mod replay;
pub mod room;
pub mod server;
pub mod settings;
pub mod shutdown;
pub mod stress;
pub mod web;

pub use config::Config;
pub use server::run;
