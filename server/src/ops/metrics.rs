//! Prometheus metrics (`GET /metrics`): named handles recorded on the hot paths,
//! rendered by `metrics-exporter-prometheus`. Every histogram renders as a
//! Prometheus histogram (`_bucket{le=...}`, `_sum`, `_count`) with buckets chosen
//! for it, so a cluster's quantiles come from summing nodes' buckets:
//! `histogram_quantile(0.99, sum by (le) (rate(arena_tick_seconds_bucket[1m])))`.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// One room tick's work, in seconds: 0.1 ms to 100 ms, with 33 ms marking a 30 Hz tick's budget;
/// finer between 2 and 16 ms, where a big room's p99 lies (8 ms is its goal).
pub const TICK_SECONDS_BUCKETS: &[f64] =
    &[0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.004, 0.006, 0.008, 0.010, 0.012, 0.016, 0.025, 0.033, 0.05, 0.1];

/// WebSocket ping to pong, in seconds: loopback (0.25 ms) to a client worth closing (1 s).
pub const RTT_SECONDS_BUCKETS: &[f64] =
    &[0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0];

/// Snapshot bytes sent to one client in one second: a quiet spectator (1 KB) to a crowded view (2.5 MB).
pub const SNAPSHOT_BYTES_BUCKETS: &[f64] = &[1e3, 2.5e3, 5e3, 1e4, 2.5e4, 5e4, 1e5, 2.5e5, 5e5, 1e6, 2.5e6];

/// Upgrade to welcome sent, in seconds: 1 ms to a join that waited on a busy room (5 s).
pub const JOIN_SECONDS_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// One round stored in the account database, in seconds: 0.5 ms to a slow 5 s.
pub const STORE_SECONDS_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0, 5.0];

/// Each histogram and its buckets; a histogram left out would render as a summary,
/// whose quantiles cannot be added up across nodes.
const HISTOGRAMS: [(&str, &[f64]); 5] = [
    ("arena_tick_seconds", TICK_SECONDS_BUCKETS),
    ("arena_rtt_seconds", RTT_SECONDS_BUCKETS),
    ("arena_snapshot_bytes", SNAPSHOT_BYTES_BUCKETS),
    ("arena_join_seconds", JOIN_SECONDS_BUCKETS),
    ("arena_round_store_seconds", STORE_SECONDS_BUCKETS),
];

/// The process's recorder. Installed once: a test process runs many servers and
/// they share it, which is what a global facade means.
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
static HANDLES: OnceLock<Handles> = OnceLock::new();

/// Metric handles, looked up once instead of per event.
pub struct Handles {
    pub connections_open: Gauge,
    pub connections_total: Counter,
    /// One room tick's work, recorded every tick (30 a second per room).
    pub tick_seconds: Histogram,
    /// Our WebSocket ping to the client's pong, once per ping interval per client.
    pub rtt_seconds: Histogram,
    /// Snapshot bytes one client was sent in one second, recorded once a second per
    /// client (never per message); `_sum` is every snapshot byte in whole seconds.
    pub snapshot_bytes_per_second: Histogram,
    /// From the WebSocket upgrade to the welcome written to the socket.
    pub join_seconds: Histogram,
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
        HISTOGRAMS
            .iter()
            .try_fold(PrometheusBuilder::new(), |builder, (name, buckets)| {
                builder.set_buckets_for_metric(Matcher::Full((*name).into()), buckets)
            })
            .expect("valid exporter settings")
            .install_recorder()
            .expect("no other metrics recorder is installed in this process")
    });
    HANDLES.get_or_init(|| Handles {
        connections_open: gauge!("arena_connections_open"),
        connections_total: counter!("arena_connections_total"),
        tick_seconds: histogram!("arena_tick_seconds"),
        rtt_seconds: histogram!("arena_rtt_seconds"),
        snapshot_bytes_per_second: histogram!("arena_snapshot_bytes"),
        join_seconds: histogram!("arena_join_seconds"),
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

/// How often a session's own counts are added to the shared counters.
const FOLD_EVERY: Duration = Duration::from_secs(1);

/// A reader looks at the clock for its fold once in this many inputs.
const INPUTS_PER_CLOCK_READ: u64 = 32;

/// One session's message counts, kept in its own task and added to the shared
/// counters about once a second and when it ends. Why: a full server moves tens of
/// thousands of messages a second, and a shared atomic bumped per message makes the
/// cores take turns owning the same cache lines (the ceiling pays nothing for this).
#[derive(Default)]
pub struct SessionTally {
    /// When the counts were last added to the shared counters (None: never yet).
    folded_at: Option<Instant>,
    counts: Counts,
    /// Snapshot bytes since `second_began`, recorded into the bytes-per-second histogram
    /// when a snapshot comes a second or more after it. A last partial second is left
    /// out: it would read as a slow client.
    second_began: Option<Instant>,
    second_bytes: u64,
}

#[derive(Default)]
struct Counts {
    snapshots: u64,
    delta_snapshots: u64,
    snapshot_bytes: u64,
    control_bytes: u64,
    /// Bytes that count only as bytes out (room lists to lobby watchers).
    other_bytes: u64,
    inputs: u64,
}

impl SessionTally {
    /// A snapshot message of `bytes` was written (`delta`: sent as a delta).
    pub fn snapshot(&mut self, bytes: usize, delta: bool, now: Instant) {
        let began = *self.second_began.get_or_insert(now);
        if now.duration_since(began) >= Duration::from_secs(1) {
            handles().snapshot_bytes_per_second.record(self.second_bytes as f64);
            self.second_began = Some(now);
            self.second_bytes = 0;
        }
        self.second_bytes += bytes as u64;
        let c = &mut self.counts;
        c.snapshots += 1;
        c.delta_snapshots += u64::from(delta);
        c.snapshot_bytes += bytes as u64;
        self.fold_when_due(now);
    }

    /// A control message (welcome, events, chat) of `bytes` was written.
    pub fn control(&mut self, bytes: usize, now: Instant) {
        self.counts.control_bytes += bytes as u64;
        self.fold_when_due(now);
    }

    /// Other bytes were written (a room list).
    pub fn other(&mut self, bytes: usize, now: Instant) {
        self.counts.other_bytes += bytes as u64;
        self.fold_when_due(now);
    }

    /// An input arrived (counted before its budget decides). The clock is read every
    /// [`INPUTS_PER_CLOCK_READ`] inputs only (about a second of a client's inputs).
    pub fn input(&mut self) {
        self.counts.inputs += 1;
        if self.counts.inputs.is_multiple_of(INPUTS_PER_CLOCK_READ) {
            self.fold_when_due(Instant::now());
        }
    }

    fn fold_when_due(&mut self, now: Instant) {
        let folded_at = *self.folded_at.get_or_insert(now);
        if now.duration_since(folded_at) >= FOLD_EVERY {
            self.fold();
            self.folded_at = Some(now);
        }
    }

    /// Add the counts to the shared counters and start again from zero.
    fn fold(&mut self) {
        let c = std::mem::take(&mut self.counts);
        let m = handles();
        for (counter, n) in [
            (&m.snapshots_sent, c.snapshots),
            (&m.delta_snapshots_sent, c.delta_snapshots),
            (&m.snapshot_bytes, c.snapshot_bytes),
            (&m.control_bytes, c.control_bytes),
            (&m.inputs_received, c.inputs),
        ] {
            if n > 0 {
                counter.increment(n);
            }
        }
        let bytes = c.snapshot_bytes + c.control_bytes + c.other_bytes;
        if bytes > 0 {
            super::telemetry::telemetry().bytes_sent(bytes as usize);
        }
    }
}

impl Drop for SessionTally {
    fn drop(&mut self) {
        self.fold();
    }
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

/// House bots playing on this node (they are not in `arena_players`), read at scrape time.
pub fn set_house_bots(bots: usize) {
    gauge!("arena_house_bots").set(bots as f64);
}

/// An operator changed a room's house bots (`outcome`: `changed`, `invalid`, `no_room`, `over_cap`).
pub fn admin_bots(outcome: &'static str) {
    counter!("arena_admin_bot_changes_total", "outcome" => outcome).increment(1);
}

/// The server-wide `--max-house-bots` refused or trimmed bots (`at`: `create`,
/// `admin`, `quick_play`).
pub fn house_bots_capped(at: &'static str) {
    counter!("arena_house_bots_capped_total", "at" => at).increment(1);
}

/// The Prometheus text exposition.
pub fn render() -> String {
    let handle = HANDLE.get().expect("metrics::init ran at start");
    handle.run_upkeep();
    handle.render()
}

/// Fold recorded samples into the histograms' buckets; called every second so
/// memory stays flat between scrapes.
pub fn upkeep() {
    if let Some(handle) = HANDLE.get() {
        handle.run_upkeep();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_rise() {
        for (name, buckets) in HISTOGRAMS {
            assert!(buckets.windows(2).all(|w| w[0] < w[1]), "{name}'s buckets rise");
        }
    }

    fn counter(name: &str) -> f64 {
        render().lines().find_map(|l| l.strip_prefix(name)?.trim().parse().ok()).unwrap_or(0.0)
    }

    #[test]
    fn a_session_tally_adds_its_counts_once_it_ends() {
        init();
        let (inputs, snapshots) = (counter("arena_inputs_received_total "), counter("arena_snapshots_sent_total "));
        {
            let mut tally = SessionTally::default();
            let now = Instant::now();
            for _ in 0..5 {
                tally.input();
                tally.snapshot(1000, true, now);
            }
        }
        assert!(counter("arena_inputs_received_total ") >= inputs + 5.0);
        assert!(counter("arena_snapshots_sent_total ") >= snapshots + 5.0);
    }

    #[test]
    fn histograms_render_with_buckets_not_quantiles() {
        let m = init();
        m.tick_seconds.record(0.003);
        m.rtt_seconds.record(0.0004);
        m.snapshot_bytes_per_second.record(12_000.0);
        m.join_seconds.record(0.002);
        ::metrics::histogram!("arena_round_store_seconds").record(0.003);
        let text = render();
        for (name, _) in HISTOGRAMS {
            assert!(text.contains(&format!("# TYPE {name} histogram")), "{name} is a histogram:\n{text}");
            assert!(text.contains(&format!("{name}_bucket{{le=\"+Inf\"}}")), "{name} has buckets");
        }
        assert!(text.contains("arena_tick_seconds_bucket{le=\"0.004\"}"), "tick buckets are ours");
        assert!(!text.contains("quantile="), "no summaries left");
    }
}
