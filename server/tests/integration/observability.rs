//! Metrics move while bots play, and the bots' HTML report carries its charts.

use std::collections::HashMap;
use std::time::Duration;

use arena_bots::{LoadConfig, Placement, Report, run_load};

use crate::util::TestServer;
use crate::util::http::{http_get, http_json};

const ADMIN_TOKEN: &str = "observability-admin-token-0123456789abcdef";

/// Parse the Prometheus text format strictly enough to catch a broken exposition:
/// every sample line is `name{labels} value` with a number for a value.
fn parse_prometheus(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value in {line:?}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in {line:?}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "unclosed labels in {line:?}");
        }
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}"));
        samples.insert(series.to_string(), value);
    }
    samples
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_and_move_while_bots_play() {
    let mut server_config = arena_server::Config::for_tests();
    server_config.admin_token = Some(ADMIN_TOKEN.into());
    let server = TestServer::start_with(server_config).await;
    let before = parse_prometheus(&http_get(server.addr, "/metrics").await.body);
    let config =
        LoadConfig { placement: Placement::Rooms(1), ..LoadConfig::new(server.ws_url(""), 5, Duration::from_secs(2)) };
    let run = run_load(config.clone(), Default::default()).await.unwrap();
    assert_eq!(run.totals.connected, 5);
    let response = http_get(server.addr, "/metrics").await;
    assert_eq!(response.status, 200);
    assert!(response.headers.contains("text/plain"));
    let after = parse_prometheus(&response.body);
    let grew = |name: &str| after.get(name).copied().unwrap_or(0.0) > before.get(name).copied().unwrap_or(0.0);
    for counter in [
        "arena_snapshots_sent_total",
        "arena_snapshot_bytes_total",
        "arena_inputs_received_total",
        "arena_connections_total",
    ] {
        assert!(grew(counter), "{counter} did not grow");
    }
    assert!(after.contains_key("arena_tick_seconds_bucket{le=\"+Inf\"}"), "tick time is a histogram");
    assert!(grew("arena_tick_seconds_count"), "ticks are recorded");
    assert!(after.contains_key("arena_closes_total{code=\"1000\"}"), "closes are counted by code");
    assert!(after.keys().any(|k| k.starts_with("arena_http_requests_total{endpoint=\"/api/rooms\"")));
    assert!(after.contains_key("arena_rooms"));

    // The HTML report of the same run has every chart.
    let report = Report::new(&run.totals, config.duration, run.wall);
    let html = arena_bots::report_html::render(&report, &run.totals, &run.timeline.summary());
    for title in
        ["Snapshot inter-arrival time", "RTT over time", "Bytes per second", "Connected bots", "Errors per second"]
    {
        assert!(html.contains(&format!(r#"aria-label="{title}""#)), "missing chart {title}");
    }
    assert_eq!(html.matches("<svg class=\"chart\"").count(), 5);
    assert!(!html.contains("<script"), "self-contained, static");
    let seconds = run.timeline.summary();
    assert!(seconds.iter().any(|s| s.connected == 5), "connected bots were sampled");
    assert!(seconds.iter().any(|s| s.rtt_p50_ms.is_some()), "RTT was recorded over time");

    // The monitor lists private rooms too: it needs the admin token, as a header.
    assert_eq!(http_get(server.addr, "/api/monitor").await.status, 401);
    let bearer = format!("Authorization: Bearer {ADMIN_TOKEN}");
    let monitor = http_json(server.addr, "GET", "/api/monitor", "", &[&bearer]).await;
    assert_eq!(monitor.status, 200);
    let monitor: serde_json::Value = serde_json::from_str(&monitor.body).unwrap();
    assert_eq!(monitor["rooms"].as_array().unwrap().len(), 1);
    server.shutdown().await;
}
