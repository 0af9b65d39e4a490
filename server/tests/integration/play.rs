//! Playing over real sockets: bots receive steady snapshots, rooms fill and split, versions are checked.

use std::time::Duration;

use arena_bots::{ArenaClient, LoadConfig, Placement, Progress, Report, run_load};
use arena_protocol::{ClientMsg, Input, ServerMsg, close_code};
use glam::Vec2;

use crate::util::TestServer;

const WAIT: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_bots_receive_snapshots_steadily() {
    let server = TestServer::start().await;
    let config = LoadConfig::new(server.ws_url(""), 20, Duration::from_secs(3));
    let run = run_load(config.clone(), Default::default()).await.unwrap();
    let (totals, wall) = (run.totals, run.wall);
    let report = Report::new(&totals, config.duration, wall);
    assert_eq!((report.connected, report.failed, report.errors), (20, 0, 0), "{}", report.summary());
    assert_eq!(report.tick_rate_hz, 30);
    // A functional check with room for a busy CI machine; strict figures live in benchmarks.
    let floor = 0.75 * f64::from(report.tick_rate_hz);
    assert!(
        report.snapshot_rate_hz.min >= floor,
        "slowest bot got {:.1} Hz\n{}",
        report.snapshot_rate_hz.min,
        report.summary()
    );
    assert!(report.rtt_ms.p50 > 0.0, "pings were answered");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn welcome_comes_first_and_snapshots_ack_our_inputs() {
    let server = TestServer::start().await;
    let mut client = ArenaClient::connect(&server.ws_url("v=1&name=ann")).await.unwrap();
    let welcome = match client.recv(WAIT).await.unwrap() {
        arena_bots::Incoming::Message(ServerMsg::Welcome(w), _) => w,
        other => panic!("expected a welcome first, got {other:?}"),
    };
    assert_eq!((welcome.protocol_version, welcome.tick_rate_hz), (arena_protocol::PROTOCOL_VERSION, 30));
    let roster =
        client.recv_until(WAIT, |m| if let ServerMsg::Roster(r) = m { Some(r.clone()) } else { None }).await.unwrap();
    assert_eq!(roster.len(), 1);
    assert_eq!(roster[0].name, "ann");

    client.send(&ClientMsg::Input(Input::new(5, Vec2::new(1.0, 0.0), 0.0, false))).await.unwrap();
    let snapshot = client
        .recv_until(WAIT, |m| match m {
            ServerMsg::Snapshot(s) if s.last_input_seq == 5 => Some(s.clone()),
            _ => None,
        })
        .await
        .unwrap();
    let me = snapshot.entities.iter().find(|e| e.net_id == welcome.net_id).expect("own entity in snapshot");
    assert_eq!(me.vel, Vec2::new(welcome.player_speed, 0.0));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_room_overflows_into_a_new_one() {
    let mut config = arena_server::Config::for_tests();
    config.room_capacity = 2;
    let server = TestServer::start_with(config).await;
    let mut rooms = Vec::new();
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut client = ArenaClient::connect(&server.ws_url("")).await.unwrap();
        let welcome = client
            .recv_until(WAIT, |m| if let ServerMsg::Welcome(w) = m { Some(w.clone()) } else { None })
            .await
            .unwrap();
        rooms.push(welcome.room_id);
        clients.push(client);
    }
    assert_eq!(rooms[0], rooms[1]);
    assert_ne!(rooms[1], rooms[2]);

    // Naming the full room is refused with its own close code.
    let mut refused = ArenaClient::connect(&server.ws_url(&format!("room={}", rooms[0]))).await.unwrap();
    let (code, reason) = refused.recv_close(WAIT).await.unwrap();
    assert_eq!(code, close_code::ROOM_FULL, "{reason}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_protocol_version_is_closed_with_its_code() {
    let server = TestServer::start().await;
    let mut client = ArenaClient::connect(&server.ws_url("v=99")).await.unwrap();
    let (code, reason) = client.recv_close(WAIT).await.unwrap();
    assert_eq!(code, close_code::VERSION_MISMATCH);
    assert!(reason.contains("99"), "{reason}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_players_with_going_away() {
    let server = TestServer::start().await;
    let mut client = ArenaClient::connect(&server.ws_url("")).await.unwrap();
    client.recv_until(WAIT, |m| matches!(m, ServerMsg::Snapshot(_)).then_some(())).await.unwrap();
    let drain = tokio::spawn(server.shutdown());
    let (code, _) = client.recv_close(WAIT).await.unwrap();
    assert_eq!(code, close_code::GOING_AWAY);
    drain.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_spread_over_rooms_they_create() {
    let server = TestServer::start().await;
    let config = LoadConfig {
        placement: Placement::Rooms(3),
        room_capacity: Some(4),
        ..LoadConfig::new(server.ws_url(""), 6, Duration::from_secs(1))
    };
    let progress = std::sync::Arc::new(Progress::default());
    let run = tokio::spawn(run_load(config, progress));
    tokio::time::sleep(Duration::from_millis(600)).await;
    let listed: arena_protocol::lobby::RoomList =
        serde_json::from_str(&crate::util::http_get(server.addr, "/api/rooms").await.body).unwrap();
    let mut rooms: Vec<_> = listed.rooms.iter().map(|r| (r.name.clone(), r.players, r.capacity)).collect();
    rooms.sort();
    let expected: Vec<(String, usize, usize)> = (0..3).map(|i| (format!("bots {i}"), 2, 4)).collect();
    assert_eq!(rooms, expected);
    let totals = run.await.unwrap().unwrap().totals;
    assert_eq!(totals.connected, 6);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churning_bots_reconnect_and_reclaim_their_entities() {
    let server = TestServer::start().await;
    let config = LoadConfig {
        placement: Placement::Rooms(1),
        churn_per_s: 1.0,
        ..LoadConfig::new(server.ws_url(""), 4, Duration::from_secs(3))
    };
    let run = run_load(config.clone(), Default::default()).await.unwrap();
    let (totals, wall) = (run.totals, run.wall);
    let report = Report::new(&totals, config.duration, wall);
    let churn = report.churn.as_ref().expect("bots churned");
    assert!(churn.reconnects >= 3, "{}", report.summary());
    assert_eq!((churn.failed, report.errors), (0, 0), "{}", report.summary());
    assert_eq!(churn.same_entity_pct, 100.0, "{}", report.summary());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_snapshot_rate_can_be_set_below_the_tick_rate() {
    let mut server_config = arena_server::Config::for_tests();
    server_config.snapshot_rate = Some(15);
    let server = TestServer::start_with(server_config).await;
    let config = LoadConfig::new(server.ws_url(""), 3, Duration::from_secs(2));
    let run = run_load(config.clone(), Default::default()).await.unwrap();
    let report = Report::new(&run.totals, config.duration, run.wall);
    assert_eq!(report.tick_rate_hz, 15, "the welcome announces the snapshot rate");
    assert!((10.0..=17.0).contains(&report.snapshot_rate_hz.mean), "{}", report.summary());
    server.shutdown().await;
}
