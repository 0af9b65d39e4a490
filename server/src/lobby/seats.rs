//! Seat accounting of one room: who holds a seat, what is reserved, and the
//! handles whose drop gives a seat back. A seat belongs to a person, not to a
//! connection: every connection of the same player in the same room (a
//! reconnection racing the old connection's end, a second tab, the seat a room
//! holds through the reconnection grace) shares that person's one seat.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use arena_protocol::PlayerId;

use super::room_handle::RoomHandle;
use crate::room::SeatHold;

/// Whether a seat is for playing or watching.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeatKind {
    Player,
    Spectator,
}

/// Why no seat was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoSeat {
    /// Every place of this kind is taken.
    Full(SeatKind),
    /// The room is closing or has closed.
    Closed,
}

/// One person's seat and how many handles keep it.
#[derive(Clone, Copy, Debug)]
struct Occupant {
    kind: SeatKind,
    handles: u32,
}

/// The seat ledger of one room. Pure bookkeeping, so it can be checked against a
/// model; the room's handle keeps it behind a lock.
#[derive(Debug)]
pub struct SeatBook {
    capacity: usize,
    spectator_capacity: usize,
    occupants: HashMap<PlayerId, Occupant>,
    players: usize,
    spectators: usize,
    /// Player seats promised to matchmaking reservations not yet claimed.
    reserved: usize,
    /// Set when the room leaves the directory: no seat is given after it.
    closed: bool,
}

impl SeatBook {
    pub fn new(capacity: usize, spectator_capacity: usize) -> SeatBook {
        SeatBook {
            capacity,
            spectator_capacity,
            occupants: HashMap::new(),
            players: 0,
            spectators: 0,
            reserved: 0,
            closed: false,
        }
    }

    /// A handle on `player`'s seat. A person already seated gets their own seat
    /// (of the kind they hold) whether or not the room is full; anyone else needs
    /// a free place of the kind they ask for.
    pub fn take(&mut self, player: PlayerId, wanted: SeatKind) -> Result<SeatKind, NoSeat> {
        if let Some(occupant) = self.occupants.get_mut(&player) {
            occupant.handles += 1;
            return Ok(occupant.kind);
        }
        if self.closed {
            return Err(NoSeat::Closed);
        }
        let free = match wanted {
            SeatKind::Player => self.players + self.reserved < self.capacity,
            SeatKind::Spectator => self.spectators < self.spectator_capacity,
        };
        if !free {
            return Err(NoSeat::Full(wanted));
        }
        self.seat(player, wanted);
        Ok(wanted)
    }

    fn seat(&mut self, player: PlayerId, kind: SeatKind) {
        self.occupants.insert(player, Occupant { kind, handles: 1 });
        match kind {
            SeatKind::Player => self.players += 1,
            SeatKind::Spectator => self.spectators += 1,
        }
    }

    /// One handle on `player`'s seat was dropped; the last one frees the seat.
    pub fn release(&mut self, player: PlayerId) {
        let Some(occupant) = self.occupants.get_mut(&player) else { return };
        occupant.handles -= 1;
        if occupant.handles == 0 {
            let kind = occupant.kind;
            self.occupants.remove(&player);
            match kind {
                SeatKind::Player => self.players -= 1,
                SeatKind::Spectator => self.spectators -= 1,
            }
        }
    }

    /// Promise a player seat to whoever claims the reservation.
    pub fn reserve(&mut self) -> bool {
        let free = !self.closed && self.players + self.reserved < self.capacity;
        if free {
            self.reserved += 1;
        }
        free
    }

    pub fn cancel_reservation(&mut self) {
        self.reserved -= 1;
    }

    /// The reservation becomes `player`'s seat; a person already seated here keeps
    /// their own seat and the promised one is freed, so nobody counts twice.
    pub fn claim_reservation(&mut self, player: PlayerId) -> SeatKind {
        self.reserved -= 1;
        match self.occupants.get_mut(&player) {
            Some(occupant) => {
                occupant.handles += 1;
                occupant.kind
            }
            None => {
                self.seat(player, SeatKind::Player);
                SeatKind::Player
            }
        }
    }

    /// Player seats taken, reservations included (what placement should count).
    pub fn players_taken(&self) -> usize {
        self.players + self.reserved
    }

    pub fn spectators_taken(&self) -> usize {
        self.spectators
    }

    pub fn has_space(&self) -> bool {
        !self.closed && self.players_taken() < self.capacity
    }

    /// Whether `player` holds a seat here.
    pub fn holds(&self, player: PlayerId) -> bool {
        self.occupants.contains_key(&player)
    }

    /// Nobody seated, nothing reserved.
    pub fn is_empty(&self) -> bool {
        self.occupants.is_empty() && self.reserved == 0
    }

    /// Close the book when it is empty (the room may then end); false when not.
    pub fn close_if_empty(&mut self) -> bool {
        if self.is_empty() {
            self.closed = true;
        }
        self.closed
    }
}

/// A handle on a person's seat in a room; dropping the last handle frees it.
#[derive(Debug)]
pub struct Seat {
    pub room: Arc<RoomHandle>,
    pub player: PlayerId,
    pub kind: SeatKind,
}

impl SeatHold for Seat {}

impl Drop for Seat {
    fn drop(&mut self) {
        self.room.book().release(self.player);
    }
}

impl Seat {
    /// A handle on `player`'s seat in `room`.
    pub fn take(room: &Arc<RoomHandle>, player: PlayerId, wanted: SeatKind) -> Result<Seat, NoSeat> {
        let kind = room.book().take(player, wanted)?;
        Ok(Seat { room: room.clone(), player, kind })
    }
}

/// A player seat promised by matchmaking, waiting for its WebSocket. Dropping it
/// unclaimed gives the place back.
#[derive(Debug)]
pub struct Reservation {
    room: Option<Arc<RoomHandle>>,
    pub expires_at: Instant,
    /// The address that asked for it, when budgets apply to it.
    pub owner: Option<IpAddr>,
}

impl Reservation {
    pub fn make(room: &Arc<RoomHandle>, expires_at: Instant, owner: Option<IpAddr>) -> Option<Reservation> {
        room.book().reserve().then(|| Reservation { room: Some(room.clone()), expires_at, owner })
    }

    pub fn room(&self) -> &Arc<RoomHandle> {
        self.room.as_ref().expect("a reservation has its room until claimed")
    }

    /// Turn the promise into `player`'s seat.
    pub fn claim(mut self, player: PlayerId) -> Seat {
        let room = self.room.take().expect("claimed once");
        let kind = room.book().claim_reservation(player);
        Seat { room, player, kind }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(room) = self.room.take() {
            room.book().cancel_reservation();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_seated_person_gets_their_own_seat_in_a_full_room() {
        let mut book = SeatBook::new(2, 1);
        assert_eq!(book.take(PlayerId(1), SeatKind::Player), Ok(SeatKind::Player));
        assert_eq!(book.take(PlayerId(2), SeatKind::Player), Ok(SeatKind::Player));
        assert_eq!(book.take(PlayerId(3), SeatKind::Player), Err(NoSeat::Full(SeatKind::Player)));
        // Player 1 again (a reconnection racing the old connection): the same seat.
        assert_eq!(book.take(PlayerId(1), SeatKind::Player), Ok(SeatKind::Player));
        // Asking to watch does not give a seated player a second place.
        assert_eq!(book.take(PlayerId(1), SeatKind::Spectator), Ok(SeatKind::Player));
        assert_eq!((book.players_taken(), book.spectators_taken()), (2, 0));
        for _ in 0..3 {
            book.release(PlayerId(1));
        }
        assert_eq!(book.players_taken(), 1, "the last handle frees the seat");
    }

    #[test]
    fn a_claimed_reservation_never_counts_a_person_twice() {
        let mut book = SeatBook::new(2, 0);
        assert!(book.reserve());
        assert_eq!(book.take(PlayerId(1), SeatKind::Player), Ok(SeatKind::Player));
        assert!(!book.reserve(), "one seat taken, one promised: full");
        assert_eq!(book.claim_reservation(PlayerId(1)), SeatKind::Player);
        assert_eq!(book.players_taken(), 1, "player 1 kept their seat and the promised one is free again");
    }

    #[test]
    fn a_closed_book_gives_no_new_seat() {
        let mut book = SeatBook::new(2, 2);
        assert!(book.close_if_empty());
        assert_eq!(book.take(PlayerId(1), SeatKind::Player), Err(NoSeat::Closed));
        assert!(!book.reserve());
    }

    /// What happens to one room's seats, in any order.
    #[derive(Clone, Debug)]
    enum Event {
        /// A connection of player `n` asks for a seat (a join, a reconnect, a second tab).
        Take(u8, bool),
        /// One of the connections of player `n` ends (or the room drops a held seat).
        Release(u8),
        Reserve,
        /// The oldest reservation is claimed by player `n`.
        Claim(u8),
        /// The oldest reservation expires.
        Expire,
    }

    fn event() -> impl Strategy<Value = Event> {
        prop_oneof![
            (0u8..8, any::<bool>()).prop_map(|(p, spectate)| Event::Take(p, spectate)),
            (0u8..8).prop_map(Event::Release),
            Just(Event::Reserve),
            (0u8..8).prop_map(Event::Claim),
            Just(Event::Expire),
        ]
    }

    proptest! {
        /// Against a model where each person's handles are listed: the book's counts
        /// always equal the distinct people seated plus open reservations, never
        /// exceed capacity, a seated person is never refused, and a room with no
        /// one in it has every seat free.
        #[test]
        fn the_book_matches_a_simple_model(events in proptest::collection::vec(event(), 1..200)) {
            let (capacity, spectator_capacity) = (4usize, 2usize);
            let mut book = SeatBook::new(capacity, spectator_capacity);
            let mut handles: HashMap<PlayerId, (SeatKind, u32)> = HashMap::new();
            let mut reservations = 0usize;
            for event in events {
                match event {
                    Event::Take(n, spectate) => {
                        let player = PlayerId(u32::from(n));
                        let wanted = if spectate { SeatKind::Spectator } else { SeatKind::Player };
                        let result = book.take(player, wanted);
                        if let Some((kind, count)) = handles.get_mut(&player) {
                            prop_assert_eq!(result, Ok(*kind), "a seated person is never refused");
                            *count += 1;
                        } else if let Ok(kind) = result {
                            handles.insert(player, (kind, 1));
                        }
                    }
                    Event::Release(n) => {
                        let player = PlayerId(u32::from(n));
                        if let Some((_, count)) = handles.get_mut(&player) {
                            book.release(player);
                            *count -= 1;
                            if *count == 0 {
                                handles.remove(&player);
                            }
                        }
                    }
                    Event::Reserve => {
                        if book.reserve() {
                            reservations += 1;
                        }
                    }
                    Event::Claim(n) if reservations > 0 => {
                        let player = PlayerId(u32::from(n));
                        reservations -= 1;
                        let kind = book.claim_reservation(player);
                        let entry = handles.entry(player).or_insert((kind, 0));
                        prop_assert_eq!(entry.0, kind);
                        entry.1 += 1;
                    }
                    Event::Expire if reservations > 0 => {
                        reservations -= 1;
                        book.cancel_reservation();
                    }
                    Event::Claim(_) | Event::Expire => {}
                }
                let players = handles.values().filter(|(k, _)| *k == SeatKind::Player).count();
                let spectators = handles.len() - players;
                prop_assert_eq!(book.players_taken(), players + reservations);
                prop_assert_eq!(book.spectators_taken(), spectators);
                prop_assert!(book.players_taken() <= capacity);
                prop_assert!(book.spectators_taken() <= spectator_capacity);
                prop_assert_eq!(book.is_empty(), handles.is_empty() && reservations == 0);
            }
            // Everyone leaves, every promise expires: every seat is free.
            for (player, (_, count)) in handles {
                for _ in 0..count {
                    book.release(player);
                }
            }
            for _ in 0..reservations {
                book.cancel_reservation();
            }
            prop_assert!(book.is_empty());
            prop_assert_eq!(book.players_taken(), 0);
            prop_assert!(book.reserve(), "an empty room has every seat free");
        }
    }
}
