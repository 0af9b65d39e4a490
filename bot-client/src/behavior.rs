//! How a bot plays: strafe around the nearest enemy, aim at it and fire; wander otherwise.

use arena_protocol::{Input, NetId, Snapshot, Welcome};
use glam::Vec2;
use rand::Rng;
use rand::rngs::StdRng;

/// Distance within which a bot opens fire.
const FIRING_RANGE: f32 = 700.0;

/// A bot's intentions between snapshots.
pub struct Behavior {
    me: NetId,
    arena: Vec2,
    rng: StdRng,
    /// Where the bot is heading (a direction when it plays blind).
    waypoint: Vec2,
    /// Strafe direction: +1 or -1, flipped now and then to be harder to hit.
    orbit: f32,
    seq: u32,
}

impl Behavior {
    pub fn new(welcome: &Welcome, mut rng: StdRng) -> Behavior {
        let arena = welcome.arena_size;
        let waypoint = Vec2::new(rng.random_range(0.0..arena.x), rng.random_range(0.0..arena.y));
        Behavior { me: welcome.net_id, arena, rng, waypoint, orbit: 1.0, seq: 0 }
    }

    /// The input to send after this snapshot.
    pub fn decide(&mut self, snapshot: &Snapshot) -> Input {
        self.seq = self.seq.wrapping_add(1).max(1);
        let Some(me) = snapshot.entities.iter().find(|e| e.net_id == self.me) else {
            return Input::new(self.seq, Vec2::ZERO, 0.0, false);
        };
        if self.rng.random_ratio(1, 90) {
            self.orbit = -self.orbit;
        }
        let target = snapshot
            .entities
            .iter()
            .filter(|e| e.kind.is_player() && e.net_id != self.me && e.health > 0)
            .min_by(|a, b| a.pos.distance_squared(me.pos).total_cmp(&b.pos.distance_squared(me.pos)));
        let (move_dir, aim, fire) = match target {
            Some(enemy) => {
                let to_enemy = enemy.pos - me.pos;
                let distance = to_enemy.length();
                let toward = to_enemy.normalize_or_zero();
                // Circle the enemy at mid range: close in when far, back off when near.
                let radial = if distance > 400.0 {
                    0.7
                } else if distance < 200.0 {
                    -0.7
                } else {
                    0.0
                };
                let strafe = toward.perp() * self.orbit;
                let aim = toward.y.atan2(toward.x);
                ((toward * radial + strafe).normalize_or_zero(), aim, distance < FIRING_RANGE)
            }
            None => {
                if me.pos.distance(self.waypoint) < 50.0 {
                    self.waypoint =
                        Vec2::new(self.rng.random_range(0.0..self.arena.x), self.rng.random_range(0.0..self.arena.y));
                }
                let dir = (self.waypoint - me.pos).normalize_or_zero();
                (dir, dir.y.atan2(dir.x), false)
            }
        };
        Input::new(self.seq, move_dir, aim, fire)
    }

    /// The input of a bot that does not read the game state (headers-only
    /// decoding): it wanders, turning now and then, and fires in bursts.
    pub fn decide_blind(&mut self) -> Input {
        self.seq = self.seq.wrapping_add(1).max(1);
        if self.rng.random_ratio(1, 30) {
            self.waypoint = Vec2::from_angle(self.rng.random_range(0.0..std::f32::consts::TAU));
        }
        let aim = self.waypoint.y.atan2(self.waypoint.x);
        Input::new(self.seq, self.waypoint.normalize_or_zero(), aim, self.rng.random_ratio(1, 3))
    }
}
