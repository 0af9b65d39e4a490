//! What one bot measures, and how many bots' measurements add up.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::reconnections::Reconnections;

/// Histograms hold microseconds from 1 µs to 10 minutes at 2 significant digits
/// (1% resolution), which keeps a bot's memory to a few kilobytes.
pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 2).expect("valid histogram bounds")
}

/// One bot's measurements.
#[derive(Debug)]
pub struct BotStats {
    pub connected: bool,
    /// Why the connection (or the welcome) failed, if it did.
    pub connect_error: Option<String>,
    /// Anything the server did that a correct server must not.
    pub protocol_errors: Vec<String>,
    pub snapshots: u64,
    pub first_snapshot: Option<Instant>,
    pub last_snapshot: Option<Instant>,
    /// Time between consecutive snapshots, µs.
    pub snapshot_intervals: Histogram<u64>,
    /// Round-trip time of ping messages, µs.
    pub rtt: Histogram<u64>,
    /// WebSocket payload bytes received and sent.
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// The snapshot rate the server announced in its welcome.
    pub announced_rate_hz: Option<u16>,
    /// Churn: reconnections tried, refused, granted and lost.
    pub reconnections: Reconnections,
    /// Snapshots that came as deltas.
    pub delta_snapshots: u64,
}

impl Default for BotStats {
    fn default() -> Self {
        BotStats {
            connected: false,
            connect_error: None,
            protocol_errors: Vec::new(),
            snapshots: 0,
            first_snapshot: None,
            last_snapshot: None,
            snapshot_intervals: histogram(),
            rtt: histogram(),
            bytes_in: 0,
            bytes_out: 0,
            announced_rate_hz: None,
            reconnections: Reconnections::default(),
            delta_snapshots: 0,
        }
    }
}

impl BotStats {
    /// A message of `len` bytes arrived.
    pub fn count_in(&mut self, len: usize, timeline: Option<&crate::timeline::Timeline>) {
        self.bytes_in += len as u64;
        if let Some(t) = timeline {
            t.bytes_in(len);
        }
    }

    /// A message of `len` bytes went out.
    pub fn count_out(&mut self, len: usize, timeline: Option<&crate::timeline::Timeline>) {
        self.bytes_out += len as u64;
        if let Some(t) = timeline {
            t.bytes_out(len);
        }
    }

    pub fn record_snapshot(&mut self, at: Instant) {
        if let Some(previous) = self.last_snapshot {
            let _ = self.snapshot_intervals.record(micros(at - previous));
        }
        self.first_snapshot.get_or_insert(at);
        self.last_snapshot = Some(at);
        self.snapshots += 1;
    }

    pub fn record_rtt(&mut self, rtt: Duration) {
        let _ = self.rtt.record(micros(rtt));
    }

    /// Snapshots per second between the first and the last one received.
    pub fn snapshot_rate_hz(&self) -> Option<f64> {
        let span = self.last_snapshot?.duration_since(self.first_snapshot?).as_secs_f64();
        (self.snapshots >= 2 && span > 0.0).then(|| (self.snapshots - 1) as f64 / span)
    }
}

pub(crate) fn micros(d: Duration) -> u64 {
    (d.as_micros() as u64).max(1)
}

/// All bots' measurements together.
#[derive(Debug)]
pub struct Totals {
    pub bots: usize,
    pub connected: usize,
    pub failed: usize,
    pub rates_hz: Vec<f64>,
    pub snapshots: u64,
    pub snapshot_intervals: Histogram<u64>,
    pub rtt: Histogram<u64>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub announced_rate_hz: Option<u16>,
    /// Every bot's reconnections added up.
    pub reconnections: Reconnections,
    pub delta_snapshots: u64,
    /// Error message → how many bots saw it.
    pub errors: BTreeMap<String, u64>,
}

impl Totals {
    pub fn new() -> Totals {
        Totals {
            bots: 0,
            connected: 0,
            failed: 0,
            rates_hz: Vec::new(),
            snapshots: 0,
            snapshot_intervals: histogram(),
            rtt: histogram(),
            bytes_in: 0,
            bytes_out: 0,
            announced_rate_hz: None,
            reconnections: Reconnections::default(),
            delta_snapshots: 0,
            errors: BTreeMap::new(),
        }
    }

    pub fn add(&mut self, bot: &BotStats) {
        self.bots += 1;
        if bot.connected {
            self.connected += 1;
        }
        if let Some(error) = &bot.connect_error {
            self.failed += 1;
            *self.errors.entry(error.clone()).or_default() += 1;
        }
        for error in &bot.protocol_errors {
            *self.errors.entry(error.clone()).or_default() += 1;
        }
        if let Some(rate) = bot.snapshot_rate_hz() {
            self.rates_hz.push(rate);
        }
        self.snapshots += bot.snapshots;
        let _ = self.snapshot_intervals.add(&bot.snapshot_intervals);
        let _ = self.rtt.add(&bot.rtt);
        self.bytes_in += bot.bytes_in;
        self.bytes_out += bot.bytes_out;
        self.announced_rate_hz = self.announced_rate_hz.or(bot.announced_rate_hz);
        self.reconnections.add(&bot.reconnections);
        self.delta_snapshots += bot.delta_snapshots;
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

impl Default for Totals {
    fn default() -> Self {
        Totals::new()
    }
}
