//! Snapshot phase: the world as clients will see it after this tick, quantized
//! once, sorted by net id and filed by interest cell. Encoding for each view and
//! baseline happens in [`super::encoder`].

use arena_protocol::{EntityKind, EntityState, PlayerId, Tick, WireEntity};
use bevy_ecs::prelude::*;
use rustc_hash::FxHashMap;

use crate::identity::is_bot;

use super::components::{Body, Controls, Dead, Health, Net, Player, Projectile, Score};
use super::interest::{Cell, InterestGrid, View};
use super::resources::{Clock, LatestSnapshot};

/// One tick's entities as sent, kept a little while as a delta baseline.
#[derive(Clone, Debug, Default)]
pub struct SnapshotFrame {
    pub tick: Tick,
    /// Every entity, sorted by net id.
    pub entities: Vec<WireEntity>,
    /// The interest cell of each entity in `entities`.
    pub cells: Vec<Cell>,
    /// Indexes into `entities` by cell (row-major, `cols` a row), each list in net-id order.
    pub by_cell: Vec<Vec<u32>>,
    pub cols: u16,
    /// Where every player with a body is.
    pub player_cells: FxHashMap<PlayerId, Cell>,
}

impl SnapshotFrame {
    /// The entity with this net id and its cell.
    pub fn find(&self, net_id: arena_protocol::NetId) -> Option<(&WireEntity, Cell)> {
        let at = self.entities.binary_search_by_key(&net_id, WireEntity::net_id).ok()?;
        Some((&self.entities[at], self.cells[at]))
    }

    /// Where `cell` is in `by_cell`.
    pub fn cell_index(&self, cell: Cell) -> usize {
        super::interest::row_major(self.cols, cell)
    }

    /// Indexes into `entities` of what is in `cell`, in net-id order.
    pub fn in_cell(&self, cell: Cell) -> &[u32] {
        &self.by_cell[self.cell_index(cell)]
    }

    /// The entities in the cells of `view`, in net-id order within each cell.
    pub fn visible(&self, view: View) -> impl Iterator<Item = &WireEntity> + Clone {
        view.cells().flat_map(|cell| self.in_cell(cell)).map(|&i| &self.entities[i as usize])
    }
}

impl crate::replay::RecordedFrame for SnapshotFrame {
    fn entities(&self) -> &[WireEntity] {
        &self.entities
    }
}

/// Players, then projectiles: quantized, sorted, filed by cell.
pub fn build_snapshot(
    clock: Res<Clock>,
    grid: Res<InterestGrid>,
    players: Query<(&Net, &Player, &Body, &Controls, &Health, &Score, Has<Dead>)>,
    shots: Query<(&Net, &Body, &Projectile)>,
    mut latest: ResMut<LatestSnapshot>,
) {
    let mut frame = SnapshotFrame { tick: clock.tick, cols: grid.cols, ..SnapshotFrame::default() };
    let mut located: Vec<(WireEntity, Cell)> = Vec::with_capacity(players.iter().len() + shots.iter().len());
    for (net, player, body, controls, health, score, dead) in &players {
        let cell = grid.cell_of(body.pos);
        frame.player_cells.insert(player.id, cell);
        let state = EntityState {
            net_id: net.0,
            // House bots draw from their own id range, so the range says which is which.
            kind: if is_bot(player.id) { EntityKind::Bot } else { EntityKind::Player },
            owner: player.id,
            pos: body.pos,
            vel: body.vel,
            aim: controls.aim,
            health: if dead { 0 } else { health.0 },
            score: score.kills,
        };
        located.push((state.into(), cell));
    }
    for (net, body, shot) in &shots {
        let state = EntityState {
            net_id: net.0,
            kind: EntityKind::Projectile,
            owner: shot.owner,
            pos: body.pos,
            vel: body.vel,
            aim: 0.0,
            health: 0,
            score: 0,
        };
        located.push((state.into(), grid.cell_of(body.pos)));
    }
    located.sort_unstable_by_key(|(e, _)| e.net_id());
    frame.by_cell.resize_with(grid.cell_count(), Vec::new);
    // Exact sizes: a room keeps its recent frames as baselines.
    frame.entities.reserve_exact(located.len());
    frame.cells.reserve_exact(located.len());
    for (i, (entity, cell)) in located.into_iter().enumerate() {
        frame.entities.push(entity);
        frame.cells.push(cell);
        frame.by_cell[grid.index(cell)].push(i as u32);
    }
    latest.0 = Some(Box::new(frame));
}
