//! Which snapshot body each client gets: the frames kept as baselines, the bodies
//! a tick needs (one per distinct (view, baseline)), and the tick's shared pieces
//! they are spliced from ([`super::tick_encoding`]), handed to each client.

use std::collections::VecDeque;
use std::sync::Arc;

use arena_protocol::Tick;
use arena_protocol::delta::BASELINE_WINDOW;
use rustc_hash::FxHashMap;

use super::interest::View;
use super::snapshot::SnapshotFrame;
use super::tick_encoding::{BodyKey, SplicedBody, TickEncoding};

/// What a client had at a tick it acknowledged: the tick and the cells it saw.
pub type Baseline = (Tick, View);

/// Recent frames and the bodies this tick's snapshot needs.
#[derive(Default)]
pub struct SnapshotEncoder {
    /// Frames sent recently, oldest first: the baselines clients may acknowledge.
    history: VecDeque<Arc<SnapshotFrame>>,
    /// This tick's baseline frames in use, in order of first use.
    bases: Vec<Arc<SnapshotFrame>>,
    /// This tick's bodies and how many clients take each; once sealed, the place
    /// among the shared bodies of each body taken more than once.
    bodies: FxHashMap<BodyKey, u32>,
    sealed: Option<Arc<TickEncoding>>,
}

/// In `bodies` after sealing: a body only one client takes.
const NOT_SHARED: u32 = u32::MAX;

impl SnapshotEncoder {
    /// Start a snapshot: `frame` is what this tick's messages show.
    pub fn begin(&mut self, frame: SnapshotFrame) {
        if self.history.len() == BASELINE_WINDOW {
            self.history.pop_front();
        }
        self.history.push_back(Arc::new(frame));
        self.bases.clear();
        self.bodies.clear();
        self.sealed = None;
    }

    /// The current snapshot's frame, shared (a replay records it without a copy).
    pub fn current(&self) -> Option<Arc<SnapshotFrame>> {
        self.history.back().cloned()
    }

    /// Drop the frames before `oldest`: no client can take them as a baseline any more
    /// (see [`SentViews::oldest_possible_baseline`]). The current frame always stays.
    pub fn forget_before(&mut self, oldest: Tick) {
        while self.history.len() > 1 && self.history.front().is_some_and(|f| oldest.is_after(f.tick)) {
            self.history.pop_front();
        }
    }

    /// Frames kept as possible baselines (the current one included).
    pub fn frames_kept(&self) -> usize {
        self.history.len()
    }

    /// Distinct bodies the current snapshot needs so far.
    pub fn distinct_bodies(&self) -> usize {
        self.bodies.len()
    }

    /// Of the baseline ticks clients want this tick (one item a client), at most
    /// [`MAX_BASELINES_A_TICK`] still kept, into `chosen`: those most clients want,
    /// newer first on a tie; past the cap, the last slot goes to the oldest of the rest.
    /// Clients whose baseline is not among them take one that is
    /// ([`SentViews::baseline_among`]) or a whole snapshot.
    pub fn choose_baselines(&self, wanted: impl Iterator<Item = Tick>, chosen: &mut Vec<Tick>) {
        let mut counts: Vec<(Tick, u32)> = Vec::new();
        for tick in wanted {
            match counts.iter_mut().find(|(t, _)| *t == tick) {
                Some((_, count)) => *count += 1,
                None if self.history.iter().any(|f| f.tick == tick) => counts.push((tick, 1)),
                None => {}
            }
        }
        counts.sort_unstable_by(|(a, ca), (b, cb)| cb.cmp(ca).then_with(|| b.since(*a).cmp(&0)));
        chosen.clear();
        chosen.extend(counts.iter().map(|(tick, _)| *tick));
        if chosen.len() > MAX_BASELINES_A_TICK {
            // Those the cut leaves out want older baselines than most: the worst-linked
            // clients (late acknowledgements, thinned snapshots). They acknowledged the
            // oldest of theirs more often than not, so keeping it gives them a delta
            // against it rather than a whole snapshot, twice the bytes where they can
            // least afford it.
            let left_out = chosen.split_off(MAX_BASELINES_A_TICK - 1);
            chosen.extend(left_out.into_iter().reduce(|a, b| if a.is_after(b) { b } else { a }));
        }
    }

    /// The body for a client that sees `view` and acknowledged `baseline`: a delta
    /// when that frame is still kept, else a whole snapshot. Counted, so a body
    /// several clients take is made once; every body is asked for before [`Self::seal`].
    pub fn want(&mut self, view: View, baseline: Option<Baseline>) -> BodyKey {
        let base = baseline.and_then(|(tick, seen)| {
            let at = match self.bases.iter().position(|f| f.tick == tick) {
                Some(at) => at,
                None => {
                    let frame = self.history.iter().rev().find(|f| f.tick == tick)?;
                    self.bases.push(frame.clone());
                    self.bases.len() - 1
                }
            };
            Some((at as u16, seen))
        });
        let key = BodyKey { view, base };
        *self.bodies.entry(key).or_default() += 1;
        key
    }

    /// The tick's pieces for the bodies wanted so far, made on first use by whoever
    /// writes a body ([`Self::body`] hands them out).
    pub fn seal(&mut self) {
        let mut shared = 0;
        for uses in self.bodies.values_mut() {
            *uses = if *uses > 1 {
                shared += 1;
                shared - 1
            } else {
                NOT_SHARED
            };
        }
        let now = self.history.back().expect("begin() comes first").clone();
        self.sealed = Some(Arc::new(TickEncoding::new(now, self.bases.clone(), shared as usize)));
    }

    /// A client's handle on body `key` (wanted before [`Self::seal`]).
    pub fn body(&self, key: BodyKey) -> SplicedBody {
        let encoding = self.sealed.as_ref().expect("seal() comes first");
        let shared = self.bodies.get(&key).copied().filter(|&at| at != NOT_SHARED);
        encoding.body(key, shared)
    }

    /// One body on its own (a watcher's in the stress run, tests): wanted, sealed, written.
    pub fn write_one(
        &mut self,
        view: View,
        baseline: Option<Baseline>,
        out: &mut Vec<u8>,
    ) -> arena_protocol::SnapshotKind {
        let key = self.want(view, baseline);
        self.seal();
        let body = self.body(key);
        body.write(out);
        body.kind()
    }
}

/// Most distinct baselines one tick's bodies are diffed against. Each costs up to a
/// whole-world diff (a spectator sees every cell), made by the writers; clients that
/// acknowledge odd ticks, or staggered ones, could otherwise make a tick use every
/// frame of the window (32). In normal play clients acknowledge within a few ticks and
/// baselines snap to the grid below, so a tick uses one to three and no client's bytes
/// change; past the cap a client falls back to an older baseline it acknowledged
/// among those chosen, or a whole snapshot.
pub const MAX_BASELINES_A_TICK: usize = 4;

/// Baselines are picked on a grid of this many ticks when a client acknowledged one
/// recently enough: clients whose newest acknowledgements differ by a tick or two then
/// share one (view, baseline) body. In rooms of 50 that is about one body per room per
/// tick (with the old 8 × 8 interest grid it took a room of 1,000 from about 700 bodies
/// a tick to about 60; with today's finer cells most views there are unique anyway).
const BASELINE_GRID: u32 = 4;
/// How much older than the newest acknowledged snapshot a grid baseline may be.
const GRID_SLACK: i32 = 8;

/// One snapshot sent to a client: its tick, the cells it saw, whether it was acknowledged.
#[derive(Clone, Copy, Debug)]
struct Sent {
    tick: Tick,
    view: View,
    acked: bool,
}

/// The snapshots one client was sent recently and which of them it acknowledged:
/// any of those it still keeps (the last [`BASELINE_WINDOW`]) may be its baseline.
#[derive(Debug, Default)]
pub struct SentViews {
    sent: VecDeque<Sent>,
    /// The newest tick the client decoded among those sent to it (possibly no
    /// longer in `sent`): its pacing, and the floor of its baseline choices.
    newest_ack: Option<Tick>,
}

impl SentViews {
    pub fn record(&mut self, tick: Tick, view: View) {
        if self.sent.len() == BASELINE_WINDOW {
            self.sent.pop_front();
        }
        self.sent.push_back(Sent { tick, view, acked: false });
    }

    /// The client has decoded the snapshot of `tick`. An ack for a tick not sent to
    /// it recently (forgotten, or never sent: a thinned client skips ticks) is
    /// ignored; counted, a claimed tick newer than any acknowledged entry would raise
    /// [`SentViews::oldest_possible_baseline`] above the baseline still chosen.
    pub fn acknowledge(&mut self, tick: Tick) {
        let Some(sent) = self.sent.iter_mut().rev().find(|s| s.tick == tick) else { return };
        sent.acked = true;
        if self.newest_ack.is_none_or(|newest| tick.is_after(newest)) {
            self.newest_ack = Some(tick);
        }
    }

    /// How many ticks behind `now` the client's newest acknowledgement is; None
    /// for a client that never acknowledged (it cannot be paced by its acks).
    pub fn ack_lag(&self, now: Tick) -> Option<i32> {
        self.newest_ack.map(|acked| now.since(acked))
    }

    /// The baseline for the next snapshot: the newest acknowledged tick on the
    /// baseline grid if it is recent, else the newest acknowledged tick; with the
    /// view it was sent with. None: nothing acknowledged, send a whole snapshot.
    pub fn baseline(&self) -> Option<Baseline> {
        let mut acked = self.sent.iter().rev().filter(|s| s.acked);
        let newest = *acked.clone().next()?;
        let on_grid = acked.find(|s| s.tick.0.is_multiple_of(BASELINE_GRID) && newest.tick.since(s.tick) <= GRID_SLACK);
        let chosen = on_grid.copied().unwrap_or(newest);
        Some((chosen.tick, chosen.view))
    }

    /// The newest acknowledged snapshot whose tick is in `allowed`, with its view
    /// (when the baseline [`SentViews::baseline`] picks is not among the tick's chosen ones).
    pub fn baseline_among(&self, allowed: &[Tick]) -> Option<Baseline> {
        let sent = self.sent.iter().rev().find(|s| s.acked && allowed.contains(&s.tick))?;
        Some((sent.tick, sent.view))
    }

    /// The oldest tick [`SentViews::baseline`] could ever choose from now on: its
    /// choices are ticks still in `sent`, and never more than [`GRID_SLACK`] before
    /// the newest acknowledgement while that is in `sent` (acknowledgements only add).
    /// The room keeps no frame older than every client's. None: nothing sent.
    pub fn oldest_possible_baseline(&self) -> Option<Tick> {
        let oldest_sent = self.sent.front()?.tick;
        let floor = match self.newest_ack {
            Some(ack) => Tick(ack.0.wrapping_sub(GRID_SLACK as u32)),
            None => oldest_sent,
        };
        Some(if floor.is_after(oldest_sent) { floor } else { oldest_sent })
    }

    /// A new connection starts over from whole snapshots.
    pub fn reset(&mut self) {
        self.sent.clear();
        self.newest_ack = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arena_protocol::{
        Baselines, EntityChange, EntityKind, EntityState, NetId, PlayerId, ServerMsg, SnapshotKind, WireEntity,
        decode_server,
    };
    use glam::Vec2;

    /// One body on its own, written.
    fn body(encoder: &mut SnapshotEncoder, view: View, baseline: Option<Baseline>) -> (SnapshotKind, Vec<u8>) {
        let mut out = Vec::new();
        let kind = encoder.write_one(view, baseline, &mut out);
        (kind, out)
    }

    /// A frame of one cell per entity id (cell = id % 2) with `ids` at x = 10·id + shift.
    fn frame(tick: u32, ids: &[u32], shift: f32) -> SnapshotFrame {
        let mut f =
            SnapshotFrame { tick: Tick(tick), by_cell: vec![Vec::new(), Vec::new()], cols: 2, ..Default::default() };
        for (i, &id) in ids.iter().enumerate() {
            let state = EntityState {
                net_id: NetId(id),
                kind: EntityKind::Player,
                owner: PlayerId(id),
                pos: Vec2::new(10.0 * id as f32 + shift, 50.0),
                vel: Vec2::ZERO,
                aim: 0.0,
                health: 100,
                score: 0,
            };
            f.entities.push(state.into());
            f.cells.push(((id % 2) as u16, 0));
            f.by_cell[(id % 2) as usize].push(i as u32);
        }
        f
    }

    fn message(kind: SnapshotKind, tick: u32, body: &[u8]) -> ServerMsg {
        let mut out = Vec::new();
        arena_protocol::snapshot::write_snapshot_header(kind, Tick(tick), 0, &mut out);
        out.extend_from_slice(body);
        decode_server(&out).unwrap()
    }

    #[test]
    fn a_client_rebuilds_every_tick_from_deltas_and_shares_bodies() {
        let mut encoder = SnapshotEncoder::default();
        let mut client = Baselines::default();
        let mut views = SentViews::default();
        let both = View { min: (0, 0), max: (1, 0) };
        let ticks = [frame(1, &[1, 2, 3], 0.0), frame(2, &[1, 2, 3, 4], 1.0), frame(3, &[2, 4], 2.0)];
        for f in ticks {
            let tick = f.tick;
            let expected: Vec<WireEntity> = f.entities.clone();
            encoder.begin(f);
            // Two clients with the same view and baseline, and one that sees a cell only.
            let (first, second) = (encoder.want(both, views.baseline()), encoder.want(both, views.baseline()));
            let narrow = encoder.want(View { min: (1, 0), max: (1, 0) }, views.baseline());
            assert_eq!((first, encoder.distinct_bodies()), (second, 2));
            encoder.seal();
            let written = |key| {
                let mut out = Vec::new();
                encoder.body(key).write(&mut out);
                out
            };
            let (kind, body) = (first.kind(), written(first));
            assert_eq!(written(second), body, "same view and baseline: same bytes, made once");
            assert_ne!(written(narrow), body);
            views.record(tick, both);
            let rebuilt = match message(kind, tick.0, &body) {
                ServerMsg::Snapshot(s) => {
                    assert_eq!(tick, Tick(1), "only the first one is whole");
                    client.keep_full(&s);
                    s
                }
                ServerMsg::Delta(d) => client.apply(&d).unwrap(),
                other => panic!("{other:?}"),
            };
            let mut got: Vec<WireEntity> = rebuilt.entities.iter().map(|&e| e.into()).collect();
            got.sort_by_key(WireEntity::net_id);
            assert_eq!(got, expected, "tick {tick:?}");
            views.acknowledge(tick);
        }
    }

    #[test]
    fn entities_leaving_the_view_are_removed_and_entering_ones_added_whole() {
        let mut encoder = SnapshotEncoder::default();
        encoder.begin(frame(1, &[1, 2], 0.0));
        encoder.begin(frame(2, &[1, 2], 0.0));
        // Saw only cell 1 (entity 1) at tick 1; now sees only cell 0 (entity 2).
        let only = |x| View { min: (x, 0), max: (x, 0) };
        let (kind, body) = body(&mut encoder, only(0), Some((Tick(1), only(1))));
        let ServerMsg::Delta(delta) = message(kind, 2, &body) else { panic!("not a delta") };
        assert_eq!(delta.removed, vec![NetId(1)]);
        assert_eq!(delta.added.iter().map(|e| e.net_id).collect::<Vec<_>>(), vec![NetId(2)]);
        assert!(delta.changed.is_empty());
    }

    /// A 3 × 3 grid frame: entity `id` at (x, y) in cells of 100 units.
    fn grid_frame(tick: u32, placed: &[(u32, f32, f32)]) -> SnapshotFrame {
        let mut placed = placed.to_vec();
        placed.sort_by_key(|p| p.0);
        let mut f = SnapshotFrame { tick: Tick(tick), by_cell: vec![Vec::new(); 9], cols: 3, ..Default::default() };
        for (i, &(id, x, y)) in placed.iter().enumerate() {
            let state = EntityState {
                net_id: NetId(id),
                kind: EntityKind::Player,
                owner: PlayerId(id),
                pos: Vec2::new(x, y),
                vel: Vec2::ZERO,
                aim: 0.0,
                health: 100,
                score: 0,
            };
            let cell = ((x / 100.0) as u16, (y / 100.0) as u16);
            f.entities.push(state.into());
            f.cells.push(cell);
            let at = f.cell_index(cell);
            f.by_cell[at].push(i as u32);
        }
        f
    }

    #[test]
    fn cell_by_cell_deltas_say_what_a_plain_diff_says() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let rect = |rng: &mut rand::rngs::StdRng| {
            let (x0, y0) = (rng.random_range(0..3u16), rng.random_range(0..3u16));
            View { min: (x0, y0), max: (rng.random_range(x0..3), rng.random_range(y0..3)) }
        };
        for round in 0..200 {
            // Entities wander, some stand still, some appear and some vanish; one
            // round in three is sparse, so some cells are empty then and now.
            let kept = if round % 3 == 0 { 0.15 } else { 0.8 };
            let anywhere = |rng: &mut rand::rngs::StdRng| (rng.random_range(0.0..300.0), rng.random_range(0.0..300.0));
            let mut base_placed = Vec::new();
            for id in 1..=30 {
                if rng.random_bool(kept) {
                    let (x, y) = anywhere(&mut rng);
                    base_placed.push((id, x, y));
                }
            }
            let mut now_placed = Vec::new();
            for id in 1..=34 {
                if !rng.random_bool(kept) {
                    continue;
                }
                let (x, y) = match base_placed.iter().find(|p| p.0 == id) {
                    Some(&(_, x, y)) if rng.random_bool(0.5) => (x, y),
                    Some(&(_, x, y)) => {
                        let step = Vec2::new(rng.random_range(-60.0..60.0), rng.random_range(-60.0..60.0));
                        ((x + step.x).clamp(0.0, 299.0), (y + step.y).clamp(0.0, 299.0))
                    }
                    None => anywhere(&mut rng),
                };
                now_placed.push((id, x, y));
            }
            let (base, now) = (grid_frame(1, &base_placed), grid_frame(2, &now_placed));
            let mut encoder = SnapshotEncoder::default();
            encoder.begin(base.clone());
            encoder.begin(now.clone());
            // Four clients' bodies, pieces made on first use by whichever of four
            // threads gets there first (the writers of a room do this).
            let keys: Vec<_> = (0..4)
                .map(|_| (rect(&mut rng), rect(&mut rng)))
                .map(|(v, s)| (v, s, encoder.want(v, Some((Tick(1), s)))))
                .collect();
            encoder.seal();
            let handles: Vec<_> = keys.iter().map(|&(_, _, key)| encoder.body(key)).collect();
            let bodies: Vec<Vec<u8>> = std::thread::scope(|scope| {
                let writers: Vec<_> = handles
                    .iter()
                    .map(|body| {
                        scope.spawn(move || {
                            let mut out = Vec::new();
                            body.write(&mut out);
                            out
                        })
                    })
                    .collect();
                writers.into_iter().map(|w| w.join().unwrap()).collect()
            });
            for (&(view, seen, key), body) in keys.iter().zip(&bodies) {
                let ServerMsg::Delta(delta) = message(key.kind(), 2, body) else { panic!("not a delta") };
                // The plain diff: every entity in view now against the ones seen then.
                let seen_then = |id: NetId| base.find(id).filter(|(_, cell)| seen.contains(*cell)).map(|(e, _)| *e);
                let mut added: Vec<NetId> = Vec::new();
                let mut changed: Vec<EntityChange> = Vec::new();
                for entity in now.visible(view) {
                    match seen_then(entity.net_id()) {
                        Some(before) => changed.extend(EntityChange::between(&before, entity)),
                        None => added.push(entity.net_id()),
                    }
                }
                let mut removed: Vec<NetId> = base
                    .visible(seen)
                    .map(WireEntity::net_id)
                    .filter(|&id| !now.find(id).is_some_and(|(_, cell)| view.contains(cell)))
                    .collect();
                let mut got_added: Vec<NetId> = delta.added.iter().map(|e| e.net_id).collect();
                let mut got_changed = delta.changed.clone();
                let mut got_removed = delta.removed.clone();
                for list in [&mut added, &mut got_added, &mut removed, &mut got_removed] {
                    list.sort();
                }
                changed.sort_by_key(|c| c.net_id);
                got_changed.sort_by_key(|c| c.net_id);
                let case = format!("round {round}, view {view:?}, seen {seen:?}");
                assert_eq!(got_added, added, "{case}");
                assert_eq!(got_changed, changed, "{case}");
                assert_eq!(got_removed, removed, "{case}");
            }
        }
    }

    #[test]
    fn baselines_are_acknowledged_ticks_preferably_on_the_grid() {
        let mut views = SentViews::default();
        views.acknowledge(Tick(5));
        assert_eq!(views.baseline(), None, "tick 5 was never sent to this client");
        // Each tick sent with a view of its own, to tell which one a baseline carries.
        let view = |tick: u16| View { min: (tick, 0), max: (tick, 0) };
        for tick in 5..=10 {
            views.record(Tick(u32::from(tick)), view(tick));
        }
        views.acknowledge(Tick(5));
        assert_eq!(views.baseline(), Some((Tick(5), view(5))));
        views.acknowledge(Tick(7));
        views.acknowledge(Tick(6));
        assert_eq!(views.baseline(), Some((Tick(7), view(7))), "the newest acknowledged, not the last ack to arrive");
        views.acknowledge(Tick(8));
        views.acknowledge(Tick(10));
        assert_eq!(
            views.baseline(),
            Some((Tick(8), view(8))),
            "8 is on the grid and recent: shared with other clients"
        );
        assert_eq!(views.ack_lag(Tick(12)), Some(2));
        views.acknowledge(Tick(11));
        assert_eq!(views.ack_lag(Tick(12)), Some(2), "tick 11 was never sent: not an ack");
        views.reset();
        assert_eq!(views.baseline(), None);
        assert_eq!(views.ack_lag(Tick(12)), None);
    }

    proptest::proptest! {
        /// The room forgets frames older than every client's oldest possible baseline:
        /// whatever a client sends or acknowledges after, its baseline is never older.
        #[test]
        fn no_baseline_is_older_than_a_floor_given_before(
            steps in proptest::collection::vec((1u32..=4, proptest::option::of(0u32..12)), 1..120),
        ) {
            let mut views = SentViews::default();
            let view = View { min: (0, 0), max: (0, 0) };
            let (mut tick, mut floor) = (0u32, None::<Tick>);
            for (advance, ack_back) in steps {
                // Sent every `advance` ticks (a thinned client skips some); an ack of
                // a tick up to 11 back, sent or not.
                tick += advance;
                views.record(Tick(tick), view);
                if let Some(back) = ack_back {
                    views.acknowledge(Tick(tick.saturating_sub(back)));
                }
                if let (Some((chosen, _)), Some(floor)) = (views.baseline(), floor) {
                    proptest::prop_assert!(!floor.is_after(chosen), "baseline {chosen:?} below an earlier floor {floor:?}");
                }
                let now = views.oldest_possible_baseline();
                if let (Some((chosen, _)), Some(now)) = (views.baseline(), now) {
                    proptest::prop_assert!(!now.is_after(chosen), "baseline {chosen:?} below the floor {now:?}");
                }
                floor = match (floor, now) {
                    (Some(a), Some(b)) if a.is_after(b) => Some(a),
                    (a, b) => b.or(a),
                };
            }
        }
    }

    #[test]
    fn the_most_wanted_kept_baselines_are_chosen_then_the_oldest_left_out() {
        let mut encoder = SnapshotEncoder::default();
        for tick in 1..=10 {
            encoder.begin(frame(tick, &[1], 0.0));
        }
        let mut chosen = Vec::new();
        // Tick 8 wanted three times, 4 twice, 9, 7, 6, 5 once; tick 40 is not kept.
        // The three most wanted (9 before 7 on a tie), then the oldest of the rest.
        let wanted = [8, 4, 9, 8, 40, 40, 40, 7, 4, 6, 8, 5].map(Tick);
        encoder.choose_baselines(wanted.into_iter(), &mut chosen);
        assert_eq!(chosen, [8, 4, 9, 5].map(Tick));
        assert_eq!(MAX_BASELINES_A_TICK, 4);
        // Up to the cap, every kept one.
        encoder.choose_baselines([9, 5, 9, 7].map(Tick).into_iter(), &mut chosen);
        assert_eq!(chosen, [9, 7, 5].map(Tick));
        // A client whose own baseline (7) is not chosen falls back to one it acknowledged that is.
        let mut views = SentViews::default();
        let view = View { min: (0, 0), max: (0, 0) };
        for tick in 5..=7 {
            views.record(Tick(tick), view);
            views.acknowledge(Tick(tick));
        }
        assert_eq!(views.baseline().map(|b| b.0), Some(Tick(7)));
        assert_eq!(views.baseline_among(&[Tick(9), Tick(5)]), Some((Tick(5), view)));
        assert_eq!(views.baseline_among(&[Tick(9)]), None, "nothing in common: a whole snapshot");
    }

    #[test]
    fn forgotten_baselines_get_whole_snapshots() {
        let mut encoder = SnapshotEncoder::default();
        for tick in 1..=(BASELINE_WINDOW as u32 + 1) {
            encoder.begin(frame(tick, &[1], 0.0));
        }
        let both = View { min: (0, 0), max: (1, 0) };
        let (kind, whole) = body(&mut encoder, both, Some((Tick(1), both)));
        assert_eq!(kind, SnapshotKind::Full, "tick 1 fell out of the window");
        let mut plain = Vec::new();
        arena_protocol::snapshot::write_full_body(frame(0, &[1], 0.0).entities.iter(), &mut plain);
        assert_eq!(whole, plain, "a whole body spliced from cells is the plain one");
    }
}
