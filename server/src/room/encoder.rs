//! Snapshot bodies: for each (view, baseline) a tick needs, one encoding shared
//! by every client that has that view and acknowledged that baseline.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use arena_protocol::delta::BASELINE_WINDOW;
use arena_protocol::snapshot::{write_delta_body, write_full_body};
use arena_protocol::{EntityChange, NetId, SnapshotKind, Tick, WireEntity};
use bytes::Bytes;

use super::snapshot::SnapshotFrame;

/// What a client had at a tick it acknowledged: the tick and the cells it saw.
pub type Baseline = (Tick, u64);

/// Recent frames and this tick's encoded bodies.
#[derive(Default)]
pub struct SnapshotEncoder {
    /// Frames sent recently, oldest first: the baselines clients may acknowledge.
    history: VecDeque<Arc<SnapshotFrame>>,
    bodies: HashMap<(u64, Option<Baseline>), (SnapshotKind, Bytes)>,
    added: Vec<WireEntity>,
    changed: Vec<EntityChange>,
    removed: Vec<NetId>,
    out: Vec<u8>,
}

impl SnapshotEncoder {
    /// Start a snapshot: `frame` is what this tick's messages show.
    pub fn begin(&mut self, frame: SnapshotFrame) {
        if self.history.len() == BASELINE_WINDOW {
            self.history.pop_front();
        }
        self.history.push_back(Arc::new(frame));
        self.bodies.clear();
    }

    /// Bodies encoded for the current snapshot so far.
    pub fn distinct_bodies(&self) -> usize {
        self.bodies.len()
    }

    /// The body for a client that sees `view` and acknowledged `baseline`: a delta
    /// when that frame is still kept, else a whole snapshot. Encoded on first use.
    pub fn body(&mut self, view: u64, baseline: Option<Baseline>) -> (SnapshotKind, Bytes) {
        let base = baseline.and_then(|(tick, seen)| Some((self.frame(tick)?, seen)));
        let key = (view, base.as_ref().map(|(frame, seen)| (frame.tick, *seen)));
        if let Some(body) = self.bodies.get(&key) {
            return body.clone();
        }
        let now = self.history.back().expect("begin() comes first").clone();
        self.out.clear();
        let kind = match base {
            Some((base, seen)) => {
                self.diff(&now, view, &base, seen);
                write_delta_body(base.tick, &self.added, &self.changed, &self.removed, &mut self.out);
                SnapshotKind::Delta
            }
            None => {
                write_full_body(now.visible(view), &mut self.out);
                SnapshotKind::Full
            }
        };
        let body = (kind, Bytes::copy_from_slice(&self.out));
        self.bodies.insert(key, body.clone());
        body
    }

    fn frame(&self, tick: Tick) -> Option<Arc<SnapshotFrame>> {
        self.history.iter().rev().find(|f| f.tick == tick).cloned()
    }

    /// What a client that saw `seen` of `base` needs to see `view` of `now`.
    fn diff(&mut self, now: &SnapshotFrame, view: u64, base: &SnapshotFrame, seen: u64) {
        self.added.clear();
        self.changed.clear();
        self.removed.clear();
        for entity in now.visible(view) {
            match base.find(entity.net_id()) {
                Some((before, cell)) if seen & (1 << cell) != 0 => {
                    self.changed.extend(EntityChange::between(before, entity));
                }
                _ => self.added.push(*entity),
            }
        }
        for before in base.visible(seen) {
            let still_seen = now.find(before.net_id()).is_some_and(|(_, cell)| view & (1 << cell) != 0);
            if !still_seen {
                self.removed.push(before.net_id());
            }
        }
    }
}

/// Baselines are picked on a grid of this many ticks when a client acknowledged one
/// recently enough: clients whose newest acknowledgements differ by a tick or two then
/// share one (view, baseline) body. In a room of 1,000 with interest management this
/// took the bodies encoded per tick from about 700 to about 60 (BENCHMARKS.md).
const BASELINE_GRID: u32 = 4;
/// How much older than the newest acknowledged snapshot a grid baseline may be.
const GRID_SLACK: i32 = 8;

/// One snapshot sent to a client: its tick, the cells it saw, whether it was acknowledged.
#[derive(Clone, Copy, Debug)]
struct Sent {
    tick: Tick,
    view: u64,
    acked: bool,
}

/// The snapshots one client was sent recently and which of them it acknowledged:
/// any of those it still keeps (the last [`BASELINE_WINDOW`]) may be its baseline.
#[derive(Debug, Default)]
pub struct SentViews {
    sent: VecDeque<Sent>,
    /// The newest tick the client says it decoded, even one no longer in `sent`.
    newest_ack: Option<Tick>,
}

impl SentViews {
    pub fn record(&mut self, tick: Tick, view: u64) {
        if self.sent.len() == BASELINE_WINDOW {
            self.sent.pop_front();
        }
        self.sent.push_back(Sent { tick, view, acked: false });
    }

    /// The client has decoded the snapshot of `tick`. An ack for a tick not sent to
    /// it recently (forgotten, or never sent) is ignored.
    pub fn acknowledge(&mut self, tick: Tick) {
        let Some(newest_sent) = self.sent.back() else { return };
        if tick == Tick(0) || tick.is_after(newest_sent.tick) {
            return;
        }
        if self.newest_ack.is_none_or(|newest| tick.is_after(newest)) {
            self.newest_ack = Some(tick);
        }
        if let Some(sent) = self.sent.iter_mut().rev().find(|s| s.tick == tick) {
            sent.acked = true;
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

    /// A new connection starts over from whole snapshots.
    pub fn reset(&mut self) {
        self.sent.clear();
        self.newest_ack = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arena_protocol::{Baselines, EntityKind, EntityState, PlayerId, ServerMsg, decode_server};
    use glam::Vec2;

    /// A frame of one cell per entity id (cell = id % 2) with `ids` at x = 10·id + shift.
    fn frame(tick: u32, ids: &[u32], shift: f32) -> SnapshotFrame {
        let mut f = SnapshotFrame { tick: Tick(tick), by_cell: vec![Vec::new(), Vec::new()], ..Default::default() };
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
            f.cells.push((id % 2) as u8);
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
        let both = 0b11;
        let ticks = [frame(1, &[1, 2, 3], 0.0), frame(2, &[1, 2, 3, 4], 1.0), frame(3, &[2, 4], 2.0)];
        for f in ticks {
            let tick = f.tick;
            let expected: Vec<WireEntity> = f.entities.clone();
            encoder.begin(f);
            let (kind, body) = encoder.body(both, views.baseline());
            let (again, shared) = encoder.body(both, views.baseline());
            assert_eq!((again, shared.as_ptr()), (kind, body.as_ptr()), "same view and baseline: same bytes");
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
        let (kind, body) = encoder.body(0b01, Some((Tick(1), 0b10)));
        let ServerMsg::Delta(delta) = message(kind, 2, &body) else { panic!("not a delta") };
        assert_eq!(delta.removed, vec![NetId(1)]);
        assert_eq!(delta.added.iter().map(|e| e.net_id).collect::<Vec<_>>(), vec![NetId(2)]);
        assert!(delta.changed.is_empty());
    }

    #[test]
    fn baselines_are_acknowledged_ticks_preferably_on_the_grid() {
        let mut views = SentViews::default();
        views.acknowledge(Tick(5));
        assert_eq!(views.baseline(), None, "tick 5 was never sent to this client");
        for tick in 5..=10 {
            views.record(Tick(tick), u64::from(tick));
        }
        views.acknowledge(Tick(5));
        assert_eq!(views.baseline(), Some((Tick(5), 5)));
        views.acknowledge(Tick(7));
        views.acknowledge(Tick(6));
        assert_eq!(views.baseline(), Some((Tick(7), 7)), "the newest acknowledged, not the last ack to arrive");
        views.acknowledge(Tick(8));
        views.acknowledge(Tick(10));
        assert_eq!(views.baseline(), Some((Tick(8), 8)), "8 is on the grid and recent: shared with other clients");
        assert_eq!(views.ack_lag(Tick(12)), Some(2));
        views.acknowledge(Tick(11));
        assert_eq!(views.ack_lag(Tick(12)), Some(2), "tick 11 was never sent: not an ack");
        views.reset();
        assert_eq!(views.baseline(), None);
        assert_eq!(views.ack_lag(Tick(12)), None);
    }

    #[test]
    fn forgotten_baselines_get_whole_snapshots() {
        let mut encoder = SnapshotEncoder::default();
        for tick in 1..=(BASELINE_WINDOW as u32 + 1) {
            encoder.begin(frame(tick, &[1], 0.0));
        }
        let (kind, _) = encoder.body(0b11, Some((Tick(1), 0b11)));
        assert_eq!(kind, SnapshotKind::Full, "tick 1 fell out of the window");
    }
}
