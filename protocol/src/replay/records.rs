//! The records of a replay, uncompressed: the header, frames as keyframes or deltas
//! against the previous frame, events spliced in as the wire bytes everyone was sent,
//! and the end. What one recording keeps between frames is its last frame and where
//! it is in the keyframe cycle; the buffers a frame is built in can be shared.

use std::io;

use serde::Serialize;

use super::{KEYFRAME_EVERY_S, Record, ReplayEnd, ReplayHeader};
use crate::snapshot::{write_delta_body, write_full_body};
use crate::{EntityChange, NetId, Tick, WireEntity};

/// What one recording keeps between frames to write the next.
pub struct RecordEncoder {
    /// The last frame written, sorted by net id: the next delta's baseline.
    previous: Vec<WireEntity>,
    previous_tick: Option<Tick>,
    /// Frames between keyframes, from the header's rates.
    keyframe_every: u32,
    frames_since_keyframe: u32,
}

/// Buffers a frame is built in, reused from frame to frame: one can serve every
/// recording a thread writes.
#[derive(Default)]
pub struct FrameScratch {
    /// The frame, when it came unsorted.
    sorted: Vec<WireEntity>,
    delta: DeltaScratch,
}

impl FrameScratch {
    /// Bytes reserved by its buffers.
    pub(super) fn reserved_bytes(&self) -> usize {
        let DeltaScratch { added, changed, removed } = &self.delta;
        reserved(&self.sorted) + reserved(added) + reserved(changed) + reserved(removed)
    }

    /// Every buffer past `largest_kept` bytes emptied and shrunk to it.
    pub(super) fn shrink_to_bytes(&mut self, largest_kept: usize) {
        let DeltaScratch { added, changed, removed } = &mut self.delta;
        shrink_to_bytes(&mut self.sorted, largest_kept);
        shrink_to_bytes(added, largest_kept);
        shrink_to_bytes(changed, largest_kept);
        shrink_to_bytes(removed, largest_kept);
    }
}

/// Bytes `buffer` has reserved.
pub(super) fn reserved<T>(buffer: &Vec<T>) -> usize {
    buffer.capacity() * std::mem::size_of::<T>()
}

/// A scratch buffer past `largest_kept` bytes, emptied (its contents are spent) and
/// shrunk to that size; a smaller one is left as it is.
pub(super) fn shrink_to_bytes<T>(buffer: &mut Vec<T>, largest_kept: usize) {
    if reserved(buffer) > largest_kept {
        buffer.clear();
        buffer.shrink_to(largest_kept / std::mem::size_of::<T>().max(1));
    }
}

impl RecordEncoder {
    /// A recording's encoder, its header written to `out`.
    pub fn new(header: &ReplayHeader, out: &mut Vec<u8>) -> io::Result<RecordEncoder> {
        header.serialize(&mut rmp_serde::Serializer::new(&mut *out)).map_err(io::Error::other)?;
        Ok(RecordEncoder {
            previous: Vec::new(),
            previous_tick: None,
            keyframe_every: u32::from(header.recorded_rate_hz.max(1)) * u32::from(KEYFRAME_EVERY_S),
            frames_since_keyframe: 0,
        })
    }

    /// The world at `tick` to `out`: a keyframe when one is due, else a delta from the last frame.
    pub fn frame(&mut self, tick: Tick, entities: &[WireEntity], scratch: &mut FrameScratch, out: &mut Vec<u8>) {
        let now = if entities.is_sorted_by_key(WireEntity::net_id) {
            entities
        } else {
            scratch.sorted.clear();
            scratch.sorted.extend_from_slice(entities);
            scratch.sorted.sort_unstable_by_key(WireEntity::net_id);
            &scratch.sorted
        };
        match self.previous_tick {
            Some(baseline) if self.frames_since_keyframe < self.keyframe_every => {
                write_delta_with(tick, baseline, (&self.previous, now), &mut scratch.delta, out);
                self.frames_since_keyframe += 1;
            }
            _ => {
                write_keyframe(tick, now, out);
                self.frames_since_keyframe = 1;
            }
        }
        self.previous.clear();
        self.previous.extend_from_slice(now);
        self.previous_tick = Some(tick);
    }
}

/// `{"end": [tick, reason, ended_at_ms]}`: the last record.
pub fn write_end(end: &ReplayEnd, out: &mut Vec<u8>) -> io::Result<()> {
    Record::End(end.clone()).serialize(&mut rmp_serde::Serializer::new(out)).map_err(io::Error::other)
}

/// The added, changed and removed lists of a delta, kept between frames so a frame
/// allocates nothing once the buffers have grown to the room's size.
#[derive(Default)]
pub struct DeltaScratch {
    added: Vec<WireEntity>,
    changed: Vec<EntityChange>,
    removed: Vec<NetId>,
}

/// `{"keyframe": [tick, 0, entities]}`: a spectator's whole snapshot under its own tag.
pub fn write_keyframe(tick: Tick, entities: &[WireEntity], out: &mut Vec<u8>) {
    let _ = rmp::encode::write_map_len(out, 1);
    let _ = rmp::encode::write_str(out, "keyframe");
    let _ = rmp::encode::write_array_len(out, 3);
    let _ = rmp::encode::write_uint(out, u64::from(tick.0));
    let _ = rmp::encode::write_uint(out, 0);
    write_full_body(entities.iter(), out);
}

/// `{"delta": [tick, 0, baseline, added, changed, removed]}` from `base` (the frame at
/// `baseline`) to `now`, both sorted by net id: the wire's delta message.
pub fn write_delta(tick: Tick, baseline: Tick, base: &[WireEntity], now: &[WireEntity], out: &mut Vec<u8>) {
    write_delta_with(tick, baseline, (base, now), &mut DeltaScratch::default(), out);
}

/// [`write_delta`] with its lists in `scratch`, reused from frame to frame.
pub fn write_delta_with(
    tick: Tick,
    baseline: Tick,
    (base, now): (&[WireEntity], &[WireEntity]),
    scratch: &mut DeltaScratch,
    out: &mut Vec<u8>,
) {
    let DeltaScratch { added, changed, removed } = scratch;
    added.clear();
    changed.clear();
    removed.clear();
    let (mut i, mut j) = (0, 0);
    while i < base.len() || j < now.len() {
        match (base.get(i), now.get(j)) {
            (Some(b), Some(n)) if b.net_id() == n.net_id() => {
                changed.extend(EntityChange::between(b, n));
                (i, j) = (i + 1, j + 1);
            }
            (Some(b), Some(n)) if b.net_id() < n.net_id() => {
                removed.push(b.net_id());
                i += 1;
            }
            (Some(b), None) => {
                removed.push(b.net_id());
                i += 1;
            }
            (_, Some(n)) => {
                added.push(*n);
                j += 1;
            }
            (None, None) => break,
        }
    }
    crate::snapshot::write_snapshot_header(crate::SnapshotKind::Delta, tick, 0, out);
    write_delta_body(baseline, added, changed, removed, out);
}

/// `{"event": [tick, message]}` with the message's wire bytes spliced in unchanged.
pub fn write_event(tick: Tick, wire_msg: &[u8], out: &mut Vec<u8>) {
    let _ = rmp::encode::write_map_len(out, 1);
    let _ = rmp::encode::write_str(out, "event");
    let _ = rmp::encode::write_array_len(out, 2);
    let _ = rmp::encode::write_uint(out, u64::from(tick.0));
    out.extend_from_slice(wire_msg);
}
