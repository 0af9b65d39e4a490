//! Writing half of a session: control messages and the newest snapshot out, in that order.

use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use arena_protocol::close_code;
use bytes::Bytes;
use fastwebsockets::{Frame, OpCode, Payload, WebSocketWrite};
use tokio::sync::{mpsc, watch};

use super::liveness::Liveness;
use super::shared_io::Side;
use super::{CLOSE_GRACE, Direct, Limits, SessionEnd, truncate_reason};
use crate::ops::metrics::{self, SessionTally};
use crate::room::Latest;
use crate::room::latest::{LatestReceiver, RoomGone};
use crate::shutdown::SHUTTING_DOWN;

/// What a session's writer reads from.
pub struct WriterInputs {
    pub direct: mpsc::Receiver<Direct>,
    pub source: Source,
}

/// Where a session's messages come from besides the reader.
pub enum Source {
    /// A player's or spectator's room: ordered control messages and the newest snapshot.
    /// `upgraded_at` starts the join-latency clock, stopped by the welcome (the room's first message).
    Room { control: mpsc::Receiver<Bytes>, latest: LatestReceiver, upgraded_at: Instant },
    /// The room list (`/ws/lobby` watchers); None once the server stops.
    Lobby(watch::Receiver<Option<Bytes>>),
}

/// Send what the reader, the room (or the room list) and the heartbeat ask for,
/// until one of them ends the session.
pub async fn write_loop(
    mut write: WebSocketWrite<Side>,
    inputs: WriterInputs,
    limits: Limits,
    liveness: Arc<Liveness>,
) -> SessionEnd {
    let WriterInputs { mut direct, source } = inputs;
    let (mut control, mut latest, mut lobby, mut joining_since) = match source {
        Source::Room { control, latest, upgraded_at } => (Some(control), Some(latest), None, Some(upgraded_at)),
        Source::Lobby(rooms) => (None, None, Some(rooms), None),
    };
    let mut heartbeat = Heartbeat::new(limits, liveness);
    // Grows on the first snapshot: an idle lobby watcher never needs it.
    let mut snapshot_buffer = Vec::new();
    // This session's counts, added to the shared metrics once a second.
    let mut tally = SessionTally::default();
    let slow = limits.slow_client_timeout;
    loop {
        // Control messages before snapshots: the welcome must precede the first snapshot,
        // and a room's last events its close. A snapshot wake-up (30 a second) then
        // looks at nothing more: the reader's frames and the heartbeat come after it.
        let outcome = tokio::select! {
            biased;
            Some(msg) = control_message(&mut control), if control.is_some() => match msg {
                Some(bytes) => {
                    tally.control(bytes.len(), Instant::now());
                    let sent = send(&mut write, Frame::binary(Payload::Borrowed(&bytes)), slow).await;
                    if let Some(upgraded_at) = joining_since.take() {
                        metrics::handles().join_seconds.record(upgraded_at.elapsed().as_secs_f64());
                    }
                    sent
                }
                None => Err(continue_on_latest(&mut write, latest.as_ref()).await),
            },
            Some((changed, current)) = latest_change(&mut latest, &mut snapshot_buffer), if latest.is_some() => {
                if changed.is_err() {
                    return close(&mut write, close_code::ROOM_CLOSED, "room closed").await;
                }
                match current {
                    Newest::Nothing => Ok(()),
                    Newest::Snapshot { delta } => {
                        tally.snapshot(snapshot_buffer.len(), delta, Instant::now());
                        send(&mut write, Frame::binary(Payload::Borrowed(&snapshot_buffer)), slow).await
                    }
                    Newest::Closed { code, reason } => return close(&mut write, code, &reason).await,
                }
            }
            msg = direct.recv() => match msg {
                Some(Direct::Frame(opcode, payload)) => {
                    let r = send(&mut write, Frame::new(true, opcode, None, Payload::Owned(payload.into_vec())), slow).await;
                    if opcode == OpCode::Close { return r.err().unwrap_or(SessionEnd::Normal); }
                    r
                }
                Some(Direct::Message(bytes)) => send(&mut write, Frame::binary(Payload::Borrowed(&bytes)), slow).await,
                Some(Direct::Close { code, reason }) => return close(&mut write, code, &reason).await,
                None => return SessionEnd::Normal,
            },
            _ = heartbeat.interval.tick() => heartbeat.check(&mut write, slow).await,
            Some(rooms) = lobby_changed(&mut lobby), if lobby.is_some() => match rooms {
                Some(rooms) => {
                    tally.other(rooms.len(), Instant::now());
                    send(&mut write, Frame::binary(Payload::Borrowed(&rooms)), slow).await
                }
                // The room list ends when the server stops.
                None => return close(&mut write, close_code::GOING_AWAY, SHUTTING_DOWN).await,
            },
        };
        if let Err(end) = outcome {
            return end;
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

/// The room's next control message (None: the room dropped the queue).
async fn control_message(control: &mut Option<mpsc::Receiver<Bytes>>) -> Option<Option<Bytes>> {
    Some(control.as_mut()?.recv().await)
}

/// What the client's latest-wins slot held when the writer looked.
enum Newest {
    Nothing,
    /// Its snapshot message is in the writer's buffer.
    Snapshot {
        delta: bool,
    },
    Closed {
        code: u16,
        reason: String,
    },
}

/// The client's latest-wins slot once it changed, and what it holds now; a snapshot
/// is written into `buffer` while the slot is borrowed (cloning it out would bump the
/// body's reference count, which every client of the room shares, twice a message).
async fn latest_change(
    latest: &mut Option<LatestReceiver>,
    buffer: &mut Vec<u8>,
) -> Option<(Result<(), RoomGone>, Newest)> {
    let latest = latest.as_mut()?;
    let changed = latest.changed().await;
    let newest = match &*latest.borrow_and_update() {
        Latest::Waiting => Newest::Nothing,
        Latest::Snapshot(snapshot) => {
            snapshot.write_message(buffer);
            Newest::Snapshot { delta: snapshot.kind == arena_protocol::SnapshotKind::Delta }
        }
        Latest::Closed { code, reason } => Newest::Closed { code: *code, reason: reason.clone() },
    };
    Some((changed, newest))
}

/// The lobby's newest room list once it changed; Some(None) when the feed has ended.
async fn lobby_changed(lobby: &mut Option<watch::Receiver<Option<Bytes>>>) -> Option<Option<Bytes>> {
    let rx = lobby.as_mut()?;
    Some(rx.changed().await.ok().and_then(|()| rx.borrow_and_update().clone()))
}

/// The room dropped our control queue: it has closed us or ended. The latest-wins
/// slot says why when it can; send that close.
async fn continue_on_latest(write: &mut WebSocketWrite<Side>, latest: Option<&LatestReceiver>) -> SessionEnd {
    let (code, reason) = match latest.map(|l| l.borrow().clone()) {
        Some(Latest::Closed { code, reason }) => (code, reason),
        _ => (close_code::ROOM_CLOSED, "room closed".to_string()),
    };
    close(write, code, &reason).await
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
    let mut sending = std::pin::pin!(async {
        write.write_frame(frame).await?;
        write.flush().await
    });
    let first = std::future::poll_fn(|cx| Poll::Ready(sending.as_mut().poll(cx))).await;
    let written = match first {
        Poll::Ready(written) => written,
        Poll::Pending => match tokio::time::timeout(limit, sending).await {
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
