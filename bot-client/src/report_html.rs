//! The `--html` report: one self-contained file (inline SVG, no scripts, no CDN)
//! with the summary table and charts of a load run.

use std::fmt::Write;

use crate::report::{ChurnSummary, Report};
use crate::stats::Totals;
use crate::timeline::SecondSummary;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 200.0;
const PAD: f64 = 36.0;
const COLORS: [&str; 3] = ["#e0a100", "#d64545", "#2f7fd1"];

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A line chart of named series over seconds.
fn line_chart(title: &str, unit: &str, series: &[(&str, Vec<Option<f64>>)]) -> String {
    let max = series.iter().flat_map(|(_, v)| v.iter().flatten()).fold(0.0f64, |a, &b| a.max(b)).max(1e-9) * 1.1;
    let points = series.iter().map(|(_, v)| v.len()).max().unwrap_or(0).max(2);
    let x = |i: usize| PAD + (i as f64) / ((points - 1) as f64) * (WIDTH - PAD - 8.0);
    let y = |v: f64| HEIGHT - PAD + 8.0 - v / max * (HEIGHT - PAD);
    let mut svg = frame(title, unit, max / 1.1, &format!("{} s", points - 1));
    for (k, (name, values)) in series.iter().enumerate() {
        let mut path = String::new();
        let mut pen_down = false;
        for (i, v) in values.iter().enumerate() {
            match v {
                Some(v) => {
                    let _ = write!(path, "{}{:.1},{:.1} ", if pen_down { "L" } else { "M" }, x(i), y(*v));
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        let color = COLORS[k % COLORS.len()];
        let _ = write!(svg, r#"<path d="{path}" fill="none" stroke="{color}" stroke-width="2"/>"#);
        let _ = write!(
            svg,
            r#"<text x="{}" y="14" fill="{color}" font-size="12">{}</text>"#,
            WIDTH - 150.0 + 70.0 * k as f64,
            escape(name)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A bar chart of (label, value) bins.
fn bar_chart(title: &str, unit: &str, bins: &[(String, f64)], x_label: &str) -> String {
    let max = bins.iter().map(|b| b.1).fold(0.0f64, f64::max).max(1e-9) * 1.1;
    let mut svg = frame(title, unit, max / 1.1, x_label);
    let width = (WIDTH - PAD - 8.0) / bins.len().max(1) as f64;
    for (i, (label, value)) in bins.iter().enumerate() {
        let h = value / max * (HEIGHT - PAD);
        let _ = write!(
            svg,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="{}"><title>{}: {value}</title></rect>"#,
            PAD + i as f64 * width,
            HEIGHT - PAD + 8.0 - h,
            (width - 1.0).max(1.0),
            COLORS[2],
            escape(label)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Axes, title and the max label of a chart.
fn frame(title: &str, unit: &str, max: f64, x_label: &str) -> String {
    format!(
        r##"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{t}">
<text x="{PAD}" y="14" font-size="13" font-weight="600">{t}</text>
<line x1="{PAD}" y1="{b}" x2="{r}" y2="{b}" stroke="#999"/><line x1="{PAD}" y1="22" x2="{PAD}" y2="{b}" stroke="#999"/>
<text x="2" y="30" font-size="11">{max:.1}</text><text x="2" y="{b}" font-size="11">0</text>
<text x="{r}" y="{bl}" font-size="11" text-anchor="end">{x}</text><text x="2" y="{bl}" font-size="11">{u}</text>"##,
        t = escape(title),
        u = escape(unit),
        x = escape(x_label),
        b = HEIGHT - PAD + 8.0,
        bl = HEIGHT - 8.0,
        r = WIDTH - 8.0,
    )
}

/// Render the whole report.
pub fn render(report: &Report, totals: &Totals, seconds: &[SecondSummary]) -> String {
    let mut table = String::new();
    for (name, value) in summary_rows(report) {
        let _ = write!(table, "<tr><th>{}</th><td>{}</td></tr>", escape(name), escape(&value));
    }
    let mut errors = String::new();
    for (kind, count) in &report.error_kinds {
        let _ = write!(errors, "<tr><td>{count}</td><td>{}</td></tr>", escape(kind));
    }
    if errors.is_empty() {
        errors.push_str("<tr><td colspan=2>none</td></tr>");
    }
    page(&table, &charts(report, totals, seconds).join("\n"), &errors)
}

/// The charts: snapshot gaps, then RTT, bytes, connected bots and errors over time.
fn charts(report: &Report, totals: &Totals, seconds: &[SecondSummary]) -> Vec<String> {
    let per_second = |f: &dyn Fn(&SecondSummary) -> Option<f64>| seconds.iter().map(f).collect::<Vec<_>>();
    let (gap_bins, top) = snapshot_gap_bins(report, totals);
    let error_bins: Vec<(String, f64)> =
        seconds.iter().map(|s| (format!("second {}", s.second), s.errors as f64)).collect();
    vec![
        bar_chart("Snapshot inter-arrival time", "snapshots", &gap_bins, &format!("2 ms bins, 0-{top} ms")),
        line_chart(
            "RTT over time",
            "ms",
            &[("p50", per_second(&|s| s.rtt_p50_ms)), ("p99", per_second(&|s| s.rtt_p99_ms))],
        ),
        line_chart(
            "Bytes per second",
            "KB/s",
            &[
                ("in", per_second(&|s| Some(s.bytes_in as f64 / 1000.0))),
                ("out", per_second(&|s| Some(s.bytes_out as f64 / 1000.0))),
            ],
        ),
        line_chart("Connected bots", "bots", &[("connected", per_second(&|s| Some(s.connected as f64)))]),
        bar_chart("Errors per second", "errors", &error_bins, &format!("{} s", error_bins.len())),
    ]
}

/// Snapshot gaps in 2 ms bins up to three tick intervals, and one bin for the rest;
/// also returns where that last bin starts, in ms.
fn snapshot_gap_bins(report: &Report, totals: &Totals) -> (Vec<(String, f64)>, u64) {
    let tick_ms = if report.tick_rate_hz > 0 { 1000.0 / f64::from(report.tick_rate_hz) } else { 33.3 };
    let top = (tick_ms * 3.0).ceil() as u64;
    let mut bins: Vec<(String, f64)> = (0..top / 2).map(|i| (format!("{}-{} ms", i * 2, i * 2 + 2), 0.0)).collect();
    bins.push((format!("≥{top} ms"), 0.0));
    for v in totals.snapshot_intervals.iter_recorded() {
        let ms = v.value_iterated_to() / 1000;
        let bin = ((ms / 2) as usize).min(bins.len() - 1);
        bins[bin].1 += v.count_at_value() as f64;
    }
    (bins, top)
}

/// The summary table: (what, value) rows.
fn summary_rows(report: &Report) -> Vec<(&'static str, String)> {
    let mut rows = vec![
        ("bots (connected / failed)", format!("{} ({} / {})", report.bots, report.connected, report.failed)),
        ("play time per bot / wall time", format!("{:.1} s / {:.1} s", report.duration_s, report.wall_s)),
        ("decode mode", report.decode_mode.to_string()),
        ("announced snapshot rate", format!("{} Hz", report.tick_rate_hz)),
        (
            "received snapshot rate (mean / min)",
            format!("{:.2} / {:.2} Hz", report.snapshot_rate_hz.mean, report.snapshot_rate_hz.min),
        ),
        ("snapshots on time (≤ 1.5 ticks)", format!("{:.2} %", report.on_time_pct)),
        (
            "snapshot gap p50 / p99 / max",
            format!(
                "{:.1} / {:.1} / {:.1} ms",
                report.snapshot_interval_ms.p50, report.snapshot_interval_ms.p99, report.snapshot_interval_ms.max
            ),
        ),
        (
            "RTT p50 / p99 / max",
            format!("{:.2} / {:.2} / {:.2} ms", report.rtt_ms.p50, report.rtt_ms.p99, report.rtt_ms.max),
        ),
        (
            "bytes per bot per second (in / out)",
            format!("{:.0} / {:.0}", report.bytes_in_per_bot_s, report.bytes_out_per_bot_s),
        ),
        ("errors", report.errors.to_string()),
    ];
    if let Some(churn) = &report.churn {
        rows.extend(churn_rows(churn));
    }
    rows
}

/// Rows for reconnections under `--churn`.
fn churn_rows(churn: &ChurnSummary) -> [(&'static str, String); 5] {
    [
        (
            "reconnects attempted / granted first try / after retries / lost for good",
            format!(
                "{} / {} / {} / {}",
                churn.attempted, churn.granted_first_try, churn.granted_after_retry, churn.failed
            ),
        ),
        ("reconnect retries (at most per reconnect)", format!("{} ({})", churn.retries, churn.max_retries)),
        ("refused reconnect tries by close code", churn.refusals().unwrap_or_else(|| "none".into())),
        ("bots lost for good by cause", churn.losses().unwrap_or_else(|| "none".into())),
        (
            "reconnect time p50 / p99 / max, entity reclaimed",
            format!(
                "{:.1} / {:.1} / {:.1} ms, {:.1} %",
                churn.reconnect_ms.p50, churn.reconnect_ms.p99, churn.reconnect_ms.max, churn.same_entity_pct
            ),
        ),
    ]
}

/// The page around the table, charts and error rows.
fn page(table: &str, charts: &str, errors: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Arena load report</title>
<style>
body {{ font: 14px system-ui, sans-serif; max-width: 72rem; margin: 1.5rem auto; padding: 0 1rem; color: #1d2431; }}
table {{ border-collapse: collapse; margin: 0.5rem 0 1.5rem; }}
th, td {{ text-align: left; padding: 0.25rem 0.8rem; border-bottom: 1px solid #dde2ea; }}
th {{ font-weight: 500; color: #4a5568; }}
.charts {{ display: grid; grid-template-columns: repeat(auto-fit, minmax(28rem, 1fr)); gap: 1rem; }}
svg.chart {{ width: 100%; height: auto; background: #f7f9fc; border-radius: 6px; }}
</style></head><body>
<h1>Arena load report</h1>
<table>{table}</table>
<div class="charts">{charts}</div>
<h2>Errors</h2>
<table><tr><th>count</th><th>error</th></tr>{errors}</table>
</body></html>
"#
    )
}
