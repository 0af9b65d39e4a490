//! The replays of a cluster: each node keeps its own. A listing asks every other live
//! node for its replays (a call signed with the cluster's secret, `?local=1`, carrying
//! the filter and who asks) and merges them with this node's, each entry naming the
//! node that keeps it and its download URL there; a download of a replay this node
//! does not keep is fetched from the node that does and passed on, so the viewer
//! plays any node's replay from the page it was opened on.

use std::time::Duration;

use arena_protocol::PlayerId;
use bytes::Bytes;
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};

use crate::lobby::cluster::{Cluster, NodeInfo};
use crate::replay::ReplayMeta;
use crate::replay::store::{ReplayFilter, valid_id};

/// How long a listing waits for the other nodes: one that has not answered by then
/// is named in `unreachable_nodes` and left out, not waited for.
pub const NODE_LISTING_WAIT: Duration = Duration::from_secs(2);

/// Largest listing read from one node: `MAX_LISTED` descriptions with their players
/// (about 3 KB for a round of 50) fit with room to spare; past it the answer is refused.
pub const MAX_NODE_LISTING_BYTES: usize = 4 * 1024 * 1024;

/// Largest replay passed on from another node: over an hour of a busy room of 50
/// (about half a MB a minute). It is held in memory while passed on, by at most
/// `DOWNLOADS_AT_ONCE` downloads at once.
pub const MAX_FORWARDED_REPLAY_BYTES: usize = 64 * 1024 * 1024;

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

fn node_call(call: &'static str, outcome: &'static str) {
    metrics::counter!("arena_replay_node_calls_total", "call" => call, "outcome" => outcome).increment(1);
}

/// Every other node's replays that `filter` selects, at most `limit` of each, each
/// entry located at its node.
pub async fn list_other_nodes(cluster: &Cluster, filter: &ReplayFilter, limit: usize) -> ReplayList {
    let path = format!("/api/replays?{}", node_query(Some((filter, limit)), filter.viewer));
    let nodes = other_nodes(cluster);
    let answers = join_all(nodes.iter().map(|node| {
        let path = &path;
        async move {
            let call = cluster.get_from(node.called_at(), path, MAX_NODE_LISTING_BYTES);
            tokio::time::timeout(NODE_LISTING_WAIT, call).await
        }
    }))
    .await;
    let mut merged = ReplayList::default();
    for (node, answer) in nodes.iter().zip(answers) {
        let listed = match answer {
            Ok(Ok((200, body))) => serde_json::from_slice::<ReplayList>(&body).map_err(|e| e.to_string()),
            // A node that records no replays has none to list.
            Ok(Ok((404, _))) => Ok(ReplayList::default()),
            Ok(Ok((status, _))) => Err(format!("it answered {status}")),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {NODE_LISTING_WAIT:?}")),
        };
        match listed {
            Ok(listed) => {
                node_call("list", "answered");
                // What another node answers is checked as any input: ids go into
                // paths, and the private rule is applied here again.
                let kept = listed.replays.into_iter().filter(|m| valid_id(&m.id) && m.visible_to(filter.viewer));
                merged.replays.extend(kept.take(limit).map(|m| located(m, Some(&node.id), &node.public_url)));
            }
            Err(problem) => {
                node_call("list", "unreachable");
                tracing::debug!(node = %node.id, %problem, "a node's replays could not be listed");
                merged.unreachable_nodes.push(node.id.clone());
            }
        }
    }
    merged
}

/// What the other nodes said about a replay this node does not keep.
pub enum Fetched {
    File(Bytes),
    /// No node that answered keeps it (or lets `viewer` see it).
    NotFound,
    /// It is not here, and some node that might keep it did not answer.
    Unreachable,
}

/// Replay `id` from the node that keeps it: `hint` (the listing's `node`) first, then
/// every other node in turn.
pub async fn fetch_from_nodes(cluster: &Cluster, id: &str, viewer: Option<PlayerId>, hint: Option<&str>) -> Fetched {
    let mut nodes = other_nodes(cluster);
    if let Some(at) = hint.and_then(|hint| nodes.iter().position(|n| n.id == hint)) {
        nodes.swap(0, at);
    }
    let path = format!("/api/replays/{id}?{}", node_query(None, viewer));
    let mut unreachable = false;
    for node in &nodes {
        match cluster.get_from(node.called_at(), &path, MAX_FORWARDED_REPLAY_BYTES).await {
            Ok((200, file)) if file.starts_with(&[0x1f, 0x8b]) => {
                node_call("download", "answered");
                return Fetched::File(file);
            }
            Ok((404, _)) => node_call("download", "not_found"),
            Ok((status, _)) => {
                node_call("download", "unreachable");
                tracing::debug!(node = %node.id, status, "a node did not hand over a replay");
                unreachable = true;
            }
            Err(e) => {
                node_call("download", "unreachable");
                tracing::debug!(node = %node.id, error = %e, "a node did not hand over a replay");
                unreachable = true;
            }
        }
    }
    if unreachable { Fetched::Unreachable } else { Fetched::NotFound }
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
}
