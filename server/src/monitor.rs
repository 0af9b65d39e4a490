//! Live telemetry for the `/monitor` page: a one-second sampler keeps the last
//! five minutes of tick p50/p99, players, bandwidth and closes.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use crate::rooms::{Rooms, unix_ms_after};

/// Samples kept: five minutes at one a second.
const HISTORY: usize = 300;
/// Tick-duration buckets: bucket `i` holds ticks under 2^i µs (the last one, the rest).
const TICK_BUCKETS: usize = 24;

/// Counters the hot paths bump; the sampler turns them into per-second figures.
/// Process-wide, like the metrics facade it sits beside.
pub struct Telemetry {
    tick_buckets: [AtomicU64; TICK_BUCKETS],
    bytes_out: AtomicU64,
    closes: AtomicU64,
}

static TELEMETRY: Telemetry = Telemetry {
    tick_buckets: [const { AtomicU64::new(0) }; TICK_BUCKETS],
    bytes_out: AtomicU64::new(0),
    closes: AtomicU64::new(0),
};

pub fn telemetry() -> &'static Telemetry {
    &TELEMETRY
}

impl Telemetry {
    pub fn record_tick(&self, took: Duration) {
        let micros = took.as_micros().max(1) as u64;
        let bucket = (64 - micros.leading_zeros() as usize).min(TICK_BUCKETS - 1);
        self.tick_buckets[bucket].fetch_add(1, Ordering::Relaxed);
    }

    pub fn bytes_sent(&self, bytes: usize) {
        self.bytes_out.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub fn closed(&self) {
        self.closes.fetch_add(1, Ordering::Relaxed);
    }

    /// Tick p50 and p99 in ms since the last call (upper bucket bounds), and resets.
    fn take_tick_quantiles(&self) -> (f64, f64) {
        let counts: Vec<u64> = self.tick_buckets.iter().map(|b| b.swap(0, Ordering::Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        let quantile = |q: f64| {
            let wanted = (total as f64 * q).ceil() as u64;
            let mut seen = 0;
            for (i, n) in counts.iter().enumerate() {
                seen += n;
                if seen >= wanted.max(1) {
                    return (1u64 << i) as f64 / 1000.0;
                }
            }
            0.0
        };
        if total == 0 { (0.0, 0.0) } else { (quantile(0.5), quantile(0.99)) }
    }
}

/// One second of the node's life.
#[derive(Clone, Debug, Serialize)]
pub struct Sample {
    pub t_ms: u64,
    pub tick_p50_ms: f64,
    pub tick_p99_ms: f64,
    pub rooms: usize,
    pub players: usize,
    pub bytes_out_per_s: u64,
    pub closes_per_s: u64,
}

/// The last minutes of samples.
#[derive(Debug, Default)]
pub struct History {
    samples: Mutex<VecDeque<Sample>>,
}

impl History {
    pub fn snapshot(&self) -> Vec<Sample> {
        self.samples.lock().expect("history lock").iter().cloned().collect()
    }
}

/// Sample once a second until the task is dropped.
pub fn spawn_sampler(rooms: Arc<Rooms>, history: Arc<History>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        let t = telemetry();
        let mut last_bytes = t.bytes_out.load(Ordering::Relaxed);
        let mut last_closes = t.closes.load(Ordering::Relaxed);
        loop {
            every.tick().await;
            let (tick_p50_ms, tick_p99_ms) = t.take_tick_quantiles();
            let bytes = t.bytes_out.load(Ordering::Relaxed);
            let closes = t.closes.load(Ordering::Relaxed);
            let sample = Sample {
                t_ms: unix_ms_after(Duration::ZERO),
                tick_p50_ms,
                tick_p99_ms,
                rooms: rooms.room_count(),
                players: rooms.player_count(),
                bytes_out_per_s: bytes.saturating_sub(last_bytes),
                closes_per_s: closes.saturating_sub(last_closes),
            };
            (last_bytes, last_closes) = (bytes, closes);
            let mut samples = history.samples.lock().expect("history lock");
            if samples.len() == HISTORY {
                samples.pop_front();
            }
            samples.push_back(sample);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_quantiles_come_from_the_buckets() {
        let t = Telemetry {
            tick_buckets: [const { AtomicU64::new(0) }; TICK_BUCKETS],
            bytes_out: AtomicU64::new(0),
            closes: AtomicU64::new(0),
        };
        for _ in 0..98 {
            t.record_tick(Duration::from_micros(100)); // bucket 7: under 128 µs
        }
        t.record_tick(Duration::from_millis(3)); // bucket 12: under 4096 µs
        t.record_tick(Duration::from_millis(3));
        assert_eq!(t.take_tick_quantiles(), (0.128, 4.096));
        assert_eq!(t.take_tick_quantiles(), (0.0, 0.0), "taking resets");
    }
}
