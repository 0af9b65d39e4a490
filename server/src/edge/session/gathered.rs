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

/// Write `frames` (whole frames, as [`push_frame`] makes them), then `last` as a
/// binary frame written from where it lies, in one vectored write when the socket
/// takes it all (continued where it stopped otherwise), then flush.
pub async fn write(socket: &mut Side, frames: &[u8], last: Option<&[u8]>) -> io::Result<()> {
    let mut head = [0u8; HEAD_MAX];
    let (head_len, last) = match last {
        Some(payload) => (Frame::binary(Payload::Borrowed(payload)).fmt_head(&mut head), payload),
        None => (0, &[][..]),
    };
    let mut slices = [IoSlice::new(frames), IoSlice::new(&head[..head_len]), IoSlice::new(last)];
    let mut rest = &mut slices[..];
    // Drops leading empty slices (no control messages: the snapshot's two remain).
    IoSlice::advance_slices(&mut rest, 0);
    while !rest.is_empty() {
        let written = socket.write_vectored(rest).await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut rest, written);
    }
    socket.flush().await
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
