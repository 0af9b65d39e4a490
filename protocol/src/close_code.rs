//! WebSocket close codes the server uses, and why. Mirrored in `protocol/README.md`.
//!
//! Each code is written once, in the table below: the macro makes its `const` and
//! its entry in [`ALL`], from which the browser's `assets/wire.js` is generated. The
//! first paragraph of a code's doc is its meaning for players (the browser shows it
//! when a close carries no reason), so it is plain prose; Rust detail goes after it.

/// One close code as the table defines it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseCode {
    pub code: u16,
    /// The const's name, e.g. `"ROOM_FULL"`.
    pub name: &'static str,
    /// The const's whole doc comment, one line per `///` line.
    pub doc: &'static str,
}

impl CloseCode {
    /// The doc's first paragraph on one line: what a player reads about this close.
    pub fn meaning(&self) -> String {
        let lines = self.doc.lines().map(str::trim).take_while(|line| !line.is_empty());
        lines.collect::<Vec<_>>().join(" ")
    }
}

macro_rules! close_codes {
    ($($(#[doc = $doc:literal])+ $name:ident = $code:literal;)+) => {
        $($(#[doc = $doc])+ pub const $name: u16 = $code;)+

        /// Every close code above, in table order.
        pub const ALL: &[CloseCode] = &[$(CloseCode { code: $code, name: stringify!($name), doc: concat!($($doc, "\n"),+) }),+];
    };
}

close_codes! {
    /// A normal close: the connection ended as either side asked.
    NORMAL = 1000;
    /// The server is shutting down or draining.
    GOING_AWAY = 1001;
    /// A malformed WebSocket frame (reserved bits, bad continuation, bad close frame).
    PROTOCOL_ERROR = 1002;
    /// A text frame: Arena speaks binary MessagePack only.
    UNSUPPORTED_DATA = 1003;
    /// A binary message that is not a valid client message.
    ///
    /// Not a [`crate::ClientMsg`], or followed by trailing bytes.
    INVALID_PAYLOAD = 1007;
    /// A well-formed message with values out of range (NaN, infinite, too long),
    /// an invalid or expired session token, or a missing one where tokens are required.
    POLICY_VIOLATION = 1008;
    /// A message larger than the 16 KiB limit.
    ///
    /// The limit is [`crate::MAX_CLIENT_MESSAGE_BYTES`], counted across fragments.
    MESSAGE_TOO_BIG = 1009;
    /// The room failed; the client may join another.
    INTERNAL_ERROR = 1011;
    /// The server cannot take the join now (its room limit is reached); try again later.
    TRY_AGAIN_LATER = 1013;
    /// The upgrade asked for a protocol version (v=) this server does not speak.
    VERSION_MISMATCH = 4000;
    /// The room asked for is full.
    ROOM_FULL = 4001;
    /// The join query was invalid (bad name or room id).
    BAD_JOIN = 4002;
    /// The client did not read its messages fast enough and fell too far behind.
    TOO_SLOW = 4003;
    /// The room closed (emptied, closed by an operator, or failed to start).
    ROOM_CLOSED = 4004;
    /// The room named in the join does not exist (rooms come from the lobby API or matchmaking).
    ROOM_NOT_FOUND = 4005;
    /// An operator removed this player; the reason says why.
    KICKED = 4006;
    /// The same player connected again elsewhere; this older connection yields.
    REPLACED = 4007;
    /// The room's spectator places are all taken.
    SPECTATORS_FULL = 4008;
    /// The client did not answer the server's WebSocket pings in time.
    HEARTBEAT_TIMEOUT = 4009;
    /// The client sent no application message (input, chat, ping) for the idle timeout.
    IDLE = 4010;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_ascending() {
        assert!(ALL.windows(2).all(|pair| pair[0].code < pair[1].code), "{ALL:?}");
        assert_eq!((ROOM_FULL, ALL.iter().find(|c| c.name == "ROOM_FULL").map(|c| c.code)), (4001, Some(4001)));
    }

    #[test]
    fn the_readme_lists_every_code() {
        let readme = include_str!("../README.md");
        let missing: Vec<u16> = ALL.iter().map(|c| c.code).filter(|c| !readme.contains(&format!("| {c} |"))).collect();
        assert!(missing.is_empty(), "protocol/README.md's close-code table lacks {missing:?}");
    }

    /// Players read these in the browser, so rustdoc markup stays out of the first paragraph.
    #[test]
    fn meanings_are_plain_prose() {
        for c in ALL {
            let meaning = c.meaning();
            assert!(meaning.ends_with('.') && !meaning.contains(['`', '[', ']']), "{}: {meaning:?}", c.name);
        }
        let policy = ALL.iter().find(|c| c.code == POLICY_VIOLATION).unwrap().meaning();
        assert!(policy.contains("too long), an invalid"), "two doc lines join with one space: {policy}");
        let invalid = ALL.iter().find(|c| c.code == INVALID_PAYLOAD).unwrap().meaning();
        assert_eq!(invalid, "A binary message that is not a valid client message.");
    }
}
