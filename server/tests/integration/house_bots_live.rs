//! House bots in running rooms, over real sockets: they fill a room, give a person
//! their place at once, come back when people leave, leave with an empty room, show
//! up marked in the roster, snapshots, lobby and results log, and obey the admin API.

use std::time::Duration;

use arena_protocol::lobby::{RoomBotsSet, RoomSummary};
use arena_protocol::{EntityKind, PlayerInfo, RoomEvent, ServerMsg, close_code};
use arena_server::Config;

use crate::util::http::{create_room, http_get, http_json};
use crate::util::ws::{refused, welcomed};
use crate::util::{TestServer, WAIT, eventually};

async fn summary(server: &TestServer, id: &str) -> Option<RoomSummary> {
    let response = http_get(server.addr, &format!("/api/rooms/{id}")).await;
    (response.status == 200).then(|| serde_json::from_str(&response.body).unwrap())
}

async fn people_and_bots(server: &TestServer, id: &str) -> (usize, usize) {
    summary(server, id).await.map_or((0, 0), |s| (s.players, s.bots))
}

fn roster_of(m: &ServerMsg) -> Option<Vec<PlayerInfo>> {
    if let ServerMsg::Roster(r) = m { Some(r.clone()) } else { None }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_takes_a_bots_place_at_once_and_bots_return_when_people_leave() {
    let server = TestServer::start().await;
    let body = r#"{"name": "Bots", "capacity": 3, "bots": {"fill_to": 3, "difficulty": "easy"}}"#;
    let room = create_room(server.addr, body).await;
    eventually("three bots", WAIT, async || people_and_bots(&server, &room.id).await == (0, 3)).await;

    let (mut ann, _) = welcomed(&server.ws_url(&format!("room={}&name=ann", room.id))).await;
    let roster = ann.recv_until(WAIT, roster_of).await.unwrap();
    assert_eq!(roster.len(), 3, "ann and two bots, never four: {roster:?}");
    assert_eq!(roster.iter().filter(|p| p.bot).count(), 2);
    assert!(roster.iter().any(|p| p.name == "ann" && !p.bot));
    let snapshot = ann.recv_until(WAIT, |m| if let ServerMsg::Snapshot(s) = m { Some(s.clone()) } else { None });
    let kinds: Vec<EntityKind> =
        snapshot.await.unwrap().entities.iter().filter(|e| e.kind.is_player()).map(|e| e.kind).collect();
    assert_eq!(kinds.iter().filter(|&&k| k == EntityKind::Bot).count(), 2, "{kinds:?}");
    assert_eq!(people_and_bots(&server, &room.id).await, (1, 2), "bots are not players");

    let (_bob, _) = welcomed(&server.ws_url(&format!("room={}&name=bob", room.id))).await;
    let (mut cy, _) = welcomed(&server.ws_url(&format!("room={}&name=cy", room.id))).await;
    // The room counts a newcomer and makes a bot leave before it sends the welcome.
    assert_eq!(people_and_bots(&server, &room.id).await, (3, 0));
    let (code, _) = refused(&server.ws_url(&format!("room={}&name=dee", room.id))).await;
    assert_eq!(code, close_code::ROOM_FULL, "people fill the capacity; bots never hold a seat");

    cy.close(1000, "bye").await.unwrap();
    eventually("a bot back in cy's place", WAIT, async || people_and_bots(&server, &room.id).await == (2, 1)).await;
    drop(ann);
    eventually("bots back to fill_to", WAIT, async || people_and_bots(&server, &room.id).await == (1, 2)).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_of_only_bots_closes_after_the_empty_room_grace() {
    let mut config = Config::for_tests();
    config.empty_room_grace_s = 0.5;
    let server = TestServer::start_with(config).await;
    let room = create_room(server.addr, r#"{"name": "Lonely bots", "bots": {"fill_to": 4}}"#).await;
    eventually("four bots", WAIT, async || people_and_bots(&server, &room.id).await == (0, 4)).await;
    let took = eventually("the room to close", WAIT, async || summary(&server, &room.id).await.is_none()).await;
    assert!(took < Duration::from_secs(4), "closed after {took:?}");
    server.shutdown().await;
}

/// Quick play fills its rooms (here `--quick-play-bots 4`); a round against bots
/// ends in the results log with the bots marked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_play_opens_rooms_with_bots_and_the_results_log_tells_them_apart() {
    let mut config = Config::for_tests();
    config.quick_play_bots = Some(4);
    let results_log = config.results_log.clone();
    let server = TestServer::start_with(config).await;
    let (mut quick, _) = welcomed(&server.ws_url("name=newcomer")).await;
    let roster = quick.recv_until(WAIT, roster_of).await.unwrap();
    assert_eq!((roster.len(), roster.iter().filter(|p| p.bot).count()), (4, 3), "{roster:?}");
    let listed = http_get(server.addr, "/api/rooms").await.body;
    assert!(listed.contains(r#""players":1"#) && listed.contains(r#""bots":3"#), "{listed}");
    drop(quick);

    // Rooms made through the API have none unless asked; this one is asked for hard bots and a short round.
    let plain = create_room(server.addr, r#"{"name": "plain"}"#).await;
    let body = r#"{"name": "Short", "rules": {"score_limit": 1, "time_limit_s": 10}, "bots": {"fill_to": 4, "difficulty": "hard"}}"#;
    let room = create_room(server.addr, body).await;
    eventually("the room that asked for bots to have them", WAIT, async || {
        people_and_bots(&server, &room.id).await == (0, 4)
    })
    .await;
    // The plain room has ticked at least as long, and has none.
    assert_eq!(people_and_bots(&server, &plain.id).await, (0, 0), "bots in a room that did not ask");
    let (mut person, me) = welcomed(&server.ws_url(&format!("room={}&name=target", room.id))).await;
    let over = |m: &ServerMsg| if let ServerMsg::Event(RoomEvent::RoundOver(r)) = m { Some(r.clone()) } else { None };
    let results = person.recv_until(Duration::from_secs(15), over).await.unwrap();
    assert_eq!(results.standings.len(), 4);
    for standing in &results.standings {
        assert_eq!(standing.bot, standing.player_id != me.player_id, "{standing:?}");
    }
    eventually("the round in the results log", WAIT, async || {
        std::fs::read_to_string(&results_log).is_ok_and(|log| log.contains(r#""bot":true"#))
    })
    .await;
    let log = std::fs::read_to_string(&results_log).unwrap();
    assert!(log.contains(r#""name":"target","kills":"#) && log.contains(r#""bot":false"#), "{log}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_adds_removes_and_retrains_bots() {
    const TOKEN: &str = "house-bots-admin-token-0123456789abcdef";
    let mut config = Config::for_tests();
    config.admin_token = Some(TOKEN.into());
    let server = TestServer::start_with(config).await;
    let room = create_room(server.addr, r#"{"name": "Ops", "capacity": 6}"#).await;
    let path = format!("/api/admin/rooms/{}/bots", room.id);
    let auth = format!("Authorization: Bearer {TOKEN}");
    let call = async |body: &str| http_json(server.addr, "POST", &path, body, &[auth.as_str()]).await;

    assert_eq!(http_json(server.addr, "POST", &path, r#"{"fill_to": 2}"#, &[]).await.status, 401);
    let added = call(r#"{"fill_to": 4}"#).await;
    assert_eq!(added.status, 200, "{}", added.body);
    let added: RoomBotsSet = serde_json::from_str(&added.body).unwrap();
    assert_eq!((added.fill_to, added.difficulty.as_str(), added.bots), (4, "normal", 4));
    assert_eq!(people_and_bots(&server, &room.id).await, (0, 4));
    let harder: RoomBotsSet = serde_json::from_str(&call(r#"{"difficulty": "hard"}"#).await.body).unwrap();
    assert_eq!((harder.fill_to, harder.difficulty.as_str(), harder.bots), (4, "hard", 4), "fill_to kept");
    let fewer: RoomBotsSet = serde_json::from_str(&call(r#"{"fill_to": 1}"#).await.body).unwrap();
    assert_eq!((fewer.difficulty.as_str(), fewer.bots), ("hard", 1));

    for (body, why) in [
        (r#"{"fill_to": 7}"#, "capacity"),
        (r#"{"difficulty": "godlike"}"#, "difficulty"),
        (r#"{}"#, "fill_to, difficulty"),
        (r#"{"fill_to": -1}"#, ""),
        (r#"{"fill_to": 1, "extra": true}"#, ""),
    ] {
        let refused = call(body).await;
        assert_eq!(refused.status, 400, "{body}: {}", refused.body);
        assert!(refused.body.contains(why), "{body}: {}", refused.body);
    }
    let nowhere = http_json(server.addr, "POST", "/api/admin/rooms/nosuchroom/bots", "{}", &[auth.as_str()]).await;
    assert_eq!(nowhere.status, 404);
    assert_eq!(people_and_bots(&server, &room.id).await, (0, 1), "refusals changed nothing");
    let metrics = http_get(server.addr, "/metrics").await.body;
    assert!(metrics.contains(r#"arena_admin_bot_changes_total{outcome="changed"}"#), "{metrics}");
    assert!(metrics.contains("arena_house_bots"), "{metrics}");
    server.shutdown().await;
}
