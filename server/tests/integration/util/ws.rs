//! Joining over WebSockets with the bots' client, and waiting for the server's first answer.

use arena_bots::ArenaClient;
use arena_protocol::{RoomEvent, ServerMsg, Welcome};
use fastwebsockets::Frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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

/// Upgrades `stream` to a WebSocket on `path` by hand (no client library), for
/// clients that misbehave below the protocol; panics unless the server answers 101.
pub async fn upgrade_by_hand(mut stream: TcpStream, path: &str) -> TcpStream {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        stream.peer_addr().unwrap()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    // Byte by byte, so none of the frames after the head are taken with it.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(tokio::time::timeout(WAIT, stream.read_u8()).await.expect("handshake in time").unwrap());
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    stream
}
