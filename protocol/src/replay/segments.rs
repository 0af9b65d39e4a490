//! One gzip member written in segments, each deflated from a fresh compressor. A
//! segment ends with a sync flush (byte-aligned, not the final block) and refers to
//! nothing before it, so segments written one after another are one deflate stream;
//! the last ends with the final block and the gzip trailer. What a recording keeps
//! between segments is its CRC-32 and length: the compressor (hundreds of KiB of
//! deflate state) can serve every recording a thread writes.

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

    /// `raw` as raw deflate from a fresh state into `self.out`, ended by `flush`: `Sync`
    /// (an empty stored block: byte-aligned, more may follow) or `Finish` (the final block).
    fn deflate(&mut self, raw: &[u8], flush: FlushCompress) -> io::Result<()> {
        self.deflate.reset();
        self.out.clear();
        loop {
            // Deflate's worst case is a few bytes over the input per 16 KiB block.
            self.out.reserve(raw.len() - self.deflate.total_in() as usize + raw.len() / 64 + 64);
            let consumed = self.deflate.total_in() as usize;
            let status = self.deflate.compress_vec(&raw[consumed..], &mut self.out, flush).map_err(io::Error::other)?;
            let done = match flush {
                FlushCompress::Finish => status == Status::StreamEnd,
                // All taken, and room left over: the flush is complete.
                _ => self.deflate.total_in() as usize == raw.len() && self.out.len() < self.out.capacity(),
            };
            if done {
                return Ok(());
            }
        }
    }
}

/// One gzip member's running check, kept between its segments.
#[derive(Debug, Default)]
pub struct GzipMember {
    crc: Crc,
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
    pub fn segment<'c>(&mut self, raw: &[u8], compressor: &'c mut SegmentCompressor) -> io::Result<&'c [u8]> {
        self.crc.update(raw);
        compressor.deflate(raw, FlushCompress::Sync)?;
        Ok(&compressor.out)
    }

    /// The last segment: `raw` compressed and ended with the final block, then the
    /// trailer (CRC-32 and length of everything, little-endian).
    pub fn last_segment<'c>(mut self, raw: &[u8], compressor: &'c mut SegmentCompressor) -> io::Result<&'c [u8]> {
        self.crc.update(raw);
        compressor.deflate(raw, FlushCompress::Finish)?;
        compressor.out.extend_from_slice(&self.crc.sum().to_le_bytes());
        compressor.out.extend_from_slice(&self.crc.amount().to_le_bytes());
        Ok(&compressor.out)
    }
}
