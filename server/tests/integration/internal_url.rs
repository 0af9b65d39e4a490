//! Nodes of a cluster calling each other at their `--internal-url` (plain HTTP, or
//! HTTPS checked against `--internal-ca`), while clients are sent to the public URL.

use std::net::SocketAddr;

use arena_protocol::lobby::{Matchmade, RoomList, RoomSummary};
use hyper::Method;

use crate::cluster::{CLUSTER_SECRET, Redis, rooms_seen_by, signed_for, start_redis};
use crate::util::http::http_json;
use crate::util::pki::{TestPki, https_request};
use crate::util::postgres::Postgres;
use crate::util::process::{ServerProcess, server_command, spawn_command};
use crate::util::ws::welcomed;
use crate::util::{WAIT, eventually, free_loopback_addr};

/// A node of the test cluster listening on `addr`.
async fn node_at(redis: &Redis, pg: &Postgres, id: &str, addr: SocketAddr, extra: &[&str]) -> ServerProcess {
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let mut command = server_command();
    command.args(["--addr", &addr.to_string(), "--redis-url", &url, "--node-id", id, "--node-ttl-s", "2"]);
    command.args(["--database-url", &pg.url()]);
    command.args(["--jwt-secret", CLUSTER_SECRET]).args(extra).env("NO_COLOR", "1");
    spawn_command(command).await
}

/// `method path` over HTTPS to the TLS node at `addr` (as `localhost`): status line and body.
async fn https_call(pki: &TestPki, addr: SocketAddr, method: &str, path: &str, body: &str, headers: &[&str]) -> String {
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for header in headers {
        request.push_str(&format!("{header}\r\n"));
    }
    request.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()));
    https_request(pki, addr, &request).await.unwrap().0
}

fn body_of(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_call_each_other_at_their_internal_urls_over_http_and_https() {
    let pki = TestPki::new();
    let redis = start_redis(free_loopback_addr().port()).await;
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    // A serves TLS itself and is called at https://localhost:port; B sits behind a TLS
    // proxy and is called at its plain address. Neither public name resolves, so a call
    // that went to a public URL would fail.
    let (a_addr, b_addr) = (free_loopback_addr(), free_loopback_addr());
    let (cert, key, ca) = (pki.cert(), pki.key(), pki.ca_path());
    let a_internal = format!("https://localhost:{}", a_addr.port());
    let a_tls = ["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()];
    let a_urls = ["--public-url", "https://a.arena.invalid", "--internal-url", &a_internal];
    let a = node_at(&redis, &pg, "node-a", a_addr, &[&a_tls[..], &a_urls].concat()).await;
    let b_internal = format!("http://{b_addr}");
    let b_urls = ["--public-url", "https://b.arena.invalid", "--internal-url", &b_internal];
    let b =
        node_at(&redis, &pg, "node-b", b_addr, &[&b_urls[..], &["--internal-ca", ca.to_str().unwrap()]].concat()).await;

    // A room of one seat on A, listed by B with A's public URL for clients.
    let path = "/api/rooms?local=1";
    let as_a = signed_for("node-a", &a_internal, Method::POST, path);
    let made = https_call(&pki, a.addr, "POST", path, r#"{"name": "Alpha", "capacity": 1}"#, &[&as_a]).await;
    assert!(made.starts_with("HTTP/1.1 201"), "{made}");
    let alpha: RoomSummary = serde_json::from_str(body_of(&made)).unwrap();
    eventually("B to list A's room", WAIT, async || rooms_seen_by(&b).await.iter().any(|r| r.id == alpha.id)).await;
    let listed = rooms_seen_by(&b).await.into_iter().find(|r| r.id == alpha.id).unwrap();
    assert_eq!(listed.ws_url.as_deref(), Some("wss://a.arena.invalid/ws"));

    // Matchmaking through B: B asks A for the seat over HTTPS at A's internal URL.
    let answer = http_json(b.addr, "POST", "/api/matchmake", "", &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let seat: Matchmade = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(seat.room.id, alpha.id);
    let query = seat.ws_url.strip_prefix("wss://a.arena.invalid/ws?").expect("clients get the public URL");
    arena_bots::connect::trust_ca(&ca).unwrap();
    let (_player, welcome) = welcomed(&format!("wss://localhost:{}/ws?{query}", a_addr.port())).await;
    assert_eq!(welcome.room_id, alpha.id, "the seat A reserved for B's caller is real");

    // And back: matchmaking through A finds A's room full and asks B over plain HTTP.
    let path = "/api/rooms?local=1";
    let as_b = signed_for("node-b", &b_internal, Method::POST, path);
    let made = http_json(b.addr, "POST", path, r#"{"name": "Bravo"}"#, &[&as_b]).await;
    assert_eq!(made.status, 201, "{}", made.body);
    let bravo: RoomSummary = serde_json::from_str(&made.body).unwrap();
    eventually("A to list B's room", WAIT, async || {
        let list = https_call(&pki, a.addr, "GET", "/api/rooms", "", &[]).await;
        serde_json::from_str::<RoomList>(body_of(&list)).is_ok_and(|l| l.rooms.iter().any(|r| r.id == bravo.id))
    })
    .await;
    let answer = https_call(&pki, a.addr, "POST", "/api/matchmake", "", &[]).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let seat: Matchmade = serde_json::from_str(body_of(&answer)).unwrap();
    assert_eq!(seat.room.id, bravo.id, "{answer}");
    assert!(seat.ws_url.starts_with("wss://b.arena.invalid/ws?"), "{}", seat.ws_url);
    drop((a, b, redis, pg));
}
