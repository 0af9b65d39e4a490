//! Messages a client sends to the server.

use glam::Vec2;
use serde::{Deserialize, Serialize};

use crate::Tick;

/// Everything a client may send. Encoded as `{"<variant>": [fields…]}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientMsg {
    /// The player's controls for one tick.
    Input(Input),
    /// Round-trip time probe; answered at once with [`crate::ServerMsg::Pong`].
    Ping(Ping),
    /// A line of in-room chat.
    Chat(ChatText),
}

/// Chat text from a client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatText {
    /// 1 to [`MAX_CHAT_CHARS`] characters, no control characters.
    pub text: String,
}

/// Longest chat line, in characters.
pub const MAX_CHAT_CHARS: usize = 200;

impl ChatText {
    /// The text trimmed, or why it is refused.
    pub fn validated(&self) -> Result<&str, InputError> {
        let text = self.text.trim();
        if text.is_empty() || text.chars().count() > MAX_CHAT_CHARS || text.chars().any(char::is_control) {
            return Err(InputError::BadChat);
        }
        Ok(text)
    }
}

/// A player's controls for one tick. The server applies one input per tick in
/// `seq` order (a small buffer absorbs jitter) and reports the applied `seq` back
/// in every snapshot. The last three fields were added after the first four and
/// may be left off: a 4-element input is still valid.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Input {
    /// Increases by one per input; lets the client reconcile its prediction.
    pub seq: u32,
    /// Desired direction; the server clamps its length to 1.
    pub move_dir: Vec2,
    /// Aim angle in radians, counter-clockwise from +x, in [-2π, 2π].
    pub aim: f32,
    /// Whether the fire button is held (the server applies the weapon cooldown).
    pub fire: bool,
    /// Tick of the newest snapshot the client has decoded: the server sends the next
    /// snapshots as deltas against it. `Tick(0)`: send whole snapshots.
    #[serde(default)]
    pub ack_tick: Tick,
    /// Tick of the world the client was showing when this input was made (its
    /// interpolation point): the server resolves this input's shots against where
    /// players were then (lag compensation, bounded). `Tick(0)`: now.
    #[serde(default)]
    pub view_tick: Tick,
    /// The controls of inputs `seq - 1`, `seq - 2`, … (newest first, at most
    /// [`MAX_EARLIER_INPUTS`]), so inputs can be sent less often than once a tick
    /// (or be lost) without losing a tick's controls.
    #[serde(default)]
    pub earlier: Vec<Controls>,
}

/// One tick's controls, as carried for earlier ticks in [`Input::earlier`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Controls {
    pub move_dir: Vec2,
    pub aim: f32,
    pub fire: bool,
}

/// Most earlier inputs one input may carry.
pub const MAX_EARLIER_INPUTS: usize = 3;

/// Largest |aim| the server accepts: one full turn either way.
pub const MAX_AIM_RADIANS: f32 = std::f32::consts::TAU;

/// Largest move vector length accepted before clamping; anything longer is a
/// broken or hostile client, not a rounding error.
pub const MAX_MOVE_LENGTH: f32 = 2.0;

/// Why an [`Input`] was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("move_dir is not finite or longer than {MAX_MOVE_LENGTH}")]
    BadMove,
    #[error("aim is not finite or outside ±2π")]
    BadAim,
    #[error("more than {MAX_EARLIER_INPUTS} earlier inputs")]
    TooManyEarlier,
    #[error("chat text must be 1-{MAX_CHAT_CHARS} characters without control characters")]
    BadChat,
}

impl Input {
    /// A plain input: controls for tick `seq`, no ack, no earlier inputs.
    pub fn new(seq: u32, move_dir: Vec2, aim: f32, fire: bool) -> Input {
        Input { seq, move_dir, aim, fire, ..Input::default() }
    }

    /// This input's own controls.
    pub fn controls(&self) -> Controls {
        Controls { move_dir: self.move_dir, aim: self.aim, fire: self.fire }
    }

    /// Range-check the fields an untrusted client controls.
    pub fn validate(&self) -> Result<(), InputError> {
        if self.earlier.len() > MAX_EARLIER_INPUTS {
            return Err(InputError::TooManyEarlier);
        }
        std::iter::once(&self.controls()).chain(&self.earlier).try_for_each(Controls::validate)
    }
}

impl Controls {
    fn validate(&self) -> Result<(), InputError> {
        if !self.move_dir.is_finite() || self.move_dir.length() > MAX_MOVE_LENGTH {
            return Err(InputError::BadMove);
        }
        if !self.aim.is_finite() || self.aim.abs() > MAX_AIM_RADIANS {
            return Err(InputError::BadAim);
        }
        Ok(())
    }
}

/// RTT probe. The client's clock value comes back untouched in the pong.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ping {
    /// Client's own clock in milliseconds (any origin); a float so JavaScript's
    /// `performance.now()` fits without conversion.
    pub client_time_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(move_dir: Vec2, aim: f32) -> Input {
        Input::new(1, move_dir, aim, false)
    }

    #[test]
    fn validate_refuses_non_finite_and_oversized_values() {
        assert!(input(Vec2::new(1.0, 0.0), 0.5).validate().is_ok());
        assert_eq!(input(Vec2::new(f32::NAN, 0.0), 0.0).validate(), Err(InputError::BadMove));
        assert_eq!(input(Vec2::new(3.0, 0.0), 0.0).validate(), Err(InputError::BadMove));
        assert_eq!(input(Vec2::ZERO, f32::INFINITY).validate(), Err(InputError::BadAim));
        assert_eq!(input(Vec2::ZERO, 7.0).validate(), Err(InputError::BadAim));
        let bad_earlier = Controls { move_dir: Vec2::new(0.0, f32::NAN), ..Controls::default() };
        let carrying = Input { earlier: vec![Controls::default(), bad_earlier], ..input(Vec2::X, 0.0) };
        assert_eq!(carrying.validate(), Err(InputError::BadMove));
        let too_many = Input { earlier: vec![Controls::default(); MAX_EARLIER_INPUTS + 1], ..input(Vec2::X, 0.0) };
        assert_eq!(too_many.validate(), Err(InputError::TooManyEarlier));
    }

    #[test]
    fn a_four_element_input_still_decodes() {
        // `{"input": [9, [1.0, 0.0], 0.5, false]}` as the first clients wrote it.
        let bytes = [
            &[0x81, 0xa5][..],
            b"input",
            &[0x94, 0x09, 0x92, 0xca],
            &1.0f32.to_be_bytes(),
            &[0xca],
            &0.0f32.to_be_bytes(),
            &[0xca],
            &0.5f32.to_be_bytes(),
            &[0xc2],
        ]
        .concat();
        assert_eq!(crate::decode_client(&bytes).unwrap(), ClientMsg::Input(Input::new(9, Vec2::X, 0.5, false)));
    }
}
