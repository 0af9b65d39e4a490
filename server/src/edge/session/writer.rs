//! Writing half of a session: control messages and the newest snapshot out, in that
//! order, gathered into one write (see `gathered`).

use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use arena_protocol::close_code;
use bytes::Bytes;
use fastwebsockets::{Frame, OpCode, Payload, WebSocketWrite};
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

use super::direct::{Direct, DirectReceiver};
use super::gathered::{self, GATHER_LIMIT, Gathered};
use super::liveness::Liveness;
use super::shared_io::Side;
use super::spare_buffers::{self, SpareBuffer};
use super::{CLOSE_GRACE, Limits, SessionEnd, truncate_reason};
use crate::ops::metrics::{self, SessionTally};
use crate::room::Latest;
use crate::room::latest::{Bell, LatestReceiver};
use crate::shutdown::SHUTTING_DOWN;

/// What a session's writer reads from.
pub struct WriterInputs {
    pub direct: DirectReceiver,
    /// The client's latest-wins slot, and the doorbell the room and the reader ring.
    pub slot: LatestReceiver,
    pub source: Source,
}

/// Where a session's messages come from besides the reader.
pub enum Source {
    /// A player's or spectator's room: ordered control messages and the newest snapshot (both in the slot).
    /// `upgraded_at` starts the join-latency clock, stopped by the welcome (the room's first message).
    /// `socket` is another handle on the connection, for the frames written together.
    Room { upgraded_at: Instant, socket: Side },
    /// The room list (`/ws/lobby` watchers); None once the server stops.
    Lobby(watch::Receiver<Option<Bytes>>),
}

/// A room session's join clock, and its handle for gathered writes.
struct RoomFeed {
    /// Until the welcome is written.
    joining_since: Option<Instant>,
    socket: Side,
}

/// What one writer keeps between messages.
struct Out {
    write: WebSocketWrite<Side>,
    /// This session's counts, added to the shared metrics once a second.
    tally: SessionTally,
    slow: Duration,
}

/// Send what the reader, the room (or the room list) and the heartbeat ask for,
/// until one of them ends the session. Each wake-up looks only where it was called:
/// the slot's value when it changed, a queue when its bell rang.
pub async fn write_loop(
    write: WebSocketWrite<Side>,
    inputs: WriterInputs,
    limits: Limits,
    liveness: Arc<Liveness>,
) -> SessionEnd {
    let WriterInputs { direct, mut slot, source } = inputs;
    let (mut room, mut lobby) = match source {
        Source::Room { upgraded_at, socket } => (Some(RoomFeed { joining_since: Some(upgraded_at), socket }), None),
        Source::Lobby(rooms) => (None, Some(rooms)),
    };
    let mut heartbeat = Heartbeat::new(limits, liveness);
    let mut out = Out { write, tally: SessionTally::default(), slow: limits.slow_client_timeout };
    loop {
        if let Some(room) = &mut room
            && let Err(end) = room_turn(&mut out, room, &mut slot).await
        {
            return end;
        }
        if slot.answer(Bell::Direct)
            && let Err(end) = send_direct(&mut out, &direct).await
        {
            return end;
        }
        // The heartbeat first: a client that takes each message slower than the
        // snapshot interval finds the slot changed whenever its write ends, so a
        // heartbeat polled after the slot would never run (no pings, no idle or pong
        // deadline: a slow reader could hold its seat forever).
        let outcome = tokio::select! {
            biased;
            _ = heartbeat.interval.tick() => heartbeat.check(&mut out.write, out.slow).await,
            () = slot.wait() => Ok(()),
            Some(rooms) = lobby_changed(&mut lobby), if lobby.is_some() => match rooms {
                Some(rooms) => {
                    out.tally.other(rooms.len(), Instant::now());
                    send(&mut out.write, Frame::binary(Payload::Borrowed(&rooms)), out.slow).await
                }
                // The room list ends when the server stops.
                None => return close(&mut out.write, close_code::GOING_AWAY, SHUTTING_DOWN).await,
            },
        };
        if let Err(end) = outcome {
            return end;
        }
    }
}

/// The room's side of a wake-up: its newest value (taken first, into the buffer),
/// then every control message rung for before it (the welcome precedes the first
/// snapshot, a round's start the new round's snapshots, a room's last events its
/// close), then the value; the messages and the snapshot in one write. Err ends the session.
async fn room_turn(out: &mut Out, room: &mut RoomFeed, slot: &mut LatestReceiver) -> Result<(), SessionEnd> {
    // Looked at before the value: gone, and nothing new after, means nothing more comes.
    let gone = slot.room_gone();
    let newest = slot.take_changed().map(|latest| match latest {
        Latest::Waiting => Newest::Nothing,
        Latest::Snapshot(snapshot) => {
            // Copied outside the slot's lock (the room's send waits on it), then handed
            // back for the room to drop (see LatestReceiver::take_changed).
            let mut message = spare_buffers::borrow();
            snapshot.write_message(&mut message);
            let delta = snapshot.kind == arena_protocol::SnapshotKind::Delta;
            slot.put_back(Latest::Snapshot(snapshot));
            Newest::Snapshot { message, delta }
        }
        Latest::Closed { code, reason } => Newest::Closed { code, reason },
    });
    let control = slot.answer(Bell::Control) || (gone && newest.is_none());
    match newest {
        Some(Newest::Snapshot { message, delta }) => {
            out.tally.snapshot(message.len(), delta, Instant::now());
            // The buffer goes back to the spares once written.
            send_gathered(out, room, slot, control, Some(&message)).await
        }
        newest => {
            if control {
                send_gathered(out, room, slot, true, None).await?;
            }
            match newest {
                Some(Newest::Closed { code, reason }) => Err(close(&mut out.write, code, &reason).await),
                None if gone => Err(close(&mut out.write, close_code::ROOM_CLOSED, "room closed").await),
                _ => Ok(()),
            }
        }
    }
}

/// Every control message queued (when `control`), in order, then `snapshot`, as
/// consecutive frames: one write, or one per [`GATHER_LIMIT`] of control messages.
async fn send_gathered(
    out: &mut Out,
    room: &mut RoomFeed,
    slot: &LatestReceiver,
    control: bool,
    snapshot: Option<&[u8]>,
) -> Result<(), SessionEnd> {
    let mut frames = spare_buffers::borrow();
    loop {
        let mut drained = !control;
        while !drained && frames.len() < GATHER_LIMIT {
            match slot.next_control() {
                Some(bytes) => {
                    out.tally.control(bytes.len(), Instant::now());
                    gathered::push_frame(&mut frames, &bytes);
                }
                None => drained = true,
            }
        }
        let last = if drained { snapshot } else { None };
        let sent = write_progressing(out.slow, &mut room.socket, &frames, last).await;
        if !frames.is_empty()
            && let Some(upgraded_at) = room.joining_since.take()
        {
            metrics::handles().join_seconds.record(upgraded_at.elapsed().as_secs_f64());
        }
        sent?;
        if drained {
            return Ok(());
        }
        frames.clear();
    }
}

/// Write a gathering, then flush. The client is too slow only when the socket takes
/// no byte for `slow` (as replay downloads are cut by stall, in `edge::activity`):
/// a gathering is up to [`GATHER_LIMIT`] of frames and a snapshot, which a client
/// draining a backlog steadily may take longer than `slow` to read.
async fn write_progressing(
    slow: Duration,
    socket: &mut Side,
    frames: &[u8],
    last: Option<&[u8]>,
) -> Result<(), SessionEnd> {
    let mut gathered = Gathered::new(frames, last);
    while !gathered.is_written() {
        within(slow, gathered.write_some(socket)).await?;
    }
    within(slow, socket.flush()).await
}

/// Every frame the reader queued; the reader gone ends the session.
async fn send_direct(out: &mut Out, direct: &DirectReceiver) -> Result<(), SessionEnd> {
    loop {
        match direct.next() {
            Poll::Ready(Some(Direct::Frame(opcode, payload))) => {
                let frame = Frame::new(true, opcode, None, Payload::Owned(payload.into_vec()));
                let sent = send(&mut out.write, frame, out.slow).await;
                if opcode == OpCode::Close {
                    return Err(sent.err().unwrap_or(SessionEnd::Normal));
                }
                sent?;
            }
            Poll::Ready(Some(Direct::Message(bytes))) => {
                send(&mut out.write, Frame::binary(Payload::Borrowed(&bytes)), out.slow).await?
            }
            Poll::Ready(Some(Direct::Close { code, reason })) => return Err(close(&mut out.write, code, &reason).await),
            Poll::Pending => return Ok(()),
            Poll::Ready(None) => return Err(SessionEnd::Normal),
        }
    }
}

/// Our pings, and the checks that close a peer that stopped answering them or
/// stopped sending anything.
struct Heartbeat {
    interval: tokio::time::Interval,
    limits: Limits,
    liveness: Arc<Liveness>,
    /// When our unanswered ping went out (ms on the liveness clock).
    ping_sent_ms: Option<u64>,
}

impl Heartbeat {
    fn new(limits: Limits, liveness: Arc<Liveness>) -> Heartbeat {
        // Checks run a few times per shortest deadline, at most every 5 s.
        let every = (limits.ping_interval.min(limits.pong_timeout) / 2)
            .clamp(Duration::from_millis(20), Duration::from_secs(5));
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Heartbeat { interval, limits, liveness, ping_sent_ms: None }
    }

    /// Close a peer past its pong or idle deadline; send a ping when one is due.
    async fn check(&mut self, write: &mut WebSocketWrite<Side>, slow: Duration) -> Result<(), SessionEnd> {
        let now = self.liveness.now_ms();
        let answered = self.ping_sent_ms.is_none_or(|sent| self.liveness.pong_since(sent));
        if !answered && now - self.ping_sent_ms.unwrap_or(now) > self.limits.pong_timeout.as_millis() as u64 {
            return Err(close(write, close_code::HEARTBEAT_TIMEOUT, "no answer to pings").await);
        }
        if self.liveness.idle_for() > self.limits.idle_timeout {
            return Err(close(write, close_code::IDLE, "idle: no input for too long").await);
        }
        let ping_due = self.ping_sent_ms.is_none_or(|sent| now - sent >= self.limits.ping_interval.as_millis() as u64);
        if answered && ping_due {
            self.ping_sent_ms = Some(now);
            self.liveness.ping_sent();
            return send(write, Frame::new(true, OpCode::Ping, None, Payload::Borrowed(b"arena")), slow).await;
        }
        Ok(())
    }
}

/// What the client's latest-wins slot held when the writer looked.
enum Newest {
    Nothing,
    /// Its snapshot message, assembled in a borrowed buffer.
    Snapshot {
        message: SpareBuffer,
        delta: bool,
    },
    Closed {
        code: u16,
        reason: String,
    },
}

/// The lobby's newest room list once it changed; Some(None) when the feed has ended.
async fn lobby_changed(lobby: &mut Option<watch::Receiver<Option<Bytes>>>) -> Option<Option<Bytes>> {
    let rx = lobby.as_mut()?;
    Some(rx.changed().await.ok().and_then(|()| rx.borrow_and_update().clone()))
}

/// Send a close frame with `code` and `reason` (cut to fit a control frame),
/// waiting at most the close grace; the session then ends with that close.
async fn close(write: &mut WebSocketWrite<Side>, code: u16, reason: &str) -> SessionEnd {
    let reason = truncate_reason(reason);
    let _ = send(write, Frame::close(code, reason.as_bytes()), CLOSE_GRACE).await;
    SessionEnd::Closed { code, reason: reason.into() }
}

/// Write and flush one frame; a client that cannot take it within `limit` is too slow.
/// The timer is only set when the socket cannot take the frame at once: nearly every
/// write completes on its first poll, and arming a timeout per message costs a clone
/// of the runtime's handle, shared by every task.
pub async fn send(write: &mut WebSocketWrite<Side>, frame: Frame<'_>, limit: Duration) -> Result<(), SessionEnd> {
    within(limit, async {
        write.write_frame(frame).await?;
        write.flush().await
    })
    .await
}

/// Finish `sending` (a write) within `limit`, else the client is too slow; see [`send`].
async fn within<E: std::fmt::Display>(
    limit: Duration,
    sending: impl Future<Output = Result<(), E>>,
) -> Result<(), SessionEnd> {
    let mut sending = std::pin::pin!(sending);
    let first = std::future::poll_fn(|cx| Poll::Ready(sending.as_mut().poll(cx))).await;
    let written = match first {
        Poll::Ready(written) => written,
        // Boxed: the timer's state would otherwise take room in every session's task.
        Poll::Pending => match Box::pin(tokio::time::timeout(limit, sending)).await {
            Ok(written) => written,
            Err(_) => {
                return Err(SessionEnd::Closed {
                    code: close_code::TOO_SLOW,
                    reason: "too slow: could not take messages".into(),
                });
            }
        },
    };
    written.map_err(|e| SessionEnd::Io(e.to_string()))
}
