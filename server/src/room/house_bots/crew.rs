//! How many house bots a room keeps and who they are: people plus bots up to
//! `fill_to` (never past the room's capacity), ids from the bots' own range, names.

use std::sync::atomic::{AtomicU32, Ordering};

use arena_protocol::{NetId, PlayerId, PlayerInfo};

use super::{BotFill, Difficulty};
use crate::identity::BOT_IDS;

/// Bots' names; past the list they get numbers.
const NAMES: [&str; 24] = [
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Dennis",
    "Frances",
    "Ken",
    "Radia",
    "Niklaus",
    "Margaret",
    "Tony",
    "Leslie",
    "Hedy",
    "Donald",
    "Katherine",
    "John",
    "Sophie",
    "Claude",
    "Annie",
    "Linus",
    "Joan",
    "Guido",
    "Mary",
];

/// The next bot id, shared by every room of the server so a bot's id names one bot.
static NEXT_BOT_ID: AtomicU32 = AtomicU32::new(*BOT_IDS.start());

fn new_bot_id() -> PlayerId {
    let span = BOT_IDS.end() - BOT_IDS.start() + 1;
    let n = NEXT_BOT_ID.fetch_add(1, Ordering::Relaxed);
    // Wraps inside the range after a billion bots.
    PlayerId(BOT_IDS.start() + (n - BOT_IDS.start()) % span)
}

/// One bot in the room.
#[derive(Clone, Debug)]
pub struct CrewMember {
    pub player_id: PlayerId,
    pub net_id: NetId,
    pub name: String,
}

impl CrewMember {
    pub fn info(&self) -> PlayerInfo {
        PlayerInfo { player_id: self.player_id, net_id: self.net_id, name: self.name.clone(), bot: true }
    }
}

/// The room's bots and how many it wants.
#[derive(Debug, Default)]
pub struct Crew {
    pub fill: BotFill,
    /// Oldest first; the newest leaves first.
    pub members: Vec<CrewMember>,
    /// Names handed out so far, for the next one.
    named: usize,
}

impl Crew {
    pub fn new(fill: BotFill) -> Crew {
        Crew { fill, members: Vec::new(), named: 0 }
    }

    /// Bots the room should have with `people` of its `capacity` seats taken.
    pub fn wanted(&self, people: usize, capacity: usize) -> usize {
        self.fill.fill_to.min(capacity).saturating_sub(people)
    }

    /// A fresh id and a name no bot in the room has.
    pub fn next_identity(&mut self) -> (PlayerId, String) {
        let name = loop {
            let n = self.named;
            self.named += 1;
            let base = NAMES[n % NAMES.len()];
            let candidate = if n < NAMES.len() { base.to_string() } else { format!("{base} {}", n / NAMES.len() + 1) };
            if !self.members.iter().any(|m| m.name == candidate) {
                break candidate;
            }
        };
        (new_bot_id(), name)
    }

    pub fn get(&self, player: PlayerId) -> Option<&CrewMember> {
        self.members.iter().find(|m| m.player_id == player)
    }

    pub fn difficulty(&self) -> Difficulty {
        self.fill.difficulty
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::is_bot;

    #[test]
    fn bots_fill_to_the_target_and_give_way_to_people() {
        let crew = Crew::new(BotFill { fill_to: 6, difficulty: Difficulty::Normal });
        assert_eq!(crew.wanted(0, 50), 6);
        assert_eq!(crew.wanted(4, 50), 2);
        assert_eq!(crew.wanted(9, 50), 0);
        assert_eq!(crew.wanted(1, 4), 3, "never past the capacity");
        assert_eq!(Crew::default().wanted(0, 50), 0);
    }

    #[test]
    fn ids_are_bots_and_names_do_not_repeat() {
        let mut crew = Crew::default();
        let mut names = std::collections::HashSet::new();
        for _ in 0..60 {
            let (id, name) = crew.next_identity();
            assert!(is_bot(id));
            assert!(names.insert(name.clone()), "{name} twice");
            crew.members.push(CrewMember { player_id: id, net_id: NetId(1), name });
        }
    }
}
