//! Interest management: the arena cut into a grid of cells about half a view
//! distance wide; a player sees the rectangle of cells within its view distance.
//! Snapshot bodies are encoded once per (view, baseline), so clients that see the
//! same cells share the same bytes.

use bevy_ecs::prelude::*;
use glam::Vec2;

use crate::settings::GameSettings;

/// Most cells a side. Finer cells cost memory and frame building for nothing once a
/// cell holds only a player or two.
const MAX_CELLS_PER_SIDE: u32 = 128;

/// A cell's column and row.
pub type Cell = (u16, u16);

/// A cell's place in row-major order on a grid `cols` wide.
pub fn row_major(cols: u16, (x, y): Cell) -> usize {
    usize::from(y) * usize::from(cols) + usize::from(x)
}

/// The cells a client sees: a rectangle of the grid, corners included. A view is
/// small, hashable and cheap to compare, so it keys shared snapshot bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct View {
    pub min: Cell,
    pub max: Cell,
}

impl View {
    pub fn contains(&self, (x, y): Cell) -> bool {
        (self.min.0..=self.max.0).contains(&x) && (self.min.1..=self.max.1).contains(&y)
    }

    /// Every cell of the view, row by row.
    pub fn cells(self) -> impl Iterator<Item = Cell> + Clone {
        let (min, max) = (self.min, self.max);
        (min.1..=max.1).flat_map(move |y| (min.0..=max.0).map(move |x| (x, y)))
    }
}

/// The grid and how far players see.
#[derive(Resource, Clone, Copy, Debug)]
pub struct InterestGrid {
    pub cell: Vec2,
    pub cols: u16,
    pub rows: u16,
    /// Cells seen on each side of a player's own; None: everything is seen.
    pub reach: Option<(u16, u16)>,
}

impl InterestGrid {
    pub fn new(settings: &GameSettings) -> InterestGrid {
        let arena = Vec2::new(settings.arena_width, settings.arena_height);
        if settings.view_distance <= 0.0 {
            return InterestGrid { cell: arena, cols: 1, rows: 1, reach: None };
        }
        // Cells at least half a view wide, so a view reaches two cells each way and
        // spans five a side (ceil here would make cells a little narrower and reach three).
        let side =
            |length: f32| ((length / (settings.view_distance / 2.0)).floor() as u32).clamp(1, MAX_CELLS_PER_SIDE);
        let (cols, rows) = (side(arena.x), side(arena.y));
        let cell = Vec2::new(arena.x / cols as f32, arena.y / rows as f32);
        let reach = ((settings.view_distance / cell.x).ceil() as u16, (settings.view_distance / cell.y).ceil() as u16);
        InterestGrid { cell, cols: cols as u16, rows: rows as u16, reach: Some(reach) }
    }

    pub fn cell_count(&self) -> usize {
        usize::from(self.cols) * usize::from(self.rows)
    }

    /// The cell a point falls in.
    pub fn cell_of(&self, pos: Vec2) -> Cell {
        let x = ((pos.x / self.cell.x).floor().max(0.0) as u16).min(self.cols - 1);
        let y = ((pos.y / self.cell.y).floor().max(0.0) as u16).min(self.rows - 1);
        (x, y)
    }

    /// A cell's place in row-major order.
    pub fn index(&self, cell: Cell) -> usize {
        row_major(self.cols, cell)
    }

    /// Every cell.
    pub fn everything(&self) -> View {
        View { min: (0, 0), max: (self.cols - 1, self.rows - 1) }
    }

    /// The cells a player in `cell` sees.
    pub fn visible_from(&self, (x, y): Cell) -> View {
        let Some((rx, ry)) = self.reach else { return self.everything() };
        View {
            min: (x.saturating_sub(rx), y.saturating_sub(ry)),
            max: (x.saturating_add(rx).min(self.cols - 1), y.saturating_add(ry).min(self.rows - 1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(view_distance: f32, arena: f32) -> InterestGrid {
        InterestGrid::new(&GameSettings {
            view_distance,
            arena_width: arena,
            arena_height: arena,
            ..GameSettings::default()
        })
    }

    #[test]
    fn off_means_one_cell_seen_by_all() {
        let g = grid(0.0, 2000.0);
        assert_eq!((g.cols, g.rows), (1, 1));
        assert_eq!(g.visible_from((0, 0)), g.everything());
        assert_eq!(g.everything().cells().count(), 1);
    }

    #[test]
    fn a_player_sees_the_cells_within_its_view() {
        let g = grid(500.0, 2000.0); // 2000 / 250 = 8 cells a side of 250 units; reach 2 cells.
        assert_eq!((g.cols, g.rows, g.reach), (8, 8, Some((2, 2))));
        assert_eq!(g.cell_of(Vec2::new(10.0, 1999.0)), (0, 7));
        let corner = g.visible_from((0, 0));
        assert_eq!(corner.cells().count(), 9, "3 × 3 cells from a corner");
        assert_eq!(g.visible_from((4, 4)).cells().count(), 25, "5 × 5 cells in the middle");
        assert!(corner.contains((2, 2)) && !corner.contains((7, 7)), "the far corner is not seen");
        assert!(g.everything().cells().all(|c| g.everything().contains(c)));
        assert_eq!(g.everything().cells().map(|c| g.index(c)).collect::<Vec<_>>(), (0..64).collect::<Vec<_>>());
    }

    #[test]
    fn a_big_arena_gets_cells_as_fine_as_its_view() {
        // The one-room-of-1,000 benchmark's arena: 8000² seen 800 units around.
        let g = grid(800.0, 8000.0);
        assert_eq!((g.cols, g.rows, g.reach), (20, 20, Some((2, 2))));
        let middle = g.visible_from(g.cell_of(Vec2::new(4000.0, 4000.0)));
        assert_eq!(middle, View { min: (8, 8), max: (12, 12) });
        assert_eq!(g.visible_from((19, 0)), View { min: (17, 0), max: (19, 2) });
        // Cells never narrower than half the view, so the reach stays two cells.
        let g = grid(600.0, 8000.0);
        assert_eq!((g.cols, g.reach), (26, Some((2, 2))));
        // However big the arena, the grid stops at 128 a side.
        assert_eq!(grid(10.0, 100_000.0).cols, 128);
    }
}
