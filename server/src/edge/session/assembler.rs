//! Turns WebSocket frames into whole messages: first screens each frame for what
//! the library leaves unchecked (the client's mask, control frames), then joins
//! fragments, enforces the size limit on the whole message before buffering past
//! it, and checks text is UTF-8.

use fastwebsockets::{CloseCode, Frame, OpCode};

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

/// What a frame needs before assembly. fastwebsockets unmasks a client's frames but
/// never checks that they were masked (RFC 6455 §5.1: a server must close a
/// connection whose client does not mask), and, left to itself, answers pings and
/// closes before we see them. So readers turn those answers off
/// (`reader::configure`) and [`screen`] every frame: unmasked ones fail, pings and
/// closes come back here to be answered.
#[derive(Debug, PartialEq)]
pub enum Control {
    /// A data frame or a pong: hand it to the [`Assembler`].
    Assemble,
    /// A ping: answer with a pong carrying this payload.
    Pong(Vec<u8>),
    /// A valid close: echo this payload, then stop reading.
    Close(Vec<u8>),
    /// The peer broke the protocol: close with this code and reason.
    Fail(u16, &'static str),
}

/// Why a connection whose client does not mask is closed.
pub const UNMASKED: &str = "client frames must be masked";

/// Longest control frame payload (RFC 6455 §5.5). The library checks pings only.
const MAX_CONTROL_PAYLOAD: usize = 125;

/// Check what the library does not: the mask, control frame lengths, and the close
/// frame's code and reason (the checks the library's automatic close reply made).
pub fn screen(frame: &mut Frame<'_>) -> Control {
    if !was_masked(frame) {
        return Control::Fail(close_code::PROTOCOL_ERROR, UNMASKED);
    }
    let control = matches!(frame.opcode, OpCode::Close | OpCode::Ping | OpCode::Pong);
    if control && frame.payload.len() > MAX_CONTROL_PAYLOAD {
        return Control::Fail(close_code::PROTOCOL_ERROR, "control frame too long");
    }
    match frame.opcode {
        OpCode::Ping => Control::Pong(frame.payload.to_vec()),
        OpCode::Close => match &frame.payload[..] {
            [] => Control::Close(Vec::new()),
            [_] => Control::Fail(close_code::PROTOCOL_ERROR, "close frame with a one-byte payload"),
            [high, low, reason @ ..] => {
                if std::str::from_utf8(reason).is_err() {
                    Control::Fail(close_code::INVALID_PAYLOAD, "close reason is not valid UTF-8")
                } else if !CloseCode::from(u16::from_be_bytes([*high, *low])).is_allowed() {
                    Control::Fail(close_code::PROTOCOL_ERROR, "close code not allowed on the wire")
                } else {
                    Control::Close(frame.payload.to_vec())
                }
            }
        },
        _ => Control::Assemble,
    }
}

/// Whether the client masked this frame. The library unmasks a server's incoming
/// payloads in place but keeps the masking key in the frame, where only the header
/// writer shows it: the header it would write has the mask bit set. (The test
/// `the_library_keeps_the_mask_of_a_frame_it_read` guards this on upgrades.)
fn was_masked(frame: &mut Frame<'_>) -> bool {
    // The longest header: 2 bytes, an 8-byte length, a 4-byte key.
    let mut head = [0u8; 14];
    frame.fmt_head(&mut head);
    head[1] & 0x80 != 0
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
    use fastwebsockets::{Payload, Role};
    use tokio::io::AsyncWriteExt;

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

    fn masked(opcode: OpCode, bytes: &[u8]) -> Frame<'static> {
        Frame::new(true, opcode, Some([1, 2, 3, 4]), Payload::Owned(bytes.to_vec()))
    }

    #[test]
    fn unmasked_frames_fail_whatever_they_carry() {
        for opcode in [OpCode::Binary, OpCode::Text, OpCode::Continuation, OpCode::Ping, OpCode::Pong, OpCode::Close] {
            let mut frame = Frame::new(true, opcode, None, Payload::Owned(b"x".to_vec()));
            assert_eq!(screen(&mut frame), Control::Fail(close_code::PROTOCOL_ERROR, UNMASKED), "{opcode:?}");
        }
        assert_eq!(screen(&mut masked(OpCode::Binary, b"x")), Control::Assemble);
        assert_eq!(screen(&mut masked(OpCode::Pong, b"x")), Control::Assemble);
    }

    #[test]
    fn pings_and_closes_are_answered_here_and_bad_closes_fail() {
        assert_eq!(screen(&mut masked(OpCode::Ping, b"hi")), Control::Pong(b"hi".to_vec()));
        assert_eq!(screen(&mut masked(OpCode::Close, b"")), Control::Close(Vec::new()));
        assert_eq!(screen(&mut masked(OpCode::Close, b"\x03\xe8bye")), Control::Close(b"\x03\xe8bye".to_vec()));
        let fails = |bytes: &[u8]| match screen(&mut masked(OpCode::Close, bytes)) {
            Control::Fail(code, _) => code,
            other => panic!("{bytes:?} gave {other:?}"),
        };
        assert_eq!(fails(b"\x03"), close_code::PROTOCOL_ERROR);
        assert_eq!(fails(b"\x03\xed"), close_code::PROTOCOL_ERROR, "1005 is never sent");
        assert_eq!(fails(b"\x03\xe7"), close_code::PROTOCOL_ERROR, "999 is not a close code");
        assert_eq!(fails(b"\x03\xe8\xff"), close_code::INVALID_PAYLOAD);
        assert_eq!(fails(&[3, 232].repeat(63)), close_code::PROTOCOL_ERROR, "126 bytes is too long");
    }

    /// Bytes of one client frame: FIN + `opcode`, a short payload, masked with `key` if any.
    fn raw_frame(opcode: u8, payload: &[u8], key: Option<[u8; 4]>) -> Vec<u8> {
        let mut bytes = vec![0x80 | opcode, payload.len() as u8 | if key.is_some() { 0x80 } else { 0 }];
        match key {
            Some(key) => {
                bytes.extend_from_slice(&key);
                bytes.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
            }
            None => bytes.extend_from_slice(payload),
        }
        bytes
    }

    #[tokio::test]
    async fn the_library_keeps_the_mask_of_a_frame_it_read() {
        let (client, server) = tokio::io::duplex(1024);
        let (read_side, write_side) = tokio::io::split(server);
        let (mut read, _write) = fastwebsockets::after_handshake_split(read_side, write_side, Role::Server);
        let (_, mut client_write) = tokio::io::split(client);
        client_write.write_all(&raw_frame(0x2, b"masked", Some([9, 8, 7, 6]))).await.unwrap();
        client_write.write_all(&raw_frame(0x2, b"plain", None)).await.unwrap();
        let mut nothing_to_send = |_: Frame<'_>| std::future::ready(Ok::<(), &'static str>(()));

        let mut frame = read.read_frame(&mut nothing_to_send).await.unwrap();
        assert_eq!(&frame.payload[..], b"masked", "unmasked in place");
        assert_eq!(screen(&mut frame), Control::Assemble);
        let mut frame = read.read_frame(&mut nothing_to_send).await.unwrap();
        assert_eq!(&frame.payload[..], b"plain");
        assert_eq!(screen(&mut frame), Control::Fail(close_code::PROTOCOL_ERROR, UNMASKED));
    }
}
