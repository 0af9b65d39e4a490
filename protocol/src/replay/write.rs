//! Writing a replay: the header, frames as keyframes or deltas against the previous
//! frame, events spliced in as the wire bytes everyone was sent, and the end,
//! streamed through gzip so a recording never sits in memory whole.

use std::io::{self, Write};

use flate2::Compression;
use flate2::write::GzEncoder;
use serde::Serialize;

use super::{KEYFRAME_EVERY_S, Record, ReplayEnd, ReplayHeader};
use crate::snapshot::{write_delta_body, write_full_body};
use crate::{EntityChange, NetId, Tick, WireEntity};

/// The gzip level replays are written at. Level 1: on a busy 50-player room's frames
/// it costs about a third of level 6's time for about a fifth more bytes, well within
/// the 1 MB a minute budget (BENCHMARKS.md, "Replays"); the writer's time is what the
/// server pays for every room it records.
pub const REPLAY_GZIP_LEVEL: u32 = 1;

/// Streams one recording into `out`, gzip-compressed.
pub struct ReplayEncoder<W: Write> {
    gz: GzEncoder<W>,
    /// One record's bytes, reused.
    record: Vec<u8>,
    /// The last frame written, sorted by net id: the next delta's baseline.
    previous: Vec<WireEntity>,
    /// The frame being written, reused (swapped with `previous` after each frame).
    current: Vec<WireEntity>,
    /// A delta's lists, reused.
    scratch: DeltaScratch,
    previous_tick: Option<Tick>,
    /// Frames between keyframes, from the header's rates.
    keyframe_every: u32,
    frames_since_keyframe: u32,
    /// Bytes handed to gzip so far (before compression).
    raw_bytes: u64,
}

/// The added, changed and removed lists of a delta, kept between frames so a frame
/// allocates nothing once the buffers have grown to the room's size.
#[derive(Default)]
pub struct DeltaScratch {
    added: Vec<WireEntity>,
    changed: Vec<EntityChange>,
    removed: Vec<NetId>,
}

impl<W: Write> ReplayEncoder<W> {
    /// Start a replay with its header, compressed at [`REPLAY_GZIP_LEVEL`].
    pub fn new(out: W, header: &ReplayHeader) -> io::Result<ReplayEncoder<W>> {
        ReplayEncoder::with_level(out, header, REPLAY_GZIP_LEVEL)
    }

    /// Start a replay compressed at gzip `level` (0-9); readers need not know which.
    pub fn with_level(out: W, header: &ReplayHeader, level: u32) -> io::Result<ReplayEncoder<W>> {
        let mut encoder = ReplayEncoder {
            gz: GzEncoder::new(out, Compression::new(level.min(9))),
            record: Vec::with_capacity(16 * 1024),
            previous: Vec::new(),
            current: Vec::new(),
            scratch: DeltaScratch::default(),
            previous_tick: None,
            keyframe_every: u32::from(header.recorded_rate_hz.max(1)) * u32::from(KEYFRAME_EVERY_S),
            frames_since_keyframe: 0,
            raw_bytes: 0,
        };
        header.serialize(&mut rmp_serde::Serializer::new(&mut encoder.record)).map_err(io::Error::other)?;
        encoder.flush_record()?;
        Ok(encoder)
    }

    /// The world at `tick`: a keyframe when one is due, else a delta from the last frame.
    pub fn frame(&mut self, tick: Tick, entities: &[WireEntity]) -> io::Result<()> {
        self.current.clear();
        self.current.extend_from_slice(entities);
        if !self.current.is_sorted_by_key(WireEntity::net_id) {
            self.current.sort_unstable_by_key(WireEntity::net_id);
        }
        match self.previous_tick {
            Some(baseline) if self.frames_since_keyframe < self.keyframe_every => {
                write_delta_with(tick, baseline, (&self.previous, &self.current), &mut self.scratch, &mut self.record);
                self.frames_since_keyframe += 1;
            }
            _ => {
                write_keyframe(tick, &self.current, &mut self.record);
                self.frames_since_keyframe = 1;
            }
        }
        std::mem::swap(&mut self.previous, &mut self.current);
        self.previous_tick = Some(tick);
        self.flush_record()
    }

    /// A message everyone in the room was sent at `tick`, as its wire bytes.
    pub fn event(&mut self, tick: Tick, wire_msg: &[u8]) -> io::Result<()> {
        write_event(tick, wire_msg, &mut self.record);
        self.flush_record()
    }

    /// Write the end record and the gzip trailer; returns the output.
    pub fn finish(mut self, end: &ReplayEnd) -> io::Result<W> {
        Record::End(end.clone())
            .serialize(&mut rmp_serde::Serializer::new(&mut self.record))
            .map_err(io::Error::other)?;
        self.flush_record()?;
        self.gz.finish()
    }

    /// Bytes written before compression (the header and every record so far).
    pub fn raw_bytes(&self) -> u64 {
        self.raw_bytes
    }

    /// The output, for its size so far.
    pub fn get_ref(&self) -> &W {
        self.gz.get_ref()
    }

    fn flush_record(&mut self) -> io::Result<()> {
        self.raw_bytes += self.record.len() as u64;
        let result = self.gz.write_all(&self.record);
        self.record.clear();
        result
    }
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
