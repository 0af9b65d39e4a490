//! WebSocket close codes the server uses, and why. Mirrored in `protocol/README.md`.

/// The server is shutting down or draining.
pub const GOING_AWAY: u16 = 1001;
/// A malformed WebSocket frame (reserved bits, bad continuation, bad close frame).
pub const PROTOCOL_ERROR: u16 = 1002;
/// A text frame: Arena speaks binary MessagePack only.
pub const UNSUPPORTED_DATA: u16 = 1003;
/// A binary message that is not a valid [`crate::ClientMsg`].
pub const INVALID_PAYLOAD: u16 = 1007;
/// A well-formed message with values out of range (NaN, infinite, too long),
/// an invalid or expired session token, or a missing one where tokens are required.
pub const POLICY_VIOLATION: u16 = 1008;
/// A message larger than [`crate::MAX_CLIENT_MESSAGE_BYTES`].
pub const MESSAGE_TOO_BIG: u16 = 1009;
/// The server cannot take the join now (its room limit is reached); try again later.
pub const TRY_AGAIN_LATER: u16 = 1013;
/// The room failed; the client may join another.
pub const INTERNAL_ERROR: u16 = 1011;
/// The upgrade asked for a protocol version (`v=`) this server does not speak.
pub const VERSION_MISMATCH: u16 = 4000;
/// The room asked for is full.
pub const ROOM_FULL: u16 = 4001;
/// The join query was invalid (bad name or room id).
pub const BAD_JOIN: u16 = 4002;
/// The client did not read its messages fast enough and fell too far behind.
pub const TOO_SLOW: u16 = 4003;
/// The room closed (emptied, closed by an operator, or failed to start).
pub const ROOM_CLOSED: u16 = 4004;
/// The room named in the join does not exist (rooms come from the lobby API or matchmaking).
pub const ROOM_NOT_FOUND: u16 = 4005;
/// An operator removed this player; the reason says why.
pub const KICKED: u16 = 4006;
/// The same player connected again elsewhere; this older connection yields.
pub const REPLACED: u16 = 4007;
/// The room's spectator places are all taken.
pub const SPECTATORS_FULL: u16 = 4008;
/// The client did not answer the server's WebSocket pings in time.
pub const HEARTBEAT_TIMEOUT: u16 = 4009;
/// The client sent no application message (input, chat, ping) for the idle timeout.
pub const IDLE: u16 = 4010;
