//! Where a bot walks: toward, around or away from its target, across the arena
//! when nobody is near, apart from the others, and along walls rather than into them.

use glam::Vec2;
use rand::Rng;
use rand::rngs::StdRng;

use super::difficulty::Profile;

/// Closer than this to its target a bot backs off; farther than `FAR` it closes in.
const NEAR: f32 = 250.0;
const FAR: f32 = 480.0;
/// Bots keep about this far apart (a few player widths) so they do not clump.
pub const PERSONAL_SPACE: f32 = 130.0;
/// Walls start to push a bot back from this far.
const WALL_MARGIN: f32 = 90.0;
/// A wander goal this close counts as reached.
const GOAL_REACHED: f32 = 60.0;

/// The arena's bounds as a bot steers in them.
#[derive(Clone, Copy, Debug)]
pub struct Arena {
    pub size: Vec2,
}

impl Arena {
    /// A random point away from the walls, the farthest from `others` of a few tries:
    /// wandering bots head for empty parts of the arena and spread out.
    pub fn open_spot(&self, rng: &mut StdRng, others: &[Vec2]) -> Vec2 {
        // In a small arena the margin shrinks: the spots stay inside it.
        let margin = Vec2::splat(WALL_MARGIN * 1.5).min(self.size / 4.0);
        let mut best = self.size / 2.0;
        let mut best_room = f32::MIN;
        for _ in 0..6 {
            let spot = Vec2::new(
                rng.random_range(margin.x..(self.size.x - margin.x).max(margin.x + 1.0)),
                rng.random_range(margin.y..(self.size.y - margin.y).max(margin.y + 1.0)),
            );
            let room = others.iter().map(|o| o.distance_squared(spot)).fold(f32::MAX, f32::min);
            if room > best_room {
                (best, best_room) = (spot, room);
            }
        }
        best
    }
}

/// A bot's movement plans that outlive one tick.
#[derive(Clone, Copy, Debug, Default)]
pub struct Plans {
    /// Where it is heading while nobody is in sight.
    pub wander_goal: Option<Vec2>,
    /// Which way it circles its target: +1 or −1.
    pub strafe: f32,
}

/// What the bot's stick should do this tick, length at most 1.
pub struct Situation<'a> {
    pub me: Vec2,
    /// Share of full health, 0–1.
    pub health: f32,
    /// Where it believes its target is now, and the target's share of health.
    pub target: Option<(Vec2, f32)>,
    /// Every living player's position (its own included), for wander spots.
    pub others: &'a [Vec2],
    /// Those within about [`PERSONAL_SPACE`] of it (a subset of `others`, same order).
    pub close: &'a [Vec2],
}

pub fn steer(s: &Situation, plans: &mut Plans, profile: &Profile, arena: Arena, rng: &mut StdRng) -> Vec2 {
    let wanted = match s.target {
        Some((target, target_health)) => {
            // Backing off from a weaker enemy throws a won fight away.
            let hurt = s.health < profile.retreat_below && !(profile.presses_weaker && target_health <= s.health);
            engage(s.me, target, hurt, plans.strafe, profile)
        }
        None => wander(s.me, plans, arena, s.others, rng),
    };
    let steered = wanted + spread(s.me, s.close);
    slide_along_walls(s.me, steered, arena).clamp_length_max(1.0)
}

/// Keep a fighting distance, circle the target, back off when hurt.
fn engage(me: Vec2, target: Vec2, hurt: bool, strafe: f32, profile: &Profile) -> Vec2 {
    let to = target - me;
    let distance = to.length();
    let toward = to.normalize_or_zero();
    if hurt {
        // Away, with a sideways part so it is not an easy straight-line shot.
        return (-toward + toward.perp() * strafe * 0.5).normalize_or_zero();
    }
    if !profile.strafes {
        return if distance > NEAR { toward } else { Vec2::ZERO };
    }
    let closing = if distance > FAR {
        1.0
    } else if distance < NEAR {
        -1.0
    } else {
        0.0
    };
    (toward * closing + toward.perp() * strafe).normalize_or_zero()
}

/// Head for a goal in an open part of the arena; a new one when it is reached.
fn wander(me: Vec2, plans: &mut Plans, arena: Arena, others: &[Vec2], rng: &mut StdRng) -> Vec2 {
    let goal = match plans.wander_goal {
        Some(goal) if goal.distance(me) > GOAL_REACHED => goal,
        _ => *plans.wander_goal.insert(arena.open_spot(rng, others)),
    };
    (goal - me).normalize_or_zero()
}

/// Seconds ahead a dodging bot looks for a shot that would hit it.
const DODGE_HORIZON_S: f32 = 0.4;

/// Sideways out of the path of the soonest shot (position, velocity) that would hit
/// a body at `me` within [`DODGE_HORIZON_S`], if any.
pub fn dodge(me: Vec2, shots: impl Iterator<Item = (Vec2, Vec2)>, reach: f32) -> Option<Vec2> {
    let mut soonest: Option<(f32, Vec2)> = None;
    for (pos, vel) in shots {
        let speed2 = vel.length_squared();
        if speed2 < 1.0 {
            continue;
        }
        let to_me = me - pos;
        let t = to_me.dot(vel) / speed2;
        let miss = (to_me - vel * t).length();
        if t <= 0.0 || t > DODGE_HORIZON_S || miss > reach * 1.5 {
            continue;
        }
        if soonest.is_none_or(|(best, _)| t < best) {
            // Away from the line the shot flies along.
            let side = if vel.perp_dot(to_me) >= 0.0 { 1.0 } else { -1.0 };
            soonest = Some((t, vel.perp().normalize_or_zero() * side));
        }
    }
    soonest.map(|(_, away)| away)
}

/// A push away from players closer than `PERSONAL_SPACE`, stronger the closer they are.
fn spread(me: Vec2, others: &[Vec2]) -> Vec2 {
    let mut push = Vec2::ZERO;
    for &other in others {
        let away = me - other;
        let distance = away.length();
        if distance > 0.01 && distance < PERSONAL_SPACE {
            push += away / distance * (1.0 - distance / PERSONAL_SPACE) * 1.5;
        }
    }
    push
}

/// Near a wall, a wish to go into it turns into going along it, and the wall
/// pushes back a little: a bot never presses itself into a wall or a corner.
pub fn slide_along_walls(me: Vec2, wanted: Vec2, arena: Arena) -> Vec2 {
    let mut dir = wanted;
    let walls =
        [(me.x, Vec2::X), (arena.size.x - me.x, Vec2::NEG_X), (me.y, Vec2::Y), (arena.size.y - me.y, Vec2::NEG_Y)];
    for (distance, inward) in walls {
        if distance >= WALL_MARGIN {
            continue;
        }
        let into = -dir.dot(inward);
        if into > 0.0 {
            // Trade the part toward the wall for motion along it, keeping the speed.
            let along = inward.perp();
            let side = if dir.dot(along) >= 0.0 { 1.0 } else { -1.0 };
            dir += inward * into + along * side * into;
        }
        dir += inward * (1.0 - distance / WALL_MARGIN);
    }
    dir
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARENA: Arena = Arena { size: Vec2::new(2000.0, 2000.0) };

    #[test]
    fn a_bot_pressed_against_a_wall_moves_along_and_off_it() {
        let me = Vec2::new(20.0, 1000.0);
        let dir = slide_along_walls(me, Vec2::NEG_X, ARENA);
        assert!(dir.x > 0.0, "off the wall: {dir}");
        assert!(dir.y.abs() > 0.5, "along the wall: {dir}");
        // Into a corner: out of it.
        let corner = slide_along_walls(Vec2::new(20.0, 20.0), Vec2::new(-1.0, -1.0).normalize(), ARENA);
        assert!(corner.x > 0.0 && corner.y > 0.0, "{corner}");
    }

    #[test]
    fn wander_spots_stay_inside_a_small_arena() {
        use rand::SeedableRng;
        let mut rng = StdRng::seed_from_u64(7);
        let small = Arena { size: Vec2::new(80.0, 120.0) };
        for _ in 0..200 {
            let spot = small.open_spot(&mut rng, &[Vec2::new(40.0, 60.0)]);
            assert!(spot.x > 0.0 && spot.x < 80.0 && spot.y > 0.0 && spot.y < 120.0, "{spot}");
        }
    }

    #[test]
    fn a_dodger_steps_out_of_a_shots_path() {
        let me = Vec2::new(500.0, 500.0);
        // From the left, a little above the bot's centre: step down, out of its path.
        let away = dodge(me, [(Vec2::new(300.0, 495.0), Vec2::new(900.0, 0.0))].into_iter(), 25.0).unwrap();
        assert!(away.y > 0.9, "{away}");
        // Flying away, or passing far off: nothing to dodge.
        assert!(dodge(me, [(Vec2::new(600.0, 500.0), Vec2::new(900.0, 0.0))].into_iter(), 25.0).is_none());
        assert!(dodge(me, [(Vec2::new(300.0, 300.0), Vec2::new(900.0, 0.0))].into_iter(), 25.0).is_none());
    }

    #[test]
    fn a_hurt_bot_backs_off_and_a_healthy_one_circles() {
        let profile = super::super::LevelProfile::profile(super::super::Difficulty::Normal);
        let (me, target) = (Vec2::new(1000.0, 1000.0), Vec2::new(1350.0, 1000.0));
        assert!(engage(me, target, true, 1.0, profile).x < 0.0);
        let circling = engage(me, target, false, 1.0, profile);
        assert!(circling.x.abs() < 0.1 && circling.y.abs() > 0.9, "{circling}");
    }
}
