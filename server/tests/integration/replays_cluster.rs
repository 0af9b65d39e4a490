//! Replays in a cluster of two real nodes sharing a real Redis: each node keeps its
//! own, any node lists every node's (a private room's only to someone who was in it)
//! with where to download each, and passes on a download of another node's replay.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use arena_protocol::lobby::RoomSummary;
use arena_protocol::replay::Replay;
use arena_server::lobby::cluster::NODE_AUTH_HEADER;
use arena_server::lobby::replays::across_nodes::MAX_FORWARDED_REPLAY_BYTES;
use hyper::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::cluster::{ADMIN_TOKEN, Redis, as_node, node, room_made_on, signed_for, start_redis};
use crate::replays::{get_raw, session};
use crate::util::http::{http_json, read_slowly};
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
    // Past the second a replay must cover to be kept (`MIN_KEPT_SECONDS`).
    tokio::time::sleep(Duration::from_millis(2_000)).await;
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

/// A public replay `id` in `dir` as a node loads it at start: a description saying
/// `described` bytes beside a sparse file of `file_bytes` (which takes no disk).
fn sparse_replay(dir: &Path, id: &str, described: u64, file_bytes: u64) {
    std::fs::create_dir_all(dir).unwrap();
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let meta = serde_json::json!({
        "id": id, "room_id": "r1", "room_name": "long", "private": false, "round": 1, "reason": "room_closed",
        "started_at_ms": now_ms - 1000, "ended_at_ms": now_ms, "duration_s": 1.0, "bytes": described, "frames": 1,
        "players": []
    });
    std::fs::write(dir.join(format!("{id}.json")), meta.to_string()).unwrap();
    std::fs::File::create(dir.join(format!("{id}.replay.gz"))).unwrap().set_len(file_bytes).unwrap();
}

/// A "node" that answers every replay download asked of it with a `Content-Length` of
/// `announced` bytes, sends `sent` of them and closes; anything else (a listing) gets
/// a 404, as from a node without replays.
async fn short_keeper(announced: usize, sent: usize) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = if head.starts_with(b"GET /api/replays/") {
                    let mut answer = format!("HTTP/1.1 200 OK\r\ncontent-length: {announced}\r\n\r\n").into_bytes();
                    answer.resize(answer.len() + sent, b'r');
                    answer
                } else {
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n".to_vec()
                };
                let _ = socket.write_all(&answer).await;
                // Dropped here: the connection closes, a replay's body short of its length.
            });
        }
    });
    (addr, serving)
}

/// `GET path` on `addr` (`Connection: close`), read until the server closes it: the
/// status, the `Content-Length` announced and the body bytes that came.
async fn fetch(addr: SocketAddr, path: &str) -> (u16, Option<u64>, Vec<u8>) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw)).await.expect("closed in time, not hung").unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head") + 4;
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let status = head[9..12].parse().unwrap();
    let length = head.lines().find_map(|l| l.strip_prefix("content-length: ")).map(|v| v.trim().parse().unwrap());
    (status, length, raw[split..].to_vec())
}

/// The value of one metric series of the node at `addr` (0 when absent).
async fn metric(addr: SocketAddr, series: &str) -> f64 {
    let page = http_json(addr, "GET", "/metrics", "", &[]).await;
    let series = format!("{series} ");
    page.body.lines().find_map(|line| line.strip_prefix(&series)?.parse().ok()).unwrap_or(0.0)
}

/// A download passed on from another node fails visibly, never as a hang or a quietly
/// short file: a replay over the 64 MB nodes pass on answers the client a 413 that says
/// so, whether the keeper refuses it (its description says how large) or announces it
/// (a file larger than described, refused by its `Content-Length`); a keeper that ends
/// before its `Content-Length` cuts the client's connection short of the length
/// announced to it. Each counted on the node asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passed_on_downloads_over_the_cap_or_cut_short_fail_visibly() {
    let redis = start_redis(free_loopback_addr().port()).await;
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let dir =
        std::env::temp_dir().join(format!("arena-large-replays-{}-{}", std::process::id(), rand::random::<u32>()));
    let over = MAX_FORWARDED_REPLAY_BYTES + 1;
    let (described_large, described_small) = ("00000000000000000a01", "00000000000000000a02");
    sparse_replay(&dir, described_large, over, over);
    sparse_replay(&dir, described_small, 1000, over);
    let mut a = node(&redis, &pg, "node-a", &[]).await;
    let b = node(&redis, &pg, "node-b", &["--replay-dir", dir.to_str().unwrap()]).await;
    eventually("A to list B's replays", WAIT, async || {
        ids(&listing(a.addr, "", &[]).await.1).contains(&described_large.to_string())
    })
    .await;

    let too_large = r#"arena_replay_node_calls_total{call="download",outcome="too_large"}"#;
    let calls_before = metric(a.addr, too_large).await;
    for id in [described_large, described_small] {
        for hint in ["?node=node-b", ""] {
            let asked = Instant::now();
            let answer = http_json(a.addr, "GET", &format!("/api/replays/{id}{hint}"), "", &[]).await;
            assert_eq!(answer.status, 413, "{id}{hint}: {}", answer.body);
            let reason = format!("larger than the {MAX_FORWARDED_REPLAY_BYTES} bytes passed on");
            assert!(answer.body.contains(&reason), "{id}{hint}: {}", answer.body);
            assert!(asked.elapsed() < Duration::from_secs(3), "{id}{hint} took {:?}", asked.elapsed());
        }
    }
    assert_eq!(metric(a.addr, too_large).await - calls_before, 4.0, "each refusal counted as a call");
    let refused = metric(a.addr, r#"arena_replay_requests_total{outcome="too_large"}"#).await;
    assert_eq!(refused, 4.0, "and as a request");

    // A keeper that announces 100,000 bytes and sends 40,000.
    let (announced, sent) = (100_000, 40_000);
    let (short, _serving) = short_keeper(announced, sent).await;
    register(&redis, "short", &node_entry("short", &format!("http://{short}"))).await;
    let path = "/api/replays/00000000000000000a03?node=short";
    let mut answer = None;
    eventually("A to pass on the short keeper's replay", WAIT, async || {
        let fetched = fetch(a.addr, path).await;
        let passed_on = fetched.0 == 200;
        answer = Some(fetched);
        passed_on
    })
    .await;
    let (_, length, body) = answer.unwrap();
    println!("announced {length:?}, {} bytes came before the connection closed", body.len());
    assert_eq!(length, Some(announced as u64), "the keeper's length is passed on");
    assert!(body.len() < announced, "the connection closed short of its announced length: {} bytes", body.len());
    let cut = metric(a.addr, r#"arena_replay_node_calls_total{call="download",outcome="cut"}"#).await;
    assert_eq!(cut, 1.0, "the cut download is counted");
    let mut warned = None;
    eventually("A to log why the download was cut", WAIT, async || {
        while let Ok(line) = a.log.try_recv() {
            if line.contains("was cut before its end") {
                warned = Some(line);
            }
        }
        warned.is_some()
    })
    .await;
    let warned = warned.unwrap();
    assert!(warned.contains("short") && warned.contains("00000000000000000a03"), "names the node and replay: {warned}");
    drop((a, b, redis, pg));
    let _ = std::fs::remove_dir_all(dir);
}

/// A download passed on from another node is one call, counted once on the node asked
/// by how it ended: `answered` for a file passed on whole, `cut` for one read slower
/// than the minimum rate (256 KiB a second here, on both nodes: whichever cuts first);
/// no other outcome moves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passed_on_download_is_counted_once_whole_or_cut() {
    let redis = start_redis(free_loopback_addr().port()).await;
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let dir = std::env::temp_dir().join(format!("arena-slow-replays-{}-{}", std::process::id(), rand::random::<u32>()));
    // Larger than what loopback's socket buffers can hold (tcp_wmem's default ceiling is
    // 4 MiB): a file that fits in them is all written at once and never read slowly enough
    // by the server to be cut (a loaded CI run saw that with 4 MiB).
    let (id, bytes) = ("00000000000000000b01", 16 * 1024 * 1024);
    sparse_replay(&dir, id, bytes, bytes);
    let slow = ["--replay-download-min-kib-per-window", "256", "--replay-download-window-s", "1"];
    let a = node(&redis, &pg, "node-a", &slow).await;
    let b = node(&redis, &pg, "node-b", &[&slow[..], &["--replay-dir", dir.to_str().unwrap()]].concat()).await;
    eventually("A to list B's replays", WAIT, async || {
        ids(&listing(a.addr, "", &[]).await.1).contains(&id.to_string())
    })
    .await;
    let outcomes = ["answered", "cut", "no_slot_here", "not_found", "busy", "too_large", "failed", "unreachable"];
    let counted = async || {
        let mut counts = Vec::new();
        for outcome in outcomes {
            let series = format!(r#"arena_replay_node_calls_total{{call="download",outcome="{outcome}"}}"#);
            counts.push(metric(a.addr, &series).await);
        }
        counts
    };
    let before = counted().await;
    let path = format!("/api/replays/{id}?node=node-b");
    let (status, length, body) = fetch(a.addr, &path).await;
    assert_eq!((status, length, body.len() as u64), (200, Some(bytes), bytes), "passed on whole");
    let (received, cut_after) = read_slowly([127, 0, 0, 1].into(), a.addr, &path, Duration::from_secs(9)).await;
    println!("the slow reader was cut after {cut_after:?} and {received} bytes");
    assert!(cut_after.is_some() && (received as u64) < bytes, "cut short: {received} bytes");
    let moved_since = |now: Vec<f64>| -> Vec<(&str, f64)> {
        outcomes.iter().zip(now.iter().zip(&before)).map(|(o, (n, b))| (*o, n - b)).collect()
    };
    eventually("both downloads to be counted", WAIT, async || {
        moved_since(counted().await).iter().map(|(_, d)| d).sum::<f64>() >= 2.0
    })
    .await;
    // A moment more: a third count would show here.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let moved = moved_since(counted().await);
    let expected: Vec<(&str, f64)> =
        outcomes.iter().map(|&o| (o, if o == "answered" || o == "cut" { 1.0 } else { 0.0 })).collect();
    assert_eq!(moved, expected, "two calls, one outcome each");
    drop((a, b, redis, pg));
    let _ = std::fs::remove_dir_all(dir);
}
