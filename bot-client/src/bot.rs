//! One bot's life: connect, play at the snapshot rate, ping, measure, maybe drop
//! and reconnect (churn), leave.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arena_protocol::client_msg::MAX_EARLIER_INPUTS;
use arena_protocol::{Baselines, ClientMsg, Input, Ping, ServerMsg, Snapshot, SnapshotKind, Tick, Welcome};
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
    /// How much of each snapshot the bot decodes. Default: everything.
    pub decode: Decode,
    /// Send an input every this many snapshots, carrying the ones in between
    /// (`Input::earlier`, at most 4 in one). Default: 1, one input per snapshot.
    pub input_every: u32,
    /// Acknowledge snapshots so the server sends deltas. Default: true.
    pub deltas: bool,
}

/// How much of each snapshot a bot decodes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Decode {
    /// Every entity (deltas applied to rebuild the whole state); the bot aims at enemies.
    #[default]
    Full,
    /// Only tick and input ack; the bot wanders and fires blind. One machine drives many more bots.
    Headers,
}

impl Decode {
    pub fn name(self) -> &'static str {
        match self {
            Decode::Full => "full",
            Decode::Headers => "headers",
        }
    }
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
            decode: Decode::Full,
            input_every: 1,
            deltas: true,
        }
    }
}

async fn connect_and_welcome(config: &BotConfig, url: &str) -> Result<(ArenaClient, Welcome), String> {
    let (stall, answer_pings) = (config.stall_timeout, config.answer_pings);
    let mut client = ArenaClient::connect_with(url, &[], answer_pings).await.map_err(|e| format!("connect: {e}"))?;
    if config.decode == Decode::Headers {
        client.recv_headers_only();
    }
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

/// What one received frame means for the bot's loop.
enum Step {
    /// A snapshot: the tick it shows, and its entities when the bot decodes them.
    Snapshot(Tick, Option<Snapshot>),
    Other,
}

/// The inputs a bot decided but has not sent yet (`input_every` > 1), newest last.
#[derive(Default)]
struct Unsent(Vec<Input>);

impl Unsent {
    /// The input to send: the newest, carrying the earlier ones newest first.
    fn bundle(&mut self) -> Option<Input> {
        let mut newest = self.0.pop()?;
        newest.earlier = self.0.drain(..).rev().map(|i| i.controls()).take(MAX_EARLIER_INPUTS).collect();
        Some(newest)
    }
}

async fn play(config: &BotConfig, clock: Instant) -> BotStats {
    let mut stats = BotStats::default();
    let (mut client, mut welcome) = match connect_and_welcome(config, &config.url).await {
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
    let mut baselines = Baselines::default();
    let mut unsent = Unsent::default();
    let input_every = config.input_every.clamp(1, 1 + MAX_EARLIER_INPUTS as u32);
    let churn_per_snapshot = config.churn_per_s / f64::from(welcome.snapshot_rate_hz.max(1));
    let deadline = Instant::now() + config.duration;
    let mut next_ping = Instant::now();

    // Inputs are decided once per received snapshot: one per tick, as a client
    // rendering the game would; they go out every `input_every` snapshots.
    while Instant::now() < deadline {
        let step = match client.recv(config.stall_timeout).await {
            Ok(Incoming::Message(msg, len)) => {
                stats.count_in(len, config.timeline.as_deref());
                match msg {
                    ServerMsg::Snapshot(snapshot) => {
                        baselines.keep_full(&snapshot);
                        Step::Snapshot(snapshot.tick, Some(snapshot))
                    }
                    ServerMsg::Delta(delta) => {
                        stats.delta_snapshots += 1;
                        match baselines.apply(&delta) {
                            Ok(snapshot) => Step::Snapshot(snapshot.tick, Some(snapshot)),
                            Err(e) => {
                                stats.protocol_errors.push(format!("undecodable delta: {e}"));
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
                        Step::Other
                    }
                    _ => Step::Other,
                }
            }
            Ok(Incoming::SnapshotHeader { kind, tick, len, .. }) => {
                stats.count_in(len, config.timeline.as_deref());
                stats.delta_snapshots += u64::from(kind == SnapshotKind::Delta);
                Step::Snapshot(tick, None)
            }
            Ok(Incoming::WsPong(_) | Incoming::WsPing(_)) => Step::Other,
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
        };
        let Step::Snapshot(tick, snapshot) = step else { continue };
        let now = Instant::now();
        stats.record_snapshot(now);
        if churn_per_snapshot > 0.0 && rng.random_bool(churn_per_snapshot.min(1.0)) {
            drop(client);
            let started = Instant::now();
            match connect_and_welcome(config, &rejoin_url(&config.url, &welcome.room_id)).await {
                Ok((again, new_welcome)) => {
                    stats.record_reconnect(started.elapsed(), new_welcome.net_id == welcome.net_id);
                    // Gaps across a reconnection are not the server's jitter.
                    stats.last_snapshot = None;
                    client = again;
                    welcome = new_welcome;
                    behavior = Behavior::new(&welcome, StdRng::from_rng(&mut rng));
                    baselines.clear();
                    unsent = Unsent::default();
                    continue;
                }
                Err(e) => {
                    stats.reconnect_failures += 1;
                    stats.protocol_errors.push(format!("reconnect: {e}"));
                    return stats;
                }
            }
        }
        let mut input = match &snapshot {
            Some(snapshot) => behavior.decide(snapshot),
            None => behavior.decide_blind(),
        };
        // Bots act on the newest snapshot: that is both what they acknowledge and what they see.
        if config.deltas {
            input.ack_tick = tick;
        }
        input.view_tick = tick;
        unsent.0.push(input);
        if unsent.0.len() < input_every as usize {
            continue;
        }
        let sent = async {
            let mut bytes = match unsent.bundle() {
                Some(input) => client.send(&ClientMsg::Input(input)).await?,
                None => 0,
            };
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

    #[test]
    fn unsent_inputs_go_out_as_one_carrying_the_earlier_ones_newest_first() {
        let mut unsent = Unsent::default();
        assert!(unsent.bundle().is_none());
        for seq in 1..=3 {
            unsent.0.push(Input::new(seq, glam::Vec2::ZERO, seq as f32 / 10.0, false));
        }
        let bundle = unsent.bundle().unwrap();
        assert_eq!(bundle.seq, 3);
        assert_eq!(bundle.earlier.iter().map(|c| c.aim).collect::<Vec<_>>(), vec![0.2, 0.1]);
        assert!(unsent.0.is_empty());
    }
}
