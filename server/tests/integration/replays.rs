//! Replays over real sockets: a recorded round holds what a live spectator saw, a
//! shutdown closes the round in progress readable, rooms may opt out.

use std::path::{Path, PathBuf};
use std::time::Duration;

use arena_bots::{LoadConfig, Placement, run_load};
use arena_protocol::replay::Replay;
use arena_protocol::{Baselines, ServerMsg, WireEntity};
use arena_server::Config;

use crate::util::http::{create_room, http_json};
use crate::util::ws::playing;
use crate::util::{TestServer, WAIT, eventually};

/// The same secret for both runs of a test, so a token outlives the restart.
const SECRET: &str = "replay-tests-secret-of-at-least-32-bytes";

/// `GET path` with `headers`: the status and the raw body (replays are binary).
pub async fn get_raw(addr: std::net::SocketAddr, path: &str, headers: &[&str]) -> (u16, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw)).await.unwrap().unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head") + 4;
    let status = String::from_utf8_lossy(&raw[9..12]).parse().unwrap();
    (status, raw[split..].to_vec())
}

/// A session token and its player id.
pub async fn session(addr: std::net::SocketAddr, name: &str) -> (String, u32) {
    let granted = http_json(addr, "POST", "/api/session", &format!(r#"{{"name":"{name}"}}"#), &[]).await;
    let body: serde_json::Value = serde_json::from_str(&granted.body).unwrap();
    (body["token"].as_str().unwrap().to_string(), body["player_id"].as_u64().unwrap() as u32)
}

/// `GET /api/replays…` as JSON, with a token or none.
async fn listing(addr: std::net::SocketAddr, query: &str, token: Option<&str>) -> (u16, serde_json::Value) {
    let auth = token.map(|t| format!("Authorization: Bearer {t}"));
    let headers: Vec<&str> = auth.iter().map(String::as_str).collect();
    let response = http_json(addr, "GET", &format!("/api/replays{query}"), "", &headers).await;
    (response.status, serde_json::from_str(&response.body).unwrap_or(serde_json::Value::Null))
}

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
    let mut config = Config::for_tests();
    config.jwt_secret = Some(SECRET.into());
    let dir = config.replay_dir.clone();
    let server = TestServer::start_with(config.clone()).await;
    let room = create_room(server.addr, r#"{"name":"replayed","private":true}"#).await.id;
    let quiet = create_room(server.addr, r#"{"name":"unrecorded","replays":false}"#).await.id;
    let _alone = playing(&server.ws_url(&format!("room={quiet}&name=alone"))).await;
    let ((ann, ann_id), (bob, _)) = (session(server.addr, "ann").await, session(server.addr, "bob").await);
    let _ann_plays = playing(&server.ws_url(&format!("room={room}&token={ann}"))).await;
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
    assert!(meta["players"].as_array().unwrap().len() >= 5, "four bots and ann: {meta}");
    assert!(std::fs::read_dir(&dir).unwrap().flatten().all(|e| !e.path().to_string_lossy().ends_with(".partial")));

    // A new run on the same folder lists it, to ann only: the room was private.
    let server = TestServer::start_with(config).await;
    let id = meta["id"].as_str().unwrap();
    assert_eq!(listing(server.addr, "", None).await, (200, serde_json::json!({ "replays": [] })));
    assert_eq!(listing(server.addr, "", Some(&bob)).await.1["replays"], serde_json::json!([]), "bob was not in it");
    let (status, listed) = listing(server.addr, &format!("?room={room}&player={ann_id}"), Some(&ann)).await;
    assert_eq!(status, 200);
    assert_eq!(listed["replays"][0]["id"], id, "{listed}");
    let url = listed["replays"][0]["url"].as_str().unwrap();
    assert!(url.ends_with(&format!("/api/replays/{id}")), "{url}");
    assert_eq!(listing(server.addr, "?since=99999999999999", Some(&ann)).await.1["replays"], serde_json::json!([]));
    assert_eq!(listing(server.addr, "?player=12345", Some(&ann)).await.1["replays"], serde_json::json!([]));
    let ann_auth = format!("Authorization: Bearer {ann}");
    let (status, file) = get_raw(server.addr, &format!("/api/replays/{id}"), &[&ann_auth]).await;
    assert_eq!(status, 200);
    assert_eq!(file, std::fs::read(&files[0]).unwrap(), "the download is the file");
    assert_eq!(get_raw(server.addr, &format!("/api/replays/{id}"), &[]).await.0, 404, "not to a guest");
    let bob_auth = format!("Authorization: Bearer {bob}");
    assert_eq!(get_raw(server.addr, &format!("/api/replays/{id}"), &[&bob_auth]).await.0, 404, "not to bob");
    server.shutdown().await;
}

/// A round cut short after a few frames (its room closed a third of a second in) leaves
/// no replay, neither file nor listing, as one nobody played in; a round that lasted
/// past the minimum second is kept. Regression: the short one was listed as "0 s".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_closed_after_a_few_frames_leaves_no_replay() {
    const ADMIN: &str = "replay-tests-admin-token-0123456789abcdef";
    let mut config = Config::for_tests();
    config.admin_token = Some(ADMIN.into());
    let dir = config.replay_dir.clone();
    let server = TestServer::start_with(config).await;
    let admin = format!("Authorization: Bearer {ADMIN}");
    let close = async |room: &str| {
        let closed = http_json(server.addr, "POST", &format!("/api/admin/rooms/{room}/close"), "", &[&admin]).await;
        assert_eq!(closed.status, 200, "{}", closed.body);
    };
    let short = create_room(server.addr, r#"{"name":"short"}"#).await.id;
    let _quick = playing(&server.ws_url(&format!("room={short}&name=quick"))).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    close(&short).await;
    let long = create_room(server.addr, r#"{"name":"long"}"#).await.id;
    let _stayer = playing(&server.ws_url(&format!("room={long}&name=stayer"))).await;
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    close(&long).await;

    // One queue, read in order: once the long round's replay is written, the short
    // round's end (sent two seconds before) has been settled too.
    eventually("the long round's replay", WAIT, async || !replay_files(&dir).is_empty()).await;
    let files = replay_files(&dir);
    assert_eq!(files.len(), 1, "only the long round's: {files:?}");
    let replay = Replay::read(&std::fs::read(&files[0]).unwrap()).expect("the replay reads");
    assert_eq!(replay.header.room_id, long);
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(left.len(), 2, "the long round's file and description, nothing else: {left:?}");
    let (status, listed) = listing(server.addr, "", None).await;
    assert_eq!(status, 200);
    let rooms: Vec<&str> =
        listed["replays"].as_array().unwrap().iter().map(|r| r["room_id"].as_str().unwrap()).collect();
    assert_eq!(rooms, [long.as_str()], "{listed}");
    assert!(listed["replays"][0]["duration_s"].as_f64().unwrap() >= 1.0, "{listed}");
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
