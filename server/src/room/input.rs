//! Input phase: apply each player's newest controls.

use bevy_ecs::prelude::*;

use super::components::Controls;
use super::resources::{PendingInputs, PlayerIndex};

/// Inputs arrive already validated by the session; here the newest one per player
/// wins. Stale or duplicated inputs (an older `seq`) are ignored.
pub fn apply_inputs(mut pending: ResMut<PendingInputs>, index: Res<PlayerIndex>, mut controls: Query<&mut Controls>) {
    for (player, input) in pending.0.drain(..) {
        let Some(&entity) = index.0.get(&player) else { continue };
        let Ok(mut c) = controls.get_mut(entity) else { continue };
        // Wrapping comparison: seq may roll over after 2^32 inputs.
        let newer = (input.seq.wrapping_sub(c.last_seq) as i32) > 0 || c.last_seq == 0;
        if !newer {
            continue;
        }
        c.move_dir = input.move_dir.clamp_length_max(1.0);
        c.aim = input.aim;
        c.fire = input.fire;
        c.last_seq = input.seq;
    }
}
