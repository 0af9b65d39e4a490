//! The replays of a cluster: each node keeps its own. A listing asks every other live
//! node for its replays (a call signed with the cluster's secret for that node,
//! `?local=1`, carrying the filter and who asks) and merges them with this node's,
//! each entry naming the node that keeps it and its download URL there; a download of
//! a replay this node does not keep is found on the node that does and passed on as
//! it arrives, so the viewer plays any node's replay from the page it was opened on.

use std::collections::HashSet;
use std::time::Duration;

use arena_protocol::PlayerId;
use futures_util::future::join_all;
use futures_util::stream::{FuturesUnordered, StreamExt};
use hyper::header::CONTENT_LENGTH;
use serde::{Deserialize, Serialize};

use crate::lobby::cluster::forward::{ForwardError, Streamed};
use crate::lobby::cluster::{Cluster, NodeInfo};
use crate::replay::ReplayMeta;
use crate::replay::store::{ReplayFilter, valid_id};

/// How long a listing waits for the other nodes: one that has not answered by then
/// is named in `unreachable_nodes` and left out, not waited for.
pub const NODE_LISTING_WAIT: Duration = Duration::from_secs(2);

/// Cluster-wide listings (each asking every other node at once) this node makes at
/// once; past it a listing answers 503. One listing costs one call per other node (at
/// most `MAX_NODES - 1`), so this bounds the calls in flight to about a thousand.
pub const LISTINGS_AT_ONCE: usize = 16;

/// Largest listing read from one node: `MAX_LISTED` descriptions with their players
/// (about 3 KB for a round of 50) fit with room to spare; past it the answer is refused.
pub const MAX_NODE_LISTING_BYTES: usize = 4 * 1024 * 1024;

/// Largest replay passed on from another node: over an hour of a busy room of 50
/// (about half a MB a minute). It is streamed, never held whole: this bounds how long
/// a passed-on download may hold its slot, and the keeper answers 413 for larger ones.
pub const MAX_FORWARDED_REPLAY_BYTES: u64 = 64 * 1024 * 1024;

/// How long a download may look for the node that keeps a replay (the hinted node,
/// then all the others at once) before it answers.
pub const FIND_KEEPER_WAIT: Duration = Duration::from_secs(5);

/// A listing as the API answers it (and as nodes answer each other).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ReplayList {
    pub replays: Vec<ReplayMeta>,
    /// Nodes of the cluster that did not answer in time: their replays are missing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreachable_nodes: Vec<String>,
}

/// `meta` saying it is kept by `node` (None without a cluster) and downloaded from `public_url`.
pub fn located(mut meta: ReplayMeta, node: Option<&str>, public_url: &str) -> ReplayMeta {
    meta.url = Some(format!("{public_url}/api/replays/{}", meta.id));
    meta.node = node.map(str::to_string);
    meta
}

/// This node's replays and the others', newest first, at most `limit`: an id listed
/// twice (a node answering with another's, or a rogue one copying ours) is kept once,
/// this node's entry first.
pub fn merge(own: Vec<ReplayMeta>, others: Vec<ReplayMeta>, limit: usize) -> Vec<ReplayMeta> {
    let mut seen = HashSet::new();
    let mut merged: Vec<ReplayMeta> = own.into_iter().chain(others).filter(|m| seen.insert(m.id.clone())).collect();
    merged.sort_by(|a, b| (b.ended_at_ms, &b.id).cmp(&(a.ended_at_ms, &a.id)));
    merged.truncate(limit);
    merged
}

/// The query of a call to another node: `local=1`, who asks and the filter.
fn node_query(filter: Option<(&ReplayFilter, usize)>, viewer: Option<PlayerId>) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("local", "1");
    if let Some(viewer) = viewer {
        query.append_pair("viewer", &viewer.0.to_string());
    }
    if let Some((filter, limit)) = filter {
        query.append_pair("limit", &limit.to_string());
        if let Some(room) = &filter.room {
            query.append_pair("room", room);
        }
        let numbers =
            [("player", filter.player.map(|p| u64::from(p.0))), ("since", filter.since_ms), ("until", filter.until_ms)];
        for (key, value) in numbers {
            if let Some(value) = value {
                query.append_pair(key, &value.to_string());
            }
        }
    }
    query.finish()
}

/// The other live nodes, as the heartbeat last read them; none when Redis is away.
fn other_nodes(cluster: &Cluster) -> Vec<NodeInfo> {
    match cluster.nodes() {
        Ok(nodes) => nodes.into_iter().filter(|n| n.id != cluster.node_id).collect(),
        Err(e) => {
            tracing::debug!(error = %e, "cluster unavailable; listing this node's replays only");
            Vec::new()
        }
    }
}

/// A call to another node, by what it was for and how it went (counted here, where
/// the client asked; the node called does not count it as a request again).
pub(super) fn node_call(call: &'static str, outcome: &'static str) {
    metrics::counter!("arena_replay_node_calls_total", "call" => call, "outcome" => outcome).increment(1);
}

/// The metric outcome of a call that got no usable answer.
fn failure_outcome(e: &ForwardError) -> &'static str {
    match e {
        ForwardError::TooLarge(_) => "too_large",
        ForwardError::ConnectTimeout
        | ForwardError::Connect(_)
        | ForwardError::Tls(_)
        | ForwardError::Timeout
        | ForwardError::HeadTimeout => "unreachable",
        _ => "failed",
    }
}

/// Every other node's replays that `filter` selects, at most `limit` of each, each
/// entry located at its node.
pub async fn list_other_nodes(cluster: &Cluster, filter: &ReplayFilter, limit: usize) -> ReplayList {
    let path = format!("/api/replays?{}", node_query(Some((filter, limit)), filter.viewer));
    let nodes = other_nodes(cluster);
    let answers = join_all(nodes.iter().map(|node| {
        let path = &path;
        async move {
            let call = cluster.get_from(node.callee(), path, MAX_NODE_LISTING_BYTES);
            tokio::time::timeout(NODE_LISTING_WAIT, call).await
        }
    }))
    .await;
    let mut merged = ReplayList::default();
    for (node, answer) in nodes.iter().zip(answers) {
        let listed = match answer {
            Ok(Ok((200, body))) => serde_json::from_slice::<ReplayList>(&body).map_err(|e| ("failed", e.to_string())),
            // A node that records no replays has none to list.
            Ok(Ok((404, _))) => Ok(ReplayList::default()),
            Ok(Ok((503, _))) => Err(("busy", "it answered 503".to_string())),
            Ok(Ok((status, _))) => Err(("failed", format!("it answered {status}"))),
            Ok(Err(e)) => Err((failure_outcome(&e), e.to_string())),
            Err(_) => Err(("unreachable", format!("no answer within {NODE_LISTING_WAIT:?}"))),
        };
        match listed {
            Ok(listed) => {
                node_call("list", "answered");
                let kept = accepted(listed.replays, filter, limit);
                merged.replays.extend(kept.map(|m| located(m, Some(&node.id), &node.public_url)));
            }
            Err((outcome, problem)) => {
                node_call("list", outcome);
                tracing::debug!(node = %node.id, %problem, "a node's replays could not be listed");
                merged.unreachable_nodes.push(node.id.clone());
            }
        }
    }
    merged.unreachable_nodes.sort();
    merged
}

/// What is kept of another node's answer: it is checked as any input (ids go into
/// paths) and the filter, the private rule with it, is applied here again; at most `limit`.
fn accepted(answer: Vec<ReplayMeta>, filter: &ReplayFilter, limit: usize) -> impl Iterator<Item = ReplayMeta> + '_ {
    answer.into_iter().filter(|m| valid_id(&m.id) && m.matches(filter)).take(limit)
}

/// What the other nodes said about a replay this node does not keep.
#[derive(Debug)]
pub enum Keeper {
    /// The node that keeps it answered: the file follows, of `length` bytes.
    Found { node: String, streamed: Streamed, length: u64 },
    /// No node that answered keeps it (or lets the viewer see it).
    NotFound,
    /// The keeper is at its bound of downloads at once (503).
    Busy,
    /// The keeper has it, larger than [`MAX_FORWARDED_REPLAY_BYTES`]: not passed on.
    TooLarge,
    /// It is not here, and some node that might keep it did not answer.
    Unreachable,
}

/// One node's answer to a download: the keeper's head, or why not. A call without the
/// file is counted here; one with it is counted once when its passing on ends
/// (`answered` whole, or `cut`) or is given up (`no_slot_here`).
async fn ask(cluster: &Cluster, node: &NodeInfo, path: &str) -> Keeper {
    let (outcome, keeper) = match cluster.get_streamed(node.callee(), path).await {
        Ok(streamed) => match streamed.response.status().as_u16() {
            200 => {
                let length = streamed.response.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok());
                match length.and_then(|v| v.parse::<u64>().ok()) {
                    Some(length) if length > MAX_FORWARDED_REPLAY_BYTES => ("too_large", Keeper::TooLarge),
                    Some(length) => return Keeper::Found { node: node.id.clone(), streamed, length },
                    // Our nodes announce a file's length; an answer without one is not passed on.
                    None => ("failed", Keeper::Unreachable),
                }
            }
            404 => ("not_found", Keeper::NotFound),
            413 => ("too_large", Keeper::TooLarge),
            503 => ("busy", Keeper::Busy),
            status => {
                tracing::debug!(node = %node.id, status, "a node did not hand over a replay");
                ("failed", Keeper::Unreachable)
            }
        },
        Err(e) => {
            tracing::debug!(node = %node.id, error = %e, "a node did not hand over a replay");
            (failure_outcome(&e), Keeper::Unreachable)
        }
    };
    node_call("download", outcome);
    keeper
}

/// The node that keeps replay `id` (for `viewer`): `hint` (the listing's `node`) asked
/// first, then every other node at once; the first to hand it over wins. All within
/// [`FIND_KEEPER_WAIT`]. Without a keeper, the answer says the most telling reason:
/// too large, busy, unreachable, then not found.
pub async fn find_keeper(cluster: &Cluster, id: &str, viewer: Option<PlayerId>, hint: Option<&str>) -> Keeper {
    let nodes = other_nodes(cluster);
    let path = format!("/api/replays/{id}?{}", node_query(None, viewer));
    let search = async {
        let mut worst = Keeper::NotFound;
        let (hinted, rest): (Vec<&NodeInfo>, Vec<&NodeInfo>) = nodes.iter().partition(|n| Some(n.id.as_str()) == hint);
        for node in hinted {
            match ask(cluster, node, &path).await {
                found @ Keeper::Found { .. } => return found,
                other => worst = more_telling(worst, other),
            }
        }
        let mut asked: FuturesUnordered<_> = rest.into_iter().map(|node| ask(cluster, node, &path)).collect();
        while let Some(answer) = asked.next().await {
            match answer {
                found @ Keeper::Found { .. } => return found,
                other => worst = more_telling(worst, other),
            }
        }
        worst
    };
    tokio::time::timeout(FIND_KEEPER_WAIT, search).await.unwrap_or(Keeper::Unreachable)
}

/// Of two answers without the file, the one to give the client.
fn more_telling(a: Keeper, b: Keeper) -> Keeper {
    let rank = |k: &Keeper| match k {
        Keeper::TooLarge => 3,
        Keeper::Busy => 2,
        Keeper::Unreachable => 1,
        Keeper::NotFound | Keeper::Found { .. } => 0,
    };
    if rank(&b) > rank(&a) { b } else { a }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_call_carries_the_filter_and_who_asks() {
        let filter = ReplayFilter {
            room: Some("abc-1".into()),
            player: Some(PlayerId(7)),
            since_ms: Some(10),
            until_ms: None,
            viewer: Some(PlayerId(9)),
        };
        assert_eq!(
            node_query(Some((&filter, 20)), filter.viewer),
            "local=1&viewer=9&limit=20&room=abc-1&player=7&since=10"
        );
        assert_eq!(node_query(None, None), "local=1");
    }

    fn meta(id: &str, ended_at_ms: u64, private: bool, players: &[u32]) -> ReplayMeta {
        serde_json::from_value(serde_json::json!({
            "id": id, "room_id": "r1", "room_name": "R", "private": private, "round": 1, "reason": "x",
            "started_at_ms": ended_at_ms - 10, "ended_at_ms": ended_at_ms, "duration_s": 1.0, "bytes": 10,
            "frames": 1,
            "players": players.iter().map(|p| serde_json::json!({"player_id": p, "name": "p", "bot": false})).collect::<Vec<_>>()
        }))
        .expect("a replay description")
    }

    #[test]
    fn merged_listings_keep_one_entry_per_id_this_nodes_first_newest_first() {
        let own = vec![located(meta("00000000000000000001", 100, false, &[1]), Some("a"), "http://a")];
        let others = vec![
            // A rogue node copying our id, with a newer time to be picked.
            located(meta("00000000000000000001", 999, false, &[1]), Some("evil"), "http://evil"),
            located(meta("00000000000000000002", 300, false, &[2]), Some("b"), "http://b"),
            located(meta("00000000000000000003", 200, false, &[3]), Some("b"), "http://b"),
        ];
        let merged = merge(own, others, 2);
        let listed: Vec<(&str, Option<&str>)> = merged.iter().map(|m| (m.id.as_str(), m.node.as_deref())).collect();
        assert_eq!(listed, [("00000000000000000002", Some("b")), ("00000000000000000003", Some("b"))]);
        let merged = merge(
            vec![meta("00000000000000000001", 100, false, &[1])],
            vec![meta("00000000000000000001", 999, false, &[1])],
            10,
        );
        assert_eq!((merged.len(), merged[0].ended_at_ms), (1, 100), "this node's entry wins");
    }

    #[test]
    fn other_nodes_answers_are_filtered_again_then_merged() {
        let filter = ReplayFilter {
            room: Some("r1".into()),
            player: Some(PlayerId(7)),
            since_ms: Some(150),
            until_ms: None,
            viewer: Some(PlayerId(7)),
        };
        let answer = vec![
            meta("00000000000000000001", 200, true, &[7]),
            meta("00000000000000000002", 200, true, &[8]),
            meta("00000000000000000003", 100, false, &[7]),
            meta("00000000000000000004", 200, false, &[8]),
            meta("../../etc/passwd", 200, false, &[7]),
            meta("00000000000000000005", 210, false, &[7, 8]),
            meta("00000000000000000006", 220, false, &[7]),
        ];
        let kept: Vec<String> = accepted(answer, &filter, 2).map(|m| m.id).collect();
        // Not someone else's private round, nor one out of range or without the player,
        // nor a bad id; and no more than asked.
        assert_eq!(kept, ["00000000000000000001", "00000000000000000005"]);
        let guest = ReplayFilter { viewer: None, ..filter.clone() };
        assert_eq!(accepted(vec![meta("00000000000000000001", 200, true, &[7])], &guest, 9).count(), 0);
        let own = vec![meta("00000000000000000005", 210, false, &[7, 8])];
        let others = accepted(vec![meta("00000000000000000006", 220, false, &[7])], &filter, 9).collect();
        let merged: Vec<String> = merge(own, others, 9).into_iter().map(|m| m.id).collect();
        assert_eq!(merged, ["00000000000000000006", "00000000000000000005"]);
    }
}
