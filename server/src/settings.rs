//! Game rules: loaded from `assets/settings.toml`, with the same defaults compiled in.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// Largest room the server allows (people; house bots never pass it either).
pub const MAX_ROOM_CAPACITY: usize = 1_000;

/// How well a house bot plays (what each level changes: `room::house_bots::difficulty`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Difficulty {
    Easy,
    #[default]
    Normal,
    Hard,
}

impl Difficulty {
    pub const ALL: [Difficulty; 3] = [Difficulty::Easy, Difficulty::Normal, Difficulty::Hard];

    pub fn name(self) -> &'static str {
        match self {
            Difficulty::Easy => "easy",
            Difficulty::Normal => "normal",
            Difficulty::Hard => "hard",
        }
    }
}

/// A level by its name; the one parser for the API, the admin API and `stress --difficulty`.
impl std::str::FromStr for Difficulty {
    type Err = String;

    fn from_str(name: &str) -> Result<Difficulty, String> {
        Difficulty::ALL
            .into_iter()
            .find(|d| d.name() == name)
            .ok_or_else(|| "must be \"easy\", \"normal\" or \"hard\"".to_string())
    }
}

/// How a room fills itself with house bots: `bots = { fill_to = 6, difficulty = "normal" }`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BotFill {
    /// People plus bots the room keeps playing (never above its capacity); people
    /// take bots' places as they come. 0: no bots.
    pub fill_to: usize,
    pub difficulty: Difficulty,
}

/// Constants of the game. Every field has a default, so a settings file only
/// needs the values it changes; unknown keys are an error (a typo must not be ignored).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GameSettings {
    /// Arena width in world units. Default: 2000.
    pub arena_width: f32,
    /// Arena height in world units. Default: 2000.
    pub arena_height: f32,
    /// Radius of a player's circle. Default: 20.
    pub player_radius: f32,
    /// Speed at full stick, units per second. Default: 300.
    pub player_speed: f32,
    /// Health at spawn. Default: 100.
    pub max_health: u16,
    /// Seconds between death and respawn. Default: 2.
    pub respawn_delay_s: f32,
    /// Seconds between two shots of one player. Default: 0.25.
    pub fire_cooldown_s: f32,
    /// Projectile speed, units per second. Default: 900.
    pub projectile_speed: f32,
    /// Projectile radius. Default: 5.
    pub projectile_radius: f32,
    /// Seconds a projectile flies before it expires. Default: 1.2.
    pub projectile_lifetime_s: f32,
    /// Health a hit takes away. Default: 25.
    pub projectile_damage: u16,
    /// Kills that end a round, unless a room sets its own. Default: 10.
    pub score_limit: u32,
    /// Seconds after which a round ends anyway, unless a room sets its own. Default: 180.
    pub round_time_limit_s: u32,
    /// Seconds the results are shown before the next round starts. Default: 5.
    pub round_results_s: f32,
    /// Interest management: a player receives the entities within about this many
    /// units of it (whole grid cells, so a little more). 0 sends everyone the whole
    /// arena. Default: 0.
    pub view_distance: f32,
    /// Lag compensation: a shot is tested against where players were in the world
    /// its shooter was looking at, at most this many milliseconds back. 0: off.
    /// Default: 200.
    pub lag_compensation_ms: u32,
    /// House bots in the rooms Quick play opens, so a newcomer alone has opponents:
    /// people plus bots up to `fill_to`, at `difficulty`. Rooms made through
    /// `POST /api/rooms` have none unless they ask. Default: fill_to 6, normal.
    pub quick_play_bots: BotFill,
}

impl Default for GameSettings {
    fn default() -> Self {
        GameSettings {
            arena_width: 2000.0,
            arena_height: 2000.0,
            player_radius: 20.0,
            player_speed: 300.0,
            max_health: 100,
            respawn_delay_s: 2.0,
            fire_cooldown_s: 0.25,
            projectile_speed: 900.0,
            projectile_radius: 5.0,
            projectile_lifetime_s: 1.2,
            projectile_damage: 25,
            score_limit: 10,
            round_time_limit_s: 180,
            round_results_s: 5.0,
            view_distance: 0.0,
            lag_compensation_ms: 200,
            quick_play_bots: BotFill { fill_to: 6, difficulty: Difficulty::Normal },
        }
    }
}

/// Why a settings file was refused.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read settings file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("settings file {path} is not valid: {source}")]
    Parse { path: String, source: toml::de::Error },
    #[error("settings file {path}: {problem}")]
    Invalid { path: String, problem: String },
}

impl GameSettings {
    /// The match rules of rooms that do not set their own.
    pub fn match_rules(&self) -> arena_protocol::lobby::MatchRules {
        arena_protocol::lobby::MatchRules { score_limit: self.score_limit, time_limit_s: self.round_time_limit_s }
    }

    /// Load and validate a settings file.
    pub fn load(path: &Path) -> Result<GameSettings, SettingsError> {
        let shown = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|source| SettingsError::Read { path: shown.clone(), source })?;
        let settings: GameSettings =
            toml::from_str(&text).map_err(|source| SettingsError::Parse { path: shown.clone(), source })?;
        settings.validate().map_err(|problem| SettingsError::Invalid { path: shown, problem })?;
        Ok(settings)
    }

    /// Check that the numbers make a playable game.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("arena_width", self.arena_width),
            ("arena_height", self.arena_height),
            ("player_radius", self.player_radius),
            ("player_speed", self.player_speed),
            ("respawn_delay_s", self.respawn_delay_s),
            ("fire_cooldown_s", self.fire_cooldown_s),
            ("projectile_speed", self.projectile_speed),
            ("projectile_radius", self.projectile_radius),
            ("projectile_lifetime_s", self.projectile_lifetime_s),
            ("round_results_s", self.round_results_s),
        ];
        for (name, value) in positive {
            if !(value.is_finite() && value > 0.0) {
                return Err(format!("{name} must be a positive number, got {value}"));
            }
        }
        if !(self.view_distance.is_finite() && self.view_distance >= 0.0) {
            return Err(format!("view_distance must be 0 (off) or a positive number, got {}", self.view_distance));
        }
        if self.lag_compensation_ms > 1000 {
            return Err(format!("lag_compensation_ms may be at most 1000, got {}", self.lag_compensation_ms));
        }
        if self.max_health == 0 || self.projectile_damage == 0 {
            return Err("max_health and projectile_damage must be at least 1".into());
        }
        if !(1..=1000).contains(&self.score_limit) || !(10..=3600).contains(&self.round_time_limit_s) {
            return Err("score_limit must be 1-1000 and round_time_limit_s 10-3600".into());
        }
        if self.player_radius * 4.0 > self.arena_width.min(self.arena_height) {
            return Err("the arena must be at least four player radii wide and high".into());
        }
        if self.quick_play_bots.fill_to > MAX_ROOM_CAPACITY {
            return Err(format!("quick_play_bots.fill_to may be at most {}", MAX_ROOM_CAPACITY));
        }
        if self.arena_width > 100_000.0 || self.arena_height > 100_000.0 {
            return Err("the arena may be at most 100000 units wide and high".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_settings_file_equals_the_compiled_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/settings.toml");
        assert_eq!(GameSettings::load(&path).unwrap(), GameSettings::default());
    }

    #[test]
    fn difficulty_names_round_trip_through_serde_and_from_str() {
        for level in Difficulty::ALL {
            let json = serde_json::to_string(&level).unwrap();
            assert_eq!(json, format!("\"{}\"", level.name()));
            assert_eq!(serde_json::from_str::<Difficulty>(&json).unwrap(), level);
            assert_eq!(level.name().parse::<Difficulty>(), Ok(level));
        }
        assert!("godlike".parse::<Difficulty>().unwrap_err().contains("\"hard\""));
    }

    #[test]
    fn typos_and_nonsense_are_clear_errors() {
        let unknown = toml::from_str::<GameSettings>("player_sped = 3.0").unwrap_err();
        assert!(unknown.to_string().contains("player_sped"));
        let bad = GameSettings { player_speed: -1.0, ..GameSettings::default() };
        assert!(bad.validate().unwrap_err().contains("player_speed"));
    }
}
