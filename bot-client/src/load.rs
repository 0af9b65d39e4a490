//! Many bots at once: ramped connections, spread over rooms, measured together.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arena_protocol::lobby::{CreateRoom, Matchmade, RoomSummary, SessionGranted, SessionRequest};

use crate::bot::{BotConfig, run_bot};
use crate::http::{ApiAddress, ApiCallError, api_address_of, post_json};
use crate::stats::{BotStats, Totals};
use crate::timeline::Timeline;

/// Where bots go.
#[derive(Clone, Debug, PartialEq)]
pub enum Placement {
    /// Let the server choose (first room with space).
    Auto,
    /// Every bot in this room.
    Room(String),
    /// Bots spread round-robin over this many rooms, created through the lobby API.
    Rooms(usize),
    /// Each bot asks `POST /api/matchmake` for a seat and follows the `ws_url` it gets
    /// (which may be another node's, with several nodes).
    Matchmake,
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
    /// Capacity of the rooms the bots create (`Placement::Rooms`); None: the server's default.
    pub room_capacity: Option<usize>,
    /// Drops per bot per second (0: none). Churning bots get session tokens so they can reclaim their place.
    pub churn_per_s: f64,
    /// Retries of a refused reconnection, with back-off (0: a refusal loses the bot).
    pub reconnect_retries: u32,
    /// Answer the server's WebSocket pings (false tests its heartbeat).
    pub answer_pings: bool,
    /// How much of each snapshot bots decode.
    pub decode: crate::bot::Decode,
    /// Snapshots per input message.
    pub input_every: u32,
    /// Acknowledge snapshots (the server then sends deltas).
    pub deltas: bool,
}

impl LoadConfig {
    /// `bots` bots against `url` for `duration` each, seated by the server, ramping at
    /// 200 a second, answering pings, no churn (5 retries of a refused reconnection
    /// when there is), decoding everything, one input per
    /// snapshot, acknowledging snapshots.
    pub fn new(url: String, bots: usize, duration: Duration) -> LoadConfig {
        LoadConfig {
            url,
            bots,
            duration,
            placement: Placement::Auto,
            ramp_per_s: 200.0,
            room_capacity: None,
            churn_per_s: 0.0,
            reconnect_retries: crate::bot::DEFAULT_RECONNECT_RETRIES,
            answer_pings: true,
            decode: crate::bot::Decode::Full,
            input_every: 1,
            deltas: true,
        }
    }
}

/// Live counters for a progress display.
#[derive(Debug, Default)]
pub struct Progress {
    pub started: AtomicUsize,
    pub finished: AtomicUsize,
}

/// The `ws://…` URL of one bot, with its join query; `rooms` are the ids of the
/// rooms made for this run (empty unless `Placement::Rooms`).
pub fn bot_url(config: &LoadConfig, rooms: &[String], index: usize) -> String {
    let separator = if config.url.contains('?') { '&' } else { '?' };
    let room = match &config.placement {
        Placement::Auto | Placement::Matchmake => String::new(),
        Placement::Room(id) => format!("&room={id}"),
        Placement::Rooms(_) => format!("&room={}", rooms[index % rooms.len()]),
    };
    format!("{}{separator}v={}&name=bot-{index}{room}", config.url, arena_protocol::PROTOCOL_VERSION)
}

/// Create the rooms a run spreads its bots over.
pub async fn create_rooms(config: &LoadConfig) -> Result<Vec<String>, ApiCallError> {
    let Placement::Rooms(count) = config.placement else { return Ok(Vec::new()) };
    let api = api_address_of(&config.url).unwrap_or_default();
    let mut ids = Vec::with_capacity(count);
    for index in 0..count.max(1) {
        let request =
            CreateRoom { name: format!("bots {index}"), capacity: config.room_capacity, ..CreateRoom::default() };
        let room: RoomSummary = post_json(&api, "/api/rooms", &request).await?;
        ids.push(room.id);
    }
    Ok(ids)
}

/// What a load run measured.
pub struct LoadRun {
    pub totals: Totals,
    /// Wall time of the whole run, ramp-up included.
    pub wall: Duration,
    /// Per-second figures, for charts.
    pub timeline: Arc<Timeline>,
}

/// Run every bot to the end and add up what they measured.
pub async fn run_load(config: LoadConfig, progress: Arc<Progress>) -> Result<LoadRun, ApiCallError> {
    let rooms = create_rooms(&config).await?;
    let ramp = Duration::from_secs_f64(config.bots as f64 / config.ramp_per_s.max(1.0));
    let timeline = Arc::new(Timeline::new(ramp + config.duration + Duration::from_secs(15)));
    let connected = Arc::new(AtomicUsize::new(0));
    let sampler = sample_connected(timeline.clone(), connected.clone());
    let clock = Instant::now();
    let gap = Duration::from_secs_f64(1.0 / config.ramp_per_s.max(1.0));
    let mut handles = Vec::with_capacity(config.bots);
    let mut next_start = tokio::time::Instant::now();
    for index in 0..config.bots {
        tokio::time::sleep_until(next_start).await;
        next_start += gap;
        let mut bot = bot_config(&config, &rooms, index);
        bot.timeline = Some(timeline.clone());
        bot.connected_gauge = Some(connected.clone());
        let api = api_address_of(&config.url).unwrap_or_default();
        let placement = config.placement.clone();
        let progress = progress.clone();
        progress.started.fetch_add(1, Ordering::Relaxed);
        handles.push(tokio::spawn(async move {
            let stats = match seat(&mut bot, &placement, &api, index).await {
                Ok(()) => run_bot(bot, clock).await,
                Err(e) => BotStats { connect_error: Some(e), ..BotStats::default() },
            };
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
    sampler.abort();
    Ok(LoadRun { totals, wall: clock.elapsed(), timeline })
}

/// Record how many bots are connected twice a second, for the chart, until aborted.
fn sample_connected(timeline: Arc<Timeline>, connected: Arc<AtomicUsize>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(500));
        loop {
            every.tick().await;
            timeline.connected(connected.load(Ordering::Relaxed));
        }
    })
}

/// Bot number `index` of the run, before it has a seat.
fn bot_config(config: &LoadConfig, rooms: &[String], index: usize) -> BotConfig {
    let mut bot = BotConfig::new(bot_url(config, rooms, index), config.duration);
    bot.churn_per_s = config.churn_per_s;
    bot.reconnect_retries = config.reconnect_retries;
    bot.answer_pings = config.answer_pings;
    bot.decode = config.decode;
    bot.input_every = config.input_every;
    bot.deltas = config.deltas;
    bot
}

/// What a bot needs from the lobby API before it connects: a matchmade seat
/// (`Placement::Matchmake`) and a session token to reclaim its place after a drop
/// (churn). The error is the bot's connect error.
async fn seat(bot: &mut BotConfig, placement: &Placement, api: &ApiAddress, index: usize) -> Result<(), String> {
    if matches!(placement, Placement::Matchmake) {
        let seat = post_json::<Matchmade>(api, "/api/matchmake", &serde_json::json!({}))
            .await
            .map_err(|e| format!("matchmake: {e}"))?;
        // The seat's URL, with this bot's own query (name, version) added.
        bot.url = format!("{}&{}", seat.ws_url, bot.url.split_once('?').map_or("", |(_, q)| q));
    }
    if bot.churn_per_s > 0.0 {
        let request = SessionRequest { name: format!("bot-{index}") };
        let session =
            post_json::<SessionGranted>(api, "/api/session", &request).await.map_err(|e| format!("session: {e}"))?;
        bot.url.push_str(&format!("&token={}", session.token));
    }
    Ok(())
}
