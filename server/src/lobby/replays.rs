//! The replay API: `GET /api/replays` lists this node's finished rounds (by room,
//! player and time; a private room's only to a session token of someone who played
//! in it), `GET /api/replays/{id}` downloads one. Per-address request budget,
//! a bound on downloads at once, and a metric by outcome.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arena_protocol::PlayerId;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use serde::Serialize;
use tokio::sync::Semaphore;

use super::api::refuse;
use super::budgets::{Caller, RateWindow};
use crate::identity::Tokens;
use crate::replay::store::{ReplayFilter, valid_id};
use crate::replay::{ReplayMeta, Replays};
use crate::web::{Body, error, json, query_value};

/// Replays one listing returns at most (and without `limit`).
pub const MAX_LISTED: usize = 200;
const DEFAULT_LISTED: usize = 50;

/// Downloads served at once: each holds a file (a few MB) in memory while it is sent.
pub const DOWNLOADS_AT_ONCE: usize = 8;

/// What the replay API uses.
#[derive(Debug)]
pub struct ReplayApi {
    /// None with --no-replays: the endpoints answer 404.
    pub replays: Option<Arc<Replays>>,
    /// Proves who asks for a private room's replays.
    pub tokens: Arc<Tokens>,
    /// This node's base URL: where its replays are fetched.
    pub public_url: String,
    /// Replay requests (listings and downloads) one address may make a minute.
    pub requests_per_minute: RateWindow,
    pub downloads: Arc<Semaphore>,
}

#[derive(Serialize)]
struct ReplayList {
    replays: Vec<ReplayMeta>,
}

/// Route `/api/replays[/{id}]`.
pub async fn handle(req: Request<Incoming>, api: &ReplayApi, segments: &[&str], caller: Caller) -> Response<Body> {
    let (response, outcome) = answer(&req, api, segments, caller).await.unwrap_or_else(|refusal| refusal);
    metrics::counter!("arena_replay_requests_total", "outcome" => outcome).increment(1);
    response
}

type Answer = (Response<Body>, &'static str);

async fn answer(req: &Request<Incoming>, api: &ReplayApi, segments: &[&str], caller: Caller) -> Result<Answer, Answer> {
    if req.method() != Method::GET {
        return Err((error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"), "bad_request"));
    }
    if !matches!(segments, ["replays"] | ["replays", _]) {
        return Err((error(StatusCode::NOT_FOUND, "no such API endpoint"), "not_found"));
    }
    api.requests_per_minute.take(caller, Instant::now()).map_err(|over| (refuse(&over), "over_budget"))?;
    let Some(replays) = &api.replays else {
        return Err((error(StatusCode::NOT_FOUND, "this server records no replays"), "not_found"));
    };
    let viewer = viewer_of(req, &api.tokens)?;
    match segments {
        ["replays"] => {
            let (filter, limit) = filter_of(req, viewer)?;
            let mut listed = replays.store.list(&filter, limit);
            for meta in &mut listed {
                meta.url = Some(format!("{}/api/replays/{}", api.public_url, meta.id));
            }
            Ok((json(StatusCode::OK, &ReplayList { replays: listed }), "listed"))
        }
        [_, id] => download(replays, api, id, viewer).await,
        _ => Err((error(StatusCode::NOT_FOUND, "no such API endpoint"), "not_found")),
    }
}

/// The player a session token proves (`Authorization: Bearer`); none without one.
fn viewer_of(req: &Request<Incoming>, tokens: &Tokens) -> Result<Option<PlayerId>, Answer> {
    let Some(header) = req.headers().get(AUTHORIZATION) else { return Ok(None) };
    let token = header.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).unwrap_or_default();
    match tokens.verify(token) {
        Ok(identity) => Ok(Some(identity.player_id)),
        Err(e) => Err((error(StatusCode::UNAUTHORIZED, &format!("session token: {e}")), "bad_token")),
    }
}

fn filter_of(req: &Request<Incoming>, viewer: Option<PlayerId>) -> Result<(ReplayFilter, usize), Answer> {
    let bad = |what: &str| (error(StatusCode::BAD_REQUEST, what), "bad_request");
    let number = |key: &str| -> Result<Option<u64>, Answer> {
        query_value(req, key)
            .map(|v| v.parse::<u64>().map_err(|_| bad(&format!("{key} must be a whole number"))))
            .transpose()
    };
    let room = query_value(req, "room");
    if room
        .as_ref()
        .is_some_and(|r| r.is_empty() || r.len() > 64 || !r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    {
        return Err(bad("room must be a room id (letters, digits and '-', at most 64)"));
    }
    let player = number("player")?
        .map(|p| u32::try_from(p).map(PlayerId).map_err(|_| bad("player must be a player id (0-4294967295)")))
        .transpose()?;
    let limit = number("limit")?.unwrap_or(DEFAULT_LISTED as u64);
    if !(1..=MAX_LISTED as u64).contains(&limit) {
        return Err(bad(&format!("limit must be 1-{MAX_LISTED}")));
    }
    let filter = ReplayFilter { room, player, since_ms: number("since")?, until_ms: number("until")?, viewer };
    Ok((filter, limit as usize))
}

async fn download(replays: &Replays, api: &ReplayApi, id: &str, viewer: Option<PlayerId>) -> Result<Answer, Answer> {
    if !valid_id(id) {
        return Err((error(StatusCode::BAD_REQUEST, "a replay id is 20 hex digits"), "bad_request"));
    }
    // A private room's replay is as absent as a missing one to whoever was not in it.
    let meta = replays.store.get(id).filter(|m| m.visible_to(viewer));
    let Some(meta) = meta else {
        return Err((error(StatusCode::NOT_FOUND, &format!("there is no replay {id}")), "not_found"));
    };
    let Ok(_permit) = api.downloads.clone().try_acquire_owned() else {
        let mut busy = error(StatusCode::SERVICE_UNAVAILABLE, "too many replay downloads at once; try again shortly");
        busy.headers_mut().insert(hyper::header::RETRY_AFTER, hyper::header::HeaderValue::from(1));
        return Err((busy, "busy"));
    };
    let bytes = tokio::fs::read(replays.store.file_of(id)).await.map_err(|e| {
        tracing::warn!(%id, error = %e, "a listed replay could not be read");
        (error(StatusCode::NOT_FOUND, &format!("there is no replay {id}")), "not_found")
    })?;
    metrics::counter!("arena_replay_download_bytes_total").increment(bytes.len() as u64);
    let response = Response::builder()
        .header(CONTENT_TYPE, "application/gzip")
        .header(CONTENT_DISPOSITION, format!("attachment; filename=\"arena-{id}.replay.gz\""))
        // Private rooms' replays answer per token: no shared cache may keep them.
        .header(CACHE_CONTROL, if meta.private { "private, no-store" } else { "public, max-age=3600" })
        .body(Full::new(Bytes::from(bytes)))
        .expect("replay response");
    Ok((response, "downloaded"))
}

/// A listing's request budget: `limit` per minute per address.
pub fn requests_per_minute(limit: u32) -> RateWindow {
    RateWindow::new("replay_requests_per_address_per_minute", limit, Duration::from_secs(60))
}
