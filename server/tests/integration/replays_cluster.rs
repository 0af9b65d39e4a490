//! Replays in a cluster of two real nodes sharing a real Redis: each node keeps its
//! own, any node lists every node's (a private room's only to someone who was in it)
//! with where to download each, and passes on a download of another node's replay.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use arena_protocol::lobby::RoomSummary;
use arena_protocol::replay::Replay;
use arena_server::lobby::cluster::NODE_AUTH_HEADER;
use hyper::Method;
use tokio::net::TcpListener;

use crate::cluster::{ADMIN_TOKEN, Redis, as_node, node, room_made_on, signed_for, start_redis};
use crate::replays::{get_raw, session};
use crate::util::http::http_json;
use crate::util::postgres::Postgres;
use crate::util::ws::welcomed;
use crate::util::{WAIT, eventually, free_loopback_addr};

/// `GET /api/replays{query}` on `addr` with `headers`: status and body.
async fn listing(addr: SocketAddr, query: &str, headers: &[&str]) -> (u16, serde_json::Value) {
    let answer = http_json(addr, "GET", &format!("/api/replays{query}"), "", headers).await;
    (answer.status, serde_json::from_str(&answer.body).unwrap_or(serde_json::Value::Null))
}

/// The ids a listing holds.
fn ids(listed: &serde_json::Value) -> Vec<String> {
    listed["replays"].as_array().map_or_else(Vec::new, |r| r.iter().map(|m| m["id"].as_str().unwrap().into()).collect())
}

/// The entry of `id` in a listing.
fn entry<'a>(listed: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    listed["replays"].as_array().unwrap().iter().find(|m| m["id"] == id).unwrap()
}

/// A room on node `id` at `addr` made through the node itself (`?local=1`, signed),
/// played in by `token`'s player (`player_id`), then closed: its round's replay is
/// written on that node. Returns its id.
async fn recorded_round((id, addr): (&str, SocketAddr), body: &str, (token, player_id): (&str, u32)) -> String {
    let room = room_made_on(id, addr, body).await;
    let (_player, _) = welcomed(&format!("ws://{addr}/ws?room={}&token={token}", room.id)).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let admin = format!("Authorization: Bearer {ADMIN_TOKEN}");
    let closed = http_json(addr, "POST", &format!("/api/admin/rooms/{}/close", room.id), "", &[&admin]).await;
    assert!(closed.status < 300, "{}", closed.body);
    let mut replay = None;
    eventually("the closed room's replay to be listed on its node", WAIT, async || {
        let query = format!("?local=1&viewer={player_id}&room={}", room.id);
        let (_, listed) = listing(addr, &query, &[&node_header(id, addr, &format!("/api/replays{query}"))]).await;
        replay = ids(&listed).first().cloned();
        replay.is_some()
    })
    .await;
    replay.unwrap()
}

/// The header another node of the test cluster adds to `GET path` sent to node `id` at `addr`.
fn node_header(id: &str, addr: SocketAddr, path: &str) -> String {
    signed_for(id, &format!("http://{addr}"), Method::GET, path)
}

/// Write a node entry into the cluster's Redis, as a Redis writer could: `json` under
/// `arena:node:{key}`, for a minute.
async fn register(redis: &Redis, key: &str, json: &str) {
    let client = redis::Client::open(format!("redis://127.0.0.1:{}", redis.port)).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("SET")
        .arg(format!("arena:node:{key}"))
        .arg(json)
        .arg("EX")
        .arg(60)
        .query_async(&mut conn)
        .await
        .unwrap();
}

/// A node entry for `id` called at `url`.
fn node_entry(id: &str, url: &str) -> String {
    serde_json::json!({"id": id, "public_url": url, "version": "0", "rooms": 0, "players": 0}).to_string()
}

/// A "node" that accepts connections and never answers a byte.
async fn black_hole() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            sockets.push(socket);
        }
    });
    (addr, held)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_node_lists_and_serves_every_nodes_replays_keeping_private_ones_private() {
    let redis = start_redis(free_loopback_addr().port()).await;
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let a = node(&redis, &pg, "node-a", &[]).await;
    let mut b = node(&redis, &pg, "node-b", &[]).await;
    let ((ann, ann_id), (bob, bob_id)) = (session(b.addr, "ann").await, session(a.addr, "bob").await);
    let (ann_auth, bob_auth) = (format!("Authorization: Bearer {ann}"), format!("Authorization: Bearer {bob}"));

    // Ann plays a private round on A; bob a public one on B.
    let secret = recorded_round(("node-a", a.addr), r#"{"name": "Hidden", "private": true}"#, (&ann, ann_id)).await;
    let open = recorded_round(("node-b", b.addr), r#"{"name": "Open"}"#, (&bob, bob_id)).await;

    // A lists B's public replay, with B as where to fetch it; not A's private one to a guest.
    eventually("A to list B's replay", WAIT, async || ids(&listing(a.addr, "", &[]).await.1).contains(&open)).await;
    let (status, listed) = listing(a.addr, "", &[]).await;
    assert_eq!(status, 200, "{listed}");
    assert!(!ids(&listed).contains(&secret), "a private round is not listed to a guest: {listed}");
    assert_eq!(entry(&listed, &open)["node"], "node-b");
    assert_eq!(entry(&listed, &open)["url"], format!("http://{}/api/replays/{open}", b.addr));

    // B lists A's private replay to ann (who played in it, her token from B), not to bob.
    let (_, to_ann) = listing(b.addr, &format!("?player={ann_id}"), &[&ann_auth]).await;
    assert_eq!(ids(&to_ann), std::slice::from_ref(&secret), "{to_ann}");
    assert_eq!(entry(&to_ann, &secret)["node"], "node-a");
    assert_eq!(entry(&to_ann, &secret)["url"], format!("http://{}/api/replays/{secret}", a.addr));
    assert!(!ids(&listing(b.addr, "", &[&bob_auth]).await.1).contains(&secret), "bob was not in it");

    // B passes A's private replay on to ann, with or without the node named; byte for byte.
    let (status, direct) = get_raw(a.addr, &format!("/api/replays/{secret}"), &[&ann_auth]).await;
    assert_eq!(status, 200);
    for path in [format!("/api/replays/{secret}?node=node-a"), format!("/api/replays/{secret}")] {
        let (status, passed_on) = get_raw(b.addr, &path, &[&ann_auth]).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(passed_on, direct, "{path}: the file as A keeps it");
    }
    let replay = Replay::read(&direct).expect("the passed-on replay reads");
    assert!(replay.header.private && replay.header.players.iter().any(|p| p.player_id.0 == ann_id));
    assert_eq!(get_raw(b.addr, &format!("/api/replays/{secret}?node=node-a"), &[&bob_auth]).await.0, 404);
    assert_eq!(get_raw(b.addr, &format!("/api/replays/{secret}"), &[]).await.0, 404, "not to a guest");
    assert_eq!(get_raw(a.addr, "/api/replays/00000000000000000000?node=node-b", &[]).await.0, 404);

    // Hostile: `?local=1&viewer=` is a node's word only when signed for that very
    // path and for this very node: a call A signed for another node (a rogue one a
    // Redis writer registered, or B) and replayed to A is a client's call.
    let forged = format!("/api/replays?local=1&viewer={ann_id}");
    let a_url = format!("http://{}", a.addr);
    let sign = |id: &str, url: &str| signed_for(id, url, Method::GET, &forged);
    for headers in [
        vec![],
        vec![format!("{NODE_AUTH_HEADER}: 1700000000:00")],
        vec![node_header("node-a", a.addr, "/api/replays?local=1")],
        vec![node_header("node-b", b.addr, &forged)],
        vec![sign("evil", "http://127.0.0.1:9")],
        vec![sign("evil", &a_url)],
        vec![sign("node-a", "http://127.0.0.1:9")],
    ] {
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        let (status, listed) = listing(a.addr, &format!("?local=1&viewer={ann_id}"), &headers).await;
        assert_eq!(status, 200);
        assert!(!ids(&listed).contains(&secret), "{forged} with {headers:?} revealed a private replay");
        let download = format!("/api/replays/{secret}?local=1&viewer={ann_id}");
        assert_eq!(get_raw(a.addr, &download, &headers).await.0, 404, "{download} with {headers:?}");
    }
    let (_, own_call) = listing(a.addr, &format!("?local=1&viewer={ann_id}"), &[&sign("node-a", &a_url)]).await;
    assert!(ids(&own_call).contains(&secret), "a call signed for A itself: {own_call}");
    // A node id stored under another's key is not a node: nothing is asked of it.
    register(&redis, "innocent", &node_entry("node-b", "http://127.0.0.1:9")).await;

    // A registered node that accepts and never answers costs a listing its wait, no
    // more, and is named; a download searches the other nodes at once, not after it.
    let (hole, _held) = black_hole().await;
    register(&redis, "hole", &node_entry("hole", &format!("http://{hole}"))).await;
    eventually("A to ask the black hole", WAIT, async || {
        listing(a.addr, "", &[]).await.1["unreachable_nodes"] == serde_json::json!(["hole"])
    })
    .await;
    let asked = Instant::now();
    let (status, listed) = listing(a.addr, "", &[&ann_auth]).await;
    assert_eq!((status, &listed["unreachable_nodes"]), (200, &serde_json::json!(["hole"])), "{listed}");
    assert!(asked.elapsed() < Duration::from_secs(4), "the black hole held the listing {:?}", asked.elapsed());
    assert!(ids(&listed).contains(&secret) && ids(&listed).contains(&open), "{listed}");
    let asked = Instant::now();
    let (status, passed_on) = get_raw(b.addr, &format!("/api/replays/{secret}"), &[&ann_auth]).await;
    assert_eq!((status, &passed_on), (200, &direct));
    assert!(asked.elapsed() < Duration::from_secs(3), "the search waited on the black hole {:?}", asked.elapsed());

    // B dies while still registered (its entry kept alive, as a hung node's would be):
    // A answers at once with its own replays and names B; once B's entry is gone, so
    // is B from the listing.
    let b_entry = node_entry("node-b", &format!("http://{}", b.addr));
    b.child.start_kill().unwrap();
    let _ = b.child.wait().await;
    register(&redis, "node-b", &b_entry).await;
    eventually("A to read B's kept entry", WAIT, async || {
        listing(a.addr, "", &[]).await.1["unreachable_nodes"].as_array().is_some_and(|n| n.len() == 2)
    })
    .await;
    let asked = Instant::now();
    let (status, listed) = listing(a.addr, "", &[&ann_auth]).await;
    assert_eq!(status, 200);
    assert!(asked.elapsed() < Duration::from_secs(4), "a dead node held the listing {:?}", asked.elapsed());
    assert!(ids(&listed).contains(&secret) && !ids(&listed).contains(&open), "{listed}");
    assert_eq!(listed["unreachable_nodes"], serde_json::json!(["hole", "node-b"]), "{listed}");
    drop((a, redis, pg));
}

/// A client's listing costs one request of its budget, on the node it asked; the calls
/// that node makes to the others cost none there; an unsigned `?local=1` costs one too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_costs_the_client_one_request_on_the_node_it_asked() {
    let redis = start_redis(free_loopback_addr().port()).await;
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let limits = ["--limit-loopback", "--replay-requests-per-ip-per-minute", "3"];
    let a = node(&redis, &pg, "node-a", &limits).await;
    let b = node(&redis, &pg, "node-b", &limits).await;
    // Wait until A's view holds B (B's room, registered with it, listed on A), without
    // spending A's replay budget on finding out.
    let path = "/api/rooms?local=1";
    let made = http_json(b.addr, "POST", path, r#"{"name": "Marker"}"#, &[&as_node("node-b", b.addr, path)]).await;
    let marker: RoomSummary = serde_json::from_str(&made.body).unwrap();
    eventually("A to see B", WAIT, async || crate::cluster::rooms_seen_by(&a).await.iter().any(|r| r.id == marker.id))
        .await;
    let mut statuses = Vec::new();
    for query in ["?local=1", "", ""] {
        let (status, listed) = listing(a.addr, query, &[]).await;
        assert_eq!(listed["unreachable_nodes"], serde_json::Value::Null, "B answered: {listed}");
        statuses.push(status);
    }
    statuses.push(listing(a.addr, "", &[]).await.0);
    assert_eq!(statuses, [200, 200, 200, 429], "three tokens, one a listing");
    // A asked B twice on our behalf; B still has all three of ours.
    let mut on_b = Vec::new();
    for _ in 0..4 {
        on_b.push(listing(b.addr, "?local=1", &[]).await.0);
    }
    assert_eq!(on_b, [200, 200, 200, 429], "A's calls cost nothing on B; an unsigned ?local=1 costs one");
    drop((a, b, redis, pg));
}
