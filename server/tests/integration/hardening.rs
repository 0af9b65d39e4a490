//! Limits, origins, heartbeats, idle and flood handling, and fault isolation, each
//! driven past its limit by a real client.

use std::time::Duration;

use arena_bots::{ArenaClient, ConnectError, Incoming};
use arena_protocol::{ClientMsg, Input, ServerMsg, close_code};
use arena_server::Config;
use glam::Vec2;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::util::http::{create_room, http_get, http_json, read_until_closed};
use crate::util::ws::{playing, upgrade_by_hand};
use crate::util::{TestServer, WAIT, eventually, logged_round};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_per_address_are_capped() {
    let mut config = Config::for_tests();
    config.max_connections_per_ip = 2;
    config.limit_loopback = true;
    let server = TestServer::start_with(config).await;
    let first = playing(&server.ws_url("")).await;
    let _second = playing(&server.ws_url("")).await;
    // Counted at accept, before any request is read: the third connection is
    // closed at once, without an HTTP answer.
    match ArenaClient::connect(&server.ws_url("")).await {
        Err(ConnectError::Http(_) | ConnectError::Tcp(_)) => {}
        other => panic!("expected the connection to be closed at accept, got {:?}", other.map(|_| ())),
    }
    // A place frees when a connection ends.
    drop(first);
    eventually("a freed place to be reused", WAIT, async || match ArenaClient::connect(&server.ws_url("")).await {
        Ok(mut c) => c.recv(WAIT).await.is_ok_and(|m| matches!(m, Incoming::Message(ServerMsg::Welcome(_), _))),
        Err(_) => false,
    })
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_upgrade_request_head_is_cut_with_nothing_or_a_408() {
    let mut config = Config::for_tests();
    config.handshake_timeout_s = 0.3;
    let server = TestServer::start_with(config).await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    // The server answers 408 or just hangs up; it must never wait for the rest or upgrade.
    let read = tokio::time::timeout(Duration::from_secs(3), read_until_closed(&mut stream))
        .await
        .expect("a stalled request head is cut within 3 s");
    let text = String::from_utf8_lossy(&read);
    assert!(read.is_empty() || text.starts_with("HTTP/1.1 408"), "a stalled head gets nothing or a 408: {text:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_origins_are_refused() {
    let mut config = Config::for_tests();
    config.allowed_origins = vec!["https://play.example".into()];
    let server = TestServer::start_with(config).await;
    let url = server.ws_url("");
    match ArenaClient::connect_with(&url, &[("Origin", "https://evil.example")], true).await {
        Err(ConnectError::Status(status)) => assert_eq!(status.as_u16(), 403),
        other => panic!("expected 403, got {:?}", other.map(|_| ())),
    }
    let own = format!("http://{}", server.addr);
    for origin in [own.as_str(), "http://localhost:3000", "https://play.example"] {
        assert!(ArenaClient::connect_with(&url, &[("Origin", origin)], true).await.is_ok(), "{origin}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_ignores_pings_is_closed() {
    let mut config = Config::for_tests();
    config.ping_interval_s = 0.2;
    config.pong_timeout_s = 0.4;
    let server = TestServer::start_with(config).await;
    let mut deaf = ArenaClient::connect_with(&server.ws_url(""), &[], false).await.unwrap();
    let mut answering = playing(&server.ws_url("")).await;
    let (code, reason) = deaf.recv_close(WAIT).await.unwrap();
    assert_eq!(code, close_code::HEARTBEAT_TIMEOUT, "{reason}");
    // A client that answers (automatically) stays.
    answering.recv_until(Duration::from_secs(2), |m| matches!(m, ServerMsg::Snapshot(_)).then_some(())).await.unwrap();
    server.shutdown().await;
}

/// A server that closes players idle for half a second (and pings every 0.2 s).
fn idle_after_half_a_second() -> Config {
    let mut config = Config::for_tests();
    config.idle_timeout_s = 0.5;
    config.ping_interval_s = 0.2;
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_client_is_closed_as_idle() {
    let server = TestServer::start_with(idle_after_half_a_second()).await;
    let mut silent = playing(&server.ws_url("")).await;
    let (code, reason) = silent.recv_close(WAIT).await.unwrap();
    assert_eq!(code, close_code::IDLE, "{reason}");
    server.shutdown().await;
}

/// Regression: the writer looked at the heartbeat only when no snapshot was waiting.
/// A client whose every message takes longer to write than a snapshot interval (it
/// reads slowly on purpose, each write well under the slow-client timeout) always
/// left one waiting, so it was never pinged nor closed as idle and kept its seat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_reads_slower_than_snapshots_come_is_still_closed_as_idle() {
    // A crowd of house bots that cannot kill each other (a kill event for every
    // death would fill the client's control queue: closed as too slow instead): every
    // whole snapshot (the client never acknowledges) is about 10 KB, more than the
    // server's limit on unsent bytes lets through at once, so each write waits on the
    // client's reads, longer than a snapshot interval.
    let settings = std::env::temp_dir().join(format!("arena-slow-reader-{}.toml", std::process::id()));
    std::fs::write(&settings, "max_health = 65535\nprojectile_damage = 1\n").unwrap();
    let mut config = Config::for_tests();
    config.settings = Some(settings.clone());
    config.room_capacity = 300;
    config.quick_play_bots = Some(250);
    config.idle_timeout_s = 2.0;
    config.ping_interval_s = 0.2;
    config.pong_timeout_s = 60.0;
    config.slow_client_timeout_s = 60.0;
    let server = TestServer::start_with(config).await;
    // Small buffers on our side, and small segments: the server's sends follow our
    // slow reads in small steps.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.set_tcp_mss(536).unwrap();
    let socket = tokio::net::TcpSocket::from_std_stream(socket.into());
    let mut stream = upgrade_by_hand(socket.connect(server.addr).await.unwrap(), "/ws").await;
    // Read about 6 KB a second, far less than the room sends (300 KB): never an input,
    // never a pong. Closed after about 4-7 s here; before the fix, mostly never.
    let started = std::time::Instant::now();
    let (mut pending, mut chunk, mut read) = (Vec::new(), [0u8; 600], 0usize);
    let close = loop {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "not closed after {:?} ({read} bytes read): the slow reader keeps its seat",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the server hung up without a close frame after {read} bytes");
        read += n;
        pending.extend_from_slice(&chunk[..n]);
        if let Some(close) = take_frames_until_close(&mut pending) {
            break close;
        }
    };
    let (code, reason) = close;
    assert_eq!(code, close_code::IDLE, "{reason}");
    eprintln!("slow reader closed as idle after {:?}, {read} bytes read", started.elapsed());
    server.shutdown().await;
    let _ = std::fs::remove_file(settings);
}

/// Drops the whole server frames at the front of `pending`; a close frame's code and
/// reason once one comes.
fn take_frames_until_close(pending: &mut Vec<u8>) -> Option<(u16, String)> {
    loop {
        let (opcode, len, at) = match *pending.as_slice() {
            [first, 126, a, b, ..] => (first & 0x0f, usize::from(u16::from_be_bytes([a, b])), 4),
            [first, second, ..] if second < 126 => (first & 0x0f, usize::from(second), 2),
            [_, 127, ..] => panic!("no snapshot is that large"),
            _ => return None,
        };
        if pending.len() < at + len {
            return None;
        }
        let payload: Vec<u8> = pending.drain(..at + len).skip(at).collect();
        if opcode == 0x8 {
            return Some((u16::from_be_bytes([payload[0], payload[1]]), String::from_utf8_lossy(&payload[2..]).into()));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_flood_is_dropped_then_closed() {
    let mut config = Config::for_tests();
    config.input_rate = 30;
    let server = TestServer::start_with(config).await;
    let mut flooder = playing(&server.ws_url("")).await;
    // 30 a second are allowed and ~90 more dropped before the server has had enough:
    // 300 at once is a flood.
    for seq in 1..=300 {
        let input = Input::new(seq, Vec2::X, 0.0, false);
        flooder.send(&ClientMsg::Input(input)).await.unwrap();
    }
    let (code, reason) = flooder.recv_close(WAIT).await.unwrap();
    assert_eq!(code, close_code::POLICY_VIOLATION);
    assert!(reason.contains("flooding"), "{reason}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_room_closes_alone_and_keeps_its_results() {
    let mut config = Config::for_tests();
    config.fault_injection = true;
    config.admin_token = Some("ops-admin-token-at-least-32-bytes".into());
    let results_log = config.results_log.clone();
    let server = TestServer::start_with(config).await;
    let doomed = create_room(server.addr, r#"{"name": "Doomed"}"#).await;
    let healthy = create_room(server.addr, r#"{"name": "Healthy"}"#).await;
    let mut victim = playing(&server.ws_url(&format!("room={}&name=victim", doomed.id))).await;
    let mut bystander = playing(&server.ws_url(&format!("room={}", healthy.id))).await;

    let path = format!("/api/admin/rooms/{}/fault", doomed.id);
    assert_eq!(
        http_json(server.addr, "POST", &path, "", &["Authorization: Bearer ops-admin-token-at-least-32-bytes"])
            .await
            .status,
        200
    );
    let (code, reason) = victim.recv_close(WAIT).await.unwrap();
    assert_eq!(code, close_code::INTERNAL_ERROR, "{reason}");
    assert_eq!(http_get(server.addr, &format!("/api/rooms/{}", doomed.id)).await.status, 404);

    // The other room plays on.
    for _ in 0..10 {
        bystander.recv_until(WAIT, |m| matches!(m, ServerMsg::Snapshot(_)).then_some(())).await.unwrap();
    }
    let record = logged_round(&results_log, &doomed.id).await;
    assert_eq!(record["reason"], "room_failed");
    // Without the flag the hook does not exist.
    server.shutdown().await;
    let plain = TestServer::start_with({
        let mut c = Config::for_tests();
        c.admin_token = Some("ops-admin-token-at-least-32-bytes".into());
        c
    })
    .await;
    let room = create_room(plain.addr, r#"{"name": "Safe"}"#).await;
    let path = format!("/api/admin/rooms/{}/fault", room.id);
    assert_eq!(
        http_json(plain.addr, "POST", &path, "", &["Authorization: Bearer ops-admin-token-at-least-32-bytes"])
            .await
            .status,
        404
    );
    plain.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_answers_while_serving() {
    let server = TestServer::start().await;
    let response = http_get(server.addr, "/ready").await;
    assert_eq!(response.status, 200, "{}", response.body);
    let body: serde_json::Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(body["ready"], true, "{}", response.body);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_total_cap_wait_until_one_ends() {
    let mut config = Config::for_tests();
    config.max_connections = 2;
    let server = TestServer::start_with(config).await;
    let first = playing(&server.ws_url("")).await;
    let _second = playing(&server.ws_url("")).await;
    // The third connection is not accepted while two are open: its request gets no answer.
    let mut waiting = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    waiting.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let early = tokio::time::timeout(Duration::from_millis(500), waiting.read_to_end(&mut answer)).await;
    assert!(early.is_err(), "answered while at the cap: {}", String::from_utf8_lossy(&answer));
    // When one ends, the waiting one is served.
    drop(first);
    tokio::time::timeout(WAIT, waiting.read_to_end(&mut answer)).await.expect("served after a place freed").unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "the waiting /health request: {answer}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_lobby_watchers_are_not_closed_for_idleness() {
    // The same server that closes a silent player keeps silent lobby watchers.
    let server = TestServer::start_with(idle_after_half_a_second()).await;
    let connected = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let report = arena_bots::run_idle(&server.ws_url(""), 40, 400.0, Duration::from_secs(2), connected).await;
    assert!(report.passed(), "{}", report.summary());
    assert_eq!(report.connected, 40);
    assert!(report.lobby_messages >= 40, "each watcher gets the list on connecting");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_whose_acknowledgements_lag_gets_fewer_snapshots() {
    let server = TestServer::start().await;
    let mut client = ArenaClient::connect(&server.ws_url("name=laggard")).await.unwrap();
    let first =
        client.recv_until(WAIT, |m| if let ServerMsg::Snapshot(s) = m { Some(s.tick) } else { None }).await.unwrap();
    // Keep acknowledging only the first snapshot, as a client stuck far behind would.
    // The first second lets the server notice the lag: how many came then proves nothing.
    let _settling = snapshots_while_acking(&mut client, first, 1, 0).await;
    let lagging = snapshots_while_acking(&mut client, first, 2, 100).await;
    // At 30 Hz two seconds are 60 snapshots; a client this far behind gets about 15.
    assert!((5..=30).contains(&lagging), "{lagging} snapshots in 2 s while lagging");
    server.shutdown().await;
}

/// Snapshots received in `seconds` while every input acknowledges `ack` only.
async fn snapshots_while_acking(
    client: &mut ArenaClient,
    ack: arena_protocol::Tick,
    seconds: u64,
    mut seq: u32,
) -> u32 {
    let mut counted = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    while tokio::time::Instant::now() < deadline {
        seq += 1;
        let input = Input { ack_tick: ack, ..Input::new(seq, Vec2::ZERO, 0.0, false) };
        client.send(&ClientMsg::Input(input)).await.unwrap();
        if let Incoming::Message(ServerMsg::Snapshot(_) | ServerMsg::Delta(_), _) = client.recv(WAIT).await.unwrap() {
            counted += 1;
        }
    }
    counted
}
