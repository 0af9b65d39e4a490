//! Who hears of a kill. With interest management a room can hold 1,000 players and
//! have dozens of kills a second; sent to every client, each kill was a message (a
//! WebSocket frame, a write, a wake-up) to all 1,000, more messages than the
//! snapshots themselves. A client hears of the kills it could see: those where the
//! victim fell within its view, its own, and (spectators, players without a body)
//! all of them. Without interest management everyone sees everything, so hears all.

use arena_protocol::PlayerId;
use arena_protocol::server_msg::Kill;
use glam::Vec2;
use rustc_hash::FxHashMap;

use super::interest::{Cell, InterestGrid};

/// A kill and where its victim fell. The victim's place at the end of the tick will
/// not do: a respawn or a new round in the same tick (no respawn delay, no pause
/// between rounds) has moved it already, and the kill would be heard around its new spot.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KillAt {
    pub kill: Kill,
    pub fell_at: Vec2,
}

/// Where the players are this tick, to decide who hears of each kill.
pub struct KillAudience<'a> {
    grid: InterestGrid,
    /// Every player with a body and its cell (None: no frame this tick, everyone hears).
    player_cells: Option<&'a FxHashMap<PlayerId, Cell>>,
}

impl<'a> KillAudience<'a> {
    pub fn new(grid: InterestGrid, player_cells: Option<&'a FxHashMap<PlayerId, Cell>>) -> KillAudience<'a> {
        KillAudience { grid, player_cells: player_cells.filter(|_| grid.reach.is_some()) }
    }

    /// Whether `listener` (a spectator or not) hears of `kill`.
    pub fn hears(&self, &KillAt { kill, fell_at }: &KillAt, listener: PlayerId, spectator: bool) -> bool {
        let Some(cells) = self.player_cells else { return true };
        // A victim without a body (gone already): nowhere to see it from, so all hear.
        if !cells.contains_key(&kill.victim) {
            return true;
        }
        if spectator || listener == kill.killer || listener == kill.victim {
            return true;
        }
        let fell_in = self.grid.cell_of(fell_at);
        cells.get(&listener).is_none_or(|&own| self.grid.visible_from(own).contains(fell_in))
    }
}

#[cfg(test)]
mod tests {
    use arena_protocol::lobby::MatchRules;
    use arena_protocol::{EntityKind, EntityState, Input};

    use super::*;
    use crate::room::rounds::{MatchEvent, Phase};
    use crate::room::world::RoomWorld;
    use crate::settings::GameSettings;

    fn grid(view_distance: f32) -> InterestGrid {
        // 2000² seen 500 around: 8 × 8 cells of 250, a view two cells each way.
        InterestGrid::new(&GameSettings {
            view_distance,
            arena_width: 2000.0,
            arena_height: 2000.0,
            ..GameSettings::default()
        })
    }

    /// A kill whose victim fell in the middle of `cell` (of 250 × 250).
    fn fell_in(killer: u32, victim: u32, (x, y): Cell) -> KillAt {
        let fell_at = Vec2::new(f32::from(x) * 250.0 + 125.0, f32::from(y) * 250.0 + 125.0);
        KillAt { kill: Kill { killer: PlayerId(killer), victim: PlayerId(victim) }, fell_at }
    }

    #[test]
    fn a_kill_is_heard_where_it_could_be_seen() {
        let cells: FxHashMap<PlayerId, Cell> =
            [(1, (0, 0)), (2, (1, 1)), (3, (2, 2)), (4, (3, 3)), (5, (7, 7)), (8, (4, 4))]
                .into_iter()
                .map(|(p, c)| (PlayerId(p), c))
                .collect();
        let audience = KillAudience::new(grid(500.0), Some(&cells));
        let kill = fell_in(5, 2, (1, 1));
        let heard: Vec<u32> = (1..=8).filter(|&p| audience.hears(&kill, PlayerId(p), false)).collect();
        // 1, 3 and 4 see cell (1, 1) (4 from two cells off), 8 does not (three off);
        // 5 killed from afar; 6 and 7 have no body.
        assert_eq!(heard, [1, 2, 3, 4, 5, 6, 7]);
        let far = fell_in(1, 5, (7, 7));
        let heard: Vec<u32> = (1..=5).filter(|&p| audience.hears(&far, PlayerId(p), false)).collect();
        assert_eq!(heard, [1, 5], "only the killer and the victim see the far corner");
        assert!(audience.hears(&far, PlayerId(3), true), "spectators hear every kill");
        let gone = fell_in(1, 9, (7, 7));
        assert!(audience.hears(&gone, PlayerId(4), false), "a victim without a body: everyone hears");
    }

    #[test]
    fn without_interest_management_everyone_hears_every_kill() {
        let cells: FxHashMap<PlayerId, Cell> =
            [(1, (0, 0)), (2, (0, 0))].into_iter().map(|(p, c)| (PlayerId(p), c)).collect();
        let kill = fell_in(1, 2, (0, 0));
        assert!(KillAudience::new(grid(0.0), Some(&cells)).hears(&kill, PlayerId(3), false));
        assert!(KillAudience::new(grid(500.0), None).hears(&kill, PlayerId(3), false), "no frame this tick");
    }

    /// A shot still flying when its round ends kills in the tick the next round starts
    /// (results shorter than a shot's flight: not the default), and the new round moves
    /// the victim away in that same tick. The kill is heard around where the victim fell,
    /// not around its new spot. Regression: the new spot was used.
    #[test]
    fn a_kill_in_the_tick_a_round_starts_is_heard_where_the_victim_fell() {
        let settings = GameSettings {
            view_distance: 400.0,
            round_results_s: 0.1,
            projectile_damage: 100,
            ..GameSettings::default()
        };
        let rules = MatchRules { score_limit: 10, time_limit_s: 1 };
        let mut world = RoomWorld::new(settings, rules, 30, 7);
        let (shooter, victim) = (PlayerId(1), PlayerId(2));
        world.add_player(shooter);
        world.add_player(victim);
        world.set_player_position(shooter, Vec2::new(200.0, 1000.0));
        world.set_player_position(victim, Vec2::new(1800.0, 200.0));
        // Fire along +x a few ticks before the round's second is over.
        while world.step().0 < 27 {}
        world.push_input(shooter, Input::new(1, Vec2::ZERO, 0.0, true));
        world.step();
        world.push_input(shooter, Input::new(2, Vec2::ZERO, 0.0, false));
        // Step through the results; before the tick that starts the round, stand the
        // victim in the shot's path, just ahead of it.
        loop {
            world.step();
            let next_round_at = match world.match_state().phase {
                Phase::Results { next_round_at } => next_round_at,
                _ => continue,
            };
            if next_round_at.since(world.tick()) == 1 {
                break;
            }
        }
        let frame = world.take_snapshot().unwrap();
        let shot = frame.entities.iter().map(|&e| EntityState::from(e)).find(|e| e.kind == EntityKind::Projectile);
        let shot_at = shot.expect("the shot still flies").pos;
        let stood_at = shot_at + Vec2::new(15.0, 0.0);
        world.set_player_position(victim, stood_at);
        world.take_match_events();
        world.step();
        assert!(world.take_match_events().iter().any(|e| matches!(e, MatchEvent::RoundStarted { .. })));
        let kills = world.take_kills();
        assert_eq!(kills.len(), 1, "killed in the tick the round started");
        assert_eq!(kills[0].kill, Kill { killer: shooter, victim });
        assert_eq!(kills[0].fell_at, stood_at);
        let frame = world.take_snapshot().unwrap();
        let grid = world.interest_grid();
        let (died_in, now_in) = (grid.cell_of(stood_at), frame.player_cells[&victim]);
        assert!(
            !grid.visible_from(now_in).contains(died_in),
            "the new round put the victim out of sight of where it fell"
        );
        // Two more listeners: one beside where it fell, one beside its new spot.
        let (beside_the_fall, beside_the_spawn) = (PlayerId(10), PlayerId(11));
        let mut cells = frame.player_cells.clone();
        cells.insert(beside_the_fall, died_in);
        cells.insert(beside_the_spawn, now_in);
        let audience = KillAudience::new(grid, Some(&cells));
        assert!(audience.hears(&kills[0], beside_the_fall, false));
        assert!(!audience.hears(&kills[0], beside_the_spawn, false));
    }
}
