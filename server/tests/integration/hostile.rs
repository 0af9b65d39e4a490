//! Misbehaving clients are closed with the right code, and nobody else notices.

use arena_protocol::{ChatText, ClientMsg, ServerMsg, close_code};
use fastwebsockets::{Frame, OpCode, Payload};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::util::ws::{close_after, playing, refused, upgrade_by_hand};
use crate::util::{TestServer, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_closes_only_the_sender() {
    let server = TestServer::start().await;
    let mut bystander = playing(&server.ws_url("")).await;

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
        let (code, reason) = close_after(&server.ws_url(""), frame).await;
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
    let mut client = playing(&server.ws_url("")).await;
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
    let mut client = playing(&server.ws_url("")).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_with_a_right_to_left_override_is_refused() {
    let server = TestServer::start().await;
    // "ann", U+202E, "gnp.exe": shown as "annexe.png".
    let (code, reason) = refused(&server.ws_url("name=ann%E2%80%AEgnp.exe")).await;
    assert_eq!(code, close_code::BAD_JOIN, "reason: {reason}");
    assert!(reason.contains("U+202E"), "the reason names the character: {reason}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_line_with_a_zero_width_space_closes_its_sender() {
    let server = TestServer::start().await;
    let mut client = playing(&server.ws_url("")).await;
    client.send(&ClientMsg::Chat(ChatText { text: "g\u{200B}g".into() })).await.unwrap();
    let (code, reason) = client.recv_close(WAIT).await.unwrap();
    assert_eq!(code, close_code::POLICY_VIOLATION, "reason: {reason}");
    assert!(reason.contains("U+200B"), "{reason}");
    server.shutdown().await;
}

/// A WebSocket opened by hand on `path`, to send frames no real client would.
async fn raw_upgrade(server: &TestServer, path: &str) -> TcpStream {
    upgrade_by_hand(TcpStream::connect(server.addr).await.unwrap(), path).await
}

/// Read the server's frames until its close: the close's code and reason, and the
/// opcodes of the frames before it.
async fn raw_close(stream: &mut TcpStream) -> (u16, String, Vec<u8>) {
    let mut before = Vec::new();
    let read = async {
        loop {
            let (first, second) = (stream.read_u8().await.unwrap(), stream.read_u8().await.unwrap());
            assert_eq!(second & 0x80, 0, "server frames are never masked");
            let len = match second & 0x7f {
                126 => u64::from(stream.read_u16().await.unwrap()),
                127 => stream.read_u64().await.unwrap(),
                short => u64::from(short),
            };
            let mut payload = vec![0; usize::try_from(len).unwrap()];
            stream.read_exact(&mut payload).await.unwrap();
            match first & 0x0f {
                0x8 => {
                    let code = u16::from_be_bytes([payload[0], payload[1]]);
                    return (code, String::from_utf8(payload[2..].to_vec()).unwrap());
                }
                opcode => before.push(opcode),
            }
        }
    };
    let (code, reason) = tokio::time::timeout(WAIT, read).await.expect("a close in time");
    (code, reason, before)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmasked_client_frames_are_closed_with_1002_on_every_endpoint() {
    let mut config = arena_server::Config::for_tests();
    config.autobahn_echo = true;
    let server = TestServer::start_with(config).await;
    // An unmasked binary frame (FIN, opcode 2, mask bit clear, 3 bytes): on the game
    // endpoint, the lobby feed and the conformance echo.
    for path in ["/ws", "/ws/lobby", "/autobahn"] {
        let mut stream = raw_upgrade(&server, path).await;
        stream.write_all(&[0x82, 0x03, 1, 2, 3]).await.unwrap();
        let (code, reason, _) = raw_close(&mut stream).await;
        assert_eq!((code, reason.as_str()), (close_code::PROTOCOL_ERROR, "client frames must be masked"), "{path}");
    }
    // An unmasked ping is refused too, not answered: the library would have answered it.
    let mut stream = raw_upgrade(&server, "/ws").await;
    stream.write_all(&[0x89, 0x02, b'h', b'i']).await.unwrap();
    let (code, _, before) = raw_close(&mut stream).await;
    assert_eq!(code, close_code::PROTOCOL_ERROR);
    assert!(!before.contains(&0xa), "no pong before the close");
    // The same frame masked is answered as ever.
    let mut stream = raw_upgrade(&server, "/ws/lobby").await;
    stream.write_all(&[0x89, 0x82, 0, 0, 0, 0, b'h', b'i', 0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]).await.unwrap();
    let (code, _, before) = raw_close(&mut stream).await;
    assert_eq!(code, 1000, "the close is echoed");
    assert!(before.contains(&0xa), "the ping was answered: {before:?}");
    server.shutdown().await;
}
