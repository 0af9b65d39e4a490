//! House bots: players the room itself plays, so nobody plays alone. They live in
//! the room's world like anyone (same body, weapon and rules); a system makes each
//! one's input every tick and feeds it through the same checks and input buffer as
//! a person's, so a bot can never do what a person could not.
//!
//! - [`difficulty`]: what easy, normal and hard change (reaction, aim, decisions);
//!   the levels themselves and [`BotFill`] are in `settings`, a leaf every part reads;
//! - [`targeting`]: whom to shoot and where to aim;
//! - [`steering`]: where to walk;
//! - [`nearby`]: who is near a bot, from a grid instead of a scan of everyone;
//! - [`brain`]: the per-tick system that puts them together;
//! - [`crew`]: how many bots a room keeps, their ids and names.

pub mod brain;
pub mod crew;
pub mod difficulty;
pub mod nearby;
pub mod steering;
pub mod targeting;

use bevy_ecs::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

pub use crate::settings::{BotFill, Difficulty};
pub use brain::HouseBot;
pub use crew::Crew;
pub use difficulty::LevelProfile;

/// The bots' own randomness, apart from the room's spawn spots, seeded from the
/// room's seed: the same seed plays the same game.
/// Boxed for the same reason as the room's (`RoomRng`).
#[derive(Resource)]
pub struct BotRng(pub Box<StdRng>);

impl BotRng {
    pub fn seeded(seed: u64) -> BotRng {
        // Another stream than the room's own RNG, from the same seed.
        BotRng(Box::new(StdRng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15)))
    }
}
