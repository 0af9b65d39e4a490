//! One gzip member written in segments, each deflated from a fresh compressor. A
//! segment ends with a sync flush (byte-aligned, not the final block), so segments
//! written one after another are one deflate stream; the last ends with the final
//! block and the gzip trailer. What a recording keeps between segments is its CRC-32,
//! its length and the last few KiB it wrote: the compressor (hundreds of KiB of deflate
//! state) can serve every recording a thread writes.
//!
//! Before each segment the fresh compressor is primed with that tail (compressed, the
//! output thrown away), so the segment may point back into bytes the decoder already
//! holds in its window. Without it a small room's second of frames (a few KB) has little
//! to match against and its file grows by a tenth.

use std::io;

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// The deflate compressor segments are made with, and its output buffer.
pub struct SegmentCompressor {
    deflate: Compress,
    level: u32,
    out: Vec<u8>,
}

impl SegmentCompressor {
    /// A compressor at gzip `level` (0-9).
    pub fn new(level: u32) -> SegmentCompressor {
        let level = level.min(9);
        SegmentCompressor { deflate: Compress::new(Compression::new(level), false), level, out: Vec::new() }
    }

    /// Bytes reserved by its output buffer (the deflate state is of a fixed size).
    pub(super) fn reserved_bytes(&self) -> usize {
        super::records::reserved(&self.out)
    }

    /// The output buffer, its segment written, shrunk to `largest_kept` bytes if past it.
    pub(super) fn shrink_to_bytes(&mut self, largest_kept: usize) {
        super::records::shrink_to_bytes(&mut self.out, largest_kept);
    }

    /// `raw` as raw deflate into `self.out`, from a fresh state that has already seen
    /// `window` (the bytes just before `raw` in the stream), ended by `flush`: `Sync` (an
    /// empty stored block: byte-aligned, more may follow) or `Finish` (the final block).
    fn deflate(&mut self, window: &[u8], raw: &[u8], flush: FlushCompress) -> io::Result<()> {
        self.deflate.reset();
        self.out.clear();
        if !window.is_empty() {
            self.run(window, FlushCompress::Sync)?;
            self.out.clear();
        }
        self.run(raw, flush)
    }

    /// Compress all of `input` onto `self.out`, ended by `flush`.
    fn run(&mut self, input: &[u8], flush: FlushCompress) -> io::Result<()> {
        let start = self.deflate.total_in() as usize;
        loop {
            let consumed = self.deflate.total_in() as usize - start;
            // Deflate's worst case is a few bytes over the input per 16 KiB block.
            self.out.reserve(input.len() - consumed + input.len() / 64 + 64);
            let status =
                self.deflate.compress_vec(&input[consumed..], &mut self.out, flush).map_err(io::Error::other)?;
            let done = match flush {
                FlushCompress::Finish => status == Status::StreamEnd,
                // All taken, and room left over: the flush is complete.
                _ => self.deflate.total_in() as usize - start == input.len() && self.out.len() < self.out.capacity(),
            };
            if done {
                return Ok(());
            }
        }
    }
}

/// How much of what a member wrote last primes the compressor for its next segment.
/// Deflate looks back at most 32 KiB; 16 KiB won back most of what a small room lost to
/// fresh segments (BENCHMARKS.md, "Bytes a minute") for 16 KiB a recording, not a player.
pub const PRIMING_WINDOW: usize = 16 * 1024;

/// One gzip member's running check and the tail of what it wrote, kept between its segments.
#[derive(Debug, Default)]
pub struct GzipMember {
    crc: Crc,
    tail: Vec<u8>,
}

impl GzipMember {
    /// The gzip header (RFC 1952) as flate2 writes it: no name or time, the level's
    /// extra flags, "unknown" operating system.
    pub fn header(compressor: &SegmentCompressor) -> [u8; 10] {
        let extra_flags = match compressor.level {
            0..=1 => 4,
            9 => 2,
            _ => 0,
        };
        [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, extra_flags, 0xff]
    }

    /// The next segment of the member: `raw` compressed, to be written after the ones before.
    /// After an error the member's check no longer matches the file: abandon it.
    pub fn segment<'c>(&mut self, raw: &[u8], compressor: &'c mut SegmentCompressor) -> io::Result<&'c [u8]> {
        self.crc.update(raw);
        compressor.deflate(&self.tail, raw, FlushCompress::Sync)?;
        self.keep_tail(raw);
        Ok(&compressor.out)
    }

    /// Keep the last `PRIMING_WINDOW` bytes of the stream so far, `raw` being the newest.
    fn keep_tail(&mut self, raw: &[u8]) {
        // Sized once to the window, so the tail never reallocates.
        self.tail.reserve_exact(PRIMING_WINDOW.saturating_sub(self.tail.len()));
        let from_raw = raw.len().min(PRIMING_WINDOW);
        let from_tail = (PRIMING_WINDOW - from_raw).min(self.tail.len());
        self.tail.drain(..self.tail.len() - from_tail);
        self.tail.extend_from_slice(&raw[raw.len() - from_raw..]);
    }

    /// The last segment: `raw` compressed and ended with the final block, then the
    /// trailer (CRC-32 and length of everything, little-endian).
    pub fn last_segment<'c>(mut self, raw: &[u8], compressor: &'c mut SegmentCompressor) -> io::Result<&'c [u8]> {
        self.crc.update(raw);
        compressor.deflate(&self.tail, raw, FlushCompress::Finish)?;
        compressor.out.extend_from_slice(&self.crc.sum().to_le_bytes());
        compressor.out.extend_from_slice(&self.crc.amount().to_le_bytes());
        Ok(&compressor.out)
    }
}
