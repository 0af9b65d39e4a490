//! Input phase: each player's next buffered input becomes its controls.

use std::collections::VecDeque;

use arena_protocol::{Input, Tick};
use bevy_ecs::prelude::*;

use super::components::Controls;
use super::resources::{PendingInputs, PlayerIndex};

/// Inputs received for ticks not simulated yet, oldest first. One is applied per
/// tick, so an input that carries the ones before it (sent at half the tick rate,
/// say) loses none of them; with nothing new the last controls hold.
#[derive(Component, Debug, Default)]
pub struct InputBuffer {
    pending: VecDeque<Buffered>,
    /// The newest `seq` received (0 before any).
    newest_seq: u32,
}

#[derive(Clone, Copy, Debug)]
struct Buffered {
    seq: u32,
    controls: arena_protocol::Controls,
    view_tick: Tick,
}

/// A client ahead of the tick never has more than this many ticks of input waiting
/// (a little jitter), unless its inputs come in bundles.
const MIN_DEPTH: usize = 2;

impl InputBuffer {
    /// Take the inputs of a message that are newer than any received.
    pub fn receive(&mut self, input: &Input) {
        let carried = 1 + input.earlier.len();
        // Oldest first: `earlier` is newest first and holds `seq - 1`, `seq - 2`, ….
        for back in (0..carried).rev() {
            // Near the start (and across the 2^32 wrap) earlier inputs without a seq are skipped.
            let Some(seq) = input.seq.checked_sub(back as u32).filter(|&s| s > 0) else { continue };
            let newer = self.newest_seq == 0 || (seq.wrapping_sub(self.newest_seq) as i32) > 0;
            if !newer {
                continue;
            }
            let controls = if back == 0 { input.controls() } else { input.earlier[back - 1] };
            self.pending.push_back(Buffered { seq, controls, view_tick: input.view_tick });
            self.newest_seq = seq;
        }
        // The buffer may hold as many inputs as the newest message carried. Too far
        // ahead: skip the oldest, but a shot in it is not lost.
        let depth = carried.max(MIN_DEPTH);
        while self.pending.len() > depth {
            let skipped = self.pending.pop_front().expect("longer than depth");
            if let Some(next) = self.pending.front_mut() {
                next.controls.fire |= skipped.controls.fire;
            }
        }
    }

    /// A new connection numbers its inputs from 1 again.
    pub fn reset(&mut self) {
        *self = InputBuffer::default();
    }

    fn next(&mut self) -> Option<Buffered> {
        self.pending.pop_front()
    }
}

/// Inputs arrive already validated by the session. Each player's buffer takes
/// what is new in them; then each player's oldest buffered input is applied.
pub fn apply_inputs(
    mut pending: ResMut<PendingInputs>,
    index: Res<PlayerIndex>,
    mut players: Query<(&mut Controls, &mut InputBuffer)>,
) {
    for (player, input) in pending.0.drain(..) {
        let Some(&entity) = index.0.get(&player) else { continue };
        if let Ok((_, mut buffer)) = players.get_mut(entity) {
            buffer.receive(&input);
        }
    }
    for (mut controls, mut buffer) in &mut players {
        let Some(next) = buffer.next() else { continue };
        controls.move_dir = next.controls.move_dir.clamp_length_max(1.0);
        controls.aim = next.controls.aim;
        controls.fire = next.controls.fire;
        controls.last_seq = next.seq;
        controls.view_tick = next.view_tick;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glam::Vec2;

    fn seqs(buffer: &InputBuffer) -> Vec<u32> {
        buffer.pending.iter().map(|b| b.seq).collect()
    }

    #[test]
    fn bundled_inputs_are_each_applied_once_in_order() {
        let mut buffer = InputBuffer::default();
        let fire_then_not = Input {
            earlier: vec![arena_protocol::Controls { move_dir: Vec2::X, aim: 0.0, fire: true }],
            ..Input::new(2, Vec2::Y, 0.0, false)
        };
        buffer.receive(&fire_then_not);
        assert_eq!(seqs(&buffer), vec![1, 2]);
        // The same bundle again (a resend) adds nothing.
        buffer.receive(&fire_then_not);
        assert_eq!(seqs(&buffer), vec![1, 2]);
        let first = buffer.next().unwrap();
        assert!(first.controls.fire && first.controls.move_dir == Vec2::X);
        buffer.receive(&Input { earlier: vec![Default::default()], ..Input::new(4, Vec2::ZERO, 0.0, false) });
        assert_eq!(seqs(&buffer), vec![3, 4], "bounded to the bundle size");
    }

    #[test]
    fn a_client_running_ahead_skips_old_inputs_but_keeps_their_shots() {
        let mut buffer = InputBuffer::default();
        buffer.receive(&Input::new(1, Vec2::ZERO, 0.0, true));
        buffer.receive(&Input::new(2, Vec2::ZERO, 0.0, false));
        buffer.receive(&Input::new(3, Vec2::ZERO, 0.0, false));
        assert_eq!(seqs(&buffer), vec![2, 3]);
        assert!(buffer.next().unwrap().controls.fire, "the skipped shot moved to the next input");
    }
}
