//! Replay files from untrusted bytes: any input reads or fails with a ReplayError, never a
//! panic, both as a file and as the decompressed contents behind a valid header.
#![no_main]

use std::io::Write;

use arena_protocol::replay::{FORMAT_VERSION, MAGIC, Replay, ReplayReader};
use libfuzzer_sys::fuzz_target;

/// Small enough that a gzip bomb among the inputs costs milliseconds, not memory.
const LIMIT: u64 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let _ = ReplayReader::with_limit(data, LIMIT).map(drain);
    // The same bytes as records after a well-formed header, compressed as the server does.
    let mut contents = Vec::new();
    rmp::encode::write_array_len(&mut contents, 2).unwrap();
    rmp::encode::write_str(&mut contents, MAGIC).unwrap();
    rmp::encode::write_uint(&mut contents, u64::from(FORMAT_VERSION)).unwrap();
    contents.extend_from_slice(data);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&contents).unwrap();
    let _ = Replay::read(&gz.finish().unwrap());
});

fn drain(mut reader: ReplayReader) {
    while let Ok(Some(_)) = reader.next_record() {}
}
