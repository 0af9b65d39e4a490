//! The three difficulty levels and what sets them apart: reaction time, aim error
//! and decisions. Never speed or damage: a bot moves and hits like anyone.

pub use crate::settings::Difficulty;

/// A level's [`Profile`]: what it changes in a bot's play.
pub trait LevelProfile {
    fn profile(self) -> &'static Profile;
}

impl LevelProfile for Difficulty {
    fn profile(self) -> &'static Profile {
        match self {
            Difficulty::Easy => &EASY,
            Difficulty::Normal => &NORMAL,
            Difficulty::Hard => &HARD,
        }
    }
}

/// What a difficulty level changes in a bot's play.
#[derive(Debug)]
pub struct Profile {
    /// Seconds between two looks at the world: what the bot knows of its target
    /// (where it is, where it is going) is this old at worst.
    pub reaction_s: f32,
    /// Most radians a shot strays from where the bot meant it (a triangular spread).
    pub aim_error: f32,
    /// How much of its target's motion the bot allows for (1: a full intercept).
    pub lead: f32,
    /// Below this share of its health the bot backs away; 0: it never does.
    pub retreat_below: f32,
    /// Share of the shots about to hit it that the bot notices and steps out of.
    pub dodges: f32,
    /// Keeps fighting a target weaker than itself instead of backing off.
    pub presses_weaker: bool,
    /// Chooses targets (the weak, whoever hit it) instead of the nearest.
    pub picks_targets: bool,
    /// Strafes around its target instead of walking straight at it and standing.
    pub strafes: bool,
    /// Fires only at targets this close (a far shot mostly warns its target).
    pub fire_range: f32,
}

const EASY: Profile = Profile {
    reaction_s: 0.5,
    aim_error: 0.22,
    lead: 0.3,
    retreat_below: 0.0,
    dodges: 0.0,
    presses_weaker: false,
    picks_targets: false,
    strafes: false,
    fire_range: 950.0,
};

const NORMAL: Profile = Profile {
    reaction_s: 0.25,
    aim_error: 0.07,
    lead: 0.9,
    retreat_below: 0.3,
    dodges: 0.0,
    presses_weaker: false,
    picks_targets: true,
    strafes: true,
    fire_range: 700.0,
};

const HARD: Profile = Profile {
    reaction_s: 0.1,
    aim_error: 0.025,
    lead: 1.0,
    retreat_below: 0.3,
    dodges: 0.5,
    presses_weaker: true,
    picks_targets: true,
    strafes: true,
    fire_range: 850.0,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harder_levels_react_faster_and_aim_better() {
        for pair in Difficulty::ALL.windows(2) {
            let (weaker, stronger) = (pair[0].profile(), pair[1].profile());
            assert!(stronger.reaction_s < weaker.reaction_s && stronger.aim_error < weaker.aim_error);
        }
    }
}
