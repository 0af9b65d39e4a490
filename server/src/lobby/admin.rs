//! The admin API (`/api/admin/…`), guarded by the bearer token from `--admin-token`.

use arena_protocol::lobby::{Announce, Kick};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::oneshot;

use std::sync::Arc;

use super::admin_bots;
use super::cluster::{self, Cluster, MAX_ANNOUNCEMENT_CHARS};
use super::directory::Directory;
use crate::room::{AdminCommand, RoomInput};
use crate::web::{Body, bearer_matches, error, json, read_json};

/// What the admin API uses.
#[derive(Debug)]
pub struct AdminApi {
    pub directory: Arc<Directory>,
    pub cluster: Option<Arc<Cluster>>,
    /// None: the admin API is off.
    pub admin_token: Option<String>,
    /// `--fault-injection`: rooms can be told to panic (tests only).
    pub fault_injection: bool,
    /// A request body must arrive within this.
    pub body_timeout: std::time::Duration,
}

/// Route `/api/admin/<segments>` after checking the token.
pub async fn handle(req: Request<Incoming>, state: &AdminApi, segments: &[&str]) -> Response<Body> {
    if let Err(refusal) = authorize(&req, state) {
        return refusal;
    }
    let method = req.method().clone();
    let result = match (&method, segments) {
        (&Method::POST, ["announce"]) => announce(req, state).await,
        (&Method::POST, ["rooms", id, "close"]) => close_room(state, id).await,
        (&Method::POST, ["rooms", id, "kick"]) => kick(req, state, id).await,
        (&Method::POST, ["rooms", id, "bots"]) => admin_bots::set(req, state, id).await,
        (&Method::POST, ["rooms", id, "fault"]) if state.fault_injection => inject_fault(state, id).await,
        _ => Err(error(StatusCode::NOT_FOUND, "no such admin endpoint")),
    };
    result.unwrap_or_else(|response| response)
}

fn authorize(req: &Request<Incoming>, state: &AdminApi) -> Result<(), Response<Body>> {
    let Some(expected) = &state.admin_token else {
        return Err(error(StatusCode::FORBIDDEN, "the admin API is off: start the server with --admin-token"));
    };
    if bearer_matches(req, expected) {
        Ok(())
    } else {
        Err(error(StatusCode::UNAUTHORIZED, "a valid admin bearer token is required"))
    }
}

async fn announce(req: Request<Incoming>, state: &AdminApi) -> Result<Response<Body>, Response<Body>> {
    let Announce { text } = read_json(req, state.body_timeout).await?;
    let Some(text) = cluster::announcement(&text) else {
        let message = format!("text must be 1-{MAX_ANNOUNCEMENT_CHARS} characters");
        return Err(error(StatusCode::BAD_REQUEST, &message));
    };
    if let Some(cluster) = &state.cluster {
        // Every node (this one too) hears it through its subscription.
        let nodes = cluster
            .announce(&text)
            .await
            .map_err(|e| error(StatusCode::SERVICE_UNAVAILABLE, &format!("Redis: {e}")))?;
        return Ok(json(StatusCode::OK, &serde_json::json!({ "nodes": nodes })));
    }
    let mut reached = 0;
    for room in state.directory.all() {
        if room.inbox.send(RoomInput::Admin(AdminCommand::Announce(text.clone()))).await.is_ok() {
            reached += 1;
        }
    }
    Ok(json(StatusCode::OK, &serde_json::json!({ "rooms": reached })))
}

async fn close_room(state: &AdminApi, id: &str) -> Result<Response<Body>, Response<Body>> {
    let room =
        state.directory.get(id).ok_or_else(|| error(StatusCode::NOT_FOUND, &format!("there is no room {id}")))?;
    let players = room.status.players();
    let command = AdminCommand::Close("the room was closed by an operator".into());
    room.inbox
        .send(RoomInput::Admin(command))
        .await
        .map_err(|_| error(StatusCode::GONE, "the room has already closed"))?;
    Ok(json(StatusCode::OK, &serde_json::json!({ "closed": id, "players": players })))
}

async fn kick(req: Request<Incoming>, state: &AdminApi, id: &str) -> Result<Response<Body>, Response<Body>> {
    let Kick { player_id, reason } = read_json(req, state.body_timeout).await?;
    let room =
        state.directory.get(id).ok_or_else(|| error(StatusCode::NOT_FOUND, &format!("there is no room {id}")))?;
    let reason =
        if reason.trim().is_empty() { "removed by an operator".to_string() } else { reason.trim().to_string() };
    let (done, answer) = oneshot::channel();
    let command = AdminCommand::Kick { player_id, reason, done };
    room.inbox.send(RoomInput::Admin(command)).await.map_err(|_| error(StatusCode::GONE, "the room has closed"))?;
    match answer.await {
        Ok(true) => Ok(json(StatusCode::OK, &serde_json::json!({ "kicked": player_id }))),
        _ => Err(error(StatusCode::NOT_FOUND, &format!("player {} is not in room {id}", player_id.0))),
    }
}

/// Make a room's next tick panic (only with `--fault-injection`).
async fn inject_fault(state: &AdminApi, id: &str) -> Result<Response<Body>, Response<Body>> {
    let room =
        state.directory.get(id).ok_or_else(|| error(StatusCode::NOT_FOUND, &format!("there is no room {id}")))?;
    room.inbox
        .send(RoomInput::Admin(AdminCommand::Fault))
        .await
        .map_err(|_| error(StatusCode::GONE, "the room has closed"))?;
    Ok(json(StatusCode::OK, &serde_json::json!({ "fault_injected": id })))
}
