//! Per-second figures of a load run (for the HTML report's charts): bytes, RTT
//! percentiles, connected bots and errors, recorded by every bot as it goes.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// One second of the run.
struct Second {
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    errors: AtomicU64,
    connected: AtomicU64,
    /// RTT samples of this second, µs (one per bot per ping: a lock per sample is cheap).
    rtt: Mutex<Histogram<u64>>,
}

/// The run's seconds, allocated up front so recording is an index and an atomic add.
pub struct Timeline {
    start: Instant,
    seconds: Vec<Second>,
}

/// A finished second, for charts.
#[derive(Clone, Debug, PartialEq)]
pub struct SecondSummary {
    pub second: usize,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub errors: u64,
    pub connected: u64,
    pub rtt_p50_ms: Option<f64>,
    pub rtt_p99_ms: Option<f64>,
}

impl std::fmt::Debug for Timeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timeline").field("seconds", &self.seconds.len()).finish_non_exhaustive()
    }
}

impl Timeline {
    /// Room for `length` of run (samples past it land in the last second).
    pub fn new(length: Duration) -> Timeline {
        let count = length.as_secs() as usize + 2;
        let seconds = (0..count)
            .map(|_| Second {
                bytes_in: AtomicU64::new(0),
                bytes_out: AtomicU64::new(0),
                errors: AtomicU64::new(0),
                connected: AtomicU64::new(0),
                rtt: Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 2).expect("valid bounds")),
            })
            .collect();
        Timeline { start: Instant::now(), seconds }
    }

    fn now(&self) -> &Second {
        let index = (self.start.elapsed().as_secs() as usize).min(self.seconds.len() - 1);
        &self.seconds[index]
    }

    pub fn bytes_in(&self, n: usize) {
        self.now().bytes_in.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn bytes_out(&self, n: usize) {
        self.now().bytes_out.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn error(&self) {
        self.now().errors.fetch_add(1, Ordering::Relaxed);
    }

    pub fn rtt(&self, rtt: Duration) {
        let micros = (rtt.as_micros() as u64).max(1);
        let _ = self.now().rtt.lock().expect("rtt lock").record(micros);
    }

    /// Record how many bots are connected now (sampled once a second by the runner).
    pub fn connected(&self, bots: usize) {
        self.now().connected.store(bots as u64, Ordering::Relaxed);
    }

    /// The seconds that have passed.
    pub fn summary(&self) -> Vec<SecondSummary> {
        let elapsed = (self.start.elapsed().as_secs() as usize + 1).min(self.seconds.len());
        self.seconds[..elapsed]
            .iter()
            .enumerate()
            .map(|(second, s)| {
                let rtt = s.rtt.lock().expect("rtt lock");
                let quantile = |q| (!rtt.is_empty()).then(|| rtt.value_at_quantile(q) as f64 / 1000.0);
                SecondSummary {
                    second,
                    bytes_in: s.bytes_in.load(Ordering::Relaxed),
                    bytes_out: s.bytes_out.load(Ordering::Relaxed),
                    errors: s.errors.load(Ordering::Relaxed),
                    connected: s.connected.load(Ordering::Relaxed),
                    rtt_p50_ms: quantile(0.5),
                    rtt_p99_ms: quantile(0.99),
                }
            })
            .collect()
    }
}
