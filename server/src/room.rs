//! Per-room simulation task: owns the ECS world and advances it at a fixed tick
//! on a thread of its own, talking to sessions only through bounded channels.
//!
//! Why a thread per room and not a tokio task: a tick is CPU work. Measured with
//! `cargo bench -p arena-server --bench room_tick` (every player moving and
//! firing): 26 µs for 50 players, 148 µs for 200, 0.95 ms for 1,000. On a tokio
//! I/O worker that time would delay every socket the worker serves, and a heavy
//! room would delay the others' ticks; on its own thread the OS spreads rooms
//! over all cores and the I/O workers only move bytes. `std::thread::sleep` to
//! an absolute deadline keeps the rate without drift.

pub mod combat;
pub mod components;
pub mod input;
pub mod movement;
pub mod resources;
pub mod snapshot;
pub mod world;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use arena_protocol::{
    Input, NetId, PROTOCOL_VERSION, PlayerId, PlayerInfo, ServerMsg, Tick, Welcome, close_code, encode,
};
use bytes::Bytes;
use tokio::sync::{mpsc, watch};

use crate::rooms::{RoomInfo, Rooms};
use world::RoomWorld;

/// Inputs of about four ticks of a full room (1,000 players) before senders
/// see it as full and drop input (a client re-sends every tick anyway).
pub const ROOM_INBOX: usize = 4096;

/// Control messages (welcome, roster, kill feed) a client may have waiting.
/// A client this far behind is not reading and is disconnected.
pub const CLIENT_CONTROL_QUEUE: usize = 64;

/// What sessions send to their room.
#[derive(Debug)]
pub enum RoomInput {
    Join(JoinRequest),
    Leave(PlayerId),
    Input(PlayerId, Input),
}

/// A session asking for a body in the room. Its seat was already reserved.
#[derive(Debug)]
pub struct JoinRequest {
    pub player_id: PlayerId,
    pub name: String,
    pub outbox: ClientOutbox,
}

/// The room's side of one client's outgoing channels.
#[derive(Debug)]
pub struct ClientOutbox {
    /// Latest-wins: a slow client skips to the newest snapshot, and a close
    /// written here cannot be lost behind a full queue.
    pub feed: watch::Sender<Feed>,
    /// Ordered messages that must not be skipped.
    pub control: mpsc::Sender<Bytes>,
}

/// The newest thing a client's writer should act on.
#[derive(Clone, Debug, Default)]
pub enum Feed {
    /// Nothing yet.
    #[default]
    Waiting,
    Snapshot(OutgoingSnapshot),
    /// Send this close frame and end the connection.
    Closed {
        code: u16,
        reason: &'static str,
    },
}

/// One client's snapshot: the shared entity bytes plus its own input ack.
#[derive(Clone, Debug)]
pub struct OutgoingSnapshot {
    pub tick: Tick,
    pub last_input_seq: u32,
    /// Encoded once per tick; every client holds the same allocation.
    pub entities: Bytes,
}

impl OutgoingSnapshot {
    /// This client's whole snapshot message: its small header, then the shared bytes.
    pub fn write_message(&self, out: &mut Vec<u8>) {
        arena_protocol::snapshot::write_snapshot_frame(self.tick, self.last_input_seq, &self.entities, out);
    }
}

struct Client {
    net_id: NetId,
    name: String,
    outbox: ClientOutbox,
}

/// Start a room's thread.
pub fn spawn(info: Arc<RoomInfo>, inbox: mpsc::Receiver<RoomInput>, rooms: Arc<Rooms>) -> std::io::Result<()> {
    let task = RoomTask {
        world: RoomWorld::new(rooms.settings().clone(), info.tick_rate_hz, rand::random()),
        clients: HashMap::new(),
        inbox,
        info,
    };
    std::thread::Builder::new().name(format!("room-{}", task.info.id)).spawn(move || task.run(rooms))?;
    Ok(())
}

struct RoomTask {
    info: Arc<RoomInfo>,
    world: RoomWorld,
    clients: HashMap<PlayerId, Client>,
    inbox: mpsc::Receiver<RoomInput>,
}

/// Takes the room out of the directory however its thread ends, panics included.
struct Deregister<'a> {
    rooms: &'a Rooms,
    id: String,
}

impl Drop for Deregister<'_> {
    fn drop(&mut self) {
        self.rooms.remove(&self.id);
    }
}

impl RoomTask {
    fn run(mut self, rooms: Arc<Rooms>) {
        let _deregister = Deregister { rooms: &rooms, id: self.info.id.clone() };
        let span = tracing::info_span!("room", room = %self.info.id);
        let _entered = span.enter();
        tracing::info!(capacity = self.info.capacity, tick_rate_hz = self.info.tick_rate_hz, "room open");

        let period = Duration::from_secs_f64(1.0 / f64::from(self.info.tick_rate_hz));
        let mut next_tick = Instant::now() + period;
        let mut empty_since = Some(Instant::now());
        loop {
            if self.info.stopping.load(Ordering::Acquire) {
                self.close_all(close_code::GOING_AWAY, "server shutting down");
                break;
            }
            let started = Instant::now();
            self.drain_inbox();
            let tick = self.world.step();
            self.publish(tick);
            self.info.record_tick(started.elapsed());

            if self.clients.is_empty() {
                let since = *empty_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= rooms.empty_room_grace() && rooms.remove_if_empty(&self.info) {
                    tracing::info!("room closed after staying empty");
                    break;
                }
            } else {
                empty_since = None;
            }

            // Fixed rate against absolute deadlines. A room that falls more than
            // one tick behind skips ahead instead of bursting to catch up.
            let now = Instant::now();
            if now < next_tick {
                std::thread::sleep(next_tick - now);
                next_tick += period;
            } else {
                self.info.late_ticks.fetch_add(1, Ordering::Relaxed);
                next_tick = if now - next_tick > period { now + period } else { next_tick + period };
            }
        }
    }

    /// Apply everything sessions sent since the last tick. Bounded by the
    /// inbox's capacity so a flood cannot stretch one tick without end.
    fn drain_inbox(&mut self) {
        for _ in 0..ROOM_INBOX {
            match self.inbox.try_recv() {
                Ok(RoomInput::Input(player, input)) => self.world.push_input(player, input),
                Ok(RoomInput::Join(join)) => self.join(join),
                Ok(RoomInput::Leave(player)) => self.leave(player),
                Err(_) => break,
            }
        }
    }

    fn join(&mut self, join: JoinRequest) {
        let net_id = self.world.add_player(join.player_id);
        let s = self.world.settings();
        let welcome = ServerMsg::Welcome(Welcome {
            protocol_version: PROTOCOL_VERSION,
            player_id: join.player_id,
            net_id,
            room_id: self.info.id.clone(),
            room_name: self.info.name.clone(),
            tick_rate_hz: self.info.tick_rate_hz,
            snapshot_rate_hz: self.info.tick_rate_hz,
            arena_size: glam::Vec2::new(s.arena_width, s.arena_height),
            player_radius: s.player_radius,
            projectile_radius: s.projectile_radius,
            player_speed: s.player_speed,
            max_health: s.max_health,
        });
        // A fresh queue always has room for the welcome.
        let _ = join.outbox.control.try_send(Bytes::from(encode(&welcome)));
        tracing::debug!(player = %join.player_id, name = %join.name, "player joined");
        self.clients.insert(join.player_id, Client { net_id, name: join.name, outbox: join.outbox });
        self.info.players.store(self.clients.len(), Ordering::Relaxed);
        self.broadcast_roster();
    }

    fn leave(&mut self, player: PlayerId) {
        if self.clients.remove(&player).is_some() {
            self.world.remove_player(player);
            tracing::debug!(%player, "player left");
            self.info.players.store(self.clients.len(), Ordering::Relaxed);
            self.broadcast_roster();
        }
    }

    /// Hand this tick's snapshot to every client, and the kill feed if any.
    fn publish(&mut self, tick: Tick) {
        let Some(body) = self.world.take_snapshot() else { return };
        let entities = Bytes::from(body.encoded_entities);
        let mut gone = Vec::new();
        for (&player, client) in &self.clients {
            if client.outbox.feed.is_closed() {
                gone.push(player);
                continue;
            }
            let last_input_seq = self.world.last_input_seq(player);
            client.outbox.feed.send_replace(Feed::Snapshot(OutgoingSnapshot {
                tick,
                last_input_seq,
                entities: entities.clone(),
            }));
        }
        for kill in self.world.take_kills() {
            gone.extend(self.broadcast(&ServerMsg::Kill(kill)));
        }
        for player in gone {
            self.leave(player);
        }
    }

    fn broadcast_roster(&mut self) {
        let mut roster: Vec<PlayerInfo> = self
            .clients
            .iter()
            .map(|(&player_id, c)| PlayerInfo { player_id, net_id: c.net_id, name: c.name.clone() })
            .collect();
        roster.sort_by_key(|p| p.player_id);
        for player in self.broadcast(&ServerMsg::Roster(roster)) {
            self.leave(player);
        }
    }

    /// Encode once, queue for everyone. Returns the clients whose queue was
    /// full: they are told they are too slow and must be removed.
    fn broadcast(&self, msg: &ServerMsg) -> Vec<PlayerId> {
        let bytes = Bytes::from(encode(msg));
        let mut too_slow = Vec::new();
        for (&player, client) in &self.clients {
            if client.outbox.control.try_send(bytes.clone()).is_err() {
                client.outbox.feed.send_replace(Feed::Closed { code: close_code::TOO_SLOW, reason: "too slow" });
                too_slow.push(player);
            }
        }
        too_slow
    }

    fn close_all(&mut self, code: u16, reason: &'static str) {
        for client in self.clients.values() {
            client.outbox.feed.send_replace(Feed::Closed { code, reason });
        }
        self.clients.clear();
        self.info.players.store(0, Ordering::Relaxed);
    }
}
