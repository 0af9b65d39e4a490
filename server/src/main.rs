//! `arena-server`: parse the config, start logging, serve until Ctrl-C or SIGTERM
//! (or, with `--check`, check the configuration and exit; `arena-server stress`
//! simulates rooms of house bots without serving; `arena-server replay-sample` records
//! a round of them faster than real time).

use std::io::IsTerminal;

use anyhow::Context;
use arena_server::replay::{self, sample::SampleArgs};
use arena_server::stress::{self, StressArgs};
use arena_server::{Config, run, server, shutdown};
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser};
use tracing_subscriber::EnvFilter;

/// jemalloc: size classes in page-aligned runs, so the untouched part of a
/// connection's buffers is never resident (idle connections: 17.5 → see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Room threads go without jemalloc's per-thread cache: each kept a few hundred KiB
/// of the snapshot bodies it freed, 6-7 KiB per player at 1,800 players in rooms of
/// 50, for no CPU measurably saved (BENCHMARKS.md, issue 14). The session workers keep
/// theirs: without it idle connections cost more.
fn room_thread_without_cache() {
    if let Err(error) = arena_server::allocator::set_thread_cache(false) {
        tracing::debug!(error, "room thread keeps its allocator cache");
    }
}

fn main() -> anyhow::Result<()> {
    arena_server::room::on_thread_start(room_thread_without_cache);
    // `arena-server stress …`: the simulation alone, no server (see stress.rs).
    if std::env::args().nth(1).as_deref() == Some("stress") {
        let args = StressArgs::parse_from(std::env::args().skip(1));
        let json = args.json.clone();
        let report = stress::run(args)?;
        println!("{report}");
        if let Some(path) = json {
            std::fs::write(&path, serde_json::to_string_pretty(&report)?)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        return Ok(());
    }
    // `arena-server replay-sample …`: a round of house bots recorded faster than real time.
    if std::env::args().nth(1).as_deref() == Some("replay-sample") {
        let report = replay::sample::run(SampleArgs::parse_from(std::env::args().skip(1)))?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    serve()
}

#[tokio::main]
async fn serve() -> anyhow::Result<()> {
    let matches = Config::command().get_matches();
    let mut config = Config::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    start_logging(&config.log_format);
    warn_of_secrets_in_arguments(&matches);
    // Checked before binding, so a bad config never holds the port (run checks again).
    server::check(&mut config)?;
    if config.check {
        println!("configuration OK");
        return Ok(());
    }
    // Every connection is a file descriptor: raise the soft limit to the hard one.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open-file limit"),
    }
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.addr))?;
    let addr = listener.local_addr()?;
    let scheme = if config.tls_cert.is_some() { "https" } else { "http" };
    tracing::info!(
        tick_rate_hz = config.tick_rate,
        room_capacity = config.room_capacity,
        "Arena is up: open {scheme}://{addr}/ to play"
    );
    run(listener, config, shutdown::signal()).await
}

/// Logs go to stdout: `json` for machines, otherwise text, coloured only for a person
/// at a terminal, so a file or the journal never holds escape codes (NO_COLOR is honoured).
fn start_logging(format: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    if format == "json" {
        tracing_subscriber::fmt().json().with_current_span(true).with_env_filter(filter).init();
    } else {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let ansi = std::io::stdout().is_terminal() && !no_color;
        tracing_subscriber::fmt().with_ansi(ansi).with_env_filter(filter).init();
    }
}

/// A secret given as a flag is in the process list for every user of the machine.
fn warn_of_secrets_in_arguments(matches: &ArgMatches) {
    for (id, flag, variable) in
        [("jwt_secret", "--jwt-secret", "ARENA_JWT_SECRET"), ("admin_token", "--admin-token", "ARENA_ADMIN_TOKEN")]
    {
        if matches.value_source(id) == Some(ValueSource::CommandLine) {
            tracing::warn!(
                "{flag} on the command line is visible to every user of this machine; use {variable} or {flag}-file"
            );
        }
    }
}
