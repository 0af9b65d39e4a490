//! Command-line and environment configuration of the server.

use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Largest room the server allows.
pub const MAX_ROOM_CAPACITY: usize = 1_000;

/// Arena game server. Every flag has an `ARENA_` environment twin.
#[derive(Clone, Debug, Parser)]
#[command(name = "arena-server", version, about)]
pub struct Config {
    /// Address to listen on. Default: 127.0.0.1:8080.
    #[arg(long, env = "ARENA_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Folder with the browser client and settings. Default: the repository's `assets/`.
    #[arg(long, env = "ARENA_ASSETS_DIR", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets"))]
    pub assets_dir: PathBuf,

    /// Game rules file. Default: `<assets-dir>/settings.toml`; compiled-in defaults if that file is absent.
    #[arg(long, env = "ARENA_SETTINGS")]
    pub settings: Option<PathBuf>,

    /// Players per room unless a room sets its own. Default: 50, at most 1000.
    #[arg(long, env = "ARENA_ROOM_CAPACITY", default_value_t = 50,
          value_parser = clap::value_parser!(u16).range(1..=MAX_ROOM_CAPACITY as i64))]
    pub room_capacity: u16,

    /// Simulation rate of rooms that do not choose their own. Default: 30 Hz.
    #[arg(long, env = "ARENA_TICK_RATE", default_value_t = 30,
          value_parser = clap::value_parser!(u16).range(1..=120))]
    pub tick_rate: u16,

    /// Snapshots per second sent to clients, at most the room's tick rate: fewer
    /// snapshots than ticks cut bandwidth and syscalls; clients interpolate the gaps.
    /// Default: the tick rate.
    #[arg(long, env = "ARENA_SNAPSHOT_RATE", value_parser = clap::value_parser!(u16).range(1..=120))]
    pub snapshot_rate: Option<u16>,

    /// Seconds an automatically made room may stay empty before it closes. Default: 30.
    #[arg(long, env = "ARENA_EMPTY_ROOM_GRACE_S", default_value_t = 30.0)]
    pub empty_room_grace_s: f64,

    /// Seconds a client may stay unable to take its messages before it is disconnected. Default: 5.
    #[arg(long, env = "ARENA_SLOW_CLIENT_TIMEOUT_S", default_value_t = 5.0)]
    pub slow_client_timeout_s: f64,

    /// Most rooms this server runs at once; creating more answers 503. Default: 200.
    #[arg(long, env = "ARENA_MAX_ROOMS", default_value_t = 200)]
    pub max_rooms: usize,

    /// Spectators one room admits, on top of its players. Default: 20.
    #[arg(long, env = "ARENA_MAX_SPECTATORS", default_value_t = 20)]
    pub max_spectators: usize,

    /// Seconds a disconnected player's entity waits for them to reconnect with their token. Default: 10.
    #[arg(long, env = "ARENA_RECONNECT_GRACE_S", default_value_t = 10.0)]
    pub reconnect_grace_s: f64,

    /// Seconds a matchmaking reservation holds its seat. Default: 10.
    #[arg(long, env = "ARENA_RESERVATION_TTL_S", default_value_t = 10.0)]
    pub reservation_ttl_s: f64,

    /// Append-only JSON-lines file of finished rounds. Default: arena-results.jsonl.
    #[arg(long, env = "ARENA_RESULTS_LOG", default_value = "arena-results.jsonl")]
    pub results_log: PathBuf,

    /// Secret that signs session tokens (HS256). Every node of one deployment needs the
    /// same one. Default: a random secret made at start (tokens die with the process).
    #[arg(long, env = "ARENA_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Seconds a session token is valid. Default: 86400 (one day).
    #[arg(long, env = "ARENA_SESSION_TTL_S", default_value_t = 86_400)]
    pub session_ttl_s: u64,

    /// Refuse connections without a session token (no guests). Default: guests allowed.
    #[arg(long, env = "ARENA_REQUIRE_AUTH")]
    pub require_auth: bool,

    /// Bearer token for /api/admin/*. Default: none, and the admin API answers 403.
    #[arg(long, env = "ARENA_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Largest WebSocket message accepted on /ws, counted across fragments (close 1009 past it). Default: 16384.
    #[arg(long, env = "ARENA_MAX_MESSAGE_BYTES", default_value_t = arena_protocol::MAX_CLIENT_MESSAGE_BYTES)]
    pub max_message_bytes: usize,

    /// Open TCP connections in total; more wait in the kernel's backlog. Default: 20000.
    #[arg(long, env = "ARENA_MAX_CONNECTIONS", default_value_t = 20_000)]
    pub max_connections: usize,

    /// Open connections per client address, HTTP and WebSocket alike, counted at accept
    /// (past it the connection is refused; an upgrade answers 429). Loopback is exempt
    /// unless --limit-loopback. Default: 32.
    #[arg(long, env = "ARENA_MAX_CONNECTIONS_PER_IP", default_value_t = 32)]
    pub max_connections_per_ip: usize,

    /// Seconds a request body has to arrive in full; a slow body is cut (408). Default: 10.
    #[arg(long, env = "ARENA_BODY_TIMEOUT_S", default_value_t = 10.0)]
    pub body_timeout_s: f64,

    /// Seconds an HTTP keep-alive connection may sit idle between requests before it is
    /// closed (not the WebSocket --idle-timeout-s). Default: 30.
    #[arg(long, env = "ARENA_HTTP_IDLE_TIMEOUT_S", default_value_t = 30.0)]
    pub http_idle_timeout_s: f64,

    /// Matchmaking seat reservations one client address may hold at once, so one
    /// address cannot reserve a room full of seats it never takes. Default: 4.
    #[arg(long, env = "ARENA_MAX_RESERVATIONS_PER_IP", default_value_t = 4)]
    pub max_reservations_per_ip: usize,

    /// Open rooms (public and private) created by one client address. Default: 5.
    #[arg(long, env = "ARENA_MAX_ROOMS_PER_IP", default_value_t = 5)]
    pub max_rooms_per_ip: usize,

    /// Rooms one client address may create per hour, so closing and re-creating cannot
    /// churn the room table. Default: 20.
    #[arg(long, env = "ARENA_ROOMS_PER_IP_PER_HOUR", default_value_t = 20)]
    pub rooms_per_ip_per_hour: u32,

    /// Private rooms open at once, so unlisted rooms cannot crowd out the public lobby.
    /// Default: half of --max-rooms (rounded up).
    #[arg(long, env = "ARENA_MAX_PRIVATE_ROOMS")]
    pub max_private_rooms: Option<usize>,

    /// Session tokens issued per client address per minute. Default: 30.
    #[arg(long, env = "ARENA_SESSIONS_PER_IP_PER_MINUTE", default_value_t = 30)]
    pub sessions_per_ip_per_minute: u32,

    /// Serve /metrics on this address instead of the public port, so scrapes stay on a
    /// private network (e.g. 127.0.0.1:9100). Default: on the public port.
    #[arg(long, env = "ARENA_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// Megabytes the results log may grow to before it is renamed aside and a fresh one
    /// started, so a long-lived server cannot fill its disk. Default: 64.
    #[arg(long, env = "ARENA_RESULTS_LOG_MAX_MB", default_value_t = 64)]
    pub results_log_max_mb: u64,

    /// Apply --max-connections-per-ip to loopback addresses too. Default: off (local load tests).
    #[arg(long, env = "ARENA_LIMIT_LOOPBACK")]
    pub limit_loopback: bool,

    /// Behind a reverse proxy: take the client address from the first X-Forwarded-For
    /// entry, and the scheme from X-Forwarded-Proto. Default: off (the TCP peer is the client).
    #[arg(long, env = "ARENA_TRUST_PROXY")]
    pub trust_proxy: bool,

    /// Seconds a client has to send its request head (and finish the upgrade). Default: 10.
    #[arg(long, env = "ARENA_HANDSHAKE_TIMEOUT_S", default_value_t = 10.0)]
    pub handshake_timeout_s: f64,

    /// Origins allowed to open WebSockets, comma-separated (e.g. https://arena.example).
    /// The server's own origin and localhost are always allowed; requests without an
    /// Origin header (non-browser clients) too. Default: none beyond those.
    #[arg(long, env = "ARENA_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Seconds between the server's WebSocket pings. Default: 15.
    #[arg(long, env = "ARENA_PING_INTERVAL_S", default_value_t = 15.0)]
    pub ping_interval_s: f64,

    /// Seconds a ping may go unanswered before the connection is closed (4009). Default: 10.
    #[arg(long, env = "ARENA_PONG_TIMEOUT_S", default_value_t = 10.0)]
    pub pong_timeout_s: f64,

    /// Seconds without any application message (input, chat, ping) before the connection is closed (4010). Default: 300.
    #[arg(long, env = "ARENA_IDLE_TIMEOUT_S", default_value_t = 300.0)]
    pub idle_timeout_s: f64,

    /// Inputs per second one connection may send (twice the tick rate leaves room for
    /// jitter); excess is dropped and counted, and about 3 s of sustained excess closes with 1008. Default: 120.
    #[arg(long, env = "ARENA_INPUT_RATE", default_value_t = 120)]
    pub input_rate: u32,

    /// Testing only: enables POST /api/admin/rooms/{id}/fault, which makes that room's
    /// tick panic, to exercise fault isolation. Default: off.
    #[arg(long, env = "ARENA_FAULT_INJECTION")]
    pub fault_injection: bool,

    /// Testing only: serves /autobahn, a WebSocket echo endpoint (16 MiB messages) for
    /// the Autobahn conformance cases. Default: off.
    #[arg(long, env = "ARENA_AUTOBAHN_ECHO")]
    pub autobahn_echo: bool,

    /// Redis that several nodes share their lobby through (e.g. redis://127.0.0.1:6379).
    /// Default: none — one node, lobby in-process.
    #[arg(long, env = "ARENA_REDIS_URL")]
    pub redis_url: Option<String>,

    /// Base URL clients and other nodes use to reach this node (http://host:port).
    /// Default: http:// and the address the server listens on.
    #[arg(long, env = "ARENA_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// This node's id in the cluster. Default: a random one at start.
    #[arg(long, env = "ARENA_NODE_ID")]
    pub node_id: Option<String>,

    /// Seconds a node's registration lives without a heartbeat; a dead node and its
    /// rooms vanish from every lobby within this. Default: 5.
    #[arg(long, env = "ARENA_NODE_TTL_S", default_value_t = 5)]
    pub node_ttl_s: u64,

    /// Log format: `text` (readable) or `json` (one object per line, for machines). Default: text.
    #[arg(long, env = "ARENA_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,

    /// Seconds shutdown waits for rooms to close and connections to end. Default: 10.
    #[arg(long, env = "ARENA_DRAIN_TIMEOUT_S", default_value_t = 10.0)]
    pub drain_timeout_s: f64,
}

/// Seconds from a flag, never below `floor` (and never NaN).
fn secs(value: f64, floor: f64) -> Duration {
    Duration::from_secs_f64(if value.is_finite() { value.max(floor) } else { floor })
}

impl Config {
    /// Defaults for tests and embedding: as if started with no flags, on `addr`.
    /// Results go to a fresh file under the system's temp folder.
    pub fn for_tests() -> Config {
        let results =
            std::env::temp_dir().join(format!("arena-results-{}-{}.jsonl", std::process::id(), rand::random::<u32>()));
        Config::parse_from(["arena-server", "--addr", "127.0.0.1:0", "--results-log", &results.to_string_lossy()])
    }

    pub fn empty_room_grace(&self) -> Duration {
        Duration::from_secs_f64(self.empty_room_grace_s.max(0.0))
    }

    pub fn reconnect_grace(&self) -> Duration {
        Duration::from_secs_f64(self.reconnect_grace_s.max(0.0))
    }

    pub fn reservation_ttl(&self) -> Duration {
        Duration::from_secs_f64(self.reservation_ttl_s.max(0.5))
    }

    pub fn handshake_timeout(&self) -> Duration {
        secs(self.handshake_timeout_s, 0.1)
    }

    pub fn ping_interval(&self) -> Duration {
        secs(self.ping_interval_s, 0.05)
    }

    pub fn pong_timeout(&self) -> Duration {
        secs(self.pong_timeout_s, 0.05)
    }

    pub fn idle_timeout(&self) -> Duration {
        secs(self.idle_timeout_s, 0.1)
    }

    pub fn drain_timeout(&self) -> Duration {
        secs(self.drain_timeout_s, 0.5)
    }

    pub fn slow_client_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.slow_client_timeout_s.max(0.1))
    }

    pub fn body_timeout(&self) -> Duration {
        secs(self.body_timeout_s, 0.1)
    }

    pub fn http_idle_timeout(&self) -> Duration {
        secs(self.http_idle_timeout_s, 0.1)
    }

    /// Private rooms open at once: --max-private-rooms, or half of --max-rooms (rounded up).
    pub fn private_room_limit(&self) -> usize {
        self.max_private_rooms.unwrap_or(self.max_rooms.div_ceil(2))
    }

    /// Settings file to read, if any.
    pub fn settings_path(&self) -> PathBuf {
        self.settings.clone().unwrap_or_else(|| self.assets_dir.join("settings.toml"))
    }
}
