//! A client that cannot take its messages for a while: the writer's gathered writes
//! stop part-way (the socket takes only some of their bytes) and must continue
//! exactly where they stopped, and more than 64 KiB of control messages go out in
//! several writes. Read by hand, so every frame head is checked on the wire.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use arena_bots::ArenaClient;
use arena_protocol::{ChatText, ClientMsg, PlayerId, ServerMsg, decode_server};
use arena_server::Config;
use futures_util::future::join_all;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::util::http::create_room;
use crate::util::ws::{upgrade_by_hand, welcomed};
use crate::util::{TestServer, WAIT};

/// Players chatting; each sends its own burst (5 lines), no more.
const CHATTERS: usize = 28;
const LINES_EACH: usize = 5;
const LINES: usize = CHATTERS * LINES_EACH;
/// Lines sent at once: under the room's burst (64); the rest follow at 20 a second,
/// under its 25 a second, so the room refuses none.
const SENT_AT_ONCE: usize = 60;
const PACE: Duration = Duration::from_millis(50);
/// The writer's gathering limit (server's `GATHER_LIMIT`): the lines must exceed it.
const GATHER_LIMIT: usize = 64 * 1024;

/// Line `n`'s text: its number, then (4 lines in 5) 190 four-byte characters, so
/// its message needs the 16-bit length form; the others fit the 7-bit form.
fn line_text(n: usize) -> String {
    let filler = if n.is_multiple_of(5) { String::new() } else { "\u{1D400}".repeat(190) };
    format!("line {n:03} {filler}").trim_end().to_string()
}

/// A player that sends its lines when their time comes and reads everything the
/// server sends it meanwhile (it must not become a slow client itself).
async fn chat(mut client: ArenaClient, index: usize, start: Instant) -> ArenaClient {
    for n in (index * LINES_EACH)..(index + 1) * LINES_EACH {
        let due = start + PACE * n.saturating_sub(SENT_AT_ONCE - 1) as u32;
        while Instant::now() < due {
            let _ = client.recv(due - Instant::now()).await;
        }
        client.send(&ClientMsg::Chat(ChatText { text: line_text(n) })).await.unwrap();
    }
    loop {
        if let Err(arena_bots::RecvError::Socket(_)) = client.recv(WAIT).await {
            return client;
        }
    }
}

/// A room with the chatters in it and `watcher` joined by hand on a socket with a
/// small receive buffer; returns the chatters' ids (line `n` is chatter `n / 5`'s),
/// the watcher's stream and the chatting tasks, which have started.
async fn room_with_chatters(
    server: &TestServer,
) -> (Vec<PlayerId>, TcpStream, Vec<tokio::task::JoinHandle<ArenaClient>>) {
    let room = create_room(server.addr, &format!(r#"{{"name": "Backlog", "capacity": {}}}"#, CHATTERS + 1)).await;
    let url = server.ws_url(&format!("room={}", room.id));
    let chatters = join_all((0..CHATTERS).map(|_| welcomed(&url))).await;
    let ids = chatters.iter().map(|(_, welcome)| welcome.player_id).collect();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let watcher = upgrade_by_hand(socket.connect(server.addr).await.unwrap(), &format!("/ws?room={}", room.id)).await;
    let start = Instant::now();
    let tasks =
        chatters.into_iter().enumerate().map(|(index, (client, _))| tokio::spawn(chat(client, index, start))).collect();
    (ids, watcher, tasks)
}

/// What the watcher read.
#[derive(Default)]
struct Read {
    /// Chat lines heard per sender, in the order heard.
    chat: HashMap<PlayerId, Vec<String>>,
    chat_bytes: usize,
    /// Frames by length form: 7-bit, 16-bit.
    short_heads: usize,
    long_heads: usize,
    snapshots_after_last_line: usize,
}

/// Reads whole frames off `stream` until every line was heard and two snapshots
/// after, `chunk` bytes at a time with `pause` between reads. Each head must be a
/// final, unmasked binary frame in the shortest length form, and each payload a
/// whole server message; a close or a hang-up fails.
async fn read_all(stream: &mut TcpStream, chunk: usize, pause: Duration) -> Read {
    let mut read = Read::default();
    let (mut pending, mut buf) = (Vec::new(), vec![0u8; chunk]);
    let mut heard = 0;
    loop {
        let n = tokio::time::timeout(WAIT, stream.read(&mut buf)).await.expect("bytes in time").unwrap();
        assert!(n > 0, "hung up after {heard} lines");
        pending.extend_from_slice(&buf[..n]);
        while let Some((opcode, payload)) = take_frame(&mut pending, &mut read) {
            if opcode == 0x9 {
                continue; // The heartbeat's first ping (unanswered: its deadline is far).
            }
            assert_eq!(opcode, 0x2, "a binary frame, not {opcode:#x} (0x8: closed)");
            match decode_server(&payload).expect("each frame's payload is one whole message") {
                ServerMsg::Chat(line) => {
                    read.chat_bytes += payload.len();
                    read.chat.entry(line.player_id).or_default().push(line.text);
                    heard += 1;
                }
                ServerMsg::Snapshot(_) | ServerMsg::Delta(_) if heard == LINES => {
                    read.snapshots_after_last_line += 1;
                    if read.snapshots_after_last_line == 2 {
                        return read;
                    }
                }
                _ => {}
            }
        }
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
}

/// The whole frame at the front of `pending`, taken off it: opcode and payload.
fn take_frame(pending: &mut Vec<u8>, read: &mut Read) -> Option<(u8, Vec<u8>)> {
    let (first, second) = (*pending.first()?, *pending.get(1)?);
    assert_eq!(first & 0xf0, 0x80, "FIN set, no extension bits: {first:#x}");
    assert_eq!(second & 0x80, 0, "server frames are not masked");
    let (len, at) = match second & 0x7f {
        126 => (usize::from(u16::from_be_bytes([*pending.get(2)?, *pending.get(3)?])), 4),
        127 => panic!("no message here is that large"),
        len => (usize::from(len), 2),
    };
    if pending.len() < at + len {
        return None;
    }
    if at == 4 {
        assert!(len >= 126, "a {len}-byte payload in the 16-bit form");
        read.long_heads += 1;
    } else {
        read.short_heads += 1;
    }
    let opcode = first & 0x0f;
    let payload = pending.drain(..at + len).skip(at).collect();
    Some((opcode, payload))
}

/// Every chatter's lines, in the order it sent them, none missing, none twice.
fn assert_every_line_in_order(read: &Read, ids: &[PlayerId]) {
    for (index, id) in ids.iter().enumerate() {
        let expected: Vec<String> = (index * LINES_EACH..(index + 1) * LINES_EACH).map(line_text).collect();
        assert_eq!(read.chat.get(id), Some(&expected), "chatter {index}'s lines");
    }
    assert!(read.chat_bytes > GATHER_LIMIT, "{} bytes of chat: more than one gathering", read.chat_bytes);
    assert!(read.short_heads > 0 && read.long_heads > 0, "{} short, {} long heads", read.short_heads, read.long_heads);
}

/// A server whose slow-client limit is `slow_client_timeout_s`, with a room of
/// chatters and the watcher (which answers no ping, so the pong timeout is long).
async fn chat_server(
    slow_client_timeout_s: f64,
) -> (TestServer, Vec<PlayerId>, TcpStream, Vec<tokio::task::JoinHandle<ArenaClient>>) {
    let mut config = Config::for_tests();
    config.room_capacity = CHATTERS as u16 + 1;
    config.slow_client_timeout_s = slow_client_timeout_s;
    config.pong_timeout_s = 120.0;
    let server = TestServer::start_with(config).await;
    let (ids, watcher, chatters) = room_with_chatters(&server).await;
    (server, ids, watcher, chatters)
}

/// The watcher reads nothing while the room sends it about 110 KB of chat (its
/// buffers and the server's 16 KiB of unsent bytes take a fraction), then reads
/// everything: within the slow-client timeout of the last byte the socket took, it
/// stays connected and gets every line once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_then_resumes_gets_every_control_message_in_order() {
    let (server, ids, mut watcher, chatters) = chat_server(15.0).await;

    // All lines sent (60 at once, then 80 at 20 a second: 4 s), and some time to queue.
    let stopped = Instant::now();
    tokio::time::sleep(PACE * (LINES - SENT_AT_ONCE) as u32 + Duration::from_millis(1500)).await;
    let paused = stopped.elapsed();
    let read = read_all(&mut watcher, 64 * 1024, Duration::ZERO).await;

    assert_every_line_in_order(&read, &ids);
    eprintln!(
        "paused {paused:?}; {} bytes of chat, {} short and {} long heads",
        read.chat_bytes, read.short_heads, read.long_heads
    );
    chatters.iter().for_each(|task| task.abort());
    server.shutdown().await;
}

/// A client that reads slowly but steadily (about 20 KB/s) takes several seconds
/// to read one gathering (up to 64 KiB of chat and a snapshot): the slow-client
/// timeout (1 s) runs from the last byte the socket took, so it is not too slow.
/// (With the timeout over the whole gathering, it was closed within seconds.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_reading_a_backlog_slowly_but_steadily_is_not_too_slow() {
    let (server, ids, mut watcher, chatters) = chat_server(1.0).await;

    let started = Instant::now();
    let read = read_all(&mut watcher, 2048, Duration::from_millis(100)).await;

    assert_every_line_in_order(&read, &ids);
    eprintln!("read slowly in {:?}; {} bytes of chat", started.elapsed(), read.chat_bytes);
    chatters.iter().for_each(|task| task.abort());
    server.shutdown().await;
}
