//! Room directory: which rooms this node runs, opening them, seats in them, and
//! closing rooms that stay empty (matchmaking reservations: `reservations.rs`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arena_protocol::PlayerId;
use arena_protocol::lobby::{CreateRoom, MatchRules, RoomBots, RoomSummary};
use tokio::sync::mpsc;

use super::budgets::{Caller, OverBudget};
use super::room_handle::RoomHandle;
use super::room_link::DirectoryLink;
use super::seats::{NoSeat, Reservation, Seat, SeatKind};
use crate::ops::metrics;
use crate::room::{self, ROOM_INBOX, RoomSetup, RoomSpec};
use crate::settings::{BotFill, Difficulty};

/// Longest room name, in characters.
pub const MAX_ROOM_NAME_CHARS: usize = 40;

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
    /// Worded as the room's own close on shutdown (`shutdown::SHUTTING_DOWN`): a
    /// client hears one reason whether its join raced the drain or not.
    #[error("server shutting down")]
    ShuttingDown,
    #[error("{}", .0.message)]
    OverBudget(OverBudget),
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
    #[error("this server already runs its maximum of {0} private rooms")]
    TooManyPrivateRooms(usize),
    #[error("{}", .0.message)]
    OverBudget(OverBudget),
    #[error("this server runs at most {max} house bots and only {free} are free; ask for fewer bots")]
    TooManyBots { max: usize, free: usize },
    /// Worded as the room's own close on shutdown (`shutdown::SHUTTING_DOWN`): a
    /// client hears one reason whether its join raced the drain or not.
    #[error("server shutting down")]
    ShuttingDown,
    #[error("could not start a room: {0}")]
    Spawn(#[from] std::io::Error),
}

/// The directory's own limits, and the defaults of rooms that do not choose.
#[derive(Clone, Debug)]
pub struct DirectoryLimits {
    /// Players per room.
    pub capacity: usize,
    pub tick_rate_hz: u16,
    /// None: one snapshot per tick.
    pub snapshot_rate_hz: Option<u16>,
    pub max_rooms: usize,
    pub max_spectators: usize,
    /// How long a matchmaking seat waits for its WebSocket.
    pub reservation_ttl: Duration,
    /// Private rooms at most, counted within `max_rooms`, so they never block Quick play.
    pub max_private_rooms: usize,
    /// Open rooms one address may have created.
    pub max_rooms_per_address: usize,
    /// Matchmaking reservations one address may hold at once.
    pub max_reservations_per_address: usize,
    /// House bots (rooms' `fill_to`, summed) this node runs at most: bots cost
    /// simulation time nobody pays for with a connection.
    pub max_house_bots: usize,
}

/// What a new room is to be.
struct Opening {
    name: String,
    capacity: usize,
    tick_rate_hz: u16,
    private: bool,
    rules: MatchRules,
    bots: BotFill,
    /// Record its rounds (a room may opt out).
    replays: bool,
}

/// Every room of this node, in creation order.
pub struct Directory {
    rooms: Mutex<Vec<Arc<RoomHandle>>>,
    pub(super) reservations: Mutex<HashMap<String, Reservation>>,
    pub(super) limits: DirectoryLimits,
    /// What every room is started with.
    setup: RoomSetup,
    rooms_made: AtomicU64,
    pub(super) shutting_down: AtomicBool,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory").field("rooms", &self.room_count()).finish_non_exhaustive()
    }
}

/// The join error for a room that gave no seat.
pub(super) fn refused(id: &str, why: NoSeat) -> JoinError {
    match why {
        NoSeat::Full(SeatKind::Player) => JoinError::RoomFull(id.to_string()),
        NoSeat::Full(SeatKind::Spectator) => JoinError::SpectatorsFull(id.to_string()),
        NoSeat::Closed => JoinError::NotFound(id.to_string()),
    }
}

impl Directory {
    pub fn new(limits: DirectoryLimits, setup: RoomSetup) -> Arc<Directory> {
        Arc::new(Directory {
            rooms: Mutex::new(Vec::new()),
            reservations: Mutex::new(HashMap::new()),
            limits,
            setup,
            rooms_made: AtomicU64::new(0),
            shutting_down: AtomicBool::new(false),
        })
    }

    pub fn limits(&self) -> &DirectoryLimits {
        &self.limits
    }

    pub fn default_tick_rate(&self) -> u16 {
        self.limits.tick_rate_hz
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<RoomHandle>>> {
        self.rooms.lock().expect("room directory lock")
    }

    /// Create a room from an API request.
    pub fn create(self: &Arc<Self>, request: CreateRoom, caller: Caller) -> Result<Arc<RoomHandle>, CreateError> {
        let name = request.name.trim();
        let length_ok = !name.is_empty() && name.chars().count() <= MAX_ROOM_NAME_CHARS;
        let visible = !name.chars().any(char::is_control) && arena_protocol::client_msg::hidden_char(name).is_none();
        if !(length_ok && visible) {
            return Err(CreateError::Invalid(format!(
                "name must be 1-{MAX_ROOM_NAME_CHARS} characters without control, invisible or direction-changing characters"
            )));
        }
        let capacity = request.capacity.unwrap_or(self.limits.capacity);
        if !(1..=crate::settings::MAX_ROOM_CAPACITY).contains(&capacity) {
            return Err(CreateError::Invalid("capacity must be 1-1000".into()));
        }
        let tick_rate_hz = request.tick_rate_hz.unwrap_or(self.limits.tick_rate_hz);
        if !(10..=60).contains(&tick_rate_hz) {
            return Err(CreateError::Invalid("tick_rate_hz must be 10-60".into()));
        }
        let rules = request.rules.unwrap_or_else(|| self.setup.settings.match_rules());
        if !(1..=1000).contains(&rules.score_limit) || !(10..=3600).contains(&rules.time_limit_s) {
            return Err(CreateError::Invalid("rules: score_limit must be 1-1000 and time_limit_s 10-3600".into()));
        }
        // Strangers' rooms keep at most a default room's worth of bots; operators
        // (exempt callers) may fill a room to its capacity.
        let most_bots = if caller.counted().is_some() { capacity.min(self.limits.capacity) } else { capacity };
        let bots = match &request.bots {
            Some(asked) => bot_fill(asked, BotFill::default(), most_bots).map_err(CreateError::Invalid)?,
            None => BotFill::default(),
        };
        let mut rooms = self.lock();
        let free = self.free_bots(&rooms, None);
        if bots.fill_to > free {
            metrics::house_bots_capped("create");
            return Err(CreateError::TooManyBots { max: self.limits.max_house_bots, free });
        }
        if let Some(ip) = caller.counted() {
            let open = rooms.iter().filter(|r| r.creator == Some(ip)).count();
            if open >= self.limits.max_rooms_per_address {
                return Err(CreateError::OverBudget(OverBudget {
                    budget: "open_rooms_per_address",
                    message: format!("one address may have at most {open} open rooms; close or leave one first"),
                    retry_after: self.setup.empty_room_grace,
                }));
            }
        }
        if request.private && rooms.iter().filter(|r| r.spec.private).count() >= self.limits.max_private_rooms {
            return Err(CreateError::TooManyPrivateRooms(self.limits.max_private_rooms));
        }
        let replays = request.replays.unwrap_or(true);
        let opening =
            Opening { name: name.to_string(), capacity, tick_rate_hz, private: request.private, rules, bots, replays };
        self.open_room(&mut rooms, opening, caller.counted())
    }

    fn open_room(
        self: &Arc<Self>,
        rooms: &mut Vec<Arc<RoomHandle>>,
        opening: Opening,
        creator: Option<IpAddr>,
    ) -> Result<Arc<RoomHandle>, CreateError> {
        let Opening { name, capacity, tick_rate_hz, private, rules, bots, replays } = opening;
        if self.shutting_down.load(Ordering::Acquire) {
            return Err(CreateError::ShuttingDown);
        }
        if rooms.len() >= self.limits.max_rooms {
            return Err(CreateError::TooManyRooms(self.limits.max_rooms));
        }
        // Unguessable ids: a private room's id is its invitation.
        let id = loop {
            let candidate = format!("{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff);
            if !rooms.iter().any(|r| r.id() == candidate) {
                break candidate;
            }
        };
        let (inbox, inbox_rx) = mpsc::channel(ROOM_INBOX);
        let spec = Arc::new(RoomSpec {
            id: id.clone(),
            name,
            capacity,
            spectator_capacity: self.limits.max_spectators,
            tick_rate_hz,
            snapshot_rate_hz: self.limits.snapshot_rate_hz.unwrap_or(tick_rate_hz).min(tick_rate_hz),
            private,
            rules,
            bots,
            created_at: Instant::now(),
            replays,
        });
        let handle = Arc::new(RoomHandle::new(spec.clone(), inbox, creator));
        let link = Box::new(DirectoryLink { directory: self.clone(), room_id: id });
        room::spawn(spec, handle.status.clone(), inbox_rx, &self.setup, link)?;
        self.rooms_made.fetch_add(1, Ordering::Relaxed);
        rooms.push(handle.clone());
        Ok(handle)
    }
    pub fn get(&self, id: &str) -> Option<Arc<RoomHandle>> {
        self.lock().iter().find(|r| r.id() == id).cloned()
    }

    /// Whether `player` holds a seat in a room of this node (playing, or held for a reconnection).
    pub fn holds_seat(&self, player: PlayerId) -> bool {
        self.seat_of(player).is_some()
    }

    /// The room of this node where `player` holds a seat (playing, or held for a reconnection).
    pub(super) fn seat_of(&self, player: PlayerId) -> Option<Arc<RoomHandle>> {
        self.lock().iter().find(|r| r.book().holds(player)).cloned()
    }

    /// A seat in the room `id`. A player who holds a seat there (held for a
    /// reconnection, or an older connection not yet gone) gets it back, full or not.
    pub fn seat_in(&self, id: &str, player: PlayerId, kind: SeatKind) -> Result<Seat, JoinError> {
        if self.shutting_down.load(Ordering::Acquire) {
            return Err(JoinError::ShuttingDown);
        }
        let room = self.get(id).ok_or_else(|| JoinError::NotFound(id.to_string()))?;
        Seat::take(&room, player, kind).map_err(|why| refused(id, why))
    }

    /// Quick play: the player's own seat when they hold one on this node; else a
    /// player seat in a public room with space, the fullest first (fill before
    /// create); else a new public room.
    pub fn seat_anywhere(self: &Arc<Self>, player: PlayerId) -> Result<Seat, JoinError> {
        if self.shutting_down.load(Ordering::Acquire) {
            return Err(JoinError::ShuttingDown);
        }
        if let Some(home) = self.seat_of(player)
            && let Ok(seat) = Seat::take(&home, player, SeatKind::Player)
        {
            return Ok(seat);
        }
        let mut rooms = self.lock();
        let mut candidates: Vec<&Arc<RoomHandle>> = rooms.iter().filter(|r| !r.spec.private && r.has_space()).collect();
        candidates.sort_by_key(|r| std::cmp::Reverse(r.seats_taken()));
        for room in candidates {
            if let Ok(seat) = Seat::take(room, player, SeatKind::Player) {
                return Ok(seat);
            }
        }
        let room = self.open_quick_play_room(&mut rooms)?;
        Seat::take(&room, player, SeatKind::Player).map_err(|why| refused(room.id(), why))
    }

    pub(super) fn open_quick_play_room(
        self: &Arc<Self>,
        rooms: &mut Vec<Arc<RoomHandle>>,
    ) -> Result<Arc<RoomHandle>, CreateError> {
        let opening = Opening {
            name: format!("Arena {}", self.rooms_made.load(Ordering::Relaxed) + 1),
            capacity: self.limits.capacity,
            tick_rate_hz: self.limits.tick_rate_hz,
            private: false,
            rules: self.setup.settings.match_rules(),
            bots: self.quick_play_bots(rooms),
            replays: true,
        };
        self.open_room(rooms, opening, None)
    }

    /// The settings' Quick play bots, fewer when the server's bot budget runs low:
    /// a newcomer gets a room with fewer bots rather than no room.
    fn quick_play_bots(&self, rooms: &[Arc<RoomHandle>]) -> BotFill {
        let wanted = self.setup.settings.quick_play_bots;
        let free = self.free_bots(rooms, None);
        if wanted.fill_to > free {
            metrics::house_bots_capped("quick_play");
        }
        BotFill { fill_to: wanted.fill_to.min(free), ..wanted }
    }

    /// House bots `--max-house-bots` leaves for one more room (or for room `except`,
    /// whose own bots do not count against it).
    pub(super) fn free_bots(&self, rooms: &[Arc<RoomHandle>], except: Option<&str>) -> usize {
        let used: usize =
            rooms.iter().filter(|r| Some(r.id()) != except).map(|r| r.bots_allowed.load(Ordering::Relaxed)).sum();
        self.limits.max_house_bots.saturating_sub(used)
    }

    /// Let room `id` run `fill_to` bots if the server's bot budget allows; the free
    /// count when it does not.
    pub(super) fn allow_bots(&self, id: &str, fill_to: usize) -> Result<(), usize> {
        let rooms = self.lock();
        let free = self.free_bots(&rooms, Some(id));
        if fill_to > free {
            return Err(free);
        }
        if let Some(room) = rooms.iter().find(|r| r.id() == id) {
            room.bots_allowed.store(fill_to, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Take an empty room off the directory so it can close; false when a seat
    /// was taken meanwhile.
    pub fn close_if_empty(&self, id: &str) -> bool {
        let mut rooms = self.lock();
        let Some(room) = rooms.iter().find(|r| r.id() == id) else { return true };
        if !room.book().close_if_empty() {
            return false;
        }
        rooms.retain(|r| r.id() != id);
        true
    }

    /// Forget a room whose thread ended.
    pub fn remove(&self, id: &str) {
        self.lock().retain(|r| r.id() != id);
    }

    /// The public rooms.
    pub fn list_public(&self) -> Vec<RoomSummary> {
        self.lock().iter().filter(|r| !r.spec.private).map(|r| r.summary()).collect()
    }

    pub fn all(&self) -> Vec<Arc<RoomHandle>> {
        self.lock().clone()
    }

    pub fn room_count(&self) -> usize {
        self.lock().len()
    }

    pub fn player_count(&self) -> usize {
        self.lock().iter().map(|r| r.status.players()).sum()
    }

    /// Rooms and players, for samplers that want both at once.
    pub fn population(&self) -> (usize, usize) {
        let rooms = self.lock();
        (rooms.len(), rooms.iter().map(|r| r.status.players()).sum())
    }

    /// Refuse new joins and tell every room to close its clients and end.
    pub fn stop_all(&self) {
        self.shutting_down.store(true, Ordering::Release);
        for room in self.lock().iter() {
            room.status.stop.store(true, Ordering::Release);
        }
    }
}

/// `asked` applied to `current`, checked: a difficulty by name, and at most `most` (people plus bots).
pub fn bot_fill(asked: &RoomBots, current: BotFill, most: usize) -> Result<BotFill, String> {
    let difficulty = match asked.difficulty.as_deref() {
        None => current.difficulty,
        Some(name) => name.parse::<Difficulty>().map_err(|why| format!("bots.difficulty {why}"))?,
    };
    let fill_to = asked.fill_to.unwrap_or(current.fill_to);
    if fill_to > most {
        return Err(format!(
            "bots.fill_to must be 0-{most} (the room's capacity; rooms strangers make: at most the server's default room capacity)"
        ));
    }
    Ok(BotFill { fill_to, difficulty })
}
