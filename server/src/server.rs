//! The accept loop: one port for HTTP and WebSockets, connection limits, and the
//! drain on shutdown.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use crate::config::Config;
use crate::identity::Tokens;
use crate::results;
use crate::rooms::{RoomDefaults, Rooms};
use crate::settings::GameSettings;

/// What every connection needs.
#[derive(Debug)]
pub struct AppState {
    pub config: Config,
    pub rooms: Arc<Rooms>,
    pub tokens: Tokens,
    /// False while draining: `/ready` answers 503 and load balancers stop sending players.
    pub ready: AtomicBool,
    /// The last minutes of per-second samples, for `/monitor`.
    pub history: Arc<crate::monitor::History>,
    pub started: Instant,
    /// Where this node listens (the real port when started on port 0).
    pub local_addr: std::net::SocketAddr,
    /// This node's base URL for clients and other nodes.
    pub public_url: String,
    /// Membership in a multi-node lobby (with --redis-url).
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
    /// Open WebSocket sessions per client address.
    addresses: Arc<Mutex<HashMap<IpAddr, usize>>>,
    /// The room list pushed to `/ws/lobby` watchers.
    pub lobby_feed: crate::lobby_feed::LobbyFeed,
}

/// One WebSocket session's place in its address's count; dropping it frees the place.
#[derive(Debug)]
pub struct AddressSlot {
    addresses: Option<(Arc<Mutex<HashMap<IpAddr, usize>>>, IpAddr)>,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        if let Some((addresses, ip)) = self.addresses.take() {
            let mut table = addresses.lock().expect("address table lock");
            if let Some(count) = table.get_mut(&ip) {
                *count -= 1;
                if *count == 0 {
                    table.remove(&ip);
                }
            }
        }
    }
}

impl AppState {
    /// A slot for a new session from `ip`, or None when that address has its maximum.
    pub fn address_slot(&self, ip: IpAddr) -> Option<AddressSlot> {
        if ip.is_loopback() && !self.config.limit_loopback {
            return Some(AddressSlot { addresses: None });
        }
        let mut table = self.addresses.lock().expect("address table lock");
        let count = table.entry(ip).or_default();
        if *count >= self.config.max_connections_per_ip {
            return None;
        }
        *count += 1;
        Some(AddressSlot { addresses: Some((self.addresses.clone(), ip)) })
    }
}

/// One open TCP connection (and the WebSocket session it may become): its place
/// under `--max-connections`, counted in `arena_connections_open` until dropped.
#[derive(Debug)]
pub struct ConnectionSlot {
    _permit: OwnedSemaphorePermit,
}

impl ConnectionSlot {
    fn new(permit: OwnedSemaphorePermit) -> ConnectionSlot {
        let m = crate::metrics::handles();
        m.connections_total.increment(1);
        m.connections_open.increment(1.0);
        ConnectionSlot { _permit: permit }
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        crate::metrics::handles().connections_open.decrement(1.0);
    }
}

/// Load the game settings the config points at: the file when it exists,
/// otherwise (no file at the default path) the compiled-in defaults.
pub fn load_settings(config: &Config) -> anyhow::Result<GameSettings> {
    let path = config.settings_path();
    if config.settings.is_none() && !path.exists() {
        tracing::warn!(path = %path.display(), "no settings file; using compiled-in defaults");
        return Ok(GameSettings::default());
    }
    Ok(GameSettings::load(&path)?)
}

/// Serve until `shutdown` resolves, then drain: refuse new players, let every room
/// close its clients (1001) and log its round, and wait (bounded) for it all.
pub async fn run(listener: TcpListener, config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    crate::metrics::init();
    let settings = load_settings(&config)?;
    if !config.assets_dir.join("node_modules/@msgpack/msgpack/dist.esm/index.mjs").exists() {
        tracing::warn!("the browser client's packages are missing: run `scripts/deps.sh client` (npm ci in assets/)");
    }
    let results = results::spawn_writer(config.results_log.clone());
    let rooms = Rooms::new(RoomDefaults {
        capacity: usize::from(config.room_capacity),
        tick_rate_hz: config.tick_rate,
        snapshot_rate_hz: config.snapshot_rate,
        settings,
        empty_room_grace: config.empty_room_grace(),
        max_rooms: config.max_rooms,
        max_spectators: config.max_spectators,
        reconnect_grace: config.reconnect_grace(),
        reservation_ttl: config.reservation_ttl(),
        results: results.clone(),
    });
    let tokens = Tokens::new(config.jwt_secret.as_deref(), Duration::from_secs(config.session_ttl_s));
    let connection_limit = config.max_connections.max(1);
    let connections = Arc::new(Semaphore::new(connection_limit));
    let open_connections = || connection_limit - connections.available_permits();
    let local_addr = listener.local_addr()?;
    let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://{local_addr}"));
    let cluster = match &config.redis_url {
        Some(url) => {
            let node_id = config.node_id.clone().unwrap_or_else(|| format!("node-{:08x}", rand::random::<u32>()));
            let ttl = Duration::from_secs(config.node_ttl_s.max(1));
            tracing::info!(%node_id, %public_url, "joining the cluster lobby through Redis");
            Some(crate::cluster::Cluster::new(url, node_id, public_url.clone(), ttl)?)
        }
        None => None,
    };
    let state = Arc::new(AppState {
        config,
        rooms: rooms.clone(),
        tokens,
        ready: AtomicBool::new(true),
        history: Arc::new(crate::monitor::History::default()),
        started: Instant::now(),
        local_addr,
        public_url,
        cluster: cluster.clone(),
        addresses: Arc::new(Mutex::new(HashMap::new())),
        lobby_feed: crate::lobby_feed::LobbyFeed::default(),
    });
    // Unclaimed matchmaking seats go back to their rooms.
    let sweeper = {
        let rooms = rooms.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(500));
            loop {
                every.tick().await;
                rooms.expire_reservations();
                crate::metrics::upkeep();
            }
        })
    };
    let sampler = crate::monitor::spawn_sampler(rooms.clone(), state.history.clone());
    let lobby_feed = tokio::spawn(crate::lobby_feed::run(state.clone()));
    let cluster_tasks = cluster
        .as_ref()
        .map(|c| [c.spawn_heartbeat(rooms.clone()), c.spawn_subscriber(rooms.clone())])
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
    // Every connection task holds a receiver; it sees `true` on shutdown.
    let (stop_tx, stop_rx) = watch::channel(false);

    let accept = async {
        loop {
            // Taken before accept() so a connect flood waits in the kernel backlog, not in our memory.
            let permit = connections.clone().acquire_owned().await.expect("the semaphore is never closed");
            let (stream, peer) = match listener.accept().await {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            limit_unsent_bytes(&stream);
            let slot = Arc::new(ConnectionSlot::new(permit));
            tokio::spawn(serve_connection(stream, peer, state.clone(), slot, stop_rx.clone()));
        }
    };
    tokio::select! {
        _ = accept => {}
        _ = shutdown => {}
    }
    let started = Instant::now();
    state.ready.store(false, Ordering::Release);
    drop(listener);
    let room_count = rooms.room_count();
    let player_count = rooms.player_count();
    tracing::info!(rooms = room_count, players = player_count, "shutting down: draining");
    let _ = stop_tx.send(true);
    rooms.stop_all();
    // Rooms notice the stop within one tick, log their rounds and close their clients.
    let deadline = tokio::time::Instant::now() + state.config.drain_timeout();
    while rooms.room_count() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sweeper.abort();
    sampler.abort();
    lobby_feed.abort();
    state.lobby_feed.close();
    for task in cluster_tasks {
        task.abort();
    }
    // Every finished round reaches the results log before we return.
    while !results.all_written() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Rooms and the lobby feed have told every connection why it closes; give the
    // writers a moment to put those close frames on the wire before the process
    // exits, without waiting out clients that never answer them.
    let frames_deadline = deadline.min(tokio::time::Instant::now() + CLOSE_FRAMES_GRACE);
    while open_connections() > 0 && tokio::time::Instant::now() < frames_deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let left = rooms.room_count();
    tracing::info!(
        rooms = room_count,
        players = player_count,
        rooms_not_closed = left,
        connections_not_closed = open_connections(),
        took_ms = started.elapsed().as_millis() as u64,
        "drained: every room closed its players with 1001 and logged its round"
    );
    Ok(())
}

/// The close reason every connection gets (with 1001) when the server stops.
pub const SHUTTING_DOWN: &str = "server shutting down";

/// Unsent bytes a connection may have queued in the kernel before writes wait.
/// Without a limit the kernel takes megabytes from a client that reads slowly:
/// seconds of old snapshots pile up there, out of reach of the writer's
/// latest-wins slot. With it, a slow client skips to the newest snapshot.
const UNSENT_BYTES_LIMIT: u32 = 16 * 1024;

fn limit_unsent_bytes(stream: &tokio::net::TcpStream) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Err(e) = socket2::SockRef::from(stream).set_tcp_notsent_lowat(UNSENT_BYTES_LIMIT) {
        tracing::debug!(error = %e, "cannot limit unsent bytes");
    }
}

/// How long shutdown waits, after the rooms have closed, for connections to end.
const CLOSE_FRAMES_GRACE: Duration = Duration::from_millis(500);

/// Serve one TCP connection's HTTP requests (and hand over upgrades).
async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    state: Arc<AppState>,
    permit: Arc<ConnectionSlot>,
    mut stop: watch::Receiver<bool>,
) {
    let handshake_timeout = state.config.handshake_timeout();
    let service = service_fn(move |req| crate::http::handle(req, state.clone(), peer, permit.clone()));
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        // A client that stalls its request head is cut, so it cannot hold a connection slot.
        .header_read_timeout(handshake_timeout)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => if let Err(e) = result { tracing::debug!(%peer, error = %e, "http connection error") },
        _ = async { let _ = stop.wait_for(|stopping| *stopping).await; } => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(2), conn).await;
        }
    }
}
