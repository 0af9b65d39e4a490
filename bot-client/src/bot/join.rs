//! Joining a room: connect, wait for the welcome, and the URL that takes a dropped bot back.

use arena_protocol::{ServerMsg, Welcome};

use super::{BotConfig, Decode};
use crate::client::ArenaClient;

/// Connect to `url` and wait for the welcome; the error says which of the two failed.
pub(super) async fn join(config: &BotConfig, url: &str) -> Result<(ArenaClient, Welcome), String> {
    let (stall, answer_pings) = (config.stall_timeout, config.answer_pings);
    let mut client = ArenaClient::connect_with(url, &[], answer_pings).await.map_err(|e| format!("connect: {e}"))?;
    if config.decode == Decode::Headers {
        client.recv_headers_only();
    }
    let welcome = client
        .recv_until(stall, |msg| match msg {
            ServerMsg::Welcome(w) => Some(w.clone()),
            _ => None,
        })
        .await
        .map_err(|e| format!("no welcome: {e}"))?;
    Ok((client, welcome))
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
}
