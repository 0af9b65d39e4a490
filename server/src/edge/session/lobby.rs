//! A lobby watcher's connection (`/ws/lobby`): the public room list on connecting
//! and whenever it changes; pings both ways; anything else from the client closes it.
//! Watchers sit idle most of the time, so this is the connection thousands of
//! browsers on a lobby page hold open.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::Sessions;
use super::liveness::Liveness;
use super::reader::{self, ReaderContext};
use super::writer::{self, Source, WriterInputs};
use super::{Limits, direct};
use crate::lobby::addresses::AddressSlot;
use crate::ops::metrics;

/// Serve one upgraded lobby connection until it ends.
pub async fn serve(
    upgrade: fastwebsockets::upgrade::UpgradeFut,
    sessions: Arc<Sessions>,
    peer: SocketAddr,
    _address_slot: Option<AddressSlot>,
) {
    let Some((read, write, raw)) = super::accept(upgrade, sessions.handshake_timeout, peer).await else { return };
    // Watchers send nothing but pongs: being quiet is what they do, not a reason to close.
    let limits = Limits { idle_timeout: Duration::MAX, ..sessions.limits };
    // A watcher's slot only carries the doorbell; its other end stays open while the writer runs.
    let (_slot_kept, slot) = crate::room::latest::slot();
    let (direct, direct_rx) = direct::queue(slot.doorbell());
    let liveness = Arc::new(Liveness::new());
    let reader_cx = ReaderContext { direct, room: None, limits, liveness: liveness.clone() };
    let reader = tokio::spawn(reader::read_loop(read, reader_cx));
    let inputs = WriterInputs { direct: direct_rx, slot, source: Source::Lobby(sessions.room_list.subscribe()) };
    let end = writer::write_loop(write, inputs, limits, liveness).await;
    let end = super::finish(end, reader, raw).await;
    metrics::closed_with(end.code());
    tracing::debug!(%peer, ?end, "lobby watcher left");
}
