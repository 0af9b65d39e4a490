//! The load report: JSON for machines, a short summary for people.

use serde::Serialize;
use std::time::Duration;

use crate::bot::{DEFAULT_RECONNECT_RETRIES, Decode};
pub use crate::report_churn::ChurnSummary;
use crate::stats::Totals;

#[derive(Debug, Serialize)]
pub struct RateSummary {
    pub mean: f64,
    pub min: f64,
}

#[derive(Debug, Serialize)]
pub struct LatencySummary {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// The `--json` report. Field names are part of the tool's interface.
#[derive(Debug, Serialize)]
pub struct Report {
    pub bots: usize,
    pub connected: usize,
    pub failed: usize,
    /// Each bot's play time (the run also spent the ramp-up before it).
    pub duration_s: f64,
    /// Wall time of the whole run.
    pub wall_s: f64,
    /// Snapshot rate the server announced in its welcome.
    pub tick_rate_hz: u16,
    /// Snapshots per second each bot received: mean and minimum over bots.
    pub snapshot_rate_hz: RateSummary,
    pub snapshot_interval_ms: LatencySummary,
    /// Share of snapshot gaps within 1.5 tick intervals, in percent.
    pub on_time_pct: f64,
    pub rtt_ms: LatencySummary,
    /// WebSocket payload bytes per connected bot per second of play.
    pub bytes_in_per_bot_s: f64,
    pub bytes_out_per_bot_s: f64,
    pub snapshots_total: u64,
    /// Failed connects plus protocol errors.
    pub errors: u64,
    /// Error message → count.
    pub error_kinds: std::collections::BTreeMap<String, u64>,
    /// What the bots decoded: `full` (every entity, deltas applied) or `headers`
    /// (tick and input ack only; bots play blind).
    pub decode_mode: &'static str,
    /// Snapshots per input message (inputs carry the ones in between).
    pub input_every: u32,
    /// Whether bots acknowledged snapshots (so the server could send deltas).
    pub deltas: bool,
    /// Share of snapshots that came as deltas, in percent.
    pub delta_pct: f64,
    /// Present when bots dropped and reconnected (`--churn`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub churn: Option<ChurnSummary>,
}

fn ms(histogram: &hdrhistogram::Histogram<u64>, quantile: f64) -> f64 {
    if histogram.is_empty() { 0.0 } else { histogram.value_at_quantile(quantile) as f64 / 1000.0 }
}

impl LatencySummary {
    /// p50, p99 and max of a histogram of µs, in ms.
    pub(crate) fn of(histogram: &hdrhistogram::Histogram<u64>) -> LatencySummary {
        LatencySummary { p50: ms(histogram, 0.5), p99: ms(histogram, 0.99), max: histogram.max() as f64 / 1000.0 }
    }
}

impl RateSummary {
    /// Mean and minimum of per-bot rates (0 without any).
    fn of(rates: &[f64]) -> RateSummary {
        let mean = if rates.is_empty() { 0.0 } else { rates.iter().sum::<f64>() / rates.len() as f64 };
        let min = rates.iter().copied().fold(f64::INFINITY, f64::min);
        RateSummary { mean, min: if min.is_finite() { min } else { 0.0 } }
    }
}

/// Share of snapshot gaps (µs) within 1.5 tick intervals, in percent.
fn on_time_pct(intervals: &hdrhistogram::Histogram<u64>, tick_rate_hz: u16) -> f64 {
    if intervals.is_empty() || tick_rate_hz == 0 {
        return 0.0;
    }
    let limit_us = (1.5e6 / f64::from(tick_rate_hz)) as u64;
    let on_time: u64 =
        intervals.iter_recorded().filter(|v| v.value_iterated_to() <= limit_us).map(|v| v.count_at_value()).sum();
    100.0 * on_time as f64 / intervals.len() as f64
}

impl Report {
    pub fn new(totals: &Totals, duration: Duration, wall: Duration) -> Report {
        let tick_rate_hz = totals.announced_rate_hz.unwrap_or(0);
        let bot_seconds = (totals.connected as f64 * duration.as_secs_f64()).max(f64::MIN_POSITIVE);
        let per_bot_s = |bytes: u64| if totals.connected == 0 { 0.0 } else { bytes as f64 / bot_seconds };
        Report {
            bots: totals.bots,
            connected: totals.connected,
            failed: totals.failed,
            duration_s: duration.as_secs_f64(),
            wall_s: wall.as_secs_f64(),
            tick_rate_hz,
            snapshot_rate_hz: RateSummary::of(&totals.rates_hz),
            snapshot_interval_ms: LatencySummary::of(&totals.snapshot_intervals),
            on_time_pct: on_time_pct(&totals.snapshot_intervals, tick_rate_hz),
            rtt_ms: LatencySummary::of(&totals.rtt),
            bytes_in_per_bot_s: per_bot_s(totals.bytes_in),
            bytes_out_per_bot_s: per_bot_s(totals.bytes_out),
            snapshots_total: totals.snapshots,
            errors: totals.error_count(),
            error_kinds: totals.errors.clone(),
            decode_mode: Decode::Full.name(),
            input_every: 1,
            deltas: true,
            delta_pct: 100.0 * totals.delta_snapshots as f64 / totals.snapshots.max(1) as f64,
            churn: ChurnSummary::of(&totals.reconnections, DEFAULT_RECONNECT_RETRIES),
        }
    }

    /// Say how the bots ran (the defaults: full decoding, one input per snapshot, deltas).
    pub fn with_mode(mut self, decode: Decode, input_every: u32, deltas: bool) -> Report {
        self.decode_mode = decode.name();
        self.input_every = input_every;
        self.deltas = deltas;
        self
    }

    /// Say how many retries a refused reconnection had (the default: [`DEFAULT_RECONNECT_RETRIES`]).
    pub fn with_reconnect_retries(mut self, retries: u32) -> Report {
        if let Some(churn) = &mut self.churn {
            churn.max_retries = retries;
        }
        self
    }

    /// Whether the run counts as a success for the exit status.
    pub fn passed(&self) -> bool {
        self.failed == 0 && self.errors == 0
    }

    /// A few lines for a terminal.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "bots {} connected {} failed {} | play {:.1}s (wall {:.1}s)\n\
             snapshots: announced {} Hz, received mean {:.1} Hz, min {:.1} Hz, on time {:.2}%\n\
             snapshot gap ms: p50 {:.1} p99 {:.1} max {:.1}\n\
             rtt ms: p50 {:.2} p99 {:.2} max {:.2}\n\
             bytes per bot per second: in {:.0}, out {:.0}\n\
             mode: decode {}, one input per {} snapshot(s), deltas {} ({:.1}% of snapshots)\n\
             errors: {}\n",
            self.bots,
            self.connected,
            self.failed,
            self.duration_s,
            self.wall_s,
            self.tick_rate_hz,
            self.snapshot_rate_hz.mean,
            self.snapshot_rate_hz.min,
            self.on_time_pct,
            self.snapshot_interval_ms.p50,
            self.snapshot_interval_ms.p99,
            self.snapshot_interval_ms.max,
            self.rtt_ms.p50,
            self.rtt_ms.p99,
            self.rtt_ms.max,
            self.bytes_in_per_bot_s,
            self.bytes_out_per_bot_s,
            self.decode_mode,
            self.input_every,
            if self.deltas { "on" } else { "off" },
            self.delta_pct,
            self.errors,
        );
        if let Some(churn) = &self.churn {
            out.push_str(&churn.summary());
        }
        for (kind, count) in &self.error_kinds {
            out.push_str(&format!("  {count} × {kind}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_up_to_one_and_a_half_ticks_are_on_time() {
        let mut gaps = crate::stats::histogram();
        // At 20 Hz a tick is 50 ms: 75 ms is the limit.
        for us in [50_000, 50_000, 74_000, 120_000] {
            gaps.record(us).unwrap();
        }
        assert_eq!(on_time_pct(&gaps, 20), 75.0);
        assert_eq!(on_time_pct(&gaps, 0), 0.0, "no announced rate, no verdict");
    }

    #[test]
    fn rates_summarise_to_mean_and_minimum_and_to_zero_without_bots() {
        let rates = RateSummary::of(&[30.0, 28.0, 29.0]);
        assert_eq!((rates.mean, rates.min), (29.0, 28.0));
        let none = RateSummary::of(&[]);
        assert_eq!((none.mean, none.min), (0.0, 0.0));
    }
}
