//! Matchmaking reservations: a player seat promised for a few seconds to whoever
//! claims it with its WebSocket, bounded per client address.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arena_protocol::PlayerId;

use super::budgets::{Caller, OverBudget};
use super::directory::{Directory, JoinError, refused};
use super::room_handle::RoomHandle;
use super::seats::{Reservation, Seat, SeatKind};

impl Directory {
    /// Hold a player seat for a few seconds: in room `in_room` (only there when
    /// `strict`, else anywhere on this node when it is full), or anywhere on this node.
    pub fn reserve(
        self: &Arc<Self>,
        in_room: Option<&str>,
        strict: bool,
        caller: Caller,
    ) -> Result<(String, Arc<RoomHandle>), JoinError> {
        if self.shutting_down.load(std::sync::atomic::Ordering::Acquire) {
            return Err(JoinError::ShuttingDown);
        }
        let owner = caller.counted();
        self.check_reservation_budget(owner)?;
        let expires_at = Instant::now() + self.limits.reservation_ttl;
        let wanted = in_room.and_then(|id| self.get(id)).filter(|room| !room.status.stop_requested());
        let reservation = match (wanted.and_then(|room| Reservation::make(&room, expires_at, owner)), in_room) {
            (Some(reservation), _) => reservation,
            (None, Some(id)) if strict => return Err(JoinError::RoomFull(id.to_string())),
            (None, _) => self.reserve_anywhere(expires_at, owner)?,
        };
        let room = reservation.room().clone();
        let id = format!("{:016x}", rand::random::<u64>());
        self.reservations.lock().expect("reservations lock").insert(id.clone(), reservation);
        Ok((id, room))
    }

    /// Outstanding reservations of one address are bounded, so one address cannot
    /// hold every seat of the node.
    fn check_reservation_budget(&self, owner: Option<IpAddr>) -> Result<(), JoinError> {
        let Some(ip) = owner else { return Ok(()) };
        let reservations = self.reservations.lock().expect("reservations lock");
        let held = reservations.values().filter(|r| r.owner == Some(ip)).count();
        if held < self.limits.max_reservations_per_address {
            return Ok(());
        }
        let next_expiry = reservations.values().filter(|r| r.owner == Some(ip)).map(|r| r.expires_at).min();
        Err(JoinError::OverBudget(OverBudget {
            budget: "reservations_per_address",
            message: format!("one address may hold at most {held} unclaimed seat reservations"),
            retry_after: next_expiry.map_or(Duration::from_secs(1), |t| t.saturating_duration_since(Instant::now())),
        }))
    }

    /// A reservation in the fullest public room with space, or in a new one.
    fn reserve_anywhere(
        self: &Arc<Self>,
        expires_at: Instant,
        owner: Option<IpAddr>,
    ) -> Result<Reservation, JoinError> {
        let mut rooms = self.lock();
        let mut candidates: Vec<&Arc<RoomHandle>> = rooms.iter().filter(|r| !r.spec.private && r.has_space()).collect();
        candidates.sort_by_key(|r| std::cmp::Reverse(r.seats_taken()));
        if let Some(reservation) = candidates.into_iter().find_map(|room| Reservation::make(room, expires_at, owner)) {
            return Ok(reservation);
        }
        let room = self.open_quick_play_room(&mut rooms)?;
        Reservation::make(&room, expires_at, owner).ok_or_else(|| JoinError::RoomFull(room.id().to_string()))
    }

    /// Turn a reservation into `player`'s seat; it must be for `room` when one is
    /// named. A player who already holds a seat on this node goes back to it (the
    /// reservation is given up): one person never takes two seats.
    pub fn claim(&self, reservation: &str, room: Option<&str>, player: PlayerId) -> Result<Seat, JoinError> {
        let claimed = {
            let mut reservations = self.reservations.lock().expect("reservations lock");
            let fits = reservations
                .get(reservation)
                .is_some_and(|r| r.expires_at > Instant::now() && room.is_none_or(|id| r.room().id() == id));
            if !fits {
                return Err(JoinError::BadReservation);
            }
            reservations.remove(reservation).expect("checked above")
        };
        if self.shutting_down.load(std::sync::atomic::Ordering::Acquire) {
            return Err(JoinError::ShuttingDown);
        }
        if let Some(home) = self.seat_of(player)
            && home.id() != claimed.room().id()
        {
            drop(claimed);
            return Seat::take(&home, player, SeatKind::Player).map_err(|why| refused(home.id(), why));
        }
        Ok(claimed.claim(player))
    }

    /// Free the seats of reservations nobody claimed in time.
    pub fn expire_reservations(&self) {
        let now = Instant::now();
        let expired: Vec<Reservation> = {
            let mut reservations = self.reservations.lock().expect("reservations lock");
            let ids: Vec<String> =
                reservations.iter().filter(|(_, r)| r.expires_at <= now).map(|(id, _)| id.clone()).collect();
            ids.iter().filter_map(|id| reservations.remove(id)).collect()
        };
        // Dropped outside the reservations lock: each takes its room's seat lock.
        drop(expired);
    }
}
