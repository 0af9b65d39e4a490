//! Command-line and environment configuration of the server.

use anyhow::{Context, bail};
use clap::Parser;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::settings::MAX_ROOM_CAPACITY;
/// Most house bots `--max-house-bots` may allow.
pub const MAX_HOUSE_BOTS: usize = 100_000;

/// Shortest JWT secret or admin token accepted: 256 bits, the size of HS256's key,
/// so neither can be guessed or brute-forced offline from a captured token.
pub const MIN_SECRET_BYTES: usize = 32;

/// `--database-url`'s default as `--help` shows it; `validate()` resolves it to an
/// SQLite file in `--data-dir`.
const DATABASE_IN_DATA_DIR: &str = "sqlite://<data-dir>/arena.db";

/// `--results-log`'s default as `--help` shows it; `validate()` resolves it to a path
/// in `--data-dir`, so the default follows the data folder wherever it is.
const RESULTS_LOG_IN_DATA_DIR: &str = "<data-dir>/results.jsonl";
const REPLAY_DIR_IN_DATA_DIR: &str = "<data-dir>/replays";

/// Longest duration a `*_s` flag may give: far enough to mean "never", near enough
/// that `Instant + Duration` cannot overflow.
pub const MAX_DURATION_S: f64 = 1e9;

/// Arena game server. Every flag has an `ARENA_` environment twin.
#[derive(Clone, Debug, Parser)]
#[command(name = "arena-server", version, about)]
pub struct Config {
    /// Address to listen on. Default: 127.0.0.1:8080.
    #[arg(long, env = "ARENA_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Folder to serve the browser client (and read `settings.toml`) from, read at every
    /// request so an edit shows on reload. Default: the copy built into the binary, so an
    /// installed binary serves the client from anywhere.
    #[arg(long, env = "ARENA_ASSETS_DIR", value_name = "PATH")]
    pub assets_dir: Option<PathBuf>,

    /// Game rules file. Default: `<assets-dir>/settings.toml` (compiled-in defaults if that
    /// file is absent), or the built-in copy of `assets/settings.toml` without --assets-dir.
    #[arg(long, env = "ARENA_SETTINGS")]
    pub settings: Option<PathBuf>,

    /// Folder for every file the server writes unless told otherwise (the results log);
    /// created at start. Default: `arena-data` under the working directory.
    #[arg(long, env = "ARENA_DATA_DIR", value_name = "PATH", default_value = "arena-data")]
    pub data_dir: PathBuf,

    /// Check the flags, environment, settings file, TLS pair and data folder, print "configuration
    /// OK" and exit 0 (or name the problem and exit non-zero), without binding the port.
    /// No ARENA_ twin: a variable left set would keep every later start from serving.
    #[arg(long)]
    pub check: bool,

    /// Players per room unless a room sets its own. Default: 50, at most 1000.
    #[arg(long, env = "ARENA_ROOM_CAPACITY", default_value_t = 50,
          value_parser = clap::value_parser!(u16).range(1..=MAX_ROOM_CAPACITY as i64))]
    pub room_capacity: u16,

    /// People plus house bots in rooms Quick play opens (0: no bots). Default: the
    /// settings file's `quick_play_bots.fill_to` (6 in the shipped file).
    #[arg(long, env = "ARENA_QUICK_PLAY_BOTS",
          value_parser = clap::value_parser!(u16).range(0..=MAX_ROOM_CAPACITY as i64))]
    pub quick_play_bots: Option<u16>,

    /// House bots this server runs at most, all rooms together (the sum of their
    /// `fill_to`): creating a room or an admin change past it answers 503, Quick play
    /// opens rooms with fewer bots. 0: no house bots. Default: 2000, at most 100000.
    #[arg(long, env = "ARENA_MAX_HOUSE_BOTS", default_value_t = 2000,
          value_parser = clap::value_parser!(u32).range(0..=MAX_HOUSE_BOTS as i64))]
    pub max_house_bots: u32,

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

    /// Nice value of the room threads, below the I/O workers' 0 so a tick starts on time
    /// when the cores are busy (−20 to 19; 0: the default priority). Raising a thread's
    /// priority needs CAP_SYS_NICE or systemd's LimitNICE=; refused, the rooms run at the
    /// default and the log says so once. Default: −10.
    #[arg(long, env = "ARENA_ROOM_THREAD_NICE", default_value_t = -10, allow_negative_numbers = true,
          value_parser = clap::value_parser!(i8).range(-20..=19))]
    pub room_thread_nice: i8,

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

    /// Append-only JSON-lines file of finished rounds. Default: `<data-dir>/results.jsonl`
    /// (`validate()` puts the data folder in place of the placeholder).
    #[arg(long, env = "ARENA_RESULTS_LOG", value_name = "PATH", default_value = RESULTS_LOG_IN_DATA_DIR)]
    pub results_log: PathBuf,

    /// Secret that signs session tokens (HS256), at least 32 bytes. Every node of one
    /// deployment needs the same one. Prefer ARENA_JWT_SECRET or --jwt-secret-file to the
    /// flag, which other users can read in the process list. Default: a random secret
    /// made at start (tokens die with the process).
    #[arg(long, env = "ARENA_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// File holding the JWT secret, read at start (trailing newlines are ignored), so the
    /// secret stays out of the process list. Not together with --jwt-secret. Default: none.
    #[arg(long, env = "ARENA_JWT_SECRET_FILE", value_name = "PATH")]
    pub jwt_secret_file: Option<PathBuf>,

    /// Seconds a session token is valid. Default: 86400 (one day).
    #[arg(long, env = "ARENA_SESSION_TTL_S", default_value_t = 86_400)]
    pub session_ttl_s: u64,

    /// Refuse connections without a session token (no guests). Default: guests allowed.
    #[arg(long, env = "ARENA_REQUIRE_AUTH")]
    pub require_auth: bool,

    /// Bearer token for /api/admin/*, at least 32 bytes. Prefer ARENA_ADMIN_TOKEN or
    /// --admin-token-file to the flag. Default: none, and the admin API answers 403.
    #[arg(long, env = "ARENA_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// File holding the admin token, read at start (trailing newlines are ignored), so the
    /// secret stays out of the process list. Not together with --admin-token. Default: none.
    #[arg(long, env = "ARENA_ADMIN_TOKEN_FILE", value_name = "PATH")]
    pub admin_token_file: Option<PathBuf>,

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

    /// Seconds an HTTP keep-alive connection may sit idle (nothing sent, no request
    /// being answered) before it is closed; a client that stopped reading an answer
    /// still being sent (a download) is cut after 10 s, or this if shorter (not the
    /// WebSocket --idle-timeout-s). Default: 30.
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

    /// Serve HTTPS and WSS on --addr with this certificate chain (PEM, leaf first);
    /// needs --tls-key. Reloaded on SIGHUP and when the file changes. Default: plain HTTP.
    #[arg(long, env = "ARENA_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,

    /// The private key (PEM) of --tls-cert. Default: none (plain HTTP).
    #[arg(long, env = "ARENA_TLS_KEY")]
    pub tls_key: Option<PathBuf>,

    /// With TLS on: also listen here for plain HTTP and answer every request with a
    /// 308 to the same path over https. Default: no redirect listener.
    #[arg(long, env = "ARENA_HTTP_REDIRECT_ADDR")]
    pub http_redirect_addr: Option<SocketAddr>,

    /// Folder of match replays (one gzip file per round, with a JSON description beside
    /// it), created at start. Default: `<data-dir>/replays`.
    #[arg(long, env = "ARENA_REPLAY_DIR", value_name = "PATH", default_value = REPLAY_DIR_IN_DATA_DIR)]
    pub replay_dir: PathBuf,

    /// Replays older than this many days are deleted. Default: 7.
    #[arg(long, env = "ARENA_REPLAY_MAX_AGE_DAYS", default_value_t = 7.0)]
    pub replay_max_age_days: f64,

    /// Megabytes all replays together may take; past it the oldest are deleted (never the
    /// round being recorded). Default: 1024.
    #[arg(long, env = "ARENA_REPLAY_MAX_MB", default_value_t = 1024)]
    pub replay_max_mb: u64,

    /// Replay requests (`GET /api/replays`, downloads) one address may make a minute;
    /// more answer 429. Default: 60.
    #[arg(long, env = "ARENA_REPLAY_REQUESTS_PER_IP_PER_MINUTE", default_value_t = 60)]
    pub replay_requests_per_ip_per_minute: u32,

    /// Replay downloads one address may have under way at once (each holds one of the
    /// node's 8 download slots until its last byte is sent); more answer 429. Default: 2.
    #[arg(long, env = "ARENA_REPLAY_DOWNLOADS_PER_IP", default_value_t = 2)]
    pub replay_downloads_per_ip: usize,

    /// KiB a replay download must send in every --replay-download-window-s (or what is
    /// left of its file, if less); a client that reads slower is cut, freeing its slot.
    /// Default: 32 (about 3 KiB/s).
    #[arg(long, env = "ARENA_REPLAY_DOWNLOAD_MIN_KIB_PER_WINDOW", default_value_t = 32)]
    pub replay_download_min_kib_per_window: u64,

    /// Seconds over which a replay download's rate is checked (see
    /// --replay-download-min-kib-per-window). Default: 10.
    #[arg(long, env = "ARENA_REPLAY_DOWNLOAD_WINDOW_S", default_value_t = 10.0)]
    pub replay_download_window_s: f64,

    /// Record no replays at all. Default: every round of every room is recorded, unless
    /// the room was created with `"replays": false`.
    #[arg(long, env = "ARENA_NO_REPLAYS")]
    pub no_replays: bool,

    /// Megabytes the results log may grow to before it is renamed aside (with its UTC
    /// time) and a fresh one started. Rotation never deletes: prune old files yourself.
    /// Default: 64.
    #[arg(long, env = "ARENA_RESULTS_LOG_MAX_MB", default_value_t = 64)]
    pub results_log_max_mb: u64,

    /// Apply --max-connections-per-ip to loopback addresses too. Default: off (local load tests).
    #[arg(long, env = "ARENA_LIMIT_LOOPBACK")]
    pub limit_loopback: bool,

    /// Reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed, as
    /// comma-separated CIDR ranges or single addresses (e.g. 127.0.0.1/32,10.0.0.0/8).
    /// Headers from any other peer are ignored, so clients cannot pick their own address.
    /// Default: none (the TCP peer is the client).
    #[arg(long = "trusted-proxy", env = "ARENA_TRUSTED_PROXY", value_name = "CIDR", value_delimiter = ',', value_parser = proxy_range)]
    pub trusted_proxies: Vec<IpNet>,

    /// Replaced by --trusted-proxy: trusting whoever connects let any client choose its
    /// address. Still parsed only so that `validate()` can say what to use instead.
    #[arg(long, env = "ARENA_TRUST_PROXY", hide = true, value_parser = clap::builder::FalseyValueParser::new())]
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
    /// the Autobahn conformance cases; refused unless --addr is a loopback address. Default: off.
    #[arg(long, env = "ARENA_AUTOBAHN_ECHO")]
    pub autobahn_echo: bool,

    /// Accounts, ratings and match history: `sqlite://PATH` (created and migrated at
    /// start) or `postgres://user:password@host:port/db` (several nodes share one; no TLS:
    /// keep it on a private network). Default: `<data-dir>/arena.db` (SQLite).
    #[arg(long, env = "ARENA_DATABASE_URL", hide_env_values = true, default_value = DATABASE_IN_DATA_DIR)]
    pub database_url: String,

    /// Accounts one client address may create an hour (POST /api/accounts). Default: 5.
    #[arg(long, env = "ARENA_ACCOUNTS_PER_IP_PER_HOUR", default_value_t = 5)]
    pub accounts_per_ip_per_hour: u32,

    /// Password attempts (sign-in, password change, deletion) one client address may
    /// make a minute; each name also backs off after 3 wrong ones. Default: 10.
    #[arg(long, env = "ARENA_SIGN_INS_PER_IP_PER_MINUTE", default_value_t = 10)]
    pub sign_ins_per_ip_per_minute: u32,

    /// Leaderboard, profile and match-history reads one client address may make a
    /// minute. Default: 120.
    #[arg(long, env = "ARENA_BOARD_READS_PER_IP_PER_MINUTE", default_value_t = 120)]
    pub board_reads_per_ip_per_minute: u32,

    /// Leaderboard reads with a session token (`?around=me`) one account may make a
    /// minute, from all its addresses together. Default: 60.
    #[arg(long, env = "ARENA_BOARD_READS_PER_ACCOUNT_PER_MINUTE", default_value_t = 60)]
    pub board_reads_per_account_per_minute: u32,

    /// Redis that several nodes share their lobby through (e.g. redis://127.0.0.1:6379).
    /// Default: none — one node, lobby in-process.
    #[arg(long, env = "ARENA_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Base URL clients and other nodes use to reach this node (http(s)://host[:port]).
    /// Default: http:// (https:// with --tls-cert) and the address the server listens on.
    #[arg(long, env = "ARENA_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// With --redis-url: base URL the other nodes call this one at (http(s)://host[:port]),
    /// e.g. its private address, so node-to-node calls need not go through the public
    /// TLS name or proxy. Clients are still sent to --public-url. Default: --public-url.
    #[arg(long, env = "ARENA_INTERNAL_URL")]
    pub internal_url: Option<String>,

    /// With --redis-url: PEM file of the CA certificate(s) trusted when calling another
    /// node's `https://` URL (a private CA for the nodes). Default: the public
    /// (webpki/Mozilla) roots.
    #[arg(long, env = "ARENA_INTERNAL_CA", value_name = "PATH")]
    pub internal_ca: Option<PathBuf>,

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
    Duration::from_secs_f64(if value.is_finite() { value.clamp(floor, MAX_DURATION_S) } else { floor })
}

/// A `--trusted-proxy` entry: a CIDR range, or one address (a range of one).
fn proxy_range(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("`{text}` is neither a CIDR range (10.0.0.0/8) nor an address"))
}

/// Read a secret from its file; trailing newlines (as editors and `echo` leave) are not part of it.
fn read_secret(path: &Path, flag: &str) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{flag}: cannot read {}", path.display()))?;
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}

/// Fill `value` from `file` when given, then insist on [`MIN_SECRET_BYTES`].
fn load_secret(value: &mut Option<String>, file: &mut Option<PathBuf>, flag: &str, env: &str) -> anyhow::Result<()> {
    if let Some(path) = file.take() {
        if value.is_some() {
            bail!("give {flag} or {flag}-file, not both");
        }
        let secret = read_secret(&path, &format!("{flag}-file"))?;
        if secret.len() < MIN_SECRET_BYTES {
            bail!(
                "{flag}-file {}: the secret must be at least {MIN_SECRET_BYTES} bytes (it has {})",
                path.display(),
                secret.len()
            );
        }
        *value = Some(secret);
    } else if let Some(secret) = value
        && secret.len() < MIN_SECRET_BYTES
    {
        bail!("{flag} (or {env}) must be at least {MIN_SECRET_BYTES} bytes (it has {})", secret.len());
    }
    Ok(())
}

impl Config {
    /// Defaults for tests and embedding: as if started with no flags, on `addr`.
    /// Results go to a fresh file under the system's temp folder.
    pub fn for_tests() -> Config {
        let unique = format!("{}-{}", std::process::id(), rand::random::<u32>());
        let results = std::env::temp_dir().join(format!("arena-results-{unique}.jsonl"));
        let replays = std::env::temp_dir().join(format!("arena-replays-{unique}"));
        let database = format!("sqlite://{}.db", results.with_extension("").display());
        // No house bots in Quick play rooms: tests count who is in a room; bot tests ask for them.
        Config::parse_from([
            "arena-server",
            "--addr",
            "127.0.0.1:0",
            "--quick-play-bots",
            "0",
            "--results-log",
            &results.to_string_lossy(),
            "--database-url",
            &database,
            "--replay-dir",
            &replays.to_string_lossy(),
        ])
    }

    /// Check what clap cannot, and read the secret files. Called by `server::run`, so
    /// every entry point gets it; a mistake stops the start with a message naming the flag.
    pub fn validate(&mut self) -> anyhow::Result<()> {
        if self.trust_proxy {
            bail!(
                "--trust-proxy (ARENA_TRUST_PROXY) is gone: it let any client choose its address. \
                 Name the proxies to believe with --trusted-proxy CIDR[,CIDR…] (ARENA_TRUSTED_PROXY), \
                 e.g. --trusted-proxy 127.0.0.1/32"
            );
        }
        if self.results_log.as_os_str() == RESULTS_LOG_IN_DATA_DIR {
            self.results_log = self.data_dir.join("results.jsonl");
        }
        if self.database_url == DATABASE_IN_DATA_DIR {
            self.database_url = format!("sqlite://{}", self.data_dir.join("arena.db").display());
        }
        if !self.database_is_postgres() && !self.database_url.starts_with("sqlite:") {
            bail!("--database-url (ARENA_DATABASE_URL) must start with sqlite:// or postgres://");
        }
        if self.replay_dir.as_os_str() == REPLAY_DIR_IN_DATA_DIR {
            self.replay_dir = self.data_dir.join("replays");
        }
        if !(0.0..=36_500.0).contains(&self.replay_max_age_days) {
            bail!(
                "--replay-max-age-days must be a number of days from 0 to 36500 (it is {})",
                self.replay_max_age_days
            );
        }
        load_secret(&mut self.jwt_secret, &mut self.jwt_secret_file, "--jwt-secret", "ARENA_JWT_SECRET")?;
        load_secret(&mut self.admin_token, &mut self.admin_token_file, "--admin-token", "ARENA_ADMIN_TOKEN")?;
        for (flag, value) in self.durations() {
            if !(0.0..=MAX_DURATION_S).contains(&value) {
                bail!("--{flag} must be a number of seconds from 0 to {MAX_DURATION_S:e} (it is {value})");
            }
        }
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => bail!("--tls-cert needs --tls-key (ARENA_TLS_KEY): the certificate's private key"),
            (None, Some(_)) => bail!("--tls-key needs --tls-cert (ARENA_TLS_CERT): the certificate it belongs to"),
            _ => {}
        }
        if self.http_redirect_addr.is_some() && self.tls_cert.is_none() {
            bail!("--http-redirect-addr redirects to https: it needs --tls-cert and --tls-key");
        }
        self.validate_cluster_urls()?;
        if self.autobahn_echo && !self.addr.ip().is_loopback() {
            bail!(
                "--autobahn-echo serves 16 MiB echo messages to anyone: it needs a loopback --addr, not {}",
                self.addr
            );
        }
        if self.redis_url.is_some() && !self.database_is_postgres() {
            bail!(
                "--redis-url with an SQLite --database-url: each node would keep its own accounts and leaderboard. \
                 Give every node of the cluster the same --database-url postgres://… (ARENA_DATABASE_URL)"
            );
        }
        Ok(())
    }

    /// A cluster needs its shared secret and node URLs the other nodes can use (they
    /// read them from Redis); the node-to-node flags mean nothing without a cluster.
    fn validate_cluster_urls(&self) -> anyhow::Result<()> {
        if self.redis_url.is_none() {
            for (set, flag) in
                [(self.internal_url.is_some(), "--internal-url"), (self.internal_ca.is_some(), "--internal-ca")]
            {
                if set {
                    bail!("{flag} is for node-to-node calls in a cluster: it needs --redis-url (ARENA_REDIS_URL)");
                }
            }
            return Ok(());
        }
        if self.jwt_secret.is_none() {
            bail!(
                "--redis-url needs --jwt-secret (ARENA_JWT_SECRET or --jwt-secret-file), the same on every node: \
                 nodes sign the calls they pass to each other with it"
            );
        }
        let urls = [
            ("--public-url", "ARENA_PUBLIC_URL", &self.public_url),
            ("--internal-url", "ARENA_INTERNAL_URL", &self.internal_url),
        ];
        for (flag, env, url) in urls {
            if let Some(url) = url
                && let Err(problem) = crate::lobby::cluster::public_url::check(url)
            {
                bail!(
                    "{flag} (or {env}) {url:?} cannot be used by the other nodes: {problem}; give http(s)://host[:port]"
                );
            }
        }
        Ok(())
    }

    /// Whether `--database-url` names a PostgreSQL server.
    pub fn database_is_postgres(&self) -> bool {
        self.database_url.starts_with("postgres://") || self.database_url.starts_with("postgresql://")
    }

    /// Every `*_s: f64` field with its flag name, for `validate()`.
    fn durations(&self) -> [(&'static str, f64); 12] {
        [
            ("empty-room-grace-s", self.empty_room_grace_s),
            ("slow-client-timeout-s", self.slow_client_timeout_s),
            ("reconnect-grace-s", self.reconnect_grace_s),
            ("reservation-ttl-s", self.reservation_ttl_s),
            ("handshake-timeout-s", self.handshake_timeout_s),
            ("ping-interval-s", self.ping_interval_s),
            ("pong-timeout-s", self.pong_timeout_s),
            ("idle-timeout-s", self.idle_timeout_s),
            ("drain-timeout-s", self.drain_timeout_s),
            ("body-timeout-s", self.body_timeout_s),
            ("http-idle-timeout-s", self.http_idle_timeout_s),
            ("replay-download-window-s", self.replay_download_window_s),
        ]
    }

    /// Where replays go and how long they stay; None with --no-replays.
    pub fn replay_policy(&self) -> Option<crate::replay::ReplayPolicy> {
        (!self.no_replays).then(|| crate::replay::ReplayPolicy {
            dir: self.replay_dir.clone(),
            max_age: Duration::from_secs_f64(self.replay_max_age_days * 86_400.0),
            max_bytes: self.replay_max_mb.saturating_mul(1024 * 1024),
        })
    }

    /// Whether `ip` is one of the --trusted-proxy ranges (IPv4-mapped IPv6 counts as IPv4).
    pub fn trusted_proxy(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted_proxies.iter().any(|range| range.contains(&ip))
    }

    pub fn empty_room_grace(&self) -> Duration {
        secs(self.empty_room_grace_s, 0.0)
    }

    pub fn reconnect_grace(&self) -> Duration {
        secs(self.reconnect_grace_s, 0.0)
    }

    pub fn reservation_ttl(&self) -> Duration {
        secs(self.reservation_ttl_s, 0.5)
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
        secs(self.slow_client_timeout_s, 0.1)
    }

    pub fn body_timeout(&self) -> Duration {
        secs(self.body_timeout_s, 0.1)
    }

    pub fn http_idle_timeout(&self) -> Duration {
        secs(self.http_idle_timeout_s, 0.1)
    }

    /// The slowest a replay download may be sent: bytes per window.
    pub fn replay_download_min_rate(&self) -> crate::lobby::replays::download::MinRate {
        crate::lobby::replays::download::MinRate {
            bytes: self.replay_download_min_kib_per_window.saturating_mul(1024),
            window: secs(self.replay_download_window_s, 0.1),
        }
    }

    /// Private rooms open at once: --max-private-rooms, or half of --max-rooms (rounded up).
    pub fn private_room_limit(&self) -> usize {
        self.max_private_rooms.unwrap_or(self.max_rooms.div_ceil(2))
    }

    /// Settings file to read: --settings, else `settings.toml` in --assets-dir; `None`
    /// when neither is given (the built-in copy is used).
    pub fn settings_path(&self) -> Option<PathBuf> {
        self.settings.clone().or_else(|| self.assets_dir.as_ref().map(|dir| dir.join("settings.toml")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Config {
        Config::parse_from(std::iter::once("arena-server").chain(args.iter().copied()))
    }

    fn refusal(args: &[&str]) -> String {
        let error = parse(args).validate().expect_err("validate should refuse");
        format!("{error:#}")
    }

    const LONG: &str = "0123456789abcdef0123456789abcdef";

    /// A file under the temp folder, removed when dropped.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(contents: &str) -> TempFile {
            let name = format!("arena-config-test-{}-{}", std::process::id(), rand::random::<u64>());
            let path = std::env::temp_dir().join(name);
            std::fs::write(&path, contents).unwrap();
            TempFile(path)
        }
        fn arg(&self) -> &str {
            self.0.to_str().unwrap()
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn defaults_pass_validation_and_keep_a_random_jwt_secret() {
        let mut config = parse(&[]);
        config.validate().unwrap();
        assert_eq!(config.jwt_secret, None);
        assert_eq!(config.admin_token, None);
        Config::for_tests().validate().unwrap();
    }

    #[test]
    fn tls_takes_a_certificate_and_its_key_together() {
        assert!(refusal(&["--tls-cert", "c.pem"]).contains("--tls-key"));
        assert!(refusal(&["--tls-key", "k.pem"]).contains("--tls-cert"));
        assert!(refusal(&["--http-redirect-addr", "127.0.0.1:0"]).contains("--tls-cert"));
        parse(&["--tls-cert", "c.pem", "--tls-key", "k.pem", "--http-redirect-addr", "127.0.0.1:0"])
            .validate()
            .unwrap();
    }

    #[test]
    fn short_or_empty_secrets_are_refused() {
        for flag in ["--jwt-secret", "--admin-token"] {
            let message = refusal(&[flag, "ops"]);
            assert!(message.contains(flag) && message.contains("32 bytes"), "{message}");
            let message = refusal(&[flag, ""]);
            assert!(message.contains(flag) && message.contains("32 bytes"), "{message}");
            let short = &LONG[..31];
            assert!(refusal(&[flag, short]).contains(flag));
            let mut config = parse(&[flag, LONG]);
            config.validate().unwrap();
        }
    }

    #[test]
    fn secret_files_are_read_and_their_trailing_newline_dropped() {
        let jwt = TempFile::new(&format!("{LONG}\n"));
        let admin = TempFile::new(&format!("{LONG}xyz\r\n"));
        let mut config = parse(&["--jwt-secret-file", jwt.arg(), "--admin-token-file", admin.arg()]);
        config.validate().unwrap();
        assert_eq!(config.jwt_secret.as_deref(), Some(LONG));
        assert_eq!(config.admin_token.as_deref(), Some(&*format!("{LONG}xyz")));
        // Read once: validating again does not see "both a value and a file".
        config.validate().unwrap();
    }

    #[test]
    fn short_empty_or_missing_secret_files_are_refused() {
        let short = TempFile::new("not long enough\n");
        let message = refusal(&["--jwt-secret-file", short.arg()]);
        assert!(message.contains("--jwt-secret-file") && message.contains("32 bytes"), "{message}");
        let empty = TempFile::new("\n");
        let message = refusal(&["--admin-token-file", empty.arg()]);
        assert!(message.contains("--admin-token-file") && message.contains("32 bytes"), "{message}");
        let message = refusal(&["--admin-token-file", "/nonexistent/arena/admin-token"]);
        assert!(message.contains("--admin-token-file") && message.contains("cannot read"), "{message}");
    }

    #[test]
    fn a_secret_given_both_as_value_and_file_is_refused() {
        let file = TempFile::new(LONG);
        let message = refusal(&["--jwt-secret", LONG, "--jwt-secret-file", file.arg()]);
        assert!(message.contains("--jwt-secret or --jwt-secret-file, not both"), "{message}");
        let message = refusal(&["--admin-token", LONG, "--admin-token-file", file.arg()]);
        assert!(message.contains("--admin-token or --admin-token-file, not both"), "{message}");
    }

    #[test]
    fn negative_or_non_finite_durations_are_refused() {
        for bad in ["-1", "NaN", "inf", "-inf", "1e300"] {
            let message = refusal(&[&format!("--reconnect-grace-s={bad}")]);
            assert!(message.contains("--reconnect-grace-s"), "{message}");
            assert!(refusal(&[&format!("--http-idle-timeout-s={bad}")]).contains("--http-idle-timeout-s"));
        }
        parse(&["--reconnect-grace-s", "0", "--handshake-timeout-s", "0.25"]).validate().unwrap();
    }

    /// Guards `durations()`: a new `*_s: f64` flag must be checked by `validate()` too.
    #[test]
    fn every_seconds_flag_is_checked() {
        let source = include_str!("config.rs");
        let declared = source.lines().filter(|l| l.trim_start().starts_with("pub ") && l.ends_with("_s: f64,")).count();
        assert_eq!(declared, parse(&[]).durations().len());
        for (flag, _) in parse(&[]).durations() {
            let field = format!("pub {}: f64,", flag.replace('-', "_"));
            assert!(source.contains(&field), "{flag} is not a field");
        }
    }

    #[test]
    fn the_results_log_defaults_to_the_data_folder() {
        let mut config = parse(&[]);
        config.validate().unwrap();
        assert_eq!(config.data_dir, Path::new("arena-data"));
        assert_eq!(config.results_log, Path::new("arena-data/results.jsonl"));
        let mut config = parse(&["--data-dir", "/var/lib/arena"]);
        config.validate().unwrap();
        assert_eq!(config.results_log, Path::new("/var/lib/arena/results.jsonl"));
        let mut config = parse(&["--data-dir", "/var/lib/arena", "--results-log", "/srv/rounds.jsonl"]);
        config.validate().unwrap();
        assert_eq!(config.results_log, Path::new("/srv/rounds.jsonl"));
    }

    #[test]
    fn settings_come_from_the_flag_the_assets_folder_or_the_built_in_copy() {
        assert_eq!(parse(&[]).settings_path(), None);
        assert_eq!(parse(&["--assets-dir", "/srv/a"]).settings_path(), Some(PathBuf::from("/srv/a/settings.toml")));
        let explicit = parse(&["--assets-dir", "/srv/a", "--settings", "/etc/arena.toml"]).settings_path();
        assert_eq!(explicit, Some(PathBuf::from("/etc/arena.toml")));
    }

    #[test]
    fn node_to_node_flags_need_a_cluster_and_usable_urls() {
        let message = refusal(&["--internal-url", "http://10.0.0.1:8080"]);
        assert!(message.contains("--internal-url") && message.contains("--redis-url"), "{message}");
        let message = refusal(&["--internal-ca", "/etc/arena/nodes-ca.pem"]);
        assert!(message.contains("--internal-ca") && message.contains("--redis-url"), "{message}");
        let message = refusal(&["--redis-url", "redis://127.0.0.1:6379"]);
        assert!(message.contains("--redis-url needs --jwt-secret"), "{message}");
        let redis = ["--redis-url", "redis://127.0.0.1:6379", "--jwt-secret", LONG];
        let message = refusal(&[&redis[..], &["--internal-url", "http://10.0.0.1:8080/arena"]].concat());
        assert!(message.contains("--internal-url") && message.contains("path"), "{message}");
        let message = refusal(&[&redis[..], &["--public-url", "wss://arena.example"]].concat());
        assert!(message.contains("--public-url") && message.contains("http"), "{message}");
        let good = ["--public-url", "https://a.arena.example", "--internal-url", "https://10.0.0.1:8443"];
        let message = refusal(&[&redis[..], &good].concat());
        assert!(message.contains("--redis-url with an SQLite --database-url"), "{message}");
        let shared = ["--database-url", "postgres://arena@10.0.0.9/arena", "--internal-ca", "/etc/arena/nodes-ca.pem"];
        parse(&[&redis[..], &good, &shared].concat()).validate().unwrap();
    }

    #[test]
    fn the_old_trust_proxy_flag_names_its_replacement() {
        let message = refusal(&["--trust-proxy"]);
        assert!(message.contains("--trusted-proxy"), "{message}");
    }

    #[test]
    fn trusted_proxies_are_ranges_or_addresses() {
        let config = parse(&["--trusted-proxy", "10.0.0.0/8, 127.0.0.1", "--trusted-proxy", "fd00::/8"]);
        assert_eq!(config.trusted_proxies.len(), 3);
        assert!(config.trusted_proxy("10.200.3.4".parse().unwrap()));
        assert!(config.trusted_proxy("127.0.0.1".parse().unwrap()));
        assert!(config.trusted_proxy("::ffff:127.0.0.1".parse().unwrap()));
        assert!(config.trusted_proxy("fd12::1".parse().unwrap()));
        assert!(!config.trusted_proxy("127.0.0.2".parse().unwrap()));
        assert!(!config.trusted_proxy("2001:db8::1".parse().unwrap()));
        assert!(!parse(&[]).trusted_proxy("127.0.0.1".parse().unwrap()));
        assert!(Config::try_parse_from(["arena-server", "--trusted-proxy", "proxy.local"]).is_err());
        assert!(Config::try_parse_from(["arena-server", "--trusted-proxy", "10.0.0.0/33"]).is_err());
    }

    #[test]
    fn autobahn_echo_needs_a_loopback_address() {
        let message = refusal(&["--autobahn-echo", "--addr", "0.0.0.0:8080"]);
        assert!(message.contains("--autobahn-echo") && message.contains("loopback"), "{message}");
        parse(&["--autobahn-echo", "--addr", "127.0.0.1:0"]).validate().unwrap();
        parse(&["--autobahn-echo", "--addr", "[::1]:9001"]).validate().unwrap();
        parse(&["--addr", "0.0.0.0:8080"]).validate().unwrap();
    }

    #[test]
    fn defaults_of_the_hardening_flags() {
        let config = parse(&[]);
        assert_eq!(config.body_timeout(), Duration::from_secs(10));
        assert_eq!(config.http_idle_timeout(), Duration::from_secs(30));
        assert_eq!(config.max_connections_per_ip, 32);
        assert_eq!(config.max_reservations_per_ip, 4);
        assert_eq!(config.replay_downloads_per_ip, 2);
        let min_rate = config.replay_download_min_rate();
        assert_eq!((min_rate.bytes, min_rate.window), (32 * 1024, Duration::from_secs(10)));
        assert_eq!(config.max_rooms_per_ip, 5);
        assert_eq!(config.max_house_bots, 2000);
        assert!(Config::try_parse_from(["arena-server", "--max-house-bots", "100001"]).is_err());
        assert_eq!(config.rooms_per_ip_per_hour, 20);
        assert_eq!(config.max_private_rooms, None);
        assert_eq!(config.private_room_limit(), 100, "half of --max-rooms 200");
        assert_eq!(config.sessions_per_ip_per_minute, 30);
        assert_eq!(config.metrics_addr, None);
        assert_eq!(config.results_log_max_mb, 64);
        assert!(config.trusted_proxies.is_empty());
        assert_eq!(parse(&["--max-rooms", "7"]).private_room_limit(), 4);
        assert_eq!(parse(&["--max-private-rooms", "3"]).private_room_limit(), 3);
        let metrics = parse(&["--metrics-addr", "127.0.0.1:9100"]).metrics_addr;
        assert_eq!(metrics, Some("127.0.0.1:9100".parse().unwrap()));
    }
}
