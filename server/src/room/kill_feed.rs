//! Who hears of a kill. With interest management a room can hold 1,000 players and
//! have dozens of kills a second; sent to every client, each kill was a message (a
//! WebSocket frame, a write, a wake-up) to all 1,000, more messages than the
//! snapshots themselves. A client hears of the kills it could see: those where the
//! victim fell within its view, its own, and (spectators, players without a body)
//! all of them. Without interest management everyone sees everything, so hears all.

use arena_protocol::PlayerId;
use arena_protocol::server_msg::Kill;
use rustc_hash::FxHashMap;

use super::interest::{Cell, InterestGrid};

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
    pub fn hears(&self, kill: &Kill, listener: PlayerId, spectator: bool) -> bool {
        let Some(cells) = self.player_cells else { return true };
        // A victim without a body (gone already): nowhere to see it from, so all hear.
        let Some(&fell_in) = cells.get(&kill.victim) else { return true };
        if spectator || listener == kill.killer || listener == kill.victim {
            return true;
        }
        cells.get(&listener).is_none_or(|&own| self.grid.visible_from(own).contains(fell_in))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn a_kill_is_heard_where_it_could_be_seen() {
        let cells: FxHashMap<PlayerId, Cell> =
            [(1, (0, 0)), (2, (1, 1)), (3, (2, 2)), (4, (3, 3)), (5, (7, 7)), (8, (4, 4))]
                .into_iter()
                .map(|(p, c)| (PlayerId(p), c))
                .collect();
        let audience = KillAudience::new(grid(500.0), Some(&cells));
        let kill = Kill { killer: PlayerId(5), victim: PlayerId(2) };
        let heard: Vec<u32> = (1..=8).filter(|&p| audience.hears(&kill, PlayerId(p), false)).collect();
        // 1, 3 and 4 see cell (1, 1) (4 from two cells off), 8 does not (three off);
        // 5 killed from afar; 6 and 7 have no body.
        assert_eq!(heard, [1, 2, 3, 4, 5, 6, 7]);
        let far = Kill { killer: PlayerId(1), victim: PlayerId(5) };
        let heard: Vec<u32> = (1..=5).filter(|&p| audience.hears(&far, PlayerId(p), false)).collect();
        assert_eq!(heard, [1, 5], "only the killer and the victim see the far corner");
        assert!(audience.hears(&far, PlayerId(3), true), "spectators hear every kill");
        let gone = Kill { killer: PlayerId(1), victim: PlayerId(9) };
        assert!(audience.hears(&gone, PlayerId(4), false), "a victim without a body: everyone hears");
    }

    #[test]
    fn without_interest_management_everyone_hears_every_kill() {
        let cells: FxHashMap<PlayerId, Cell> =
            [(1, (0, 0)), (2, (0, 0))].into_iter().map(|(p, c)| (PlayerId(p), c)).collect();
        let kill = Kill { killer: PlayerId(1), victim: PlayerId(2) };
        assert!(KillAudience::new(grid(0.0), Some(&cells)).hears(&kill, PlayerId(3), false));
        assert!(KillAudience::new(grid(500.0), None).hears(&kill, PlayerId(3), false), "no frame this tick");
    }
}
