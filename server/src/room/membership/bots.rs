//! The house bots' side of membership: bots come and go with the people (people
//! plus bots up to the room's `fill_to`, never past its capacity) and are announced
//! like anyone, marked as bots.

use std::sync::atomic::Ordering;

use arena_protocol::{PlayerInfo, RoomEvent};

use super::Membership;
use crate::room::house_bots::BotFill;
use crate::room::house_bots::crew::CrewMember;
use crate::room::world::RoomWorld;

impl Membership {
    /// Everyone in the room, people and bots, by player id.
    pub fn roster(&self) -> Vec<PlayerInfo> {
        let mut roster = self.clients.roster();
        roster.extend(self.crew.members.iter().map(CrewMember::info));
        roster.sort_by_key(|p| p.player_id);
        roster
    }

    /// Bring the bots to what the people in the room leave room for: a bot gives its
    /// place to a person at once, and comes back when people leave.
    pub fn fill_bots(&mut self, world: &mut RoomWorld) {
        // Held players count: their seat is still theirs.
        let wanted = self.crew.wanted(self.counts.0, self.spec.capacity);
        while self.crew.members.len() > wanted {
            let Some(bot) = self.crew.members.pop() else { break };
            world.remove_player(bot.player_id);
            self.roster_change.joined.retain(|p| p.player_id != bot.player_id);
            self.roster_change.left.push(bot.player_id);
            self.presence.push(RoomEvent::Left(bot.info()));
        }
        while self.crew.members.len() < wanted {
            let clients = &self.clients;
            let (player_id, name) = self.crew.next_identity(|n| clients.has_name(n));
            let net_id = world.add_bot(player_id, self.crew.difficulty());
            let bot = CrewMember { player_id, net_id, name };
            self.roster_change.joined.push(bot.info());
            self.presence.push(RoomEvent::Joined(bot.info()));
            self.crew.members.push(bot);
        }
        self.status.bots.store(self.crew.members.len(), Ordering::Relaxed);
    }

    /// An operator changes the bots: how many the room keeps and how well they play.
    pub fn set_bots(&mut self, fill: BotFill, world: &mut RoomWorld) {
        if fill.difficulty != self.crew.difficulty() {
            world.set_bot_difficulty(fill.difficulty);
        }
        self.crew.fill = fill;
        self.fill_bots(world);
    }
}
