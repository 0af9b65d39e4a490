//! The house bots' system: every tick each living bot looks (when its reaction
//! time allows), picks a target, steers and aims, and its controls go into the
//! room as an input, through the same checks and buffer as a person's.

use arena_protocol::{Input, PlayerId, Tick};
use bevy_ecs::prelude::*;
use glam::Vec2;
use rand::Rng;

use super::steering::{self, Arena, Plans, Situation};
use super::targeting::{self, Grudges, Seen};
use super::{BotRng, Difficulty};
use crate::room::components::{Body, Dead, Health, Net, Player, Projectile};
use crate::room::resources::{Clock, HitLog, PendingInputs, Rules};
use crate::room::rounds::Match;

/// A player the room itself plays.
#[derive(Component, Debug)]
pub struct HouseBot {
    pub difficulty: Difficulty,
    /// Its inputs are numbered like a client's.
    seq: u32,
    /// When it may look at the world again (its reaction time).
    next_look: Tick,
    /// What it saw of its target at its last look, and when.
    target: Option<(Seen, Tick)>,
    /// Whoever hit it last, and when.
    attacker: Option<(PlayerId, Tick)>,
    plans: Plans,
    /// Where it was a while ago, to notice being stuck.
    progress: (Vec2, Tick),
    /// When it next reconsiders which way it circles.
    strafe_until: Tick,
    /// Inputs it made that the checks refused (none, unless a rule here is wrong).
    pub refused_inputs: u32,
}

impl HouseBot {
    pub fn new(difficulty: Difficulty) -> HouseBot {
        HouseBot {
            difficulty,
            seq: 0,
            next_look: Tick(0),
            target: None,
            attacker: None,
            plans: Plans { wander_goal: None, strafe: 1.0 },
            progress: (Vec2::ZERO, Tick(0)),
            strafe_until: Tick(0),
            refused_inputs: 0,
        }
    }
}

/// A grudge is forgotten after this many seconds.
const GRUDGE_S: f32 = 3.0;
/// Every this many seconds a bot checks it has moved; if it has not, it heads elsewhere.
const STUCK_CHECK_S: f32 = 1.0;

/// Produce each living bot's input for this tick.
pub fn think(
    clock: Res<Clock>,
    rules: Res<Rules>,
    game: Res<Match>,
    hits: Res<HitLog>,
    mut rng: ResMut<BotRng>,
    mut pending: ResMut<PendingInputs>,
    mut bots: Query<(&Player, &Body, &Health, &mut HouseBot), Without<Dead>>,
    everyone: Query<(&Player, &Body, &Health), Without<Dead>>,
    shots: Query<(&Net, &Body, &Projectile)>,
) {
    if bots.is_empty() {
        return;
    }
    let s = &rules.settings;
    let max_health = f32::from(s.max_health);
    let seen: Vec<Seen> = everyone
        .iter()
        .map(|(p, b, h)| Seen { id: p.id, pos: b.pos, vel: b.vel, health: f32::from(h.0) / max_health })
        .collect();
    let positions: Vec<Vec2> = seen.iter().map(|o| o.pos).collect();
    let arena = Arena { size: Vec2::new(s.arena_width, s.arena_height) };
    let ticks = |seconds: f32| (seconds * rules.tick_rate_hz as f32).round().max(1.0) as u32;
    let now = clock.tick;
    let rng = &mut rng.0;

    for (player, body, health, mut bot) in &mut bots {
        let bot = &mut *bot;
        let profile = bot.difficulty.profile();
        if let Some(&(_, shooter)) = hits.0.iter().rev().find(|(victim, _)| *victim == player.id) {
            bot.attacker = Some((shooter, now));
        }
        if bot.attacker.is_some_and(|(_, at)| now.since(at) > ticks(GRUDGE_S) as i32) {
            bot.attacker = None;
        }
        let me = Seen { id: player.id, pos: body.pos, vel: body.vel, health: f32::from(health.0) / max_health };

        if !bot.next_look.is_after(now) {
            let grudges = Grudges { attacker: bot.attacker.map(|(id, _)| id), current: bot.target.map(|(t, _)| t.id) };
            bot.target = targeting::choose(&me, &seen, profile, &grudges).map(|t| (*t, now));
            // A little jitter, so a room's bots do not all look on the same tick.
            let reaction = ticks(profile.reaction_s);
            bot.next_look = now.plus(reaction + rng.random_range(0..=reaction / 2));
        }
        if !bot.strafe_until.is_after(now) {
            bot.plans.strafe = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
            bot.strafe_until = now.plus(ticks(rng.random_range(0.6..1.8)));
        }
        if now.since(bot.progress.1) >= ticks(STUCK_CHECK_S) as i32 {
            if bot.progress.0.distance(body.pos) < s.player_speed * STUCK_CHECK_S * 0.1 {
                // Barely moved for a second: go somewhere else, the other way round.
                bot.plans.wander_goal = Some(arena.open_spot(rng, &positions));
                bot.plans.strafe = -bot.plans.strafe;
            }
            bot.progress = (body.pos, now);
        }

        // Where the target is now, as far as the bot knows: seen then, moving as it was.
        let believed = bot.target.map(|(t, seen_at)| {
            let pos = t.pos + t.vel * now.since(seen_at).max(0) as f32 * clock.dt;
            (t, pos.clamp(Vec2::ZERO, arena.size))
        });
        // Its own position among them is harmless: spreading skips what is at its feet.
        let situation = Situation {
            me: body.pos,
            health: me.health,
            target: believed.map(|(t, p)| (p, t.health)),
            others: &positions,
        };
        let mut move_dir = steering::steer(&situation, &mut bot.plans, profile, arena, rng);
        if profile.dodges > 0.0 {
            let reach = s.player_radius + s.projectile_radius;
            let threats = shots
                .iter()
                .filter(|(net, _, shot)| shot.owner != player.id && notices(player.id, net.0, profile.dodges))
                .map(|(_, b, _)| (b.pos, b.vel));
            if let Some(away) = steering::dodge(body.pos, threats, reach) {
                move_dir = steering::slide_along_walls(body.pos, away, arena).clamp_length_max(1.0);
            }
        }

        let (aim, fire) = match believed {
            Some((t, pos)) => {
                let point = targeting::lead_point(body.pos, pos, t.vel, s.projectile_speed, profile.lead);
                let error = (rng.random::<f32>() + rng.random::<f32>() - 1.0) * profile.aim_error;
                let to = point - body.pos;
                (to.y.atan2(to.x) + error, game.is_playing() && to.length() <= profile.fire_range)
            }
            None => (move_dir.y.atan2(move_dir.x), false),
        };
        bot.seq = bot.seq.wrapping_add(1).max(1);
        let input = Input::new(bot.seq, move_dir, aim, fire);
        // The same checks a person's input passes at the edge.
        match input.validate() {
            Ok(()) => pending.0.push((player.id, input)),
            Err(e) => {
                bot.refused_inputs += 1;
                tracing::warn!(player = %player.id, error = %e, "a house bot made an input a person could not");
            }
        }
    }
}

/// Whether a bot notices this shot, for a `share` of all shots: the same answer every
/// tick of the shot's flight (a shot seen is dodged, one missed stays missed).
fn notices(bot: PlayerId, shot: arena_protocol::NetId, share: f32) -> bool {
    let mixed = (u64::from(shot.0) << 32 | u64::from(bot.0)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ((mixed >> 40) as f32 / (1u64 << 24) as f32) < share
}
