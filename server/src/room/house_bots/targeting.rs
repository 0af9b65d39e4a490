//! Whom a bot shoots at and where it aims: target choice (nearest, weakest,
//! whoever hit it) and leading a moving target.

use arena_protocol::PlayerId;
use glam::Vec2;

use super::difficulty::Profile;

/// A bot notices players this close; farther away it wanders.
pub const SIGHT: f32 = 900.0;

/// How far a bot notices players: [`SIGHT`], or less when the room's interest
/// management shows people less (`view_distance`, 0: off), so a bot never sees
/// what a person in its place would not.
pub fn sight(view_distance: f32) -> f32 {
    if view_distance > 0.0 { SIGHT.min(view_distance) } else { SIGHT }
}

/// One living player as a bot sees it at a look.
#[derive(Clone, Copy, Debug)]
pub struct Seen {
    pub id: PlayerId,
    pub pos: Vec2,
    pub vel: Vec2,
    /// Share of full health, 0–1.
    pub health: f32,
}

/// What the bot weighs besides distance.
pub struct Grudges {
    /// Whoever hit the bot lately.
    pub attacker: Option<PlayerId>,
    /// The target of its last look (a bot does not switch for a marginally better one).
    pub current: Option<PlayerId>,
}

/// The player to shoot at, among those within `sight`. Easy bots take the nearest; the
/// others prefer the weak and whoever hit them, and keep their target unless
/// another is clearly better.
pub fn choose<'a>(me: &Seen, others: &'a [Seen], sight: f32, profile: &Profile, grudges: &Grudges) -> Option<&'a Seen> {
    let in_sight = others.iter().filter(|o| o.id != me.id && o.pos.distance_squared(me.pos) <= sight * sight);
    if !profile.picks_targets {
        return in_sight.min_by(|a, b| a.pos.distance_squared(me.pos).total_cmp(&b.pos.distance_squared(me.pos)));
    }
    let cost = |o: &Seen| {
        // A wounded player counts as nearer: it takes fewer shots.
        let mut cost = o.pos.distance(me.pos) * (0.5 + 0.5 * o.health);
        if grudges.attacker == Some(o.id) {
            cost -= 150.0;
        }
        if grudges.current == Some(o.id) {
            cost -= 100.0;
        }
        cost
    };
    in_sight.min_by(|a, b| cost(a).total_cmp(&cost(b)))
}

/// Where to aim from `from` so a shot at `projectile_speed` meets a target at `pos`
/// moving at `vel`, allowing for `lead` (0–1) of its motion. With no intercept
/// possible (a target faster than the shot, running away) it aims straight at it.
pub fn lead_point(from: Vec2, pos: Vec2, vel: Vec2, projectile_speed: f32, lead: f32) -> Vec2 {
    let to = pos - from;
    // |to + vel·t| = speed·t  →  (v·v − s²)t² + 2(to·v)t + to·to = 0
    let a = vel.dot(vel) - projectile_speed * projectile_speed;
    let b = 2.0 * to.dot(vel);
    let c = to.dot(to);
    let t = if a.abs() < 1e-6 {
        if b.abs() < 1e-6 { 0.0 } else { -c / b }
    } else {
        let disc = b * b - 4.0 * a * c;
        if disc < 0.0 {
            0.0
        } else {
            let root = disc.sqrt();
            let (t1, t2) = ((-b - root) / (2.0 * a), (-b + root) / (2.0 * a));
            match (t1 > 0.0, t2 > 0.0) {
                (true, true) => t1.min(t2),
                (true, false) => t1,
                (false, true) => t2,
                (false, false) => 0.0,
            }
        }
    };
    pos + vel * t.max(0.0) * lead
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::room::house_bots::{Difficulty, LevelProfile};

    fn seen(id: u32, x: f32, health: f32) -> Seen {
        Seen { id: PlayerId(id), pos: Vec2::new(x, 0.0), vel: Vec2::ZERO, health }
    }

    #[test]
    fn a_full_lead_meets_a_crossing_target() {
        let (from, pos, vel) = (Vec2::ZERO, Vec2::new(400.0, 0.0), Vec2::new(0.0, 300.0));
        let aim = lead_point(from, pos, vel, 900.0, 1.0);
        let t = aim.distance(from) / 900.0;
        assert!((pos + vel * t).distance(aim) < 0.5, "the shot and the target meet at {aim}");
        assert_eq!(lead_point(from, pos, Vec2::ZERO, 900.0, 1.0), pos);
    }

    #[test]
    fn easy_takes_the_nearest_and_the_others_weigh_wounds_and_grudges() {
        let me = seen(1, 0.0, 1.0);
        let others = [seen(2, 300.0, 1.0), seen(3, 400.0, 0.25), seen(4, 2000.0, 0.1)];
        let none = Grudges { attacker: None, current: None };
        assert_eq!(choose(&me, &others, SIGHT, Difficulty::Easy.profile(), &none).unwrap().id, PlayerId(2));
        assert_eq!(
            choose(&me, &others, SIGHT, Difficulty::Hard.profile(), &none).unwrap().id,
            PlayerId(3),
            "the wounded one"
        );
        let hit_by_2 = Grudges { attacker: Some(PlayerId(2)), current: Some(PlayerId(2)) };
        assert_eq!(choose(&me, &others, SIGHT, Difficulty::Normal.profile(), &hit_by_2).unwrap().id, PlayerId(2));
        assert!(choose(&me, &others[2..], SIGHT, Difficulty::Hard.profile(), &none).is_none(), "out of sight");
        assert!(choose(&me, &others[1..], sight(350.0), Difficulty::Hard.profile(), &none).is_none(), "past the view");
        assert_eq!((sight(0.0), sight(500.0), sight(5000.0)), (SIGHT, 500.0, SIGHT));
    }
}
