//! Several nodes, one lobby: each node registers itself and its rooms in Redis
//! under keys with a TTL refreshed by a heartbeat, which also reads everyone's
//! entries once into a cached view that lobby requests answer from; lobby-wide
//! announcements travel by Redis pub/sub. Rooms never touch Redis: a node that
//! loses it keeps playing, retries with back-off and registers again when Redis
//! returns. Nodes call each other at their internal URL (`--internal-url`), which may
//! differ from the public one clients are sent to.

pub mod forward;
pub mod node_auth;
pub mod node_tls;
pub mod public_url;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arena_protocol::lobby::RoomSummary;
use futures_util::StreamExt;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use rustls::ClientConfig;
use serde::{Deserialize, Serialize};

use super::directory::Directory;
use crate::room::{AdminCommand, RoomInput};
use forward::{ForwardError, NodeClient, Streamed};

pub use node_auth::{Callee, NODE_AUTH_HEADER, NodeAuth};
pub use public_url::ws_url_of;

const NODE_KEY: &str = "arena:node:";
const ROOM_KEY: &str = "arena:room:";
const ANNOUNCE_CHANNEL: &str = "arena:announce";
/// Most time between two registrations while Redis is unreachable.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Longest announcement delivered to rooms: the admin API's bound, applied again on
/// arrival because anyone who can publish to Redis can publish to the channel.
pub const MAX_ANNOUNCEMENT_CHARS: usize = 500;
/// Longest room id taken from Redis (ours are 12 hex digits); ids go into forwarded paths.
const MAX_ROOM_ID_LEN: usize = 64;
/// Longest node id (`--node-id`, or read from Redis): ids go into listings and signatures.
const MAX_NODE_ID_LEN: usize = 64;
/// Most nodes in the view, this one included: a replay listing costs one call to each
/// other node, so whoever can write to Redis must not be able to make it cost thousands.
pub const MAX_NODES: usize = 64;

/// A node as the cluster sees it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct NodeInfo {
    pub id: String,
    pub public_url: String,
    /// Where other nodes call this one, when not at `public_url`; absent in entries of
    /// nodes without `--internal-url` (and of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_url: Option<String>,
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
    /// The owning node's `--internal-url`, as in [`NodeInfo`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_url: Option<String>,
}

impl NodeInfo {
    /// The URL other nodes forward calls to: the internal one when the node has one.
    pub fn called_at(&self) -> &str {
        self.internal_url.as_deref().unwrap_or(&self.public_url)
    }

    /// Who a call to this node is for: what its signature is bound to.
    pub fn callee(&self) -> Callee<'_> {
        Callee { node_id: &self.id, url: self.called_at() }
    }
}

/// Every node and room as the heartbeat last read them from Redis.
#[derive(Debug)]
pub struct ClusterView {
    pub nodes: Vec<NodeInfo>,
    pub rooms: Vec<ClusterRoom>,
    /// When Redis answered; a view older than the node TTL may list dead nodes.
    pub read_at: Instant,
}

/// Why the lobby cannot use the cluster's view (it then lists this node alone).
#[derive(Debug, thiserror::Error)]
pub enum ViewUnavailable {
    #[error("the cluster has not been read from Redis yet")]
    NotYetRead,
    #[error("the cluster view is {0:?} old, older than the node TTL: Redis is unreachable")]
    Stale(Duration),
}

/// This node's membership in the cluster.
pub struct Cluster {
    pub node_id: String,
    pub public_url: String,
    /// `--internal-url`: where the other nodes call this one, when not at `public_url`.
    pub internal_url: Option<String>,
    client: redis::Client,
    /// The shared connection, made by the heartbeat once Redis answers.
    conn: Mutex<Option<ConnectionManager>>,
    ttl: Duration,
    /// Written by the heartbeat once per period, so a lobby request costs no Redis
    /// round trip (it used to SCAN every key on every call).
    view: Mutex<Option<Arc<ClusterView>>>,
    /// Signs the calls this node passes to others (checks theirs) and makes them.
    nodes: NodeClient,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("node_id", &self.node_id).field("public_url", &self.public_url).finish()
    }
}

impl Cluster {
    /// `secret` is the deployment's shared `--jwt-secret`: nodes sign the calls they
    /// pass to each other with it; `node_tls` is how they check `https://` nodes
    /// ([`node_tls::client_config`]). `public_url` and `internal_url` must pass
    /// [`public_url::check`], or the other nodes would ignore this one.
    pub fn new(
        redis_url: &str,
        node_id: String,
        public_url: String,
        internal_url: Option<String>,
        ttl: Duration,
        secret: &[u8],
        node_tls: Arc<ClientConfig>,
    ) -> anyhow::Result<Arc<Cluster>> {
        for url in std::iter::once(&public_url).chain(&internal_url) {
            if let Err(problem) = public_url::check(url) {
                anyhow::bail!("the URL {url:?} cannot be used by other nodes: {problem}");
            }
        }
        anyhow::ensure!(!secret.is_empty(), "nodes of a cluster need a shared secret to sign their calls");
        anyhow::ensure!(
            is_node_id(&node_id),
            "the node id {node_id:?} is not 1-{MAX_NODE_ID_LEN} letters, digits, '-', '_' or '.'"
        );
        let client = redis::Client::open(redis_url)?;
        Ok(Arc::new(Cluster {
            node_id,
            public_url,
            internal_url,
            client,
            conn: Mutex::new(None),
            ttl,
            view: Mutex::new(None),
            nodes: NodeClient::new(NodeAuth::new(secret), node_tls),
        }))
    }

    /// Checks the signatures of calls other nodes pass to this one.
    fn node_auth(&self) -> &NodeAuth {
        self.nodes.auth()
    }

    /// This node as the others call it: what their calls to it are signed for.
    pub fn me(&self) -> Callee<'_> {
        Callee { node_id: &self.node_id, url: self.internal_url.as_deref().unwrap_or(&self.public_url) }
    }

    /// Pass `POST path` to the node `to` (its [`NodeInfo::callee`]), signed by this node for it.
    pub async fn forward(
        &self,
        to: Callee<'_>,
        path: &str,
        body: bytes::Bytes,
    ) -> Result<(u16, bytes::Bytes), ForwardError> {
        self.nodes.post(to, path, body).await
    }

    /// Pass `GET path` to the node `to`, signed for it, reading at most `max_answer`
    /// bytes back (replay listings).
    pub async fn get_from(
        &self,
        to: Callee<'_>,
        path: &str,
        max_answer: usize,
    ) -> Result<(u16, bytes::Bytes), ForwardError> {
        self.nodes.get(to, path, max_answer).await
    }

    /// Pass `GET path` to the node `to`, signed for it, and hand back the answer's head
    /// with its body still arriving (a replay file, passed on as it comes).
    pub async fn get_streamed(&self, to: Callee<'_>, path: &str) -> Result<Streamed, ForwardError> {
        self.nodes.get_streamed(to, path).await
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
            internal_url: self.internal_url.clone(),
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
            let entry = ClusterRoom {
                summary,
                node_id: self.node_id.clone(),
                public_url: self.public_url.clone(),
                internal_url: self.internal_url.clone(),
            };
            pipe.set_ex(format!("{ROOM_KEY}{}", room.id()), serde_json::to_string(&entry).expect("json"), ttl).ignore();
        }
        pipe.query_async(&mut conn).await
    }

    /// Forget a closed room at once instead of waiting for its TTL (best effort).
    pub async fn unregister_room(&self, id: &str) {
        if let Some(mut conn) = self.connection() {
            let _: redis::RedisResult<()> = conn.del(format!("{ROOM_KEY}{id}")).await;
        }
        // And from our view, rather than list it until the next heartbeat.
        let mut view = self.view.lock().expect("cluster view lock");
        if let Some(old) = view.as_ref().filter(|v| v.rooms.iter().any(|r| r.summary.id == id)) {
            let rooms = old.rooms.iter().filter(|r| r.summary.id != id).cloned().collect();
            *view = Some(Arc::new(ClusterView { nodes: old.nodes.clone(), rooms, read_at: old.read_at }));
        }
    }

    /// Register this node, then read every node's and room's entry once into the view.
    async fn beat(&self, rooms: &Directory, rejected: &mut HashSet<String>) -> redis::RedisResult<()> {
        self.register(rooms).await?;
        let nodes = self.values(NODE_KEY).await?;
        let rooms = self.values(ROOM_KEY).await?;
        let (view, refused) = ClusterView::from_entries(&self.node_id, nodes, rooms, Instant::now());
        let refused: HashSet<String> = refused.into_iter().collect();
        // Logged once while an entry stays bad, not on every heartbeat.
        for why in refused.difference(rejected) {
            tracing::debug!(entry = %why, "ignoring a cluster entry from Redis");
        }
        *rejected = refused;
        *self.view.lock().expect("cluster view lock") = Some(Arc::new(view));
        Ok(())
    }

    /// Register and read the cluster every period (a quarter of the TTL, 0.2-1 s); back
    /// off while Redis is away and say when it is back.
    pub fn spawn_heartbeat(self: &Arc<Self>, rooms: Arc<Directory>) -> tokio::task::JoinHandle<()> {
        let cluster = self.clone();
        tokio::spawn(async move {
            let period = (cluster.ttl / 4).clamp(Duration::from_millis(200), Duration::from_secs(1));
            let mut backoff = period;
            let mut down = false;
            let mut rejected = HashSet::new();
            loop {
                match cluster.beat(&rooms, &mut rejected).await {
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
                                let Some(text) = announcement(&text) else {
                                    tracing::debug!(
                                        bytes = text.len(),
                                        "dropped an announcement from Redis: not 1-{MAX_ANNOUNCEMENT_CHARS} characters"
                                    );
                                    continue;
                                };
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

    /// Every entry under `prefix`, with the rest of its key (which must name it).
    async fn values<T: serde::de::DeserializeOwned>(&self, prefix: &str) -> redis::RedisResult<Vec<(String, T)>> {
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
        Ok(keys
            .into_iter()
            .zip(raw)
            .filter_map(|(key, json)| {
                let value = serde_json::from_str(&json?).ok()?;
                Some((key.strip_prefix(prefix).unwrap_or(&key).to_string(), value))
            })
            .collect())
    }

    /// The heartbeat's last reading of the cluster, while it is younger than the node TTL.
    pub fn view(&self) -> Result<Arc<ClusterView>, ViewUnavailable> {
        let view = self.view.lock().expect("cluster view lock").clone().ok_or(ViewUnavailable::NotYetRead)?;
        let age = view.read_at.elapsed();
        if age > self.ttl {
            return Err(ViewUnavailable::Stale(age));
        }
        Ok(view)
    }

    /// Every room of every live node (as of the last heartbeat).
    pub fn rooms(&self) -> Result<Vec<ClusterRoom>, ViewUnavailable> {
        Ok(self.view()?.rooms.clone())
    }

    /// Every live node (as of the last heartbeat).
    pub fn nodes(&self) -> Result<Vec<NodeInfo>, ViewUnavailable> {
        Ok(self.view()?.nodes.clone())
    }

    /// The node with the fewest players (this one on a tie), for placing a new room.
    pub fn least_loaded(&self) -> Option<NodeInfo> {
        let view = self.view().ok()?;
        view.nodes.iter().min_by_key(|n| (n.players, n.id != self.node_id, &n.id)).cloned()
    }
}

impl ClusterView {
    /// Keep the entries we can use; the others are described in the second list.
    /// Entries come with the rest of their Redis key (`arena:node:{id}`), which must be
    /// their id. A node's URL is forwarded to and handed to clients, its id names it in
    /// listings and in the signatures of calls to it, a room's id goes into forwarded
    /// paths: all come from whoever can write to Redis, so all are checked. A node id
    /// seen twice is kept once; past [`MAX_NODES`] (this node, `me`, always kept) the
    /// rest are left out.
    fn from_entries(
        me: &str,
        nodes: Vec<(String, NodeInfo)>,
        rooms: Vec<(String, ClusterRoom)>,
        read_at: Instant,
    ) -> (ClusterView, Vec<String>) {
        let mut refused = Vec::new();
        let mut seen = HashSet::new();
        let mut nodes: Vec<NodeInfo> = nodes
            .into_iter()
            .filter(|(key, n)| {
                let problem = match usable_urls(&n.public_url, n.internal_url.as_deref()) {
                    Err(problem) => problem,
                    Ok(()) if !is_node_id(&n.id) => "not a node id".to_string(),
                    Ok(()) if *key != n.id => format!("stored under another node's key {key:?}"),
                    // SCAN may hand a key over twice.
                    Ok(()) if !seen.insert(n.id.clone()) => return false,
                    Ok(()) => return true,
                };
                refused.push(format!("node {:?}: {problem}", n.id));
                false
            })
            .map(|(_, n)| n)
            .collect();
        if nodes.len() > MAX_NODES {
            // Deterministic: this node first, then by id.
            nodes.sort_by(|a, b| (a.id != me, &a.id).cmp(&(b.id != me, &b.id)));
            let left_out: Vec<String> = nodes.drain(MAX_NODES..).map(|n| n.id).collect();
            refused.push(format!("nodes past the first {MAX_NODES}: {left_out:?}"));
        }
        let rooms = rooms
            .into_iter()
            .filter(|(key, r)| {
                let problem = match usable_urls(&r.public_url, r.internal_url.as_deref()) {
                    Err(problem) => problem,
                    Ok(()) if !is_room_id(&r.summary.id) => "not a room id".to_string(),
                    Ok(()) if *key != r.summary.id => format!("stored under another room's key {key:?}"),
                    Ok(()) => return true,
                };
                refused
                    .push(format!("room {:?} of node {:?} at {:?}: {problem}", r.summary.id, r.node_id, r.public_url));
                false
            })
            .map(|(_, r)| r)
            .collect();
        (ClusterView { nodes, rooms, read_at }, refused)
    }
}

/// Both URLs of a node as read from Redis pass [`public_url::check`]: clients are
/// sent to the public one, forwarded calls go to the internal one.
fn usable_urls(public: &str, internal: Option<&str>) -> Result<(), String> {
    public_url::check(public).map_err(|problem| format!("public URL {public:?}: {problem}"))?;
    if let Some(internal) = internal {
        public_url::check(internal).map_err(|problem| format!("internal URL {internal:?}: {problem}"))?;
    }
    Ok(())
}

/// Room ids are put into forwarded paths (`?room=ID`), so only URL-safe ones are used.
fn is_room_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ROOM_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Node ids name nodes in listings (`node`, `?node=`) and in call signatures: like
/// room ids, only URL-safe ones, from `--node-id` as from Redis.
pub fn is_node_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_NODE_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Whether `req` is a call another node of this cluster passed on to this one to be
/// answered here: `?local=1`, signed with the cluster's secret for this node (its id
/// and URL) and this very method and target. Unsigned, signed for another node or for
/// another target, `?local=1` is ignored: a client can neither skip placement nor
/// spend no budget nor speak for a viewer by adding it.
pub fn is_node_call<B>(req: &hyper::Request<B>, cluster: Option<&Cluster>) -> bool {
    let asks_local =
        req.uri().query().is_some_and(|q| form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "local" && v == "1"));
    let target = req.uri().path_and_query().map_or("", |p| p.as_str());
    asks_local && cluster.is_some_and(|c| c.node_auth().verify(req.headers(), req.method(), target, c.me()))
}

/// An announcement as rooms may show it, whether from the admin API or from Redis:
/// trimmed, 1 to [`MAX_ANNOUNCEMENT_CHARS`] characters, else None.
pub fn announcement(text: &str) -> Option<String> {
    let text = text.trim();
    // The byte bound first: a huge payload is refused without counting its characters.
    let fits =
        !text.is_empty() && text.len() <= MAX_ANNOUNCEMENT_CHARS * 4 && text.chars().count() <= MAX_ANNOUNCEMENT_CHARS;
    fits.then(|| text.to_string())
}

impl ClusterRoom {
    /// The URL other nodes forward calls about this room to, as [`NodeInfo::called_at`].
    pub fn called_at(&self) -> &str {
        self.internal_url.as_deref().unwrap_or(&self.public_url)
    }

    /// The node that owns this room, as calls about it are signed for.
    pub fn callee(&self) -> Callee<'_> {
        Callee { node_id: &self.node_id, url: self.called_at() }
    }

    /// The summary with where to join it.
    pub fn listed(self) -> RoomSummary {
        RoomSummary { node: Some(self.node_id), ws_url: Some(ws_url_of(&self.public_url)), ..self.summary }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls() -> Arc<ClientConfig> {
        node_tls::client_config(None).unwrap()
    }

    fn node(id: &str, public_url: &str) -> NodeInfo {
        NodeInfo {
            id: id.into(),
            public_url: public_url.into(),
            internal_url: None,
            version: "0".into(),
            rooms: 0,
            players: 0,
        }
    }

    /// Entries as read from Redis: each under its own id's key.
    fn keyed_nodes(nodes: Vec<NodeInfo>) -> Vec<(String, NodeInfo)> {
        nodes.into_iter().map(|n| (n.id.clone(), n)).collect()
    }

    fn keyed_rooms(rooms: Vec<ClusterRoom>) -> Vec<(String, ClusterRoom)> {
        rooms.into_iter().map(|r| (r.summary.id.clone(), r)).collect()
    }

    fn room(id: &str, public_url: &str) -> ClusterRoom {
        let summary: RoomSummary = serde_json::from_value(serde_json::json!({
            "id": id, "name": "r", "players": 0, "spectators": 0, "capacity": 8, "tick_rate_hz": 30,
            "private": false, "age_s": 0, "match_state": "playing", "round": 1,
            "rules": {"score_limit": 10, "time_limit_s": 60}
        }))
        .expect("a room summary");
        ClusterRoom { summary, node_id: "n".into(), public_url: public_url.into(), internal_url: None }
    }

    #[test]
    fn entries_with_unusable_urls_or_ids_are_left_out_of_the_view() {
        let mut nodes = keyed_nodes(vec![
            node("a", "http://10.0.0.1:8081"),
            node("evil", "http://me@10.0.0.9/x"),
            node("b", "gopher://x"),
            NodeInfo { internal_url: Some("http://10.0.0.3:1/admin".into()), ..node("c", "https://c.example") },
            node("d\nx", "http://10.0.0.4:8081"),
            node(&"e".repeat(MAX_NODE_ID_LEN + 1), "http://10.0.0.5:8081"),
        ]);
        // A writer registering a node under another's key, and a key SCAN handed over twice.
        nodes.push(("f".into(), node("a", "http://10.0.0.66:8081")));
        nodes.push(("a".into(), node("a", "http://10.0.0.1:8081")));
        let mut rooms = keyed_rooms(vec![
            room("0123456789ab", "http://10.0.0.1:8081"),
            room("0123456789ac", "http://10.0.0.1:8081/../admin"),
            room("x&local=1", "http://10.0.0.1:8081"),
            ClusterRoom { internal_url: Some("http://a@b".into()), ..room("0123456789ad", "http://10.0.0.1:8081") },
        ]);
        rooms.push(("0123456789ae".into(), room("0123456789ab", "http://10.0.0.1:8081")));
        let (view, refused) = ClusterView::from_entries("a", nodes, rooms, Instant::now());
        assert_eq!(view.nodes.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(), ["a"]);
        assert_eq!(view.nodes[0].public_url, "http://10.0.0.1:8081");
        assert_eq!(view.rooms.iter().map(|r| r.summary.id.as_str()).collect::<Vec<_>>(), ["0123456789ab"]);
        assert_eq!(refused.len(), 10, "{refused:?}");
    }

    #[test]
    fn the_view_holds_at_most_max_nodes_this_one_always() {
        let nodes = (0..MAX_NODES + 10).map(|i| node(&format!("n{i:03}"), "http://10.0.0.1:8081")).collect();
        let (view, refused) = ClusterView::from_entries("n070", keyed_nodes(nodes), Vec::new(), Instant::now());
        assert_eq!(view.nodes.len(), MAX_NODES);
        assert_eq!(view.nodes[0].id, "n070", "this node is never left out");
        assert_eq!(refused.len(), 1, "{refused:?}");
    }

    #[test]
    fn node_ids_are_url_safe_and_bounded() {
        for good in ["node-a", "eu_west.1", "N0"] {
            assert!(is_node_id(good), "{good}");
        }
        for bad in ["", "a b", "a/b", "a&local=1", "é", &"x".repeat(MAX_NODE_ID_LEN + 1)] {
            assert!(!is_node_id(bad), "{bad}");
        }
        let tls = tls();
        let new = |id: &str| {
            Cluster::new(
                "redis://127.0.0.1:1",
                id.into(),
                "http://h:1".into(),
                None,
                Duration::from_secs(2),
                b"s",
                tls.clone(),
            )
        };
        assert!(new("node-a").is_ok());
        assert!(new("node a").is_err());
    }

    #[test]
    fn announcements_from_redis_get_the_admin_bound() {
        assert_eq!(announcement("  hello  ").as_deref(), Some("hello"));
        assert_eq!(announcement(&"é".repeat(MAX_ANNOUNCEMENT_CHARS)).map(|t| t.chars().count()), Some(500));
        assert_eq!(announcement(&"x".repeat(MAX_ANNOUNCEMENT_CHARS + 1)), None);
        assert_eq!(announcement(&"😀".repeat(MAX_ANNOUNCEMENT_CHARS + 1)), None);
        assert_eq!(announcement("   "), None);
    }

    #[test]
    fn a_view_older_than_the_ttl_is_unavailable() {
        let ttl = Duration::from_secs(2);
        let cluster =
            Cluster::new("redis://127.0.0.1:1", "a".into(), "http://10.0.0.1:8081".into(), None, ttl, b"s", tls())
                .unwrap();
        assert!(matches!(cluster.rooms(), Err(ViewUnavailable::NotYetRead)));
        let read = |read_at| {
            let (view, _) = ClusterView::from_entries(
                "a",
                keyed_nodes(vec![node("b", "http://10.0.0.2:8082"), node("a", "http://10.0.0.1:8081")]),
                keyed_rooms(vec![room("0123456789ab", "http://10.0.0.2:8082")]),
                read_at,
            );
            *cluster.view.lock().unwrap() = Some(Arc::new(view));
        };
        read(Instant::now());
        assert_eq!(cluster.rooms().unwrap().len(), 1);
        assert_eq!(cluster.least_loaded().map(|n| n.id).as_deref(), Some("a"), "this node on a tie");
        read(Instant::now() - ttl - Duration::from_millis(1));
        assert!(matches!(cluster.rooms(), Err(ViewUnavailable::Stale(_))));
        assert!(cluster.nodes().is_err());
        assert_eq!(cluster.least_loaded(), None);
    }

    #[test]
    fn a_node_needs_usable_urls_and_a_secret() {
        let ttl = Duration::from_secs(2);
        let new = |public: &str, internal: Option<&str>, secret: &[u8]| {
            Cluster::new("redis://127.0.0.1:1", "a".into(), public.into(), internal.map(Into::into), ttl, secret, tls())
        };
        assert!(new("http://h/path", None, b"s").is_err());
        assert!(new("http://h:1", None, b"").is_err());
        assert!(new("https://h", Some("http://10.0.0.1:8080/x"), b"s").is_err());
        assert!(new("https://h", Some("http://10.0.0.1:8080"), b"s").is_ok());
    }

    #[test]
    fn calls_go_to_the_internal_url_and_clients_to_the_public_one() {
        let private =
            NodeInfo { internal_url: Some("https://10.0.0.1:8443".into()), ..node("a", "https://arena.example") };
        assert_eq!(private.called_at(), "https://10.0.0.1:8443");
        let entry = ClusterRoom {
            internal_url: Some("http://10.0.0.1:8080".into()),
            ..room("0123456789ab", "https://a.arena.example")
        };
        assert_eq!(entry.called_at(), "http://10.0.0.1:8080");
        assert_eq!(entry.listed().ws_url.as_deref(), Some("wss://a.arena.example/ws"));
        assert_eq!(room("0123456789ab", "http://10.0.0.2:8082").called_at(), "http://10.0.0.2:8082");
        // Entries of nodes without one (or of older versions) have no internal_url at all.
        let json = serde_json::to_value(node("b", "http://10.0.0.2:8082")).unwrap();
        assert!(json.get("internal_url").is_none(), "{json}");
        let old: NodeInfo = serde_json::from_value(json).unwrap();
        assert_eq!(old.called_at(), "http://10.0.0.2:8082");
    }
}
