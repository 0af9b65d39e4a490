//! What a room is (its spec, fixed at creation), what every room is given (its
//! setup) and what its thread publishes for the lobby and operators (its status).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arena_protocol::lobby::{MatchRules, RoomSummary};

use super::house_bots::BotFill;
use crate::ops::results::ResultsLog;
use crate::settings::GameSettings;

/// A room's fixed settings, chosen when it was opened.
#[derive(Debug)]
pub struct RoomSpec {
    pub id: String,
    pub name: String,
    /// Players (not spectators) the room seats.
    pub capacity: usize,
    pub spectator_capacity: usize,
    pub tick_rate_hz: u16,
    /// Snapshots per second, at most the tick rate.
    pub snapshot_rate_hz: u16,
    /// Unlisted: only joinable by id (the id is the invitation).
    pub private: bool,
    pub rules: MatchRules,
    /// House bots the room starts with (the admin API may change them later).
    pub bots: BotFill,
    pub created_at: Instant,
    /// Record the room's rounds as replays (when the server keeps replays).
    pub replays: bool,
}

/// What the room's thread writes for others to read (the lobby's counts, the
/// monitor's tick figures), and the one flag others write: `stop`.
#[derive(Debug)]
pub struct RoomStatus {
    /// Players and spectators the room's thread has seated.
    pub players: AtomicUsize,
    pub spectators: AtomicUsize,
    /// House bots playing (they hold no seat and are not in `players`).
    pub bots: AtomicUsize,
    /// Ticks that started after their deadline.
    pub late_ticks: AtomicU64,
    /// Duration of the last tick, in microseconds.
    pub last_tick_us: AtomicU64,
    pub round: AtomicU32,
    pub in_results: AtomicBool,
    /// Set (by the server's drain) to make the room close its clients and end.
    pub stop: AtomicBool,
}

impl Default for RoomStatus {
    fn default() -> RoomStatus {
        RoomStatus {
            players: AtomicUsize::new(0),
            spectators: AtomicUsize::new(0),
            bots: AtomicUsize::new(0),
            late_ticks: AtomicU64::new(0),
            last_tick_us: AtomicU64::new(0),
            round: AtomicU32::new(1),
            in_results: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        }
    }
}

impl RoomStatus {
    pub fn record_tick(&self, took: Duration) {
        self.last_tick_us.store(took.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn set_population(&self, players: usize, spectators: usize) {
        self.players.store(players, Ordering::Relaxed);
        self.spectators.store(spectators, Ordering::Relaxed);
    }

    pub fn players(&self) -> usize {
        self.players.load(Ordering::Relaxed)
    }

    pub fn spectators(&self) -> usize {
        self.spectators.load(Ordering::Relaxed)
    }

    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }
}

impl RoomSpec {
    /// The room as the lobby lists it.
    pub fn summary(&self, status: &RoomStatus) -> RoomSummary {
        RoomSummary {
            id: self.id.clone(),
            name: self.name.clone(),
            players: status.players(),
            spectators: status.spectators(),
            capacity: self.capacity,
            tick_rate_hz: self.tick_rate_hz,
            private: self.private,
            age_s: self.created_at.elapsed().as_secs(),
            match_state: if status.in_results.load(Ordering::Relaxed) { "results" } else { "playing" }.into(),
            round: status.round.load(Ordering::Relaxed),
            rules: self.rules,
            bots: status.bots.load(Ordering::Relaxed),
            node: None,
            ws_url: None,
        }
    }
}

/// What every room of a server is given besides its spec.
#[derive(Clone, Debug)]
pub struct RoomSetup {
    pub settings: GameSettings,
    /// A dropped player with a verified identity keeps their entity this long.
    pub reconnect_grace: Duration,
    /// An empty room closes after this long.
    pub empty_room_grace: Duration,
    /// Where rooms send finished rounds.
    pub results: Arc<ResultsLog>,
    /// Where rooms record their rounds; None: replays are off.
    pub replays: Option<Arc<crate::replay::Replays>>,
    /// The nice value room threads ask for (see `room::priority`); 0: the default priority.
    pub room_thread_nice: i8,
}
