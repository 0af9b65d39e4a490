//! A session's message handling: the fuzz input is read as a sequence of WebSocket
//! frames (opcode, fin bit, payload) fed to the same assembler and checks the game
//! endpoint uses. Never a panic; a refusal always carries a code the protocol documents.
#![no_main]

use arena_server::edge::session::assembler::{Assembler, Message, Step};
use arena_server::edge::session::reader::check_message;
use fastwebsockets::{Frame, OpCode, Payload};
use libfuzzer_sys::fuzz_target;

const CODES: [u16; 5] = [1002, 1003, 1007, 1008, 1009];

fuzz_target!(|data: &[u8]| {
    let mut assembler = Assembler::new(4096);
    let mut rest = data;
    while rest.len() >= 2 {
        let (head, tail) = rest.split_at(2);
        let opcode = match head[0] & 0x0f {
            0 => OpCode::Continuation,
            1 => OpCode::Text,
            2 => OpCode::Binary,
            8 => OpCode::Close,
            9 => OpCode::Ping,
            _ => OpCode::Pong,
        };
        let fin = head[0] & 0x80 != 0;
        let len = usize::from(head[1]).min(tail.len());
        let (payload, after) = tail.split_at(len);
        rest = after;
        match assembler.push(Frame::new(fin, opcode, None, Payload::Owned(payload.to_vec()))) {
            Step::Message(Message::Binary(bytes)) => {
                if let Err((code, reason)) = check_message(&bytes) {
                    assert!(CODES.contains(&code), "undocumented close code {code}");
                    assert!(!reason.is_empty());
                }
            }
            Step::Fail(code, _) => {
                assert!(CODES.contains(&code), "undocumented close code {code}");
                return;
            }
            Step::Close => return,
            Step::Message(Message::Text(_)) | Step::Pending => {}
        }
    }
});
