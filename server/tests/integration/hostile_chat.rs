//! A crowd chatting at once: the room's chat budget refuses what is over it, and
//! nobody is closed for what others sent.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arena_bots::{ArenaClient, Incoming};
use arena_protocol::{ChatText, ClientMsg, ServerMsg};
use arena_server::Config;
use arena_server::room::chat_budget::{ROOM_CHAT_BURST, ROOM_CHAT_PER_SECOND};
use futures_util::future::join_all;
use tokio::sync::Barrier;

use crate::util::http::{create_room, http_get};
use crate::util::ws::playing;
use crate::util::{TestServer, WAIT};

/// More than enough clients to fill every client's control queue (256) with one
/// burst each (5 lines): 52 did, before the room had a chat budget.
const CLIENTS: usize = 60;
/// Chat lines each client sends at once: its own limit, so none is refused by it.
const BURST_PER_CLIENT: usize = 5;
/// How long each client reads after the burst before looking for a fresh snapshot.
const LISTEN: Duration = Duration::from_secs(2);

/// What one client heard after the burst.
struct Heard {
    /// Chat lines received within a second of the burst.
    chat_in_first_second: usize,
    chat: usize,
    /// `error` messages saying the room's chat was over its budget.
    refusals: usize,
}

/// Sends this client's burst once everyone is ready, then reads for [`LISTEN`] and
/// until one more snapshot: a close at any point fails the test.
async fn burst_then_listen(mut client: ArenaClient, index: usize, ready: Arc<Barrier>) -> Heard {
    ready.wait().await;
    let go = Instant::now();
    for line in 0..BURST_PER_CLIENT {
        let text = format!("client {index} line {line}");
        client.send(&ClientMsg::Chat(ChatText { text })).await.unwrap();
    }
    let mut heard = Heard { chat_in_first_second: 0, chat: 0, refusals: 0 };
    let mut snapshot_after_listening = false;
    while !snapshot_after_listening {
        // Snapshots come every tick, so a read never waits long for the time check.
        match client.recv(WAIT).await.unwrap() {
            Incoming::Message(ServerMsg::Chat(_), _) => {
                heard.chat += 1;
                if go.elapsed() < Duration::from_secs(1) {
                    heard.chat_in_first_second += 1;
                }
            }
            Incoming::Message(ServerMsg::Error(e), _) => {
                assert!(
                    e.message.contains("room's chat"),
                    "client {index} was refused for its own rate: {}",
                    e.message
                );
                heard.refusals += 1;
            }
            Incoming::Message(ServerMsg::Snapshot(_) | ServerMsg::Delta(_), _) => {
                snapshot_after_listening = go.elapsed() >= LISTEN;
            }
            Incoming::Closed { code, reason } => panic!("client {index} was closed: {code} {reason}"),
            _ => {}
        }
    }
    heard
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_bursting_chat_at_once_is_refused_past_the_room_budget_and_nobody_is_closed() {
    let started = Instant::now();
    let mut config = Config::for_tests();
    config.room_capacity = CLIENTS as u16;
    let server = TestServer::start_with(config).await;
    let room = create_room(server.addr, &format!(r#"{{"name": "Crowd", "capacity": {CLIENTS}}}"#)).await;
    let url = server.ws_url(&format!("room={}", room.id));
    let clients = join_all((0..CLIENTS).map(|_| playing(&url))).await;

    let ready = Arc::new(Barrier::new(CLIENTS));
    let listeners: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(index, client)| tokio::spawn(burst_then_listen(client, index, ready.clone())))
        .collect();
    let heard: Vec<Heard> = join_all(listeners).await.into_iter().map(Result::unwrap).collect();

    // Nobody sends a line before the burst, so what anyone hears in its first second
    // is what the room let through in that second: its burst and one second's refill.
    let budget = (ROOM_CHAT_BURST + ROOM_CHAT_PER_SECOND) as usize;
    for (index, h) in heard.iter().enumerate() {
        assert!(h.chat_in_first_second <= budget, "client {index} heard {} lines in a second", h.chat_in_first_second);
        assert!(h.chat >= ROOM_CHAT_BURST as usize, "client {index} heard only {} lines: the burst fits", h.chat);
        assert_eq!(h.chat, heard[0].chat, "everyone hears the same lines");
    }
    // Every line was either broadcast or refused to its sender.
    let refused: usize = heard.iter().map(|h| h.refusals).sum();
    assert!(refused >= 1, "nobody was refused");
    assert_eq!(heard[0].chat + refused, CLIENTS * BURST_PER_CLIENT, "each line broadcast or refused, once");

    let metrics = http_get(server.addr, "/metrics").await.body;
    let counted = metrics
        .lines()
        .find_map(|l| l.strip_prefix(r#"arena_budget_refusals_total{budget="room_chat"} "#))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no room_chat refusals in /metrics:\n{metrics}"));
    assert!(counted >= refused as f64, "{counted} counted, {refused} refused");
    eprintln!("{CLIENTS} clients, {} lines broadcast, {refused} refused, in {:?}", heard[0].chat, started.elapsed());
    server.shutdown().await;
}
