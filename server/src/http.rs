//! HTTP routing: static client, health, lobby and admin API, and the WebSocket
//! upgrade, all on one port.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use arena_protocol::lobby::{ApiError, Health};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use serde::de::DeserializeOwned;

use crate::server::{AppState, ConnectionSlot};
use crate::{admin, api, assets, join::JoinQuery, origins, session};
use std::sync::atomic::Ordering;

pub type Body = Full<Bytes>;

/// Largest request body the API reads.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// Answer one request.
pub async fn handle(
    mut req: Request<Incoming>,
    state: Arc<AppState>,
    peer: SocketAddr,
    permit: Arc<ConnectionSlot>,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = req.method().clone();
    let endpoint = endpoint_of(&segments);
    let response = match (&method, segments.as_slice()) {
        (&Method::GET, ["metrics"]) => {
            let rooms = state.rooms.all();
            let (players, spectators) = rooms.iter().fold((0, 0), |(p, s), r| {
                (p + r.players.load(Ordering::Relaxed), s + r.spectators.load(Ordering::Relaxed))
            });
            crate::metrics::set_population(rooms.len(), players, spectators);
            Response::builder()
                .header(CONTENT_TYPE, "text/plain; version=0.0.4")
                .header(CACHE_CONTROL, "no-store")
                .body(Full::new(Bytes::from(crate::metrics::render())))
                .expect("metrics response")
        }
        (&Method::GET, ["ws"]) => upgrade(&mut req, state, peer, permit, Endpoint::Game),
        (&Method::GET, ["ws", "lobby"]) => upgrade(&mut req, state, peer, permit, Endpoint::Lobby),
        (&Method::GET, ["monitor"]) => match assets::load(&state.config.assets_dir, "/monitor.html").await {
            Some(page) => Response::builder()
                .header(CONTENT_TYPE, page.content_type)
                .body(Full::new(Bytes::from(page.body)))
                .expect("monitor page"),
            None => error(StatusCode::NOT_FOUND, "monitor page missing from the assets folder"),
        },
        (&Method::GET, ["autobahn"]) if state.config.autobahn_echo => echo_upgrade(&mut req),
        (&Method::GET, ["ready"]) => {
            if state.ready.load(Ordering::Acquire) {
                json(StatusCode::OK, &serde_json::json!({ "ready": true }))
            } else {
                json(StatusCode::SERVICE_UNAVAILABLE, &serde_json::json!({ "ready": false, "reason": "draining" }))
            }
        }
        (&Method::GET, ["health"]) => json(
            StatusCode::OK,
            &Health {
                status: "ok".into(),
                rooms: state.rooms.room_count(),
                players: state.rooms.player_count(),
                tick_rate_hz: state.rooms.default_tick_rate(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
        ),
        (_, ["api", "admin", ..]) => admin::handle(req, &state, &segments[2..]).await,
        (_, ["api", ..]) => api::handle(req, &state, &segments[1..]).await,
        (&Method::GET | &Method::HEAD, _) => match assets::load(&state.config.assets_dir, &path).await {
            Some(asset) => Response::builder()
                .header(CONTENT_TYPE, asset.content_type)
                .header(CACHE_CONTROL, "no-cache")
                .body(Full::new(Bytes::from(asset.body)))
                .expect("static response"),
            None => error(StatusCode::NOT_FOUND, "not found"),
        },
        (_, ["ws" | "health" | "ready"]) => error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
        _ => error(StatusCode::NOT_FOUND, "not found"),
    };
    crate::metrics::http_request(endpoint, response.status().as_u16());
    Ok(response)
}

/// The endpoint a path belongs to, as a bounded label (ids and file names folded).
fn endpoint_of(segments: &[&str]) -> &'static str {
    match segments {
        ["ws"] => "/ws",
        ["ws", "lobby"] => "/ws/lobby",
        ["health"] => "/health",
        ["ready"] => "/ready",
        ["metrics"] => "/metrics",
        ["monitor"] => "/monitor",
        ["autobahn"] => "/autobahn",
        ["api", "rooms"] => "/api/rooms",
        ["api", "rooms", _] => "/api/rooms/{id}",
        ["api", "matchmake"] => "/api/matchmake",
        ["api", "session"] => "/api/session",
        ["api", "monitor"] => "/api/monitor",
        ["api", "admin", ..] => "/api/admin",
        ["api", ..] => "/api/other",
        _ => "static",
    }
}

/// Which WebSocket endpoint a connection came to.
#[derive(Clone, Copy)]
enum Endpoint {
    /// `/ws`: play or watch a room.
    Game,
    /// `/ws/lobby`: the room list as it changes.
    Lobby,
}

/// Hand the connection to a session task and answer 101 at once. Join problems
/// (version, token, room, name) are reported with a close code after the upgrade,
/// because a browser cannot read the status of a refused upgrade.
fn upgrade(
    req: &mut Request<Incoming>,
    state: Arc<AppState>,
    peer: SocketAddr,
    permit: Arc<ConnectionSlot>,
    endpoint: Endpoint,
) -> Response<Body> {
    if !fastwebsockets::upgrade::is_upgrade_request(req) {
        return error(StatusCode::UPGRADE_REQUIRED, "this endpoint speaks WebSocket only");
    }
    if let Err(refusal) = origins::check(req, &state.config) {
        return refusal;
    }
    let client = origins::client_address(req, peer, &state.config);
    let Some(slot) = state.address_slot(client) else {
        return error(StatusCode::TOO_MANY_REQUESTS, "too many connections from your address");
    };
    let query = JoinQuery::parse(req.uri().query());
    let (response, upgrade) = match fastwebsockets::upgrade::upgrade(req) {
        Ok(pair) => pair,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("bad WebSocket upgrade: {e}")),
    };
    // The session keeps the connection's place under --max-connections (`permit`).
    // Two spawns, not one future with both: a task is as large as its future, and a
    // lobby watcher's is a fraction of a player's.
    let peer = SocketAddr::new(client, peer.port());
    match endpoint {
        Endpoint::Game => tokio::spawn(async move {
            let _permit = permit;
            session::serve(upgrade, query, state, peer, slot).await
        }),
        Endpoint::Lobby => tokio::spawn(async move {
            let _permit = permit;
            session::lobby::serve(upgrade, state, peer, slot).await
        }),
    };
    response.map(|_| Full::new(Bytes::new()))
}

/// The Autobahn echo endpoint (only with `--autobahn-echo`).
fn echo_upgrade(req: &mut Request<Incoming>) -> Response<Body> {
    match fastwebsockets::upgrade::upgrade(req) {
        Ok((response, upgrade)) => {
            tokio::spawn(session::echo::serve(upgrade));
            response.map(|_| Full::new(Bytes::new()))
        }
        Err(e) => error(StatusCode::BAD_REQUEST, &format!("bad WebSocket upgrade: {e}")),
    }
}

/// Read a JSON body of at most [`MAX_BODY_BYTES`]; an empty body reads as `{}`.
pub async fn read_json<T: DeserializeOwned>(req: Request<Incoming>) -> Result<T, Response<Body>> {
    let body = Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|_| error(StatusCode::PAYLOAD_TOO_LARGE, &format!("bodies are limited to {MAX_BODY_BYTES} bytes")))?
        .to_bytes();
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &body };
    serde_json::from_slice(body).map_err(|e| error(StatusCode::BAD_REQUEST, &format!("invalid JSON body: {e}")))
}

pub fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .header(CACHE_CONTROL, "no-store")
        .body(Full::new(Bytes::from(serde_json::to_vec(value).expect("JSON of our own types"))))
        .expect("json response")
}

/// A JSON error: `{"error": "…"}`.
pub fn error(status: StatusCode, message: &str) -> Response<Body> {
    json(status, &ApiError { error: message.to_string() })
}
