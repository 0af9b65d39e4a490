//! `POST /api/admin/rooms/{id}/bots`: an operator adds or removes a room's house
//! bots (`fill_to`) or changes how well they play (`difficulty`).

use arena_protocol::lobby::{RoomBots, RoomBotsSet};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tokio::sync::oneshot;

use super::admin::AdminApi;
use super::directory::bot_fill;
use crate::ops::metrics;
use crate::room::house_bots::BotFill;
use crate::room::{AdminCommand, BotChange, RoomInput};
use crate::web::{Body, error, json, read_json};

/// Change the room's bots; answers how they are once the room has applied it.
pub async fn set(req: Request<Incoming>, state: &AdminApi, id: &str) -> Result<Response<Body>, Response<Body>> {
    let asked: RoomBots = read_json(req, state.body_timeout).await.inspect_err(|_| metrics::admin_bots("invalid"))?;
    let Some(room) = state.directory.get(id) else {
        metrics::admin_bots("no_room");
        return Err(error(StatusCode::NOT_FOUND, &format!("there is no room {id}")));
    };
    if asked.fill_to.is_none() && asked.difficulty.is_none() {
        metrics::admin_bots("invalid");
        return Err(error(StatusCode::BAD_REQUEST, "give fill_to, difficulty or both"));
    }
    let checked = bot_fill(&asked, BotFill::default(), room.spec.capacity).map_err(|message| {
        metrics::admin_bots("invalid");
        error(StatusCode::BAD_REQUEST, &message)
    })?;
    if let Some(fill_to) = asked.fill_to
        && let Err(free) = state.directory.allow_bots(id, fill_to)
    {
        metrics::admin_bots("over_cap");
        metrics::house_bots_capped("admin");
        let max = state.directory.limits().max_house_bots;
        let message = format!(
            "this server runs at most {max} house bots (--max-house-bots) and only {free} are free for this room"
        );
        return Err(error(StatusCode::SERVICE_UNAVAILABLE, &message));
    }
    // What is not asked for stays as the room has it.
    let change = BotChange { fill_to: asked.fill_to, difficulty: asked.difficulty.map(|_| checked.difficulty) };
    let (done, answer) = oneshot::channel();
    room.inbox
        .send(RoomInput::Admin(AdminCommand::Bots { change, done }))
        .await
        .map_err(|_| error(StatusCode::GONE, "the room has closed"))?;
    let now = answer.await.map_err(|_| error(StatusCode::GONE, "the room has closed"))?;
    metrics::admin_bots("changed");
    tracing::info!(room = %id, fill_to = now.fill.fill_to, difficulty = now.fill.difficulty.name(), "house bots changed");
    let answer =
        RoomBotsSet { fill_to: now.fill.fill_to, difficulty: now.fill.difficulty.name().into(), bots: now.playing };
    Ok(json(StatusCode::OK, &answer))
}
