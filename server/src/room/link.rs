//! The room's narrow line back to whoever opened it, defined on the room's side
//! so that nothing under `room/` names the lobby: "I have been empty a while, may
//! I close?" and "I have ended". Seats the lobby counts reach the room only as
//! opaque [`SeatHold`]s that it keeps or drops.

/// What a room tells its owner.
pub trait RoomLink: Send + 'static {
    /// The room has stayed empty for its grace. True when it may close now (the
    /// owner has stopped offering it); false when a seat was taken meanwhile.
    fn close_if_empty(&self) -> bool;
    /// The room's thread has ended, however it ended (panics included).
    fn ended(&self);
}

/// A seat the lobby keeps counted for as long as this value lives. A room holds
/// a dropped player's seat this way during the reconnection grace, and drops it
/// when the player comes back (on a seat of their own), leaves for good or the
/// grace runs out.
pub trait SeatHold: Send + std::fmt::Debug {}
