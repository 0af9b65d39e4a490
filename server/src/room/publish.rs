//! Publishing snapshots: which ticks send one, which clients get it (lagging ones
//! are thinned), and each client's view and baseline, handed to each client's
//! latest-wins slot with the tick's shared pieces its writer splices the body from.

use arena_protocol::{PlayerId, Tick};

use super::clients::Clients;
use super::encoder::{Baseline, SnapshotEncoder};
use super::interest::{InterestGrid, View};
use super::snapshot::SnapshotFrame;
use super::tick_encoding::BodyKey;
use super::writer_wakes::WriterWakes;
use super::{Latest, OutgoingSnapshot};

/// A lagging client gets one snapshot of this many ticks.
const LAGGING_SNAPSHOT_EVERY: u32 = 4;

/// The room's snapshot pacing and its encoder.
pub struct Publisher {
    encoder: SnapshotEncoder,
    tick_rate_hz: u16,
    snapshot_rate_hz: u16,
    /// This tick's sends, worked out before the bodies' pieces are sealed.
    sends: Vec<Send>,
    /// This tick's baseline ticks (at most [`super::encoder::MAX_BASELINES_A_TICK`]).
    baselines: Vec<Tick>,
    /// The writers to wake once every slot is filled, woken in one batch.
    wakes: WriterWakes,
}

/// One client's snapshot this tick: who, what it sees, its baseline, its body.
struct Send {
    player: PlayerId,
    view: View,
    baseline: Option<Baseline>,
    body: Option<BodyKey>,
    last_input_seq: u32,
}

impl Publisher {
    pub fn new(tick_rate_hz: u16, snapshot_rate_hz: u16) -> Publisher {
        Publisher {
            encoder: SnapshotEncoder::default(),
            tick_rate_hz,
            snapshot_rate_hz,
            sends: Vec::new(),
            baselines: Vec::new(),
            wakes: WriterWakes::new(),
        }
    }

    /// The frame of the snapshot published last.
    pub fn current_frame(&self) -> Option<std::sync::Arc<SnapshotFrame>> {
        self.encoder.current()
    }

    /// Distinct baselines the last published snapshot's deltas use.
    pub fn baselines_in_use(&self) -> usize {
        self.baselines.len()
    }

    /// Whether this tick's snapshot goes out: `snapshot_rate_hz` of every `tick_rate_hz` ticks, evenly spread.
    pub fn snapshot_due(&self, tick: Tick) -> bool {
        let (snapshots, ticks) = (u64::from(self.snapshot_rate_hz), u64::from(self.tick_rate_hz));
        let n = u64::from(tick.0);
        snapshots >= ticks || (n * snapshots / ticks) != (n.saturating_sub(1) * snapshots / ticks)
    }

    /// Ticks a client's newest acknowledgement may lag before its snapshots are thinned:
    /// half a second, or three snapshot intervals when snapshots are rarer than that.
    fn ack_lag_limit(&self) -> i32 {
        let (ticks, snapshots) = (i32::from(self.tick_rate_hz), i32::from(self.snapshot_rate_hz.max(1)));
        (ticks / 2).max(3 * ticks / snapshots)
    }

    /// Hand `snapshot` (of `tick`) to every connected client; returns the distinct
    /// bodies it takes. `last_input_seq` is each player's newest applied input.
    pub fn publish(
        &mut self,
        tick: Tick,
        mut snapshot: SnapshotFrame,
        grid: &InterestGrid,
        clients: &mut Clients,
        last_input_seq: impl Fn(PlayerId) -> u32,
    ) -> usize {
        let player_cells = std::mem::take(&mut snapshot.player_cells);
        self.encoder.begin(snapshot);
        let lag_limit = self.ack_lag_limit();
        self.sends.clear();
        for (&player, client) in &clients.map {
            if client.outbox.is_none() {
                continue;
            }
            // A client whose acknowledgements fall far behind is not keeping up (a slow
            // link, a busy machine, a background tab): it gets every 4th snapshot until
            // it catches up, instead of a backlog piling up in its buffers.
            let lagging = client.views.ack_lag(tick).is_some_and(|lag| lag > lag_limit);
            if lagging && !tick.0.is_multiple_of(LAGGING_SNAPSHOT_EVERY) {
                continue;
            }
            let last_input_seq = if client.spectator { 0 } else { last_input_seq(player) };
            // Spectators, and players without a body, see the whole arena.
            let view = match (client.spectator, player_cells.get(&player)) {
                (false, Some(&cell)) => grid.visible_from(cell),
                _ => grid.everything(),
            };
            self.sends.push(Send { player, view, baseline: client.views.baseline(), body: None, last_input_seq });
        }
        // A few baselines a tick, each diffed once per cell in use: clients whose own
        // is not among them take an older one they acknowledged that is, or a whole one.
        let wanted = self.sends.iter().filter_map(|send| send.baseline.map(|(tick, _)| tick));
        self.encoder.choose_baselines(wanted, &mut self.baselines);
        for send in &mut self.sends {
            if send.baseline.is_some_and(|(tick, _)| !self.baselines.contains(&tick)) {
                send.baseline = clients.map.get(&send.player).and_then(|c| c.views.baseline_among(&self.baselines));
            }
            send.body = Some(self.encoder.want(send.view, send.baseline));
        }
        // Every body is known now: those several clients take are made once. Each
        // writer splices its client's body from the tick's pieces as it writes it.
        self.encoder.seal();
        for send in &self.sends {
            let Some(client) = clients.map.get_mut(&send.player) else { continue };
            let Some(outbox) = &client.outbox else { continue };
            client.views.record(tick, send.view);
            let Some(key) = send.body else { continue };
            let body = self.encoder.body(key);
            let snapshot = OutgoingSnapshot { kind: body.kind(), tick, last_input_seq: send.last_input_seq, body };
            outbox.latest.send_replace_deferred(Latest::Snapshot(snapshot), self.wakes.collected());
        }
        self.wakes.wake_all();
        // Frames only a baseline no client can choose any more are memory for nothing:
        // with clients acknowledging promptly about a dozen stay instead of the window's 32.
        let oldest = clients
            .map
            .values()
            .filter(|c| c.outbox.is_some())
            .filter_map(|c| c.views.oldest_possible_baseline())
            .reduce(|a, b| if a.is_after(b) { b } else { a });
        self.encoder.forget_before(oldest.unwrap_or(tick));
        self.encoder.distinct_bodies()
    }
}

#[cfg(test)]
mod tests {
    use arena_protocol::{NetId, SnapshotKind};

    use super::*;
    use crate::identity::Identity;
    use crate::room::ClientOutbox;
    use crate::room::clients::Client;
    use crate::room::encoder::SentViews;
    use crate::room::latest::LatestReceiver;
    use crate::room::world::RoomWorld;
    use crate::settings::GameSettings;

    fn client(player: u32, spectator: bool) -> (Client, LatestReceiver) {
        let (latest_tx, latest) = crate::room::latest::slot();
        let identity = Identity { player_id: PlayerId(player), name: format!("p{player}"), verified: false };
        let client = Client {
            identity,
            name: format!("p{player}"),
            spectator,
            net_id: NetId(0),
            connection: u64::from(player),
            outbox: Some(ClientOutbox { latest: latest_tx }),
            held_until: None,
            held_seat: None,
            views: SentViews::default(),
        };
        (client, latest)
    }

    fn snapshot_of(latest: &LatestReceiver) -> Option<OutgoingSnapshot> {
        match &*latest.borrow() {
            Latest::Snapshot(s) => Some(s.clone()),
            _ => None,
        }
    }

    #[test]
    fn snapshots_are_spread_evenly_over_the_ticks() {
        let ten_of_thirty = Publisher::new(30, 10);
        let due: Vec<u32> = (1..=30).filter(|&t| ten_of_thirty.snapshot_due(Tick(t))).collect();
        assert_eq!(due.len(), 10);
        assert!(due.windows(2).all(|w| w[1] - w[0] == 3), "every third tick: {due:?}");
        assert!((1..=30).all(|t| Publisher::new(30, 30).snapshot_due(Tick(t))));
    }

    #[test]
    fn every_client_gets_its_snapshot_and_a_lagging_one_every_fourth() {
        let settings = GameSettings::default();
        let mut world = RoomWorld::new(settings.clone(), settings.match_rules(), 30, 3);
        world.add_player(PlayerId(1));
        world.add_player(PlayerId(2));
        let mut clients = Clients::default();
        let (keeping_up, keeping_up_rx) = client(1, false);
        let (lagging, lagging_rx) = client(2, false);
        let (watcher, watcher_rx) = client(3, true);
        clients.map.insert(PlayerId(1), keeping_up);
        clients.map.insert(PlayerId(2), lagging);
        clients.map.insert(PlayerId(3), watcher);
        let mut publisher = Publisher::new(30, 30);
        let mut lagging_got = 0;
        for _ in 0..40 {
            let tick = world.step();
            let frame = world.take_snapshot().expect("a frame every tick");
            let grid = world.interest_grid();
            publisher.publish(tick, frame, &grid, &mut clients, |_| 9);
            // Player 1 acknowledges everything; player 2 acknowledged tick 1 only.
            clients.map.get_mut(&PlayerId(1)).unwrap().views.acknowledge(tick);
            if tick.0 == 1 {
                clients.map.get_mut(&PlayerId(2)).unwrap().views.acknowledge(tick);
            }
            let got = snapshot_of(&keeping_up_rx).expect("player 1 has a snapshot");
            assert_eq!((got.tick, got.last_input_seq), (tick, 9));
            if snapshot_of(&lagging_rx).is_some_and(|s| s.tick == tick) {
                lagging_got += 1;
            }
            assert_eq!(snapshot_of(&watcher_rx).expect("spectator").last_input_seq, 0, "spectators have no inputs");
        }
        assert_eq!(snapshot_of(&keeping_up_rx).unwrap().kind, SnapshotKind::Delta, "acks give deltas");
        assert_eq!(publisher.encoder.frames_kept(), arena_protocol::delta::BASELINE_WINDOW, "the lagging client's");
        // Once the lagging client is gone, only the frames a prompt client may still
        // take as its baseline stay.
        clients.remove(PlayerId(2));
        clients.remove(PlayerId(3));
        for _ in 0..3 {
            let tick = world.step();
            let frame = world.take_snapshot().expect("a frame every tick");
            publisher.publish(tick, frame, &world.interest_grid(), &mut clients, |_| 9);
            clients.map.get_mut(&PlayerId(1)).unwrap().views.acknowledge(tick);
            assert_eq!(snapshot_of(&keeping_up_rx).unwrap().kind, SnapshotKind::Delta);
        }
        assert!(publisher.encoder.frames_kept() <= 10, "kept {}", publisher.encoder.frames_kept());
        // 15 ticks of lag allowed at 30 Hz; after that one snapshot in four.
        assert!((15..=30).contains(&lagging_got), "the lagging client got {lagging_got} of 40");
    }

    /// A room with a client for each `(id, spectator)`, a body for each that is not one.
    fn room_of(ids: impl Iterator<Item = (u32, bool)>) -> (RoomWorld, Clients, Vec<(u32, LatestReceiver)>) {
        let settings = GameSettings::default();
        let mut world = RoomWorld::new(settings.clone(), settings.match_rules(), 30, 3);
        let mut clients = Clients::default();
        let mut receivers = Vec::new();
        for (id, spectator) in ids {
            let (client, rx) = client(id, spectator);
            if !spectator {
                world.add_player(PlayerId(id));
            }
            clients.map.insert(PlayerId(id), client);
            receivers.push((id, rx));
        }
        (world, clients, receivers)
    }

    #[test]
    fn staggered_acknowledgements_use_a_few_baselines_a_tick() {
        use crate::room::encoder::MAX_BASELINES_A_TICK;
        // Eight spectators acknowledging one tick in eight each, staggered (0 mod 8,
        // 1 mod 8, ...), so each wants a baseline of its own; two players acknowledge all.
        let (mut world, mut clients, receivers) = room_of((1..=10).map(|id| (id, id <= 8)));
        let mut publisher = Publisher::new(30, 30);
        let mut message = Vec::new();
        let mut acked: std::collections::HashMap<u32, Vec<Tick>> = Default::default();
        for _ in 0..40 {
            let tick = world.step();
            let frame = world.take_snapshot().expect("a frame every tick");
            publisher.publish(tick, frame, &world.interest_grid(), &mut clients, |_| 0);
            let mut baselines = Vec::new();
            for (id, rx) in &receivers {
                let snapshot = snapshot_of(rx).expect("a snapshot");
                snapshot.write_message(&mut message);
                match arena_protocol::decode_server(&message).expect("decodes") {
                    arena_protocol::ServerMsg::Delta(delta) => {
                        let theirs = acked.get(id).map(Vec::as_slice).unwrap_or_default();
                        assert!(
                            theirs.contains(&delta.baseline),
                            "client {id} got a delta on {:?}, never acknowledged",
                            delta.baseline
                        );
                        baselines.push(delta.baseline)
                    }
                    arena_protocol::ServerMsg::Snapshot(_) => {
                        assert!(*id <= 8 || tick.0 <= 2, "a prompt client got a whole snapshot at {tick:?}")
                    }
                    other => panic!("{other:?}"),
                }
            }
            baselines.sort_unstable_by_key(|t| t.0);
            baselines.dedup();
            assert!(baselines.len() <= MAX_BASELINES_A_TICK, "tick {tick:?}: baselines {baselines:?}");
            for (&player, client) in &mut clients.map {
                if player.0 > 8 || tick.0 % 8 == player.0 - 1 {
                    client.views.acknowledge(tick);
                    acked.entry(player.0).or_default().push(tick);
                }
            }
        }
    }

    #[test]
    fn clients_left_out_of_the_chosen_baselines_still_get_deltas() {
        // Twenty spectators acknowledging every snapshot they get, each after a delay of
        // its own (1 to 20 ticks; past 15 they are thinned to one snapshot in four), so
        // they want five or six baselines a tick. Those left out are the worst-linked:
        // they take the oldest chosen, which they too acknowledged, not whole snapshots.
        use crate::room::encoder::MAX_BASELINES_A_TICK;
        let (mut world, mut clients, receivers) = room_of((1..=20).map(|id| (id, true)));
        let mut publisher = Publisher::new(30, 30);
        let mut message = Vec::new();
        let mut received: std::collections::HashMap<u32, Vec<Tick>> = Default::default();
        let mut most_baselines = 0;
        for _ in 0..90 {
            let tick = world.step();
            let frame = world.take_snapshot().expect("a frame every tick");
            let mut wanted: Vec<Tick> = clients.map.values().filter_map(|c| c.views.baseline()).map(|b| b.0).collect();
            wanted.sort_unstable_by_key(|t| t.0);
            wanted.dedup();
            most_baselines = most_baselines.max(wanted.len());
            publisher.publish(tick, frame, &world.interest_grid(), &mut clients, |_| 0);
            let mut baselines = Vec::new();
            for (id, rx) in &receivers {
                // A thinned client was sent nothing this tick: its slot holds an older one.
                let Some(snapshot) = snapshot_of(rx).filter(|s| s.tick == tick) else { continue };
                snapshot.write_message(&mut message);
                match arena_protocol::decode_server(&message).expect("decodes") {
                    arena_protocol::ServerMsg::Delta(delta) => baselines.push(delta.baseline),
                    arena_protocol::ServerMsg::Snapshot(_) => {
                        assert!(tick.0 <= 40, "client {id} got a whole snapshot at {tick:?}")
                    }
                    other => panic!("{other:?}"),
                }
                received.entry(*id).or_default().push(tick);
            }
            baselines.sort_unstable_by_key(|t| t.0);
            baselines.dedup();
            assert!(baselines.len() <= MAX_BASELINES_A_TICK, "tick {tick:?}: baselines {baselines:?}");
            for (&player, client) in &mut clients.map {
                let delay = player.0;
                for &got in received.get(&player.0).into_iter().flatten() {
                    if tick.since(got) == delay as i32 {
                        client.views.acknowledge(got);
                    }
                }
            }
        }
        assert!(most_baselines > MAX_BASELINES_A_TICK, "the cap was never reached: {most_baselines}");
    }
}
