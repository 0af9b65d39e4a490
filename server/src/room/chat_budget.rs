//! The room's chat budget: how many chat lines the whole room may broadcast, so a
//! crowd chatting at once cannot fill every client's control queue and close them all.

use std::time::Instant;

use arena_protocol::{ErrorMsg, ServerMsg, close_code, encode};
use bytes::Bytes;

use super::CLIENT_CONTROL_QUEUE;
use crate::rate::TokenBucket;

/// Chat lines the room may broadcast at once: a quarter of a client's control queue
/// ([`CLIENT_CONTROL_QUEUE`], 256), so the whole room's chat arriving in one tick
/// leaves three quarters of every queue for rosters, kills and events. Without it,
/// 52 clients sending their 5-line burst in the same tick (260 lines) filled every
/// queue, and the whole room was closed as too slow.
pub const ROOM_CHAT_BURST: u32 = (CLIENT_CONTROL_QUEUE / 4) as u32;

/// Chat lines a second the room may broadcast after its burst: a full room of 50
/// (the default capacity), every player at their own limit (one line per 2 s), is
/// never refused. A client that stops reading is closed after the slow-client
/// timeout (5 s by default); by then this budget has queued it at most
/// 64 + 5 × 25 = 189 lines, under 256.
pub const ROOM_CHAT_PER_SECOND: u32 = 25;

/// The `arena_budget_refusals_total{budget}` label of a line refused here.
pub const BUDGET_NAME: &str = "room_chat";

/// One room's chat budget and the refusal its spenders get past it.
pub struct RoomChatBudget {
    lines: TokenBucket,
    /// The `error` a sender gets for a refused line, encoded once.
    refusal: Bytes,
}

impl Default for RoomChatBudget {
    fn default() -> RoomChatBudget {
        let refusal = encode(&ServerMsg::Error(ErrorMsg {
            code: close_code::POLICY_VIOLATION,
            message: format!(
                "the room's chat is busy ({ROOM_CHAT_BURST} lines at once, then {ROOM_CHAT_PER_SECOND} a second \
                 from everyone): your line was not sent"
            ),
        }));
        RoomChatBudget {
            lines: TokenBucket::new(ROOM_CHAT_BURST, f64::from(ROOM_CHAT_PER_SECOND)),
            refusal: refusal.into(),
        }
    }
}

impl RoomChatBudget {
    /// Spend one line at `now`; false when the room is over its budget.
    pub fn try_spend(&mut self, now: Instant) -> bool {
        self.lines.try_take_at(now)
    }

    /// What the sender of a refused line is told.
    pub fn refusal(&self) -> Bytes {
        self.refusal.clone()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_burst_then_the_rate_a_second() {
        let mut budget = RoomChatBudget::default();
        let start = Instant::now();
        assert!((0..ROOM_CHAT_BURST).all(|_| budget.try_spend(start)));
        assert!(!budget.try_spend(start), "over the burst");
        let second = start + Duration::from_secs(1);
        assert_eq!((0..ROOM_CHAT_BURST).filter(|_| budget.try_spend(second)).count(), ROOM_CHAT_PER_SECOND as usize);
    }

    #[test]
    fn the_refusal_is_an_error_that_names_the_room() {
        let refusal = arena_protocol::decode_server(&RoomChatBudget::default().refusal()).unwrap();
        assert!(matches!(refusal, ServerMsg::Error(e) if e.message.contains("room's chat")));
    }
}
