//! The HTTP side of the port: health, room list, static client, refusals.

use arena_protocol::lobby::{Health, RoomList};

use crate::util::TestServer;
use crate::util::http::{create_room, http_get};
use crate::util::ws::playing;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_ok_with_counts() {
    let server = TestServer::start().await;
    let response = http_get(server.addr, "/health").await;
    assert_eq!(response.status, 200);
    assert!(response.headers.to_ascii_lowercase().contains("content-type: application/json"));
    let health: Health = serde_json::from_str(&response.body).unwrap();
    assert_eq!(health.status, "ok");
    assert_eq!((health.rooms, health.players, health.tick_rate_hz), (0, 0, 30));
    assert_eq!(health.version, env!("CARGO_PKG_VERSION"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_page_has_a_canvas_and_unknown_paths_are_404() {
    let server = TestServer::start().await;
    let index = http_get(server.addr, "/").await;
    assert_eq!(index.status, 200);
    assert!(index.headers.contains("text/html"));
    assert!(index.body.contains("<canvas"));
    assert_eq!(http_get(server.addr, "/no/such/file.js").await.status, 404);
    assert_eq!(http_get(server.addr, "/../Cargo.toml").await.status, 404);
    assert_eq!(http_get(server.addr, "/api/nothing").await.status, 404);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_get_on_ws_is_refused_with_426() {
    let server = TestServer::start().await;
    let response = http_get(server.addr, "/ws").await;
    assert_eq!(response.status, 426);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_list_starts_empty_and_shows_a_joined_room() {
    let server = TestServer::start().await;
    let empty: RoomList = serde_json::from_str(&http_get(server.addr, "/api/rooms").await.body).unwrap();
    assert!(empty.rooms.is_empty());

    let created = create_room(server.addr, r#"{"name": "alpha"}"#).await;
    let _ann = playing(&server.ws_url(&format!("room={}&name=ann", created.id))).await;
    let listed: RoomList = serde_json::from_str(&http_get(server.addr, "/api/rooms").await.body).unwrap();
    assert_eq!(listed.rooms.len(), 1);
    let room = &listed.rooms[0];
    assert_eq!((room.id.as_str(), room.name.as_str()), (created.id.as_str(), "alpha"));
    assert_eq!((room.players, room.capacity, room.tick_rate_hz, room.round), (1, 50, 30, 1));
    let health: Health = serde_json::from_str(&http_get(server.addr, "/health").await.body).unwrap();
    assert_eq!((health.rooms, health.players), (1, 1));
    server.shutdown().await;
}
