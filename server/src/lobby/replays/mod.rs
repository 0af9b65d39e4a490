//! The replay API: `GET /api/replays` lists finished rounds (by room, player and
//! time; a private room's only to a session token of someone who played in it), of
//! every node with a cluster; `GET /api/replays/{id}` downloads one, fetched from the
//! node that keeps it when that is another. Per-address request budget, a bound on
//! downloads at once, and a metric by outcome.

pub mod across_nodes;

use std::sync::Arc;
use std::time::{Duration, Instant};

use arena_protocol::PlayerId;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::Semaphore;

use super::api::refuse;
use super::budgets::{Caller, RateWindow};
use super::cluster::Cluster;
use crate::identity::Tokens;
use crate::replay::Replays;
use crate::replay::store::{ReplayFilter, valid_id};
use crate::web::{Body, error, json, query_value};
use across_nodes::{Fetched, ReplayList, located};

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
    /// The other nodes, whose replays are listed and passed on too.
    pub cluster: Option<Arc<Cluster>>,
    /// Replay requests (listings and downloads) one address may make a minute.
    pub requests_per_minute: RateWindow,
    pub downloads: Arc<Semaphore>,
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
    let node_call = is_node_call(req, api);
    if !node_call {
        // Another node's call was counted where its client asked.
        api.requests_per_minute.take(caller, Instant::now()).map_err(|over| (refuse(&over), "over_budget"))?;
    }
    let Some(replays) = &api.replays else {
        return Err((error(StatusCode::NOT_FOUND, "this server records no replays"), "not_found"));
    };
    // Who asks: the node that passed the call on proved it; a client proves it with its token.
    let viewer = if node_call { node_call_viewer(req)? } else { viewer_of(req, &api.tokens)? };
    let cluster = api.cluster.as_deref().filter(|_| !node_call);
    match segments {
        ["replays"] => {
            let (filter, limit) = filter_of(req, viewer)?;
            let node = api.cluster.as_ref().map(|c| c.node_id.as_str());
            let mut listed = ReplayList {
                replays: replays
                    .store
                    .list(&filter, limit)
                    .into_iter()
                    .map(|m| located(m, node, &api.public_url))
                    .collect(),
                unreachable_nodes: Vec::new(),
            };
            if let Some(cluster) = cluster {
                let others = across_nodes::list_other_nodes(cluster, &filter, limit).await;
                listed.replays.extend(others.replays);
                listed.replays.sort_by(|a, b| (b.ended_at_ms, &b.id).cmp(&(a.ended_at_ms, &a.id)));
                listed.replays.truncate(limit);
                listed.unreachable_nodes = others.unreachable_nodes;
            }
            Ok((json(StatusCode::OK, &listed), "listed"))
        }
        [_, id] => download(req, replays, api, cluster, id, viewer).await,
        _ => Err((error(StatusCode::NOT_FOUND, "no such API endpoint"), "not_found")),
    }
}

/// `?local=1` on a call another node passed on, signed with the cluster's shared
/// secret: answer from this node's replays, for the viewer it names. Unsigned (or
/// signed for another path), `?local=1` is ignored and `viewer` never read.
fn is_node_call(req: &Request<Incoming>, api: &ReplayApi) -> bool {
    let target = req.uri().path_and_query().map_or("", |p| p.as_str());
    query_value(req, "local").as_deref() == Some("1")
        && api.cluster.as_ref().is_some_and(|c| c.node_auth().verify(req.headers(), req.method(), target))
}

/// The viewer a signed node call names (`viewer=ID`), none without one.
fn node_call_viewer(req: &Request<Incoming>) -> Result<Option<PlayerId>, Answer> {
    query_value(req, "viewer")
        .map(|v| v.parse::<u32>().map(PlayerId))
        .transpose()
        .map_err(|_| (error(StatusCode::BAD_REQUEST, "viewer must be a player id"), "bad_request"))
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

async fn download(
    req: &Request<Incoming>,
    replays: &Replays,
    api: &ReplayApi,
    cluster: Option<&Cluster>,
    id: &str,
    viewer: Option<PlayerId>,
) -> Result<Answer, Answer> {
    if !valid_id(id) {
        return Err((error(StatusCode::BAD_REQUEST, "a replay id is 20 hex digits"), "bad_request"));
    }
    let missing = || (error(StatusCode::NOT_FOUND, &format!("there is no replay {id}")), "not_found");
    // A private room's replay is as absent as a missing one to whoever was not in it.
    let meta = replays.store.get(id).filter(|m| m.visible_to(viewer));
    if meta.is_none() && cluster.is_none() {
        return Err(missing());
    }
    let Ok(_permit) = api.downloads.clone().try_acquire_owned() else {
        let mut busy = error(StatusCode::SERVICE_UNAVAILABLE, "too many replay downloads at once; try again shortly");
        busy.headers_mut().insert(hyper::header::RETRY_AFTER, hyper::header::HeaderValue::from(1));
        return Err((busy, "busy"));
    };
    let (bytes, private, outcome) = match (meta, cluster) {
        (Some(meta), _) => {
            let bytes = tokio::fs::read(replays.store.file_of(id)).await.map_err(|e| {
                tracing::warn!(%id, error = %e, "a listed replay could not be read");
                missing()
            })?;
            (Bytes::from(bytes), meta.private, "downloaded")
        }
        (None, Some(cluster)) => {
            // `node` (from the listing) names where to look first; it only orders the search.
            let hint = query_value(req, "node");
            match across_nodes::fetch_from_nodes(cluster, id, viewer, hint.as_deref()).await {
                // Whether it is private is the other node's to know: no shared cache keeps it.
                Fetched::File(bytes) => (bytes, true, "passed_on"),
                Fetched::NotFound => return Err(missing()),
                Fetched::Unreachable => {
                    let message = format!("replay {id} is not on this node and a node that may keep it is unreachable");
                    return Err((error(StatusCode::BAD_GATEWAY, &message), "unreachable"));
                }
            }
        }
        (None, None) => return Err(missing()),
    };
    metrics::counter!("arena_replay_download_bytes_total").increment(bytes.len() as u64);
    let response = Response::builder()
        .header(CONTENT_TYPE, "application/gzip")
        .header(CONTENT_DISPOSITION, format!("attachment; filename=\"arena-{id}.replay.gz\""))
        // Private rooms' replays answer per token: no shared cache may keep them.
        .header(CACHE_CONTROL, if private { "private, no-store" } else { "public, max-age=3600" })
        .body(Full::new(bytes))
        .expect("replay response");
    Ok((response, outcome))
}

/// A listing's request budget: `limit` per minute per address.
pub fn requests_per_minute(limit: u32) -> RateWindow {
    RateWindow::new("replay_requests_per_address_per_minute", limit, Duration::from_secs(60))
}
