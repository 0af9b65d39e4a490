//! A typed Arena connection: send client messages, receive server messages or the close.

use std::time::Duration;

use arena_protocol::snapshot::peek_snapshot_header;
use arena_protocol::{ClientMsg, CodecError, ServerMsg, SnapshotKind, Tick, decode_server, encode};
use fastwebsockets::{Frame, OpCode, Payload, WebSocketError};

use crate::connect::{ConnectError, Socket, connect};

/// What arrived from the server.
#[derive(Debug)]
pub enum Incoming {
    /// A decoded message and its size on the wire.
    Message(ServerMsg, usize),
    /// A snapshot read only as far as its header ([`ArenaClient::recv_headers_only`]).
    SnapshotHeader { kind: SnapshotKind, tick: Tick, last_input_seq: u32, len: usize },
    /// The server closed with this code and reason.
    Closed { code: u16, reason: String },
    /// A WebSocket-level pong (answer to a ping frame) with its payload.
    WsPong(Vec<u8>),
    /// A WebSocket-level ping (seen only when automatic pongs are off).
    WsPing(Vec<u8>),
}

/// Why receiving failed.
#[derive(Debug, thiserror::Error)]
pub enum RecvError {
    #[error("websocket: {0}")]
    Socket(#[from] WebSocketError),
    #[error("undecodable server message: {0}")]
    Decode(#[from] CodecError),
    #[error("unexpected {0:?} frame")]
    UnexpectedFrame(OpCode),
    #[error("nothing received for {0:?}")]
    Timeout(Duration),
}

/// One connection to an Arena server.
pub struct ArenaClient {
    ws: Socket,
    /// Snapshots are read only as far as their header, not decoded.
    headers_only: bool,
}

impl ArenaClient {
    /// Connect to a `/ws` URL (with its query) and finish the handshake.
    pub async fn connect(url: &str) -> Result<ArenaClient, ConnectError> {
        let mut ws = connect(url).await?;
        // Pongs and close replies go out from inside read_frame.
        ws.set_auto_pong(true);
        ws.set_auto_close(true);
        Ok(ArenaClient { ws, headers_only: false })
    }

    /// Connect with options: extra headers, and whether to answer pings (a bot
    /// that does not tests the server's heartbeat).
    pub async fn connect_with(
        url: &str,
        headers: &[(&str, &str)],
        answer_pings: bool,
    ) -> Result<ArenaClient, ConnectError> {
        let mut ws = crate::connect::connect_with_headers(url, headers).await?;
        ws.set_auto_pong(answer_pings);
        ws.set_auto_close(true);
        Ok(ArenaClient { ws, headers_only: false })
    }

    /// From now on, read snapshots only as far as `tick` and `last_input_seq`: a
    /// bot that does not look at the game state costs its machine far less.
    pub fn recv_headers_only(&mut self) {
        self.headers_only = true;
    }

    /// Send one message; returns its size on the wire.
    pub async fn send(&mut self, msg: &ClientMsg) -> Result<usize, WebSocketError> {
        let bytes = encode(msg);
        let len = bytes.len();
        self.ws.write_frame(Frame::binary(Payload::Owned(bytes))).await?;
        Ok(len)
    }

    /// Send any frame as it is (tests use it to misbehave).
    pub async fn send_frame(&mut self, frame: Frame<'_>) -> Result<(), WebSocketError> {
        self.ws.write_frame(frame).await
    }

    /// Receive the next message or the close. Not cancellation-safe: do not
    /// race it in a select; on a timeout the connection must be dropped.
    pub async fn recv(&mut self, timeout: Duration) -> Result<Incoming, RecvError> {
        let frame =
            tokio::time::timeout(timeout, self.ws.read_frame()).await.map_err(|_| RecvError::Timeout(timeout))??;
        match frame.opcode {
            OpCode::Binary => {
                let len = frame.payload.len();
                if self.headers_only
                    && let Some((kind, tick, last_input_seq)) = peek_snapshot_header(&frame.payload)
                {
                    return Ok(Incoming::SnapshotHeader { kind, tick, last_input_seq, len });
                }
                Ok(Incoming::Message(decode_server(&frame.payload)?, len))
            }
            OpCode::Close => {
                let payload = &frame.payload[..];
                let code = if payload.len() >= 2 { u16::from_be_bytes([payload[0], payload[1]]) } else { 1005 };
                let reason = String::from_utf8_lossy(payload.get(2..).unwrap_or_default()).into_owned();
                Ok(Incoming::Closed { code, reason })
            }
            OpCode::Pong => Ok(Incoming::WsPong(frame.payload.to_vec())),
            OpCode::Ping => Ok(Incoming::WsPing(frame.payload.to_vec())),
            other => Err(RecvError::UnexpectedFrame(other)),
        }
    }

    /// Receive until a message matches `want`, skipping others (snapshots, say).
    pub async fn recv_until<T>(
        &mut self,
        timeout: Duration,
        mut want: impl FnMut(&ServerMsg) -> Option<T>,
    ) -> Result<T, RecvError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.recv(left).await? {
                Incoming::Message(msg, _) => {
                    if let Some(found) = want(&msg) {
                        return Ok(found);
                    }
                }
                Incoming::WsPong(_) | Incoming::WsPing(_) | Incoming::SnapshotHeader { .. } => {}
                Incoming::Closed { code, reason } => {
                    return Err(RecvError::Socket(WebSocketError::IoError(std::io::Error::other(format!(
                        "closed with {code}: {reason}"
                    )))));
                }
            }
        }
    }

    /// Receive until the server closes; returns its code and reason.
    pub async fn recv_close(&mut self, timeout: Duration) -> Result<(u16, String), RecvError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if let Incoming::Closed { code, reason } = self.recv(left).await? {
                return Ok((code, reason));
            }
        }
    }

    /// Start a clean close.
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<(), WebSocketError> {
        self.ws.write_frame(Frame::close(code, reason.as_bytes())).await
    }
}
