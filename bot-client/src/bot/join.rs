//! Joining a room: connect, wait for the welcome, and the URL that takes a dropped bot back.

use std::fmt;
use std::time::Duration;

use arena_protocol::{ServerMsg, Welcome};

use super::retry::CONNECTION_LOST;
use super::{BotConfig, Decode};
use crate::client::{ArenaClient, Incoming};

/// Why a join got no welcome, as a close code: the server's, or [`CONNECTION_LOST`]
/// when the connection failed without one (a browser sees such failures the same way).
#[derive(Debug)]
pub(super) struct Refusal {
    pub(super) code: u16,
    /// The server's reason, or what failed when there was no close.
    pub(super) reason: String,
}

impl Refusal {
    fn lost(what: String) -> Refusal {
        Refusal { code: CONNECTION_LOST, reason: what }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.code == CONNECTION_LOST {
            f.write_str(&self.reason)
        } else {
            write!(f, "no welcome: closed with {}: {}", self.code, self.reason)
        }
    }
}

/// Connect to `url` and wait for the welcome.
pub(super) async fn join(config: &BotConfig, url: &str) -> Result<(ArenaClient, Welcome), Refusal> {
    let mut client = ArenaClient::connect_with(url, &[], config.answer_pings)
        .await
        .map_err(|e| Refusal::lost(format!("connect: {e}")))?;
    if config.decode == Decode::Headers {
        client.recv_headers_only();
    }
    let welcome = await_welcome(&mut client, config.stall_timeout).await?;
    Ok((client, welcome))
}

/// Receive until the welcome, skipping anything before it; the server refuses a join
/// by closing with a code, which is kept (not folded into an error text) for retries.
async fn await_welcome(client: &mut ArenaClient, stall: Duration) -> Result<Welcome, Refusal> {
    let deadline = tokio::time::Instant::now() + stall;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match client.recv(left).await {
            Ok(Incoming::Message(ServerMsg::Welcome(welcome), _)) => return Ok(welcome),
            Ok(Incoming::Closed { code, reason }) => return Err(Refusal { code, reason }),
            Ok(_) => {}
            Err(e) => return Err(Refusal::lost(format!("no welcome: {e}"))),
        }
    }
}

/// The URL that takes a dropped bot back to its room (a reservation is single-use).
pub(super) fn rejoin_url(url: &str, room_id: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let kept: Vec<&str> =
        query.split('&').filter(|kv| !kv.starts_with("room=") && !kv.starts_with("reservation=")).collect();
    format!("{base}?{}&room={room_id}", kept.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejoin_url_names_the_room_and_drops_the_reservation() {
        let url = "ws://h:1/ws?room=a&reservation=r&v=1&name=bot-3&token=t";
        assert_eq!(rejoin_url(url, "b"), "ws://h:1/ws?v=1&name=bot-3&token=t&room=b");
    }

    #[test]
    fn a_refusal_reads_as_the_close_or_as_what_failed() {
        let full = Refusal { code: 4001, reason: "room a is full".into() };
        assert_eq!(full.to_string(), "no welcome: closed with 4001: room a is full");
        let lost = Refusal::lost("connect: TCP connect failed: refused".into());
        assert_eq!((lost.code, lost.to_string().as_str()), (1006, "connect: TCP connect failed: refused"));
    }
}
