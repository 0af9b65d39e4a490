//! Replays in a cluster of two real nodes sharing a real Redis: each node keeps its
//! own, any node lists every node's (a private room's only to someone who was in it)
//! with where to download each, and passes on a download of another node's replay.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use arena_protocol::lobby::RoomSummary;
use arena_protocol::replay::Replay;
use arena_server::lobby::cluster::{NODE_AUTH_HEADER, NodeAuth};
use hyper::Method;

use crate::cluster::{ADMIN_TOKEN, CLUSTER_SECRET, as_node, node, start_redis};
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

/// A room on `addr` made through the node itself (`?local=1`, signed), played in by
/// `token`'s player (`player_id`), then closed: its round's replay is written on that node. Returns its id.
async fn recorded_round(addr: SocketAddr, body: &str, (token, player_id): (&str, u32)) -> String {
    let made = http_json(addr, "POST", "/api/rooms?local=1", body, &[&as_node("/api/rooms?local=1")]).await;
    assert_eq!(made.status, 201, "{}", made.body);
    let room: RoomSummary = serde_json::from_str(&made.body).unwrap();
    let (_player, _) = welcomed(&format!("ws://{addr}/ws?room={}&token={token}", room.id)).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let admin = format!("Authorization: Bearer {ADMIN_TOKEN}");
    let closed = http_json(addr, "POST", &format!("/api/admin/rooms/{}/close", room.id), "", &[&admin]).await;
    assert!(closed.status < 300, "{}", closed.body);
    let mut id = None;
    eventually("the closed room's replay to be listed on its node", WAIT, async || {
        let query = format!("?local=1&viewer={player_id}&room={}", room.id);
        let (_, listed) = listing(addr, &query, &[&node_header(&format!("/api/replays{query}"))]).await;
        id = ids(&listed).first().cloned();
        id.is_some()
    })
    .await;
    id.unwrap()
}

/// The header another node of the test cluster adds to `GET path`.
fn node_header(path: &str) -> String {
    let value = NodeAuth::new(CLUSTER_SECRET.as_bytes()).header_value(&Method::GET, path);
    format!("{NODE_AUTH_HEADER}: {}", value.to_str().unwrap())
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
    let secret = recorded_round(a.addr, r#"{"name": "Hidden", "private": true}"#, (&ann, ann_id)).await;
    let open = recorded_round(b.addr, r#"{"name": "Open"}"#, (&bob, bob_id)).await;

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

    // Hostile: `?local=1&viewer=` is a node's word only when signed for that very path.
    let forged = format!("/api/replays?local=1&viewer={ann_id}");
    for headers in
        [vec![], vec![format!("{NODE_AUTH_HEADER}: 1700000000:00")], vec![node_header("/api/replays?local=1")]]
    {
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        let (status, listed) = listing(a.addr, &format!("?local=1&viewer={ann_id}"), &headers).await;
        assert_eq!(status, 200);
        assert!(!ids(&listed).contains(&secret), "{forged} with {headers:?} revealed a private replay");
        let download = format!("/api/replays/{secret}?local=1&viewer={ann_id}");
        assert_eq!(get_raw(a.addr, &download, &headers).await.0, 404, "{download} with {headers:?}");
    }
    let signed = format!("?local=1&viewer={ann_id}");
    let header = node_header(&format!("/api/replays{signed}"));
    assert!(ids(&listing(a.addr, &signed, &[&header]).await.1).contains(&secret), "a node's own call");

    // B dies: A still answers at once with its own replays (B named unreachable while
    // the cluster still lists it, then gone from the listing).
    b.child.start_kill().unwrap();
    let _ = b.child.wait().await;
    let asked = Instant::now();
    let (status, listed) = listing(a.addr, "", &[&ann_auth]).await;
    assert_eq!(status, 200);
    assert!(asked.elapsed() < Duration::from_secs(4), "a dead node held the listing {:?}", asked.elapsed());
    assert!(ids(&listed).contains(&secret), "{listed}");
    assert!(
        listed["unreachable_nodes"] == serde_json::json!(["node-b"]) || !ids(&listed).contains(&open),
        "B's replays are either marked missing or gone: {listed}"
    );
    drop((a, redis, pg));
}
