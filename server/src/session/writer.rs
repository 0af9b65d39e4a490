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
    pub control: mpsc::Receiver<Bytes>,
    pub feed: watch::Receiver<Feed>,
}

pub async fn write_loop(
    mut write: WebSocketWrite<Side>,
    inputs: WriterInputs,
    limits: Limits,
    liveness: Arc<Liveness>,
) -> SessionEnd {
    let WriterInputs { mut direct, mut control, mut feed } = inputs;
    let slow_client_timeout = limits.slow_client_timeout;
    let mut snapshot_buffer = Vec::with_capacity(4096);
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
                Some(bytes) => {
                    crate::metrics::handles().control_bytes.increment(bytes.len() as u64);
                    crate::monitor::telemetry().bytes_sent(bytes.len());
                    send(&mut write, Frame::binary(Payload::Borrowed(&bytes)), slow_client_timeout).await
                }
                None => continue_on_feed(&mut write, &feed).await,
            },
            _ = heartbeat.tick() => {
                let now = liveness.now_ms();
                let answered = ping_sent_ms.is_none_or(|sent| liveness.pong_since(sent));
                if !answered && now - ping_sent_ms.unwrap_or(now) > limits.pong_timeout.as_millis() as u64 {
                    let reason = "no answer to pings";
                    let _ = send(&mut write, Frame::close(close_code::HEARTBEAT_TIMEOUT, reason.as_bytes()), CLOSE_GRACE).await;
                    return SessionEnd::Closed { code: close_code::HEARTBEAT_TIMEOUT, reason: reason.into() };
                }
                if liveness.idle_for() > limits.idle_timeout {
                    let reason = "idle: no input for too long";
                    let _ = send(&mut write, Frame::close(close_code::IDLE, reason.as_bytes()), CLOSE_GRACE).await;
                    return SessionEnd::Closed { code: close_code::IDLE, reason: reason.into() };
                }
                if answered && ping_sent_ms.is_none_or(|sent| now - sent >= limits.ping_interval.as_millis() as u64) {
                    ping_sent_ms = Some(now);
                    send(&mut write, Frame::new(true, OpCode::Ping, None, Payload::Borrowed(b"arena")), slow_client_timeout).await
                } else {
                    Ok(())
                }
            }
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
                        let m = crate::metrics::handles();
                        m.snapshots_sent.increment(1);
                        if snapshot.kind == arena_protocol::SnapshotKind::Delta {
                            m.delta_snapshots_sent.increment(1);
                        }
                        m.snapshot_bytes.increment(snapshot_buffer.len() as u64);
                        crate::monitor::telemetry().bytes_sent(snapshot_buffer.len());
                        send(&mut write, Frame::binary(Payload::Borrowed(&snapshot_buffer)), slow_client_timeout).await
                    }
                    Feed::Closed { code, reason } => {
                        let reason = truncate_reason(&reason);
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
async fn continue_on_feed(write: &mut WebSocketWrite<Side>, feed: &watch::Receiver<Feed>) -> Result<(), SessionEnd> {
    let (code, reason) = match &*feed.borrow() {
        Feed::Closed { code, reason } => (*code, truncate_reason(reason).to_string()),
        _ => (close_code::ROOM_CLOSED, "room closed".to_string()),
    };
    let _ = send(write, Frame::close(code, reason.as_bytes()), CLOSE_GRACE).await;
    Err(SessionEnd::Closed { code, reason })
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
