//! One bot's life: connect, play at the snapshot rate, ping, measure, leave.

use std::time::{Duration, Instant};

use arena_protocol::{ClientMsg, Ping, ServerMsg};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::behavior::Behavior;
use crate::client::{ArenaClient, Incoming};
use crate::stats::BotStats;

/// How one bot runs.
#[derive(Clone, Debug)]
pub struct BotConfig {
    /// Full `ws://…/ws?…` URL including this bot's join query.
    pub url: String,
    /// How long to play after joining.
    pub duration: Duration,
    /// Time between two ping messages. Default: 1 s.
    pub ping_interval: Duration,
    /// A gap this long without any message counts as an error. Default: 5 s.
    pub stall_timeout: Duration,
}

impl BotConfig {
    pub fn new(url: String, duration: Duration) -> BotConfig {
        BotConfig { url, duration, ping_interval: Duration::from_secs(1), stall_timeout: Duration::from_secs(5) }
    }
}

/// Play one bot to the end and return what it measured. `clock` is the
/// origin of ping timestamps, shared by all bots.
pub async fn run_bot(config: BotConfig, clock: Instant) -> BotStats {
    let mut stats = BotStats::default();
    let mut client = match ArenaClient::connect(&config.url).await {
        Ok(client) => client,
        Err(e) => {
            stats.connect_error = Some(format!("connect: {e}"));
            return stats;
        }
    };
    let welcome = match client
        .recv_until(config.stall_timeout, |msg| match msg {
            ServerMsg::Welcome(w) => Some(w.clone()),
            _ => None,
        })
        .await
    {
        Ok(welcome) => welcome,
        Err(e) => {
            stats.connect_error = Some(format!("no welcome: {e}"));
            return stats;
        }
    };
    stats.connected = true;
    stats.announced_rate_hz = Some(welcome.snapshot_rate_hz);
    let mut behavior = Behavior::new(&welcome, StdRng::from_rng(&mut rand::rng()));
    let deadline = Instant::now() + config.duration;
    let mut next_ping = Instant::now();

    // Inputs go out once per received snapshot: one per tick, as a client
    // rendering the game would send them.
    while Instant::now() < deadline {
        match client.recv(config.stall_timeout).await {
            Ok(Incoming::Message(msg, len)) => {
                stats.bytes_in += len as u64;
                match msg {
                    ServerMsg::Snapshot(snapshot) => {
                        let now = Instant::now();
                        stats.record_snapshot(now);
                        let input = behavior.decide(&snapshot);
                        let sent = async {
                            let mut bytes = client.send(&ClientMsg::Input(input)).await?;
                            if now >= next_ping {
                                next_ping = now + config.ping_interval;
                                let client_time_ms = clock.elapsed().as_secs_f64() * 1000.0;
                                bytes += client.send(&ClientMsg::Ping(Ping { client_time_ms })).await?;
                            }
                            Ok::<usize, fastwebsockets::WebSocketError>(bytes)
                        }
                        .await;
                        match sent {
                            Ok(n) => stats.bytes_out += n as u64,
                            Err(e) => {
                                stats.protocol_errors.push(format!("send: {e}"));
                                return stats;
                            }
                        }
                    }
                    ServerMsg::Pong(pong) => {
                        let now_ms = clock.elapsed().as_secs_f64() * 1000.0;
                        stats.record_rtt(Duration::from_secs_f64(((now_ms - pong.client_time_ms) / 1000.0).max(0.0)));
                    }
                    _ => {}
                }
            }
            Ok(Incoming::WsPong(_)) => {}
            Ok(Incoming::Closed { code, reason }) => {
                stats.protocol_errors.push(format!("closed by server: {code} {reason}"));
                return stats;
            }
            Err(e) => {
                stats.protocol_errors.push(format!("receive: {e}"));
                return stats;
            }
        }
    }
    let _ = client.close(1000, "bot done").await;
    let _ = client.recv_close(Duration::from_secs(1)).await;
    stats
}
