//! `arena-bots`: spawn N headless bots against a server and report what they saw.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use arena_bots::{DEFAULT_RECONNECT_RETRIES, Decode, LoadConfig, LoadRun, Placement, Progress, Report, run_load};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

/// Load-test an Arena server with headless bots.
#[derive(Debug, Parser)]
#[command(name = "arena-bots", version, about)]
struct Cli {
    /// The server's WebSocket endpoint.
    #[arg(long, env = "ARENA_BOTS_URL", default_value = "ws://127.0.0.1:8080/ws")]
    url: String,
    /// For a wss:// URL (the WebSocket and the lobby API calls of --rooms, --matchmake
    /// and --churn, made over https): trust the CA (or self-signed) certificate in this
    /// PEM file instead of the public roots. Default: the public (webpki/Mozilla) roots.
    #[arg(long, env = "ARENA_BOTS_CA")]
    ca: Option<PathBuf>,
    /// How many bots.
    #[arg(long, default_value_t = 10)]
    bots: usize,
    /// How long each bot plays after joining, e.g. 30s, 2m, 500ms.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
    /// Put every bot in this room.
    #[arg(long, conflicts_with = "rooms")]
    room: Option<String>,
    /// Spread the bots over this many rooms, created through the lobby API.
    #[arg(long, conflicts_with = "matchmake")]
    rooms: Option<usize>,
    /// Seat each bot through POST /api/matchmake and follow the URL it returns (any node of a cluster).
    #[arg(long, conflicts_with = "room")]
    matchmake: bool,
    /// Capacity of the rooms created with --rooms (1-1000). Default: the server's.
    #[arg(long, requires = "rooms")]
    room_capacity: Option<usize>,
    /// Drops per bot per second: bots cut their connection and reconnect with their
    /// session token, and the report adds reconnect success and time. Default: 0.
    #[arg(long, default_value_t = 0.0)]
    churn: f64,
    /// With --churn: how many times a bot retries a refused reconnect (retryable closes
    /// only: 1001, 1006, 1011, 1013, 4003, 4009 as the browser, and 4001 room full),
    /// waiting 250 ms doubling to 4 s plus jitter, before it is lost for good; 0: no retry.
    #[arg(long, default_value_t = DEFAULT_RECONNECT_RETRIES)]
    reconnect_retries: u32,
    /// Do not answer the server's WebSocket pings (tests its heartbeat: expect close 4009).
    #[arg(long)]
    no_pong: bool,
    /// How much of each snapshot bots decode: `full` (every entity; bots aim at
    /// enemies) or `headers` (tick and input ack only; bots play blind and cost far
    /// less CPU, so one machine drives more of them).
    #[arg(long, default_value = "full", value_parser = parse_decode)]
    decode: Decode,
    /// Send an input every N snapshots, carrying the N-1 before it (1-4): fewer
    /// messages, no input lost.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=4))]
    input_every: u32,
    /// Do not acknowledge snapshots: the server then sends whole snapshots, not deltas.
    #[arg(long)]
    no_deltas: bool,
    /// Instead of playing bots, hold this many idle connections on the lobby feed
    /// (`/ws/lobby`: the room list, pings, nothing else) for --duration; measures what
    /// an idle connection costs the server.
    #[arg(long, conflicts_with_all = ["rooms", "room", "matchmake", "churn"])]
    idle: Option<usize>,
    /// New connections per second during ramp-up.
    #[arg(long, default_value_t = 200.0)]
    ramp: f64,
    /// Write the JSON report here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write a self-contained HTML report with charts here.
    #[arg(long)]
    html: Option<PathBuf>,
}

async fn idle(cli: &Cli, watchers: usize) -> anyhow::Result<()> {
    eprintln!("arena-bots: {watchers} idle lobby watchers against {} for {:?}", cli.url, cli.duration);
    let connected = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let ticker = {
        let connected = connected.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                eprintln!("  {} connected", connected.load(Ordering::Relaxed));
            }
        })
    };
    let report = arena_bots::run_idle(&cli.url, watchers, cli.ramp, cli.duration, connected).await;
    ticker.abort();
    print!("{}", report.summary());
    if let Some(path) = &cli.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if !report.passed() {
        anyhow::bail!("{} watchers failed to connect and {} were dropped", report.failed, report.dropped);
    }
    Ok(())
}

fn parse_decode(text: &str) -> Result<Decode, String> {
    match text {
        "full" => Ok(Decode::Full),
        "headers" => Ok(Decode::Headers),
        _ => Err(format!("bad decode mode {text:?}: use full or headers")),
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len()));
    let value: f64 = number.parse().map_err(|_| format!("bad duration {text:?}: expected e.g. 30s, 2m, 500ms"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("bad duration unit {unit:?}: use ms, s, m or h")),
    };
    Ok(Duration::from_secs_f64(seconds))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Thousands of bots need as many sockets.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    if let Some(ca) = &cli.ca {
        arena_bots::connect::trust_ca(ca).with_context(|| format!("cannot trust --ca {}", ca.display()))?;
    }
    if let Some(watchers) = cli.idle {
        return idle(&cli, watchers).await;
    }
    let progress = Arc::new(Progress::default());
    let bar = ProgressBar::new(cli.bots as u64);
    bar.set_style(ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}").expect("valid template"));
    let ticker = show_progress(bar.clone(), progress.clone());
    eprintln!("arena-bots: {} bots against {} for {:?} each", cli.bots, cli.url, cli.duration);
    let run = run_load(load_config(&cli), progress).await.context("cannot prepare the run")?;
    ticker.abort();
    bar.finish_and_clear();

    let report = Report::new(&run.totals, cli.duration, run.wall)
        .with_mode(cli.decode, cli.input_every, !cli.no_deltas)
        .with_reconnect_retries(cli.reconnect_retries);
    print!("{}", report.summary());
    write_reports(&cli, &report, &run)?;
    if !report.passed() {
        anyhow::bail!("{} bots failed to connect and {} errors were seen", report.failed, report.errors);
    }
    Ok(())
}

/// The load run the flags ask for.
fn load_config(cli: &Cli) -> LoadConfig {
    let placement = match (&cli.room, cli.rooms, cli.matchmake) {
        (Some(room), _, _) => Placement::Room(room.clone()),
        (None, Some(k), _) => Placement::Rooms(k.max(1)),
        (None, None, true) => Placement::Matchmake,
        (None, None, false) => Placement::Auto,
    };
    LoadConfig {
        placement,
        ramp_per_s: cli.ramp,
        room_capacity: cli.room_capacity,
        churn_per_s: cli.churn,
        reconnect_retries: cli.reconnect_retries,
        answer_pings: !cli.no_pong,
        decode: cli.decode,
        input_every: cli.input_every,
        deltas: !cli.no_deltas,
        ..LoadConfig::new(cli.url.clone(), cli.bots, cli.duration)
    }
}

/// Show how many bots play and have finished, five times a second, until aborted.
fn show_progress(bar: ProgressBar, progress: Arc<Progress>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let started = progress.started.load(Ordering::Relaxed);
            let finished = progress.finished.load(Ordering::Relaxed);
            bar.set_message(format!(
                "{} playing, {finished} finished of {}",
                started - finished,
                bar.length().unwrap_or(0)
            ));
            bar.tick();
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}

/// Write the `--json` and `--html` reports asked for.
fn write_reports(cli: &Cli, report: &Report, run: &LoadRun) -> anyhow::Result<()> {
    if let Some(path) = &cli.json {
        std::fs::write(path, serde_json::to_vec_pretty(report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("report written to {}", path.display());
    }
    if let Some(path) = &cli.html {
        let html = arena_bots::report_html::render(report, &run.totals, &run.timeline.summary());
        std::fs::write(path, html).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("HTML report written to {}", path.display());
    }
    Ok(())
}
