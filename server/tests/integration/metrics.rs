//! The Grafana dashboard in deploy/grafana/ asks only for metrics a real server exports.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use arena_bots::{LoadConfig, Placement, run_load};

use crate::util::TestServer;
use crate::util::http::{http_from, http_get};

/// Every `arena_*` metric name in the dashboard's queries (`expr` strings, wherever they sit).
fn dashboard_metrics() -> BTreeSet<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/grafana/arena.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut exprs = Vec::new();
    collect_exprs(&dashboard, &mut exprs);
    assert!(exprs.len() >= 7, "the panels have their queries: {exprs:?}");
    exprs.iter().flat_map(|expr| metric_names(expr)).collect()
}

fn collect_exprs<'a>(value: &'a serde_json::Value, exprs: &mut Vec<&'a str>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match value.as_str() {
                    Some(expr) if key == "expr" => exprs.push(expr),
                    _ => collect_exprs(value, exprs),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| collect_exprs(item, exprs)),
        _ => {}
    }
}

/// The `arena_*` identifiers in a PromQL expression.
fn metric_names(expr: &str) -> Vec<String> {
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(start) = rest.find("arena_") {
        let preceded_by_name = rest[..start].chars().next_back().is_some_and(is_name_char);
        let tail = &rest[start..];
        let end = tail.find(|c: char| !is_name_char(c)).unwrap_or(tail.len());
        if !preceded_by_name {
            names.push(tail[..end].to_string());
        }
        rest = &tail[end..];
    }
    names
}

#[test]
fn metric_names_are_read_from_promql() {
    let expr =
        r#"histogram_quantile(0.99, sum by (le) (rate(arena_tick_seconds_bucket{job=~"$job"}[1m]))) / my_arena_x"#;
    assert_eq!(metric_names(expr), ["arena_tick_seconds_bucket"]);
    assert_eq!(metric_names("sum(arena_players) + sum(arena_rooms)"), ["arena_players", "arena_rooms"]);
}

/// Series names in a Prometheus exposition, and the names declared histograms.
fn exposition(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut series = BTreeSet::new();
    let mut histograms = BTreeSet::new();
    for line in text.lines() {
        if let Some(declared) = line.strip_prefix("# TYPE ") {
            if let Some(name) = declared.strip_suffix(" histogram") {
                histograms.insert(name.to_string());
            }
        } else if !line.is_empty() && !line.starts_with('#') {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            series.insert(line[..end].to_string());
        }
    }
    (series, histograms)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_the_dashboard_queries_is_exported() {
    let wanted = dashboard_metrics();
    for histogram in ["arena_tick_seconds", "arena_rtt_seconds", "arena_snapshot_bytes"] {
        assert!(wanted.contains(&format!("{histogram}_bucket")), "the dashboard charts {histogram}: {wanted:?}");
    }

    let mut config = arena_server::Config::for_tests();
    // Pings often enough that the bots' pongs give RTTs within the run.
    config.ping_interval_s = 0.2;
    // A budget to spend from one loopback address, so refusals are counted.
    config.limit_loopback = true;
    config.sessions_per_ip_per_minute = 2;
    let server = TestServer::start_with(config).await;
    let load =
        LoadConfig { placement: Placement::Rooms(1), ..LoadConfig::new(server.ws_url(""), 2, Duration::from_secs(2)) };
    let run = run_load(load, Default::default()).await.unwrap();
    assert_eq!(run.totals.connected, 2);
    let spender = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 77));
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(http_from(spender, server.addr, "POST", "/api/session", r#"{"name":"x"}"#, &[]).await.status);
    }
    assert_eq!(statuses, [200, 200, 429], "the third session is over budget");

    let response = http_get(server.addr, "/metrics").await;
    assert_eq!(response.status, 200);
    let (series, histograms) = exposition(&response.body);
    for name in &wanted {
        assert!(series.contains(name), "the dashboard queries {name}, which /metrics lacks:\n{}", response.body);
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = name.strip_suffix(suffix).filter(|base| histograms.contains(*base)) {
                for part in ["_bucket", "_sum", "_count"] {
                    assert!(series.contains(&format!("{base}{part}")), "{base} has {part}");
                }
            }
        }
        if let Some(base) = name.strip_suffix("_bucket") {
            assert!(histograms.contains(base), "{base} is a Prometheus histogram, not a summary");
        }
    }
    for histogram in ["arena_tick_seconds", "arena_rtt_seconds", "arena_snapshot_bytes", "arena_join_seconds"] {
        assert!(histograms.contains(histogram), "{histogram} renders as a histogram");
    }
    assert!(!response.body.contains("quantile="), "no summaries: their quantiles do not add up across nodes");
    server.shutdown().await;
}
