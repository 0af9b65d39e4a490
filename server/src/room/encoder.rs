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
                let count = now.visible(view).count();
                write_full_body(ExactCount(now.visible(view), count), &mut self.out);
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

/// An iterator whose length was counted beforehand.
struct ExactCount<I>(I, usize);

impl<I: Iterator> Iterator for ExactCount<I> {
    type Item = I::Item;
    fn next(&mut self) -> Option<I::Item> {
        self.0.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.1, Some(self.1))
    }
}

impl<I: Iterator> ExactSizeIterator for ExactCount<I> {}

/// The views one client was sent snapshots with, and the newest tick it
/// acknowledged: together, the baseline its next snapshot may be relative to.
#[derive(Debug, Default)]
pub struct SentViews {
    sent: VecDeque<Baseline>,
    acked: Tick,
}

impl SentViews {
    pub fn record(&mut self, tick: Tick, view: u64) {
        if self.sent.len() == BASELINE_WINDOW {
            self.sent.pop_front();
        }
        self.sent.push_back((tick, view));
    }

    /// The client has decoded the snapshot of `tick` (acks may arrive out of order).
    pub fn acknowledge(&mut self, tick: Tick) {
        if tick.is_after(self.acked) || self.acked == Tick(0) {
            self.acked = tick;
        }
    }

    /// The acknowledged snapshot and the view it was sent with, if it was sent
    /// to this client recently. An ack for a tick never sent gets no baseline.
    pub fn baseline(&self) -> Option<Baseline> {
        if self.acked == Tick(0) {
            return None;
        }
        self.sent.iter().rev().find(|(tick, _)| *tick == self.acked).copied()
    }

    /// A new connection starts over from whole snapshots.
    pub fn reset(&mut self) {
        self.sent.clear();
        self.acked = Tick(0);
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
    fn unknown_or_forgotten_baselines_get_whole_snapshots() {
        let mut views = SentViews::default();
        views.acknowledge(Tick(5));
        assert_eq!(views.baseline(), None, "tick 5 was never sent to this client");
        views.record(Tick(5), 1);
        assert_eq!(views.baseline(), Some((Tick(5), 1)));
        views.acknowledge(Tick(4));
        assert_eq!(views.baseline(), Some((Tick(5), 1)), "an older ack does not go back");
        let mut encoder = SnapshotEncoder::default();
        for tick in 1..=(BASELINE_WINDOW as u32 + 1) {
            encoder.begin(frame(tick, &[1], 0.0));
        }
        let (kind, _) = encoder.body(0b11, Some((Tick(1), 0b11)));
        assert_eq!(kind, SnapshotKind::Full, "tick 1 fell out of the window");
    }
}
