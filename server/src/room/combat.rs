//! Simulate phase, combat: firing, hits, deaths, score and respawns.

use std::collections::VecDeque;

use arena_protocol::server_msg::Kill;
use arena_protocol::{PlayerId, Tick};
use bevy_ecs::prelude::*;
use glam::Vec2;
use rand::Rng;

use super::components::{Body, Controls, Dead, Health, Net, Player, Projectile, Score, Weapon};
use super::kill_feed::KillAt;
use super::resources::{Clock, HitLog, KillFeed, NetIds, PlayerIndex, RoomRng, Rules};

/// A player holding fire whose weapon is ready spawns a projectile along its aim,
/// just outside its own circle.
pub fn fire_weapons(
    mut commands: Commands,
    clock: Res<Clock>,
    rules: Res<Rules>,
    mut net_ids: ResMut<NetIds>,
    game: Res<super::rounds::Match>,
    mut shooters: Query<(&Player, &Body, &Controls, &mut Weapon), Without<Dead>>,
) {
    if !game.is_playing() {
        return;
    }
    let s = &rules.settings;
    for (player, body, controls, mut weapon) in &mut shooters {
        if !controls.fire || weapon.ready_at.is_after(clock.tick) {
            continue;
        }
        weapon.ready_at = clock.tick.plus(rules.fire_cooldown_ticks);
        let dir = Vec2::from_angle(controls.aim);
        let pos = body.pos + dir * (s.player_radius + s.projectile_radius + 1.0);
        // The shooter aimed at the world it was shown: test this shot's hits there.
        let behind = clock.tick.since(controls.view_tick);
        let rewind =
            if controls.view_tick == Tick(0) || behind < 0 { 0 } else { (behind as u32).min(rules.max_rewind_ticks) };
        commands.spawn((
            Net(net_ids.allocate()),
            Body { pos, vel: dir * s.projectile_speed },
            Projectile {
                owner: player.id,
                from: pos,
                expires_at: clock.tick.plus(rules.projectile_lifetime_ticks),
                rewind,
            },
        ));
    }
}

/// Distance from `point` to the segment `a`–`b`.
fn distance_to_segment(point: Vec2, a: Vec2, b: Vec2) -> f32 {
    let ab = b - a;
    let t = if ab.length_squared() > 0.0 { ((point - a).dot(ab) / ab.length_squared()).clamp(0.0, 1.0) } else { 0.0 };
    point.distance(a + ab * t)
}

/// Side of the grid cells players are bucketed in for hit tests: a few player widths,
/// so a projectile's path this tick touches at most a handful of cells.
const HIT_CELL: f32 = 64.0;

fn hit_cell(pos: Vec2) -> (i32, i32) {
    ((pos.x / HIT_CELL).floor() as i32, (pos.y / HIT_CELL).floor() as i32)
}

/// Living players at the end of one tick's movement, sorted by hit cell. A flat list,
/// not a map of cells to lists: `max_rewind_ticks` of these are kept, and a map kept a
/// list allocation per cell ever stood in (about 5 KiB per player in the room).
#[derive(Default)]
pub struct HitGrid {
    players: Vec<((i32, i32), Entity, PlayerId, Vec2)>,
}

impl HitGrid {
    /// Refill with `players` (the list's memory is reused).
    fn fill(&mut self, players: impl Iterator<Item = (Entity, PlayerId, Vec2)>) {
        self.players.clear();
        self.players.extend(players.map(|(entity, id, pos)| (hit_cell(pos), entity, id, pos)));
        self.players.sort_unstable_by_key(|p| p.0);
    }

    /// The players in `cell`.
    fn in_cell(&self, cell: (i32, i32)) -> impl Iterator<Item = &((i32, i32), Entity, PlayerId, Vec2)> {
        let start = self.players.partition_point(|p| p.0 < cell);
        self.players[start..].iter().take_while(move |p| p.0 == cell)
    }
}

/// Each projectile damages the first living player (other than its shooter)
/// its path this tick touches — the one nearest to where the path started —
/// and is gone. A player brought to 0 dies; the shooter scores a kill.
/// Players are bucketed in a grid first, so a tick costs projectiles × nearby
/// players instead of projectiles × all players. The grids of the last
/// `max_rewind_ticks` ticks are kept: a shot is tested against the players where
/// they were in the world its shooter saw (lag compensation), the damage lands now.
pub fn resolve_hits(
    mut commands: Commands,
    clock: Res<Clock>,
    rules: Res<Rules>,
    index: Res<PlayerIndex>,
    mut feed: ResMut<KillFeed>,
    mut hit_log: ResMut<HitLog>,
    shots: Query<(Entity, &Body, &Projectile)>,
    mut players: Query<(Entity, &Player, &Body, &mut Health, &mut Score), Without<Projectile>>,
    mut history: Local<VecDeque<HitGrid>>,
) {
    let s = &rules.settings;
    let reach = s.player_radius + s.projectile_radius;
    hit_log.0.clear();
    // Newest grid first; the oldest one's memory is reused for this tick's.
    let mut grid = if history.len() > rules.max_rewind_ticks as usize {
        history.pop_back().unwrap_or_default()
    } else {
        HitGrid::default()
    };
    let living = players.iter().filter(|(.., health, _)| health.0 > 0);
    grid.fill(living.map(|(entity, player, body, ..)| (entity, player.id, body.pos)));
    history.push_front(grid);
    for (shot_entity, shot_body, shot) in &shots {
        let grid = history.get(shot.rewind as usize).unwrap_or(&history[0]);
        let (x0, y0) = hit_cell(shot.from.min(shot_body.pos) - Vec2::splat(reach));
        let (x1, y1) = hit_cell(shot.from.max(shot_body.pos) + Vec2::splat(reach));
        let mut first_hit: Option<(Entity, f32)> = None;
        for cell in (y0..=y1).flat_map(|y| (x0..=x1).map(move |x| (x, y))) {
            for &(_, entity, id, pos) in grid.in_cell(cell) {
                // An earlier shot this tick may have killed this player already.
                let alive = players.get(entity).is_ok_and(|(_, _, _, health, _)| health.0 > 0);
                if id == shot.owner || !alive || distance_to_segment(pos, shot.from, shot_body.pos) > reach {
                    continue;
                }
                let along = pos.distance_squared(shot.from);
                if first_hit.is_none_or(|(_, best)| along < best) {
                    first_hit = Some((entity, along));
                }
            }
        }
        let Some((victim_entity, _)) = first_hit else { continue };
        commands.entity(shot_entity).despawn();
        let Ok((_, victim, body, mut health, mut score)) = players.get_mut(victim_entity) else { continue };
        health.0 = health.0.saturating_sub(s.projectile_damage);
        hit_log.0.push((victim.id, shot.owner));
        if health.0 > 0 {
            continue;
        }
        score.deaths += 1;
        let victim_id = victim.id;
        commands.entity(victim_entity).insert(Dead { respawn_at: clock.tick.plus(rules.respawn_delay_ticks) });
        // Where it fell, not where it stands when the tick ends: a respawn or a new round
        // in this same tick moves it before the kill feed is sent.
        let kill = Kill { killer: shot.owner, victim: victim_id };
        feed.0.push(KillAt { kill, fell_at: body.pos });
        if let Some(&killer) = index.0.get(&shot.owner)
            && let Ok((_, _, _, _, mut killer_score)) = players.get_mut(killer)
        {
            killer_score.kills += 1;
        }
    }
}

/// Dead players stand still; when their delay is over they come back at full
/// health at a free spot.
pub fn respawn(
    mut commands: Commands,
    clock: Res<Clock>,
    rules: Res<Rules>,
    mut rng: ResMut<RoomRng>,
    mut dead: Query<(Entity, &Dead, &mut Body, &mut Health, &mut Controls)>,
    alive: Query<&Body, Without<Dead>>,
) {
    for (entity, dead, mut body, mut health, mut controls) in &mut dead {
        body.vel = Vec2::ZERO;
        if dead.respawn_at.is_after(clock.tick) {
            continue;
        }
        body.pos = free_spot(&rules, &mut rng, alive.iter().map(|b| b.pos));
        health.0 = rules.settings.max_health;
        controls.fire = false;
        commands.entity(entity).remove::<Dead>();
    }
}

/// A spawn point away from `occupied`: the best of a few random candidates,
/// judged by the distance to the nearest occupied point.
pub fn free_spot(rules: &Rules, rng: &mut RoomRng, occupied: impl Iterator<Item = Vec2> + Clone) -> Vec2 {
    const CANDIDATES: usize = 12;
    let s = &rules.settings;
    let margin = s.player_radius * 2.0;
    let mut best = Vec2::new(s.arena_width / 2.0, s.arena_height / 2.0);
    let mut best_clearance = f32::MIN;
    for _ in 0..CANDIDATES {
        let candidate = Vec2::new(
            rng.0.random_range(margin..s.arena_width - margin),
            rng.0.random_range(margin..s.arena_height - margin),
        );
        let clearance = occupied.clone().map(|p| p.distance(candidate)).fold(f32::MAX, f32::min);
        if clearance > best_clearance {
            best = candidate;
            best_clearance = clearance;
        }
        if clearance > s.player_radius * 8.0 {
            break;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_distance_covers_the_whole_path() {
        let a = Vec2::new(0.0, 0.0);
        let b = Vec2::new(100.0, 0.0);
        assert_eq!(distance_to_segment(Vec2::new(50.0, 10.0), a, b), 10.0);
        assert_eq!(distance_to_segment(Vec2::new(-10.0, 0.0), a, b), 10.0);
        assert_eq!(distance_to_segment(Vec2::new(5.0, 5.0), a, a), 50f32.sqrt());
    }
}
