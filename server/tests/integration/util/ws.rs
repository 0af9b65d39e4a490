//! Joining over WebSockets with the bots' client, and waiting for the server's first answer.

use arena_bots::ArenaClient;
use arena_protocol::{RoomEvent, ServerMsg, Welcome};
use fastwebsockets::Frame;

use super::WAIT;

/// Connects to `url` and waits up to [`WAIT`] for the Welcome: the join was accepted.
pub async fn welcomed(url: &str) -> (ArenaClient, Welcome) {
    let mut client = ArenaClient::connect(url).await.unwrap();
    let welcome =
        client.recv_until(WAIT, |m| if let ServerMsg::Welcome(w) = m { Some(w.clone()) } else { None }).await.unwrap();
    (client, welcome)
}

/// Connects to `url` and waits up to [`WAIT`] for the first snapshot: the player is in a running room.
pub async fn playing(url: &str) -> ArenaClient {
    let mut client = ArenaClient::connect(url).await.unwrap();
    client.recv_until(WAIT, |m| matches!(m, ServerMsg::Snapshot(_)).then_some(())).await.unwrap();
    client
}

/// Connects to `url` and waits up to [`WAIT`] for the close the server answers with
/// (what a refused join gets): its code and reason.
pub async fn refused(url: &str) -> (u16, String) {
    let mut client = ArenaClient::connect(url).await.unwrap();
    client.recv_close(WAIT).await.unwrap()
}

/// Sends `frame` from a fresh player at `url` (once it is [`playing`]) and waits up to
/// [`WAIT`] for the close that earns it: its code and reason.
pub async fn close_after(url: &str, frame: Frame<'_>) -> (u16, String) {
    let mut client = playing(url).await;
    client.send_frame(frame).await.unwrap();
    client.recv_close(WAIT).await.unwrap()
}

/// Waits up to [`WAIT`] for the next operator announcement and returns its text.
pub async fn next_announcement(client: &mut ArenaClient) -> String {
    client
        .recv_until(WAIT, |m| match m {
            ServerMsg::Event(RoomEvent::Announcement(n)) => Some(n.text.clone()),
            _ => None,
        })
        .await
        .unwrap()
}
