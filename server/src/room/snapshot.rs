//! Snapshot phase: turn the world into per-cell entity bytes, encoded once per tick.

use arena_protocol::{EntityChunk, EntityKind, EntityState};
use bevy_ecs::prelude::*;

use super::components::{Body, Controls, Dead, Health, Net, Player, Projectile, Score};
use super::interest::InterestGrid;
use super::resources::LatestSnapshot;

/// Players first, then projectiles, each into the chunk of its grid cell.
pub fn build_snapshot(
    grid: Res<InterestGrid>,
    players: Query<(&Net, &Player, &Body, &Controls, &Health, &Score, Has<Dead>)>,
    shots: Query<(&Net, &Body, &Projectile)>,
    mut latest: ResMut<LatestSnapshot>,
) {
    let mut snapshot = latest.0.take().unwrap_or_default();
    snapshot.chunks.resize_with(grid.cells(), EntityChunk::default);
    snapshot.chunks.iter_mut().for_each(EntityChunk::clear);
    snapshot.player_cells.clear();
    for (net, player, body, controls, health, score, dead) in &players {
        let cell = grid.cell_of(body.pos);
        snapshot.player_cells.insert(player.id, cell);
        snapshot.chunks[grid.index(cell)].push(&EntityState {
            net_id: net.0,
            kind: EntityKind::Player,
            owner: player.id,
            pos: body.pos,
            vel: body.vel,
            aim: controls.aim,
            health: if dead { 0 } else { health.0 },
            score: score.kills,
        });
    }
    for (net, body, shot) in &shots {
        snapshot.chunks[grid.index(grid.cell_of(body.pos))].push(&EntityState {
            net_id: net.0,
            kind: EntityKind::Projectile,
            owner: shot.owner,
            pos: body.pos,
            vel: body.vel,
            aim: 0.0,
            health: 0,
            score: 0,
        });
    }
    latest.0 = Some(snapshot);
}
