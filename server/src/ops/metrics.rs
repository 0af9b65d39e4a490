//! Prometheus metrics (`GET /metrics`): named handles recorded on the hot paths,
//! rendered by `metrics-exporter-prometheus`. Histograms render as summaries
//! over a rolling 30 s window, so `arena_tick_seconds{quantile="0.99"}` is the
//! recent p99 tick that benchmarks read.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The process's recorder. Installed once: a test process runs many servers and
/// they share it, which is what a global facade means.
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
static HANDLES: OnceLock<Handles> = OnceLock::new();

/// Metric handles, looked up once instead of per event.
pub struct Handles {
    pub connections_open: Gauge,
    pub connections_total: Counter,
    pub tick_seconds: Histogram,
    pub ticks_late: Counter,
    pub snapshot_bytes: Counter,
    pub snapshots_sent: Counter,
    /// Of `snapshots_sent`, those sent as deltas.
    pub delta_snapshots_sent: Counter,
    /// Snapshot bodies encoded: one per distinct (view, baseline) per snapshot.
    pub snapshot_bodies: Counter,
    pub control_bytes: Counter,
    pub inputs_received: Counter,
    pub inputs_dropped_rate_limit: Counter,
    pub inputs_dropped_inbox_full: Counter,
    pub chat_rate_limited: Counter,
    pub rounds_logged: Counter,
    pub room_panics: Counter,
}

/// Install the recorder (first call only) and return the metric handles.
pub fn init() -> &'static Handles {
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .set_quantiles(&[0.5, 0.9, 0.99, 0.999, 1.0])
            .and_then(|b| b.set_bucket_duration(Duration::from_secs(5)))
            .map(|b| b.set_bucket_count(std::num::NonZeroU32::new(6).expect("non-zero")))
            .expect("valid exporter settings")
            .install_recorder()
            .expect("no other metrics recorder is installed in this process")
    });
    HANDLES.get_or_init(|| Handles {
        connections_open: gauge!("arena_connections_open"),
        connections_total: counter!("arena_connections_total"),
        tick_seconds: histogram!("arena_tick_seconds"),
        ticks_late: counter!("arena_ticks_late_total"),
        snapshot_bytes: counter!("arena_snapshot_bytes_total"),
        snapshots_sent: counter!("arena_snapshots_sent_total"),
        delta_snapshots_sent: counter!("arena_delta_snapshots_sent_total"),
        snapshot_bodies: counter!("arena_snapshot_bodies_encoded_total"),
        control_bytes: counter!("arena_control_bytes_total"),
        inputs_received: counter!("arena_inputs_received_total"),
        inputs_dropped_rate_limit: counter!("arena_inputs_dropped_total", "reason" => "rate_limit"),
        inputs_dropped_inbox_full: counter!("arena_inputs_dropped_total", "reason" => "inbox_full"),
        chat_rate_limited: counter!("arena_rate_limit_hits_total", "kind" => "chat"),
        rounds_logged: counter!("arena_rounds_logged_total"),
        room_panics: counter!("arena_room_panics_total"),
    })
}

/// The handles (the recorder must have been installed by [`init`]).
pub fn handles() -> &'static Handles {
    init()
}

/// A connection closed with this code (rare enough to look the label up each time).
pub fn closed_with(code: u16) {
    super::telemetry::telemetry().closed();
    counter!("arena_closes_total", "code" => code.to_string()).increment(1);
}

/// A client was refused for a spent budget (`budget` is a bounded set of names).
pub fn budget_refused(budget: &'static str) {
    counter!("arena_budget_refusals_total", "budget" => budget).increment(1);
}

/// A connection was refused at accept (`reason`: a bounded set of names).
pub fn connection_refused(reason: &'static str) {
    counter!("arena_connections_refused_total", "reason" => reason).increment(1);
}

/// A reconnection (a verified player whose seat is still theirs) was granted or refused.
pub fn reconnect(outcome: &'static str, reason: &'static str) {
    counter!("arena_reconnects_total", "outcome" => outcome, "reason" => reason).increment(1);
}

/// An HTTP request was answered.
pub fn http_request(endpoint: &'static str, status: u16) {
    counter!("arena_http_requests_total", "endpoint" => endpoint, "status" => status.to_string()).increment(1);
}

/// Gauges read from the room directory at scrape time.
pub fn set_population(rooms: usize, players: usize, spectators: usize) {
    gauge!("arena_rooms").set(rooms as f64);
    gauge!("arena_players").set(players as f64);
    gauge!("arena_spectators").set(spectators as f64);
}

/// The Prometheus text exposition.
pub fn render() -> String {
    let handle = HANDLE.get().expect("metrics::init ran at start");
    handle.run_upkeep();
    handle.render()
}

/// Drain old summary windows; called every second so memory stays flat between scrapes.
pub fn upkeep() {
    if let Some(handle) = HANDLE.get() {
        handle.run_upkeep();
    }
}
