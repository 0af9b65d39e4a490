//! Process-wide counters the hot paths bump (tick durations, bytes out, closes),
//! which the history sampler turns into per-second figures for `/monitor`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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

    /// Bytes sent since the process started.
    pub fn bytes_out(&self) -> u64 {
        self.bytes_out.load(Ordering::Relaxed)
    }

    /// Connections closed since the process started.
    pub fn closes(&self) -> u64 {
        self.closes.load(Ordering::Relaxed)
    }

    /// Tick p50 and p99 in ms since the last call (upper bucket bounds), and resets.
    pub(crate) fn take_tick_quantiles(&self) -> (f64, f64) {
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
