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
    /// 1 to [`MAX_CHAT_CHARS`] characters, no control characters, nothing that
    /// [`hidden_char`] finds.
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
        if let Some(c) = hidden_char(text) {
            return Err(InputError::HiddenChat(c));
        }
        Ok(text)
    }
}

/// The first character of `text` that would hide or reorder what others see: a
/// bidirectional control (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C), a
/// zero-width character (U+200B–U+200D, U+2060, U+FEFF), any other invisible format
/// character (Unicode category Cf, listed by hand), a line or paragraph separator, or
/// a filler that draws as nothing (U+034F, the Hangul fillers). Names and chat lines
/// are refused when they hold one.
///
/// One exception: a zero-width joiner between two emoji (`🏳️‍🌈`, `👩🏽‍💻`) is how
/// those are written, and hides nothing, so it is allowed there.
pub fn hidden_char(text: &str) -> Option<char> {
    let mut previous = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let joins_emoji = c == ZERO_WIDTH_JOINER
            && previous.is_some_and(|p| p == EMOJI_PRESENTATION || is_pictograph(p))
            && chars.peek().is_some_and(|&next| is_pictograph(next));
        if is_hidden(c) && !joins_emoji {
            return Some(c);
        }
        previous = Some(c);
    }
    None
}

const ZERO_WIDTH_JOINER: char = '\u{200D}';
/// Variation selector 16: "draw the character before as an emoji" (visible, allowed).
const EMOJI_PRESENTATION: char = '\u{FE0F}';

/// Unicode 15.1's general category Cf, the line and paragraph separators, and the
/// default-ignorable fillers that are letters or marks by category but draw nothing.
fn is_hidden(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

/// Roughly Unicode's Extended_Pictographic: the blocks emoji come from.
fn is_pictograph(c: char) -> bool {
    matches!(
        c,
        '\u{2190}'..='\u{21FF}'
            | '\u{2300}'..='\u{23FF}'
            | '\u{2460}'..='\u{27BF}'
            | '\u{2B00}'..='\u{2BFF}'
            | '\u{1F000}'..='\u{1FAFF}'
    )
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
    #[error("chat text must not contain invisible or direction-changing characters (found U+{:04X})", u32::from(*.0))]
    HiddenChat(char),
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

    fn chat(text: &str) -> Result<String, InputError> {
        ChatText { text: text.to_string() }.validated().map(str::to_string)
    }

    #[test]
    fn chat_refuses_bidi_controls_and_zero_width_characters() {
        assert_eq!(chat("  gg wp  ").unwrap(), "gg wp");
        assert_eq!(chat("مرحبا שלום").unwrap(), "مرحبا שלום", "right-to-left scripts themselves are fine");
        for hidden in ['\u{202E}', '\u{2066}', '\u{200E}', '\u{061C}', '\u{200B}', '\u{2060}', '\u{FEFF}', '\u{00AD}'] {
            assert_eq!(
                chat(&format!("a{hidden}b")),
                Err(InputError::HiddenChat(hidden)),
                "U+{:04X}",
                u32::from(hidden)
            );
        }
        assert_eq!(chat("a\u{3164}"), Err(InputError::HiddenChat('\u{3164}')));
        assert_eq!(chat("a\u{E0041}"), Err(InputError::HiddenChat('\u{E0041}')));
        let message = InputError::HiddenChat('\u{200B}').to_string();
        assert!(message.contains("U+200B"), "{message}");
    }

    #[test]
    fn a_zero_width_joiner_is_allowed_only_inside_an_emoji() {
        for emoji in ["🏳️‍🌈", "👩🏽‍💻", "❤️‍🔥", "👨‍⚕️", "🧑‍🤝‍🧑"] {
            assert_eq!(hidden_char(emoji), None, "{emoji:?}");
        }
        assert_eq!(hidden_char("a\u{200D}b"), Some('\u{200D}'));
        assert_eq!(hidden_char("🌈\u{200D}"), Some('\u{200D}'));
        assert_eq!(hidden_char("\u{200D}🌈"), Some('\u{200D}'));
        assert_eq!(hidden_char("🌈\u{200D}\u{200D}🌈"), Some('\u{200D}'));
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
