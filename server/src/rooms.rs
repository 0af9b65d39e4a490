//! Room directory: which rooms exist, seat reservations, and making rooms on demand.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arena_protocol::PlayerId;
use arena_protocol::lobby::RoomSummary;
use tokio::sync::mpsc;

use crate::room::{self, ROOM_INBOX, RoomInput};
use crate::settings::GameSettings;

/// What the directory knows about one running room. Shared by the directory,
/// the room's thread and the sessions seated in it.
#[derive(Debug)]
pub struct RoomInfo {
    pub id: String,
    pub name: String,
    pub capacity: usize,
    pub tick_rate_hz: u16,
    /// Where sessions send joins, inputs and leaves.
    pub inbox: mpsc::Sender<RoomInput>,
    /// Seats taken, counted when a join is accepted (before the room sees it),
    /// so concurrent joins can never over-fill the room.
    seats: AtomicUsize,
    /// Players the room's thread has seated (for the lobby).
    pub players: AtomicUsize,
    /// Set to make the room close its clients and end.
    pub stopping: AtomicBool,
    /// Ticks that started after their deadline.
    pub late_ticks: AtomicU64,
    /// Duration of the last tick, in microseconds.
    pub last_tick_us: AtomicU64,
    pub created_at: Instant,
}

impl RoomInfo {
    pub fn record_tick(&self, took: Duration) {
        self.last_tick_us.store(took.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn summary(&self) -> RoomSummary {
        RoomSummary {
            id: self.id.clone(),
            name: self.name.clone(),
            players: self.players.load(Ordering::Relaxed),
            capacity: self.capacity,
            tick_rate_hz: self.tick_rate_hz,
        }
    }

    fn try_take_seat(&self) -> bool {
        self.seats
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |taken| (taken < self.capacity).then_some(taken + 1))
            .is_ok()
    }
}

/// A reserved place in a room. Dropping it frees the place.
#[derive(Debug)]
pub struct Seat {
    pub room: Arc<RoomInfo>,
    pub player_id: PlayerId,
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.room.seats.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Why a join was refused.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("room {0} is full")]
    RoomFull(String),
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error("could not start a room: {0}")]
    Spawn(#[from] std::io::Error),
}

/// Defaults for rooms made by the directory.
#[derive(Clone, Debug)]
pub struct RoomDefaults {
    pub capacity: usize,
    pub tick_rate_hz: u16,
    pub settings: GameSettings,
    pub empty_room_grace: Duration,
}

/// Every room of this server, in creation order.
#[derive(Debug)]
pub struct Rooms {
    rooms: Mutex<Vec<Arc<RoomInfo>>>,
    defaults: RoomDefaults,
    next_player_id: AtomicU32,
    shutting_down: AtomicBool,
}

impl Rooms {
    pub fn new(defaults: RoomDefaults) -> Arc<Rooms> {
        Arc::new(Rooms {
            rooms: Mutex::new(Vec::new()),
            defaults,
            next_player_id: AtomicU32::new(1),
            shutting_down: AtomicBool::new(false),
        })
    }

    pub fn settings(&self) -> &GameSettings {
        &self.defaults.settings
    }

    pub fn default_tick_rate(&self) -> u16 {
        self.defaults.tick_rate_hz
    }

    pub fn empty_room_grace(&self) -> Duration {
        self.defaults.empty_room_grace
    }

    /// Reserve a seat: in the named room (made when it does not exist yet), or
    /// in the first room with space (a new room when none has space).
    pub fn take_seat(self: &Arc<Self>, requested: Option<&str>) -> Result<Seat, JoinError> {
        if self.shutting_down.load(Ordering::Acquire) {
            return Err(JoinError::ShuttingDown);
        }
        let mut rooms = self.rooms.lock().expect("room directory lock");
        let room = match requested {
            Some(id) => match rooms.iter().find(|r| r.id == id) {
                Some(room) if room.try_take_seat() => room.clone(),
                Some(_) => return Err(JoinError::RoomFull(id.to_string())),
                None => self.open_room(&mut rooms, id.to_string(), id.to_string())?,
            },
            None => match rooms.iter().find(|r| !r.stopping.load(Ordering::Acquire) && r.try_take_seat()) {
                Some(room) => room.clone(),
                None => {
                    let id = loop {
                        let candidate = format!("{:08x}", rand::random::<u32>());
                        if !rooms.iter().any(|r| r.id == candidate) {
                            break candidate;
                        }
                    };
                    let name = format!("Arena {}", rooms.len() + 1);
                    self.open_room(&mut rooms, id, name)?
                }
            },
        };
        let player_id = PlayerId(self.next_player_id.fetch_add(1, Ordering::Relaxed));
        Ok(Seat { room, player_id })
    }

    /// Start a room with one seat already taken.
    fn open_room(
        self: &Arc<Self>,
        rooms: &mut Vec<Arc<RoomInfo>>,
        id: String,
        name: String,
    ) -> Result<Arc<RoomInfo>, JoinError> {
        let (inbox, inbox_rx) = mpsc::channel(ROOM_INBOX);
        let info = Arc::new(RoomInfo {
            id,
            name,
            capacity: self.defaults.capacity,
            tick_rate_hz: self.defaults.tick_rate_hz,
            inbox,
            seats: AtomicUsize::new(1),
            players: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
            late_ticks: AtomicU64::new(0),
            last_tick_us: AtomicU64::new(0),
            created_at: Instant::now(),
        });
        room::spawn(info.clone(), inbox_rx, self.clone())?;
        rooms.push(info.clone());
        Ok(info)
    }

    /// Remove an empty room; false when a seat was taken meanwhile.
    pub fn remove_if_empty(&self, room: &RoomInfo) -> bool {
        let mut rooms = self.rooms.lock().expect("room directory lock");
        if room.seats.load(Ordering::Acquire) > 0 {
            return false;
        }
        rooms.retain(|r| r.id != room.id);
        true
    }

    /// Forget a room whose thread ended.
    pub fn remove(&self, id: &str) {
        self.rooms.lock().expect("room directory lock").retain(|r| r.id != id);
    }

    pub fn list(&self) -> Vec<RoomSummary> {
        self.rooms.lock().expect("room directory lock").iter().map(|r| r.summary()).collect()
    }

    pub fn room_count(&self) -> usize {
        self.rooms.lock().expect("room directory lock").len()
    }

    pub fn player_count(&self) -> usize {
        self.rooms.lock().expect("room directory lock").iter().map(|r| r.players.load(Ordering::Relaxed)).sum()
    }

    /// Refuse new joins and tell every room to close its clients and end.
    pub fn stop_all(&self) {
        self.shutting_down.store(true, Ordering::Release);
        for room in self.rooms.lock().expect("room directory lock").iter() {
            room.stopping.store(true, Ordering::Release);
        }
    }
}
