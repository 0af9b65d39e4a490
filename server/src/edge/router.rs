//! HTTP routing: static client, health, lobby and admin API, the operator's
//! pages, and the WebSocket upgrades, all on one port.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arena_protocol::lobby::Health;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};

use super::addresses::AddressTable;
use super::listener::ConnectionSlot;
use super::session::{self, Sessions};
use super::{assets, origins};
use crate::config::Config;
use crate::lobby::Directory;
use crate::lobby::admin::{self, AdminApi};
use crate::lobby::api::{self, LobbyApi};
use crate::lobby::join::JoinQuery;
use crate::monitor::Monitor;
use crate::ops::metrics;
use crate::web::{Body, error, json};

/// Everything a request may be routed to.
#[derive(Debug)]
pub struct Routes {
    pub lobby: LobbyApi,
    pub admin: AdminApi,
    pub monitor: Monitor,
    pub sessions: Arc<Sessions>,
    /// Open sessions per client address.
    pub addresses: AddressTable,
    /// For `/health`, `/metrics` and `/ready`.
    pub directory: Arc<Directory>,
    /// False while draining: `/ready` answers 503 and load balancers stop sending players.
    pub ready: Arc<AtomicBool>,
    /// The origin check, client addresses behind proxies, the Autobahn switch.
    pub config: Arc<Config>,
    pub assets_dir: PathBuf,
}

/// Answer one request.
pub async fn handle(
    mut req: Request<Incoming>,
    routes: Arc<Routes>,
    peer: SocketAddr,
    permit: Arc<ConnectionSlot>,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = req.method().clone();
    let endpoint = endpoint_of(&segments);
    let response = match (&method, segments.as_slice()) {
        (&Method::GET, ["metrics"]) => metrics_page(&routes.directory),
        (&Method::GET, ["ws"]) => upgrade(&mut req, routes, peer, permit, Endpoint::Game),
        (&Method::GET, ["ws", "lobby"]) => upgrade(&mut req, routes, peer, permit, Endpoint::Lobby),
        (&Method::GET, ["monitor"]) => match assets::load(&routes.assets_dir, "/monitor.html").await {
            Some(page) => Response::builder()
                .header(CONTENT_TYPE, page.content_type)
                .body(Full::new(Bytes::from(page.body)))
                .expect("monitor page"),
            None => error(StatusCode::NOT_FOUND, "monitor page missing from the assets folder"),
        },
        (&Method::GET, ["autobahn"]) if routes.config.autobahn_echo => echo_upgrade(&mut req),
        (&Method::GET, ["ready"]) => {
            if routes.ready.load(Ordering::Acquire) {
                json(StatusCode::OK, &serde_json::json!({ "ready": true }))
            } else {
                json(StatusCode::SERVICE_UNAVAILABLE, &serde_json::json!({ "ready": false, "reason": "draining" }))
            }
        }
        (&Method::GET, ["health"]) => json(
            StatusCode::OK,
            &Health {
                status: "ok".into(),
                rooms: routes.directory.room_count(),
                players: routes.directory.player_count(),
                tick_rate_hz: routes.directory.default_tick_rate(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
        ),
        (&Method::GET, ["api", "monitor"]) => routes.monitor.api(&req),
        (_, ["api", "admin", ..]) => admin::handle(req, &routes.admin, &segments[2..]).await,
        (_, ["api", ..]) => api::handle(req, &routes.lobby, &segments[1..]).await,
        (&Method::GET | &Method::HEAD, _) => match assets::load(&routes.assets_dir, &path).await {
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
    metrics::http_request(endpoint, response.status().as_u16());
    Ok(response)
}

/// `GET /metrics`: the population gauges read now, then the Prometheus text.
fn metrics_page(directory: &Directory) -> Response<Body> {
    let rooms = directory.all();
    let (players, spectators) =
        rooms.iter().fold((0, 0), |(p, s), r| (p + r.status.players(), s + r.status.spectators()));
    metrics::set_population(rooms.len(), players, spectators);
    Response::builder()
        .header(CONTENT_TYPE, "text/plain; version=0.0.4")
        .header(CACHE_CONTROL, "no-store")
        .body(Full::new(Bytes::from(metrics::render())))
        .expect("metrics response")
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
    routes: Arc<Routes>,
    peer: SocketAddr,
    permit: Arc<ConnectionSlot>,
    endpoint: Endpoint,
) -> Response<Body> {
    if !fastwebsockets::upgrade::is_upgrade_request(req) {
        return error(StatusCode::UPGRADE_REQUIRED, "this endpoint speaks WebSocket only");
    }
    if let Err(refusal) = origins::check(req, &routes.config) {
        return refusal;
    }
    let client = origins::client_address(req, peer, &routes.config);
    let Some(slot) = routes.addresses.slot(client) else {
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
    let sessions = routes.sessions.clone();
    match endpoint {
        Endpoint::Game => tokio::spawn(async move {
            let _permit = permit;
            session::serve(upgrade, query, sessions, peer, slot).await
        }),
        Endpoint::Lobby => tokio::spawn(async move {
            let _permit = permit;
            session::lobby::serve(upgrade, sessions, peer, slot).await
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
