//! Snapshot phase: turn the world into the shared snapshot bytes, once per tick.

use arena_protocol::{EntityKind, EntityState, SnapshotBody};
use bevy_ecs::prelude::*;

use super::components::{Body, Controls, Dead, Health, Net, Player, Projectile, Score};
use super::resources::{Clock, LatestSnapshot};

/// Players first, then projectiles. `scratch` keeps its capacity across ticks.
pub fn build_snapshot(
    clock: Res<Clock>,
    players: Query<(&Net, &Player, &Body, &Controls, &Health, &Score, Has<Dead>)>,
    shots: Query<(&Net, &Body, &Projectile)>,
    mut latest: ResMut<LatestSnapshot>,
    mut scratch: Local<Vec<EntityState>>,
) {
    scratch.clear();
    for (net, player, body, controls, health, score, dead) in &players {
        scratch.push(EntityState {
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
        scratch.push(EntityState {
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
    latest.0 = Some(SnapshotBody::encode(clock.tick, &scratch));
}
