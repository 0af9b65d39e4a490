//! The room's thread: drain the inbox, step the world, hand out snapshots and
//! events, keep rounds and reconnection holds, all at a fixed rate.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use arena_protocol::{
    ChatLine, NetId, Notice, PROTOCOL_VERSION, PlayerId, PlayerInfo, RoomEvent, RosterChange, RoundResults, RoundStart,
    SCOREBOARD_SIZE, ServerMsg, Standing, Welcome, close_code, encode,
};
use bytes::Bytes;
use tokio::sync::mpsc;

use super::clients::{Client, Clients};
use super::encoder::{SentViews, SnapshotEncoder};
use super::rounds::{MatchEvent, RoundOutcome};
use super::world::RoomWorld;
use super::{AdminCommand, Feed, JoinRequest, OutgoingSnapshot, ROOM_INBOX, RoomInput};
use crate::results::{PlayerRecord, ResultsLog, RoundRecord};
use crate::rooms::{RoomInfo, Rooms, Seat};

/// How long a client whose connection ended waits for its session's leave
/// before it is removed anyway.
const LEAVE_WAIT: Duration = Duration::from_secs(5);

pub struct RoomTask {
    info: Arc<RoomInfo>,
    world: RoomWorld,
    clients: Clients,
    inbox: mpsc::Receiver<RoomInput>,
    results: Arc<ResultsLog>,
    reconnect_grace: Duration,
    round_results_s: f32,
    /// Joins and leaves since the last tick, sent with the tick.
    presence: Vec<RoomEvent>,
    /// The roster's changes since they were last sent.
    roster_change: RosterChange,
    encoder: SnapshotEncoder,
}

/// A lagging client gets one snapshot of this many ticks.
const LAGGING_SNAPSHOT_EVERY: u32 = 4;

/// More joins and leaves than this in one tick are summed up by the roster alone.
const PRESENCE_EVENTS_PER_TICK: usize = 8;

/// Takes the room out of the directory however its thread ends, panics included.
struct Deregister<'a> {
    rooms: &'a Rooms,
    info: &'a RoomInfo,
}

impl Drop for Deregister<'_> {
    fn drop(&mut self) {
        self.rooms.remove(&self.info.id);
    }
}

/// Why a room is closing, for its clients and its log.
struct Closing {
    code: u16,
    reason: String,
}

impl RoomTask {
    pub fn new(info: Arc<RoomInfo>, inbox: mpsc::Receiver<RoomInput>, rooms: &Rooms) -> RoomTask {
        let d = rooms.defaults();
        RoomTask {
            world: RoomWorld::new(d.settings.clone(), info.rules, info.tick_rate_hz, rand::random()),
            clients: Clients::default(),
            inbox,
            results: d.results.clone(),
            reconnect_grace: d.reconnect_grace,
            round_results_s: d.settings.round_results_s,
            presence: Vec::new(),
            roster_change: RosterChange::default(),
            encoder: SnapshotEncoder::default(),
            info,
        }
    }

    pub fn run(mut self, rooms: Arc<Rooms>) {
        let info = self.info.clone();
        let _deregister = Deregister { rooms: &rooms, info: &info };
        let span = tracing::info_span!("room", room = %info.id);
        let _entered = span.enter();
        tracing::info!(name = %info.name, capacity = info.capacity, tick_rate_hz = info.tick_rate_hz, "room open");

        let period = Duration::from_secs_f64(1.0 / f64::from(info.tick_rate_hz));
        let mut next_tick = Instant::now() + period;
        let mut empty_since = Some(Instant::now());
        let closing = loop {
            if info.stopping.load(Ordering::Acquire) {
                break Closing { code: close_code::GOING_AWAY, reason: crate::server::SHUTTING_DOWN.into() };
            }
            let started = Instant::now();
            // A panic in one tick (a bug in a rule) stops this room only.
            let ticked = std::panic::catch_unwind(AssertUnwindSafe(|| {
                if let Some(closing) = self.drain_inbox() {
                    return Some(closing);
                }
                let tick = self.world.step();
                self.handle_match_events();
                self.publish(tick);
                if tick.0.is_multiple_of(u32::from(self.info.tick_rate_hz)) {
                    self.publish_scores();
                }
                self.publish_presence();
                self.expire_holds();
                None
            }));
            match ticked {
                Ok(Some(closing)) => break closing,
                Ok(None) => {}
                Err(panic) => {
                    let what = panic_message(&*panic);
                    tracing::error!(panic = %what, "room tick panicked; closing the room");
                    crate::metrics::handles().room_panics.increment(1);
                    break Closing { code: close_code::INTERNAL_ERROR, reason: "the room failed; join another".into() };
                }
            }
            let took = started.elapsed();
            info.record_tick(took);
            crate::metrics::handles().tick_seconds.record(took.as_secs_f64());
            crate::monitor::telemetry().record_tick(took);

            if self.clients.map.is_empty() {
                let since = *empty_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= rooms.defaults().empty_room_grace && rooms.remove_if_empty(&info) {
                    tracing::info!("room closed after staying empty");
                    return;
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
                info.late_ticks.fetch_add(1, Ordering::Relaxed);
                crate::metrics::handles().ticks_late.increment(1);
                next_tick = if now - next_tick > period { now + period } else { next_tick + period };
            }
        };
        self.close(closing);
    }

    /// Apply everything sent since the last tick, at most one inbox-full so a
    /// flood cannot stretch a tick without end. Returns a close order if one came.
    fn drain_inbox(&mut self) -> Option<Closing> {
        for _ in 0..ROOM_INBOX {
            match self.inbox.try_recv() {
                Ok(RoomInput::Input(player, input)) => {
                    let Some(client) = self.clients.map.get_mut(&player) else { continue };
                    // Spectators' inputs carry only their acknowledgements.
                    client.views.acknowledge(input.ack_tick);
                    if !client.spectator {
                        self.world.push_input(player, input);
                    }
                }
                Ok(RoomInput::Join(join)) => self.join(join),
                Ok(RoomInput::Leave { player_id, connection, seat }) => self.leave(player_id, connection, seat),
                Ok(RoomInput::Chat(player, text)) => self.chat(player, text),
                Ok(RoomInput::Admin(AdminCommand::Announce(text))) => {
                    self.broadcast(&ServerMsg::Event(RoomEvent::Announcement(Notice { text })));
                }
                Ok(RoomInput::Admin(AdminCommand::Kick { player_id, reason, done })) => {
                    let found = self.clients.map.contains_key(&player_id);
                    if found {
                        self.clients.close(player_id, close_code::KICKED, &reason);
                        self.remove(player_id);
                    }
                    let _ = done.send(found);
                }
                Ok(RoomInput::Admin(AdminCommand::Fault)) => self.world.inject_fault(),
                Ok(RoomInput::Admin(AdminCommand::Close(reason))) => {
                    return Some(Closing { code: close_code::ROOM_CLOSED, reason });
                }
                Err(_) => break,
            }
        }
        None
    }

    fn welcome(&self, identity: PlayerId, net_id: NetId, spectator: bool) -> Bytes {
        let s = self.world.settings();
        let game = self.world.match_state();
        Bytes::from(encode(&ServerMsg::Welcome(Welcome {
            protocol_version: PROTOCOL_VERSION,
            player_id: identity,
            net_id,
            room_id: self.info.id.clone(),
            room_name: self.info.name.clone(),
            tick_rate_hz: self.info.tick_rate_hz,
            snapshot_rate_hz: self.info.snapshot_rate_hz,
            arena_size: glam::Vec2::new(s.arena_width, s.arena_height),
            player_radius: s.player_radius,
            projectile_radius: s.projectile_radius,
            player_speed: s.player_speed,
            max_health: s.max_health,
            spectator,
            round: RoundStart {
                round: game.round,
                score_limit: game.rules.score_limit,
                time_limit_s: game.rules.time_limit_s,
            },
        })))
    }

    fn join(&mut self, join: JoinRequest) {
        let player = join.identity.player_id;
        if let Some(existing) = self.clients.map.get_mut(&player) {
            // The same player again: a reconnection, or a second tab. The newest connection wins.
            if let Some(old) = existing.outbox.take() {
                old.feed.send_replace(Feed::Closed {
                    code: close_code::REPLACED,
                    reason: "you connected again from elsewhere".into(),
                });
            }
            existing.connection = join.connection;
            existing.held_until = None;
            existing.views.reset();
            let (net_id, spectator) = (existing.net_id, existing.spectator);
            let _ = join.outbox.control.try_send(self.welcome(player, net_id, spectator));
            if let Some(existing) = self.clients.map.get_mut(&player) {
                existing.outbox = Some(join.outbox);
            }
            self.send_roster(player);
            self.world.release_controls(player);
            tracing::debug!(%player, "player reconnected");
            return;
        }
        let name = self.clients.unique_name(&join.identity.name);
        let net_id = if join.spectator { NetId(0) } else { self.world.add_player(player) };
        // A fresh queue always has room for the welcome.
        let _ = join.outbox.control.try_send(self.welcome(player, net_id, join.spectator));
        tracing::debug!(%player, %name, spectator = join.spectator, "joined");
        let info = PlayerInfo { player_id: player, net_id, name: name.clone() };
        self.clients.map.insert(
            player,
            Client {
                identity: join.identity,
                name,
                spectator: join.spectator,
                net_id,
                connection: join.connection,
                outbox: Some(join.outbox),
                held_until: None,
                views: SentViews::default(),
            },
        );
        self.update_counts();
        self.send_roster(player);
        // A player who left and came back within the tick is simply in the roster.
        self.roster_change.left.retain(|&p| p != player);
        self.roster_change.joined.push(info.clone());
        self.presence.push(RoomEvent::Joined(info));
    }

    /// The whole roster, to one client that just joined or reconnected.
    fn send_roster(&self, player: PlayerId) {
        let Some(outbox) = self.clients.map.get(&player).and_then(|c| c.outbox.as_ref()) else { return };
        let roster = Bytes::from(encode(&ServerMsg::Roster(self.clients.roster())));
        // Right after the welcome in a fresh queue, so there is room.
        let _ = outbox.control.try_send(roster);
    }

    fn leave(&mut self, player: PlayerId, connection: u64, seat: Option<Seat>) {
        let Some(client) = self.clients.map.get_mut(&player) else { return };
        if client.connection != connection {
            return; // An older connection of a player who is connected again.
        }
        let can_hold = client.identity.verified && !client.spectator && !self.reconnect_grace.is_zero();
        match seat {
            Some(seat) if can_hold => {
                client.outbox = None;
                client.held_until = Some(Instant::now() + self.reconnect_grace);
                self.world.release_controls(player);
                self.info.hold_for_reconnect(player, seat);
                tracing::debug!(%player, "player dropped; holding their place");
            }
            _ => self.remove(player),
        }
    }

    /// Players whose reconnection grace ran out leave for good (so do clients
    /// whose connection ended without a leave reaching us).
    fn expire_holds(&mut self) {
        let now = Instant::now();
        let expired: Vec<PlayerId> = self
            .clients
            .map
            .iter()
            .filter(|(_, c)| c.held_until.is_some_and(|until| until <= now))
            .map(|(&p, _)| p)
            .collect();
        for player in expired {
            self.info.release_held(player);
            self.remove(player);
        }
    }

    fn remove(&mut self, player: PlayerId) {
        let Some(client) = self.clients.map.remove(&player) else { return };
        if !client.spectator {
            self.world.remove_player(player);
        }
        tracing::debug!(%player, "left");
        self.update_counts();
        let info = PlayerInfo { player_id: player, net_id: client.net_id, name: client.name };
        self.roster_change.joined.retain(|p| p.player_id != player);
        self.roster_change.left.push(player);
        self.presence.push(RoomEvent::Left(info));
    }

    fn chat(&mut self, player: PlayerId, text: String) {
        let Some(client) = self.clients.map.get(&player) else { return };
        let line = ChatLine { player_id: player, name: client.name.clone(), text };
        self.broadcast(&ServerMsg::Chat(line));
    }

    fn update_counts(&self) {
        let (players, spectators) = self.clients.counts();
        self.info.players.store(players, Ordering::Relaxed);
        self.info.spectators.store(spectators, Ordering::Relaxed);
    }

    /// Broadcast, then remove whoever was too slow to take it.
    fn broadcast(&mut self, msg: &ServerMsg) {
        for player in self.clients.broadcast(msg) {
            self.remove(player);
        }
    }

    /// Joins and leaves of this tick, then the roster once. A crowd joining at once
    /// is summed up by the roster instead of one event each.
    fn publish_presence(&mut self) {
        let events = std::mem::take(&mut self.presence);
        if events.len() <= PRESENCE_EVENTS_PER_TICK {
            for event in events {
                self.broadcast(&ServerMsg::Event(event));
            }
        }
        // Only the changes go to everyone (a room of 1,000 would otherwise send its
        // whole roster to all 1,000 each time someone comes or goes). Removing a
        // too-slow client changes the roster again: loop until it settles.
        while !(self.roster_change.joined.is_empty() && self.roster_change.left.is_empty()) {
            let change = std::mem::take(&mut self.roster_change);
            self.broadcast(&ServerMsg::RosterChange(change));
        }
        self.presence.clear();
    }

    fn handle_match_events(&mut self) {
        for event in self.world.take_match_events() {
            match event {
                MatchEvent::RoundOver(outcome) => {
                    self.info.in_results.store(true, Ordering::Relaxed);
                    let results = self.results_of(&outcome, self.round_results_s);
                    self.record(&results);
                    self.broadcast(&ServerMsg::Event(RoomEvent::RoundOver(results)));
                }
                MatchEvent::RoundStarted { round } => {
                    self.info.round.store(round, Ordering::Relaxed);
                    self.info.in_results.store(false, Ordering::Relaxed);
                    let rules = self.info.rules;
                    self.broadcast(&ServerMsg::Event(RoomEvent::RoundStarted(RoundStart {
                        round,
                        score_limit: rules.score_limit,
                        time_limit_s: rules.time_limit_s,
                    })));
                }
            }
        }
    }

    fn results_of(&self, outcome: &RoundOutcome, next_round_in_s: f32) -> RoundResults {
        RoundResults {
            round: outcome.round,
            reason: outcome.reason.into(),
            duration_s: outcome.duration_s,
            next_round_in_s,
            standings: outcome
                .standings
                .iter()
                .map(|&(player_id, kills, deaths)| Standing {
                    player_id,
                    name: self.clients.name_of(player_id),
                    kills,
                    deaths,
                })
                .collect(),
        }
    }

    /// Hand a finished round to the results log (never waits: a full queue drops it, loudly).
    fn record(&self, results: &RoundResults) {
        let record = RoundRecord {
            room_id: self.info.id.clone(),
            room_name: self.info.name.clone(),
            round: results.round,
            reason: results.reason.clone(),
            ended_at_ms: crate::rooms::unix_ms_after(Duration::ZERO),
            duration_s: results.duration_s,
            players: results
                .standings
                .iter()
                .map(|s| PlayerRecord {
                    player_id: s.player_id,
                    name: s.name.clone(),
                    kills: s.kills,
                    deaths: s.deaths,
                })
                .collect(),
        };
        self.results.submit(record);
    }

    /// The leaders' kills and deaths, best first (the scoreboard).
    fn publish_scores(&mut self) {
        let standings = self
            .world
            .standings()
            .into_iter()
            // The leaders only: every client gets this each second, in rooms of up to 1,000.
            .take(SCOREBOARD_SIZE)
            .map(|(player_id, kills, deaths)| Standing {
                player_id,
                name: self.clients.name_of(player_id),
                kills,
                deaths,
            })
            .collect();
        self.broadcast(&ServerMsg::Scores(standings));
    }

    /// Ticks a client's newest acknowledgement may lag before its snapshots are thinned:
    /// half a second, or three snapshot intervals when snapshots are rarer than that.
    fn ack_lag_limit(&self) -> i32 {
        let (ticks, snapshots) = (i32::from(self.info.tick_rate_hz), i32::from(self.info.snapshot_rate_hz.max(1)));
        (ticks / 2).max(3 * ticks / snapshots)
    }

    /// Whether this tick's snapshot goes out: `snapshot_rate_hz` of every `tick_rate_hz` ticks, evenly spread.
    fn snapshot_due(&self, tick: arena_protocol::Tick) -> bool {
        let (snapshots, ticks) = (u64::from(self.info.snapshot_rate_hz), u64::from(self.info.tick_rate_hz));
        let n = u64::from(tick.0);
        snapshots >= ticks || (n * snapshots / ticks) != (n.saturating_sub(1) * snapshots / ticks)
    }

    /// Hand this tick's snapshot to every connected client (when one is due), and the kill feed.
    fn publish(&mut self, tick: arena_protocol::Tick) {
        for kill in self.world.take_kills() {
            self.broadcast(&ServerMsg::Kill(kill));
        }
        let Some(mut snapshot) = self.world.take_snapshot() else { return };
        let grid = self.world.interest_grid();
        for client in self.clients.map.values_mut() {
            // The connection ended; its session's leave is on the way and decides
            // whether the player is held for a reconnection. Until then, nothing to send.
            if client.outbox.as_ref().is_some_and(|o| o.feed.is_closed()) {
                client.outbox = None;
                client.held_until.get_or_insert(Instant::now() + LEAVE_WAIT);
            }
        }
        if !self.snapshot_due(tick) {
            return;
        }
        let player_cells = std::mem::take(&mut snapshot.player_cells);
        self.encoder.begin(snapshot);
        let lag_limit = self.ack_lag_limit();
        for (&player, client) in &mut self.clients.map {
            let Some(outbox) = &client.outbox else { continue };
            // A client whose acknowledgements fall far behind is not keeping up (a slow
            // link, a busy machine, a background tab): it gets every 4th snapshot until
            // it catches up, instead of a backlog piling up in its buffers.
            let lagging = client.views.ack_lag(tick).is_some_and(|lag| lag > lag_limit);
            if lagging && !tick.0.is_multiple_of(LAGGING_SNAPSHOT_EVERY) {
                continue;
            }
            let last_input_seq = if client.spectator { 0 } else { self.world.last_input_seq(player) };
            // Spectators, and players without a body, see the whole arena.
            let view = match (client.spectator, player_cells.get(&player)) {
                (false, Some(&cell)) => grid.visible_from(cell),
                _ => grid.everything(),
            };
            let (kind, body) = self.encoder.body(view, client.views.baseline());
            client.views.record(tick, view);
            outbox.feed.send_replace(Feed::Snapshot(OutgoingSnapshot { kind, tick, last_input_seq, body }));
        }
        crate::metrics::handles().snapshot_bodies.increment(self.encoder.distinct_bodies() as u64);
    }

    /// The round being played, as results cut short for `reason`; None between rounds or with nobody in it.
    fn round_in_progress(&mut self, reason: &'static str) -> Option<RoundResults> {
        if self.world.player_count() == 0 || !self.world.match_state().is_playing() {
            return None;
        }
        let outcome = RoundOutcome {
            round: self.world.match_state().round,
            reason,
            duration_s: self.world.round_elapsed_s(),
            standings: self.world.standings(),
        };
        Some(self.results_of(&outcome, 0.0))
    }

    /// Close every client with `closing`, logging the round in progress.
    fn close(mut self, closing: Closing) {
        // After a panic the world may be inconsistent; its results are still worth a try.
        let why = if closing.code == close_code::INTERNAL_ERROR { "room_failed" } else { "room_closed" };
        let results = std::panic::catch_unwind(AssertUnwindSafe(|| self.round_in_progress(why)));
        match results {
            Ok(Some(results)) => self.record(&results),
            Ok(None) => {}
            Err(_) => tracing::error!("could not read the failed room's standings"),
        }
        self.clients.broadcast(&ServerMsg::Event(RoomEvent::Closing(Notice { text: closing.reason.clone() })));
        let players: Vec<PlayerId> = self.clients.map.keys().copied().collect();
        for player in players {
            self.clients.close(player, closing.code, &closing.reason);
            // Held seats point back at this room: let them go.
            self.info.release_held(player);
        }
        self.refuse_queued(&closing);
        self.info.players.store(0, Ordering::Relaxed);
        self.info.spectators.store(0, Ordering::Relaxed);
        tracing::info!(reason = %closing.reason, "room closed");
    }

    /// Shut the inbox and answer what is still queued in it: a player whose join
    /// had not been read yet hears the room's own code and reason, not a bare 4004.
    fn refuse_queued(&mut self, closing: &Closing) {
        self.inbox.close();
        while let Ok(input) = self.inbox.try_recv() {
            match input {
                RoomInput::Join(join) => {
                    let Closing { code, reason } = closing;
                    join.outbox.feed.send_replace(Feed::Closed { code: *code, reason: reason.clone() });
                }
                RoomInput::Admin(AdminCommand::Kick { done, .. }) => {
                    let _ = done.send(false);
                }
                _ => {}
            }
        }
    }
}

/// The text of a panic payload, for the log.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
