//! The WebSocket subprotocol header: browsers offer `arena` and may carry the
//! session token as a second entry, `arena-token.<token>`, so the token stays out
//! of URLs that proxies and servers log. The server answers with `arena` alone.

use hyper::Request;
use hyper::header::{HeaderValue, SEC_WEBSOCKET_PROTOCOL};

/// The subprotocol this server speaks.
pub const ARENA: &str = "arena";

/// Prefix of the entry that carries a session token.
pub const TOKEN_PREFIX: &str = "arena-token.";

/// What the client offered.
#[derive(Debug, Default, PartialEq)]
pub struct Offered {
    /// `arena` was offered: the answer must name it (a browser that offered
    /// subprotocols fails a handshake whose answer names none).
    pub arena: bool,
    pub token: Option<String>,
}

pub fn offered<B>(req: &Request<B>) -> Offered {
    let mut out = Offered::default();
    let entries = req.headers().get_all(SEC_WEBSOCKET_PROTOCOL).iter().filter_map(|v| v.to_str().ok());
    for entry in entries.flat_map(|v| v.split(',')).map(str::trim) {
        if entry == ARENA {
            out.arena = true;
        } else if let Some(token) = entry.strip_prefix(TOKEN_PREFIX).filter(|t| !t.is_empty()) {
            out.token = Some(token.to_string());
        }
    }
    out
}

/// Name `arena` in the 101 answer.
pub fn accept<B>(response: &mut hyper::Response<B>) {
    response.headers_mut().insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(ARENA));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(header: &str) -> Offered {
        offered(&Request::builder().header(SEC_WEBSOCKET_PROTOCOL, header).body(()).unwrap())
    }

    #[test]
    fn reads_the_token_entry_and_the_arena_protocol() {
        assert_eq!(offer("arena, arena-token.abc.def-ghi"), Offered { arena: true, token: Some("abc.def-ghi".into()) });
        assert_eq!(offer("arena"), Offered { arena: true, token: None });
        assert_eq!(offer("chat, arena-token."), Offered { arena: false, token: None });
    }
}
