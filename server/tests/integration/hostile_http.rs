//! Safe to host in the open (issue 12): one hostile client address cannot take what every other client needs.
//!
//! Real servers on 127.0.0.1:0 are attacked from several loopback addresses (on Linux
//! every 127.x.y.z is loopback) with `limit_loopback` on, so those addresses are counted
//! like any other client's. While an attacker attacks, a victim at another address must
//! keep being served within a second.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use arena_bots::{ArenaClient, Incoming};
use arena_protocol::ServerMsg;
use arena_server::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::util::http::{HttpResponse, http_from, read_one_response, read_slowly, read_until_closed};
use crate::util::process::resident_bytes;
use crate::util::{TestServer, WAIT, connect_from, eventually, free_loopback_addr};

/// What a victim's request may take while an attack runs.
const SERVED_WITHIN: Duration = Duration::from_secs(1);

/// A valid `POST /api/session` body.
const SESSION: &str = r#"{"name":"x"}"#;

/// A request head whose body is far larger than a body deadline lets arrive byte by byte.
const SLOW_BODY_HEAD: &str =
    "POST /api/session HTTP/1.1\r\nHost: arena\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n";

/// How often a slow-body attacker sends its next byte.
const TRICKLE_EVERY: Duration = Duration::from_millis(500);

/// `arena_connections_refused_total` for connections over their address's count.
const REFUSED_PER_ADDRESS: &str = r#"arena_connections_refused_total{reason="per_address"}"#;

/// 127.0.0.`last`: one client address.
fn client(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// The test defaults, with loopback addresses counted like any other.
fn hostile_config() -> Config {
    let mut config = Config::for_tests();
    config.limit_loopback = true;
    config
}

async fn get(server: &TestServer, from: IpAddr, path: &str) -> HttpResponse {
    http_from(from, server.addr, "GET", path, "", &[]).await
}

async fn post(server: &TestServer, from: IpAddr, path: &str, body: &str) -> HttpResponse {
    http_from(from, server.addr, "POST", path, body, &[]).await
}

/// A `POST /api/rooms` body.
fn room_request(private: bool) -> String {
    format!(r#"{{"name": "{}", "private": {private}}}"#, if private { "hideout" } else { "open hall" })
}

/// `request`, which must be answered within [`SERVED_WITHIN`]; returns the response and how long it took.
async fn promptly(what: &str, request: impl Future<Output = HttpResponse>) -> (HttpResponse, Duration) {
    let started = Instant::now();
    let response = tokio::time::timeout(SERVED_WITHIN, request)
        .await
        .unwrap_or_else(|_| panic!("{what} took more than {SERVED_WITHIN:?}"));
    (response, started.elapsed())
}

/// Assert a 429 naming `budget` in its JSON, with a `Retry-After` of whole seconds, at least 1.
fn assert_over_budget(response: &HttpResponse, budget: &str) {
    assert_eq!(response.status, 429, "expected a 429 for {budget}:\n{}\n\n{}", response.headers, response.body);
    let retry_after =
        response.header("retry-after").unwrap_or_else(|| panic!("a 429 without Retry-After:\n{}", response.headers));
    let seconds: u64 =
        retry_after.parse().unwrap_or_else(|_| panic!("Retry-After is not whole seconds: {retry_after:?}"));
    assert!(seconds >= 1, "Retry-After: {seconds}");
    let body: serde_json::Value = serde_json::from_str(&response.body)
        .unwrap_or_else(|e| panic!("429 body is not JSON ({e}): {}", response.body));
    assert_eq!(body["budget"], budget, "{}", response.body);
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "no error message: {}", response.body);
}

/// `arena_budget_refusals_total` of one budget.
fn refusals_of(budget: &str) -> String {
    format!(r#"arena_budget_refusals_total{{budget="{budget}"}}"#)
}

/// One series of `/metrics` (0 when absent), asked from `from`. The recorder is
/// shared by every test in this binary: compare readings, never expect exact values.
async fn metric(server: &TestServer, from: IpAddr, series: &str) -> f64 {
    let page = get(server, from, "/metrics").await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.body.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok()).unwrap_or(0.0)
}

/// How one slow-body connection ended, timed from its connect.
#[derive(Debug)]
struct Trickled {
    /// When the server's first bytes arrived.
    answered_after: Option<Duration>,
    /// When the server closed or reset the connection; None if still open when we gave up.
    closed_after: Option<Duration>,
    read: Vec<u8>,
}

impl Trickled {
    /// Closed at once, without any HTTP response: what an address over its count gets.
    fn refused_at_accept(&self) -> bool {
        self.read.is_empty() && self.closed_after.is_some_and(|t| t <= Duration::from_secs(1))
    }

    /// Answered 408, or closed without a word, within `limit`.
    fn cut_within(&self, limit: Duration) -> bool {
        let answered_408 = self.read.starts_with(b"HTTP/1.1 408") && self.answered_after.is_some_and(|t| t <= limit);
        let closed_silently = self.read.is_empty() && self.closed_after.is_some_and(|t| t <= limit);
        answered_408 || closed_silently
    }

    /// When the server answered or closed, whichever came first.
    fn ended_after(&self) -> Option<Duration> {
        self.answered_after.or(self.closed_after)
    }
}

/// Send `head` from `from`, then one body byte every [`TRICKLE_EVERY`] until the
/// server closes the connection or `give_up` passes.
async fn trickle(from: IpAddr, server: SocketAddr, head: &str, give_up: Duration) -> Trickled {
    let mut stream = connect_from(from, server).await.expect("connect");
    let opened = Instant::now();
    let mut outcome = Trickled { answered_after: None, closed_after: None, read: Vec::new() };
    if stream.write_all(head.as_bytes()).await.is_err() {
        outcome.closed_after = Some(opened.elapsed());
        return outcome;
    }
    let (mut reader, mut writer) = stream.split();
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + TRICKLE_EVERY, TRICKLE_EVERY);
    let give_up = tokio::time::sleep(give_up);
    tokio::pin!(give_up);
    let mut buf = [0u8; 1024];
    loop {
        tokio::select! {
            read = reader.read(&mut buf) => match read {
                Ok(0) | Err(_) => {
                    outcome.closed_after = Some(opened.elapsed());
                    return outcome;
                }
                Ok(n) => {
                    outcome.answered_after.get_or_insert(opened.elapsed());
                    outcome.read.extend_from_slice(&buf[..n]);
                }
            },
            // A write into a closed connection fails; the read above sees the close.
            _ = every.tick() => { let _ = writer.write_all(b" ").await; }
            () = &mut give_up => return outcome,
        }
    }
}

/// `GET /health` and `GET /ready` from `victim` until `stop`, each given [`SERVED_WITHIN`]:
/// every request with its path, how long it took, and its status (None: not answered in time).
async fn keep_asking(
    server: SocketAddr,
    victim: IpAddr,
    stop: Arc<AtomicBool>,
) -> Vec<(&'static str, Duration, Option<u16>)> {
    let mut asked = Vec::new();
    while !stop.load(Ordering::Acquire) {
        for path in ["/health", "/ready"] {
            let started = Instant::now();
            let answer = tokio::time::timeout(SERVED_WITHIN, http_from(victim, server, "GET", path, "", &[])).await;
            asked.push((path, started.elapsed(), answer.ok().map(|r| r.status)));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    asked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_reserve_every_seat() {
    let server = TestServer::start_with(hostile_config()).await;
    let (attacker, victim, observer) = (client(2), client(3), client(4));
    let refusals_before = metric(&server, observer, &refusals_of("reservations_per_address")).await;

    let mut granted = 0;
    for _ in 0..20 {
        let response = post(&server, attacker, "/api/matchmake", "").await;
        if response.status == 200 {
            granted += 1;
        } else {
            assert_over_budget(&response, "reservations_per_address");
        }
    }
    assert_eq!(granted, 4, "max_reservations_per_ip is 4: exactly 4 of 20 reservations granted");

    let (quick, _) = promptly("the victim's matchmake", post(&server, victim, "/api/matchmake", "")).await;
    assert_eq!(quick.status, 200, "{}", quick.body);
    let (room, _) = promptly("the victim's new room", post(&server, victim, "/api/rooms", &room_request(false))).await;
    assert_eq!(room.status, 201, "{}", room.body);

    let refusals = metric(&server, observer, &refusals_of("reservations_per_address")).await - refusals_before;
    assert!(refusals >= 16.0, "16 refusals counted, the counter grew by {refusals}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_every_room() {
    let mut config = hostile_config();
    // Private rooms are capped at half of this by default: 10.
    config.max_rooms = 20;
    let server = TestServer::start_with(config).await;

    // One address, private and public rooms alike: 5 open rooms, then refused.
    let mut private_made = 0;
    for attempt in 0..8 {
        let private = attempt % 2 == 0;
        let response = post(&server, client(2), "/api/rooms", &room_request(private)).await;
        if attempt < 5 {
            assert_eq!(response.status, 201, "room {} of 5: {}", attempt + 1, response.body);
            private_made += usize::from(private);
        } else {
            assert_over_budget(&response, "open_rooms_per_address");
        }
    }

    // More addresses, private rooms only: 5 each would be 20 and fill the server;
    // they stop at 10 private rooms in all (503), so public play keeps its rooms.
    let mut private_refused = 0;
    for last in 3..=6 {
        for _ in 0..7 {
            let response = post(&server, client(last), "/api/rooms", &room_request(true)).await;
            match response.status {
                201 => private_made += 1,
                503 => private_refused += 1,
                _ => assert_over_budget(&response, "open_rooms_per_address"),
            }
        }
    }
    assert_eq!(private_made, 10, "private rooms stop at half of max_rooms");
    assert!(private_refused > 0, "past the private-room cap, creating one answers 503");

    let victim = client(7);
    let (quick, _) = promptly("the victim's Quick play", post(&server, victim, "/api/matchmake", "")).await;
    assert_eq!(quick.status, 200, "{}", quick.body);
    let (room, _) = promptly("the victim's new room", post(&server, victim, "/api/rooms", &room_request(false))).await;
    assert_eq!(room.status, 201, "{}", room.body);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_creation_is_budgeted_per_address_per_hour() {
    let mut config = hostile_config();
    config.rooms_per_ip_per_hour = 3;
    let server = TestServer::start_with(config).await;
    for _ in 0..3 {
        let response = post(&server, client(2), "/api/rooms", &room_request(false)).await;
        assert_eq!(response.status, 201, "{}", response.body);
    }
    // 3 open rooms is under max_rooms_per_ip (5): the hourly budget is what refuses.
    assert_over_budget(
        &post(&server, client(2), "/api/rooms", &room_request(false)).await,
        "rooms_per_address_per_hour",
    );
    let (room, _) =
        promptly("another address's room", post(&server, client(3), "/api/rooms", &room_request(false))).await;
    assert_eq!(room.status, 201, "{}", room.body);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_tokens_are_budgeted_per_address() {
    let server = TestServer::start_with(hostile_config()).await;
    let (attacker, victim, observer) = (client(2), client(3), client(4));
    let refusals_before = metric(&server, observer, &refusals_of("sessions_per_address_per_minute")).await;
    for issued in 0..30 {
        let response = post(&server, attacker, "/api/session", SESSION).await;
        assert_eq!(response.status, 200, "token {} of 30: {}", issued + 1, response.body);
    }
    for _ in 0..5 {
        assert_over_budget(&post(&server, attacker, "/api/session", SESSION).await, "sessions_per_address_per_minute");
    }
    let (token, _) = promptly("the victim's session", post(&server, victim, "/api/session", SESSION)).await;
    assert_eq!(token.status, 200, "{}", token.body);
    assert!(token.body.contains("\"token\""), "{}", token.body);
    let refusals = metric(&server, observer, &refusals_of("sessions_per_address_per_minute")).await - refusals_before;
    assert!(refusals >= 5.0, "5 refusals counted, the counter grew by {refusals}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_flood_holds_only_its_address_share_and_slow_bodies_are_cut() {
    let mut config = hostile_config();
    config.max_connections_per_ip = 8;
    config.max_connections = 64;
    config.body_timeout_s = 1.0;
    let server = TestServer::start_with(config).await;
    let (attacker, victim, observer) = (client(2), client(3), client(4));
    let refused_before = metric(&server, observer, REFUSED_PER_ADDRESS).await;

    let stop = Arc::new(AtomicBool::new(false));
    let asking = tokio::spawn(keep_asking(server.addr, victim, stop.clone()));
    const ATTEMPTED: usize = 40;
    let give_up = Duration::from_secs(5);
    let attack: Vec<_> =
        (0..ATTEMPTED).map(|_| tokio::spawn(trickle(attacker, server.addr, SLOW_BODY_HEAD, give_up))).collect();
    let mut outcomes = Vec::new();
    for connection in attack {
        outcomes.push(connection.await.unwrap());
    }
    stop.store(true, Ordering::Release);
    let asked = asking.await.unwrap();

    let refused = outcomes.iter().filter(|o| o.refused_at_accept()).count();
    let cut: Vec<&Trickled> =
        outcomes.iter().filter(|o| !o.refused_at_accept() && o.cut_within(Duration::from_secs(5))).collect();
    let cut_latest = cut.iter().filter_map(|o| o.ended_after()).max().unwrap_or_default();
    let answered_408 = cut.iter().filter(|o| !o.read.is_empty()).count();
    let victim_max = asked.iter().map(|(_, took, _)| *took).max().unwrap_or_default();
    println!(
        "connection flood: {ATTEMPTED} attempted, {refused} refused at accept, {} cut by the body deadline \
         ({answered_408} with a 408, the last after {cut_latest:?}); victim: {} requests, slowest {victim_max:?}",
        cut.len(),
        asked.len()
    );
    let unexplained: Vec<&Trickled> =
        outcomes.iter().filter(|o| !o.refused_at_accept() && !o.cut_within(Duration::from_secs(5))).collect();
    assert!(unexplained.is_empty(), "neither refused at accept nor cut by the body deadline: {unexplained:#?}");
    assert!(refused >= ATTEMPTED - 8, "at most 8 connections of one address stay open, {} did", ATTEMPTED - refused);
    assert!(!asked.is_empty(), "the victim asked while the attack ran");
    let slow: Vec<_> = asked.iter().filter(|(_, took, status)| *status != Some(200) || *took > SERVED_WITHIN).collect();
    assert!(slow.is_empty(), "the victim was not served within {SERVED_WITHIN:?}: {slow:?}");

    let counted = metric(&server, observer, REFUSED_PER_ADDRESS).await - refused_before;
    assert!(counted >= refused as f64, "{refused} refused at accept, the counter grew by {counted}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed() {
    let mut config = hostile_config();
    config.http_idle_timeout_s = 1.0;
    let server = TestServer::start_with(config).await;
    let mut stream = connect_from(client(2), server.addr).await.unwrap();
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: arena\r\n\r\n").await.unwrap();
    let response = read_one_response(&mut stream).await;
    assert_eq!(response.status, 200, "{}", response.body);

    let idle_since = Instant::now();
    let after = tokio::time::timeout(Duration::from_secs(3), read_until_closed(&mut stream))
        .await
        .expect("an idle keep-alive connection is closed within 3 s");
    let idle_for = idle_since.elapsed();
    println!("idle keep-alive connection closed after {idle_for:?}");
    assert!(after.is_empty(), "nothing is sent on an idle connection: {:?}", String::from_utf8_lossy(&after));
    assert!(idle_for >= Duration::from_millis(500), "kept alive for a short pause, closed after {idle_for:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_request_head_is_cut_with_nothing_or_a_408() {
    let mut config = hostile_config();
    config.handshake_timeout_s = 1.0;
    let server = TestServer::start_with(config).await;
    let mut stream = connect_from(client(2), server.addr).await.unwrap();
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: arena\r\n").await.unwrap();
    let started = Instant::now();
    let read = tokio::time::timeout(Duration::from_secs(3), read_until_closed(&mut stream))
        .await
        .expect("a stalled request head is cut within 3 s");
    let text = String::from_utf8_lossy(&read);
    println!("stalled head cut after {:?}, read {text:?}", started.elapsed());
    assert!(read.is_empty() || text.starts_with("HTTP/1.1 408"), "a stalled head gets nothing or a 408: {text:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_addresses_count_only_from_a_trusted_proxy() {
    let mut config = hostile_config();
    config.trusted_proxies = vec!["127.0.0.9/32".parse().unwrap()];
    let server = TestServer::start_with(config).await;
    let proxy = client(9);
    let session_for = |from: IpAddr, forwarded_for: String| {
        let addr = server.addr;
        async move {
            let header = format!("X-Forwarded-For: {forwarded_for}");
            http_from(from, addr, "POST", "/api/session", SESSION, &[&header]).await
        }
    };

    // Through the proxy the client is the right-most entry, not the (client-written) left-most.
    for issued in 0..30 {
        let response = session_for(proxy, "127.0.0.1, 10.1.2.3".into()).await;
        assert_eq!(response.status, 200, "token {} of 30 for 10.1.2.3: {}", issued + 1, response.body);
    }
    assert_over_budget(&session_for(proxy, "127.0.0.1, 10.1.2.3".into()).await, "sessions_per_address_per_minute");
    assert_over_budget(&session_for(proxy, "10.1.2.3".into()).await, "sessions_per_address_per_minute");
    // Same left-most entry, another client: its own budget; so is the proxy's other client.
    assert_eq!(session_for(proxy, "127.0.0.1, 10.1.2.4".into()).await.status, 200);
    assert_eq!(session_for(proxy, "10.1.2.5".into()).await.status, 200);

    // From an untrusted peer the header is ignored: a new address per request does not help.
    let spoofer = client(2);
    for issued in 0..30 {
        let response = session_for(spoofer, format!("10.9.9.{issued}")).await;
        assert_eq!(response.status, 200, "token {} of 30 for 127.0.0.2: {}", issued + 1, response.body);
    }
    assert_over_budget(&session_for(spoofer, "10.9.9.200".into()).await, "sessions_per_address_per_minute");
    assert_over_budget(&post(&server, spoofer, "/api/session", SESSION).await, "sessions_per_address_per_minute");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_behind_a_trusted_proxy_is_held_to_its_connection_count() {
    let mut config = hostile_config();
    config.trusted_proxies = vec!["127.0.0.9/32".parse().unwrap()];
    config.max_connections_per_ip = 2;
    let server = TestServer::start_with(config).await;
    let (proxy, observer) = (client(9), client(4));
    let refused_before = metric(&server, observer, REFUSED_PER_ADDRESS).await;

    // Two requests for 10.7.7.7 whose bodies never come hold both of its places.
    let slow = "POST /api/session HTTP/1.1\r\nHost: arena\r\nX-Forwarded-For: 10.7.7.7\r\n\
                Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{";
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = connect_from(proxy, server.addr).await.unwrap();
        stream.write_all(slow.as_bytes()).await.unwrap();
        held.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let third = http_from(proxy, server.addr, "POST", "/api/session", SESSION, &["X-Forwarded-For: 10.7.7.7"]).await;
    assert_over_budget(&third, "connections_per_address");
    // The proxy's own connections are not counted: its other clients are served.
    let (other, _) = promptly(
        "another client through the proxy",
        http_from(proxy, server.addr, "POST", "/api/session", SESSION, &["X-Forwarded-For: 10.7.7.8"]),
    )
    .await;
    assert_eq!(other.status, 200, "{}", other.body);
    let counted = metric(&server, observer, REFUSED_PER_ADDRESS).await - refused_before;
    assert!(counted >= 1.0, "the refusal is counted, the counter grew by {counted}");
    drop(held);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_rooms_do_not_leak_to_unauthenticated_readers() {
    let server = TestServer::start_with(hostile_config()).await;
    let (owner, reader) = (client(2), client(3));
    let mut feed = ArenaClient::connect(&format!("ws://{}/ws/lobby", server.addr)).await.unwrap();

    let created = post(&server, owner, "/api/rooms", &room_request(true)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let secret: arena_protocol::lobby::RoomSummary = serde_json::from_str(&created.body).unwrap();
    assert!(secret.private);
    let listed = post(&server, owner, "/api/rooms", &room_request(false)).await;
    assert_eq!(listed.status, 201, "{}", listed.body);
    let public: arena_protocol::lobby::RoomSummary = serde_json::from_str(&listed.body).unwrap();

    // The lobby feed: every list up to the one showing the public room (made after
    // the private one) leaves the private room out.
    let seen_public = async {
        loop {
            match feed.recv(WAIT).await.expect("lobby feed") {
                Incoming::Message(ServerMsg::Lobby(rooms), _) => {
                    assert!(!rooms.iter().any(|r| r.id == secret.id), "the lobby feed lists the private room");
                    if rooms.iter().any(|r| r.id == public.id) {
                        return;
                    }
                }
                Incoming::Closed { code, reason } => panic!("lobby feed closed: {code} {reason}"),
                _ => {}
            }
        }
    };
    tokio::time::timeout(WAIT, seen_public).await.expect("the public room reaches the lobby feed");

    let rooms = get(&server, reader, "/api/rooms").await;
    assert!(rooms.body.contains(&public.id), "the public room is listed: {}", rooms.body);
    for path in ["/api/rooms", "/health", "/ready", "/metrics"] {
        let response = get(&server, reader, path).await;
        assert_eq!(response.status, 200, "{path}: {}", response.body);
        let leaked = response.headers.contains(&secret.id) || response.body.contains(&secret.id);
        assert!(!leaked, "{path} carries the private room's id");
    }
    let quick = post(&server, reader, "/api/matchmake", "").await;
    assert_eq!(quick.status, 200, "{}", quick.body);
    assert!(!quick.body.contains(&secret.id), "Quick play seated a stranger in the private room");
    let monitor = get(&server, reader, "/api/monitor").await;
    assert_eq!(monitor.status, 403, "the monitor is off without an admin token: {}", monitor.body);
    assert!(!monitor.body.contains(&secret.id));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_endpoints_need_the_bearer_token_and_metrics_can_leave_the_public_port() {
    const ADMIN_TOKEN: &str = "hostile-http-admin-token-0123456789abcdef";
    let metrics_addr = free_loopback_addr();
    let mut config = hostile_config();
    config.admin_token = Some(ADMIN_TOKEN.into());
    config.metrics_addr = Some(metrics_addr);
    let server = TestServer::start_with(config).await;
    let reader = client(3);

    let monitor = |path: String, headers: Vec<String>| async move {
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        http_from(reader, server.addr, "GET", &path, "", &headers).await.status
    };
    let bearer = |token: &str| vec![format!("Authorization: Bearer {token}")];
    assert_eq!(monitor("/api/monitor".into(), vec![]).await, 401, "no bearer header");
    let in_query = format!("/api/monitor?token={ADMIN_TOKEN}");
    assert_eq!(monitor(in_query, vec![]).await, 401, "the token in the query is not accepted");
    let wrong = ADMIN_TOKEN.replace('f', "F");
    assert_eq!(monitor("/api/monitor".into(), bearer(&wrong)).await, 401, "a wrong token of the right length");
    assert_eq!(monitor("/api/monitor".into(), bearer(ADMIN_TOKEN)).await, 200);

    assert_eq!(get(&server, reader, "/metrics").await.status, 404, "/metrics is off the public port");
    // The metrics listener is bound as the server starts: wait for it.
    eventually("the metrics address to listen", WAIT, async || connect_from(reader, metrics_addr).await.is_ok()).await;
    let scraped = http_from(reader, metrics_addr, "GET", "/metrics", "", &[]).await;
    assert_eq!(scraped.status, 200, "{}", scraped.body);
    assert!(scraped.body.contains("arena_"), "Prometheus text on the metrics address");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_flat_under_attack() {
    let mut config = hostile_config();
    config.max_connections_per_ip = 8;
    // The flooder's slow bodies must hold its places for the whole attack.
    config.body_timeout_s = 60.0;
    let server = TestServer::start_with(config).await;
    // Warm up the allocator and the server's tables before the baseline.
    for path in ["/api/matchmake", "/api/session"] {
        assert_eq!(post(&server, client(20), path, SESSION).await.status, 200);
    }
    let before = resident_bytes(std::process::id());
    let started = Instant::now();

    // Budgets: four addresses, two workers each, matchmaking and sessions far past their budgets.
    let mut workers = Vec::new();
    for last in 2..=5 {
        for _ in 0..2 {
            let addr = server.addr;
            workers.push(tokio::spawn(async move {
                let mut refused = 0;
                for i in 0..280 {
                    let path = if i % 2 == 0 { "/api/matchmake" } else { "/api/session" };
                    if http_from(client(last), addr, "POST", path, SESSION, &[]).await.status == 429 {
                        refused += 1;
                    }
                }
                refused
            }));
        }
    }
    let mut refused_requests = 0;
    for worker in workers {
        refused_requests += worker.await.unwrap();
    }
    // Connections: eight slow bodies hold one address's share, then more are refused at accept.
    let flooder = client(6);
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut stream = connect_from(flooder, server.addr).await.unwrap();
        stream.write_all(SLOW_BODY_HEAD.as_bytes()).await.unwrap();
        held.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut refused_connections = 0;
    for _ in 0..300 {
        if http_from(flooder, server.addr, "GET", "/health", "", &[]).await.status == 0 {
            refused_connections += 1;
        }
    }
    let attack_took = started.elapsed();
    let after = resident_bytes(std::process::id());
    let (victim, _) = promptly("the victim's /health", get(&server, client(7), "/health")).await;
    assert_eq!(victim.status, 200);

    let grew = after.saturating_sub(before);
    println!(
        "memory under attack: {refused_requests} requests refused by budgets, {refused_connections} connections \
         refused at accept in {attack_took:?}; RSS {} MiB -> {} MiB (+{:.1} MiB)",
        before >> 20,
        after >> 20,
        grew as f64 / f64::from(1 << 20)
    );
    assert!(refused_requests >= 2000, "{refused_requests} of 2240 requests refused");
    assert_eq!(refused_connections, 300, "an address holding its 8 connections gets no more");
    assert!(grew < 64 << 20, "resident memory grew by {grew} bytes under attack");
    drop(held);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_endpoints_refuse_bad_input_and_budget_each_address() {
    let mut config = hostile_config();
    config.accounts_per_ip_per_hour = 2;
    config.sign_ins_per_ip_per_minute = 3;
    config.board_reads_per_ip_per_minute = 8;
    let server = TestServer::start_with(config).await;
    let (attacker, victim, observer) = (client(2), client(3), client(4));

    // Bad input: clear 4xx answers, nothing stored, nothing spent on a body that does not parse.
    let bad = [
        ("/api/accounts", "{not json"),
        ("/api/accounts", r#"{"name": "x"}"#),
        ("/api/login", r#"{"name": 7, "password": "whatever"}"#),
    ];
    for (path, body) in bad {
        assert_eq!(post(&server, attacker, path, body).await.status, 400, "{path} {body}");
    }
    let huge = format!(r#"{{"name": "ann", "password": "{}"}}"#, "x".repeat(20_000));
    assert_eq!(post(&server, attacker, "/api/login", &huge).await.status, 413);
    let hidden =
        post(&server, attacker, "/api/accounts", "{\"name\": \"an\u{202E}n\", \"password\": \"long enough\"}").await;
    assert_eq!(hidden.status, 400, "{}", hidden.body);
    for path in ["/api/leaderboard?limit=0", "/api/leaderboard?limit=abc", "/api/leaderboard?around=you"] {
        assert_eq!(get(&server, attacker, path).await.status, 400, "{path}");
    }
    assert_eq!(get(&server, attacker, "/api/leaderboard?around=me").await.status, 401, "around=me needs a token");
    assert_eq!(get(&server, attacker, "/api/players/0").await.status, 404);
    assert_eq!(get(&server, observer, "/api/players/99999999999999").await.status, 404);
    assert_eq!(http_from(observer, server.addr, "PUT", "/api/login", "", &[]).await.status, 405);

    // Budgets: accounts an hour, password attempts a minute, reads a minute, per address.
    // Spent above: one account attempt (the hidden name) and five reads; bodies that
    // did not parse spend nothing.
    let made = |n: u32| format!(r#"{{"name": "player{n}", "password": "long enough"}}"#);
    assert_eq!(post(&server, attacker, "/api/accounts", &made(1)).await.status, 201);
    assert_over_budget(&post(&server, attacker, "/api/accounts", &made(2)).await, "accounts_per_address_per_hour");
    let guess = |n: u32| format!(r#"{{"name": "target{n}", "password": "guess guess"}}"#);
    for n in 0..3 {
        assert_eq!(post(&server, attacker, "/api/login", &guess(n)).await.status, 401);
    }
    assert_over_budget(&post(&server, attacker, "/api/login", &guess(9)).await, "sign_ins_per_address_per_minute");
    for _ in 0..3 {
        assert_eq!(get(&server, attacker, "/api/leaderboard").await.status, 200);
    }
    assert_over_budget(&get(&server, attacker, "/api/leaderboard").await, "board_reads_per_address_per_minute");
    // Another address is untouched.
    assert_eq!(post(&server, victim, "/api/accounts", &made(3)).await.status, 201);
    assert_eq!(get(&server, victim, "/api/leaderboard").await.status, 200);
    // Names and passwords longer than any account's get the same 401 as a wrong
    // guess, before the back-off map keeps the name or the hasher sees the password.
    let prober = client(5);
    let wrong = post(&server, prober, "/api/login", r#"{"name": "player1", "password": "guess guess"}"#).await;
    assert_eq!(wrong.status, 401);
    let long_name = format!(r#"{{"name": "{}", "password": "guess guess"}}"#, "n".repeat(10_000));
    let long_password = format!(r#"{{"name": "player1", "password": "{}"}}"#, "p".repeat(15_000));
    for body in [long_name, long_password] {
        let answer = post(&server, prober, "/api/login", &body).await;
        assert_eq!((answer.status, &answer.body), (401, &wrong.body));
    }
    // A stranger's wrong guesses at a name back off the stranger's address, not the
    // owner signing in from theirs.
    let stranger = client(6);
    for _ in 0..3 {
        let guess = post(&server, stranger, "/api/login", r#"{"name": "player3", "password": "guess guess"}"#).await;
        assert_eq!(guess.status, 401);
    }
    let owner = post(&server, victim, "/api/login", r#"{"name": "player3", "password": "long enough"}"#).await;
    assert_eq!(owner.status, 200, "{}", owner.body);
    let refusals = metric(&server, observer, &refusals_of("sign_ins_per_address_per_minute")).await;
    assert!(refusals >= 1.0, "the refusal is counted");
    server.shutdown().await;
}

/// A token's reads are also budgeted per account: one account asking from many
/// addresses (each within its own budget) is refused, and another account, even
/// from one of those addresses, is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_token_reads_are_budgeted_per_account_across_addresses() {
    let mut config = hostile_config();
    config.board_reads_per_account_per_minute = 4;
    let server = TestServer::start_with(config).await;
    let (hammerer, other, observer) = (client(20), client(21), client(22));
    let token_of =
        |body: &str| serde_json::from_str::<serde_json::Value>(body).unwrap()["token"].as_str().unwrap().to_string();
    let made = post(&server, hammerer, "/api/accounts", r#"{"name": "hammer", "password": "long enough"}"#).await;
    assert_eq!(made.status, 201, "{}", made.body);
    let hammer = format!("Authorization: Bearer {}", token_of(&made.body));
    let made = post(&server, other, "/api/accounts", r#"{"name": "bystander", "password": "long enough"}"#).await;
    assert_eq!(made.status, 201, "{}", made.body);
    let bystander = format!("Authorization: Bearer {}", token_of(&made.body));
    let around = |from: IpAddr, auth: String| {
        let addr = server.addr;
        async move { http_from(from, addr, "GET", "/api/leaderboard?around=me", "", &[&auth]).await }
    };
    let before = metric(&server, observer, &refusals_of("board_reads_per_account_per_minute")).await;

    // Four addresses, one read each: every address is far within its own budget (120).
    let spread: Vec<IpAddr> = (30..34).map(client).collect();
    for &from in &spread {
        let answer = around(from, hammer.clone()).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    for &from in spread.iter().chain([&client(35)]) {
        assert_over_budget(&around(from, hammer.clone()).await, "board_reads_per_account_per_minute");
    }
    // Another account is served, from an address the hammering account used too; reads
    // without a token are counted per address only.
    for from in [other, spread[0]] {
        let answer = around(from, bystander.clone()).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    assert_eq!(get(&server, spread[1], "/api/leaderboard").await.status, 200);
    let after = metric(&server, observer, &refusals_of("board_reads_per_account_per_minute")).await;
    assert!(after >= before + 5.0, "the refusals are counted: {before} -> {after}");
    server.shutdown().await;
}

/// House bots cost the server a body each: a stranger may ask a new room for bots
/// only within its capacity and its address's room budget, and only an operator
/// changes a running room's bots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_are_asked_for_within_limits_and_changed_only_by_operators() {
    const TOKEN: &str = "hostile-bots-admin-token-0123456789abcdef";
    let mut config = hostile_config();
    config.admin_token = Some(TOKEN.into());
    let server = TestServer::start_with(config).await;
    let stranger = client(8);
    let huge = format!(r#"{{"name": "x", "bots": {{"difficulty": "{}"}}}}"#, "h".repeat(50_000));
    for body in [
        r#"{"name": "x", "capacity": 10, "bots": {"fill_to": 11}}"#.to_string(),
        r#"{"name": "x", "bots": {"fill_to": 18446744073709551616}}"#.to_string(),
        r#"{"name": "x", "bots": {"fill_to": 2, "difficulty": "nightmare"}}"#.to_string(),
        r#"{"name": "x", "bots": 5}"#.to_string(),
        huge,
    ] {
        let response = post(&server, stranger, "/api/rooms", &body).await;
        assert!(matches!(response.status, 400 | 413), "{}: {}", &body[..body.len().min(80)], response.body);
    }
    // Rooms with bots count against the address's open rooms like any.
    let full_of_bots = r#"{"name": "bot farm", "bots": {"fill_to": 50}}"#;
    let mut made = Vec::new();
    for attempt in 0..6 {
        let response = post(&server, stranger, "/api/rooms", full_of_bots).await;
        if attempt < 5 {
            assert_eq!(response.status, 201, "{}", response.body);
            made.push(
                serde_json::from_str::<serde_json::Value>(&response.body).unwrap()["id"].as_str().unwrap().to_string(),
            );
        } else {
            assert_over_budget(&response, "open_rooms_per_address");
        }
    }
    let path = format!("/api/admin/rooms/{}/bots", made[0]);
    for headers in [vec![], vec![format!("Authorization: Bearer {}", TOKEN.replace('f', "F"))]] {
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        let response = http_from(stranger, server.addr, "POST", &path, r#"{"fill_to": 0}"#, &headers).await;
        assert_eq!(response.status, 401, "{}", response.body);
    }
    server.shutdown().await;
}

/// Strangers cannot make the server simulate thousands of bots: a stranger's room
/// keeps at most `--room-capacity` bots, and all rooms together at most
/// `--max-house-bots` (room creation and the admin API refuse past it with 503,
/// Quick play opens its room with fewer bots).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn house_bots_stay_within_the_room_and_server_caps() {
    const TOKEN: &str = "hostile-bots-cap-admin-token-0123456789abcdef";
    let mut config = hostile_config();
    config.admin_token = Some(TOKEN.into());
    config.max_house_bots = 10;
    config.quick_play_bots = Some(6);
    let server = TestServer::start_with(config).await;
    let stranger = client(9);
    let capped = r#"arena_house_bots_capped_total{at="create"}"#;

    let huge = r#"{"name": "swarm", "capacity": 1000, "bots": {"fill_to": 1000, "difficulty": "hard"}}"#;
    let refused = post(&server, stranger, "/api/rooms", huge).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("fill_to must be 0-50"), "{}", refused.body);

    let eight = r#"{"name": "eight", "private": true, "bots": {"fill_to": 8}}"#;
    let first = post(&server, stranger, "/api/rooms", eight).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let first_id = serde_json::from_str::<serde_json::Value>(&first.body).unwrap()["id"].as_str().unwrap().to_string();
    let before = metric(&server, stranger, capped).await;
    let over = post(&server, client(10), "/api/rooms", r#"{"name": "five", "bots": {"fill_to": 5}}"#).await;
    assert_eq!(over.status, 503, "{}", over.body);
    assert!(over.body.contains("at most 10 house bots") && over.body.contains("only 2"), "{}", over.body);
    assert!(metric(&server, stranger, capped).await > before);

    let auth = format!("Authorization: Bearer {TOKEN}");
    let path = format!("/api/admin/rooms/{first_id}/bots");
    let raise = http_from(stranger, server.addr, "POST", &path, r#"{"fill_to": 11}"#, &[auth.as_str()]).await;
    assert_eq!(raise.status, 503, "{}", raise.body);
    assert!(raise.body.contains("--max-house-bots"), "{}", raise.body);
    let within = http_from(stranger, server.addr, "POST", &path, r#"{"fill_to": 10}"#, &[auth.as_str()]).await;
    assert_eq!(within.status, 200, "its own bots do not count against it: {}", within.body);
    let back = http_from(stranger, server.addr, "POST", &path, r#"{"fill_to": 8}"#, &[auth.as_str()]).await;
    assert_eq!(back.status, 200, "{}", back.body);

    // Two bots left (the private room is not Quick play's to fill): Quick play asks
    // for 6 (people plus bots) and opens a room that keeps 2: the newcomer and one bot.
    let (_newcomer, _) = crate::util::ws::welcomed(&server.ws_url("name=newcomer")).await;
    let bots_in_quick_play = async || {
        let listed: serde_json::Value = serde_json::from_str(&get(&server, stranger, "/api/rooms").await.body).unwrap();
        listed["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] != first_id.as_str())
            .and_then(|r| r["bots"].as_u64())
    };
    eventually("Quick play's room with one bot", WAIT, async || bots_in_quick_play().await == Some(1)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(bots_in_quick_play().await, Some(1), "never more than the server's cap leaves");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_requests_are_validated_and_budgeted_per_address() {
    let mut config = hostile_config();
    config.replay_requests_per_ip_per_minute = 10;
    let server = TestServer::start_with(config).await;
    let (attacker, victim, observer) = (client(2), client(3), client(4));
    let refusals_before = metric(&server, observer, &refusals_of("replay_requests_per_address_per_minute")).await;
    // Malformed ids, filters and tokens are refused with a reason, and spend the budget too.
    for (path, status) in [
        ("/api/replays/..%2f..%2fetc%2fpasswd", 400),
        ("/api/replays/00000000000000000000", 404),
        ("/api/replays/not-an-id", 400),
        ("/api/replays?limit=0", 400),
        ("/api/replays?limit=100000", 400),
        ("/api/replays?player=-1", 400),
        ("/api/replays?since=yesterday", 400),
        ("/api/replays?room=%3Cscript%3E", 400),
    ] {
        let response = get(&server, attacker, path).await;
        assert_eq!(response.status, status, "{path}: {}", response.body);
        assert!(response.body.contains("\"error\""), "{path}: {}", response.body);
    }
    let forged = http_from(attacker, server.addr, "GET", "/api/replays", "", &["Authorization: Bearer forged"]).await;
    assert_eq!(forged.status, 401, "{}", forged.body);
    let listed = get(&server, attacker, "/api/replays").await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    for _ in 0..3 {
        assert_over_budget(&get(&server, attacker, "/api/replays").await, "replay_requests_per_address_per_minute");
    }
    let (answer, _) = promptly("the victim's listing", get(&server, victim, "/api/replays")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let refusals =
        metric(&server, observer, &refusals_of("replay_requests_per_address_per_minute")).await - refusals_before;
    assert!(refusals >= 3.0, "3 refusals counted, the counter grew by {refusals}");
    let served = metric(&server, observer, r#"arena_replay_requests_total{outcome="listed"}"#).await;
    assert!(served >= 2.0, "listings counted: {served}");
    server.shutdown().await;
}

/// `GET path` from `from` on a connection of its own, reading the answer's head only:
/// the status, the `Content-Length`, and the socket (whose body is left unread).
async fn head_only(from: IpAddr, server: SocketAddr, path: &str) -> (u16, Option<u64>, tokio::net::TcpStream) {
    let mut stream = connect_from(from, server).await.expect("connect from a loopback address");
    let request = format!("GET {path} HTTP/1.1\r\nHost: arena\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tokio::time::timeout(WAIT, stream.read_exact(&mut byte)).await.expect("a head in time").unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let status = head[9..12].parse().unwrap();
    let length = head.lines().find_map(|l| l.strip_prefix("content-length: ")).map(|v| v.trim().parse().unwrap());
    (status, length, stream)
}

/// A public replay `id` of `bytes` bytes of noise written into `config`'s replay folder
/// (loaded when the server starts); returns its file.
fn big_replay(config: &Config, id: &str, bytes: usize) -> Vec<u8> {
    std::fs::create_dir_all(&config.replay_dir).unwrap();
    let file: Vec<u8> = (0..bytes).map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3]).collect();
    std::fs::write(config.replay_dir.join(format!("{id}.replay.gz")), &file).unwrap();
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let meta = serde_json::json!({
        "id": id, "room_id": "r1", "room_name": "big", "private": false, "round": 1, "reason": "ended",
        "started_at_ms": now_ms - 1000, "ended_at_ms": now_ms, "duration_s": 1.0, "bytes": bytes, "frames": 1,
        "players": []
    });
    std::fs::write(config.replay_dir.join(format!("{id}.json")), meta.to_string()).unwrap();
    file
}

/// Downloads are bounded while their bodies are sent, not only while they are answered:
/// clients that take a large replay's head and never read its body hold the slots, so
/// the next download is refused (503), but only until `--http-idle-timeout-s` cuts
/// them; then the file is served whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_downloads_hold_their_slot_until_the_body_is_sent() {
    use arena_server::lobby::replays::DOWNLOADS_AT_ONCE;
    let mut config = hostile_config();
    let idle_limit = Duration::from_secs(4);
    config.http_idle_timeout_s = idle_limit.as_secs_f64();
    // Larger than what loopback socket buffers take, so an unread body cannot finish.
    const BYTES: usize = 48 * 1024 * 1024;
    let id = "0123456789abcdef0123";
    let file = big_replay(&config, id, BYTES);
    let server = TestServer::start_with(config).await;
    let path = format!("/api/replays/{id}");
    let started = Instant::now();

    let mut stalled = Vec::new();
    for n in 0..DOWNLOADS_AT_ONCE as u8 {
        let (status, length, socket) = head_only(client(10 + n), server.addr, &path).await;
        assert_eq!((status, length), (200, Some(BYTES as u64)), "download {n}");
        stalled.push(socket);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _, _) = head_only(client(30), server.addr, &path).await;
    assert_eq!(status, 503, "every slot is held by a body still being sent");
    let busy = get(&server, client(31), &path).await;
    assert!(busy.headers.to_ascii_lowercase().contains("retry-after: 1"), "{}", busy.headers);

    assert!(started.elapsed() < idle_limit, "the slots were checked while held ({:?})", started.elapsed());
    // The stalled readers stay connected: the listener cuts them, not before `idle_limit`
    // (asking sooner would only spend the address's 60 replay requests a minute).
    tokio::time::sleep(idle_limit.saturating_sub(started.elapsed())).await;
    let mut whole = None;
    eventually("a slot to be free again once the stalled readers are cut", WAIT, async || {
        let (status, length, mut socket) = head_only(client(32), server.addr, &path).await;
        if status == 200 {
            // Read as long as it announced (the connection stays open for the next request).
            let mut body = vec![0u8; length.unwrap_or(0) as usize];
            tokio::time::timeout(WAIT, socket.read_exact(&mut body)).await.expect("the body in time").unwrap();
            whole = Some((length, body));
        }
        status == 200
    })
    .await;
    let (length, body) = whole.unwrap();
    assert_eq!(length, Some(BYTES as u64));
    assert!(body == file, "the file, byte for byte ({} of {BYTES} bytes)", body.len());
    // Cut by the listener, each stalled download is still counted (the recorder is shared: at least).
    let gone = r#"arena_replay_download_cuts_total{cause="client_gone"}"#;
    eventually("every stalled download to be counted as cut", WAIT, async || {
        metric(&server, client(33), gone).await >= DOWNLOADS_AT_ONCE as f64
    })
    .await;
    drop(stalled);
    server.shutdown().await;
}

/// One address holds at most `--replay-downloads-per-ip` (2) downloads at once: its
/// third is refused with a 429 naming the budget (counted) while another address is
/// served, and it is served again once one of its own has ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_holds_at_most_two_replay_downloads_at_once() {
    let config = hostile_config();
    // Larger than loopback socket buffers take, so an unread body holds its place.
    const BYTES: usize = 32 * 1024 * 1024;
    let id = "0123456789abcdef0125";
    big_replay(&config, id, BYTES);
    let server = TestServer::start_with(config).await;
    let path = format!("/api/replays/{id}");
    let (attacker, victim, observer) = (client(50), client(51), client(52));
    let budget = "replay_downloads_per_address";
    let refusals_before = metric(&server, observer, &refusals_of(budget)).await;

    let (first, _, held) = head_only(attacker, server.addr, &path).await;
    let (second, _, _also_held) = head_only(attacker, server.addr, &path).await;
    assert_eq!((first, second), (200, 200));
    assert_over_budget(&get(&server, attacker, &path).await, budget);
    let (served, length, _) = head_only(victim, server.addr, &path).await;
    assert_eq!((served, length), (200, Some(BYTES as u64)), "another address is served");
    assert_eq!(metric(&server, observer, &refusals_of(budget)).await - refusals_before, 1.0);

    drop(held);
    eventually("the attacker's place to be free once one of its downloads ended", WAIT, async || {
        head_only(attacker, server.addr, &path).await.0 == 200
    })
    .await;
    server.shutdown().await;
}

/// A client that keeps reading, but slower than `--replay-download-min-kib-per-window`
/// (256 KiB a second here; it reads about 10 KiB a second), is cut within a few windows
/// (what the server's buffers take at first, a few hundred KiB on loopback, passes the
/// first ones), and counted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_read_slower_than_the_minimum_rate_is_cut() {
    let mut config = hostile_config();
    config.replay_download_min_kib_per_window = 256;
    config.replay_download_window_s = 1.0;
    const BYTES: usize = 4 * 1024 * 1024;
    let id = "0123456789abcdef0126";
    big_replay(&config, id, BYTES);
    let server = TestServer::start_with(config).await;
    let too_slow = r#"arena_replay_download_cuts_total{cause="too_slow"}"#;
    let cuts_before = metric(&server, client(61), too_slow).await;

    let path = format!("/api/replays/{id}");
    let (received, cut_after) = read_slowly(client(60), server.addr, &path, Duration::from_secs(8)).await;
    let cut_after = cut_after.unwrap_or_else(|| panic!("still served after {received} bytes"));
    println!("cut after {cut_after:?} and {received} bytes");
    assert!(received < BYTES, "cut short of the file");
    assert!(cut_after >= Duration::from_secs(1), "not before a window had passed ({cut_after:?})");
    assert_eq!(metric(&server, client(61), too_slow).await - cuts_before, 1.0, "counted once");
    server.shutdown().await;
}

/// A download that keeps making progress is never cut, however long it lasts: a client
/// with a small receive buffer reads a replay a little at a time, pausing well under
/// `--http-idle-timeout-s` each time, for several times that timeout, and gets the
/// whole file. (A client that stops reading is cut: the test above.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_download_that_keeps_reading_is_served_whole() {
    let mut config = hostile_config();
    let idle_limit = Duration::from_millis(500);
    config.http_idle_timeout_s = idle_limit.as_secs_f64();
    const BYTES: usize = 4 * 1024 * 1024;
    const READ: usize = 32 * 1024;
    const PAUSE: Duration = Duration::from_millis(30);
    let id = "0123456789abcdef0124";
    let file = big_replay(&config, id, BYTES);
    let server = TestServer::start_with(config).await;

    // A small receive buffer, so the server waits on this reader rather than filling the kernel's.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(64 * 1024).unwrap();
    socket.bind(SocketAddr::new(client(40), 0)).unwrap();
    let mut stream = socket.connect(server.addr).await.unwrap();
    let request = format!("GET /api/replays/{id} HTTP/1.1\r\nHost: arena\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut received = Vec::with_capacity(BYTES + 1024);
    let mut chunk = vec![0u8; READ];
    let head_end = loop {
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let n = tokio::time::timeout(WAIT, stream.read(&mut chunk)).await.expect("a head in time").unwrap();
        assert!(n > 0, "closed before the head");
        received.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&received[..head_end]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains(&format!("content-length: {BYTES}")), "{head}");
    while received.len() - head_end < BYTES {
        tokio::time::sleep(PAUSE).await;
        let n = tokio::time::timeout(WAIT, stream.read(&mut chunk)).await.expect("the next bytes in time").unwrap();
        if n == 0 {
            break;
        }
        received.extend_from_slice(&chunk[..n]);
    }
    let took = started.elapsed();
    let body = &received[head_end..];
    println!("{} of {BYTES} bytes read in {took:?} (idle timeout {idle_limit:?})", body.len());
    assert_eq!(body.len(), BYTES, "the download was cut after {took:?}");
    assert!(body == file.as_slice(), "the file, byte for byte");
    assert!(took > idle_limit * 4, "the download lasted several idle timeouts ({took:?})");
    server.shutdown().await;
}
