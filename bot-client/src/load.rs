//! Many bots at once: ramped connections, spread over rooms, measured together.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::bot::{BotConfig, run_bot};
use crate::stats::{BotStats, Totals};

/// Where bots go.
#[derive(Clone, Debug, PartialEq)]
pub enum Placement {
    /// Let the server choose (first room with space).
    Auto,
    /// Every bot in this room.
    Room(String),
    /// Bots spread round-robin over this many rooms, named `bots-0`, `bots-1`, …
    Rooms(usize),
}

/// A load run.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// The server's WebSocket endpoint, e.g. `ws://127.0.0.1:8080/ws`.
    pub url: String,
    pub bots: usize,
    /// How long each bot plays after it joins.
    pub duration: Duration,
    pub placement: Placement,
    /// New connections per second, so a thousand bots do not arrive in one burst.
    pub ramp_per_s: f64,
}

/// Live counters for a progress display.
#[derive(Debug, Default)]
pub struct Progress {
    pub started: AtomicUsize,
    pub finished: AtomicUsize,
}

/// The `ws://…` URL of one bot, with its join query.
pub fn bot_url(config: &LoadConfig, index: usize) -> String {
    let separator = if config.url.contains('?') { '&' } else { '?' };
    let room = match &config.placement {
        Placement::Auto => String::new(),
        Placement::Room(id) => format!("&room={id}"),
        Placement::Rooms(k) => format!("&room=bots-{}", index % (*k).max(1)),
    };
    format!("{}{separator}v={}&name=bot-{index}{room}", config.url, arena_protocol::PROTOCOL_VERSION)
}

/// Run every bot to the end and add up what they measured.
pub async fn run_load(config: LoadConfig, progress: Arc<Progress>) -> (Totals, Duration) {
    let clock = Instant::now();
    let gap = Duration::from_secs_f64(1.0 / config.ramp_per_s.max(1.0));
    let mut handles = Vec::with_capacity(config.bots);
    let mut next_start = tokio::time::Instant::now();
    for index in 0..config.bots {
        tokio::time::sleep_until(next_start).await;
        next_start += gap;
        let bot = BotConfig::new(bot_url(&config, index), config.duration);
        let progress = progress.clone();
        progress.started.fetch_add(1, Ordering::Relaxed);
        handles.push(tokio::spawn(async move {
            let stats = run_bot(bot, clock).await;
            progress.finished.fetch_add(1, Ordering::Relaxed);
            stats
        }));
    }
    let mut totals = Totals::new();
    for handle in handles {
        let stats = handle.await.unwrap_or_else(|e| BotStats {
            connect_error: Some(format!("bot task failed: {e}")),
            ..BotStats::default()
        });
        totals.add(&stats);
    }
    (totals, clock.elapsed())
}
