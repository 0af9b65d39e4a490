//! HTTP routing: static client, health, lobby API and the WebSocket upgrade, on one port.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use arena_protocol::lobby::{Health, RoomList};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};

use crate::server::AppState;
use crate::{assets, join::JoinQuery, session};

pub type Body = Full<Bytes>;

/// Answer one request.
pub async fn handle(
    mut req: Request<Incoming>,
    state: Arc<AppState>,
    peer: SocketAddr,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    let response = match (req.method(), path.as_str()) {
        (&Method::GET, "/ws") => upgrade(&mut req, state, peer),
        (&Method::GET, "/health") => json(
            StatusCode::OK,
            &Health {
                status: "ok".into(),
                rooms: state.rooms.room_count(),
                players: state.rooms.player_count(),
                tick_rate_hz: state.rooms.default_tick_rate(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
        ),
        (&Method::GET, "/api/rooms") => json(StatusCode::OK, &RoomList { rooms: state.rooms.list() }),
        (&Method::GET | &Method::HEAD, _) if !path.starts_with("/api/") => {
            match assets::load(&state.config.assets_dir, &path).await {
                Some(asset) => Response::builder()
                    .header(CONTENT_TYPE, asset.content_type)
                    .header(CACHE_CONTROL, "no-cache")
                    .body(Full::new(Bytes::from(asset.body)))
                    .expect("static response"),
                None => text(StatusCode::NOT_FOUND, "not found\n"),
            }
        }
        (_, "/ws" | "/health" | "/api/rooms") => text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n"),
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    };
    Ok(response)
}

/// Hand the connection to a session task and answer 101 at once. Join problems
/// (version, room, name) are reported with a close code after the upgrade,
/// because a browser cannot read the status of a refused upgrade.
fn upgrade(req: &mut Request<Incoming>, state: Arc<AppState>, peer: SocketAddr) -> Response<Body> {
    if !fastwebsockets::upgrade::is_upgrade_request(req) {
        return text(StatusCode::UPGRADE_REQUIRED, "this endpoint speaks WebSocket only\n");
    }
    let query = JoinQuery::parse(req.uri().query());
    let (response, upgrade) = match fastwebsockets::upgrade::upgrade(req) {
        Ok(pair) => pair,
        Err(e) => return text(StatusCode::BAD_REQUEST, &format!("bad WebSocket upgrade: {e}\n")),
    };
    let slow = state.config.slow_client_timeout();
    tokio::spawn(session::serve(upgrade, query, state.rooms.clone(), peer, slow));
    response.map(|_| Full::new(Bytes::new()))
}

fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .header(CACHE_CONTROL, "no-store")
        .body(Full::new(Bytes::from(serde_json::to_vec(value).expect("JSON of our own types"))))
        .expect("json response")
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("text response")
}
