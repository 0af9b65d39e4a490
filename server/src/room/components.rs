//! ECS components of a room's world.

use arena_protocol::{PlayerId, Tick};
use bevy_ecs::prelude::*;
use glam::Vec2;

/// A connected player's entity.
#[derive(Component, Debug)]
pub struct Player {
    pub id: PlayerId,
}

/// The id clients know this entity by; never the ECS `Entity`.
#[derive(Component, Clone, Copy, Debug)]
pub struct Net(pub arena_protocol::NetId);

/// Position and velocity in world units.
#[derive(Component, Clone, Copy, Debug, Default)]
pub struct Body {
    pub pos: Vec2,
    pub vel: Vec2,
}

/// The controls applied this tick (from the player's input buffer).
#[derive(Component, Clone, Copy, Debug, Default)]
pub struct Controls {
    /// Clamped to length 1 when applied.
    pub move_dir: Vec2,
    pub aim: f32,
    pub fire: bool,
    /// `seq` of the newest input applied, echoed in this player's snapshots.
    pub last_seq: u32,
    /// The tick the client was showing when it made that input (0: unknown).
    pub view_tick: Tick,
}

#[derive(Component, Clone, Copy, Debug)]
pub struct Health(pub u16);

#[derive(Component, Clone, Copy, Debug, Default)]
pub struct Score {
    pub kills: u32,
    pub deaths: u32,
}

/// When the player may fire again.
#[derive(Component, Clone, Copy, Debug, Default)]
pub struct Weapon {
    pub ready_at: Tick,
}

/// Present while a player waits to respawn.
#[derive(Component, Clone, Copy, Debug)]
pub struct Dead {
    pub respawn_at: Tick,
}

/// A flying shot.
#[derive(Component, Clone, Copy, Debug)]
pub struct Projectile {
    pub owner: PlayerId,
    /// Where it was at the start of this tick: hits are tested along the whole
    /// segment so a fast shot cannot pass through a player between two ticks.
    pub from: Vec2,
    pub expires_at: Tick,
    /// Ticks back to test hits at: the world its shooter saw (lag compensation).
    pub rewind: u32,
}
