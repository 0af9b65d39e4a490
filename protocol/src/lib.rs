//! Wire types shared by the Arena server and its clients, encoded as MessagePack.
//!
//! Every WebSocket message is one binary frame holding one MessagePack value:
//! a [`ClientMsg`] from client to server, a [`ServerMsg`] from server to client.
//! Structs are encoded as arrays (field order is the wire order), enums as a
//! one-entry map from the variant name to its fields. `protocol/README.md` is
//! the full reference, written so a client in another language can be built
//! from it alone.

pub mod client_msg;
pub mod close_code;
pub mod codec;
pub mod delta;
pub mod ids;
pub mod lobby;
pub mod replay;
pub mod server_msg;
pub mod snapshot;
pub mod tick;
pub mod wire_js;

pub use client_msg::{ChatText, ClientMsg, Controls, Input, Ping};
pub use codec::{CodecError, MAX_CLIENT_MESSAGE_BYTES, decode_client, decode_server, encode};
pub use delta::{Baselines, DeltaSnapshot, EntityChange};
pub use ids::{NetId, PlayerId};
pub use server_msg::{
    ChatLine, ErrorMsg, Notice, PlayerInfo, Pong, RoomEvent, RosterChange, RoundResults, RoundStart, SCOREBOARD_SIZE,
    ServerMsg, Standing, Welcome,
};
pub use snapshot::{EntityKind, EntityState, Snapshot, SnapshotKind, WireEntity};
pub use tick::Tick;
pub use wire_js::wire_js;

/// Version of the wire format. A client announces it in the upgrade query (`v=`);
/// the server closes a connection that speaks another one with [`close_code::VERSION_MISMATCH`].
/// 2: house bots are marked (`EntityKind::Bot`, `bot` in roster lines and standings).
pub const PROTOCOL_VERSION: u16 = 2;
