//! Room directory: which rooms exist, creating them, seats, matchmaking
//! reservations and the seats of players who may reconnect.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arena_protocol::PlayerId;
use arena_protocol::lobby::{CreateRoom, MatchRules, RoomSummary};
use tokio::sync::mpsc;

use crate::results::ResultsLog;
use crate::room::{self, ROOM_INBOX, RoomInput};
use crate::settings::GameSettings;

/// Longest room name, in characters.
pub const MAX_ROOM_NAME_CHARS: usize = 40;

/// What the directory knows about one running room. Shared by the directory,
/// the room's thread and the sessions seated in it.
#[derive(Debug)]
pub struct RoomInfo {
    pub id: String,
    pub name: String,
    pub capacity: usize,
    pub spectator_capacity: usize,
    pub tick_rate_hz: u16,
    /// Snapshots per second, at most the tick rate.
    pub snapshot_rate_hz: u16,
    /// Unlisted: only joinable by id.
    pub private: bool,
    pub rules: MatchRules,
    /// Where sessions send joins, inputs and leaves.
    pub inbox: mpsc::Sender<RoomInput>,
    /// Player seats taken, counted when a join is accepted (before the room
    /// sees it), so concurrent joins can never over-fill the room.
    seats: AtomicUsize,
    spectator_seats: AtomicUsize,
    /// Seats of players who dropped and may come back with their token.
    lingering: Mutex<HashMap<PlayerId, Seat>>,
    /// Players and spectators the room's thread has seated (for the lobby).
    pub players: AtomicUsize,
    pub spectators: AtomicUsize,
    /// Set to make the room close its clients and end.
    pub stopping: AtomicBool,
    /// Ticks that started after their deadline.
    pub late_ticks: AtomicU64,
    /// Duration of the last tick, in microseconds.
    pub last_tick_us: AtomicU64,
    pub round: AtomicU32,
    pub in_results: AtomicBool,
    pub created_at: Instant,
}

/// Whether a seat is for playing or watching.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeatKind {
    Player,
    Spectator,
}

/// A reserved place in a room. Dropping it frees the place.
#[derive(Debug)]
pub struct Seat {
    pub room: Arc<RoomInfo>,
    pub kind: SeatKind,
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.room.counter(self.kind).fetch_sub(1, Ordering::AcqRel);
    }
}

impl RoomInfo {
    fn counter(&self, kind: SeatKind) -> &AtomicUsize {
        match kind {
            SeatKind::Player => &self.seats,
            SeatKind::Spectator => &self.spectator_seats,
        }
    }

    fn try_take_seat(self: &Arc<Self>, kind: SeatKind) -> Option<Seat> {
        let limit = match kind {
            SeatKind::Player => self.capacity,
            SeatKind::Spectator => self.spectator_capacity,
        };
        self.counter(kind)
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |taken| (taken < limit).then_some(taken + 1))
            .ok()
            .map(|_| Seat { room: self.clone(), kind })
    }

    /// Keep a dropped player's seat so it can be reclaimed.
    pub fn hold_for_reconnect(&self, player: PlayerId, seat: Seat) {
        self.lingering.lock().expect("lingering lock").insert(player, seat);
    }

    /// Give up waiting for `player`; true when it had not come back.
    pub fn release_held(&self, player: PlayerId) -> bool {
        self.lingering.lock().expect("lingering lock").remove(&player).is_some()
    }

    fn reclaim(&self, player: PlayerId) -> Option<Seat> {
        self.lingering.lock().expect("lingering lock").remove(&player)
    }

    /// Player seats taken, reservations included (what placement decisions should count).
    pub fn seats_taken(&self) -> usize {
        self.seats.load(Ordering::Acquire)
    }

    fn has_space(&self) -> bool {
        self.seats.load(Ordering::Acquire) < self.capacity
    }

    pub fn summary(&self) -> RoomSummary {
        RoomSummary {
            id: self.id.clone(),
            name: self.name.clone(),
            players: self.players.load(Ordering::Relaxed),
            spectators: self.spectators.load(Ordering::Relaxed),
            capacity: self.capacity,
            tick_rate_hz: self.tick_rate_hz,
            private: self.private,
            age_s: self.created_at.elapsed().as_secs(),
            match_state: if self.in_results.load(Ordering::Relaxed) { "results" } else { "playing" }.into(),
            round: self.round.load(Ordering::Relaxed),
            rules: self.rules,
            node: None,
            ws_url: None,
        }
    }

    pub fn record_tick(&self, took: Duration) {
        self.last_tick_us.store(took.as_micros() as u64, Ordering::Relaxed);
    }
}

/// Why a join was refused.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("there is no room {0}")]
    NotFound(String),
    #[error("room {0} is full")]
    RoomFull(String),
    #[error("room {0} has no spectator place left")]
    SpectatorsFull(String),
    #[error("the reservation is unknown or has expired")]
    BadReservation,
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error(transparent)]
    Create(#[from] CreateError),
}

/// Why a room was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("{0}")]
    Invalid(String),
    #[error("this server already runs its maximum of {0} rooms")]
    TooManyRooms(usize),
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error("could not start a room: {0}")]
    Spawn(#[from] std::io::Error),
}

/// Defaults and limits for rooms made by the directory.
#[derive(Clone, Debug)]
pub struct RoomDefaults {
    pub capacity: usize,
    pub tick_rate_hz: u16,
    /// None: one snapshot per tick.
    pub snapshot_rate_hz: Option<u16>,
    pub settings: GameSettings,
    pub empty_room_grace: Duration,
    pub max_rooms: usize,
    pub max_spectators: usize,
    pub reconnect_grace: Duration,
    pub reservation_ttl: Duration,
    /// Where rooms send finished rounds.
    pub results: Arc<ResultsLog>,
}

/// A matchmaking seat waiting for its WebSocket.
struct Reservation {
    seat: Seat,
    expires_at: Instant,
}

/// Every room of this server, in creation order.
pub struct Rooms {
    rooms: Mutex<Vec<Arc<RoomInfo>>>,
    reservations: Mutex<HashMap<String, Reservation>>,
    defaults: RoomDefaults,
    rooms_made: AtomicU64,
    shutting_down: AtomicBool,
}

impl std::fmt::Debug for Rooms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rooms").field("rooms", &self.room_count()).finish_non_exhaustive()
    }
}

/// Unix time in milliseconds of an instant in the near future.
pub fn unix_ms_after(from_now: Duration) -> u64 {
    (SystemTime::now() + from_now).duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl Rooms {
    pub fn new(defaults: RoomDefaults) -> Arc<Rooms> {
        Arc::new(Rooms {
            rooms: Mutex::new(Vec::new()),
            reservations: Mutex::new(HashMap::new()),
            defaults,
            rooms_made: AtomicU64::new(0),
            shutting_down: AtomicBool::new(false),
        })
    }

    pub fn defaults(&self) -> &RoomDefaults {
        &self.defaults
    }

    pub fn settings(&self) -> &GameSettings {
        &self.defaults.settings
    }

    pub fn default_tick_rate(&self) -> u16 {
        self.defaults.tick_rate_hz
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<RoomInfo>>> {
        self.rooms.lock().expect("room directory lock")
    }

    /// Create a room from an API request.
    pub fn create(self: &Arc<Self>, request: CreateRoom) -> Result<Arc<RoomInfo>, CreateError> {
        let name = request.name.trim();
        if name.is_empty() || name.chars().count() > MAX_ROOM_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(CreateError::Invalid(format!(
                "name must be 1-{MAX_ROOM_NAME_CHARS} characters without control characters"
            )));
        }
        let capacity = request.capacity.unwrap_or(self.defaults.capacity);
        if !(1..=crate::config::MAX_ROOM_CAPACITY).contains(&capacity) {
            return Err(CreateError::Invalid("capacity must be 1-1000".into()));
        }
        let tick_rate_hz = request.tick_rate_hz.unwrap_or(self.defaults.tick_rate_hz);
        if !(10..=60).contains(&tick_rate_hz) {
            return Err(CreateError::Invalid("tick_rate_hz must be 10-60".into()));
        }
        let rules = request.rules.unwrap_or_else(|| self.defaults.settings.match_rules());
        if !(1..=1000).contains(&rules.score_limit) || !(10..=3600).contains(&rules.time_limit_s) {
            return Err(CreateError::Invalid("rules: score_limit must be 1-1000 and time_limit_s 10-3600".into()));
        }
        let mut rooms = self.lock();
        self.open_room(&mut rooms, name.to_string(), capacity, tick_rate_hz, request.private, rules)
    }

    fn open_room(
        self: &Arc<Self>,
        rooms: &mut Vec<Arc<RoomInfo>>,
        name: String,
        capacity: usize,
        tick_rate_hz: u16,
        private: bool,
        rules: MatchRules,
    ) -> Result<Arc<RoomInfo>, CreateError> {
        if self.shutting_down.load(Ordering::Acquire) {
            return Err(CreateError::ShuttingDown);
        }
        if rooms.len() >= self.defaults.max_rooms {
            return Err(CreateError::TooManyRooms(self.defaults.max_rooms));
        }
        // Unguessable ids: a private room's id is its invitation.
        let id = loop {
            let candidate = format!("{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff);
            if !rooms.iter().any(|r| r.id == candidate) {
                break candidate;
            }
        };
        let (inbox, inbox_rx) = mpsc::channel(ROOM_INBOX);
        let info = Arc::new(RoomInfo {
            id,
            name,
            capacity,
            spectator_capacity: self.defaults.max_spectators,
            tick_rate_hz,
            snapshot_rate_hz: self.defaults.snapshot_rate_hz.unwrap_or(tick_rate_hz).min(tick_rate_hz),
            private,
            rules,
            inbox,
            seats: AtomicUsize::new(0),
            spectator_seats: AtomicUsize::new(0),
            lingering: Mutex::new(HashMap::new()),
            players: AtomicUsize::new(0),
            spectators: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
            late_ticks: AtomicU64::new(0),
            last_tick_us: AtomicU64::new(0),
            round: AtomicU32::new(1),
            in_results: AtomicBool::new(false),
            created_at: Instant::now(),
        });
        room::spawn(info.clone(), inbox_rx, self.clone())?;
        self.rooms_made.fetch_add(1, Ordering::Relaxed);
        rooms.push(info.clone());
        Ok(info)
    }

    pub fn get(&self, id: &str) -> Option<Arc<RoomInfo>> {
        self.lock().iter().find(|r| r.id == id).cloned()
    }

    /// A seat in the room `id`; a player who dropped from it gets their held seat back.
    pub fn seat_in(&self, id: &str, player: PlayerId, kind: SeatKind) -> Result<Seat, JoinError> {
        if self.shutting_down.load(Ordering::Acquire) {
            return Err(JoinError::ShuttingDown);
        }
        let room = self.get(id).ok_or_else(|| JoinError::NotFound(id.to_string()))?;
        if kind == SeatKind::Player
            && let Some(seat) = room.reclaim(player)
        {
            return Ok(seat);
        }
        room.try_take_seat(kind).ok_or_else(|| match kind {
            SeatKind::Player => JoinError::RoomFull(id.to_string()),
            SeatKind::Spectator => JoinError::SpectatorsFull(id.to_string()),
        })
    }

    /// A player seat in a public room with space, the fullest first (fill before
    /// create); a new public room when none has space.
    pub fn seat_anywhere(self: &Arc<Self>) -> Result<Seat, JoinError> {
        if self.shutting_down.load(Ordering::Acquire) {
            return Err(JoinError::ShuttingDown);
        }
        let mut rooms = self.lock();
        let mut candidates: Vec<&Arc<RoomInfo>> =
            rooms.iter().filter(|r| !r.private && !r.stopping.load(Ordering::Acquire) && r.has_space()).collect();
        candidates.sort_by_key(|r| std::cmp::Reverse(r.seats.load(Ordering::Acquire)));
        for room in candidates {
            if let Some(seat) = room.try_take_seat(SeatKind::Player) {
                return Ok(seat);
            }
        }
        let name = format!("Arena {}", self.rooms_made.load(Ordering::Relaxed) + 1);
        let d = &self.defaults;
        let room = self.open_room(&mut rooms, name, d.capacity, d.tick_rate_hz, false, d.settings.match_rules())?;
        room.try_take_seat(SeatKind::Player).ok_or_else(|| JoinError::RoomFull(room.id.clone()))
    }

    /// Hold a seat for a few seconds: in room `in_room` (only there when `strict`,
    /// else anywhere on this node when it is full), or anywhere on this node.
    pub fn reserve(
        self: &Arc<Self>,
        in_room: Option<&str>,
        strict: bool,
    ) -> Result<(String, Arc<RoomInfo>), JoinError> {
        let preferred = in_room.and_then(|id| self.get(id)).and_then(|room| room.try_take_seat(SeatKind::Player));
        let seat = match (preferred, in_room) {
            (Some(seat), _) => seat,
            (None, Some(id)) if strict => return Err(JoinError::RoomFull(id.to_string())),
            (None, _) => self.seat_anywhere()?,
        };
        let room = seat.room.clone();
        let id = format!("{:016x}", rand::random::<u64>());
        let expires_at = Instant::now() + self.defaults.reservation_ttl;
        self.reservations.lock().expect("reservations lock").insert(id.clone(), Reservation { seat, expires_at });
        Ok((id, room))
    }

    /// Turn a reservation into its seat; it must be for `room` when one is named.
    pub fn claim(&self, reservation: &str, room: Option<&str>) -> Result<Seat, JoinError> {
        let mut reservations = self.reservations.lock().expect("reservations lock");
        let fits = reservations
            .get(reservation)
            .is_some_and(|r| r.expires_at > Instant::now() && room.is_none_or(|id| r.seat.room.id == id));
        if !fits {
            return Err(JoinError::BadReservation);
        }
        Ok(reservations.remove(reservation).expect("checked above").seat)
    }

    /// Free the seats of reservations nobody claimed in time.
    pub fn expire_reservations(&self) {
        let now = Instant::now();
        self.reservations.lock().expect("reservations lock").retain(|_, r| r.expires_at > now);
    }

    /// Remove an empty room; false when a seat was taken meanwhile.
    pub fn remove_if_empty(&self, room: &RoomInfo) -> bool {
        let mut rooms = self.lock();
        if room.seats.load(Ordering::Acquire) > 0 || room.spectator_seats.load(Ordering::Acquire) > 0 {
            return false;
        }
        rooms.retain(|r| r.id != room.id);
        true
    }

    /// Forget a room whose thread ended.
    pub fn remove(&self, id: &str) {
        self.lock().retain(|r| r.id != id);
    }

    /// The public rooms.
    pub fn list_public(&self) -> Vec<RoomSummary> {
        self.lock().iter().filter(|r| !r.private).map(|r| r.summary()).collect()
    }

    pub fn all(&self) -> Vec<Arc<RoomInfo>> {
        self.lock().clone()
    }

    pub fn room_count(&self) -> usize {
        self.lock().len()
    }

    pub fn player_count(&self) -> usize {
        self.lock().iter().map(|r| r.players.load(Ordering::Relaxed)).sum()
    }

    /// Refuse new joins and tell every room to close its clients and end.
    pub fn stop_all(&self) {
        self.shutting_down.store(true, Ordering::Release);
        for room in self.lock().iter() {
            room.stopping.store(true, Ordering::Release);
        }
    }
}
