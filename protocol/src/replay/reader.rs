//! Reading a replay from untrusted bytes: gunzip within a size limit, check the
//! header's magic and version, then records one by one. A truncated, corrupt or
//! foreign file is a clear error, never a panic.

use std::io::Read;

use flate2::read::GzDecoder;
use serde::Deserialize;

use super::{FORMAT_VERSION, MAGIC, Record, ReplayEnd, ReplayHeader, TickedMsg};
use crate::{Baselines, Snapshot};

/// Largest replay this reader decompresses: hours of a full room of 1,000, and a
/// stop for a gzip bomb (a few KB that would inflate to gigabytes).
pub const MAX_DECOMPRESSED_BYTES: u64 = 512 * 1024 * 1024;

/// Why a replay could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("not a replay: not gzip data (a replay file starts with 1f 8b)")]
    NotGzip,
    #[error("the replay is truncated: {0}")]
    Truncated(String),
    #[error("the replay is corrupt: {0}")]
    Corrupt(String),
    #[error("not an Arena replay: the header does not start with \"{MAGIC}\"")]
    NotAReplay,
    #[error("replay format version {found} is not supported: this reader reads version {FORMAT_VERSION}")]
    UnsupportedVersion { found: u64 },
    #[error("the replay decompresses to more than {0} bytes")]
    TooLarge(u64),
    #[error("record {index}: {reason}")]
    BadRecord { index: usize, reason: String },
}

/// The records of a replay, read one at a time from its decompressed bytes.
pub struct ReplayReader {
    data: Vec<u8>,
    /// Where the next record starts in `data`.
    at: usize,
    pub header: ReplayHeader,
    /// Records read so far (for error messages).
    records: usize,
    ended: bool,
}

impl ReplayReader {
    /// Gunzip `file` and read its header.
    pub fn new(file: &[u8]) -> Result<ReplayReader, ReplayError> {
        ReplayReader::with_limit(file, MAX_DECOMPRESSED_BYTES)
    }

    /// Like [`ReplayReader::new`], refusing files that decompress past `limit` bytes.
    pub fn with_limit(file: &[u8], limit: u64) -> Result<ReplayReader, ReplayError> {
        if !file.starts_with(&[0x1f, 0x8b]) {
            return Err(ReplayError::NotGzip);
        }
        let mut data = Vec::new();
        GzDecoder::new(file).take(limit.saturating_add(1)).read_to_end(&mut data).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => ReplayError::Truncated(format!("the gzip stream ends early ({e})")),
            _ => ReplayError::Corrupt(format!("gzip: {e}")),
        })?;
        if data.len() as u64 > limit {
            return Err(ReplayError::TooLarge(limit));
        }
        check_magic_and_version(&data)?;
        let mut rest = &data[..];
        let header = ReplayHeader::deserialize(&mut rmp_serde::Deserializer::new(&mut rest)).map_err(|e| {
            if is_eof(&e) {
                ReplayError::Truncated("the header is cut off".into())
            } else {
                ReplayError::Corrupt(format!("header: {e}"))
            }
        })?;
        let at = data.len() - rest.len();
        Ok(ReplayReader { data, at, header, records: 0, ended: false })
    }

    /// The next record; None after the `end` record. A file that stops before its
    /// `end` is [`ReplayError::Truncated`].
    pub fn next_record(&mut self) -> Result<Option<Record>, ReplayError> {
        if self.ended {
            return Ok(None);
        }
        let mut rest = &self.data[self.at..];
        if rest.is_empty() {
            return Err(ReplayError::Truncated(format!(
                "no end record after {} records: the recording was cut off",
                self.records
            )));
        }
        let index = self.records;
        let record = Record::deserialize(&mut rmp_serde::Deserializer::new(&mut rest)).map_err(|e| {
            if is_eof(&e) {
                ReplayError::Truncated(format!("record {index} is cut off"))
            } else {
                ReplayError::BadRecord { index, reason: e.to_string() }
            }
        })?;
        self.at = self.data.len() - rest.len();
        self.records += 1;
        if matches!(record, Record::End(_)) {
            self.ended = true;
            if !rest.is_empty() {
                return Err(ReplayError::Corrupt(format!("{} bytes after the end record", rest.len())));
            }
        }
        Ok(Some(record))
    }
}

/// The magic and the format version, read by hand so a file of another version is
/// refused before anything version-specific is decoded.
fn check_magic_and_version(data: &[u8]) -> Result<(), ReplayError> {
    let mut rd = data;
    let fields = rmp::decode::read_array_len(&mut rd).map_err(|_| ReplayError::NotAReplay)?;
    if fields < 2 {
        return Err(ReplayError::NotAReplay);
    }
    let mut magic = [0u8; MAGIC.len()];
    match rmp::decode::read_str(&mut rd, &mut magic) {
        Ok(found) if found == MAGIC => {}
        _ => return Err(ReplayError::NotAReplay),
    }
    let version: u64 = rmp::decode::read_int(&mut rd).map_err(|_| ReplayError::NotAReplay)?;
    if version != u64::from(FORMAT_VERSION) {
        return Err(ReplayError::UnsupportedVersion { found: version });
    }
    Ok(())
}

fn is_eof(e: &rmp_serde::decode::Error) -> bool {
    use rmp_serde::decode::Error;
    match e {
        Error::InvalidMarkerRead(io) | Error::InvalidDataRead(io) => io.kind() == std::io::ErrorKind::UnexpectedEof,
        _ => false,
    }
}

/// A whole replay, its deltas applied: what tests and tools compare and step through.
#[derive(Clone, Debug, PartialEq)]
pub struct Replay {
    pub header: ReplayHeader,
    /// Every recorded frame in order, whole.
    pub frames: Vec<Snapshot>,
    pub events: Vec<TickedMsg>,
    pub end: ReplayEnd,
}

impl Replay {
    /// Read and check a whole replay file: every delta must apply to the frame before it.
    pub fn read(file: &[u8]) -> Result<Replay, ReplayError> {
        let mut reader = ReplayReader::new(file)?;
        let (mut frames, mut events, mut baselines) = (Vec::new(), Vec::new(), Baselines::default());
        loop {
            let index = reader.records;
            let bad = |reason: String| ReplayError::BadRecord { index, reason };
            match reader.next_record()? {
                Some(Record::Keyframe(snapshot)) => {
                    baselines.keep_full(&snapshot);
                    frames.push(snapshot);
                }
                Some(Record::Delta(delta)) => {
                    let previous = frames.last().map(|f: &Snapshot| f.tick);
                    if previous != Some(delta.baseline) {
                        return Err(bad(format!(
                            "delta at tick {} is against tick {}, not the previous frame",
                            delta.tick.0, delta.baseline.0
                        )));
                    }
                    frames.push(baselines.apply(&delta).map_err(|e| bad(e.to_string()))?);
                }
                Some(Record::Event(event)) => events.push(event),
                Some(Record::End(end)) => return Ok(Replay { header: reader.header, frames, events, end }),
                // next_record gives the end record before any None; kept total all the same.
                None => return Err(ReplayError::Truncated("no end record".into())),
            }
        }
    }
}
