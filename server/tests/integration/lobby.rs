//! The lobby over real HTTP and WebSockets: rooms, matchmaking, identity, chat,
//! spectators, reconnection, rounds and the admin API.

use std::collections::HashMap;
use std::time::Duration;

use arena_bots::{ArenaClient, Incoming};
use arena_protocol::lobby::{Matchmade, RoomList, RoomSummary, SessionGranted};
use arena_protocol::{ChatText, ClientMsg, EntityKind, Input, RoomEvent, ServerMsg, close_code};
use arena_server::Config;
use glam::Vec2;

use crate::util::http::{create_room, http_get, http_json};
use crate::util::ws::{next_announcement, refused, welcomed};
use crate::util::{TestServer, WAIT, eventually, logged_round};

/// A session token for `name`, expecting a 200.
async fn session(server: &TestServer, name: &str) -> SessionGranted {
    let response = http_json(server.addr, "POST", "/api/session", &format!(r#"{{"name": "{name}"}}"#), &[]).await;
    assert_eq!(response.status, 200, "{}", response.body);
    serde_json::from_str(&response.body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_are_created_listed_and_fetched_and_private_ones_stay_unlisted() {
    let server = TestServer::start().await;
    let public = create_room(server.addr, r#"{"name": "Open", "capacity": 8, "tick_rate_hz": 20}"#).await;
    assert_eq!((public.capacity, public.tick_rate_hz, public.players, public.private), (8, 20, 0, false));
    let hidden = create_room(
        server.addr,
        r#"{"name": "Friends", "private": true, "rules": {"score_limit": 3, "time_limit_s": 60}}"#,
    )
    .await;

    let list: RoomList = serde_json::from_str(&http_get(server.addr, "/api/rooms").await.body).unwrap();
    let ids: Vec<_> = list.rooms.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, vec![public.id.as_str()]);

    let fetched: RoomSummary =
        serde_json::from_str(&http_get(server.addr, &format!("/api/rooms/{}", hidden.id)).await.body).unwrap();
    assert_eq!((fetched.name.as_str(), fetched.rules.score_limit, fetched.private), ("Friends", 3, true));
    // The id is the invitation: a private room is joinable by it.
    let (_guest, welcome) = welcomed(&server.ws_url(&format!("room={}", hidden.id))).await;
    assert_eq!((welcome.room_id.as_str(), welcome.round.score_limit), (hidden.id.as_str(), 3));

    assert_eq!(http_get(server.addr, "/api/rooms/nosuchroom").await.status, 404);
    for bad in
        [r#"{"name": ""}"#, r#"{"name": "x", "capacity": 0}"#, r#"{"name": "x", "tick_rate_hz": 500}"#, "not json"]
    {
        assert_eq!(http_json(server.addr, "POST", "/api/rooms", bad, &[]).await.status, 400, "{bad}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_full_and_limited_rooms_are_refused_clearly() {
    let mut config = Config::for_tests();
    config.max_rooms = 1;
    let server = TestServer::start_with(config).await;
    let (code, reason) = refused(&server.ws_url("room=doesnotexist")).await;
    assert_eq!(code, close_code::ROOM_NOT_FOUND, "{reason}");

    let room = create_room(server.addr, r#"{"name": "Tiny", "capacity": 1}"#).await;
    let (_first, _) = welcomed(&server.ws_url(&format!("room={}", room.id))).await;
    let (code, reason) = refused(&server.ws_url(&format!("room={}", room.id))).await;
    assert_eq!(code, close_code::ROOM_FULL);
    assert!(reason.contains("full"), "{reason}");

    let response = http_json(server.addr, "POST", "/api/rooms", r#"{"name": "Two"}"#, &[]).await;
    assert_eq!(response.status, 503);
    assert!(response.body.contains("maximum of 1 rooms"), "{}", response.body);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_matchmaking_never_overfills_and_unused_seats_expire() {
    let mut config = Config::for_tests();
    config.room_capacity = 3;
    config.reservation_ttl_s = 1.0;
    let server = TestServer::start_with(config).await;
    let calls = (0..20).map(|_| http_json(server.addr, "POST", "/api/matchmake", "", &[]));
    let answers: Vec<Matchmade> =
        futures_join_all(calls).await.iter().map(|r| serde_json::from_str(&r.body).unwrap()).collect();
    let mut per_room: HashMap<String, usize> = HashMap::new();
    for answer in &answers {
        *per_room.entry(answer.room.id.clone()).or_default() += 1;
        assert!(answer.ws_url.contains(&answer.reservation));
    }
    assert!(per_room.values().all(|&n| n <= 3), "{per_room:?}");
    assert_eq!(per_room.values().sum::<usize>(), 20);
    assert_eq!(per_room.len(), 7, "fill before create: 20 seats in rooms of 3");

    // A reservation is claimed by its URL.
    let url = answers[0].ws_url.clone();
    let (_claimed, welcome) = welcomed(&url).await;
    assert_eq!(welcome.room_id, answers[0].room.id);
    // Unclaimed seats go back: the first room fills again after the reservations expire.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let again: Matchmade =
        serde_json::from_str(&http_json(server.addr, "POST", "/api/matchmake", "", &[]).await.body).unwrap();
    assert_eq!(again.room.id, answers[0].room.id);
    let (code, _) =
        refused(&server.ws_url(&format!("room={}&reservation={}", answers[1].room.id, answers[1].reservation))).await;
    assert_eq!(code, close_code::BAD_JOIN, "an expired reservation is refused");
    server.shutdown().await;
}

/// Join all futures (the tests avoid a dependency for this one helper).
async fn futures_join_all<F: std::future::Future + Send + 'static>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F::Output: Send,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_bind_identity_and_bad_ones_are_refused() {
    let mut config = Config::for_tests();
    config.jwt_secret = Some("test secret, at least 32 bytes long".into());
    config.require_auth = true;
    let server = TestServer::start_with(config.clone()).await;
    // --require-auth admits accounts' tokens only: not a guest's, not none.
    let signed_up =
        http_json(server.addr, "POST", "/api/accounts", r#"{"name": "Ann", "password": "correct horse"}"#, &[]).await;
    let granted: SessionGranted = serde_json::from_str(&signed_up.body).unwrap();
    let (_client, welcome) = welcomed(&server.ws_url(&format!("token={}", granted.token))).await;
    assert_eq!(welcome.player_id, granted.player_id);
    let guest = session(&server, "Guest").await;
    let (code, reason) = refused(&server.ws_url(&format!("token={}", guest.token))).await;
    assert_eq!(code, close_code::POLICY_VIOLATION);
    assert!(reason.contains("an account's session token is required"), "{reason}");

    let (code, reason) = refused(&server.ws_url("")).await;
    assert_eq!(code, close_code::POLICY_VIOLATION);
    assert!(reason.contains("token is required"), "{reason}");
    let (code, reason) = refused(&server.ws_url("token=forged.token.value")).await;
    assert_eq!((code, reason.as_str()), (close_code::POLICY_VIOLATION, "the session token is not valid"));
    server.shutdown().await;

    // Tokens expire.
    config.session_ttl_s = 0;
    let server = TestServer::start_with(config).await;
    let granted = session(&server, "Bob").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (code, reason) = refused(&server.ws_url(&format!("token={}", granted.token))).await;
    assert_eq!((code, reason.as_str()), (close_code::POLICY_VIOLATION, "the session token has expired"));
    assert_eq!(http_json(server.addr, "POST", "/api/session", r#"{"name": "a\u0007b"}"#, &[]).await.status, 400);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_name_gets_a_suffix() {
    let server = TestServer::start().await;
    let room = create_room(server.addr, r#"{"name": "Names"}"#).await;
    let (_a, _) = welcomed(&server.ws_url(&format!("room={}&name=Sam", room.id))).await;
    let (mut b, welcome) = welcomed(&server.ws_url(&format!("room={}&name=Sam", room.id))).await;
    let roster =
        b.recv_until(WAIT, |m| if let ServerMsg::Roster(r) = m { Some(r.clone()) } else { None }).await.unwrap();
    let mine = roster.iter().find(|p| p.player_id == welcome.player_id).unwrap();
    assert_eq!(mine.name, "Sam 2");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnection_within_the_grace_reclaims_the_same_entity() {
    let mut config = Config::for_tests();
    config.reconnect_grace_s = 1.5;
    let server = TestServer::start_with(config).await;
    let room = create_room(server.addr, r#"{"name": "Flaky"}"#).await;
    let granted = session(&server, "Cat").await;
    let query = format!("room={}&token={}", room.id, granted.token);
    let (mut first, welcome) = welcomed(&server.ws_url(&query)).await;
    first.send(&ClientMsg::Input(Input::new(1, Vec2::X, 0.0, false))).await.unwrap();
    drop(first); // The connection drops without a close.
    // Room-wide messages while the drop is noticed must not cost the player their place
    // (a closed queue is not a slow client).
    let (mut chatter, _) = welcomed(&server.ws_url(&format!("room={}&name=chatter", room.id))).await;
    for i in 0..3 {
        chatter.send(&ClientMsg::Chat(ChatText { text: format!("hi {i}") })).await.unwrap();
    }

    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_second, again) = welcomed(&server.ws_url(&query)).await;
    assert_eq!((again.player_id, again.net_id), (welcome.player_id, welcome.net_id));
    let summary: RoomSummary =
        serde_json::from_str(&http_get(server.addr, &format!("/api/rooms/{}", room.id)).await.body).unwrap();
    assert_eq!(summary.players, 2);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_grace_the_entity_is_gone_and_an_empty_room_closes() {
    let mut config = Config::for_tests();
    config.reconnect_grace_s = 0.3;
    config.empty_room_grace_s = 0.5;
    let server = TestServer::start_with(config).await;
    let room = create_room(server.addr, r#"{"name": "Short"}"#).await;
    let granted = session(&server, "Dan").await;
    let query = format!("room={}&token={}", room.id, granted.token);
    let (mut watcher, _) = welcomed(&server.ws_url(&format!("room={}&name=watcher", room.id))).await;
    let (first, welcome) = welcomed(&server.ws_url(&query)).await;
    drop(first);
    // Wide margin: on a busy two-core machine the session may need a while to notice the drop.
    let left = watcher
        .recv_until(Duration::from_secs(15), |m| match m {
            ServerMsg::Event(RoomEvent::Left(p)) => Some(p.clone()),
            _ => None,
        })
        .await
        .unwrap();
    assert_eq!(left.net_id, welcome.net_id);
    watcher.close(1000, "bye").await.unwrap();
    drop(watcher);
    // Empty now: the room closes itself after its grace.
    let room_path = format!("/api/rooms/{}", room.id);
    eventually("the empty room to close (its id answers 404)", WAIT, async || {
        http_get(server.addr, &room_path).await.status == 404
    })
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_ends_at_its_score_limit_and_its_results_are_kept() {
    let config = Config::for_tests();
    let results_log = config.results_log.clone();
    let server = TestServer::start_with(config).await;
    let room = create_room(server.addr, r#"{"name": "Duel", "rules": {"score_limit": 1, "time_limit_s": 60}}"#).await;
    let (mut hunter, me) = welcomed(&server.ws_url(&format!("room={}&name=hunter", room.id))).await;
    let (mut prey, _) = welcomed(&server.ws_url(&format!("room={}&name=prey", room.id))).await;
    // The prey only reads; the hunter walks up to it and fires.
    let prey_watch = tokio::spawn(async move {
        prey.recv_until(Duration::from_secs(30), |m| match m {
            ServerMsg::Event(RoomEvent::RoundOver(r)) => Some(r.clone()),
            _ => None,
        })
        .await
    });
    let mut seq = 0;
    let results = loop {
        match hunter.recv(WAIT).await.unwrap() {
            Incoming::Message(ServerMsg::Snapshot(s), _) => {
                let mine = s.entities.iter().find(|e| e.net_id == me.net_id).unwrap();
                let Some(target) = s.entities.iter().find(|e| e.kind.is_player() && e.net_id != me.net_id) else {
                    continue;
                };
                let to = target.pos - mine.pos;
                seq += 1;
                let move_dir = if to.length() > 250.0 { to.normalize() } else { Vec2::ZERO };
                let input = Input::new(seq, move_dir, to.y.atan2(to.x), to.length() < 600.0);
                hunter.send(&ClientMsg::Input(input)).await.unwrap();
            }
            Incoming::Message(ServerMsg::Event(RoomEvent::RoundOver(results)), _) => break results,
            _ => {}
        }
    };
    assert_eq!((results.round, results.reason.as_str()), (1, "score_limit"));
    assert_eq!((results.standings[0].name.as_str(), results.standings[0].kills), ("hunter", 1));
    assert_eq!(prey_watch.await.unwrap().unwrap(), results);

    let record = logged_round(&results_log, &room.id).await;
    assert_eq!(record["reason"], "score_limit");
    assert_eq!(record["players"][0]["kills"], 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_reaches_the_room_and_floods_are_limited() {
    let server = TestServer::start().await;
    let room = create_room(server.addr, r#"{"name": "Chatty"}"#).await;
    let (mut talker, _) = welcomed(&server.ws_url(&format!("room={}&name=talker", room.id))).await;
    let (mut listener, _) = welcomed(&server.ws_url(&format!("room={}&name=listener", room.id))).await;
    for i in 0..8 {
        talker.send(&ClientMsg::Chat(ChatText { text: format!("line {i}") })).await.unwrap();
    }
    let warning = talker
        .recv_until(WAIT, |m| if let ServerMsg::Error(e) = m { Some(e.message.clone()) } else { None })
        .await
        .unwrap();
    assert!(warning.contains("chat is limited"), "{warning}");
    let mut heard = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while tokio::time::Instant::now() < deadline {
        let left = deadline - tokio::time::Instant::now();
        match listener.recv(left).await {
            Ok(Incoming::Message(ServerMsg::Chat(line), _)) => heard.push((line.name, line.text)),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let expected: Vec<_> = (0..5).map(|i| ("talker".to_string(), format!("line {i}"))).collect();
    assert_eq!(heard, expected);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spectator_watches_without_a_body_or_a_seat() {
    let mut config = Config::for_tests();
    config.max_spectators = 1;
    let server = TestServer::start_with(config).await;
    let room = create_room(server.addr, r#"{"name": "Stage", "capacity": 1}"#).await;
    let (_player, _) = welcomed(&server.ws_url(&format!("room={}&name=actor", room.id))).await;
    let (mut watcher, welcome) = welcomed(&server.ws_url(&format!("room={}&spectate=1", room.id))).await;
    assert!(welcome.spectator);
    assert_eq!(welcome.net_id.0, 0);
    let snapshot = watcher
        .recv_until(WAIT, |m| if let ServerMsg::Snapshot(s) = m { Some(s.clone()) } else { None })
        .await
        .unwrap();
    let players: Vec<_> = snapshot.entities.iter().filter(|e| e.kind == EntityKind::Player).collect();
    assert_eq!(players.len(), 1);
    assert_ne!(players[0].owner, welcome.player_id);
    let summary: RoomSummary =
        serde_json::from_str(&http_get(server.addr, &format!("/api/rooms/{}", room.id)).await.body).unwrap();
    assert_eq!((summary.players, summary.spectators), (1, 1));
    let (code, _) = refused(&server.ws_url(&format!("room={}&spectate=1", room.id))).await;
    assert_eq!(code, close_code::SPECTATORS_FULL);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_calls_need_the_token_and_reach_players() {
    let server = TestServer::start().await;
    let response = http_json(server.addr, "POST", "/api/admin/announce", r#"{"text": "hi"}"#, &[]).await;
    assert_eq!(response.status, 403, "no admin token configured: the admin API is off");
    server.shutdown().await;

    let mut config = Config::for_tests();
    config.admin_token = Some("s3cret-admin-token-at-least-32-bytes".into());
    let server = TestServer::start_with(config).await;
    let room = create_room(server.addr, r#"{"name": "Ops"}"#).await;
    let (mut a, a_welcome) = welcomed(&server.ws_url(&format!("room={}&name=a", room.id))).await;
    let (mut b, _) = welcomed(&server.ws_url(&format!("room={}&name=b", room.id))).await;
    let auth = "Authorization: Bearer s3cret-admin-token-at-least-32-bytes";
    for headers in [&[][..], &["Authorization: Bearer wrong"][..]] {
        assert_eq!(
            http_json(server.addr, "POST", "/api/admin/announce", r#"{"text": "x"}"#, headers).await.status,
            401
        );
    }

    assert_eq!(
        http_json(server.addr, "POST", "/api/admin/announce", r#"{"text": "maintenance soon"}"#, &[auth]).await.status,
        200
    );
    let notice = next_announcement(&mut b).await;
    assert_eq!(notice, "maintenance soon");

    let kick = format!(r#"{{"player_id": {}, "reason": "be nice"}}"#, a_welcome.player_id.0);
    let path = format!("/api/admin/rooms/{}/kick", room.id);
    assert_eq!(http_json(server.addr, "POST", &path, &kick, &[auth]).await.status, 200);
    assert_eq!(a.recv_close(WAIT).await.unwrap(), (close_code::KICKED, "be nice".to_string()));
    assert_eq!(http_json(server.addr, "POST", &path, &kick, &[auth]).await.status, 404, "already gone");

    let close = format!("/api/admin/rooms/{}/close", room.id);
    assert_eq!(http_json(server.addr, "POST", &close, "", &[auth]).await.status, 200);
    let (code, reason) = b.recv_close(WAIT).await.unwrap();
    assert_eq!(code, close_code::ROOM_CLOSED, "{reason}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lobby_feed_pushes_the_room_list_when_it_changes_and_only_listens() {
    let server = TestServer::start().await;
    let url = arena_bots::idle::lobby_url(&server.ws_url(""));
    let lobby_of = |m: &ServerMsg| if let ServerMsg::Lobby(rooms) = m { Some(rooms.clone()) } else { None };
    let mut watcher = ArenaClient::connect(&url).await.unwrap();
    assert_eq!(watcher.recv_until(WAIT, lobby_of).await.unwrap(), vec![], "the list at once, empty");
    let room = create_room(server.addr, r#"{"name": "watched"}"#).await;
    let private = create_room(server.addr, r#"{"name": "hidden", "private": true}"#).await;
    let rooms = watcher.recv_until(WAIT, lobby_of).await.unwrap();
    assert_eq!(rooms.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), vec![room.id.as_str()]);
    assert!(rooms.iter().all(|r| r.id != private.id), "private rooms are not listed");
    // A player joins: the count changes, so the list is sent again.
    let (_player, _) = welcomed(&server.ws_url(&format!("room={}&name=ann", room.id))).await;
    let rooms = watcher
        .recv_until(WAIT, |m| lobby_of(m).filter(|r| r.first().is_some_and(|r| r.players == 1)))
        .await
        .expect("a list with the new player");
    assert_eq!(rooms.iter().map(|r| (r.id.as_str(), r.players)).collect::<Vec<_>>(), vec![(room.id.as_str(), 1)]);
    // Watchers may ping; anything game-like closes them.
    watcher.send(&ClientMsg::Ping(arena_protocol::Ping { client_time_ms: 5.0 })).await.unwrap();
    let pong = watcher.recv_until(WAIT, |m| if let ServerMsg::Pong(p) = m { Some(p.client_time_ms) } else { None });
    assert_eq!(pong.await.unwrap(), 5.0);
    watcher.send(&ClientMsg::Input(Input::new(1, Vec2::X, 0.0, false))).await.unwrap();
    let (code, reason) = watcher.recv_close(WAIT).await.unwrap();
    assert_eq!(code, close_code::POLICY_VIOLATION);
    assert!(reason.contains("lobby feed only listens"), "{reason}");
    // A watcher still listening when the server stops is told why.
    let mut listening = ArenaClient::connect(&url).await.unwrap();
    listening.recv_until(WAIT, lobby_of).await.unwrap();
    let drain = tokio::spawn(server.shutdown());
    let (code, reason) = listening.recv_close(WAIT).await.unwrap();
    assert_eq!((code, reason.as_str()), (close_code::GOING_AWAY, "server shutting down"));
    drain.await.unwrap();
}
