//! The house bots' system: every tick each living bot looks (when its reaction
//! time allows), picks a target, steers and aims, and its controls go into the
//! room as an input, through the same checks and buffer as a person's.

use arena_protocol::{Input, PlayerId, Tick};
use bevy_ecs::prelude::*;
use glam::Vec2;
use rand::Rng;
use rand::rngs::StdRng;

use super::nearby::Nearby;
use super::steering::{self, Arena, Plans, Situation};
use super::targeting::{self, Grudges, Seen};
use super::{BotRng, Difficulty, LevelProfile};
use crate::room::components::{Body, Dead, Health, Net, Player, Projectile};
use crate::room::resources::{Clock, HitLog, PendingInputs, Rules};
use crate::room::rounds::Match;
use crate::settings::GameSettings;

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

/// What every bot of the room sees alike this tick.
struct Frame<'a> {
    now: Tick,
    /// Seconds per tick.
    dt: f32,
    tick_rate_hz: f32,
    settings: &'a GameSettings,
    arena: Arena,
    /// How far a bot notices players.
    sight: f32,
    /// Every living player (bots too), and their positions alone.
    seen: Vec<Seen>,
    positions: Vec<Vec2>,
    /// `seen` by cell, for the players within sight and within personal space.
    in_sight: Nearby,
    in_reach: Nearby,
}

impl Frame<'_> {
    /// `seconds` in whole ticks, at least one.
    fn ticks(&self, seconds: f32) -> u32 {
        (seconds * self.tick_rate_hz).round().max(1.0) as u32
    }

    fn health_share(&self, health: &Health) -> f32 {
        f32::from(health.0) / f32::from(self.settings.max_health)
    }
}

/// Produce each living bot's input for this tick.
#[allow(clippy::too_many_arguments)] // a system's parameters are what it reads and writes
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
    let mut frame = Frame {
        now: clock.tick,
        dt: clock.dt,
        tick_rate_hz: rules.tick_rate_hz as f32,
        settings: s,
        arena: Arena { size: Vec2::new(s.arena_width, s.arena_height) },
        sight: targeting::sight(s.view_distance),
        seen: Vec::new(),
        positions: Vec::new(),
        in_sight: Nearby::new(&[], 1.0),
        in_reach: Nearby::new(&[], 1.0),
    };
    frame.seen = everyone
        .iter()
        .map(|(p, b, h)| Seen { id: p.id, pos: b.pos, vel: b.vel, health: frame.health_share(h) })
        .collect();
    frame.positions = frame.seen.iter().map(|o| o.pos).collect();
    frame.in_sight = Nearby::new(&frame.positions, frame.sight);
    frame.in_reach = Nearby::new(&frame.positions, steering::PERSONAL_SPACE);
    let rng: &mut StdRng = &mut rng.0;
    // Reused by every bot: indices from the grids, and the players they name.
    let mut near = Vec::new();
    let mut close = Vec::new();

    for (player, body, health, mut bot) in &mut bots {
        let bot = &mut *bot;
        let me = Seen { id: player.id, pos: body.pos, vel: body.vel, health: frame.health_share(health) };
        remember_attacker(bot, player.id, &hits, &frame);
        look(bot, &me, &frame, &mut near, rng);
        reconsider_strafe(bot, &frame, rng);
        unstick(bot, body.pos, &frame, rng);
        let believed = believed_target(bot, &frame);
        frame.in_reach.around(me.pos, steering::PERSONAL_SPACE, &mut near);
        close.clear();
        close.extend(near.iter().map(|&i| frame.positions[i]));
        let mut move_dir = walk(bot, &me, believed, &close, &frame, rng);
        if let Some(away) = dodge_shots(bot, player.id, body.pos, &frame, &shots) {
            move_dir = away;
        }
        let (aim, fire) = aim_and_fire(bot, body.pos, move_dir, believed, game.is_playing(), &frame, rng);
        submit(bot, player.id, move_dir, aim, fire, &mut pending);
    }
}

/// Whoever hit the bot this tick becomes its grudge; an old grudge is forgotten.
fn remember_attacker(bot: &mut HouseBot, me: PlayerId, hits: &HitLog, frame: &Frame) {
    if let Some(&(_, shooter)) = hits.0.iter().rev().find(|(victim, _)| *victim == me) {
        bot.attacker = Some((shooter, frame.now));
    }
    if bot.attacker.is_some_and(|(_, at)| frame.now.since(at) > frame.ticks(GRUDGE_S) as i32) {
        bot.attacker = None;
    }
}

/// When its reaction time allows, the bot looks at the world and picks a target.
fn look(bot: &mut HouseBot, me: &Seen, frame: &Frame, near: &mut Vec<usize>, rng: &mut StdRng) {
    if bot.next_look.is_after(frame.now) {
        return;
    }
    let profile = bot.difficulty.profile();
    let grudges = Grudges { attacker: bot.attacker.map(|(id, _)| id), current: bot.target.map(|(t, _)| t.id) };
    frame.in_sight.around(me.pos, frame.sight, near);
    let candidates: Vec<Seen> = near.iter().map(|&i| frame.seen[i]).collect();
    bot.target = targeting::choose(me, &candidates, frame.sight, profile, &grudges).map(|t| (*t, frame.now));
    // A little jitter, so a room's bots do not all look on the same tick.
    let reaction = frame.ticks(profile.reaction_s);
    bot.next_look = frame.now.plus(reaction + rng.random_range(0..=reaction / 2));
}

/// Now and then the bot changes which way it circles its target.
fn reconsider_strafe(bot: &mut HouseBot, frame: &Frame, rng: &mut StdRng) {
    if !bot.strafe_until.is_after(frame.now) {
        bot.plans.strafe = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
        bot.strafe_until = frame.now.plus(frame.ticks(rng.random_range(0.6..1.8)));
    }
}

/// A bot that barely moved for a while heads somewhere else, the other way round.
fn unstick(bot: &mut HouseBot, pos: Vec2, frame: &Frame, rng: &mut StdRng) {
    if frame.now.since(bot.progress.1) < frame.ticks(STUCK_CHECK_S) as i32 {
        return;
    }
    if bot.progress.0.distance(pos) < frame.settings.player_speed * STUCK_CHECK_S * 0.1 {
        bot.plans.wander_goal = Some(frame.arena.open_spot(rng, &frame.positions));
        bot.plans.strafe = -bot.plans.strafe;
    }
    bot.progress = (pos, frame.now);
}

/// Where the target is now, as far as the bot knows: seen then, moving as it was.
fn believed_target(bot: &HouseBot, frame: &Frame) -> Option<(Seen, Vec2)> {
    bot.target.map(|(t, seen_at)| {
        let pos = t.pos + t.vel * frame.now.since(seen_at).max(0) as f32 * frame.dt;
        (t, pos.clamp(Vec2::ZERO, frame.arena.size))
    })
}

/// Where the bot walks: toward, around or away from its target, or wandering.
fn walk(
    bot: &mut HouseBot,
    me: &Seen,
    believed: Option<(Seen, Vec2)>,
    close: &[Vec2],
    frame: &Frame,
    rng: &mut StdRng,
) -> Vec2 {
    // Its own position among the others is harmless: spreading skips what is at its feet.
    let situation = Situation {
        me: me.pos,
        health: me.health,
        target: believed.map(|(t, p)| (p, t.health)),
        others: &frame.positions,
        close,
    };
    steering::steer(&situation, &mut bot.plans, bot.difficulty.profile(), frame.arena, rng)
}

/// A bot that dodges steps out of the path of the shots it notices.
fn dodge_shots(
    bot: &HouseBot,
    me: PlayerId,
    pos: Vec2,
    frame: &Frame,
    shots: &Query<(&Net, &Body, &Projectile)>,
) -> Option<Vec2> {
    let share = bot.difficulty.profile().dodges;
    if share <= 0.0 {
        return None;
    }
    let reach = frame.settings.player_radius + frame.settings.projectile_radius;
    let threats = shots
        .iter()
        .filter(|(net, _, shot)| shot.owner != me && notices(me, net.0, share))
        .map(|(_, b, _)| (b.pos, b.vel));
    let away = steering::dodge(pos, threats, reach)?;
    Some(steering::slide_along_walls(pos, away, frame.arena).clamp_length_max(1.0))
}

/// Aim at where the target will be (with the level's error); fire when in range
/// and a round is on. With no target the bot looks where it walks.
fn aim_and_fire(
    bot: &HouseBot,
    pos: Vec2,
    move_dir: Vec2,
    believed: Option<(Seen, Vec2)>,
    playing: bool,
    frame: &Frame,
    rng: &mut StdRng,
) -> (f32, bool) {
    let profile = bot.difficulty.profile();
    let Some((t, target)) = believed else { return (move_dir.y.atan2(move_dir.x), false) };
    let point = targeting::lead_point(pos, target, t.vel, frame.settings.projectile_speed, profile.lead);
    let error = (rng.random::<f32>() + rng.random::<f32>() - 1.0) * profile.aim_error;
    let to = point - pos;
    (to.y.atan2(to.x) + error, playing && to.length() <= profile.fire_range)
}

/// The bot's input goes through the same checks a person's input passes at the edge.
fn submit(bot: &mut HouseBot, me: PlayerId, move_dir: Vec2, aim: f32, fire: bool, pending: &mut PendingInputs) {
    bot.seq = bot.seq.wrapping_add(1).max(1);
    let input = Input::new(bot.seq, move_dir, aim, fire);
    match input.validate() {
        Ok(()) => pending.0.push((me, input)),
        Err(e) => {
            bot.refused_inputs += 1;
            // Once per bot: a wrong rule here would otherwise log every tick.
            if bot.refused_inputs == 1 {
                tracing::warn!(player = %me, error = %e, "a house bot made an input a person could not (logged once per bot)");
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
