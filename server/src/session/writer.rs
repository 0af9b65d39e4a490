//! Writing half of a session: control messages and the newest snapshot out, in that order.

use std::sync::Arc;
use std::time::Duration;

use arena_protocol::close_code;
use bytes::Bytes;
use fastwebsockets::{Frame, OpCode, Payload, WebSocketWrite};
use tokio::sync::{mpsc, watch};

use super::liveness::Liveness;
use super::shared_io::Side;
use super::{CLOSE_GRACE, Direct, Limits, SessionEnd, truncate_reason};
use crate::room::Feed;

/// What a session's writer reads from.
pub struct WriterInputs {
    pub direct: mpsc::Receiver<Direct>,
    pub source: Source,
}

/// Where a session's messages come from besides the reader.
pub enum Source {
    /// A player's or spectator's room: ordered control messages and the newest snapshot.
    Room { control: mpsc::Receiver<Bytes>, feed: watch::Receiver<Feed> },
    /// The lobby feed's room list (`/ws/lobby` watchers); None once the server stops.
    Lobby(watch::Receiver<Option<Bytes>>),
}

pub async fn write_loop(
    mut write: WebSocketWrite<Side>,
    inputs: WriterInputs,
    limits: Limits,
    liveness: Arc<Liveness>,
) -> SessionEnd {
    let WriterInputs { mut direct, source } = inputs;
    let (mut control, mut feed, mut lobby) = match source {
        Source::Room { control, feed } => (Some(control), Some(feed), None),
        Source::Lobby(rooms) => (None, None, Some(rooms)),
    };
    let slow_client_timeout = limits.slow_client_timeout;
    // Grows on the first snapshot: an idle lobby watcher never needs it.
    let mut snapshot_buffer = Vec::new();
    // Checks run a few times per shortest deadline, at most every 5 s.
    let check_every =
        (limits.ping_interval.min(limits.pong_timeout) / 2).clamp(Duration::from_millis(20), Duration::from_secs(5));
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + check_every, check_every);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ping_sent_ms: Option<u64> = None;
    loop {
        // Control messages before snapshots: the welcome must precede the first snapshot.
        let outcome = tokio::select! {
            biased;
            msg = direct.recv() => match msg {
                Some(Direct::Frame(opcode, payload)) => {
                    let is_close = opcode == OpCode::Close;
                    let r = send(&mut write, Frame::new(true, opcode, None, Payload::Owned(payload.into_vec())), slow_client_timeout).await;
                    if is_close { return r.err().unwrap_or(SessionEnd::Normal); }
                    r
                }
                Some(Direct::Message(bytes)) => send(&mut write, Frame::binary(Payload::Borrowed(&bytes)), slow_client_timeout).await,
                Some(Direct::Close { code, reason }) => return close(&mut write, code, &reason).await,
                None => return SessionEnd::Normal,
            },
            Some(msg) = control_message(&mut control), if control.is_some() => match msg {
                Some(bytes) => {
                    crate::metrics::handles().control_bytes.increment(bytes.len() as u64);
                    crate::monitor::telemetry().bytes_sent(bytes.len());
                    send(&mut write, Frame::binary(Payload::Borrowed(&bytes)), slow_client_timeout).await
                }
                None => Err(continue_on_feed(&mut write, feed.as_ref()).await),
            },
            _ = heartbeat.tick() => {
                let now = liveness.now_ms();
                let answered = ping_sent_ms.is_none_or(|sent| liveness.pong_since(sent));
                if !answered && now - ping_sent_ms.unwrap_or(now) > limits.pong_timeout.as_millis() as u64 {
                    return close(&mut write, close_code::HEARTBEAT_TIMEOUT, "no answer to pings").await;
                }
                if liveness.idle_for() > limits.idle_timeout {
                    return close(&mut write, close_code::IDLE, "idle: no input for too long").await;
                }
                if answered && ping_sent_ms.is_none_or(|sent| now - sent >= limits.ping_interval.as_millis() as u64) {
                    ping_sent_ms = Some(now);
                    send(&mut write, Frame::new(true, OpCode::Ping, None, Payload::Borrowed(b"arena")), slow_client_timeout).await
                } else {
                    Ok(())
                }
            }
            Some(rooms) = lobby_changed(&mut lobby), if lobby.is_some() => match rooms {
                Some(rooms) => {
                    crate::monitor::telemetry().bytes_sent(rooms.len());
                    send(&mut write, Frame::binary(Payload::Borrowed(&rooms)), slow_client_timeout).await
                }
                // The feed ends when the server stops.
                None => return close(&mut write, close_code::GOING_AWAY, crate::server::SHUTTING_DOWN).await,
            },
            Some((changed, current)) = feed_change(&mut feed), if feed.is_some() => {
                if changed.is_err() {
                    return close(&mut write, close_code::ROOM_CLOSED, "room closed").await;
                }
                match current {
                    Feed::Waiting => Ok(()),
                    Feed::Snapshot(snapshot) => {
                        snapshot.write_message(&mut snapshot_buffer);
                        let m = crate::metrics::handles();
                        m.snapshots_sent.increment(1);
                        if snapshot.kind == arena_protocol::SnapshotKind::Delta {
                            m.delta_snapshots_sent.increment(1);
                        }
                        m.snapshot_bytes.increment(snapshot_buffer.len() as u64);
                        crate::monitor::telemetry().bytes_sent(snapshot_buffer.len());
                        send(&mut write, Frame::binary(Payload::Borrowed(&snapshot_buffer)), slow_client_timeout).await
                    }
                    Feed::Closed { code, reason } => return close(&mut write, code, &reason).await,
                }
            }
        };
        if let Err(end) = outcome {
            return end;
        }
    }
}

/// The room's next control message (None: the room dropped the queue).
async fn control_message(control: &mut Option<mpsc::Receiver<Bytes>>) -> Option<Option<Bytes>> {
    Some(control.as_mut()?.recv().await)
}

/// The room's feed once it changed, and what it holds now.
async fn feed_change(feed: &mut Option<watch::Receiver<Feed>>) -> Option<(Result<(), watch::error::RecvError>, Feed)> {
    let feed = feed.as_mut()?;
    let changed = feed.changed().await;
    Some((changed, feed.borrow_and_update().clone()))
}

/// The lobby's newest room list once it changed; Some(None) when the feed has ended.
async fn lobby_changed(lobby: &mut Option<watch::Receiver<Option<Bytes>>>) -> Option<Option<Bytes>> {
    let rx = lobby.as_mut()?;
    Some(rx.changed().await.ok().and_then(|()| rx.borrow_and_update().clone()))
}

/// The room dropped our control queue: it has closed us or ended. The feed says
/// why when it can; send that close.
async fn continue_on_feed(write: &mut WebSocketWrite<Side>, feed: Option<&watch::Receiver<Feed>>) -> SessionEnd {
    let (code, reason) = match feed.map(|f| f.borrow().clone()) {
        Some(Feed::Closed { code, reason }) => (code, reason),
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
pub async fn send(write: &mut WebSocketWrite<Side>, frame: Frame<'_>, limit: Duration) -> Result<(), SessionEnd> {
    match tokio::time::timeout(limit, async {
        write.write_frame(frame).await?;
        write.flush().await
    })
    .await
    {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(SessionEnd::Io(e.to_string())),
        Err(_) => {
            Err(SessionEnd::Closed { code: close_code::TOO_SLOW, reason: "too slow: could not take messages".into() })
        }
    }
}
