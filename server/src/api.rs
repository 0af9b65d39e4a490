//! The lobby API: rooms, matchmaking and session tokens (`/api/…`).

use arena_protocol::lobby::{CreateRoom, Matchmade, RoomList, SessionGranted, SessionRequest};
use hyper::body::Incoming;
use hyper::header::HOST;
use hyper::{Method, Request, Response, StatusCode};

use crate::http::{Body, error, json, read_json};
use crate::join::validate_name;
use crate::rooms::{CreateError, JoinError, unix_ms_after};
use crate::server::AppState;

/// Route `/api/<segments>`.
pub async fn handle(req: Request<Incoming>, state: &AppState, segments: &[&str]) -> Response<Body> {
    let method = req.method().clone();
    let result = match (&method, segments) {
        (&Method::GET, ["rooms"]) => Ok(json(StatusCode::OK, &RoomList { rooms: state.rooms.list_public() })),
        (&Method::POST, ["rooms"]) => create_room(req, state).await,
        (&Method::GET, ["rooms", id]) => match state.rooms.get(id) {
            Some(room) => Ok(json(StatusCode::OK, &room.summary())),
            None => Err(error(StatusCode::NOT_FOUND, &format!("there is no room {id}"))),
        },
        (&Method::POST, ["matchmake"]) => matchmake(&req, state),
        (&Method::POST, ["session"]) => session(req, state).await,
        (&Method::GET, ["monitor"]) => Ok(monitor(&req, state)),
        (_, ["rooms"] | ["rooms", _] | ["matchmake"] | ["session"]) => {
            Err(error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"))
        }
        _ => Err(error(StatusCode::NOT_FOUND, "no such API endpoint")),
    };
    result.unwrap_or_else(|response| response)
}

async fn create_room(req: Request<Incoming>, state: &AppState) -> Result<Response<Body>, Response<Body>> {
    let request: CreateRoom = read_json(req).await?;
    match state.rooms.create(request) {
        Ok(room) => Ok(json(StatusCode::CREATED, &room.summary())),
        Err(e @ CreateError::Invalid(_)) => Err(error(StatusCode::BAD_REQUEST, &e.to_string())),
        Err(e @ (CreateError::TooManyRooms(_) | CreateError::ShuttingDown)) => {
            Err(error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()))
        }
        Err(e @ CreateError::Spawn(_)) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())),
    }
}

/// Hold a seat in a public room with space (or a new room) for a few seconds.
fn matchmake(req: &Request<Incoming>, state: &AppState) -> Result<Response<Body>, Response<Body>> {
    let (reservation, room) = state.rooms.reserve().map_err(|e| match e {
        JoinError::Create(CreateError::TooManyRooms(_)) | JoinError::ShuttingDown => {
            error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string())
        }
        other => error(StatusCode::INTERNAL_SERVER_ERROR, &other.to_string()),
    })?;
    let host = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map_or_else(|| state.config.addr.to_string(), str::to_string);
    let answer = Matchmade {
        ws_url: format!("ws://{host}/ws?room={}&reservation={reservation}", room.id),
        room: room.summary(),
        reservation,
        expires_at: unix_ms_after(state.config.reservation_ttl()),
    };
    Ok(json(StatusCode::OK, &answer))
}

async fn session(req: Request<Incoming>, state: &AppState) -> Result<Response<Body>, Response<Body>> {
    let request: SessionRequest = read_json(req).await?;
    let name = validate_name(&request.name).map_err(|problem| error(StatusCode::BAD_REQUEST, &problem))?;
    let granted: SessionGranted = state.tokens.issue(&name);
    Ok(json(StatusCode::OK, &granted))
}

/// `GET /api/monitor`: this node, its rooms and the last minutes of samples. With
/// `--admin-token` set it needs that token (as a bearer token or `?token=`).
pub fn monitor(req: &Request<Incoming>, state: &AppState) -> Response<Body> {
    if let Some(expected) = &state.config.admin_token {
        let from_query = req.uri().query().and_then(|q| {
            form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "token").map(|(_, v)| v.into_owned())
        });
        let from_header = req
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_string);
        if from_query.or(from_header).as_deref() != Some(expected.as_str()) {
            return error(StatusCode::UNAUTHORIZED, "the monitor needs the admin token (?token=…)");
        }
    }
    let rooms: Vec<serde_json::Value> = state
        .rooms
        .all()
        .iter()
        .map(|r| {
            serde_json::json!({
                "room": r.summary(),
                "last_tick_ms": r.last_tick_us.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1000.0,
                "late_ticks": r.late_ticks.load(std::sync::atomic::Ordering::Relaxed),
            })
        })
        .collect();
    let body = serde_json::json!({
        "nodes": [{
            "id": "local",
            "addr": state.local_addr.to_string(),
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_s": state.started.elapsed().as_secs(),
            "ready": state.ready.load(std::sync::atomic::Ordering::Relaxed),
            "rooms": state.rooms.room_count(),
            "players": state.rooms.player_count(),
        }],
        "rooms": rooms,
        "series": state.history.snapshot(),
    });
    json(StatusCode::OK, &body)
}
