//! Several real server processes sharing one lobby through a real Redis.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use arena_bots::Incoming;
use arena_protocol::ServerMsg;
use arena_protocol::lobby::{Matchmade, RoomList, RoomSummary, SessionGranted};
use arena_server::lobby::cluster::{Callee, NODE_AUTH_HEADER, NodeAuth};
use hyper::Method;
use tokio::process::{Child, Command};

use crate::util::http::{http_get, http_json};
use crate::util::postgres::Postgres;
use crate::util::process::{ServerProcess, spawn_server};
use crate::util::ws::{next_announcement, welcomed};
use crate::util::{WAIT, eventually, free_loopback_addr};

/// A throwaway redis-server on a free loopback port, no persistence.
pub struct Redis {
    child: Child,
    pub port: u16,
}

/// Starts redis-server on `port` and waits up to [`WAIT`] for it to accept connections.
pub async fn start_redis(port: u16) -> Redis {
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("redis-server is installed (scripts/test.sh installs it)");
    eventually("redis-server to accept connections", WAIT, async || {
        tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok()
    })
    .await;
    Redis { child, port }
}

/// Shared by every node of a test cluster: it signs session tokens and the calls nodes pass on.
pub const CLUSTER_SECRET: &str = "a cluster secret of at least 32 bytes";
pub const ADMIN_TOKEN: &str = "an operator token of at least 32 bytes";

/// A node of the test cluster: Redis for the lobby, PostgreSQL for accounts (a
/// cluster on SQLite would keep a leaderboard per node, so it does not start).
pub async fn node(redis: &Redis, pg: &Postgres, id: &str, extra: &[&str]) -> ServerProcess {
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let database = pg.url();
    let mut args = vec![
        "--redis-url",
        &url,
        "--database-url",
        &database,
        "--node-id",
        id,
        "--node-ttl-s",
        "2",
        "--jwt-secret",
        CLUSTER_SECRET,
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--admin-token", ADMIN_TOKEN]);
    spawn_server(&args).await
}

/// The header another node of the test cluster would add to `method path` sent to
/// node `id` called at `url`, so a call made here with `?local=1` is answered there.
pub fn signed_for(id: &str, url: &str, method: Method, path: &str) -> String {
    let value = NodeAuth::new(CLUSTER_SECRET.as_bytes()).header_value(&method, path, Callee { node_id: id, url });
    format!("{NODE_AUTH_HEADER}: {}", value.to_str().unwrap())
}

/// [`signed_for`] a `POST` to node `id` listening (and called) at `addr`.
pub fn as_node(id: &str, addr: SocketAddr, path: &str) -> String {
    signed_for(id, &format!("http://{addr}"), Method::POST, path)
}

/// A room (`body` as `POST /api/rooms` takes it) made on node `id` at `addr` itself: a
/// signed `?local=1` call, as another node forwards one, so placement does not send it elsewhere.
pub async fn room_made_on(id: &str, addr: SocketAddr, body: &str) -> RoomSummary {
    let path = "/api/rooms?local=1";
    let made = http_json(addr, "POST", path, body, &[&as_node(id, addr, path)]).await;
    assert_eq!(made.status, 201, "{}", made.body);
    serde_json::from_str(&made.body).unwrap()
}

pub async fn rooms_seen_by(node: &ServerProcess) -> Vec<RoomSummary> {
    serde_json::from_str::<RoomList>(&http_get(node.addr, "/api/rooms").await.body).unwrap().rooms
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_share_rooms_matchmaking_tokens_and_announcements() {
    let redis = start_redis(free_loopback_addr().port()).await;
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let mut a = node(&redis, &pg, "node-a", &["--room-capacity", "3"]).await;
    let b = node(&redis, &pg, "node-b", &["--room-capacity", "3"]).await;

    // A room made through A (both nodes empty: A places it on itself) is listed by B.
    let made = http_json(a.addr, "POST", "/api/rooms", r#"{"name": "Alpha", "capacity": 3}"#, &[]).await;
    assert_eq!(made.status, 201, "{}", made.body);
    let alpha: RoomSummary = serde_json::from_str(&made.body).unwrap();
    assert_eq!(alpha.node.as_deref(), Some("node-a"));
    eventually("B to list A's room", WAIT, async || rooms_seen_by(&b).await.iter().any(|r| r.id == alpha.id)).await;
    let listed = rooms_seen_by(&b).await.into_iter().find(|r| r.id == alpha.id).unwrap();
    assert_eq!(listed.ws_url.as_deref(), Some(format!("ws://{}/ws", a.addr).as_str()));

    // Matchmaking through B fills A's room, then goes elsewhere.
    let mut seated = Vec::new();
    for _ in 0..3 {
        let answer: Matchmade =
            serde_json::from_str(&http_json(b.addr, "POST", "/api/matchmake", "", &[]).await.body).unwrap();
        assert_eq!(answer.room.id, alpha.id, "fill before create");
        assert!(answer.ws_url.starts_with(&format!("ws://{}/ws", a.addr)), "{}", answer.ws_url);
        let (player, welcome) = welcomed(&answer.ws_url).await;
        assert_eq!(welcome.room_id, alpha.id, "the URL matchmaking handed out seats the player in its room");
        seated.push(player);
    }
    let fourth: Matchmade =
        serde_json::from_str(&http_json(b.addr, "POST", "/api/matchmake", "", &[]).await.body).unwrap();
    assert_ne!(fourth.room.id, alpha.id, "a full room is not over-filled");
    let (_fourth_client, seated_fourth) = welcomed(&fourth.ws_url).await;
    assert_eq!(seated_fourth.room_id, fourth.room.id, "the overflow seat is in the room matchmaking named");

    // `?local=1` is honoured only on calls signed by a node: a client adding it (or a
    // forged header) does not skip placement. A has 3 players, B 1: B gets the room.
    eventually("B to register its player", WAIT, async || {
        rooms_seen_by(&a).await.iter().any(|r| r.node.as_deref() == Some("node-b") && r.players >= 1)
    })
    .await;
    // Nor does a call signed for another node (B) replayed to A.
    let for_b = as_node("node-b", b.addr, "/api/rooms?local=1");
    for headers in [vec![], vec!["X-Arena-Node-Auth: 1700000000:00"], vec![for_b.as_str()]] {
        let unsigned = http_json(a.addr, "POST", "/api/rooms?local=1", r#"{"name": "Sneaky"}"#, &headers).await;
        assert_eq!(unsigned.status, 201, "{}", unsigned.body);
        let placed: RoomSummary = serde_json::from_str(&unsigned.body).unwrap();
        assert_eq!(placed.node.as_deref(), Some("node-b"), "an unsigned ?local=1 is placed like any call");
    }

    // A token issued by B is accepted by A.
    let session: SessionGranted =
        serde_json::from_str(&http_json(b.addr, "POST", "/api/session", r#"{"name": "Roamer"}"#, &[]).await.body)
            .unwrap();
    let bravo = room_made_on("node-b", b.addr, r#"{"name": "Bravo"}"#).await;
    let (_roamer, welcome) = welcomed(&format!("ws://{}/ws?room={}&token={}", b.addr, bravo.id, session.token)).await;
    assert_eq!(welcome.player_id, session.player_id);
    let charlie = room_made_on("node-a", a.addr, r#"{"name": "Charlie"}"#).await;
    let (_, on_a) = welcomed(&format!("ws://{}/ws?room={}&token={}", a.addr, charlie.id, session.token)).await;
    assert_eq!(on_a.player_id, session.player_id, "A accepts B's token");

    // An announcement sent to A reaches a client on B.
    let (mut listener, _) = welcomed(&format!("ws://{}/ws?room={}&name=listener", b.addr, bravo.id)).await;
    let sent = http_json(
        a.addr,
        "POST",
        "/api/admin/announce",
        r#"{"text": "cluster-wide hello"}"#,
        &[&format!("Authorization: Bearer {ADMIN_TOKEN}")],
    )
    .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    let heard = next_announcement(&mut listener).await;
    assert_eq!(heard, "cluster-wide hello");

    // A dies without a word: its rooms leave B's lobby within the TTL.
    a.child.start_kill().unwrap();
    let gone = eventually("A's rooms to vanish from B", Duration::from_secs(8), async || {
        !rooms_seen_by(&b).await.iter().any(|r| r.node.as_deref() == Some("node-a"))
    })
    .await;
    eprintln!("cluster: a killed node vanished from the lobby after {gone:?} (TTL 2 s)");
    drop(seated);
    drop(redis);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_keeps_playing_without_redis_and_registers_again() {
    let port = free_loopback_addr().port();
    let mut redis = start_redis(port).await;
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let b = node(&redis, &pg, "node-solo", &[]).await;
    let room: RoomSummary =
        serde_json::from_str(&http_json(b.addr, "POST", "/api/rooms", r#"{"name": "Steady"}"#, &[]).await.body)
            .unwrap();
    let (mut player, _) = welcomed(&format!("ws://{}/ws?room={}", b.addr, room.id)).await;
    eventually("the room to be registered", WAIT, async || rooms_seen_by(&b).await.iter().any(|r| r.id == room.id))
        .await;

    redis.child.kill().await.unwrap();
    // The room keeps its tick while Redis is away: a second's snapshots, each a tick later.
    let mut ticks = Vec::new();
    while ticks.len() < 30 {
        match player.recv(WAIT).await.unwrap() {
            Incoming::Message(ServerMsg::Snapshot(s), _) => ticks.push(s.tick),
            Incoming::Message(ServerMsg::Delta(d), _) => ticks.push(d.tick),
            Incoming::Closed { code, reason } => panic!("closed while Redis was away: {code} {reason}"),
            _ => {}
        }
    }
    assert!(ticks.windows(2).all(|w| w[1].is_after(w[0])), "the room's tick stood still or went back: {ticks:?}");
    // The lobby falls back to this node's rooms.
    assert!(rooms_seen_by(&b).await.iter().any(|r| r.id == room.id));

    redis = start_redis(port).await;
    let took = eventually("the node to register again", Duration::from_secs(10), async || {
        let mut conn = redis::Client::open(format!("redis://127.0.0.1:{}", redis.port))
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let keys: Vec<String> = redis::cmd("KEYS").arg("arena:*").query_async(&mut conn).await.unwrap();
        keys.contains(&"arena:node:node-solo".to_string()) && keys.contains(&format!("arena:room:{}", room.id))
    })
    .await;
    eprintln!("cluster: re-registered {took:?} after Redis came back");
    drop(redis);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_the_shared_secret_refuses_to_join_the_cluster() {
    // No Redis needed: the node stops before it would talk to one.
    let output = Command::new(env!("CARGO_BIN_EXE_arena-server"))
        .args(["--addr", "127.0.0.1:0", "--redis-url", "redis://127.0.0.1:1", "--node-id", "no-secret"])
        .args(["--database-url", "postgres://127.0.0.1:1/none"])
        .env_remove("ARENA_JWT_SECRET")
        .env_remove("ARENA_JWT_SECRET_FILE")
        .env("NO_COLOR", "1")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(15), output).await.expect("the node exits").unwrap();
    assert!(!output.status.success(), "a cluster node without --jwt-secret must not start");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--redis-url needs --jwt-secret"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_others_write_to_redis_is_checked_before_it_is_used() {
    let redis = start_redis(free_loopback_addr().port()).await;
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let a = node(&redis, &pg, "node-checked", &[]).await;
    let mut conn = redis::Client::open(format!("redis://127.0.0.1:{}", redis.port))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    // A room whose node URL would send players (and forwarded calls) somewhere else.
    let planted = serde_json::json!({
        "summary": {
            "id": "0000deadbeef", "name": "Planted", "players": 0, "spectators": 0, "capacity": 8,
            "tick_rate_hz": 30, "private": false, "age_s": 0, "match_state": "playing", "round": 1,
            "rules": {"score_limit": 10, "time_limit_s": 60}
        },
        "node_id": "intruder",
        "public_url": "http://user@evil.example/steal"
    });
    // And one with a fine public URL but an internal URL (where calls go) that is not.
    let mut sideways = planted.clone();
    sideways["summary"]["id"] = "0000deadbeee".into();
    sideways["public_url"] = "http://10.0.0.7:8080".into();
    sideways["internal_url"] = "http://10.0.0.7:8080/api/admin?x=".into();
    for (id, entry) in [("0000deadbeef", planted), ("0000deadbeee", sideways)] {
        let _: () = redis::cmd("SET")
            .arg(format!("arena:room:{id}"))
            .arg(entry.to_string())
            .arg("EX")
            .arg(60)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    let room = http_json(a.addr, "POST", "/api/rooms", r#"{"name": "Real"}"#, &[]).await;
    let real: RoomSummary = serde_json::from_str(&room.body).unwrap();
    eventually("the real room to be listed", WAIT, async || rooms_seen_by(&a).await.iter().any(|r| r.id == real.id))
        .await;
    let listed = rooms_seen_by(&a).await;
    assert!(!listed.iter().any(|r| r.id == "0000deadbeef"), "a room with a bad node URL is ignored");
    assert!(!listed.iter().any(|r| r.id == "0000deadbeee"), "a room with a bad internal URL is ignored");

    // An announcement longer than the admin API allows is dropped; the next one arrives.
    let (mut listener, _) = welcomed(&format!("ws://{}/ws?room={}&name=listener", a.addr, real.id)).await;
    let _: usize =
        redis::cmd("PUBLISH").arg("arena:announce").arg("x".repeat(501)).query_async(&mut conn).await.unwrap();
    let _: usize =
        redis::cmd("PUBLISH").arg("arena:announce").arg("short and fine").query_async(&mut conn).await.unwrap();
    let heard = next_announcement(&mut listener).await;
    assert_eq!(heard, "short and fine", "the over-long announcement never reached the room");
    drop(redis);
}

/// Budgets hold across the cluster: a client's reservations passed on to another node
/// are counted there against the client's address (signed `for=`), not as the node's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budgets_follow_a_client_to_the_node_that_seats_it() {
    let redis = start_redis(free_loopback_addr().port()).await;
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let limits = ["--room-capacity", "2", "--limit-loopback", "--max-reservations-per-ip", "2"];
    let a = node(&redis, &pg, "node-a", &limits).await;
    let _b = node(&redis, &pg, "node-b", &limits).await;
    let mut granted = 0;
    let mut refused = Vec::new();
    for _ in 0..12 {
        let answer = http_json(a.addr, "POST", "/api/matchmake", "", &[]).await;
        match answer.status {
            200 => granted += 1,
            429 => refused.push(answer.body),
            other => panic!("unexpected {other}: {}", answer.body),
        }
    }
    // Two per node at most: one address cannot reserve the cluster's seats.
    assert!(granted <= 4, "{granted} of 12 granted");
    assert!(refused.iter().all(|body| body.contains("reservations_per_address")), "{refused:?}");
    drop(redis);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_played_on_one_node_is_on_the_other_nodes_leaderboard() {
    let redis = start_redis(free_loopback_addr().port()).await;
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let a = node(&redis, &pg, "node-a", &[]).await;
    let b = node(&redis, &pg, "node-b", &[]).await;
    let signed_up =
        http_json(b.addr, "POST", "/api/accounts", r#"{"name": "ann", "password": "correct horse"}"#, &[]).await;
    assert_eq!(signed_up.status, 201, "{}", signed_up.body);
    let ann: SessionGranted = serde_json::from_str(&signed_up.body).unwrap();
    // A token from node B plays on node A, in a room of node A.
    let room = room_made_on("node-a", a.addr, r#"{"name": "Alpha"}"#).await;
    let (_me, welcome) = welcomed(&format!("ws://{}/ws?room={}&token={}", a.addr, room.id, ann.token)).await;
    assert_eq!(welcome.player_id, ann.player_id);
    let auth = format!("Authorization: Bearer {ADMIN_TOKEN}");
    let closed = http_json(a.addr, "POST", &format!("/api/admin/rooms/{}/close", room.id), "", &[&auth]).await;
    assert!(closed.status < 300, "{}", closed.body);

    let board =
        async || serde_json::from_str::<serde_json::Value>(&http_get(b.addr, "/api/leaderboard").await.body).unwrap();
    eventually("node B's leaderboard lists ann", WAIT * 3, async || {
        board().await["lines"][0]["player_id"] == ann.player_id.0
    })
    .await;
    let history = http_get(b.addr, &format!("/api/players/{}/matches", ann.player_id.0)).await;
    let history: serde_json::Value = serde_json::from_str(&history.body).unwrap();
    assert_eq!(history["matches"][0]["room_id"], room.id.as_str());
}
