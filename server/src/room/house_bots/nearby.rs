//! Who is near a point, without every bot scanning every player: the room's living
//! players bucketed in square cells once a tick, so a bot's look and its spacing
//! cost the players around it, not the whole room.

use std::collections::HashMap;

use glam::Vec2;

/// Indices into one tick's list of positions, by cell.
pub struct Nearby {
    cell: f32,
    buckets: HashMap<(i32, i32), Vec<usize>>,
}

impl Nearby {
    /// `positions` in cells `cell` units wide (a query's radius is best about one cell).
    pub fn new(positions: &[Vec2], cell: f32) -> Nearby {
        let cell = cell.max(1.0);
        let mut buckets: HashMap<(i32, i32), Vec<usize>> = HashMap::new();
        for (i, &pos) in positions.iter().enumerate() {
            buckets.entry(cell_of(pos, cell)).or_default().push(i);
        }
        Nearby { cell, buckets }
    }

    /// Into `out`, the indices of every position within `radius` of `at`, and some a
    /// little farther (callers still check the distance), in ascending order: what a
    /// scan of the whole list would meet, in the same order, so sums and ties come
    /// out the same.
    pub fn around(&self, at: Vec2, radius: f32, out: &mut Vec<usize>) {
        out.clear();
        let (x0, y0) = cell_of(at - Vec2::splat(radius), self.cell);
        let (x1, y1) = cell_of(at + Vec2::splat(radius), self.cell);
        for y in y0..=y1 {
            for x in x0..=x1 {
                if let Some(bucket) = self.buckets.get(&(x, y)) {
                    out.extend_from_slice(bucket);
                }
            }
        }
        out.sort_unstable();
    }
}

fn cell_of(pos: Vec2, cell: f32) -> (i32, i32) {
    ((pos.x / cell).floor() as i32, (pos.y / cell).floor() as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    #[test]
    fn finds_everyone_a_full_scan_finds_in_the_same_order() {
        let mut rng = StdRng::seed_from_u64(3);
        let positions: Vec<Vec2> =
            (0..300).map(|_| Vec2::new(rng.random_range(0.0..2000.0), rng.random_range(0.0..2000.0))).collect();
        let nearby = Nearby::new(&positions, 130.0);
        let mut found = Vec::new();
        for at in positions.iter().take(40) {
            for radius in [130.0, 500.0] {
                nearby.around(*at, radius, &mut found);
                let within: Vec<usize> =
                    found.iter().copied().filter(|&i| positions[i].distance(*at) <= radius).collect();
                let scanned: Vec<usize> =
                    (0..positions.len()).filter(|&i| positions[i].distance(*at) <= radius).collect();
                assert_eq!(within, scanned);
            }
        }
    }
}
