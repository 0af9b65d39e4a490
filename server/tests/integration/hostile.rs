//! Misbehaving clients are closed with the right code, and nobody else notices.

use std::time::Duration;

use arena_bots::ArenaClient;
use arena_protocol::{ServerMsg, close_code};
use fastwebsockets::{Frame, OpCode, Payload};

use crate::util::TestServer;

const WAIT: Duration = Duration::from_secs(5);

/// A client seated wherever the server puts it (every test here fits one room).
async fn joined(server: &TestServer) -> ArenaClient {
    let mut client = ArenaClient::connect(&server.ws_url("")).await.unwrap();
    client.recv_until(WAIT, |m| matches!(m, ServerMsg::Snapshot(_)).then_some(())).await.unwrap();
    client
}

/// Send `frame` from a fresh client and return the close it gets.
async fn close_after(server: &TestServer, frame: Frame<'_>) -> (u16, String) {
    let mut client = joined(server).await;
    client.send_frame(frame).await.unwrap();
    client.recv_close(WAIT).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_closes_only_the_sender() {
    let server = TestServer::start().await;
    let mut bystander = joined(&server).await;

    let cases: Vec<(Frame<'static>, u16)> = vec![
        (Frame::binary(Payload::Owned(vec![0xc1, 0xff, 0x00])), close_code::INVALID_PAYLOAD),
        (Frame::binary(Payload::Owned(b"\x81\xa4nope\xc0".to_vec())), close_code::INVALID_PAYLOAD),
        (Frame::text(Payload::Owned(b"{\"input\":1}".to_vec())), close_code::UNSUPPORTED_DATA),
        (
            Frame::binary(Payload::Owned(vec![0u8; arena_protocol::MAX_CLIENT_MESSAGE_BYTES + 10])),
            close_code::MESSAGE_TOO_BIG,
        ),
        // An input whose move vector is NaN: well-formed MessagePack, invalid values.
        (
            Frame::binary(Payload::Owned(arena_protocol::encode(&arena_protocol::ClientMsg::Input(
                arena_protocol::Input::new(1, glam::Vec2::new(f32::NAN, 0.0), 0.0, false),
            )))),
            close_code::POLICY_VIOLATION,
        ),
        // A continuation frame with nothing to continue.
        (Frame::new(true, OpCode::Continuation, None, Payload::Owned(vec![1, 2, 3])), close_code::PROTOCOL_ERROR),
    ];
    for (frame, expected) in cases {
        let (code, reason) = close_after(&server, frame).await;
        assert_eq!(code, expected, "reason: {reason}");
        assert!(!reason.is_empty());
    }

    // The bystander kept receiving throughout.
    let mut snapshots = 0;
    while snapshots < 10 {
        match bystander.recv(WAIT).await.unwrap() {
            arena_bots::Incoming::Message(ServerMsg::Snapshot(_), _) => snapshots += 1,
            arena_bots::Incoming::Message(..)
            | arena_bots::Incoming::WsPong(_)
            | arena_bots::Incoming::WsPing(_)
            | arena_bots::Incoming::SnapshotHeader { .. } => {}
            arena_bots::Incoming::Closed { code, reason } => panic!("bystander closed: {code} {reason}"),
        }
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragmented_messages_are_limited_as_a_whole() {
    let server = TestServer::start().await;
    let mut client = joined(&server).await;
    let piece = vec![0x90u8; 4096];
    client.send_frame(Frame::new(false, OpCode::Binary, None, Payload::Owned(piece.clone()))).await.unwrap();
    // Every piece is under the limit; together they pass it.
    for _ in 0..4 {
        client.send_frame(Frame::new(false, OpCode::Continuation, None, Payload::Owned(piece.clone()))).await.unwrap();
    }
    let (code, _) = client.recv_close(WAIT).await.unwrap();
    assert_eq!(code, close_code::MESSAGE_TOO_BIG);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_are_answered_at_both_layers() {
    let server = TestServer::start().await;
    let mut client = joined(&server).await;
    client.send(&arena_protocol::ClientMsg::Ping(arena_protocol::Ping { client_time_ms: 42.5 })).await.unwrap();
    let pong = client.recv_until(WAIT, |m| if let ServerMsg::Pong(p) = m { Some(*p) } else { None }).await.unwrap();
    assert_eq!(pong.client_time_ms, 42.5);
    // A WebSocket ping frame is answered with a pong carrying its payload.
    client.send_frame(Frame::new(true, OpCode::Ping, None, Payload::Owned(b"hi".to_vec()))).await.unwrap();
    loop {
        match client.recv(WAIT).await.unwrap() {
            arena_bots::Incoming::WsPong(payload) => break assert_eq!(payload, b"hi"),
            arena_bots::Incoming::Message(..)
            | arena_bots::Incoming::WsPing(_)
            | arena_bots::Incoming::SnapshotHeader { .. } => {}
            arena_bots::Incoming::Closed { code, reason } => panic!("closed: {code} {reason}"),
        }
    }
    // And the connection keeps streaming.
    client.recv_until(WAIT, |m| matches!(m, ServerMsg::Snapshot(_)).then_some(())).await.unwrap();
    server.shutdown().await;
}
