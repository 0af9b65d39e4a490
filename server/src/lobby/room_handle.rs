//! The directory's handle on one running room: the room's spec and status (the
//! room's to write), its seat book (the directory's) and its inbox.

use std::net::IpAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard};

use arena_protocol::lobby::RoomSummary;
use tokio::sync::mpsc;

use super::seats::SeatBook;
use crate::room::{RoomInput, RoomSpec, RoomStatus};

#[derive(Debug)]
pub struct RoomHandle {
    pub spec: Arc<RoomSpec>,
    pub status: Arc<RoomStatus>,
    /// Where sessions send joins, inputs and leaves.
    pub inbox: mpsc::Sender<RoomInput>,
    /// The address that created it through the API (None: Quick play, or exempt),
    /// for the per-address room budget.
    pub creator: Option<IpAddr>,
    /// House bots this room may run (its `fill_to`), held against the server's
    /// `--max-house-bots`; changed by the admin bots endpoint under the directory lock.
    pub bots_allowed: AtomicUsize,
    /// Seats are counted when a join is accepted (before the room sees it), so
    /// concurrent joins can never over-fill the room.
    seats: Mutex<SeatBook>,
}

impl RoomHandle {
    pub fn new(spec: Arc<RoomSpec>, inbox: mpsc::Sender<RoomInput>, creator: Option<IpAddr>) -> RoomHandle {
        let seats = Mutex::new(SeatBook::new(spec.capacity, spec.spectator_capacity));
        let bots_allowed = AtomicUsize::new(spec.bots.fill_to);
        RoomHandle { spec, status: Arc::new(RoomStatus::default()), inbox, creator, bots_allowed, seats }
    }

    pub fn id(&self) -> &str {
        &self.spec.id
    }

    pub fn summary(&self) -> RoomSummary {
        self.spec.summary(&self.status)
    }

    pub(super) fn book(&self) -> MutexGuard<'_, SeatBook> {
        self.seats.lock().expect("seat book lock")
    }

    /// Player seats taken, reservations included (what placement decisions should count).
    pub fn seats_taken(&self) -> usize {
        self.book().players_taken()
    }

    /// Open to newcomers: not stopping, not closed, a player seat free.
    pub fn has_space(&self) -> bool {
        !self.status.stop_requested() && self.book().has_space()
    }
}
