//! Simulate phase, matches: a round ends at its score or time limit, the results
//! show for a while, then everyone starts the next round fresh.

use arena_protocol::PlayerId;
use arena_protocol::lobby::MatchRules;
use bevy_ecs::prelude::*;

use super::combat::free_spot;
use super::components::{Body, Controls, Dead, Health, Player, Projectile, Score, Weapon};
use super::resources::{Clock, RoomRng, Rules};
use arena_protocol::Tick;

/// Where the room's match stands.
#[derive(Resource, Clone, Debug)]
pub struct Match {
    pub rules: MatchRules,
    /// 1 for the first round.
    pub round: u32,
    pub phase: Phase,
    pub round_started: Tick,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Phase {
    Playing { ends_at: Tick },
    Results { next_round_at: Tick },
}

impl Match {
    pub fn new(rules: MatchRules, tick_rate_hz: u16) -> Match {
        Match {
            rules,
            round: 1,
            phase: Phase::Playing { ends_at: Tick(0).plus(rules.time_limit_s * u32::from(tick_rate_hz)) },
            round_started: Tick(0),
        }
    }

    pub fn is_playing(&self) -> bool {
        matches!(self.phase, Phase::Playing { .. })
    }
}

/// What rounds did this tick; emptied by the room after each tick.
#[derive(Resource, Default, Debug)]
pub struct MatchEvents(pub Vec<MatchEvent>);

#[derive(Clone, Debug, PartialEq)]
pub enum MatchEvent {
    RoundOver(RoundOutcome),
    RoundStarted { round: u32 },
}

/// A finished round, before names are attached.
#[derive(Clone, Debug, PartialEq)]
pub struct RoundOutcome {
    pub round: u32,
    pub reason: &'static str,
    pub duration_s: f32,
    /// (player, kills, deaths), best first.
    pub standings: Vec<(PlayerId, u32, u32)>,
}

/// Standings of everyone in the world, best first (most kills, then fewest deaths).
pub fn standings<'a>(scores: impl Iterator<Item = (&'a Player, &'a Score)>) -> Vec<(PlayerId, u32, u32)> {
    let mut rows: Vec<_> = scores.map(|(p, s)| (p.id, s.kills, s.deaths)).collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)).then(a.0.cmp(&b.0)));
    rows
}

/// End the round when someone reached the score limit or time ran out.
pub fn end_round(
    clock: Res<Clock>,
    rules: Res<Rules>,
    mut game: ResMut<Match>,
    mut events: ResMut<MatchEvents>,
    scores: Query<(&Player, &Score)>,
) {
    let Phase::Playing { ends_at } = game.phase else { return };
    let top = scores.iter().map(|(_, s)| s.kills).max().unwrap_or(0);
    let reason = if top >= game.rules.score_limit {
        "score_limit"
    } else if !ends_at.is_after(clock.tick) {
        "time_limit"
    } else {
        return;
    };
    let duration_s = clock.tick.since(game.round_started).max(0) as f32 * clock.dt;
    events.0.push(MatchEvent::RoundOver(RoundOutcome {
        round: game.round,
        reason,
        duration_s,
        standings: standings(scores.iter()),
    }));
    game.phase = Phase::Results { next_round_at: clock.tick.plus(rules.round_results_ticks) };
}

/// After the results, reset every player and start the next round.
pub fn start_round(
    mut commands: Commands,
    clock: Res<Clock>,
    rules: Res<Rules>,
    mut rng: ResMut<RoomRng>,
    mut game: ResMut<Match>,
    mut events: ResMut<MatchEvents>,
    mut players: Query<(Entity, &mut Body, &mut Health, &mut Score, &mut Weapon, &mut Controls), With<Player>>,
    shots: Query<Entity, With<Projectile>>,
) {
    let Phase::Results { next_round_at } = game.phase else { return };
    if next_round_at.is_after(clock.tick) {
        return;
    }
    for shot in &shots {
        commands.entity(shot).despawn();
    }
    let mut placed = Vec::new();
    for (entity, mut body, mut health, mut score, mut weapon, mut controls) in &mut players {
        body.pos = free_spot(&rules, &mut rng, placed.iter().copied());
        body.vel = glam::Vec2::ZERO;
        placed.push(body.pos);
        health.0 = rules.settings.max_health;
        *score = Score::default();
        *weapon = Weapon::default();
        controls.fire = false;
        commands.entity(entity).remove::<Dead>();
    }
    game.round += 1;
    game.round_started = clock.tick;
    game.phase = Phase::Playing { ends_at: clock.tick.plus(game.rules.time_limit_s * rules.tick_rate_hz) };
    events.0.push(MatchEvent::RoundStarted { round: game.round });
}
