//! The replay API: `GET /api/replays` lists finished rounds (by room, player and
//! time; a private room's only to a session token of someone who played in it), of
//! every node with a cluster; `GET /api/replays/{id}` downloads one, fetched from the
//! node that keeps it when that is another. Per-address request budget, bounds on
//! downloads at once (per node and per address) and cluster-wide listings at once,
//! and a metric by outcome.

pub mod across_nodes;
pub mod download;

use std::sync::Arc;
use std::time::{Duration, Instant};

use arena_protocol::PlayerId;
use hyper::body::Incoming;
use hyper::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, RETRY_AFTER,
};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::Semaphore;

use super::api::refuse;
use super::budgets::{Caller, OverBudget, RateWindow};
use super::cluster::{self, Cluster};
use crate::identity::Tokens;
use crate::lobby::addresses::{AddressSlot, AddressTable};
use crate::replay::Replays;
use crate::replay::store::{ReplayFilter, valid_id};
use crate::web::{Body, error, json, query_value};
use across_nodes::{Keeper, MAX_FORWARDED_REPLAY_BYTES, ReplayList, located};
use download::{Held, Limits, MinRate};

/// Replays one listing returns at most (and without `limit`).
pub const MAX_LISTED: usize = 200;
const DEFAULT_LISTED: usize = 50;

/// Downloads sent at once (each streams a file, from disk or from the node that keeps
/// it, a chunk at a time). A slot is held until the body's last byte is sent or the
/// client leaves (cut about 10 s after it stops reading: `edge::activity`, or once it
/// reads slower than `--replay-download-min-kib-per-window`: `download::MinRate`).
pub const DOWNLOADS_AT_ONCE: usize = 8;

/// The budget named in the 429 for an address past `--replay-downloads-per-ip`.
pub const DOWNLOADS_PER_ADDRESS: &str = "replay_downloads_per_address";

/// `Retry-After` of that 429: a download under way usually ends within seconds.
const DOWNLOADS_PER_ADDRESS_RETRY: Duration = Duration::from_secs(5);

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
    /// [`DOWNLOADS_AT_ONCE`] slots, each held by a download's body while it is sent.
    pub downloads: Arc<Semaphore>,
    /// Downloads under way per client address (`--replay-downloads-per-ip`), so one
    /// address cannot hold every slot. Built to count every address it is given: who is
    /// exempt is the caller's to say (`Caller::counted`).
    pub downloads_per_address: AddressTable,
    /// The slowest a download may be sent (`--replay-download-min-kib-per-window`).
    pub min_rate: MinRate,
    /// [`across_nodes::LISTINGS_AT_ONCE`] slots for listings that ask the other nodes.
    pub fan_outs: Arc<Semaphore>,
}

/// Route `/api/replays[/{id}]`.
pub async fn handle(req: Request<Incoming>, api: &ReplayApi, segments: &[&str], caller: Caller) -> Response<Body> {
    let node_call = cluster::is_node_call(&req, api.cluster.as_deref());
    let (response, outcome) = answer(&req, api, segments, caller, node_call).await.unwrap_or_else(|refusal| refusal);
    // Another node's call is counted once, by the node that made it (arena_replay_node_calls_total).
    if !node_call {
        metrics::counter!("arena_replay_requests_total", "outcome" => outcome).increment(1);
    }
    response
}

type Answer = (Response<Body>, &'static str);

async fn answer(
    req: &Request<Incoming>,
    api: &ReplayApi,
    segments: &[&str],
    caller: Caller,
    node_call: bool,
) -> Result<Answer, Answer> {
    if req.method() != Method::GET {
        return Err((error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"), "bad_request"));
    }
    if !matches!(segments, ["replays"] | ["replays", _]) {
        return Err((error(StatusCode::NOT_FOUND, "no such API endpoint"), "not_found"));
    }
    if !node_call {
        // Another node's call was counted where its client asked.
        api.requests_per_minute.take(caller, Instant::now()).map_err(|over| (refuse(&over), "over_budget"))?;
    }
    let Some(replays) = &api.replays else {
        return Err((error(StatusCode::NOT_FOUND, "this server records no replays"), "not_found"));
    };
    // Who asks: the node that passed the call on proved it; a client proves it with its token.
    let viewer = if node_call { node_call_viewer(req)? } else { viewer_of(req, &api.tokens)? };
    // A node's call is answered from this node alone, never passed on again.
    let cluster = api.cluster.as_deref().filter(|_| !node_call);
    match segments {
        ["replays"] => {
            let (filter, limit) = filter_of(req, viewer)?;
            let node = api.cluster.as_ref().map(|c| c.node_id.as_str());
            let own: Vec<_> =
                replays.store.list(&filter, limit).into_iter().map(|m| located(m, node, &api.public_url)).collect();
            let Some(cluster) = cluster else {
                return Ok((
                    json(StatusCode::OK, &ReplayList { replays: own, unreachable_nodes: Vec::new() }),
                    "listed",
                ));
            };
            let Ok(_fan_out) = api.fan_outs.try_acquire() else {
                return Err(busy("too many replay listings across the cluster at once; try again shortly"));
            };
            let others = across_nodes::list_other_nodes(cluster, &filter, limit).await;
            let listed = ReplayList {
                replays: across_nodes::merge(own, others.replays, limit),
                unreachable_nodes: others.unreachable_nodes,
            };
            Ok((json(StatusCode::OK, &listed), "listed"))
        }
        [_, id] => {
            let address = if node_call { None } else { download_place(api, caller)? };
            download(req, replays, api, cluster, node_call, id, viewer, address).await
        }
        _ => Err((error(StatusCode::NOT_FOUND, "no such API endpoint"), "not_found")),
    }
}

/// The client's place among its address's downloads under way (None when it is not
/// counted), or a 429 saying it has its share.
///
/// A signed call from another node is not counted here (nor against the request
/// budget): the keeper does not know the end client, and the asking node already held
/// that client to its share before passing the download on. A cap per calling node
/// would add nothing against an attacker with several addresses (who can take the
/// keeper's slots as well by asking it directly) while refusing honest viewers of a
/// busy node.
fn download_place(api: &ReplayApi, caller: Caller) -> Result<Option<AddressSlot>, Answer> {
    let Some(ip) = caller.counted() else { return Ok(None) };
    match api.downloads_per_address.slot(ip, false) {
        Some(place) => Ok(Some(place)),
        None => {
            let over = OverBudget {
                budget: DOWNLOADS_PER_ADDRESS,
                message: format!(
                    "at most {} replay downloads at once for one address; try again when one has ended",
                    api.downloads_per_address.limit()
                ),
                retry_after: DOWNLOADS_PER_ADDRESS_RETRY,
            };
            Err((refuse(&over), "over_budget"))
        }
    }
}

/// 503 with `Retry-After: 1`: a bound of things at once is reached.
fn busy(message: &str) -> Answer {
    let mut busy = error(StatusCode::SERVICE_UNAVAILABLE, message);
    busy.headers_mut().insert(RETRY_AFTER, HeaderValue::from(1));
    (busy, "busy")
}

/// The viewer a signed node call (`cluster::is_node_call`) names (`viewer=ID`), none without one.
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

#[allow(clippy::too_many_arguments)]
async fn download(
    req: &Request<Incoming>,
    replays: &Replays,
    api: &ReplayApi,
    cluster: Option<&Cluster>,
    node_call: bool,
    id: &str,
    viewer: Option<PlayerId>,
    address: Option<AddressSlot>,
) -> Result<Answer, Answer> {
    if !valid_id(id) {
        return Err((error(StatusCode::BAD_REQUEST, "a replay id is 20 hex digits"), "bad_request"));
    }
    let missing = || (error(StatusCode::NOT_FOUND, &format!("there is no replay {id}")), "not_found");
    let hold = |address| match api.downloads.clone().try_acquire_owned() {
        Ok(slot) => Ok(Held { slot, address }),
        Err(_) => Err(busy(DOWNLOADS_BUSY)),
    };
    let limits = Limits::new(api.min_rate);
    if let Some(meta) = replays.store.get(id) {
        // Kept here: a private room's replay is as absent as a missing one to whoever
        // was not in it, and no other node is asked about it.
        if !meta.visible_to(viewer) {
            return Err(missing());
        }
        if node_call && meta.bytes > MAX_FORWARDED_REPLAY_BYTES {
            // Said before any byte is read: the asking node would refuse it anyway.
            let message = format!("replay {id} is larger than the {MAX_FORWARDED_REPLAY_BYTES} bytes nodes pass on");
            return Err((error(StatusCode::PAYLOAD_TOO_LARGE, &message), "too_large"));
        }
        let held = hold(address)?;
        let file = tokio::fs::File::open(replays.store.file_of(id)).await;
        let opened = match file {
            Ok(file) => file.metadata().await.map(|m| (file, m.len())),
            Err(e) => Err(e),
        };
        let (file, length) = opened.map_err(|e| {
            tracing::warn!(%id, error = %e, "a listed replay could not be read");
            missing()
        })?;
        return Ok((
            replay_file(id, length, meta.private, download::from_file(id, file, length, held, limits)),
            "downloaded",
        ));
    }
    let Some(cluster) = cluster else { return Err(missing()) };
    // Find the keeper first, then take a slot: the search holds none.
    // `node` (from the listing) names where to look first; it only orders the search.
    let hint = query_value(req, "node");
    match across_nodes::find_keeper(cluster, id, viewer, hint.as_deref()).await {
        Keeper::Found { node, streamed, length } => {
            let held = hold(address).inspect_err(|_| {
                // The call's one outcome: its answer was not passed on (the body counts it otherwise).
                across_nodes::node_call("download", "no_slot_here");
            })?;
            tracing::debug!(%id, %node, length, "passing on another node's replay");
            let source = download::Source::Keeper { id: id.to_string(), node, connection: streamed.connection };
            let body = download::passed_on(streamed.response.into_body(), length, held, source, limits);
            // Whether it is private is the other node's to know: no shared cache keeps it.
            Ok((replay_file(id, length, true, body), "passed_on"))
        }
        Keeper::NotFound => Err(missing()),
        Keeper::Busy => Err(busy(DOWNLOADS_BUSY)),
        Keeper::TooLarge => {
            let message = format!(
                "replay {id} is on another node and larger than the {MAX_FORWARDED_REPLAY_BYTES} bytes passed on"
            );
            Err((error(StatusCode::PAYLOAD_TOO_LARGE, &message), "too_large"))
        }
        Keeper::Unreachable => {
            let message = format!("replay {id} is not on this node and a node that may keep it is unreachable");
            Err((error(StatusCode::BAD_GATEWAY, &message), "unreachable"))
        }
    }
}

const DOWNLOADS_BUSY: &str = "too many replay downloads at once; try again shortly";

/// The answer carrying replay `id`'s file: `length` bytes of `body`.
fn replay_file(id: &str, length: u64, private: bool, body: Body) -> Response<Body> {
    metrics::counter!("arena_replay_download_bytes_total").increment(length);
    Response::builder()
        .header(CONTENT_TYPE, "application/gzip")
        .header(CONTENT_LENGTH, length)
        .header(CONTENT_DISPOSITION, format!("attachment; filename=\"arena-{id}.replay.gz\""))
        // Private rooms' replays answer per token: no shared cache may keep them.
        .header(CACHE_CONTROL, if private { "private, no-store" } else { "public, max-age=3600" })
        .body(body)
        .expect("replay response")
}

/// A listing's request budget: `limit` per minute per address.
pub fn requests_per_minute(limit: u32) -> RateWindow {
    RateWindow::new("replay_requests_per_address_per_minute", limit, Duration::from_secs(60))
}
