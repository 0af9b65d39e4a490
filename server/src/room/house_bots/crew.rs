//! How many house bots a room keeps and who they are: people plus bots up to
//! `fill_to` (never past the room's capacity), ids from the bots' own range, names.

use std::sync::LazyLock;
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

/// Bot ids handed out by this process, shared by all its rooms: a bot's id names
/// one bot of this node (until a billion more have come and gone).
static BOTS_MADE: AtomicU32 = AtomicU32::new(0);
/// Where in the range this process starts, at random: nodes of a cluster each
/// count from their own point, so two nodes' bots seldom share an id.
static FIRST_BOT: LazyLock<u32> = LazyLock::new(rand::random);

fn new_bot_id() -> PlayerId {
    let span = BOT_IDS.end() - BOT_IDS.start() + 1;
    let n = BOTS_MADE.fetch_add(1, Ordering::Relaxed);
    PlayerId(BOT_IDS.start() + (FIRST_BOT.wrapping_add(n) % span))
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

    /// A fresh id and a name no bot in the room has, nor anyone `taken` names (the people).
    pub fn next_identity(&mut self, taken: impl Fn(&str) -> bool) -> (PlayerId, String) {
        let name = loop {
            let n = self.named;
            self.named += 1;
            let base = NAMES[n % NAMES.len()];
            let candidate = if n < NAMES.len() { base.to_string() } else { format!("{base} {}", n / NAMES.len() + 1) };
            if !self.has_name(&candidate) && !taken(&candidate) {
                break candidate;
            }
        };
        (new_bot_id(), name)
    }

    /// Whether a bot of the room goes by `name`.
    pub fn has_name(&self, name: &str) -> bool {
        self.members.iter().any(|m| m.name == name)
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
            let (id, name) = crew.next_identity(|n| n == "Grace" || n == "Ada 2");
            assert!(name != "Grace" && name != "Ada 2", "a person's name");
            assert!(is_bot(id));
            assert!(names.insert(name.clone()), "{name} twice");
            crew.members.push(CrewMember { player_id: id, net_id: NetId(1), name });
        }
    }
}
