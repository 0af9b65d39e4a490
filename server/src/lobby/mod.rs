//! The lobby: which rooms exist and who sits where (the directory and its seat
//! books), how players get in (join checks, matchmaking, session tokens), the
//! lobby and admin HTTP APIs, the room list pushed to lobby watchers, and the
//! cluster that shares all of it between nodes through Redis. The lobby opens
//! rooms and holds their handles; rooms answer only through their link.

pub mod addresses;
pub mod admin;
mod admin_bots;
pub mod api;
pub mod budgets;
pub mod cluster;
pub mod directory;
pub mod join;
pub mod replays;
mod reservations;
pub mod room_handle;
mod room_link;
pub mod room_list;
pub mod seats;

pub use directory::{CreateError, Directory, DirectoryLimits, JoinError};
pub use room_handle::RoomHandle;
pub use seats::{Seat, SeatKind};
