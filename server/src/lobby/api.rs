//! The lobby API: rooms, matchmaking and session tokens (`/api/…`).

use arena_protocol::lobby::{CreateRoom, Matchmade, RoomList, RoomSummary, SessionGranted, SessionRequest};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::HOST;
use hyper::{Method, Request, Response, StatusCode};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::budgets::{Caller, OverBudget, RateWindow};
use super::cluster::{self, Cluster, ClusterRoom};
use super::directory::{CreateError, Directory, JoinError};
use super::join::{DEFAULT_NAME, validate_name};
use crate::accounts::api::{self as accounts_api, AccountsApi};
use crate::identity::Tokens;
use crate::ops::metrics;
use crate::ops::unix_ms_after;
use crate::web::{Body, error, json, over_budget, query_value, read_json};

/// What the lobby API uses.
#[derive(Debug)]
pub struct LobbyApi {
    pub directory: Arc<Directory>,
    pub cluster: Option<Arc<Cluster>>,
    /// Issues session tokens.
    pub tokens: Arc<Tokens>,
    /// This node's base URL for clients and other nodes.
    pub public_url: String,
    /// Where this node listens (the real port when started on port 0).
    pub local_addr: SocketAddr,
    pub reservation_ttl: Duration,
    /// A request body must arrive within this.
    pub body_timeout: Duration,
    /// Rooms one address may create an hour.
    pub rooms_per_hour: RateWindow,
    /// Session tokens one address may be issued a minute.
    pub sessions_per_minute: RateWindow,
    /// Accounts, the leaderboard and match history.
    pub accounts: Arc<AccountsApi>,
}

/// Route `/api/<segments>`.
pub async fn handle(req: Request<Incoming>, state: &LobbyApi, segments: &[&str], caller: Caller) -> Response<Body> {
    let method = req.method().clone();
    let caller = if is_forwarded(&req, state) { forwarded_caller(&req, caller) } else { caller };
    let result = match (&method, segments) {
        (&Method::GET, ["rooms"]) => {
            Ok(json(StatusCode::OK, &RoomList { rooms: list_rooms(&state.directory, state.cluster.as_deref()) }))
        }
        (&Method::POST, ["rooms"]) => create_room(req, state, caller).await,
        (&Method::GET, ["rooms", id]) => get_room(state, id).await,
        (&Method::POST, ["matchmake"]) => matchmake(&req, state, caller).await,
        (&Method::POST, ["session"]) => session(req, state, caller).await,
        (_, segments) if accounts_api::serves(segments) => {
            Ok(accounts_api::handle(req, &state.accounts, segments, caller).await)
        }
        (_, ["rooms"] | ["rooms", _] | ["matchmake"] | ["session"]) => {
            Err(error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"))
        }
        _ => Err(error(StatusCode::NOT_FOUND, "no such API endpoint")),
    };
    result.unwrap_or_else(|response| response)
}

/// A call another node passed on ([`cluster::is_node_call`]): answer it here, do not
/// pass it on again.
fn is_forwarded(req: &Request<Incoming>, state: &LobbyApi) -> bool {
    cluster::is_node_call(req, state.cluster.as_deref())
}

/// The client a signed call from another node was made for: its address rides in the
/// signed path (`for=`), so this node's budgets count it too; none (an exempt client,
/// such as loopback) spends no budget.
fn forwarded_caller(req: &Request<Incoming>, node: Caller) -> Caller {
    match query_value(req, "for").and_then(|ip| ip.parse().ok()) {
        Some(ip) => Caller { ip, exempt: false, https: node.https },
        None => Caller { exempt: true, ..node },
    }
}

/// `&for=ADDRESS` for a call passed on to another node on behalf of `caller`.
fn on_behalf_of(caller: Caller) -> String {
    caller.counted().map_or_else(String::new, |ip| format!("&for={ip}"))
}

/// Public rooms: of every node with a cluster (this node's alone if Redis is away).
pub fn list_rooms(directory: &Directory, cluster: Option<&Cluster>) -> Vec<RoomSummary> {
    if let Some(cluster) = cluster {
        match cluster.rooms() {
            Ok(rooms) => return rooms.into_iter().filter(|r| !r.summary.private).map(ClusterRoom::listed).collect(),
            Err(e) => tracing::debug!(error = %e, "cluster room list unavailable; listing this node's rooms"),
        }
    }
    directory.list_public()
}

async fn get_room(state: &LobbyApi, id: &str) -> Result<Response<Body>, Response<Body>> {
    if let Some(room) = state.directory.get(id) {
        return Ok(json(StatusCode::OK, &room.summary()));
    }
    if let Some(cluster) = &state.cluster
        && let Ok(rooms) = cluster.rooms()
        && let Some(room) = rooms.into_iter().find(|r| r.summary.id == id)
    {
        return Ok(json(StatusCode::OK, &room.listed()));
    }
    Err(error(StatusCode::NOT_FOUND, &format!("there is no room {id}")))
}

/// Answer with what another node answered.
fn relay((status, body): (u16, Bytes)) -> Response<Body> {
    let mut response = Response::builder()
        .status(status)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("relayed response");
    if status == StatusCode::TOO_MANY_REQUESTS {
        // The other node's Retry-After does not travel back; a second is its floor.
        response.headers_mut().insert(hyper::header::RETRY_AFTER, hyper::header::HeaderValue::from(1));
    }
    response
}

fn unreachable_node(e: cluster::forward::ForwardError) -> Response<Body> {
    error(StatusCode::BAD_GATEWAY, &format!("the node that should answer is unreachable: {e}"))
}

/// A spent budget, counted and answered with 429.
pub fn refuse(over: &OverBudget) -> Response<Body> {
    metrics::budget_refused(over.budget);
    over_budget(over.budget, &over.message, over.retry_after)
}

async fn create_room(
    req: Request<Incoming>,
    state: &LobbyApi,
    caller: Caller,
) -> Result<Response<Body>, Response<Body>> {
    let forwarded = is_forwarded(&req, state);
    let request: CreateRoom = read_json(req, state.body_timeout).await?;
    state.rooms_per_hour.take(caller, std::time::Instant::now()).map_err(|over| refuse(&over))?;
    // With a cluster, a new room goes to the least-loaded node.
    if let (Some(cluster), false) = (&state.cluster, forwarded)
        && let Some(node) = cluster.least_loaded()
        && node.id != cluster.node_id
    {
        let body = Bytes::from(serde_json::to_vec(&request).expect("json"));
        let path = format!("/api/rooms?local=1{}", on_behalf_of(caller));
        return cluster.forward(node.callee(), &path, body).await.map(relay).map_err(unreachable_node);
    }
    match state.directory.create(request, caller) {
        Ok(room) => Ok(json(StatusCode::CREATED, &listed_here(state, room.summary()))),
        Err(e @ CreateError::Invalid(_)) => Err(error(StatusCode::BAD_REQUEST, &e.to_string())),
        Err(CreateError::OverBudget(over)) => Err(refuse(&over)),
        Err(
            e @ (CreateError::TooManyRooms(_)
            | CreateError::TooManyPrivateRooms(_)
            | CreateError::TooManyBots { .. }
            | CreateError::ShuttingDown),
        ) => Err(error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string())),
        Err(e @ CreateError::Spawn(_)) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())),
    }
}

/// A summary of a room of this node, with where to join it when there is a cluster.
fn listed_here(state: &LobbyApi, summary: RoomSummary) -> RoomSummary {
    match &state.cluster {
        Some(c) => RoomSummary {
            node: Some(c.node_id.clone()),
            ws_url: Some(cluster::ws_url_of(&state.public_url)),
            ..summary
        },
        None => summary,
    }
}

/// Hold a seat in a public room with space (fullest first), or in a new room on
/// the least-loaded node. Seats are reserved by the node that owns the room, so
/// concurrent callers can never over-fill it: a room that filled meanwhile answers
/// 409 and the next candidate is tried.
async fn matchmake(
    req: &Request<Incoming>,
    state: &LobbyApi,
    caller: Caller,
) -> Result<Response<Body>, Response<Body>> {
    let wanted_room = query_value(req, "room");
    let strict = query_value(req, "strict").as_deref() == Some("1");
    if let (Some(cluster), false) = (&state.cluster, is_forwarded(req, state)) {
        let mut candidates = cluster.rooms().unwrap_or_default();
        candidates.retain(|r| !r.summary.private && r.summary.players < r.summary.capacity);
        candidates.sort_by_key(|r| std::cmp::Reverse(r.summary.players));
        let behalf = on_behalf_of(caller);
        for room in candidates.into_iter().take(MATCHMAKE_CANDIDATES) {
            if room.node_id == cluster.node_id {
                match reserve_here(req, state, Some(&room.summary.id), true, caller) {
                    Ok(answer) => return Ok(answer),
                    // A spent budget is the caller's, wherever the seat would be.
                    Err(refusal) if refusal.status() == StatusCode::TOO_MANY_REQUESTS => return Err(refusal),
                    Err(_) => {}
                }
            } else {
                let path = format!("/api/matchmake?local=1&strict=1&room={}{behalf}", room.summary.id);
                let answer = cluster.forward(room.callee(), &path, Bytes::new()).await;
                if let Ok((status @ (200 | 429), body)) = answer {
                    return Ok(relay((status, body)));
                }
            }
        }
        // No room with space: a new room on the node with the fewest players.
        if let Some(node) = cluster.least_loaded()
            && node.id != cluster.node_id
        {
            return cluster
                .forward(node.callee(), &format!("/api/matchmake?local=1{behalf}"), Bytes::new())
                .await
                .map(relay)
                .map_err(unreachable_node);
        }
        return reserve_here(req, state, None, false, caller);
    }
    reserve_here(req, state, wanted_room.as_deref(), strict, caller)
}

/// Rooms a matchmaking call tries before it makes a new one.
const MATCHMAKE_CANDIDATES: usize = 4;

fn reserve_here(
    req: &Request<Incoming>,
    state: &LobbyApi,
    room: Option<&str>,
    strict: bool,
    caller: Caller,
) -> Result<Response<Body>, Response<Body>> {
    let (reservation, room) = state.directory.reserve(room, strict, caller).map_err(|e| match e {
        JoinError::RoomFull(_) => error(StatusCode::CONFLICT, &e.to_string()),
        JoinError::OverBudget(over) => refuse(&over),
        JoinError::Create(CreateError::TooManyRooms(_)) | JoinError::ShuttingDown => {
            error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string())
        }
        other => error(StatusCode::INTERNAL_SERVER_ERROR, &other.to_string()),
    })?;
    let ws = if state.cluster.is_some() {
        cluster::ws_url_of(&state.public_url)
    } else {
        let host = req
            .headers()
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .map_or_else(|| state.local_addr.to_string(), str::to_string);
        let scheme = if caller.https { "wss" } else { "ws" };
        format!("{scheme}://{host}/ws")
    };
    let answer = Matchmade {
        ws_url: format!("{ws}?room={}&reservation={reservation}", room.id()),
        room: listed_here(state, room.summary()),
        reservation,
        expires_at: unix_ms_after(state.reservation_ttl),
    };
    Ok(json(StatusCode::OK, &answer))
}

async fn session(req: Request<Incoming>, state: &LobbyApi, caller: Caller) -> Result<Response<Body>, Response<Body>> {
    let request: SessionRequest = read_json(req, state.body_timeout).await?;
    state.sessions_per_minute.take(caller, std::time::Instant::now()).map_err(|over| refuse(&over))?;
    let name = validate_name(&request.name).map_err(|problem| error(StatusCode::BAD_REQUEST, &problem))?;
    // A guest may not pose as an account holder. With the database away, guests still
    // get tokens (names are only shown; ids tell players apart). The default name is
    // reserved, so it is never checked: one account could not block every nameless guest.
    if name == DEFAULT_NAME {
        return Ok(json(StatusCode::OK, &state.tokens.issue(&name)));
    }
    match state.accounts.store.name_registered(&name).await {
        Ok(true) => {
            return Err(error(StatusCode::CONFLICT, "that name belongs to an account: sign in (POST /api/login)"));
        }
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "cannot check guest names against accounts now"),
    }
    let granted: SessionGranted = state.tokens.issue(&name);
    Ok(json(StatusCode::OK, &granted))
}
