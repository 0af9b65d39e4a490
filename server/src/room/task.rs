//! The room's thread: at a fixed rate, drain the inbox, step the world, publish
//! snapshots and events, and keep rounds; close everyone when the room ends.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use arena_protocol::{
    Notice, PlayerId, RoomEvent, RoundResults, RoundStart, SCOREBOARD_SIZE, ServerMsg, Standing, Tick, close_code,
};
use tokio::sync::mpsc;

use super::clients::Client;
use super::house_bots::BotFill;
use super::kill_feed::KillAudience;
use super::membership::Membership;
use super::pacing;
use super::publish::Publisher;
use super::rounds::{MatchEvent, RoundOutcome};
use super::world::RoomWorld;
use super::{AdminCommand, BotsNow, Latest, ROOM_INBOX, RoomInput, RoomLink, RoomSetup, RoomSpec, RoomStatus};
use crate::identity::is_bot;
use crate::ops::results::{PlayerRecord, ResultsLog, RoundRecord};
use crate::ops::{metrics, telemetry, unix_ms_after};
use crate::replay::RoundRecorder;
use crate::shutdown::SHUTTING_DOWN;

pub struct RoomTask {
    spec: Arc<RoomSpec>,
    status: Arc<RoomStatus>,
    world: RoomWorld,
    members: Membership,
    publisher: Publisher,
    inbox: mpsc::Receiver<RoomInput>,
    results: Arc<ResultsLog>,
    /// This round's replay (disabled when the room or the server opted out).
    recorder: RoundRecorder,
    /// The reason a round ended in this tick: its recording ends with the tick.
    round_ended: Option<String>,
    empty_room_grace: Duration,
    round_results_s: f32,
}

/// Tells the owner the room has ended however its thread ends, panics included.
struct EndedGuard<'a>(&'a dyn RoomLink);

impl Drop for EndedGuard<'_> {
    fn drop(&mut self) {
        self.0.ended();
    }
}

/// Why a room is closing, for its clients and its log.
struct Closing {
    code: u16,
    reason: String,
}

impl RoomTask {
    pub fn new(
        spec: Arc<RoomSpec>,
        status: Arc<RoomStatus>,
        inbox: mpsc::Receiver<RoomInput>,
        setup: &RoomSetup,
    ) -> RoomTask {
        RoomTask {
            world: RoomWorld::new(setup.settings.clone(), spec.rules, spec.tick_rate_hz, rand::random()),
            members: Membership::new(spec.clone(), status.clone(), setup.reconnect_grace),
            publisher: Publisher::new(spec.tick_rate_hz, spec.snapshot_rate_hz),
            inbox,
            results: setup.results.clone(),
            recorder: RoundRecorder::new(setup.replays.clone().filter(|_| spec.replays), spec.tick_rate_hz),
            round_ended: None,
            empty_room_grace: setup.empty_room_grace,
            round_results_s: setup.settings.round_results_s,
            spec,
            status,
        }
    }

    pub fn run(mut self, link: Box<dyn RoomLink>) {
        let _ended = EndedGuard(&*link);
        let span = tracing::info_span!("room", room = %self.spec.id);
        let _entered = span.enter();
        let spec = self.spec.clone();
        tracing::info!(name = %spec.name, capacity = spec.capacity, tick_rate_hz = spec.tick_rate_hz, "room open");

        let period = Duration::from_secs_f64(1.0 / f64::from(spec.tick_rate_hz));
        let mut next_tick = Instant::now() + period;
        let mut empty_since = Some(Instant::now());
        let closing = loop {
            if self.status.stop_requested() {
                break Closing { code: close_code::GOING_AWAY, reason: SHUTTING_DOWN.into() };
            }
            let started = Instant::now();
            // A panic in one tick (a bug in a rule) stops this room only.
            match std::panic::catch_unwind(AssertUnwindSafe(|| self.tick())) {
                Ok(Some(closing)) => break closing,
                Ok(None) => {}
                Err(panic) => {
                    tracing::error!(panic = %panic_message(&*panic), "room tick panicked; closing the room");
                    metrics::handles().room_panics.increment(1);
                    break Closing { code: close_code::INTERNAL_ERROR, reason: "the room failed; join another".into() };
                }
            }
            self.record_tick(started.elapsed());

            if self.members.is_empty() {
                let since = *empty_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= self.empty_room_grace && link.close_if_empty() {
                    tracing::info!("room closed after staying empty");
                    return;
                }
            } else {
                empty_since = None;
            }
            next_tick = self.sleep_until_next(next_tick, period);
        };
        self.close(closing, &*link);
    }

    /// One tick; a close order from the inbox ends the room instead.
    fn tick(&mut self) -> Option<Closing> {
        if let Some(closing) = self.drain_inbox() {
            return Some(closing);
        }
        // After this tick's joins and leaves: a person takes a bot's place in the same tick.
        self.members.fill_bots(&mut self.world);
        let tick = self.world.step();
        self.handle_match_events();
        self.begin_recording_if_due();
        self.publish(tick);
        if tick.0.is_multiple_of(u32::from(self.spec.tick_rate_hz)) {
            self.publish_scores();
        }
        self.members.publish_presence(&mut self.world);
        self.members.expire_holds(Instant::now(), &mut self.world);
        self.hand_over_events(tick);
        if let Some(reason) = self.round_ended.take() {
            self.end_recording(tick, reason);
        }
        None
    }

    /// A round being played with someone in it and no recording yet: begin one.
    fn begin_recording_if_due(&mut self) {
        let playing = self.world.match_state().is_playing() && self.world.player_count() > 0;
        if !(playing && self.recorder.ready_to_begin()) {
            return;
        }
        let header = super::replay_header::header(&self.spec, &self.world, &self.members, &self.recorder);
        self.recorder.begin(header);
        self.members.keep_for_replay(self.recorder.is_recording());
    }

    /// This tick's broadcasts, as sent, to the recording.
    fn hand_over_events(&mut self, tick: Tick) {
        for bytes in self.members.take_for_replay() {
            self.recorder.event(tick, bytes);
        }
    }

    fn end_recording(&mut self, tick: Tick, reason: String) {
        if self.recorder.is_recording() {
            let ended_at_ms = unix_ms_after(Duration::ZERO);
            self.recorder.end(arena_protocol::replay::ReplayEnd { tick, reason, ended_at_ms });
        }
        self.members.keep_for_replay(false);
    }

    fn record_tick(&self, took: Duration) {
        self.status.record_tick(took);
        metrics::handles().tick_seconds.record(took.as_secs_f64());
        telemetry::telemetry().record_tick(took);
    }

    /// Wait for the next tick (`pacing`), counting a late one. Returns the next deadline.
    fn sleep_until_next(&self, next_tick: Instant, period: Duration) -> Instant {
        let (next, late) = pacing::wait_for_next(next_tick, period);
        if late {
            self.status.late_ticks.fetch_add(1, Ordering::Relaxed);
            metrics::handles().ticks_late.increment(1);
        }
        next
    }

    /// Apply everything sent since the last tick, at most one inbox-full so a
    /// flood cannot stretch a tick without end. Returns a close order if one came.
    fn drain_inbox(&mut self) -> Option<Closing> {
        let world = &mut self.world;
        for _ in 0..ROOM_INBOX {
            match self.inbox.try_recv() {
                Ok(RoomInput::Input(player, input)) => {
                    let Some(client) = self.members.clients.map.get_mut(&player) else { continue };
                    // Spectators' inputs carry only their acknowledgements.
                    client.views.acknowledge(input.ack_tick);
                    if !client.spectator {
                        world.push_input(player, input);
                    }
                }
                Ok(RoomInput::Join(join)) => self.members.join(join, world),
                Ok(RoomInput::Leave { player_id, connection, seat }) => {
                    self.members.leave(player_id, connection, seat, world, Instant::now());
                }
                Ok(RoomInput::Chat(player, text)) => self.members.chat(player, text, world, Instant::now()),
                Ok(RoomInput::Admin(AdminCommand::Announce(text))) => {
                    self.members.broadcast(&ServerMsg::Event(RoomEvent::Announcement(Notice { text })), world);
                }
                Ok(RoomInput::Admin(AdminCommand::Kick { player_id, reason, done })) => {
                    let _ = done.send(self.members.kick(player_id, &reason, world));
                }
                Ok(RoomInput::Admin(AdminCommand::Fault)) => world.inject_fault(),
                Ok(RoomInput::Admin(AdminCommand::Bots { change, done })) => {
                    let old = self.members.crew.fill;
                    let fill = BotFill {
                        fill_to: change.fill_to.unwrap_or(old.fill_to),
                        difficulty: change.difficulty.unwrap_or(old.difficulty),
                    };
                    self.members.set_bots(fill, world);
                    let _ = done.send(BotsNow { fill, playing: self.members.crew.members.len() });
                }
                Ok(RoomInput::Admin(AdminCommand::Close(reason))) => {
                    return Some(Closing { code: close_code::ROOM_CLOSED, reason });
                }
                Err(_) => break,
            }
        }
        None
    }

    fn handle_match_events(&mut self) {
        for event in self.world.take_match_events() {
            match event {
                MatchEvent::RoundOver(outcome) => {
                    self.status.in_results.store(true, Ordering::Relaxed);
                    let results = self.results_of(&outcome, self.round_results_s);
                    self.record(&results);
                    self.round_ended = Some(results.reason.clone());
                    self.members.broadcast(&ServerMsg::Event(RoomEvent::RoundOver(results)), &mut self.world);
                }
                MatchEvent::RoundStarted { round } => {
                    self.status.round.store(round, Ordering::Relaxed);
                    self.status.in_results.store(false, Ordering::Relaxed);
                    self.recorder.round_started();
                    let rules = self.spec.rules;
                    let start = RoundStart { round, score_limit: rules.score_limit, time_limit_s: rules.time_limit_s };
                    self.members.broadcast(&ServerMsg::Event(RoomEvent::RoundStarted(start)), &mut self.world);
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
            standings: self.standings(outcome.standings.iter().copied()),
        }
    }

    fn standings(&self, scores: impl Iterator<Item = (PlayerId, u32, u32)>) -> Vec<Standing> {
        scores
            .map(|(player_id, kills, deaths)| Standing {
                player_id,
                name: self.members.name_of(player_id),
                kills,
                deaths,
                bot: is_bot(player_id),
            })
            .collect()
    }

    /// Hand a finished round to the results log (never waits: a full queue drops it, loudly).
    /// A round only bots played (a room waiting out its empty grace) is nobody's result.
    fn record(&self, results: &RoundResults) {
        if results.standings.iter().all(|s| s.bot) {
            return;
        }
        let record = RoundRecord {
            room_id: self.spec.id.clone(),
            room_name: self.spec.name.clone(),
            round: results.round,
            reason: results.reason.clone(),
            ended_at_ms: unix_ms_after(Duration::ZERO),
            duration_s: results.duration_s,
            players: results
                .standings
                .iter()
                .map(|s| PlayerRecord {
                    player_id: s.player_id,
                    name: s.name.clone(),
                    kills: s.kills,
                    deaths: s.deaths,
                    bot: s.bot,
                })
                .collect(),
        };
        self.results.submit(record);
    }

    /// The leaders' kills and deaths, best first (the scoreboard).
    fn publish_scores(&mut self) {
        // The leaders only: every client gets this each second, in rooms of up to 1,000.
        let scores = self.world.standings();
        let leaders = self.standings(scores.into_iter().take(SCOREBOARD_SIZE));
        self.members.broadcast(&ServerMsg::Scores(leaders), &mut self.world);
    }

    /// The kill feed, then this tick's snapshot to every connected client (when one is due).
    fn publish(&mut self, tick: Tick) {
        let snapshot = self.world.take_snapshot();
        let audience = KillAudience::new(self.world.interest_grid(), snapshot.as_ref().map(|s| &s.player_cells));
        for kill in self.world.take_kills() {
            let hears = |player, client: &Client| audience.hears(&kill, player, client.spectator);
            self.members.send_to(&ServerMsg::Kill(kill.kill), &mut self.world, hears);
        }
        let Some(snapshot) = snapshot else { return };
        self.members.notice_ended_connections(Instant::now());
        if !self.publisher.snapshot_due(tick) {
            return;
        }
        let grid = self.world.interest_grid();
        let world = &self.world;
        let bodies =
            self.publisher.publish(tick, snapshot, &grid, &mut self.members.clients, |p| world.last_input_seq(p));
        metrics::handles().snapshot_bodies.increment(bodies as u64);
        // The frame every spectator's snapshot was built from, shared with the recording.
        if self.recorder.frame_due(tick)
            && let Some(frame) = self.publisher.current_frame()
        {
            self.recorder.frame(tick, frame);
        }
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

    /// Log the round in progress, leave the lobby, then close every client with `closing`.
    fn close(mut self, closing: Closing, link: &dyn RoomLink) {
        // After a panic the world may be inconsistent; its results are still worth a try.
        let why = if closing.code == close_code::INTERNAL_ERROR { "room_failed" } else { "room_closed" };
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.round_in_progress(why))) {
            Ok(Some(results)) => self.record(&results),
            Ok(None) => {}
            Err(_) => tracing::error!("could not read the failed room's standings"),
        }
        // The round in progress stays watchable: its recording is closed, not dropped.
        let tick = self.world.tick();
        self.hand_over_events(tick);
        self.end_recording(tick, why.into());
        // Out of the lobby before anyone hears the close (whoever is told the room
        // failed must not still find it listed), and after its round is queued for the
        // log (the drain waits for both). The guard repeats this harmlessly.
        link.ended();
        let clients = &mut self.members.clients;
        clients.broadcast(&ServerMsg::Event(RoomEvent::Closing(Notice { text: closing.reason.clone() })));
        let players: Vec<PlayerId> = clients.map.keys().copied().collect();
        for player in players {
            clients.close(player, closing.code, &closing.reason);
        }
        // Held seats go back to the lobby with their clients.
        clients.map.clear();
        self.refuse_queued(&closing);
        self.status.set_population(0, 0);
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
                    join.outbox.latest.send_replace(Latest::Closed { code: *code, reason: reason.clone() });
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
