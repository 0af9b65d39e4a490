//! Turns WebSocket frames into whole messages: joins fragments, enforces the size
//! limit on the whole message before buffering past it, and checks text is UTF-8.

use fastwebsockets::{Frame, OpCode};

use arena_protocol::close_code;

/// A whole message.
#[derive(Debug, PartialEq)]
pub enum Message {
    Binary(Vec<u8>),
    Text(String),
}

/// What one frame amounted to.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// A message is complete.
    Message(Message),
    /// A fragment was stored, or a control frame needs nothing more from us.
    Pending,
    /// The peer sent a close frame.
    Close,
    /// The peer broke the protocol: close with this code and reason.
    Fail(u16, &'static str),
}

/// Collects one message at a time, at most `max_bytes` long.
pub struct Assembler {
    max_bytes: usize,
    partial: Option<(OpCode, Vec<u8>)>,
}

impl Assembler {
    pub fn new(max_bytes: usize) -> Assembler {
        Assembler { max_bytes, partial: None }
    }

    pub fn push(&mut self, frame: Frame<'_>) -> Step {
        match (frame.opcode, self.partial.as_mut()) {
            (OpCode::Close, _) => Step::Close,
            (OpCode::Ping | OpCode::Pong, _) => Step::Pending,
            (OpCode::Text | OpCode::Binary, Some(_)) => {
                Step::Fail(close_code::PROTOCOL_ERROR, "new message inside a fragmented one")
            }
            (OpCode::Continuation, None) => {
                Step::Fail(close_code::PROTOCOL_ERROR, "continuation frame without a message to continue")
            }
            (opcode @ (OpCode::Text | OpCode::Binary), None) => {
                if frame.payload.len() > self.max_bytes {
                    return Step::Fail(close_code::MESSAGE_TOO_BIG, "message too big");
                }
                if frame.fin {
                    return finish(opcode, frame.payload.to_vec());
                }
                self.partial = Some((opcode, frame.payload.to_vec()));
                Step::Pending
            }
            (OpCode::Continuation, Some((_, buffer))) => {
                if buffer.len() + frame.payload.len() > self.max_bytes {
                    self.partial = None;
                    return Step::Fail(close_code::MESSAGE_TOO_BIG, "message too big");
                }
                buffer.extend_from_slice(&frame.payload);
                if !frame.fin {
                    return Step::Pending;
                }
                let (opcode, bytes) = self.partial.take().expect("matched Some above");
                finish(opcode, bytes)
            }
        }
    }
}

fn finish(opcode: OpCode, bytes: Vec<u8>) -> Step {
    match opcode {
        OpCode::Text => match String::from_utf8(bytes) {
            Ok(text) => Step::Message(Message::Text(text)),
            Err(_) => Step::Fail(close_code::INVALID_PAYLOAD, "text message is not valid UTF-8"),
        },
        _ => Step::Message(Message::Binary(bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastwebsockets::Payload;

    fn frame(fin: bool, opcode: OpCode, bytes: &[u8]) -> Frame<'static> {
        Frame::new(fin, opcode, None, Payload::Owned(bytes.to_vec()))
    }

    #[test]
    fn fragments_join_and_control_frames_pass_between_them() {
        let mut a = Assembler::new(16);
        assert_eq!(a.push(frame(false, OpCode::Binary, b"ab")), Step::Pending);
        assert_eq!(a.push(frame(true, OpCode::Ping, b"")), Step::Pending);
        assert_eq!(a.push(frame(true, OpCode::Continuation, b"cd")), Step::Message(Message::Binary(b"abcd".to_vec())));
        assert_eq!(a.push(frame(true, OpCode::Text, "é".as_bytes())), Step::Message(Message::Text("é".into())));
    }

    #[test]
    fn the_limit_counts_the_whole_message() {
        let mut a = Assembler::new(8);
        assert_eq!(a.push(frame(false, OpCode::Binary, &[0; 5])), Step::Pending);
        assert_eq!(
            a.push(frame(true, OpCode::Continuation, &[0; 5])),
            Step::Fail(close_code::MESSAGE_TOO_BIG, "message too big")
        );
        assert!(matches!(a.push(frame(true, OpCode::Binary, &[0; 9])), Step::Fail(close_code::MESSAGE_TOO_BIG, _)));
    }

    #[test]
    fn broken_sequences_and_bad_text_fail() {
        let mut a = Assembler::new(64);
        assert!(matches!(a.push(frame(true, OpCode::Continuation, b"x")), Step::Fail(close_code::PROTOCOL_ERROR, _)));
        assert_eq!(a.push(frame(false, OpCode::Text, &[0xce])), Step::Pending);
        assert!(matches!(a.push(frame(true, OpCode::Binary, b"x")), Step::Fail(close_code::PROTOCOL_ERROR, _)));
        let mut b = Assembler::new(64);
        assert_eq!(b.push(frame(false, OpCode::Text, &[0xce])), Step::Pending);
        assert!(matches!(
            b.push(frame(true, OpCode::Continuation, &[0xff])),
            Step::Fail(close_code::INVALID_PAYLOAD, _)
        ));
    }
}
