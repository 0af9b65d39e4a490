//! One received frame: read it, count it, and say what it means for the bot's loop.

use std::time::{Duration, Instant};

use arena_protocol::{Baselines, ServerMsg, Snapshot, SnapshotKind, Tick};

use super::BotConfig;
use crate::client::{ArenaClient, Incoming, RecvError};
use crate::stats::BotStats;
use crate::timeline::Timeline;

/// What one received frame means for the bot's loop.
pub(super) enum Step {
    /// A snapshot: the tick it shows, and its entities when the bot decodes them.
    Snapshot(Tick, Option<Snapshot>),
    Other,
}

/// Receive the next frame and account for it. An error says why the bot stops:
/// the server closed, went quiet for the stall timeout, or sent something broken.
pub(super) async fn receive(
    client: &mut ArenaClient,
    baselines: &mut Baselines,
    config: &BotConfig,
    clock: Instant,
    stats: &mut BotStats,
) -> Result<Step, String> {
    let timeline = config.timeline.as_deref();
    match client.recv(config.stall_timeout).await {
        Ok(Incoming::Message(msg, len)) => {
            stats.count_in(len, timeline);
            on_message(msg, baselines, clock, timeline, stats)
        }
        Ok(Incoming::SnapshotHeader { kind, tick, len, .. }) => {
            stats.count_in(len, timeline);
            stats.delta_snapshots += u64::from(kind == SnapshotKind::Delta);
            Ok(Step::Snapshot(tick, None))
        }
        Ok(Incoming::WsPong(_) | Incoming::WsPing(_)) => Ok(Step::Other),
        Ok(Incoming::Closed { code, reason }) => Err(format!("closed by server: {code} {reason}")),
        Err(RecvError::Timeout(after)) => Err(format!("no message for {after:?}")),
        Err(e) => Err(format!("receive: {e}")),
    }
}

/// A decoded message: snapshots rebuild the state (deltas on their baseline), pongs give an RTT.
fn on_message(
    msg: ServerMsg,
    baselines: &mut Baselines,
    clock: Instant,
    timeline: Option<&Timeline>,
    stats: &mut BotStats,
) -> Result<Step, String> {
    match msg {
        ServerMsg::Snapshot(snapshot) => {
            baselines.keep_full(&snapshot);
            Ok(Step::Snapshot(snapshot.tick, Some(snapshot)))
        }
        ServerMsg::Delta(delta) => {
            stats.delta_snapshots += 1;
            let snapshot = baselines.apply(&delta).map_err(|e| format!("undecodable delta: {e}"))?;
            Ok(Step::Snapshot(snapshot.tick, Some(snapshot)))
        }
        ServerMsg::Pong(pong) => {
            let now_ms = clock.elapsed().as_secs_f64() * 1000.0;
            let rtt = Duration::from_secs_f64(((now_ms - pong.client_time_ms) / 1000.0).max(0.0));
            stats.record_rtt(rtt);
            if let Some(t) = timeline {
                t.rtt(rtt);
            }
            Ok(Step::Other)
        }
        _ => Ok(Step::Other),
    }
}
