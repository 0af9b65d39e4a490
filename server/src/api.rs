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
