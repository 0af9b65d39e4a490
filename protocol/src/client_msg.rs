//! Messages a client sends to the server.

use glam::Vec2;
use serde::{Deserialize, Serialize};

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

/// A player's controls. Sent at the tick rate; the server applies the newest one
/// it has each tick and reports its `seq` back in every snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Input {
    /// Increases by one per input; lets the client reconcile its prediction.
    pub seq: u32,
    /// Desired direction; the server clamps its length to 1.
    pub move_dir: Vec2,
    /// Aim angle in radians, counter-clockwise from +x, in [-2π, 2π].
    pub aim: f32,
    /// Whether the fire button is held (the server applies the weapon cooldown).
    pub fire: bool,
}

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
    #[error("chat text must be 1-{MAX_CHAT_CHARS} characters without control characters")]
    BadChat,
}

impl Input {
    /// Range-check the fields an untrusted client controls.
    pub fn validate(&self) -> Result<(), InputError> {
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
        Input { seq: 1, move_dir, aim, fire: false }
    }

    #[test]
    fn validate_refuses_non_finite_and_oversized_values() {
        assert!(input(Vec2::new(1.0, 0.0), 0.5).validate().is_ok());
        assert_eq!(input(Vec2::new(f32::NAN, 0.0), 0.0).validate(), Err(InputError::BadMove));
        assert_eq!(input(Vec2::new(3.0, 0.0), 0.0).validate(), Err(InputError::BadMove));
        assert_eq!(input(Vec2::ZERO, f32::INFINITY).validate(), Err(InputError::BadAim));
        assert_eq!(input(Vec2::ZERO, 7.0).validate(), Err(InputError::BadAim));
    }
}
