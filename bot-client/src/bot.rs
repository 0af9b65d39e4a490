//! One bot's life: connect, play at the snapshot rate, ping, measure, maybe drop
//! and reconnect (churn), leave.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arena_protocol::{ClientMsg, Ping, ServerMsg, Welcome};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::behavior::Behavior;
use crate::client::{ArenaClient, Incoming, RecvError};
use crate::stats::BotStats;
use crate::timeline::Timeline;

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
    /// Drops per second: the bot cuts its connection without a close and joins
    /// again with its token, as a player on a flaky network would. Default: 0.
    pub churn_per_s: f64,
    /// Answer the server's WebSocket pings. Default: true; false tests the heartbeat.
    pub answer_pings: bool,
    /// Where to record per-second figures for the report's charts. Default: none.
    pub timeline: Option<Arc<Timeline>>,
    /// Counts connected bots (incremented on welcome, decremented at the end). Default: none.
    pub connected_gauge: Option<Arc<AtomicUsize>>,
}

impl BotConfig {
    pub fn new(url: String, duration: Duration) -> BotConfig {
        BotConfig {
            url,
            duration,
            ping_interval: Duration::from_secs(1),
            stall_timeout: Duration::from_secs(5),
            churn_per_s: 0.0,
            answer_pings: true,
            timeline: None,
            connected_gauge: None,
        }
    }
}

async fn connect_and_welcome(url: &str, stall: Duration, answer_pings: bool) -> Result<(ArenaClient, Welcome), String> {
    let mut client = ArenaClient::connect_with(url, &[], answer_pings).await.map_err(|e| format!("connect: {e}"))?;
    let welcome = client
        .recv_until(stall, |msg| match msg {
            ServerMsg::Welcome(w) => Some(w.clone()),
            _ => None,
        })
        .await
        .map_err(|e| format!("no welcome: {e}"))?;
    Ok((client, welcome))
}

/// The URL that takes a dropped bot back to its room (a reservation is single-use).
fn rejoin_url(url: &str, room_id: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let kept: Vec<&str> =
        query.split('&').filter(|kv| !kv.starts_with("room=") && !kv.starts_with("reservation=")).collect();
    format!("{base}?{}&room={room_id}", kept.join("&"))
}

/// Play one bot to the end and return what it measured. `clock` is the
/// origin of ping timestamps, shared by all bots.
pub async fn run_bot(config: BotConfig, clock: Instant) -> BotStats {
    let stats = play(&config, clock).await;
    if let Some(gauge) = &config.connected_gauge
        && stats.connected
    {
        gauge.fetch_sub(1, Ordering::Relaxed);
    }
    if let Some(timeline) = &config.timeline {
        let errors = stats.protocol_errors.len() + usize::from(stats.connect_error.is_some());
        (0..errors).for_each(|_| timeline.error());
    }
    stats
}

async fn play(config: &BotConfig, clock: Instant) -> BotStats {
    let mut stats = BotStats::default();
    let (mut client, mut welcome) =
        match connect_and_welcome(&config.url, config.stall_timeout, config.answer_pings).await {
            Ok(pair) => pair,
            Err(e) => {
                stats.connect_error = Some(e);
                return stats;
            }
        };
    stats.connected = true;
    if let Some(gauge) = &config.connected_gauge {
        gauge.fetch_add(1, Ordering::Relaxed);
    }
    stats.announced_rate_hz = Some(welcome.snapshot_rate_hz);
    let mut rng = StdRng::from_rng(&mut rand::rng());
    let mut behavior = Behavior::new(&welcome, StdRng::from_rng(&mut rng));
    let churn_per_snapshot = config.churn_per_s / f64::from(welcome.snapshot_rate_hz.max(1));
    let deadline = Instant::now() + config.duration;
    let mut next_ping = Instant::now();

    // Inputs go out once per received snapshot: one per tick, as a client
    // rendering the game would send them.
    while Instant::now() < deadline {
        match client.recv(config.stall_timeout).await {
            Ok(Incoming::Message(msg, len)) => {
                stats.bytes_in += len as u64;
                if let Some(t) = &config.timeline {
                    t.bytes_in(len);
                }
                match msg {
                    ServerMsg::Snapshot(snapshot) => {
                        let now = Instant::now();
                        stats.record_snapshot(now);
                        if churn_per_snapshot > 0.0 && rng.random_bool(churn_per_snapshot.min(1.0)) {
                            drop(client);
                            let started = Instant::now();
                            match connect_and_welcome(
                                &rejoin_url(&config.url, &welcome.room_id),
                                config.stall_timeout,
                                config.answer_pings,
                            )
                            .await
                            {
                                Ok((again, new_welcome)) => {
                                    stats.record_reconnect(started.elapsed(), new_welcome.net_id == welcome.net_id);
                                    // Gaps across a reconnection are not the server's jitter.
                                    stats.last_snapshot = None;
                                    client = again;
                                    welcome = new_welcome;
                                    behavior = Behavior::new(&welcome, StdRng::from_rng(&mut rng));
                                    continue;
                                }
                                Err(e) => {
                                    stats.reconnect_failures += 1;
                                    stats.protocol_errors.push(format!("reconnect: {e}"));
                                    return stats;
                                }
                            }
                        }
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
                            Ok(n) => {
                                stats.bytes_out += n as u64;
                                if let Some(t) = &config.timeline {
                                    t.bytes_out(n);
                                }
                            }
                            Err(e) => {
                                stats.protocol_errors.push(format!("send: {e}"));
                                return stats;
                            }
                        }
                    }
                    ServerMsg::Pong(pong) => {
                        let now_ms = clock.elapsed().as_secs_f64() * 1000.0;
                        let rtt = Duration::from_secs_f64(((now_ms - pong.client_time_ms) / 1000.0).max(0.0));
                        stats.record_rtt(rtt);
                        if let Some(t) = &config.timeline {
                            t.rtt(rtt);
                        }
                    }
                    _ => {}
                }
            }
            Ok(Incoming::WsPong(_) | Incoming::WsPing(_)) => {}
            Ok(Incoming::Closed { code, reason }) => {
                stats.protocol_errors.push(format!("closed by server: {code} {reason}"));
                return stats;
            }
            Err(RecvError::Timeout(after)) => {
                stats.protocol_errors.push(format!("no message for {after:?}"));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejoin_url_names_the_room_and_drops_the_reservation() {
        let url = "ws://h:1/ws?room=a&reservation=r&v=1&name=bot-3&token=t";
        assert_eq!(rejoin_url(url, "b"), "ws://h:1/ws?v=1&name=bot-3&token=t&room=b");
    }
}
