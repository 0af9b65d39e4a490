//! One bot's life: connect, play at the snapshot rate, ping, measure, maybe drop
//! and reconnect (churn), leave.

mod churn;
mod config;
mod frame;
mod join;
mod outbox;
pub mod retry;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arena_protocol::client_msg::MAX_EARLIER_INPUTS;
use arena_protocol::{Baselines, Input, Snapshot, Tick, Welcome};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::behavior::Behavior;
use crate::client::ArenaClient;
use crate::stats::BotStats;
use churn::Churn;
pub use config::{BotConfig, DEFAULT_RECONNECT_RETRIES, Decode};
use frame::Step;
use outbox::{Pings, Unsent};
use retry::LossCause;

/// Play one bot to the end and return what it measured. `clock` is the
/// origin of ping timestamps, shared by all bots.
pub async fn run_bot(config: BotConfig, clock: Instant) -> BotStats {
    let stats = play(&config, clock).await;
    if let Some(timeline) = &config.timeline {
        let errors = stats.protocol_errors.len() + usize::from(stats.connect_error.is_some());
        (0..errors).for_each(|_| timeline.error());
    }
    stats
}

/// What lives as long as one connection: a reconnection starts it afresh.
struct Connection {
    client: ArenaClient,
    welcome: Welcome,
    behavior: Behavior,
    /// Deltas apply to snapshots of this connection only.
    baselines: Baselines,
    unsent: Unsent,
    /// Counts this connection in the connected-bots gauge while it is open.
    _counted: Counted,
}

/// One count in the connected-bots gauge, taken back when dropped: a bot away
/// between a drop and its reconnection is not connected.
struct Counted(Option<Arc<AtomicUsize>>);

impl Counted {
    fn new(gauge: Option<&Arc<AtomicUsize>>) -> Counted {
        if let Some(gauge) = gauge {
            gauge.fetch_add(1, Ordering::Relaxed);
        }
        Counted(gauge.cloned())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        if let Some(gauge) = &self.0 {
            gauge.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Connection {
    fn new(client: ArenaClient, welcome: Welcome, config: &BotConfig, rng: &mut StdRng) -> Connection {
        let behavior = Behavior::new(&welcome, StdRng::from_rng(rng));
        let (baselines, unsent) = (Baselines::default(), Unsent::default());
        Connection {
            client,
            welcome,
            behavior,
            baselines,
            unsent,
            _counted: Counted::new(config.connected_gauge.as_ref()),
        }
    }

    /// Decide the input for this snapshot. Bots act on the newest snapshot: that is
    /// both what they acknowledge (when they ask for deltas) and what they see.
    fn decide(&mut self, tick: Tick, snapshot: Option<&Snapshot>, deltas: bool) -> Input {
        let mut input = match snapshot {
            Some(snapshot) => self.behavior.decide(snapshot),
            None => self.behavior.decide_blind(),
        };
        if deltas {
            input.ack_tick = tick;
        }
        input.view_tick = tick;
        input
    }
}

/// Join, play until the play time is over, and leave with a clean close.
async fn play(config: &BotConfig, clock: Instant) -> BotStats {
    let mut stats = BotStats::default();
    let (client, welcome) = match join::join(config, &config.url).await {
        Ok(pair) => pair,
        Err(refusal) => {
            stats.connect_error = Some(refusal.to_string());
            return stats;
        }
    };
    stats.connected = true;
    stats.announced_rate_hz = Some(welcome.snapshot_rate_hz);
    let mut rng = StdRng::from_rng(&mut rand::rng());
    let connection = Connection::new(client, welcome, config, &mut rng);
    match play_loop(config, clock, connection, &mut rng, &mut stats).await {
        Ok(Some(mut connection)) => {
            let _ = connection.client.close(1000, "bot done").await;
            let _ = connection.client.recv_close(Duration::from_secs(1)).await;
        }
        Ok(None) => {}
        Err(e) => stats.protocol_errors.push(e),
    }
    stats
}

/// Play until the play time is over; returns the connection then open (none when the
/// time ran out while a churned bot waited to retry its reconnect), or why the bot stopped.
///
/// Inputs are decided once per received snapshot: one per tick, as a client
/// rendering the game would; they go out every `input_every` snapshots.
async fn play_loop(
    config: &BotConfig,
    clock: Instant,
    mut connection: Connection,
    rng: &mut StdRng,
    stats: &mut BotStats,
) -> Result<Option<Connection>, String> {
    let input_every = config.input_every.clamp(1, 1 + MAX_EARLIER_INPUTS as u32) as usize;
    let churn = Churn::new(config.churn_per_s, connection.welcome.snapshot_rate_hz);
    let deadline = Instant::now() + config.duration;
    let mut pings = Pings { next: Instant::now(), interval: config.ping_interval, clock };
    while Instant::now() < deadline {
        let step = frame::receive(&mut connection.client, &mut connection.baselines, config, clock, stats).await?;
        let Step::Snapshot(tick, snapshot) = step else { continue };
        let now = Instant::now();
        stats.record_snapshot(now);
        if churn.drops_now(rng) {
            connection = match churn::drop_and_rejoin(config, connection, deadline, rng, &mut stats.reconnections).await
            {
                Ok(back) => back,
                // Counted as lost, but no error: the bot was about to leave anyway.
                Err(lost) if lost.cause == LossCause::PlayTimeEnded => return Ok(None),
                Err(lost) => return Err(lost.error),
            };
            // Gaps across a reconnection are not the server's jitter.
            stats.last_snapshot = None;
            continue;
        }
        let input = connection.decide(tick, snapshot.as_ref(), config.deltas);
        connection.unsent.0.push(input);
        if connection.unsent.0.len() < input_every {
            continue;
        }
        let sent = outbox::send_due(&mut connection.client, &mut connection.unsent, &mut pings, now).await;
        stats.count_out(sent.map_err(|e| format!("send: {e}"))?, config.timeline.as_deref());
    }
    Ok(Some(connection))
}
