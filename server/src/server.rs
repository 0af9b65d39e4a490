//! The accept loop: one port for HTTP and WebSockets, and a drain on shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::identity::Tokens;
use crate::results;
use crate::rooms::{RoomDefaults, Rooms};
use crate::settings::GameSettings;

/// How long shutdown waits for connections to finish after rooms sent their close.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// What every connection needs.
#[derive(Debug)]
pub struct AppState {
    pub config: Config,
    pub rooms: Arc<Rooms>,
    pub tokens: Tokens,
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

/// Serve until `shutdown` resolves, then close every room and wait (bounded) for
/// connections to finish.
pub async fn run(listener: TcpListener, config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let settings = load_settings(&config)?;
    if !config.assets_dir.join("node_modules/@msgpack/msgpack/dist.esm/index.mjs").exists() {
        tracing::warn!("the browser client's packages are missing: run `scripts/deps.sh client` (npm ci in assets/)");
    }
    let (results, results_writer) = results::spawn_writer(config.results_log.clone());
    let rooms = Rooms::new(RoomDefaults {
        capacity: usize::from(config.room_capacity),
        tick_rate_hz: config.tick_rate,
        settings,
        empty_room_grace: config.empty_room_grace(),
        max_rooms: config.max_rooms,
        max_spectators: config.max_spectators,
        reconnect_grace: config.reconnect_grace(),
        reservation_ttl: config.reservation_ttl(),
        results: results.clone(),
    });
    let tokens = Tokens::new(config.jwt_secret.as_deref(), Duration::from_secs(config.session_ttl_s));
    let state = Arc::new(AppState { config, rooms: rooms.clone(), tokens });
    // Unclaimed matchmaking seats go back to their rooms.
    let sweeper = {
        let rooms = rooms.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(500));
            loop {
                every.tick().await;
                rooms.expire_reservations();
            }
        })
    };
    // Every connection task holds a receiver; it sees `true` on shutdown.
    let (stop_tx, stop_rx) = watch::channel(false);

    let accept = async {
        loop {
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
            let state = state.clone();
            let mut stop = stop_rx.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| crate::http::handle(req, state.clone(), peer));
                let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service).with_upgrades();
                tokio::pin!(conn);
                tokio::select! {
                    result = conn.as_mut() => if let Err(e) = result { tracing::debug!(%peer, error = %e, "http connection error") },
                    _ = async { let _ = stop.wait_for(|stopping| *stopping).await; } => {
                        conn.as_mut().graceful_shutdown();
                        let _ = tokio::time::timeout(DRAIN_TIMEOUT, conn).await;
                    }
                }
            });
        }
    };
    tokio::select! {
        _ = accept => {}
        _ = shutdown => tracing::info!("shutting down"),
    }
    drop(listener);
    let _ = stop_tx.send(true);
    rooms.stop_all();
    // Rooms notice the stop within one tick and send their clients a close.
    let deadline = tokio::time::Instant::now() + DRAIN_TIMEOUT;
    while rooms.room_count() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sweeper.abort();
    // Every finished round reaches the results log before we return.
    while results.capacity() < results.max_capacity() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(results);
    if results_writer.is_finished() {
        let _ = results_writer.await;
    }
    Ok(())
}
