//! One write for what a room session's writer finds waiting when it wakes: the
//! queued control messages (kill feed, chat, round events, errors) and the newest
//! snapshot go out as consecutive WebSocket frames in one vectored write.
//!
//! Why: each frame used to be a write (a syscall) of its own, so one kill in a room
//! of 50 cost 50 extra writes that tick, and kernel TCP sends dominate the server's
//! CPU in crowded rooms (BENCHMARKS.md). Control messages are small: they are copied,
//! with their frame heads, into one buffer; the snapshot is written from its own.

use std::io::{self, IoSlice};

use fastwebsockets::{Frame, Payload};
use tokio::io::AsyncWriteExt;

use super::shared_io::Side;

/// Control messages gathered for one write stop past this many bytes; the rest go
/// in the next write, straight after. So a backlog (up to the control queue's bound)
/// is never copied whole: a gathering holds at most this plus one message.
pub const GATHER_LIMIT: usize = 64 * 1024;

/// Longest head of a server frame: 2 bytes and an 8-byte length (never masked).
const HEAD_MAX: usize = 10;

/// Append `payload` to `frames` as one binary frame, head and payload.
pub fn push_frame(frames: &mut Vec<u8>, payload: &[u8]) {
    let mut head = [0u8; HEAD_MAX];
    let head_len = Frame::binary(Payload::Borrowed(payload)).fmt_head(&mut head);
    frames.extend_from_slice(&head[..head_len]);
    frames.extend_from_slice(payload);
}

/// `frames` (whole frames, as [`push_frame`] makes them), then one binary frame whose
/// payload is written from where it lies: one vectored write when the socket takes
/// it all, continued where it stopped otherwise (see [`Gathered::write_some`]).
pub struct Gathered<'a> {
    frames: &'a [u8],
    head: [u8; HEAD_MAX],
    head_len: usize,
    last: &'a [u8],
    /// Bytes the socket has taken so far.
    written: usize,
}

impl<'a> Gathered<'a> {
    pub fn new(frames: &'a [u8], last: Option<&'a [u8]>) -> Gathered<'a> {
        let mut head = [0u8; HEAD_MAX];
        let (head_len, last) = match last {
            Some(payload) => (Frame::binary(Payload::Borrowed(payload)).fmt_head(&mut head), payload),
            None => (0, &[][..]),
        };
        Gathered { frames, head, head_len, last, written: 0 }
    }

    pub fn is_written(&self) -> bool {
        self.written == self.frames.len() + self.head_len + self.last.len()
    }

    /// One vectored write of what is left; the socket may take only part of it.
    /// One step at a time, so the caller's slow-client limit runs from the last
    /// byte taken (progress), not from the first write of a long gathering.
    pub async fn write_some(&mut self, socket: &mut Side) -> io::Result<()> {
        let mut slices =
            [IoSlice::new(self.frames), IoSlice::new(&self.head[..self.head_len]), IoSlice::new(self.last)];
        let mut rest = &mut slices[..];
        // Also drops empty slices (no control messages: the snapshot's two remain).
        IoSlice::advance_slices(&mut rest, self.written);
        let written = socket.write_vectored(rest).await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        self.written += written;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_heads_carry_each_length_form() {
        for (len, head) in
            [(5, vec![0x82, 5]), (300, vec![0x82, 126, 1, 44]), (70_000, vec![0x82, 127, 0, 0, 0, 0, 0, 1, 17, 112])]
        {
            let payload = vec![7u8; len];
            let mut frames = Vec::new();
            push_frame(&mut frames, &payload);
            assert_eq!(&frames[..head.len()], &head[..], "{len}");
            assert_eq!(&frames[head.len()..], &payload[..], "{len}");
        }
    }
}
