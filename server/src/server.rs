//! The server's entry: build the parts (operations, lobby, edge), serve until
//! shutdown, then drain. Nothing else in the crate names this module.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::accounts::api::AccountsApi;
use crate::accounts::token_versions::TokenVersions;
use crate::accounts::{self, Store};
use crate::config::Config;
use crate::edge::assets::Assets;
use crate::edge::listener::{Listener, serve_metrics, serve_redirect};
use crate::edge::router::Routes;
use crate::edge::session::{Limits, Sessions};
use crate::edge::tls::Tls;
use crate::identity::Tokens;
use crate::lobby::addresses::AddressTable;
use crate::lobby::admin::AdminApi;
use crate::lobby::api::LobbyApi;
use crate::lobby::budgets::RateWindow;
use crate::lobby::cluster::{Cluster, node_tls};
use crate::lobby::join::JoinChecks;
use crate::lobby::replays::{self as replays_api, ReplayApi};
use crate::lobby::room_list::{self, RoomListFeed};
use crate::lobby::{Directory, DirectoryLimits};
use crate::monitor::Monitor;
use crate::ops::history::{self, History};
use crate::ops::{metrics, results};
use crate::replay;
use crate::room::RoomSetup;
use crate::settings::{GameSettings, SettingsError};

/// How long shutdown waits, after the rooms have closed, for connections to end.
const CLOSE_FRAMES_GRACE: Duration = Duration::from_millis(500);

/// How often unclaimed matchmaking seats are given back.
const RESERVATION_SWEEP_EVERY: Duration = Duration::from_millis(500);

/// Load the game settings the config points at: the file when it exists,
/// otherwise (no file at the default path) the compiled-in defaults; with neither
/// --settings nor --assets-dir, the copy of `assets/settings.toml` built into the binary.
pub fn load_settings(config: &Config) -> anyhow::Result<GameSettings> {
    let Some(path) = config.settings_path() else {
        let Some(text) = Assets::built_in_settings() else { return Ok(GameSettings::default()) };
        let path = "assets/settings.toml (built in)".to_string();
        let settings: GameSettings =
            toml::from_str(text).map_err(|source| SettingsError::Parse { path: path.clone(), source })?;
        settings.validate().map_err(|problem| SettingsError::Invalid { path, problem })?;
        return Ok(settings);
    };
    if config.settings.is_none() && !path.exists() {
        tracing::warn!(path = %path.display(), "no settings file; using compiled-in defaults");
        return Ok(GameSettings::default());
    }
    Ok(GameSettings::load(&path)?)
}

/// Everything a start checks before it binds the port, for `main` (and `--check`):
/// flags and environment, the settings file, the TLS certificate and key, and the
/// data folder (created here).
pub fn check(config: &mut Config) -> anyhow::Result<()> {
    config.validate()?;
    load_settings(config)?;
    if let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) {
        Tls::load(cert, key).context("--tls-cert/--tls-key (ARENA_TLS_CERT/ARENA_TLS_KEY)")?;
    }
    if let Some(ca) = &config.internal_ca {
        node_tls::client_config(Some(ca)).context("--internal-ca (ARENA_INTERNAL_CA)")?;
    }
    std::fs::create_dir_all(&config.data_dir).with_context(|| {
        format!("--data-dir (ARENA_DATA_DIR): cannot create the data folder {}", config.data_dir.display())
    })?;
    Ok(())
}

/// Serve until `shutdown` resolves, then drain: refuse new players, let every room
/// close its clients (1001) and log its round, and wait (bounded) for it all.
pub async fn run(listener: TcpListener, mut config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    config.validate()?;
    metrics::init();
    Assets::new(config.assets_dir.clone()).log_missing_packages().await;
    let config = Arc::new(config);
    let local_addr = listener.local_addr()?;
    let parts = Parts::build(&config, local_addr).await?;
    let routes = Arc::new(parts.routes(&config, local_addr));
    let mut background = parts.spawn_background(&config).await?;
    let tls = start_tls(&config, local_addr.port(), &mut background).await?;

    let connection_limit = config.max_connections.max(1);
    let connections = Arc::new(Semaphore::new(connection_limit));
    let (stop_tx, stop_rx) = watch::channel(false);
    let listener = Listener {
        listener,
        connections: connections.clone(),
        routes,
        handshake_timeout: config.handshake_timeout(),
        stop: stop_rx,
        tls,
    };
    tokio::select! {
        _ = listener.run() => {}
        _ = shutdown => {}
    }
    drop(listener);
    parts.ready.store(false, Ordering::Release);
    let open_connections = || connection_limit - connections.available_permits();
    let drain = Drain {
        directory: &parts.directory,
        results: &parts.results,
        replays: parts.replays.as_deref(),
        deadline: tokio::time::Instant::now() + config.drain_timeout(),
    };
    drain.run(stop_tx, background, &parts.room_list, open_connections).await;
    Ok(())
}

/// The long-lived parts of one server, before they are handed out.
struct Parts {
    directory: Arc<Directory>,
    results: Arc<results::ResultsLog>,
    /// None with --no-replays.
    replays: Option<Arc<replay::Replays>>,
    cluster: Option<Arc<Cluster>>,
    tokens: Arc<Tokens>,
    /// Accounts, ratings and history.
    store: Store,
    /// Account tokens' versions, checked at join.
    token_versions: Arc<TokenVersions>,
    /// False while draining.
    ready: Arc<AtomicBool>,
    history: Arc<History>,
    room_list: Arc<RoomListFeed>,
    /// This node's base URL for clients and other nodes: `--public-url`, or `http://`
    /// and the address it listens on.
    public_url: String,
}

impl Parts {
    async fn build(config: &Config, local_addr: SocketAddr) -> anyhow::Result<Parts> {
        let scheme = if config.tls_cert.is_some() { "https" } else { "http" };
        let public_url = config.public_url.clone().unwrap_or_else(|| format!("{scheme}://{local_addr}"));
        let mut settings = load_settings(config)?;
        if let Some(fill_to) = config.quick_play_bots {
            settings.quick_play_bots.fill_to = usize::from(fill_to);
        }
        let cluster = join_cluster(config, &public_url)?;
        let store = Store::open(&config.database_url)
            .await
            .context("--database-url (ARENA_DATABASE_URL): cannot open the account database")?;
        // The results log first; the store writer derives the database from what it wrote.
        let (feed, inbox) = accounts::writer::channel();
        let results = results::spawn_writer_feeding(
            config.results_log.clone(),
            config.results_log_max_mb * 1024 * 1024,
            Some(feed),
        );
        tokio::spawn(accounts::writer::run(store.clone(), inbox, config.results_log.clone()));
        let replays = match config.replay_policy() {
            Some(policy) => Some(replay::spawn_writer(policy).with_context(|| {
                format!("--replay-dir (ARENA_REPLAY_DIR): cannot use the replay folder {}", config.replay_dir.display())
            })?),
            None => None,
        };
        let directory = Directory::new(
            DirectoryLimits {
                capacity: usize::from(config.room_capacity),
                tick_rate_hz: config.tick_rate,
                snapshot_rate_hz: config.snapshot_rate,
                max_rooms: config.max_rooms,
                max_spectators: config.max_spectators,
                reservation_ttl: config.reservation_ttl(),
                max_private_rooms: config.private_room_limit(),
                max_rooms_per_address: config.max_rooms_per_ip,
                max_reservations_per_address: config.max_reservations_per_ip,
                max_house_bots: config.max_house_bots as usize,
            },
            RoomSetup {
                settings,
                reconnect_grace: config.reconnect_grace(),
                empty_room_grace: config.empty_room_grace(),
                results: results.clone(),
                replays: replays.clone(),
                room_thread_nice: config.room_thread_nice,
            },
        );
        Ok(Parts {
            directory,
            results,
            replays,
            cluster,
            public_url,
            tokens: Arc::new(Tokens::new(config.jwt_secret.as_deref(), Duration::from_secs(config.session_ttl_s))),
            token_versions: Arc::new(TokenVersions::new(store.clone())),
            store,
            ready: Arc::new(AtomicBool::new(true)),
            history: Arc::new(History::default()),
            room_list: Arc::new(RoomListFeed::default()),
        })
    }

    /// Each part of the edge gets what it uses, and nothing else.
    fn routes(&self, config: &Arc<Config>, local_addr: SocketAddr) -> Routes {
        Routes {
            lobby: LobbyApi {
                directory: self.directory.clone(),
                cluster: self.cluster.clone(),
                tokens: self.tokens.clone(),
                public_url: self.public_url.clone(),
                local_addr,
                reservation_ttl: config.reservation_ttl(),
                body_timeout: config.body_timeout(),
                rooms_per_hour: RateWindow::new(
                    "rooms_per_address_per_hour",
                    config.rooms_per_ip_per_hour,
                    Duration::from_secs(3600),
                ),
                sessions_per_minute: RateWindow::new(
                    "sessions_per_address_per_minute",
                    config.sessions_per_ip_per_minute,
                    Duration::from_secs(60),
                ),
                accounts: Arc::new(self.accounts_api(config)),
            },
            replays: ReplayApi {
                replays: self.replays.clone(),
                tokens: self.tokens.clone(),
                public_url: self.public_url.clone(),
                cluster: self.cluster.clone(),
                requests_per_minute: replays_api::requests_per_minute(config.replay_requests_per_ip_per_minute),
                downloads: Arc::new(Semaphore::new(replays_api::DOWNLOADS_AT_ONCE)),
                // Every address it is given is counted: `Caller::counted` leaves out the exempt.
                downloads_per_address: AddressTable::new(config.replay_downloads_per_ip, true),
                min_rate: config.replay_download_min_rate(),
                fan_outs: Arc::new(Semaphore::new(replays_api::across_nodes::LISTINGS_AT_ONCE)),
            },
            admin: AdminApi {
                directory: self.directory.clone(),
                cluster: self.cluster.clone(),
                admin_token: config.admin_token.clone(),
                fault_injection: config.fault_injection,
                body_timeout: config.body_timeout(),
            },
            monitor: Monitor {
                directory: self.directory.clone(),
                history: self.history.clone(),
                started: Instant::now(),
                local_addr,
                ready: self.ready.clone(),
                admin_token: config.admin_token.clone(),
            },
            sessions: Arc::new(Sessions {
                join: JoinChecks {
                    tokens: self.tokens.clone(),
                    token_versions: self.token_versions.clone(),
                    require_auth: config.require_auth,
                    directory: self.directory.clone(),
                },
                room_list: self.room_list.clone(),
                limits: Limits::from_config(config),
                handshake_timeout: config.handshake_timeout(),
            }),
            addresses: AddressTable::new(config.max_connections_per_ip, config.limit_loopback),
            directory: self.directory.clone(),
            ready: self.ready.clone(),
            config: config.clone(),
            assets_dir: Assets::new(config.assets_dir.clone()),
        }
    }

    fn accounts_api(&self, config: &Config) -> AccountsApi {
        AccountsApi {
            store: self.store.clone(),
            tokens: self.tokens.clone(),
            versions: self.token_versions.clone(),
            passwords: Default::default(),
            sign_in_limit: Default::default(),
            body_timeout: config.body_timeout(),
            accounts_per_hour: RateWindow::new(
                "accounts_per_address_per_hour",
                config.accounts_per_ip_per_hour,
                Duration::from_secs(3600),
            ),
            sign_ins_per_minute: RateWindow::new(
                "sign_ins_per_address_per_minute",
                config.sign_ins_per_ip_per_minute,
                Duration::from_secs(60),
            ),
            reads_per_minute: RateWindow::new(
                "board_reads_per_address_per_minute",
                config.board_reads_per_ip_per_minute,
                Duration::from_secs(60),
            ),
            account_reads_per_minute: RateWindow::keyed(
                "board_reads_per_account_per_minute",
                config.board_reads_per_account_per_minute,
                Duration::from_secs(60),
                "one account",
            ),
        }
    }

    /// The tasks beside the listener: upkeep, the monitor's sampler, the room list,
    /// `/metrics` on its own address, and the cluster's heartbeat and subscription.
    async fn spawn_background(&self, config: &Config) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
        let directory = self.directory.clone();
        let population = move || directory.population();
        let mut background = vec![
            spawn_upkeep(self.directory.clone()),
            history::spawn_sampler(population, self.history.clone()),
            tokio::spawn(room_list::run(self.room_list.clone(), self.directory.clone(), self.cluster.clone())),
        ];
        if let Some(addr) = config.metrics_addr {
            let metrics_listener = TcpListener::bind(addr).await?;
            tracing::info!(addr = %metrics_listener.local_addr()?, "serving /metrics on its own address");
            background.push(tokio::spawn(serve_metrics(metrics_listener, self.directory.clone())));
        }
        if let Some(cluster) = &self.cluster {
            background.push(cluster.spawn_heartbeat(self.directory.clone()));
            background.push(cluster.spawn_subscriber(self.directory.clone()));
        }
        Ok(background)
    }
}

/// `--tls-cert`: load the pair (a bad one fails the start), reload it in the
/// background, and serve `--http-redirect-addr`'s redirects to `https_port`.
async fn start_tls(
    config: &Config,
    https_port: u16,
    background: &mut Vec<tokio::task::JoinHandle<()>>,
) -> anyhow::Result<Option<Arc<Tls>>> {
    let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) else { return Ok(None) };
    let tls = Arc::new(Tls::load(cert, key)?);
    tracing::info!(cert = %cert.display(), "serving HTTPS and WSS (reloaded on SIGHUP or when the files change)");
    background.push(tokio::spawn(tls.clone().reload_forever()));
    if let Some(addr) = config.http_redirect_addr {
        let redirect_listener = TcpListener::bind(addr).await?;
        tracing::info!(addr = %redirect_listener.local_addr()?, "redirecting plain HTTP to https");
        background.push(tokio::spawn(serve_redirect(redirect_listener, https_port)));
    }
    Ok(Some(tls))
}

/// Membership in a multi-node lobby, with `--redis-url`.
fn join_cluster(config: &Config, public_url: &str) -> anyhow::Result<Option<Arc<Cluster>>> {
    let Some(url) = &config.redis_url else { return Ok(None) };
    let Some(secret) = config.jwt_secret.as_deref().filter(|s| !s.is_empty()) else {
        anyhow::bail!(
            "--redis-url needs --jwt-secret (ARENA_JWT_SECRET or --jwt-secret-file), the same on every node: \
             nodes sign the calls they pass to each other with it"
        );
    };
    let node_id = config.node_id.clone().unwrap_or_else(|| format!("node-{:08x}", rand::random::<u32>()));
    let ttl = Duration::from_secs(config.node_ttl_s.max(1));
    let node_tls =
        node_tls::client_config(config.internal_ca.as_deref()).context("--internal-ca (ARENA_INTERNAL_CA)")?;
    let internal_url = config.internal_url.clone();
    tracing::info!(%node_id, %public_url, internal_url = internal_url.as_deref().unwrap_or(public_url), "joining the cluster lobby through Redis");
    Ok(Some(Cluster::new(url, node_id, public_url.to_string(), internal_url, ttl, secret.as_bytes(), node_tls)?))
}

/// Unclaimed matchmaking seats go back to their rooms; metric windows roll.
fn spawn_upkeep(directory: Arc<Directory>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(RESERVATION_SWEEP_EVERY);
        loop {
            every.tick().await;
            directory.expire_reservations();
            metrics::upkeep();
        }
    })
}

/// The shutdown sequence, bounded by one deadline.
struct Drain<'a> {
    directory: &'a Directory,
    results: &'a results::ResultsLog,
    replays: Option<&'a replay::Replays>,
    deadline: tokio::time::Instant,
}

impl Drain<'_> {
    async fn run(
        self,
        stop_connections: watch::Sender<bool>,
        background: Vec<tokio::task::JoinHandle<()>>,
        room_list: &RoomListFeed,
        open_connections: impl Fn() -> usize,
    ) {
        let started = Instant::now();
        let (room_count, player_count) = self.directory.population();
        tracing::info!(rooms = room_count, players = player_count, "shutting down: draining");
        let _ = stop_connections.send(true);
        self.directory.stop_all();
        // Rooms notice the stop within one tick, log their rounds and close their clients.
        self.wait_until(|| self.directory.room_count() == 0, Duration::from_millis(20)).await;
        for task in background {
            task.abort();
        }
        room_list.close();
        // Every finished round reaches the results log before we return.
        self.wait_until(|| self.results.all_written(), Duration::from_millis(10)).await;
        // And every round's replay, the ones cut short by the drain included, is closed readable.
        self.wait_until(|| self.replays.is_none_or(replay::Replays::all_written), Duration::from_millis(10)).await;
        // Rooms and the room list have told every connection why it closes; give the
        // writers a moment to put those close frames on the wire before the process
        // exits, without waiting out clients that never answer them.
        let frames = Drain { deadline: self.deadline.min(tokio::time::Instant::now() + CLOSE_FRAMES_GRACE), ..self };
        frames.wait_until(|| open_connections() == 0, Duration::from_millis(10)).await;
        tracing::info!(
            rooms = room_count,
            players = player_count,
            rooms_not_closed = self.directory.room_count(),
            connections_not_closed = open_connections(),
            took_ms = started.elapsed().as_millis() as u64,
            "drained: every room closed its players with 1001 and logged its round"
        );
    }

    async fn wait_until(&self, done: impl Fn() -> bool, poll: Duration) {
        while !done() && tokio::time::Instant::now() < self.deadline {
            tokio::time::sleep(poll).await;
        }
    }
}
