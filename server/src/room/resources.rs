//! ECS resources of a room's world: configuration, clock and per-tick buffers.

use arena_protocol::{Input, NetId, PlayerId, Tick};
use bevy_ecs::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rustc_hash::FxHashMap;

use crate::settings::GameSettings;

/// The game rules, with durations turned into ticks once.
#[derive(Resource, Clone, Debug)]
pub struct Rules {
    /// Boxed to keep the resource small: bevy reserves room for 64 of each resource.
    pub settings: Box<GameSettings>,
    pub fire_cooldown_ticks: u32,
    pub respawn_delay_ticks: u32,
    pub projectile_lifetime_ticks: u32,
    pub round_results_ticks: u32,
    pub tick_rate_hz: u32,
    /// Most ticks a shot may be rewound (lag compensation).
    pub max_rewind_ticks: u32,
}

impl Rules {
    pub fn new(settings: GameSettings, tick_rate_hz: u16) -> Rules {
        let ticks = |seconds: f32| ((seconds * f32::from(tick_rate_hz)).round() as u32).max(1);
        Rules {
            fire_cooldown_ticks: ticks(settings.fire_cooldown_s),
            respawn_delay_ticks: ticks(settings.respawn_delay_s),
            projectile_lifetime_ticks: ticks(settings.projectile_lifetime_s),
            round_results_ticks: ticks(settings.round_results_s),
            tick_rate_hz: u32::from(tick_rate_hz),
            max_rewind_ticks: (settings.lag_compensation_ms as f32 / 1000.0 * f32::from(tick_rate_hz)).round() as u32,
            settings: Box::new(settings),
        }
    }
}

/// The room's clock: the tick being simulated and its length.
#[derive(Resource, Clone, Copy, Debug)]
pub struct Clock {
    pub tick: Tick,
    /// Seconds per tick.
    pub dt: f32,
}

/// Inputs received since the last tick, in arrival order.
#[derive(Resource, Default, Debug)]
pub struct PendingInputs(pub Vec<(PlayerId, Input)>);

/// Network id → entity, for the players in the room.
#[derive(Resource, Default, Debug)]
pub struct PlayerIndex(pub FxHashMap<PlayerId, Entity>);

/// Hands out network ids; 2^32 before one is reused.
#[derive(Resource, Default, Debug)]
pub struct NetIds {
    next: u32,
}

impl NetIds {
    pub fn allocate(&mut self) -> NetId {
        self.next = self.next.wrapping_add(1);
        NetId(self.next)
    }
}

/// Randomness for spawn spots; seeded so world-stepping tests repeat.
/// Boxed: bevy stores each resource in a column sized for 64 of it, and a ChaCha
/// state is about 330 bytes (20 KiB a room unboxed).
#[derive(Resource)]
pub struct RoomRng(pub Box<StdRng>);

impl RoomRng {
    pub fn seeded(seed: u64) -> RoomRng {
        RoomRng(Box::new(StdRng::seed_from_u64(seed)))
    }
}

/// Hits of the last tick as (victim, shooter): house bots learn who shot them.
/// Emptied when the next tick's hits are resolved.
#[derive(Resource, Default, Debug)]
pub struct HitLog(pub Vec<(PlayerId, PlayerId)>);

/// Kills of this tick, each with where its victim fell, for the kill feed; emptied by
/// the room after each tick.
#[derive(Resource, Default, Debug)]
pub struct KillFeed(pub Vec<super::kill_feed::KillAt>);

/// The snapshot frame built by the last tick. Boxed, as `RoomRng`: bevy reserves
/// room for 64 of each resource, and a frame's header is about 120 bytes.
#[derive(Resource, Default, Debug)]
pub struct LatestSnapshot(pub Option<Box<super::snapshot::SnapshotFrame>>);
