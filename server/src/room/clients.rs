//! Who is in a room: connected players, players held for a reconnection, and
//! spectators, with the helpers that send them messages.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::time::Instant;

use arena_protocol::{NetId, PlayerId, PlayerInfo, ServerMsg, close_code, encode};
use bytes::Bytes;
use rustc_hash::FxHashMap;

use super::encoder::SentViews;
use super::latest::ControlRefused;
use super::{ClientOutbox, Latest, SeatHold};
use crate::identity::Identity;

/// One player or spectator of the room.
pub struct Client {
    pub identity: Identity,
    /// The name shown in the room: the identity's, with a suffix when taken.
    pub name: String,
    pub spectator: bool,
    pub net_id: NetId,
    pub connection: u64,
    /// None while the player is held for a reconnection.
    pub outbox: Option<ClientOutbox>,
    pub held_until: Option<Instant>,
    /// The seat kept for a held player (the lobby counts it until dropped).
    pub held_seat: Option<Box<dyn SeatHold>>,
    /// What it was sent and acknowledged: the baseline of its next delta.
    pub views: SentViews,
}

/// Everyone in the room, by player id.
#[derive(Default)]
pub struct Clients {
    /// Read and change clients here freely; add and remove them only with
    /// [`Clients::insert`] and [`Clients::remove`], which keep the name index in step.
    pub map: FxHashMap<PlayerId, Client>,
    /// The names shown in the room, so a join checks its name without scanning everyone.
    names: HashSet<String>,
    /// Per name asked for, the suffixes handed out, so the thousandth `ann` does not
    /// try `ann 2` … `ann 999` first.
    series: HashMap<String, NameSeries>,
}

/// The suffixes of one asked-for name (`ann 2`, `ann 3`, …).
struct NameSeries {
    /// The next suffix never handed out.
    next: u32,
    /// Suffixes handed out whose holder has left, smallest first: a long-lived room
    /// full of `guest`s keeps reusing small numbers instead of climbing forever.
    freed: BinaryHeap<Reverse<u32>>,
    /// Clients in the room that asked for this name; the series ends at zero.
    members: usize,
}

impl Default for NameSeries {
    fn default() -> NameSeries {
        NameSeries { next: 2, freed: BinaryHeap::new(), members: 0 }
    }
}

impl Clients {
    /// Whether a person in the room goes by `name`.
    pub fn has_name(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    /// `wanted`, or `wanted 2`, `wanted 3`… when someone in the room has it: the
    /// smallest suffix freed by a leaver, else the next unused one. O(1) amortized
    /// (a suffix found taken, by someone who asked for that name outright, is skipped
    /// for good). `also_taken` says which names others in the room hold (house bots').
    pub fn unique_name(&mut self, wanted: &str, also_taken: impl Fn(&str) -> bool) -> String {
        let taken = |names: &HashSet<String>, n: &str| names.contains(n) || also_taken(n);
        if !taken(&self.names, wanted) {
            return wanted.to_string();
        }
        let series = self.series.entry(wanted.to_string()).or_default();
        loop {
            let suffix = match series.freed.pop() {
                Some(Reverse(suffix)) => suffix,
                None => {
                    series.next += 1;
                    series.next - 1
                }
            };
            let candidate = format!("{wanted} {suffix}");
            if !taken(&self.names, &candidate) {
                return candidate;
            }
        }
    }

    /// Add a client (named by [`Clients::unique_name`]); returns the one it replaces.
    pub fn insert(&mut self, player: PlayerId, client: Client) -> Option<Client> {
        let (name, wanted) = (client.name.clone(), client.identity.name.clone());
        let replaced = self.map.insert(player, client);
        if let Some(old) = &replaced {
            self.forget_name(old);
        }
        self.names.insert(name);
        self.series.entry(wanted).or_default().members += 1;
        replaced
    }

    /// Take a client out, freeing its name.
    pub fn remove(&mut self, player: PlayerId) -> Option<Client> {
        let client = self.map.remove(&player)?;
        self.forget_name(&client);
        Some(client)
    }

    fn forget_name(&mut self, client: &Client) {
        self.names.remove(&client.name);
        let wanted = &client.identity.name;
        let Some(series) = self.series.get_mut(wanted) else { return };
        series.members = series.members.saturating_sub(1);
        if series.members == 0 {
            self.series.remove(wanted);
        } else if let Some(suffix) =
            client.name.strip_prefix(wanted.as_str()).and_then(|s| s.strip_prefix(' ')).and_then(|s| s.parse().ok())
        {
            series.freed.push(Reverse(suffix));
        }
    }

    pub fn name_of(&self, player: PlayerId) -> String {
        self.map.get(&player).map_or_else(|| format!("player {}", player.0), |c| c.name.clone())
    }

    pub fn roster(&self) -> Vec<PlayerInfo> {
        let mut roster: Vec<PlayerInfo> = self
            .map
            .iter()
            .map(|(&player_id, c)| PlayerInfo { player_id, net_id: c.net_id, name: c.name.clone(), bot: false })
            .collect();
        roster.sort_by_key(|p| p.player_id);
        roster
    }

    /// Encode once, queue for every connected client. Clients whose queue is
    /// full are told they are too slow and returned, to be removed.
    pub fn broadcast(&self, msg: &ServerMsg) -> Vec<PlayerId> {
        self.broadcast_encoded(Bytes::from(encode(msg)))
    }

    /// [`Clients::broadcast`] of a message already encoded.
    pub fn broadcast_encoded(&self, bytes: Bytes) -> Vec<PlayerId> {
        self.send_encoded_to(bytes, |_, _| true)
    }

    /// [`Clients::broadcast_encoded`] to the clients `to` picks.
    pub fn send_encoded_to(&self, bytes: Bytes, to: impl Fn(PlayerId, &Client) -> bool) -> Vec<PlayerId> {
        let mut too_slow = Vec::new();
        for (&player, client) in &self.map {
            let Some(outbox) = &client.outbox else { continue };
            if !to(player, client) {
                continue;
            }
            match outbox.send_control(bytes.clone()) {
                Ok(()) => {}
                Err(ControlRefused::Full) => {
                    outbox
                        .latest
                        .send_replace(Latest::Closed { code: close_code::TOO_SLOW, reason: "too slow".into() });
                    too_slow.push(player);
                }
                // The connection has ended; its leave decides (a player may be held for a reconnection).
                Err(ControlRefused::Closed) => {}
            }
        }
        too_slow
    }

    /// Send a client its close; it stays in the map until removed.
    pub fn close(&mut self, player: PlayerId, code: u16, reason: &str) {
        if let Some(outbox) = self.map.get_mut(&player).and_then(|c| c.outbox.take()) {
            outbox.latest.send_replace(Latest::Closed { code, reason: reason.to_string() });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn client(player: u32, wanted: &str, name: String) -> Client {
        Client {
            identity: Identity { player_id: PlayerId(player), name: wanted.into(), verified: false },
            name,
            spectator: false,
            net_id: NetId(player),
            connection: u64::from(player),
            outbox: None,
            held_until: None,
            held_seat: None,
            views: SentViews::default(),
        }
    }

    fn join(clients: &mut Clients, player: u32, wanted: &str) -> String {
        let name = clients.unique_name(wanted, |_| false);
        clients.insert(PlayerId(player), client(player, wanted, name.clone()));
        name
    }

    #[test]
    fn a_thousand_joins_with_one_name_get_distinct_names_quickly() {
        let mut clients = Clients::default();
        let started = Instant::now();
        let names: HashSet<String> = (1..=1000).map(|player| join(&mut clients, player, "guest")).collect();
        // Scanning the room for every candidate took about a billion comparisons here.
        assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
        assert_eq!(names.len(), 1000);
        assert!(names.contains("guest") && names.contains("guest 2") && names.contains("guest 1000"));
        assert!(!names.contains("guest 1001"));
    }

    #[test]
    fn a_leaver_frees_its_name_for_the_next_joiner() {
        let mut clients = Clients::default();
        for player in 1..=5 {
            join(&mut clients, player, "ann");
        }
        assert_eq!(clients.remove(PlayerId(3)).unwrap().name, "ann 3");
        assert_eq!(clients.remove(PlayerId(1)).unwrap().name, "ann");
        assert_eq!(join(&mut clients, 6, "ann"), "ann");
        assert_eq!(join(&mut clients, 7, "ann"), "ann 3");
        assert_eq!(join(&mut clients, 8, "ann"), "ann 6");
        for player in [2, 4, 5, 6, 7, 8] {
            clients.remove(PlayerId(player));
        }
        assert!(clients.series.is_empty() && clients.names.is_empty());
        assert_eq!(join(&mut clients, 9, "ann"), "ann");
        assert_eq!(join(&mut clients, 10, "ann"), "ann 2");
    }

    #[test]
    fn a_suffix_someone_asked_for_outright_is_skipped() {
        let mut clients = Clients::default();
        assert_eq!(join(&mut clients, 1, "ann 2"), "ann 2");
        assert_eq!(join(&mut clients, 2, "ann"), "ann");
        assert_eq!(join(&mut clients, 3, "ann"), "ann 3");
        assert_eq!(join(&mut clients, 4, "ann 2"), "ann 2 2");
        // Replacing a client under the same id frees the old one's name.
        clients.insert(PlayerId(4), client(4, "bob", "bob".into()));
        assert_eq!(join(&mut clients, 5, "ann 2"), "ann 2 2");
    }
}
