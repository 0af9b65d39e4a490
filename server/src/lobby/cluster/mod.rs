//! Several nodes, one lobby: each node registers itself and its rooms in Redis
//! under keys with a TTL refreshed by a heartbeat, reads the others' from there,
//! and hears lobby-wide announcements through Redis pub/sub. Rooms never touch
//! Redis: a node that loses it keeps playing, retries with back-off and
//! registers again when Redis returns.

pub mod forward;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use arena_protocol::lobby::RoomSummary;
use futures_util::StreamExt;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

use super::directory::Directory;
use crate::room::{AdminCommand, RoomInput};

const NODE_KEY: &str = "arena:node:";
const ROOM_KEY: &str = "arena:room:";
const ANNOUNCE_CHANNEL: &str = "arena:announce";
/// Most time between two registrations while Redis is unreachable.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A node as the cluster sees it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct NodeInfo {
    pub id: String,
    pub public_url: String,
    pub version: String,
    pub rooms: usize,
    pub players: usize,
}

/// A room as the cluster sees it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClusterRoom {
    pub summary: RoomSummary,
    pub node_id: String,
    pub public_url: String,
}

/// This node's membership in the cluster.
pub struct Cluster {
    pub node_id: String,
    pub public_url: String,
    client: redis::Client,
    /// The shared connection, made by the heartbeat once Redis answers.
    conn: Mutex<Option<ConnectionManager>>,
    ttl: Duration,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("node_id", &self.node_id).field("public_url", &self.public_url).finish()
    }
}

/// `ws://host:port/ws` for a node's `http://host:port`.
pub fn ws_url_of(public_url: &str) -> String {
    let base = public_url.trim_end_matches('/');
    let base = base.strip_prefix("https://").map(|rest| format!("wss://{rest}")).unwrap_or_else(|| {
        base.strip_prefix("http://").map_or_else(|| base.to_string(), |rest| format!("ws://{rest}"))
    });
    format!("{base}/ws")
}

impl Cluster {
    pub fn new(redis_url: &str, node_id: String, public_url: String, ttl: Duration) -> anyhow::Result<Arc<Cluster>> {
        let client = redis::Client::open(redis_url)?;
        Ok(Arc::new(Cluster { node_id, public_url, client, conn: Mutex::new(None), ttl }))
    }

    fn connection(&self) -> Option<ConnectionManager> {
        self.conn.lock().expect("cluster connection lock").clone()
    }

    async fn connect(&self) -> redis::RedisResult<ConnectionManager> {
        if let Some(conn) = self.connection() {
            return Ok(conn);
        }
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(1);
        let conn = self.client.get_connection_manager_with_config(config).await?;
        *self.conn.lock().expect("cluster connection lock") = Some(conn.clone());
        Ok(conn)
    }

    /// Write this node and its rooms, each with the TTL.
    async fn register(&self, rooms: &Directory) -> redis::RedisResult<()> {
        let mut conn = self.connect().await?;
        let local = rooms.all();
        let node = NodeInfo {
            id: self.node_id.clone(),
            public_url: self.public_url.clone(),
            version: env!("CARGO_PKG_VERSION").into(),
            rooms: local.len(),
            players: local.iter().map(|r| r.seats_taken()).sum(),
        };
        let ttl = self.ttl.as_secs().max(1);
        let mut pipe = redis::pipe();
        pipe.set_ex(format!("{NODE_KEY}{}", self.node_id), serde_json::to_string(&node).expect("json"), ttl).ignore();
        for room in local {
            // Seats count reservations too, so other nodes do not send players to a room already promised.
            let summary = RoomSummary { players: room.seats_taken().max(room.summary().players), ..room.summary() };
            let entry = ClusterRoom { summary, node_id: self.node_id.clone(), public_url: self.public_url.clone() };
            pipe.set_ex(format!("{ROOM_KEY}{}", room.id()), serde_json::to_string(&entry).expect("json"), ttl).ignore();
        }
        pipe.query_async(&mut conn).await
    }

    /// Forget a closed room at once instead of waiting for its TTL (best effort).
    pub async fn unregister_room(&self, id: &str) {
        if let Some(mut conn) = self.connection() {
            let _: redis::RedisResult<()> = conn.del(format!("{ROOM_KEY}{id}")).await;
        }
    }

    /// Register every second; back off while Redis is away and say when it is back.
    pub fn spawn_heartbeat(self: &Arc<Self>, rooms: Arc<Directory>) -> tokio::task::JoinHandle<()> {
        let cluster = self.clone();
        tokio::spawn(async move {
            let period = (cluster.ttl / 4).clamp(Duration::from_millis(200), Duration::from_secs(1));
            let mut backoff = period;
            let mut down = false;
            loop {
                match cluster.register(&rooms).await {
                    Ok(()) => {
                        if down {
                            tracing::info!(node = %cluster.node_id, "Redis is back: node registered again");
                        }
                        down = false;
                        backoff = period;
                    }
                    Err(e) => {
                        if !down {
                            tracing::warn!(node = %cluster.node_id, error = %e, "lost Redis; rooms keep playing, retrying with back-off");
                        }
                        down = true;
                        *cluster.conn.lock().expect("cluster connection lock") = None;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
                tokio::time::sleep(if down { backoff } else { period }).await;
            }
        })
    }

    /// Deliver lobby-wide announcements from any node to this node's rooms.
    pub fn spawn_subscriber(self: &Arc<Self>, rooms: Arc<Directory>) -> tokio::task::JoinHandle<()> {
        let cluster = self.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(200);
            loop {
                match cluster.client.get_async_pubsub().await {
                    Ok(mut pubsub) => {
                        if pubsub.subscribe(ANNOUNCE_CHANNEL).await.is_ok() {
                            backoff = Duration::from_millis(200);
                            let mut messages = pubsub.on_message();
                            while let Some(message) = messages.next().await {
                                let Ok(text) = message.get_payload::<String>() else { continue };
                                for room in rooms.all() {
                                    let _ =
                                        room.inbox.send(RoomInput::Admin(AdminCommand::Announce(text.clone()))).await;
                                }
                            }
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "announcement subscription failed; retrying"),
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        })
    }

    /// Send an announcement to every node (this one included, through its subscription).
    pub async fn announce(&self, text: &str) -> redis::RedisResult<usize> {
        let mut conn = self.connect().await?;
        conn.publish(ANNOUNCE_CHANNEL, text).await
    }

    async fn values<T: serde::de::DeserializeOwned>(&self, prefix: &str) -> redis::RedisResult<Vec<T>> {
        let mut conn = self.connect().await?;
        let mut keys: Vec<String> = Vec::new();
        {
            let mut iter: redis::AsyncIter<String> = conn.scan_match(format!("{prefix}*")).await?;
            while let Some(key) = iter.next_item().await {
                keys.push(key?);
            }
        }
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let raw: Vec<Option<String>> = conn.mget(&keys).await?;
        Ok(raw.into_iter().flatten().filter_map(|json| serde_json::from_str(&json).ok()).collect())
    }

    /// Every room of every live node.
    pub async fn rooms(&self) -> redis::RedisResult<Vec<ClusterRoom>> {
        self.values(ROOM_KEY).await
    }

    /// Every live node.
    pub async fn nodes(&self) -> redis::RedisResult<Vec<NodeInfo>> {
        self.values(NODE_KEY).await
    }

    /// The node with the fewest players (this one on a tie), for placing a new room.
    pub async fn least_loaded(&self) -> Option<NodeInfo> {
        let nodes = self.nodes().await.ok()?;
        nodes.into_iter().min_by_key(|n| (n.players, n.id != self.node_id, n.id.clone()))
    }
}

impl ClusterRoom {
    /// The summary with where to join it.
    pub fn listed(self) -> RoomSummary {
        RoomSummary { node: Some(self.node_id), ws_url: Some(ws_url_of(&self.public_url)), ..self.summary }
    }
}

#[cfg(test)]
mod tests {
    use super::ws_url_of;

    #[test]
    fn ws_urls_follow_the_public_scheme() {
        assert_eq!(ws_url_of("http://10.0.0.2:8080"), "ws://10.0.0.2:8080/ws");
        assert_eq!(ws_url_of("https://arena.example/"), "wss://arena.example/ws");
    }
}
