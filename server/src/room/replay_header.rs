//! The header of a round's replay: the room, its rules and settings, and who is in it.

use arena_protocol::replay::{FORMAT_VERSION, MAGIC, ReplayHeader};
use arena_protocol::{PROTOCOL_VERSION, RoundStart};
use glam::Vec2;

use super::RoomSpec;
use super::membership::Membership;
use super::world::RoomWorld;
use crate::ops::unix_ms_after;
use crate::replay::RoundRecorder;

/// Built once a round, on the tick its recording begins.
pub fn header(spec: &RoomSpec, world: &RoomWorld, members: &Membership, recorder: &RoundRecorder) -> ReplayHeader {
    let settings = world.settings();
    // People and house bots (marked `bot`).
    let mut players = members.roster();
    // Spectators watch; they are not in the round.
    players.retain(|p| p.net_id.0 != 0);
    ReplayHeader {
        magic: MAGIC.into(),
        format_version: FORMAT_VERSION,
        protocol_version: PROTOCOL_VERSION,
        room_id: spec.id.clone(),
        room_name: spec.name.clone(),
        private: spec.private,
        round: RoundStart {
            round: world.match_state().round,
            score_limit: spec.rules.score_limit,
            time_limit_s: spec.rules.time_limit_s,
        },
        started_at_ms: unix_ms_after(std::time::Duration::ZERO),
        tick_rate_hz: spec.tick_rate_hz,
        recorded_rate_hz: recorder.recorded_rate_hz(spec.tick_rate_hz),
        arena_size: Vec2::new(settings.arena_width, settings.arena_height),
        player_radius: settings.player_radius,
        projectile_radius: settings.projectile_radius,
        player_speed: settings.player_speed,
        max_health: settings.max_health,
        players,
    }
}
