//! Who is in a room: connected players, players held for a reconnection, and
//! spectators, with the helpers that send them messages.

use std::collections::HashMap;
use std::time::Instant;

use arena_protocol::{NetId, PlayerId, PlayerInfo, ServerMsg, close_code, encode};
use bytes::Bytes;
use tokio::sync::mpsc;

use super::encoder::SentViews;
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
    pub map: HashMap<PlayerId, Client>,
}

impl Clients {
    /// `wanted`, or `wanted 2`, `wanted 3`… when someone in the room has it.
    pub fn unique_name(&self, wanted: &str) -> String {
        let taken = |name: &str| self.map.values().any(|c| c.name == name);
        if !taken(wanted) {
            return wanted.to_string();
        }
        (2..).map(|n| format!("{wanted} {n}")).find(|name| !taken(name)).expect("some suffix is free")
    }

    pub fn counts(&self) -> (usize, usize) {
        let spectators = self.map.values().filter(|c| c.spectator).count();
        (self.map.len() - spectators, spectators)
    }

    pub fn name_of(&self, player: PlayerId) -> String {
        self.map.get(&player).map_or_else(|| format!("player {}", player.0), |c| c.name.clone())
    }

    pub fn roster(&self) -> Vec<PlayerInfo> {
        let mut roster: Vec<PlayerInfo> = self
            .map
            .iter()
            .map(|(&player_id, c)| PlayerInfo { player_id, net_id: c.net_id, name: c.name.clone() })
            .collect();
        roster.sort_by_key(|p| p.player_id);
        roster
    }

    /// Encode once, queue for every connected client. Clients whose queue is
    /// full are told they are too slow and returned, to be removed.
    pub fn broadcast(&self, msg: &ServerMsg) -> Vec<PlayerId> {
        let bytes = Bytes::from(encode(msg));
        let mut too_slow = Vec::new();
        for (&player, client) in &self.map {
            let Some(outbox) = &client.outbox else { continue };
            match outbox.control.try_send(bytes.clone()) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    outbox
                        .latest
                        .send_replace(Latest::Closed { code: close_code::TOO_SLOW, reason: "too slow".into() });
                    too_slow.push(player);
                }
                // The connection has ended; its leave decides (a player may be held for a reconnection).
                Err(mpsc::error::TrySendError::Closed(_)) => {}
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
