//! One tick's snapshot pieces, shared by every client of a room, and a client's
//! body spliced from them where it is written (in its session's writer).
//!
//! Views overlap (a view is a rectangle of interest cells), so the work is shared
//! below the body: each cell's entities are encoded whole once, and how each cell
//! changed since a baseline is worked out and encoded once per (baseline, cell).
//! Whichever thread needs a piece first makes it; a body then costs its own few
//! entities that crossed cells or the edge of the view, not every entity in it.
//! The room's thread only picks each client's view and baseline: with 1,000
//! players nearly every client has a view of its own, and assembling 800 bodies a
//! tick there held the tick at several milliseconds on a busy machine.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use arena_protocol::snapshot::{encode_change, encode_entity, write_delta_body_spliced, write_full_body_spliced};
use arena_protocol::{EntityChange, NetId, SnapshotKind};

use super::interest::{Cell, View};
use super::snapshot::SnapshotFrame;

/// Which body a client gets this tick: its view, and the baseline it acknowledged
/// (an index into the tick's baselines in use, with the view it had then); no
/// baseline: a whole snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BodyKey {
    pub view: View,
    pub base: Option<(u16, View)>,
}

impl BodyKey {
    pub fn kind(&self) -> SnapshotKind {
        if self.base.is_some() { SnapshotKind::Delta } else { SnapshotKind::Full }
    }
}

/// The pieces of one tick's bodies, made on first use by any thread.
pub struct TickEncoding {
    now: Arc<SnapshotFrame>,
    /// Each cell's entities encoded whole.
    whole: Box<[OnceLock<EncodedCell>]>,
    /// The baselines clients acknowledged, with each cell's difference from them.
    bases: Box<[BaseDiffs]>,
    /// Bodies more than one client takes: made once, copied by the others.
    shared: Box<[OnceLock<Box<[u8]>>]>,
}

impl std::fmt::Debug for TickEncoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TickEncoding").field("tick", &self.now.tick).field("bases", &self.bases.len()).finish()
    }
}

struct BaseDiffs {
    frame: Arc<SnapshotFrame>,
    /// Boxed: a table of every cell for each baseline in use is made every tick, and
    /// most of a big arena's cells hold an entity or two, or none.
    cells: Box<[OnceLock<Box<CellDiff>>]>,
}

/// A client's body: which one, in the tick's shared pieces.
#[derive(Clone, Debug)]
pub struct SplicedBody {
    encoding: Arc<TickEncoding>,
    key: BodyKey,
    /// Its place among the shared bodies, when other clients take the same one.
    shared: Option<u32>,
}

impl SplicedBody {
    pub fn kind(&self) -> SnapshotKind {
        self.key.kind()
    }

    /// Append the body to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        let encoding = &*self.encoding;
        let Some(slot) = self.shared.map(|at| &encoding.shared[at as usize]) else {
            return encoding.write_body(self.key, out);
        };
        if let Some(body) = slot.get() {
            return out.extend_from_slice(body);
        }
        // Not waited for when another writer is making it: both make it, one is kept.
        let start = out.len();
        encoding.write_body(self.key, out);
        let _ = slot.set(out[start..].into());
    }
}

impl TickEncoding {
    /// The pieces of `now`'s bodies against the baseline frames `bases`, with
    /// `shared` bodies taken by several clients.
    pub fn new(now: Arc<SnapshotFrame>, bases: Vec<Arc<SnapshotFrame>>, shared: usize) -> TickEncoding {
        let cells = now.by_cell.len();
        let bases = bases.into_iter().map(|frame| BaseDiffs { frame, cells: unmade(cells) }).collect();
        TickEncoding { whole: unmade(cells), bases, shared: unmade(shared), now }
    }

    /// A handle on body `key` for one client.
    pub fn body(self: &Arc<Self>, key: BodyKey, shared: Option<u32>) -> SplicedBody {
        SplicedBody { encoding: self.clone(), key, shared }
    }

    fn write_body(&self, key: BodyKey, out: &mut Vec<u8>) {
        match key.base {
            None => {
                let count = key.view.cells().map(|cell| self.now.in_cell(cell).len()).sum::<usize>();
                let runs = key.view.cells().map(|cell| &self.whole(self.now.cell_index(cell)).bytes[..]);
                write_full_body_spliced(count as u32, runs, out);
            }
            Some((base, seen)) => PIECES
                .with_borrow_mut(|pieces| self.write_delta(key.view, &self.bases[base as usize], seen, pieces, out)),
        }
    }

    fn whole(&self, at: usize) -> &EncodedCell {
        made_once(&self.whole[at], || EncodedCell::of(&self.now, at))
    }

    fn diff<'a>(&'a self, base: &'a BaseDiffs, at: usize, cell: Cell) -> &'a CellDiff {
        if self.now.by_cell[at].is_empty() && base.frame.by_cell[at].is_empty() {
            return &NOTHING_CHANGED;
        }
        made_once(&base.cells[at], || Box::new(CellDiff::between(&self.now, &base.frame, cell))).as_ref()
    }

    /// What a client that saw `seen` of the baseline needs to see `view` now: each
    /// cell's shared changes for the entities that stayed in a cell seen then and
    /// now, and the one-by-one changes and whole entities of those that crossed
    /// cells or the edge of the view.
    fn write_delta(&self, view: View, base: &BaseDiffs, seen: View, pieces: &mut Pieces, out: &mut Vec<u8>) {
        let now = &*self.now;
        let Pieces { added, changed, removed } = pieces;
        added.clear();
        changed.clear();
        removed.clear();
        let mut changed_count = 0;
        for cell in view.cells() {
            let at = now.cell_index(cell);
            let diff = self.diff(base, at, cell);
            // Stayers of a cell seen both times are in its shared changes; of a cell
            // newly in view, they are new to the client.
            if seen.contains(cell) {
                if !diff.stayed.is_empty() {
                    changed.push((at, diff.stayed.clone()));
                    changed_count += diff.stayed_count;
                }
            } else {
                added.extend(diff.stayers.iter().map(|&place| (at, place)));
            }
            for arrival in &diff.arrived {
                match &arrival.then {
                    Some((cell_then, change)) if seen.contains(*cell_then) => {
                        if let Some(range) = change {
                            changed.push((at, range.clone()));
                            changed_count += 1;
                        }
                    }
                    _ => added.push((at, arrival.place)),
                }
            }
        }
        let gone = |cell_now: Option<Cell>| !cell_now.is_some_and(|cell| view.contains(cell));
        for cell in seen.cells() {
            let at = now.cell_index(cell);
            let diff = self.diff(base, at, cell);
            // Stayers of a cell that left the view go with it.
            if !view.contains(cell) {
                let in_cell = &now.by_cell[at];
                removed
                    .extend(diff.stayers.iter().map(|&place| now.entities[in_cell[place as usize] as usize].net_id()));
            }
            removed.extend(diff.left.iter().filter(|(_, cell_now)| gone(*cell_now)).map(|(id, _)| *id));
        }
        // Every run in `changed` is a cell's own bytes: its difference was made above.
        let diffs = &base.cells;
        write_delta_body_spliced(
            base.frame.tick,
            (added.len() as u32, added.iter().map(|&(at, place)| self.whole(at).get(place))),
            (changed_count, changed.iter().map(|(at, range)| &done(&diffs[*at]).changes[range.clone()])),
            removed,
            out,
        );
    }
}

fn unmade<T>(count: usize) -> Box<[OnceLock<T>]> {
    (0..count).map(|_| OnceLock::new()).collect()
}

/// The value of `slot`, made by `make` if no thread has made it yet. Not waited
/// for while another thread makes it (a writer descheduled mid-way would hold up
/// every writer needing the piece): both make it, and the first one set is kept.
fn made_once<T>(slot: &OnceLock<T>, make: impl FnOnce() -> T) -> &T {
    if let Some(made) = slot.get() {
        return made;
    }
    let _ = slot.set(make());
    done(slot)
}

fn done<T>(slot: &OnceLock<T>) -> &T {
    slot.get().expect("made before use")
}

/// One body's pieces, kept per thread so a writer allocates them once: entities
/// it adds as (cell index, place in the cell), runs of encoded changes as (cell
/// index, byte range) into that cell's difference, and the net ids it removes.
#[derive(Default)]
struct Pieces {
    added: Vec<(usize, u32)>,
    changed: Vec<(usize, Range<usize>)>,
    removed: Vec<NetId>,
}

thread_local! {
    static PIECES: RefCell<Pieces> = RefCell::new(Pieces::default());
}

/// A cell's entities encoded whole, back to back in net-id order.
#[derive(Debug, Default)]
struct EncodedCell {
    bytes: Vec<u8>,
    /// Where each entity ends in `bytes`.
    ends: Vec<u32>,
}

impl EncodedCell {
    fn of(frame: &SnapshotFrame, at: usize) -> EncodedCell {
        let mut cell = EncodedCell::default();
        for &i in &frame.by_cell[at] {
            encode_entity(&frame.entities[i as usize], &mut cell.bytes);
            cell.ends.push(cell.bytes.len() as u32);
        }
        cell
    }

    fn get(&self, place: u32) -> &[u8] {
        let start = place.checked_sub(1).map_or(0, |before| self.ends[before as usize]);
        &self.bytes[start as usize..self.ends[place as usize] as usize]
    }
}

/// How one cell changed between a baseline frame and the current one. Entities
/// are named by their place in the cell's list now.
#[derive(Debug, Default)]
struct CellDiff {
    /// In the cell then and now.
    stayers: Vec<u32>,
    /// Encoded changes: first those of the stayers (the unchanged left out), then
    /// one for each arrival that has one.
    changes: Vec<u8>,
    stayed: Range<usize>,
    stayed_count: u32,
    /// In the cell now, not then.
    arrived: Vec<Arrival>,
    /// In the cell then, not now: its net id and its cell now (None: gone from the world).
    left: Vec<(NetId, Option<Cell>)>,
}

/// The difference of a cell empty then and now.
static NOTHING_CHANGED: CellDiff = CellDiff {
    stayers: Vec::new(),
    changes: Vec::new(),
    stayed: 0..0,
    stayed_count: 0,
    arrived: Vec::new(),
    left: Vec::new(),
};

/// An entity that came into a cell since the baseline.
#[derive(Debug)]
struct Arrival {
    /// Its place in the cell's list now.
    place: u32,
    /// Its cell at the baseline and its encoded change since (in `changes`; None:
    /// unchanged), when it existed then.
    then: Option<(Cell, Option<Range<usize>>)>,
}

impl CellDiff {
    fn between(now: &SnapshotFrame, base: &SnapshotFrame, cell: Cell) -> CellDiff {
        let mut diff = CellDiff::default();
        let mut arrivals = Vec::new();
        let (current, before) = (now.in_cell(cell), base.in_cell(cell));
        let (mut c, mut b) = (0, 0);
        // Both lists are in net-id order: one merge pass; only entities that crossed
        // into or out of the cell are looked up in the other frame.
        loop {
            let order = match (current.get(c), before.get(b)) {
                (Some(&i), Some(&j)) => now.entities[i as usize].net_id().cmp(&base.entities[j as usize].net_id()),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => break,
            };
            match order {
                Ordering::Less => {
                    arrivals.push(c as u32);
                    c += 1;
                }
                Ordering::Greater => {
                    let net_id = base.entities[before[b] as usize].net_id();
                    diff.left.push((net_id, now.find(net_id).map(|(_, cell)| cell)));
                    b += 1;
                }
                Ordering::Equal => {
                    diff.stayers.push(c as u32);
                    let (was, is) = (&base.entities[before[b] as usize], &now.entities[current[c] as usize]);
                    if let Some(change) = EntityChange::between(was, is) {
                        encode_change(&change, &mut diff.changes);
                        diff.stayed_count += 1;
                    }
                    (c, b) = (c + 1, b + 1);
                }
            }
        }
        diff.stayed = 0..diff.changes.len();
        for place in arrivals {
            let entity = &now.entities[current[place as usize] as usize];
            let then = base.find(entity.net_id()).map(|(was, cell_then)| {
                let change = EntityChange::between(was, entity).map(|change| {
                    let start = diff.changes.len();
                    encode_change(&change, &mut diff.changes);
                    start..diff.changes.len()
                });
                (cell_then, change)
            });
            diff.arrived.push(Arrival { place, then });
        }
        diff
    }
}
