//! Simulate phase, motion: players follow their stick, projectiles fly and expire.

use bevy_ecs::prelude::*;

use super::components::{Body, Controls, Dead, Projectile};
use super::resources::{Clock, Rules};

/// Players move at `player_speed` along their (clamped) stick and stay inside the arena.
pub fn move_players(clock: Res<Clock>, rules: Res<Rules>, mut players: Query<(&Controls, &mut Body), Without<Dead>>) {
    let s = &rules.settings;
    let r = s.player_radius;
    for (controls, mut body) in &mut players {
        body.vel = controls.move_dir.clamp_length_max(1.0) * s.player_speed;
        let next = body.pos + body.vel * clock.dt;
        body.pos = next.clamp(glam::Vec2::splat(r), glam::Vec2::new(s.arena_width - r, s.arena_height - r));
    }
}

/// Projectiles fly straight; they vanish when they expire or leave the arena.
pub fn move_projectiles(
    mut commands: Commands,
    clock: Res<Clock>,
    rules: Res<Rules>,
    mut shots: Query<(Entity, &mut Body, &mut Projectile)>,
) {
    let s = &rules.settings;
    for (entity, mut body, mut shot) in &mut shots {
        let outside = body.pos.x < 0.0 || body.pos.y < 0.0 || body.pos.x > s.arena_width || body.pos.y > s.arena_height;
        if outside || !shot.expires_at.is_after(clock.tick) {
            commands.entity(entity).despawn();
            continue;
        }
        shot.from = body.pos;
        let vel = body.vel;
        body.pos += vel * clock.dt;
    }
}
