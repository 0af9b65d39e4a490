//! Writing a replay: records encoded a batch at a time and each batch compressed as
//! one segment of the file's gzip stream (`segments.rs`), so a recording never sits in
//! memory whole and keeps no compressor of its own between batches. A writer of many
//! recordings holds one [`ReplayStream`] each and one [`ReplayCompressor`] for all;
//! [`ReplayEncoder`] is the two together for a single file.

use std::io::{self, Write};

use super::records::{FrameScratch, RecordEncoder, shrink_to_bytes, write_end, write_event};
use super::segments::{GzipMember, SegmentCompressor};
use super::{ReplayEnd, ReplayHeader};
use crate::{Tick, WireEntity};

/// The gzip level replays are written at. Level 1: on a busy 50-player room's frames
/// it costs about a third of level 6's time for about a fifth more bytes, well within
/// the 1 MB a minute budget (BENCHMARKS.md, "Replays"); the writer's time is what the
/// server pays for every room it records.
pub const REPLAY_GZIP_LEVEL: u32 = 1;

/// The most a scratch buffer of a [`ReplayCompressor`] keeps once its batch is written;
/// a larger one shrinks to it. One batch of a crowded room or of a chat flood grows the
/// buffers, and a buffer the writer shares would otherwise hold that peak for as long as
/// the server runs. A busy room of 50 makes batches well under it, so they reuse the
/// buffers as before. (The sessions' spare buffers keep none over 64 KiB either.)
pub const SCRATCH_KEPT_MAX: usize = 64 * 1024;

/// What every recording one thread writes shares: the deflate compressor (its state is
/// hundreds of KiB) and the buffers a batch is built in.
pub struct ReplayCompressor {
    segments: SegmentCompressor,
    /// The batch's records, uncompressed.
    raw: Vec<u8>,
    frame: FrameScratch,
}

impl ReplayCompressor {
    /// A compressor at gzip `level` (0-9); readers need not know which.
    pub fn new(level: u32) -> ReplayCompressor {
        ReplayCompressor { segments: SegmentCompressor::new(level), raw: Vec::new(), frame: FrameScratch::default() }
    }

    /// Bytes its buffers keep reserved between batches (not the deflate state, whose size is fixed).
    pub fn scratch_bytes(&self) -> usize {
        self.raw.capacity() + self.segments.reserved_bytes() + self.frame.reserved_bytes()
    }

    /// After a batch is written: what a large one grew goes back (see [`SCRATCH_KEPT_MAX`]).
    fn shrink_scratch(&mut self) {
        shrink_to_bytes(&mut self.raw, SCRATCH_KEPT_MAX);
        self.segments.shrink_to_bytes(SCRATCH_KEPT_MAX);
        self.frame.shrink_to_bytes(SCRATCH_KEPT_MAX);
    }
}

/// One recording in progress between its batches: a few words and its last frame.
pub struct ReplayStream {
    records: RecordEncoder,
    member: GzipMember,
    /// Bytes of records so far, before compression.
    raw_bytes: u64,
}

impl ReplayStream {
    /// Begin a replay: writes the gzip header and the replay's header to `out`; returns
    /// the stream and the bytes written.
    pub fn begin(
        header: &ReplayHeader,
        compressor: &mut ReplayCompressor,
        out: &mut impl Write,
    ) -> io::Result<(ReplayStream, u64)> {
        compressor.raw.clear();
        let records = RecordEncoder::new(header, &mut compressor.raw)?;
        let mut stream = ReplayStream { records, member: GzipMember::default(), raw_bytes: 0 };
        out.write_all(&GzipMember::header(&compressor.segments))?;
        let written = stream.write_segment(compressor, out)?;
        Ok((stream, written + 10))
    }

    /// Records to add, all written to the file together by [`Batch::write_to`].
    pub fn batch<'a>(&'a mut self, compressor: &'a mut ReplayCompressor) -> Batch<'a> {
        compressor.raw.clear();
        Batch { stream: self, compressor }
    }

    /// Write the end record, the final block and the gzip trailer; returns the bytes written.
    pub fn finish(self, end: &ReplayEnd, compressor: &mut ReplayCompressor, out: &mut impl Write) -> io::Result<u64> {
        compressor.raw.clear();
        write_end(end, &mut compressor.raw)?;
        let result = self.member.last_segment(&compressor.raw, &mut compressor.segments);
        compressor.raw.clear();
        let written = result.and_then(|bytes| out.write_all(bytes).map(|()| bytes.len() as u64));
        compressor.shrink_scratch();
        written
    }

    /// Bytes of records so far, before compression.
    pub fn raw_bytes(&self) -> u64 {
        self.raw_bytes
    }

    fn frame(&mut self, tick: Tick, entities: &[WireEntity], compressor: &mut ReplayCompressor) {
        self.records.frame(tick, entities, &mut compressor.frame, &mut compressor.raw);
    }

    /// What `compressor.raw` holds, compressed as the next segment, to `out` in one write.
    fn write_segment(&mut self, compressor: &mut ReplayCompressor, out: &mut impl Write) -> io::Result<u64> {
        self.raw_bytes += compressor.raw.len() as u64;
        let result = self.member.segment(&compressor.raw, &mut compressor.segments);
        compressor.raw.clear();
        let written = result.and_then(|bytes| out.write_all(bytes).map(|()| bytes.len() as u64));
        compressor.shrink_scratch();
        written
    }
}

/// A batch of one recording's records being gathered. Dropped unwritten, its records
/// are lost and the stream's next deltas refer to frames the file lacks: a writer that
/// cannot write a batch abandons the recording.
pub struct Batch<'a> {
    stream: &'a mut ReplayStream,
    compressor: &'a mut ReplayCompressor,
}

impl Batch<'_> {
    /// The world at `tick`: a keyframe when one is due, else a delta from the last frame.
    pub fn frame(&mut self, tick: Tick, entities: &[WireEntity]) {
        self.stream.frame(tick, entities, self.compressor);
    }

    /// A message everyone in the room was sent at `tick`, as its wire bytes.
    pub fn event(&mut self, tick: Tick, wire_msg: &[u8]) {
        write_event(tick, wire_msg, &mut self.compressor.raw);
    }

    /// Compress the batch and write it to `out` in one write; returns the bytes written.
    pub fn write_to(self, out: &mut impl Write) -> io::Result<u64> {
        self.stream.write_segment(self.compressor, out)
    }
}

impl Drop for Batch<'_> {
    /// Records of a batch never written go, not into another recording's next batch.
    fn drop(&mut self) {
        self.compressor.raw.clear();
    }
}

/// Past this many bytes of records (before compression), [`ReplayEncoder`] writes a
/// segment without being asked: what it holds stays bounded.
const SEGMENT_MAX_RAW: usize = 1 << 20;

/// One replay streamed into `out`: a [`ReplayStream`] with a compressor of its own.
/// Records gather until [`ReplayEncoder::end_segment`] (or a megabyte of them).
pub struct ReplayEncoder<W: Write> {
    stream: ReplayStream,
    compressor: ReplayCompressor,
    out: W,
    written: u64,
}

impl<W: Write> ReplayEncoder<W> {
    /// Start a replay with its header, compressed at [`REPLAY_GZIP_LEVEL`].
    pub fn new(out: W, header: &ReplayHeader) -> io::Result<ReplayEncoder<W>> {
        ReplayEncoder::with_level(out, header, REPLAY_GZIP_LEVEL)
    }

    /// Start a replay compressed at gzip `level` (0-9); readers need not know which.
    pub fn with_level(mut out: W, header: &ReplayHeader, level: u32) -> io::Result<ReplayEncoder<W>> {
        let mut compressor = ReplayCompressor::new(level);
        let (stream, written) = ReplayStream::begin(header, &mut compressor, &mut out)?;
        Ok(ReplayEncoder { stream, compressor, out, written })
    }

    /// The world at `tick`: a keyframe when one is due, else a delta from the last frame.
    pub fn frame(&mut self, tick: Tick, entities: &[WireEntity]) -> io::Result<()> {
        self.stream.frame(tick, entities, &mut self.compressor);
        self.segment_when_full()
    }

    /// A message everyone in the room was sent at `tick`, as its wire bytes.
    pub fn event(&mut self, tick: Tick, wire_msg: &[u8]) -> io::Result<()> {
        write_event(tick, wire_msg, &mut self.compressor.raw);
        self.segment_when_full()
    }

    /// Compress and write what was recorded since the last segment, as the server's
    /// writer does each batch.
    pub fn end_segment(&mut self) -> io::Result<()> {
        self.written += self.stream.write_segment(&mut self.compressor, &mut self.out)?;
        Ok(())
    }

    /// Write the end record, the final block and the gzip trailer; returns the output.
    pub fn finish(mut self, end: &ReplayEnd) -> io::Result<W> {
        if !self.compressor.raw.is_empty() {
            self.end_segment()?;
        }
        self.stream.finish(end, &mut self.compressor, &mut self.out)?;
        Ok(self.out)
    }

    /// Bytes of records so far, before compression.
    pub fn raw_bytes(&self) -> u64 {
        self.stream.raw_bytes + self.compressor.raw.len() as u64
    }

    /// Compressed bytes written to the output so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    fn segment_when_full(&mut self) -> io::Result<()> {
        if self.compressor.raw.len() >= SEGMENT_MAX_RAW { self.end_segment() } else { Ok(()) }
    }
}
