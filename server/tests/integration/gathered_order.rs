//! Many control messages in one tick: a client's writer sends them and the tick's
//! snapshot in one write, and the client still reads them in the protocol's order.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use arena_bots::{ArenaClient, Incoming};
use arena_protocol::{ChatText, ClientMsg, EntityState, PlayerId, ServerMsg, Tick};
use arena_server::Config;
use futures_util::future::join_all;

use crate::util::http::create_room;
use crate::util::ws::welcomed;
use crate::util::{TestServer, WAIT};

/// Players joining at once: their roster changes, joins and chat land in few ticks.
const JOINERS: usize = 12;
/// Chat lines each joiner sends at once: its own burst; all of them (60) fit the room's (64).
const LINES_EACH: usize = 5;

/// What the watcher checked, for the final assertions.
struct Watched {
    snapshots: usize,
    /// Chat lines heard, per sender, in the order heard.
    chat: HashMap<PlayerId, Vec<String>>,
}

/// Reads until every joiner's lines arrived and one snapshot after. Each snapshot
/// may only show players the roster already named: a joiner's `roster_change`
/// (a control message) goes before the first snapshot that has them, so it must
/// come before it in the write that carries both.
async fn watch(mut watcher: ArenaClient) -> Watched {
    let mut known = HashSet::new();
    let mut last_tick = Tick(0);
    let mut watched = Watched { snapshots: 0, chat: HashMap::new() };
    let mut heard = 0;
    let check = |entities: &[EntityState], known: &HashSet<PlayerId>, tick: Tick| {
        for entity in entities.iter().filter(|e| e.kind.is_player()) {
            assert!(
                known.contains(&entity.owner),
                "tick {} shows player {} before its roster line",
                tick.0,
                entity.owner
            );
        }
    };
    loop {
        match watcher.recv(WAIT).await.unwrap() {
            Incoming::Message(ServerMsg::Roster(roster), _) => known.extend(roster.iter().map(|p| p.player_id)),
            Incoming::Message(ServerMsg::RosterChange(change), _) => {
                known.extend(change.joined.iter().map(|p| p.player_id));
                for left in &change.left {
                    known.remove(left);
                }
            }
            Incoming::Message(ServerMsg::Snapshot(snapshot), _) => {
                assert!(snapshot.tick.is_after(last_tick), "snapshot {} after {}", snapshot.tick.0, last_tick.0);
                last_tick = snapshot.tick;
                check(&snapshot.entities, &known, snapshot.tick);
                watched.snapshots += 1;
                if heard == JOINERS * LINES_EACH {
                    return watched;
                }
            }
            Incoming::Message(ServerMsg::Delta(delta), _) => {
                assert!(delta.tick.is_after(last_tick), "delta {} after {}", delta.tick.0, last_tick.0);
                last_tick = delta.tick;
                check(&delta.added, &known, delta.tick);
            }
            Incoming::Message(ServerMsg::Chat(line), _) => {
                assert!(known.contains(&line.player_id), "chat from {} before its roster line", line.player_id);
                watched.chat.entry(line.player_id).or_default().push(line.text);
                heard += 1;
            }
            Incoming::Closed { code, reason } => panic!("the watcher was closed: {code} {reason}"),
            _ => {}
        }
    }
}

/// Sends this joiner's lines at once, as soon as it is welcomed.
async fn chat_burst(mut client: ArenaClient, index: usize) -> ArenaClient {
    for line in 0..LINES_EACH {
        let text = format!("joiner {index} line {line}");
        client.send(&ClientMsg::Chat(ChatText { text })).await.unwrap();
    }
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_messages_and_snapshots_written_together_arrive_in_protocol_order() {
    let started = Instant::now();
    let mut config = Config::for_tests();
    config.room_capacity = JOINERS as u16 + 1;
    let server = TestServer::start_with(config).await;
    let room = create_room(server.addr, &format!(r#"{{"name": "Burst", "capacity": {}}}"#, JOINERS + 1)).await;
    let url = server.ws_url(&format!("room={}", room.id));
    let (watcher, _) = welcomed(&url).await;
    let watching = tokio::spawn(watch(watcher));

    let joiners = join_all((0..JOINERS).map(|_| welcomed(&url))).await;
    let ids: Vec<PlayerId> = joiners.iter().map(|(_, welcome)| welcome.player_id).collect();
    let _senders =
        join_all(joiners.into_iter().enumerate().map(|(index, (client, _))| chat_burst(client, index))).await;
    let watched = watching.await.unwrap();

    assert!(watched.snapshots > 0);
    for (index, player_id) in ids.iter().enumerate() {
        let expected: Vec<String> = (0..LINES_EACH).map(|line| format!("joiner {index} line {line}")).collect();
        assert_eq!(watched.chat.get(player_id), Some(&expected), "joiner {index}'s lines, in the order sent");
    }
    eprintln!(
        "{JOINERS} joiners, {} lines, {} snapshots, in {:?}",
        JOINERS * LINES_EACH,
        watched.snapshots,
        started.elapsed()
    );
    server.shutdown().await;
}
