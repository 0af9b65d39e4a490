//! Interest management: the arena cut into a grid of at most 8 × 8 cells; a player
//! sees the cells within its view distance. Snapshot bodies are encoded once per
//! (view, baseline), so clients that see the same cells share the same bytes.

use bevy_ecs::prelude::*;
use glam::Vec2;

use crate::settings::GameSettings;

/// Most cells a side: 64 cells fit a client's view in one `u64` mask.
const MAX_CELLS_PER_SIDE: u32 = 8;

/// The grid and how far players see.
#[derive(Resource, Clone, Copy, Debug)]
pub struct InterestGrid {
    pub cell: Vec2,
    pub cols: u32,
    pub rows: u32,
    /// Cells seen on each side of a player's own; None: everything is seen.
    pub reach: Option<(i32, i32)>,
}

impl InterestGrid {
    pub fn new(settings: &GameSettings) -> InterestGrid {
        let arena = Vec2::new(settings.arena_width, settings.arena_height);
        if settings.view_distance <= 0.0 {
            return InterestGrid { cell: arena, cols: 1, rows: 1, reach: None };
        }
        // Cells no smaller than half the view, and no more than 8 a side.
        let side = |length: f32| ((length / (settings.view_distance / 2.0)).ceil() as u32).clamp(1, MAX_CELLS_PER_SIDE);
        let (cols, rows) = (side(arena.x), side(arena.y));
        let cell = Vec2::new(arena.x / cols as f32, arena.y / rows as f32);
        let reach = ((settings.view_distance / cell.x).ceil() as i32, (settings.view_distance / cell.y).ceil() as i32);
        InterestGrid { cell, cols, rows, reach: Some(reach) }
    }

    pub fn cells(&self) -> usize {
        (self.cols * self.rows) as usize
    }

    /// The cell a point falls in.
    pub fn cell_of(&self, pos: Vec2) -> (u32, u32) {
        let x = ((pos.x / self.cell.x).floor().max(0.0) as u32).min(self.cols - 1);
        let y = ((pos.y / self.cell.y).floor().max(0.0) as u32).min(self.rows - 1);
        (x, y)
    }

    pub fn index(&self, (x, y): (u32, u32)) -> usize {
        (y * self.cols + x) as usize
    }

    /// Every cell.
    pub fn everything(&self) -> u64 {
        if self.cells() == 64 { u64::MAX } else { (1u64 << self.cells()) - 1 }
    }

    /// The cells a player in `cell` sees, as a bit mask.
    pub fn visible_from(&self, (cx, cy): (u32, u32)) -> u64 {
        let Some((rx, ry)) = self.reach else { return self.everything() };
        let mut mask = 0u64;
        for y in (cy as i32 - ry).max(0)..=(cy as i32 + ry).min(self.rows as i32 - 1) {
            for x in (cx as i32 - rx).max(0)..=(cx as i32 + rx).min(self.cols as i32 - 1) {
                mask |= 1 << self.index((x as u32, y as u32));
            }
        }
        mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(view_distance: f32) -> InterestGrid {
        InterestGrid::new(&GameSettings { view_distance, ..GameSettings::default() })
    }

    #[test]
    fn off_means_one_cell_seen_by_all() {
        let g = grid(0.0);
        assert_eq!((g.cols, g.rows, g.everything()), (1, 1, 1));
        assert_eq!(g.visible_from((0, 0)), 1);
    }

    #[test]
    fn a_player_sees_the_cells_within_its_view() {
        let g = grid(500.0); // 2000 / 250 = 8 cells a side of 250 units; reach 2 cells.
        assert_eq!((g.cols, g.rows, g.reach), (8, 8, Some((2, 2))));
        assert_eq!(g.cell_of(Vec2::new(10.0, 1999.0)), (0, 7));
        let corner = g.visible_from((0, 0));
        assert_eq!(corner.count_ones(), 9, "3 × 3 cells from a corner");
        assert_eq!(g.visible_from((4, 4)).count_ones(), 25, "5 × 5 cells in the middle");
        assert_eq!(corner & (1 << g.index((7, 7))), 0, "the far corner is not seen");
    }
}
