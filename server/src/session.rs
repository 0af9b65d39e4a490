//! One WebSocket connection: a reader that decodes and forwards client messages
//! to the room, and a writer that sends the room's messages and snapshots.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arena_protocol::{ClientMsg, MAX_CLIENT_MESSAGE_BYTES, Pong, ServerMsg, close_code, decode_client, encode};
use bytes::Bytes;
use fastwebsockets::{Frame, OpCode, Payload, WebSocketError, WebSocketRead, WebSocketWrite};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{ReadHalf, WriteHalf};
use tokio::sync::{mpsc, watch};

use crate::join::JoinQuery;
use crate::room::{CLIENT_CONTROL_QUEUE, ClientOutbox, Feed, JoinRequest, RoomInput};
use crate::rooms::{JoinError, Rooms, Seat};

type Io = TokioIo<Upgraded>;

/// Frames the reader hands to the writer (pongs, close replies). Small: the
/// reader waits when it is full, which slows a client that floods pings.
const DIRECT_QUEUE: usize = 16;

/// How long the writer waits for the peer's close reply before dropping TCP.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// What the reader asks the writer to send.
enum Direct {
    /// A frame the WebSocket protocol obliges us to send (pong, close echo).
    Frame(OpCode, Vec<u8>),
    /// An application message (pong to our own ping message).
    Message(Bytes),
    /// Close with this code and reason, then stop.
    Close { code: u16, reason: String },
}

/// Why a connection ended, for the one log line it gets.
#[derive(Debug)]
pub enum SessionEnd {
    /// The client closed or went away.
    Normal,
    /// We closed it for a reason the client caused or the room decided.
    Closed { code: u16, reason: String },
    /// Socket error.
    Io(String),
}

/// Serve one upgraded connection until it ends.
pub async fn serve(upgrade: fastwebsockets::upgrade::UpgradeFut, query: JoinQuery, rooms: Arc<Rooms>, peer: SocketAddr, slow_client_timeout: Duration) {
    let ws = match upgrade.await {
        Ok(ws) => ws,
        Err(e) => {
            tracing::debug!(%peer, error = %e, "upgrade failed");
            return;
        }
    };
    let (read, mut write) = ws.split(tokio::io::split);

    let join = match query.validate() {
        Ok(join) => join,
        Err((code, reason)) => {
            tracing::debug!(%peer, code, %reason, "join refused");
            close_now(&mut write, code, &reason).await;
            return;
        }
    };
    let seat = match rooms.take_seat(join.room.as_deref()) {
        Ok(seat) => seat,
        Err(e) => {
            let code = match e {
                JoinError::RoomFull(_) => close_code::ROOM_FULL,
                JoinError::ShuttingDown => close_code::GOING_AWAY,
                JoinError::Spawn(_) => close_code::INTERNAL_ERROR,
            };
            tracing::debug!(%peer, code, error = %e, "join refused");
            close_now(&mut write, code, &e.to_string()).await;
            return;
        }
    };

    let span = tracing::info_span!("session", %peer, player = %seat.player_id, room = %seat.room.id);
    let end = tracing::Instrument::instrument(run(read, write, seat, join.name, slow_client_timeout), span.clone()).await;
    let _entered = span.enter();
    match end {
        SessionEnd::Normal => tracing::debug!("connection ended"),
        SessionEnd::Closed { code, reason } => tracing::info!(code, %reason, "connection closed by server"),
        SessionEnd::Io(error) => tracing::debug!(%error, "connection lost"),
    }
}

async fn run(read: WebSocketRead<ReadHalf<Io>>, write: WebSocketWrite<WriteHalf<Io>>, seat: Seat, name: String, slow_client_timeout: Duration) -> SessionEnd {
    let (feed_tx, feed_rx) = watch::channel(Feed::Waiting);
    let (control_tx, control_rx) = mpsc::channel(CLIENT_CONTROL_QUEUE);
    let (direct_tx, direct_rx) = mpsc::channel(DIRECT_QUEUE);
    let player_id = seat.player_id;
    let inbox = seat.room.inbox.clone();

    let outbox = ClientOutbox { feed: feed_tx, control: control_tx };
    if inbox.send(RoomInput::Join(JoinRequest { player_id, name, outbox })).await.is_err() {
        return SessionEnd::Closed { code: close_code::ROOM_CLOSED, reason: "room closed".into() };
    }

    // read_frame is not cancellation-safe, so the reader gets a task of its own
    // instead of a branch in a select.
    let mut reader = tokio::spawn(read_loop(read, direct_tx, inbox.clone(), player_id));
    let end = write_loop(write, direct_rx, control_rx, feed_rx, slow_client_timeout).await;
    // Give the reader time to see the peer's close reply, then stop it.
    let read_end = match tokio::time::timeout(CLOSE_GRACE, &mut reader).await {
        Ok(Ok(read_end)) => Some(read_end),
        _ => {
            reader.abort();
            None
        }
    };
    let _ = inbox.send(RoomInput::Leave(player_id)).await;
    drop(seat);
    // The reader knows best why a client-caused close happened.
    match (end, read_end) {
        (SessionEnd::Closed { .. } | SessionEnd::Normal, Some(read_end @ SessionEnd::Closed { .. })) => read_end,
        (end, _) => end,
    }
}

/// Write a close frame on a connection that never joined.
async fn close_now(write: &mut WebSocketWrite<WriteHalf<Io>>, code: u16, reason: &str) {
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        write.write_frame(Frame::close(code, truncate_reason(reason).as_bytes())).await?;
        write.flush().await
    })
    .await;
}

/// Close reasons must fit a control frame (125 bytes with the code).
fn truncate_reason(reason: &str) -> &str {
    let mut end = reason.len().min(120);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

async fn read_loop(mut read: WebSocketRead<ReadHalf<Io>>, direct: mpsc::Sender<Direct>, inbox: mpsc::Sender<RoomInput>, player: arena_protocol::PlayerId) -> SessionEnd {
    // The library checks single frames; fragments are summed below.
    read.set_max_message_size(MAX_CLIENT_MESSAGE_BYTES + 1);
    let obliged = direct.clone();
    let mut send_obligated = move |frame: Frame<'_>| {
        let tx = obliged.clone();
        let msg = Direct::Frame(frame.opcode, frame.payload.to_vec());
        async move { tx.send(msg).await.map_err(|_| "writer has stopped") }
    };
    let mut fragments: Option<Vec<u8>> = None;
    let end = loop {
        let frame = match read.read_frame(&mut send_obligated).await {
            Ok(frame) => frame,
            Err(e) => break read_error(e),
        };
        let message: Vec<u8> = match (frame.opcode, fragments.as_mut()) {
            (OpCode::Close, _) => break SessionEnd::Normal,
            (OpCode::Ping | OpCode::Pong, _) => continue,
            (OpCode::Text, _) => break closed(close_code::UNSUPPORTED_DATA, "text frames are not supported; send binary MessagePack"),
            (OpCode::Binary, Some(_)) | (OpCode::Continuation, None) => break closed(close_code::PROTOCOL_ERROR, "bad fragment sequence"),
            (OpCode::Binary, None) if frame.fin => frame.payload.to_vec(),
            (OpCode::Binary, None) => {
                fragments = Some(frame.payload.to_vec());
                continue;
            }
            (OpCode::Continuation, Some(buffer)) => {
                if buffer.len() + frame.payload.len() > MAX_CLIENT_MESSAGE_BYTES {
                    break closed(close_code::MESSAGE_TOO_BIG, "message too big");
                }
                buffer.extend_from_slice(&frame.payload);
                if !frame.fin {
                    continue;
                }
                fragments.take().unwrap_or_default()
            }
        };
        match decode_client(&message) {
            Ok(ClientMsg::Input(input)) => {
                if let Err(e) = input.validate() {
                    break closed(close_code::POLICY_VIOLATION, &format!("invalid input: {e}"));
                }
                match inbox.try_send(RoomInput::Input(player, input)) {
                    // A full inbox drops this input; the client sends a fresh one next tick.
                    Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
                    Err(mpsc::error::TrySendError::Closed(_)) => break closed(close_code::ROOM_CLOSED, "room closed"),
                }
            }
            Ok(ClientMsg::Ping(ping)) => {
                let pong = encode(&ServerMsg::Pong(Pong { client_time_ms: ping.client_time_ms }));
                if direct.send(Direct::Message(Bytes::from(pong))).await.is_err() {
                    break SessionEnd::Normal;
                }
            }
            Err(e) => break closed(close_code::INVALID_PAYLOAD, &format!("invalid message: {e}")),
        }
    };
    if let SessionEnd::Closed { code, reason } = &end {
        let _ = direct.send(Direct::Close { code: *code, reason: reason.clone() }).await;
    }
    end
}

fn closed(code: u16, reason: &str) -> SessionEnd {
    SessionEnd::Closed { code, reason: truncate_reason(reason).to_string() }
}

/// Map a frame-level error to the close the RFC asks for.
fn read_error(e: WebSocketError) -> SessionEnd {
    match e {
        WebSocketError::FrameTooLarge => closed(close_code::MESSAGE_TOO_BIG, "message too big"),
        WebSocketError::InvalidUTF8 => closed(close_code::INVALID_PAYLOAD, "invalid UTF-8"),
        WebSocketError::ReservedBitsNotZero
        | WebSocketError::InvalidFragment
        | WebSocketError::InvalidContinuationFrame
        | WebSocketError::ControlFrameFragmented
        | WebSocketError::PingFrameTooLarge
        | WebSocketError::InvalidCloseFrame
        | WebSocketError::InvalidCloseCode
        | WebSocketError::InvalidValue => closed(close_code::PROTOCOL_ERROR, &e.to_string()),
        WebSocketError::UnexpectedEOF | WebSocketError::ConnectionClosed | WebSocketError::SendError(_) => SessionEnd::Normal,
        other => SessionEnd::Io(other.to_string()),
    }
}

async fn write_loop(
    mut write: WebSocketWrite<WriteHalf<Io>>,
    mut direct: mpsc::Receiver<Direct>,
    mut control: mpsc::Receiver<Bytes>,
    mut feed: watch::Receiver<Feed>,
    slow_client_timeout: Duration,
) -> SessionEnd {
    let mut snapshot_buffer = Vec::with_capacity(4096);
    loop {
        // Control messages before snapshots: the welcome must precede the first snapshot.
        let outcome = tokio::select! {
            biased;
            msg = direct.recv() => match msg {
                Some(Direct::Frame(opcode, payload)) => {
                    let is_close = opcode == OpCode::Close;
                    let r = send(&mut write, Frame::new(true, opcode, None, Payload::Owned(payload)), slow_client_timeout).await;
                    if is_close { return r.err().unwrap_or(SessionEnd::Normal); }
                    r
                }
                Some(Direct::Message(bytes)) => send(&mut write, Frame::binary(Payload::Borrowed(&bytes)), slow_client_timeout).await,
                Some(Direct::Close { code, reason }) => {
                    let _ = send(&mut write, Frame::close(code, reason.as_bytes()), CLOSE_GRACE).await;
                    return SessionEnd::Closed { code, reason };
                }
                None => return SessionEnd::Normal,
            },
            msg = control.recv() => match msg {
                Some(bytes) => send(&mut write, Frame::binary(Payload::Borrowed(&bytes)), slow_client_timeout).await,
                None => continue_on_feed(&mut write, &feed).await,
            },
            changed = feed.changed() => {
                if changed.is_err() {
                    let _ = send(&mut write, Frame::close(close_code::ROOM_CLOSED, b"room closed"), CLOSE_GRACE).await;
                    return SessionEnd::Closed { code: close_code::ROOM_CLOSED, reason: "room closed".into() };
                }
                let current = feed.borrow_and_update().clone();
                match current {
                    Feed::Waiting => Ok(()),
                    Feed::Snapshot(snapshot) => {
                        snapshot.write_message(&mut snapshot_buffer);
                        send(&mut write, Frame::binary(Payload::Borrowed(&snapshot_buffer)), slow_client_timeout).await
                    }
                    Feed::Closed { code, reason } => {
                        let _ = send(&mut write, Frame::close(code, reason.as_bytes()), CLOSE_GRACE).await;
                        return SessionEnd::Closed { code, reason: reason.into() };
                    }
                }
            }
        };
        if let Err(end) = outcome {
            return end;
        }
    }
}

/// The room dropped our control queue: it has closed us or ended. The feed says
/// why when it can; send that close.
async fn continue_on_feed(write: &mut WebSocketWrite<WriteHalf<Io>>, feed: &watch::Receiver<Feed>) -> Result<(), SessionEnd> {
    let (code, reason) = match &*feed.borrow() {
        Feed::Closed { code, reason } => (*code, *reason),
        _ => (close_code::ROOM_CLOSED, "room closed"),
    };
    let _ = send(write, Frame::close(code, reason.as_bytes()), CLOSE_GRACE).await;
    Err(SessionEnd::Closed { code, reason: reason.into() })
}

/// Write and flush one frame; a client that cannot take it within `limit` is too slow.
async fn send(write: &mut WebSocketWrite<WriteHalf<Io>>, frame: Frame<'_>, limit: Duration) -> Result<(), SessionEnd> {
    match tokio::time::timeout(limit, async {
        write.write_frame(frame).await?;
        write.flush().await
    })
    .await
    {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(SessionEnd::Io(e.to_string())),
        Err(_) => Err(SessionEnd::Closed { code: close_code::TOO_SLOW, reason: "too slow: could not take messages".into() }),
    }
}
