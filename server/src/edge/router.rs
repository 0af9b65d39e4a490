//! HTTP routing: static client, health, lobby and admin API, the operator's
//! pages, and the WebSocket upgrades, all on one port.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arena_protocol::lobby::Health;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};

use super::listener::ConnectionSlot;
use super::session::{self, Sessions};
use super::{assets, origins, subprotocol};
use crate::config::Config;
use crate::lobby::Directory;
use crate::lobby::addresses::{AddressSlot, AddressTable};
use crate::lobby::admin::{self, AdminApi};
use crate::lobby::api::{self, LobbyApi};
use crate::lobby::budgets::Caller;
use crate::lobby::join::JoinQuery;
use crate::lobby::replays::{self, ReplayApi};
use crate::monitor::Monitor;
use crate::ops::metrics;
use crate::web::{Body, error, json, over_budget};

/// Everything a request may be routed to.
#[derive(Debug)]
pub struct Routes {
    pub lobby: LobbyApi,
    pub replays: ReplayApi,
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
    pub assets_dir: assets::Assets,
}

/// Answer one request; `tls`: it arrived over native TLS (`--tls-cert`).
pub async fn handle(
    mut req: Request<Incoming>,
    routes: Arc<Routes>,
    peer: SocketAddr,
    tls: bool,
    permit: Arc<ConnectionSlot>,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = req.method().clone();
    let endpoint = endpoint_of(&segments);
    let client = origins::client_of(&req, peer, &routes.config);
    // A trusted proxy's connection was not counted at accept: its client is counted
    // now, by the forwarded address, for as long as this request (or the session it
    // becomes) lasts. A forwarded address is never loopback-exempt.
    let forwarded_slot = if client.forwarded {
        match routes.addresses.slot(client.ip, false) {
            Some(slot) => Some(slot),
            None => {
                metrics::connection_refused("per_address");
                let refusal = refuse_connection();
                metrics::http_request(endpoint, refusal.status().as_u16());
                return Ok(refusal);
            }
        }
    } else {
        None
    };
    let caller = Caller {
        ip: client.ip,
        exempt: !client.forwarded && client.ip.is_loopback() && !routes.config.limit_loopback,
        https: tls || origins::forwarded_https(&req, peer, &routes.config),
    };
    let response = match (&method, segments.as_slice()) {
        (&Method::GET, ["metrics"]) if routes.config.metrics_addr.is_none() => metrics_page(&routes.directory),
        (&Method::GET, ["ws"]) => {
            upgrade(&mut req, &routes, (client.ip, peer), (permit, forwarded_slot), Endpoint::Game)
        }
        (&Method::GET, ["ws", "lobby"]) => {
            upgrade(&mut req, &routes, (client.ip, peer), (permit, forwarded_slot), Endpoint::Lobby)
        }
        (&Method::GET, ["monitor"]) => match assets::serve(&routes.assets_dir, "/monitor.html").await {
            Some(page) => page,
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
        // Calls that change something must not come from other sites' pages: a page
        // could make its visitors' browsers spend their addresses' budgets.
        (m, ["api", ..])
            if m != Method::GET
                && let Err(refusal) = origins::check(&req, &routes.config) =>
        {
            refusal
        }
        (_, ["api", "admin", ..]) => admin::handle(req, &routes.admin, &segments[2..]).await,
        (_, ["api", "replays", ..]) => replays::handle(req, &routes.replays, &segments[1..], caller).await,
        (_, ["api", ..]) => api::handle(req, &routes.lobby, &segments[1..], caller).await,
        (&Method::GET | &Method::HEAD, _) => match assets::serve(&routes.assets_dir, &path).await {
            Some(asset) => asset,
            None => error(StatusCode::NOT_FOUND, "not found"),
        },
        (_, ["ws" | "health" | "ready"]) => error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
        _ => error(StatusCode::NOT_FOUND, "not found"),
    };
    metrics::http_request(endpoint, response.status().as_u16());
    Ok(response)
}

/// 429 for an address that has all the connections it may hold.
pub fn refuse_connection() -> Response<Body> {
    let message = "too many connections from your address";
    over_budget("connections_per_address", message, std::time::Duration::from_secs(1))
}

/// `GET /metrics`: the population gauges read now, then the Prometheus text.
pub fn metrics_page(directory: &Directory) -> Response<Body> {
    let rooms = directory.all();
    let (players, spectators) =
        rooms.iter().fold((0, 0), |(p, s), r| (p + r.status.players(), s + r.status.spectators()));
    metrics::set_population(rooms.len(), players, spectators);
    metrics::set_house_bots(rooms.iter().map(|r| r.status.bots.load(std::sync::atomic::Ordering::Relaxed)).sum());
    Response::builder()
        .header(CONTENT_TYPE, "text/plain; version=0.0.4")
        .header(CACHE_CONTROL, "no-store")
        .body(Body::from(Bytes::from(metrics::render())))
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
        ["api", "accounts", ..] => "/api/accounts",
        ["api", "login"] => "/api/login",
        ["api", "logout"] => "/api/logout",
        ["api", "password"] => "/api/password",
        ["api", "leaderboard"] => "/api/leaderboard",
        ["api", "players", _] => "/api/players/{id}",
        ["api", "players", _, "matches"] => "/api/players/{id}/matches",
        ["api", "replays"] => "/api/replays",
        ["api", "replays", _] => "/api/replays/{id}",
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
///
/// `(client, peer)`: the client's address and the TCP peer; `(permit, slot)`: the
/// connection's place under `--max-connections` (and under its address's limit,
/// counted at accept) and, behind a trusted proxy, the forwarded address's place.
fn upgrade(
    req: &mut Request<Incoming>,
    routes: &Routes,
    (client, peer): (IpAddr, SocketAddr),
    (permit, slot): (Arc<ConnectionSlot>, Option<AddressSlot>),
    endpoint: Endpoint,
) -> Response<Body> {
    if !fastwebsockets::upgrade::is_upgrade_request(req) {
        return error(StatusCode::UPGRADE_REQUIRED, "this endpoint speaks WebSocket only");
    }
    if let Err(refusal) = origins::check(req, &routes.config) {
        return refusal;
    }
    let mut query = JoinQuery::parse(req.uri().query());
    // The session token may ride in Sec-WebSocket-Protocol, out of the URLs proxies log.
    let protocol = subprotocol::offered(req);
    if query.token.is_none() {
        query.token = protocol.token.clone();
    }
    let (mut response, upgrade) = match fastwebsockets::upgrade::upgrade(req) {
        Ok(pair) => pair,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("bad WebSocket upgrade: {e}")),
    };
    if protocol.arena {
        subprotocol::accept(&mut response);
    }
    // The session keeps the connection's places. Two spawns, not one future with
    // both: a task is as large as its future, and a lobby watcher's is a fraction of
    // a player's.
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
    response.map(|_| Body::empty())
}

/// The Autobahn echo endpoint (only with `--autobahn-echo`).
fn echo_upgrade(req: &mut Request<Incoming>) -> Response<Body> {
    match fastwebsockets::upgrade::upgrade(req) {
        Ok((response, upgrade)) => {
            tokio::spawn(session::echo::serve(upgrade));
            response.map(|_| Body::empty())
        }
        Err(e) => error(StatusCode::BAD_REQUEST, &format!("bad WebSocket upgrade: {e}")),
    }
}
