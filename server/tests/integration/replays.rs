//! Replays over real sockets: a recorded round holds what a live spectator saw, a
//! shutdown closes the round in progress readable, rooms may opt out.

use std::path::{Path, PathBuf};
use std::time::Duration;

use arena_bots::{LoadConfig, Placement, run_load};
use arena_protocol::replay::Replay;
use arena_protocol::{Baselines, ServerMsg, WireEntity};
use arena_server::Config;

use crate::util::http::create_room;
use crate::util::ws::playing;
use crate::util::{TestServer, WAIT};

/// The finished replay files in `dir`.
fn replay_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".replay.gz"))
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_round_replays_what_a_spectator_saw_and_survives_a_shutdown() {
    let config = Config::for_tests();
    let dir = config.replay_dir.clone();
    let server = TestServer::start_with(config).await;
    let room = create_room(server.addr, r#"{"name":"replayed"}"#).await.id;
    let quiet = create_room(server.addr, r#"{"name":"unrecorded","replays":false}"#).await.id;
    let _alone = playing(&server.ws_url(&format!("room={quiet}&name=alone"))).await;
    let mut load = LoadConfig::new(server.ws_url(""), 4, Duration::from_secs(30));
    load.placement = Placement::Room(room.clone());
    let players = tokio::spawn(run_load(load, Default::default()));
    tokio::time::sleep(Duration::from_millis(500)).await;

    // A live spectator's decoded world, by tick, for two seconds.
    let mut spectator =
        arena_bots::ArenaClient::connect(&server.ws_url(&format!("room={room}&spectate=1"))).await.unwrap();
    let (mut seen, mut baselines) = (std::collections::BTreeMap::new(), Baselines::default());
    while seen.len() < 60 {
        let snapshot = match spectator.recv(WAIT).await.unwrap() {
            arena_bots::Incoming::Message(ServerMsg::Snapshot(s), _) => {
                baselines.keep_full(&s);
                s
            }
            arena_bots::Incoming::Message(ServerMsg::Delta(d), _) => baselines.apply(&d).unwrap(),
            _ => continue,
        };
        let mut wire: Vec<WireEntity> = snapshot.entities.iter().map(|&e| e.into()).collect();
        wire.sort_by_key(WireEntity::net_id);
        seen.insert(snapshot.tick.0, wire);
    }
    // The drain closes the round being played: its replay must be whole and readable.
    server.shutdown().await;
    let _ = players.await;

    let files = replay_files(&dir);
    assert_eq!(files.len(), 1, "one recorded round, none for the room that opted out: {files:?}");
    let replay = Replay::read(&std::fs::read(&files[0]).unwrap()).expect("the replay reads");
    assert_eq!(replay.header.room_id, room);
    assert_eq!(replay.end.reason, "room_closed");
    assert_eq!(replay.header.recorded_rate_hz, 10);
    assert!(replay.frames.windows(2).all(|w| w[1].tick.since(w[0].tick) == 3), "every third tick at 30 Hz");
    let mut compared = 0;
    for frame in &replay.frames {
        let Some(live) = seen.get(&frame.tick.0) else { continue };
        let recorded: Vec<WireEntity> = frame.entities.iter().map(|&e| e.into()).collect();
        assert_eq!(&recorded, live, "tick {}: the replay differs from what the spectator decoded", frame.tick.0);
        compared += 1;
    }
    assert!(compared >= 15, "only {compared} recorded ticks were among the spectator's 60");
    let joined: usize = replay
        .events
        .iter()
        .filter_map(|e| if let ServerMsg::RosterChange(c) = &e.msg { Some(c.joined.len()) } else { None })
        .sum();
    assert!(joined + replay.header.players.len() >= 4, "the four bots are in the header or joined later");
    // The description beside it lists the players.
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(files[0].to_string_lossy().replace(".replay.gz", ".json")).unwrap())
            .unwrap();
    assert_eq!(meta["room_id"], room.as_str());
    assert!(meta["players"].as_array().unwrap().len() >= 4, "{meta}");
    assert!(std::fs::read_dir(&dir).unwrap().flatten().all(|e| !e.path().to_string_lossy().ends_with(".partial")));
}
