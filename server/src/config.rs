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

    pub fn slow_client_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.slow_client_timeout_s.max(0.1))
    }

    /// Settings file to read, if any.
    pub fn settings_path(&self) -> PathBuf {
        self.settings.clone().unwrap_or_else(|| self.assets_dir.join("settings.toml"))
    }
}
