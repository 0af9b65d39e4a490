//! One WebSocket connection: a reader that decodes and forwards client messages
//! to the room, and a writer that sends the room's messages and snapshots.

pub mod assembler;
pub mod direct;
pub mod echo;
mod gathered;
mod liveness;
pub mod lobby;
pub mod reader;
mod shared_io;
mod spare_buffers;
mod writer;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fastwebsockets::{Frame, Role, WebSocketRead, WebSocketWrite};

use std::sync::atomic::{AtomicU64, Ordering};

use crate::identity::Identity;
use crate::lobby::Seat;
use crate::lobby::addresses::AddressSlot;
use crate::lobby::join::{JoinChecks, JoinQuery};
use crate::lobby::room_list::RoomListFeed;
use crate::ops::metrics;
use crate::room::{ClientOutbox, JoinRequest, RoomInput};
use arena_protocol::close_code;
use liveness::Liveness;
use reader::ReaderContext;
use shared_io::Side;
use writer::WriterInputs;

pub use direct::{Direct, DirectSender};

/// How long we wait for the peer's side of a close before dropping TCP.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Bytes a closed client may still send us while we wait for it to hang up.
const LINGER_MAX_BYTES: usize = 1 << 20;

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

/// Gives every connection its own number, so a room can tell an old
/// connection's leave from a newer connection of the same player.
static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(1);

/// Per-connection limits, from the config.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_message_bytes: usize,
    pub input_rate: u32,
    pub ping_interval: Duration,
    pub pong_timeout: Duration,
    pub idle_timeout: Duration,
    pub slow_client_timeout: Duration,
}

impl Limits {
    pub fn from_config(config: &crate::config::Config) -> Limits {
        Limits {
            max_message_bytes: config.max_message_bytes,
            input_rate: config.input_rate,
            ping_interval: config.ping_interval(),
            pong_timeout: config.pong_timeout(),
            idle_timeout: config.idle_timeout(),
            slow_client_timeout: config.slow_client_timeout(),
        }
    }
}

/// What sessions use of the rest of the server.
#[derive(Debug)]
pub struct Sessions {
    /// Who may join, and the seats.
    pub join: JoinChecks,
    /// The room list `/ws/lobby` watchers follow.
    pub room_list: Arc<RoomListFeed>,
    pub limits: Limits,
    /// A WebSocket handshake that takes longer is cut.
    pub handshake_timeout: Duration,
}

/// Serve one upgraded connection until it ends.
pub async fn serve(
    upgrade: fastwebsockets::upgrade::UpgradeFut,
    query: JoinQuery,
    sessions: Arc<Sessions>,
    peer: SocketAddr,
    // Held for the session's life: behind a trusted proxy, the forwarded address's place.
    _address_slot: Option<AddressSlot>,
) {
    let upgraded_at = Instant::now();
    let Some((read, mut write, raw)) = accept(upgrade, sessions.handshake_timeout, peer).await else { return };

    // Boxed: held inline, the admission's state (and the query, dropped only at the end
    // of scope) would take room in every session's task for its whole life.
    let (spectator, identity, seat) = match Box::pin(admit(query, &sessions.join)).await {
        Ok(admitted) => admitted,
        Err((code, reason)) => {
            tracing::debug!(%peer, code, %reason, "join refused");
            metrics::closed_with(code);
            close_now(&mut write, code, &reason).await;
            raw.drain(CLOSE_GRACE, LINGER_MAX_BYTES).await;
            return;
        }
    };

    let span = tracing::info_span!("session", %peer, player = %identity.player_id, room = %seat.room.id());
    let session = Session { identity, spectator, seat, limits: sessions.limits, upgraded_at };
    let end = tracing::Instrument::instrument(session.run(read, write, raw), span.clone()).await;
    let _entered = span.enter();
    metrics::closed_with(end.code());
    match end {
        SessionEnd::Normal => tracing::debug!("connection ended"),
        SessionEnd::Closed { code, reason } => tracing::info!(code, %reason, "connection closed by server"),
        SessionEnd::Io(error) => tracing::debug!(%error, "connection lost"),
    }
}

/// Check the join's query and take a seat: whether it spectates, who it is, and the
/// seat; a refusal carries the close code and reason.
async fn admit(query: JoinQuery, checks: &JoinChecks) -> Result<(bool, Identity, Seat), (u16, String)> {
    let join = query.validate()?;
    let (identity, seat) = checks.admit(&join).await?;
    Ok((join.spectate, identity, seat))
}

/// An admitted connection.
struct Session {
    identity: Identity,
    spectator: bool,
    seat: Seat,
    limits: Limits,
    /// When the upgrade was answered: the join-latency clock starts here.
    upgraded_at: Instant,
}

impl Session {
    async fn run(
        self,
        read: fastwebsockets::WebSocketRead<Side>,
        write: WebSocketWrite<Side>,
        raw: Side,
    ) -> SessionEnd {
        let (latest_tx, latest_rx) = crate::room::latest::slot();
        let (direct_tx, direct_rx) = direct::queue(latest_rx.doorbell());
        let player_id = self.identity.player_id;
        let connection = NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed);
        let inbox = self.seat.room.inbox.clone();

        let outbox = ClientOutbox { latest: latest_tx };
        let join = JoinRequest { identity: self.identity, spectator: self.spectator, connection, outbox };
        if inbox.send(RoomInput::Join(join)).await.is_err() {
            return SessionEnd::Closed { code: close_code::ROOM_CLOSED, reason: "room closed".into() };
        }

        // read_frame is not cancellation-safe, so the reader gets a task of its own
        // instead of a branch in a select.
        let liveness = Arc::new(Liveness::new());
        let reader_cx = ReaderContext {
            direct: direct_tx,
            room: Some(reader::RoomSender { inbox: inbox.clone(), player: player_id }),
            limits: self.limits,
            liveness: liveness.clone(),
        };
        let reader = tokio::spawn(reader::read_loop(read, reader_cx));
        let source = writer::Source::Room { upgraded_at: self.upgraded_at, socket: raw.share() };
        let inputs = WriterInputs { direct: direct_rx, slot: latest_rx, source };
        let end = writer::write_loop(write, inputs, self.limits, liveness).await;
        let end = finish(end, reader, raw).await;
        // The seat goes to the room, which may hold it for a reconnection.
        let _ = inbox.send(RoomInput::Leave { player_id, connection, seat: Some(Box::new(self.seat)) }).await;
        end
    }
}

/// Finish the WebSocket handshake within the handshake timeout and split the
/// connection into its halves (and the raw socket, for draining); None when the
/// handshake fails or stalls (logged).
pub(crate) async fn accept(
    upgrade: fastwebsockets::upgrade::UpgradeFut,
    handshake_timeout: Duration,
    peer: SocketAddr,
) -> Option<(WebSocketRead<Side>, WebSocketWrite<Side>, Side)> {
    let ws = match tokio::time::timeout(handshake_timeout, upgrade).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "upgrade failed");
            return None;
        }
        Err(_) => {
            tracing::debug!(%peer, "upgrade did not complete in time");
            return None;
        }
    };
    let (read_side, write_side, raw) = shared_io::split(ws.into_inner());
    let (read, mut write) = fastwebsockets::after_handshake_split(read_side, write_side, Role::Server);
    // Every frame goes out as one writev of its header and payload: fastwebsockets
    // would otherwise copy frames of up to 1 KiB into a buffer each connection keeps.
    write.set_writev_threshold(0);
    Some((read, write, raw))
}

/// The writer has ended: give the reader time to see the peer's close reply, then
/// stop it. If the reader stopped first (a bad frame), drain the socket so our close
/// frame is not lost to a reset. Returns why the connection ended; the reader knows
/// best why a client-caused close happened.
pub(crate) async fn finish(
    writer_end: SessionEnd,
    mut reader: tokio::task::JoinHandle<SessionEnd>,
    raw: Side,
) -> SessionEnd {
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
    match (writer_end, read_end) {
        (SessionEnd::Closed { .. } | SessionEnd::Normal, Some(read_end @ SessionEnd::Closed { .. })) => read_end,
        (end, _) => end,
    }
}

impl SessionEnd {
    /// The close code this end counts as in the metrics (1006: the connection was lost).
    pub fn code(&self) -> u16 {
        match self {
            SessionEnd::Normal => 1000,
            SessionEnd::Closed { code, .. } => *code,
            SessionEnd::Io(_) => 1006,
        }
    }
}

/// Write a close frame on a connection that never joined.
async fn close_now(write: &mut WebSocketWrite<Side>, code: u16, reason: &str) {
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        write.write_frame(Frame::close(code, truncate_reason(reason).as_bytes())).await?;
        write.flush().await
    })
    .await;
}

/// Close reasons must fit a control frame (125 bytes with the code).
pub(crate) fn truncate_reason(reason: &str) -> &str {
    let mut end = reason.len().min(120);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}
