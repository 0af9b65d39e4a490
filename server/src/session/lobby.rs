//! A lobby watcher's connection (`/ws/lobby`): the public room list on connecting
//! and whenever it changes; pings both ways; anything else from the client closes it.
//! Watchers sit idle most of the time, so this is the connection thousands of
//! browsers on a lobby page hold open.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use fastwebsockets::Role;
use tokio::sync::mpsc;

use super::liveness::Liveness;
use super::reader::{self, ReaderContext};
use super::writer::{self, Source, WriterInputs};
use super::{CLOSE_GRACE, DIRECT_QUEUE, LINGER_MAX_BYTES, Limits, SessionEnd};
use crate::server::{AddressSlot, AppState};

/// Serve one upgraded lobby connection until it ends.
pub async fn serve(
    upgrade: fastwebsockets::upgrade::UpgradeFut,
    state: Arc<AppState>,
    peer: SocketAddr,
    _address_slot: AddressSlot,
) {
    let ws = match tokio::time::timeout(state.config.handshake_timeout(), upgrade).await {
        Ok(Ok(ws)) => ws,
        _ => {
            tracing::debug!(%peer, "lobby upgrade failed or timed out");
            return;
        }
    };
    let (read_side, write_side, raw) = super::shared_io::split(ws.into_inner());
    let (read, write) = fastwebsockets::after_handshake_split(read_side, write_side, Role::Server);
    // Watchers send nothing but pongs: being quiet is what they do, not a reason to close.
    let limits = Limits { idle_timeout: Duration::MAX, ..Limits::from_config(&state.config) };
    let (direct_tx, direct_rx) = mpsc::channel(DIRECT_QUEUE);
    let liveness = Arc::new(Liveness::new());
    let reader_cx = ReaderContext { direct: direct_tx, room: None, limits, liveness: liveness.clone() };
    let mut reader = tokio::spawn(reader::read_loop(read, reader_cx));
    let inputs = WriterInputs { direct: direct_rx, source: Source::Lobby(state.lobby_feed.subscribe()) };
    let end = writer::write_loop(write, inputs, limits, liveness).await;
    let read_end = match tokio::time::timeout(CLOSE_GRACE, &mut reader).await {
        Ok(Ok(read_end)) => Some(read_end),
        _ => {
            reader.abort();
            None
        }
    };
    if matches!(read_end, Some(SessionEnd::Closed { .. })) {
        raw.drain(CLOSE_GRACE, LINGER_MAX_BYTES).await;
    }
    let end = match (end, read_end) {
        (SessionEnd::Closed { .. } | SessionEnd::Normal, Some(read_end @ SessionEnd::Closed { .. })) => read_end,
        (end, _) => end,
    };
    crate::metrics::closed_with(match &end {
        SessionEnd::Normal => 1000,
        SessionEnd::Closed { code, .. } => *code,
        SessionEnd::Io(_) => 1006,
    });
    tracing::debug!(%peer, ?end, "lobby watcher left");
}
