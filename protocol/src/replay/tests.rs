//! The replay format: what is written reads back the same, and bad files are refused clearly.

use std::io::Write;

use glam::Vec2;
use proptest::prelude::*;

use super::*;
use crate::{EntityKind, EntityState, NetId, PlayerId, RoundStart, Tick, WireEntity, encode};

fn header(format_version: u16) -> ReplayHeader {
    ReplayHeader {
        magic: MAGIC.into(),
        format_version,
        protocol_version: crate::PROTOCOL_VERSION,
        room_id: "r1".into(),
        room_name: "Room 1".into(),
        private: false,
        round: RoundStart { round: 2, score_limit: 10, time_limit_s: 180 },
        started_at_ms: 1_795_000_000_000,
        tick_rate_hz: 30,
        recorded_rate_hz: 10,
        arena_size: Vec2::new(2000.0, 2000.0),
        player_radius: 20.0,
        projectile_radius: 5.0,
        player_speed: 300.0,
        max_health: 100,
        players: vec![crate::PlayerInfo { player_id: PlayerId(7), net_id: NetId(1), name: "ann".into(), bot: false }],
    }
}

fn entity(id: u32, x: f32, health: u16) -> WireEntity {
    WireEntity::from(EntityState {
        net_id: NetId(id),
        kind: if id > 100 { EntityKind::Projectile } else { EntityKind::Player },
        owner: PlayerId(id),
        pos: Vec2::new(x, 2.0 * x),
        vel: Vec2::new(3.0, -1.0),
        aim: 0.5,
        health,
        score: id % 3,
    })
}

/// 130 frames (two keyframes at 10 Hz) where entities move, come and go, plus events.
fn recorded() -> (Vec<(Tick, Vec<WireEntity>)>, Vec<u8>) {
    let mut encoder = ReplayEncoder::new(Vec::new(), &header(FORMAT_VERSION)).unwrap();
    let mut frames = Vec::new();
    for i in 0..130u32 {
        let tick = Tick(3 * i + 1);
        let mut now: Vec<WireEntity> = (1..=5).map(|id| entity(id, (i * id) as f32, 100 - (i % 50) as u16)).collect();
        // A projectile that lives for a few frames, a player that leaves for a while.
        now.extend((i % 7 < 3).then(|| entity(200 + i / 7, i as f32, 0)));
        now.retain(|e| !(40..60).contains(&i) || e.net_id() != NetId(3));
        // Written out of order: the encoder sorts.
        now.reverse();
        encoder.frame(tick, &now).unwrap();
        now.sort_by_key(WireEntity::net_id);
        frames.push((tick, now));
        if i % 20 == 0 {
            let kill = crate::ServerMsg::Kill(crate::server_msg::Kill { killer: PlayerId(1), victim: PlayerId(2) });
            encoder.event(tick, &encode(&kill)).unwrap();
        }
    }
    let end = ReplayEnd { tick: Tick(388), reason: "score_limit".into(), ended_at_ms: 1_795_000_013_000 };
    (frames, encoder.finish(&end).unwrap())
}

#[test]
fn a_written_replay_reads_back_frame_for_frame() {
    let (frames, file) = recorded();
    let replay = Replay::read(&file).unwrap();
    assert_eq!(replay.header, header(FORMAT_VERSION));
    assert_eq!(replay.frames.len(), frames.len());
    for (read, (tick, entities)) in replay.frames.iter().zip(&frames) {
        assert_eq!(read.tick, *tick);
        let read: Vec<WireEntity> = read.entities.iter().map(|&e| WireEntity::from(e)).collect();
        assert_eq!(&read, entities, "tick {}", tick.0);
    }
    assert_eq!(replay.events.len(), 7);
    assert_eq!(replay.events[1].tick, Tick(61));
    assert!(matches!(replay.events[0].msg, crate::ServerMsg::Kill(_)));
    assert_eq!(replay.end.reason, "score_limit");
}

#[test]
fn keyframes_come_every_five_seconds_of_frames() {
    let (_, file) = recorded();
    let mut reader = ReplayReader::new(&file).unwrap();
    let mut keyframes = Vec::new();
    let mut frame = 0;
    while let Some(record) = reader.next_record().unwrap() {
        match record {
            Record::Keyframe(_) => {
                keyframes.push(frame);
                frame += 1;
            }
            Record::Delta(_) => frame += 1,
            _ => {}
        }
    }
    assert_eq!(keyframes, vec![0, 50, 100], "10 Hz × 5 s");
}

#[test]
fn every_truncation_is_an_error_and_never_a_panic() {
    let (_, file) = recorded();
    for len in 0..file.len() {
        let err = Replay::read(&file[..len]).expect_err("a cut file must not read");
        if len >= 2 {
            assert!(
                matches!(err, ReplayError::Truncated(_) | ReplayError::Corrupt(_)),
                "cut at {len} of {}: {err}",
                file.len()
            );
        }
    }
    // Cut in the middle of the deflate data: truncated, and the message says so.
    let err = Replay::read(&file[..file.len() / 2]).unwrap_err();
    assert!(matches!(err, ReplayError::Truncated(_)), "{err}");
    assert!(err.to_string().contains("truncated"), "{err}");
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

fn gunzip(file: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(file), &mut out).unwrap();
    out
}

#[test]
fn a_recording_without_its_end_is_truncated() {
    let (_, file) = recorded();
    let mut data = gunzip(&file);
    // The end record is the last few bytes: drop them and re-compress a well-formed gzip.
    let end = encode(&Record::End(ReplayEnd {
        tick: Tick(388),
        reason: "score_limit".into(),
        ended_at_ms: 1_795_000_013_000,
    }));
    assert!(data.ends_with(&end));
    data.truncate(data.len() - end.len());
    let err = Replay::read(&gzip(&data)).unwrap_err();
    assert!(matches!(&err, ReplayError::Truncated(m) if m.contains("no end record")), "{err}");
    // And a record cut in half.
    data.truncate(data.len() - 3);
    let err = Replay::read(&gzip(&data)).unwrap_err();
    assert!(matches!(&err, ReplayError::Truncated(m) if m.contains("cut off")), "{err}");
}

#[test]
fn corrupt_bytes_are_refused() {
    let (_, file) = recorded();
    // A flipped byte inside the compressed data: the deflate stream or gzip's CRC-32 catches it.
    for at in [12, file.len() / 3, file.len() / 2, file.len() - 10] {
        let mut bad = file.clone();
        bad[at] ^= 0x55;
        let err = Replay::read(&bad).expect_err("a corrupt file must not read");
        assert!(!matches!(err, ReplayError::NotGzip), "{err}");
    }
    // A well-compressed file whose records are nonsense, and one with bytes after its end.
    let mut data = gunzip(&file);
    let header_len = encode(&header(FORMAT_VERSION)).len();
    data[header_len] = 0xc1; // never used in MessagePack
    assert!(matches!(Replay::read(&gzip(&data)), Err(ReplayError::BadRecord { index: 0, .. })));
    let mut data = gunzip(&file);
    data.push(0x90);
    let err = Replay::read(&gzip(&data)).unwrap_err();
    assert!(matches!(&err, ReplayError::Corrupt(m) if m.contains("after the end")), "{err}");
}

#[test]
fn other_versions_and_other_files_are_refused_by_name() {
    let encoder = ReplayEncoder::new(Vec::new(), &header(2)).unwrap();
    let end = ReplayEnd { tick: Tick(1), reason: "time_limit".into(), ended_at_ms: 0 };
    let err = Replay::read(&encoder.finish(&end).unwrap()).unwrap_err();
    assert!(matches!(err, ReplayError::UnsupportedVersion { found: 2 }), "{err}");
    assert_eq!(err.to_string(), "replay format version 2 is not supported: this reader reads version 1");
    assert!(matches!(Replay::read(b"{\"not\": \"gzip\"}"), Err(ReplayError::NotGzip)));
    assert!(matches!(Replay::read(&gzip(&encode(&crate::Tick(5)))), Err(ReplayError::NotAReplay)));
    assert!(matches!(Replay::read(&gzip(&[])), Err(ReplayError::NotAReplay)));
}

#[test]
fn a_delta_that_skips_a_frame_is_refused() {
    let mut data = encode(&header(FORMAT_VERSION));
    write_keyframe(Tick(1), &[entity(1, 1.0, 100)], &mut data);
    write_delta(Tick(7), Tick(4), &[entity(1, 1.0, 100)], &[entity(1, 2.0, 100)], &mut data);
    let err = Replay::read(&gzip(&data)).unwrap_err();
    assert!(
        matches!(&err, ReplayError::BadRecord { index: 1, reason } if reason.contains("not the previous frame")),
        "{err}"
    );
}

#[test]
fn a_gzip_bomb_stops_at_the_limit() {
    // 64 MB of zeros compress to about 64 KB: refused at the limit, not held whole.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        gz.write_all(&zeros).unwrap();
    }
    let bomb = gz.finish().unwrap();
    assert!(matches!(ReplayReader::with_limit(&bomb, 1 << 20), Err(ReplayError::TooLarge(_))));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    #[test]
    fn random_bytes_never_panic_the_reader(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Replay::read(&bytes);
        let _ = Replay::read(&gzip(&bytes));
        let mut with_header = encode(&header(FORMAT_VERSION));
        with_header.extend_from_slice(&bytes);
        let _ = Replay::read(&gzip(&with_header));
    }
}

/// A recording written as a writer of many recordings writes it: one stream, batches of
/// frames and events (some empty) each compressed as a segment with the compressor shared
/// with another recording written in between. Returns the file and its records uncompressed.
fn written_in_batches() -> (Vec<(Tick, Vec<WireEntity>)>, Vec<u8>, Vec<u8>) {
    let mut compressor = ReplayCompressor::new(REPLAY_GZIP_LEVEL);
    let (mut file, mut other_file) = (Vec::new(), Vec::new());
    let (mut stream, mut written) = ReplayStream::begin(&header(FORMAT_VERSION), &mut compressor, &mut file).unwrap();
    let (mut other, _) = ReplayStream::begin(&header(FORMAT_VERSION), &mut compressor, &mut other_file).unwrap();
    let mut raw = encode(&header(FORMAT_VERSION));
    let (mut frames, mut records) = (Vec::new(), FrameScratch::default());
    let mut encoder = RecordEncoder::new(&header(FORMAT_VERSION), &mut Vec::new()).unwrap();
    for batch_number in 0..40u32 {
        let mut batch = stream.batch(&mut compressor);
        // Every fifth batch is empty; the others hold one to five frames.
        for n in 0..(batch_number % 5) {
            let i = batch_number * 5 + n;
            let tick = Tick(3 * i + 1);
            let mut now: Vec<WireEntity> = (1..=4).map(|id| entity(id, (i * id) as f32, 100)).collect();
            now.extend((i % 4 == 0).then(|| entity(300 + i, 1.0, 0)));
            batch.frame(tick, &now);
            encoder.frame(tick, &now, &mut records, &mut raw);
            let kill = crate::ServerMsg::Kill(crate::server_msg::Kill { killer: PlayerId(1), victim: PlayerId(i) });
            batch.event(tick, &encode(&kill));
            write_event(tick, &encode(&kill), &mut raw);
            frames.push((tick, now));
        }
        written += batch.write_to(&mut file).unwrap();
        // Another recording's batch between two of this one's.
        let mut between = other.batch(&mut compressor);
        between.frame(Tick(batch_number), &[entity(9, batch_number as f32, 50)]);
        between.write_to(&mut other_file).unwrap();
    }
    let end = ReplayEnd { tick: Tick(600), reason: "time_limit".into(), ended_at_ms: 1_795_000_060_000 };
    written += stream.finish(&end, &mut compressor, &mut file).unwrap();
    write_end(&end, &mut raw).unwrap();
    assert_eq!(written, file.len() as u64, "the bytes each write reported are the file's");
    let other_end = ReplayEnd { tick: Tick(40), ..end };
    other.finish(&other_end, &mut compressor, &mut other_file).unwrap();
    assert_eq!(Replay::read(&other_file).unwrap().frames.len(), 40, "the recording written in between reads too");
    (frames, file, raw)
}

#[test]
fn a_recording_written_in_segments_reads_back_frame_for_frame() {
    let (frames, file, raw) = written_in_batches();
    assert_eq!(gunzip(&file), raw, "a plain gzip decoder reads one member of the records, unchanged");
    let replay = Replay::read(&file).unwrap();
    assert_eq!(replay.frames.len(), frames.len());
    for (read, (tick, entities)) in replay.frames.iter().zip(&frames) {
        assert_eq!(read.tick, *tick);
        let read: Vec<WireEntity> = read.entities.iter().map(|&e| WireEntity::from(e)).collect();
        assert_eq!(&read, entities, "tick {}", tick.0);
    }
    assert_eq!(replay.events.len(), frames.len());
    assert_eq!(replay.end.tick, Tick(600));
    // One member: the reader would take a second member's bytes as data after the end.
    let mut member = flate2::read::GzDecoder::new(&file[..]);
    std::io::Read::read_to_end(&mut member, &mut Vec::new()).unwrap();
    assert!(member.into_inner().is_empty(), "nothing after the member's trailer");
}

#[test]
fn segments_end_with_the_gzip_trailer_of_everything() {
    let (_, file, raw) = written_in_batches();
    assert_eq!(file[..3], [0x1f, 0x8b, 8], "gzip, deflate");
    let trailer = &file[file.len() - 8..];
    let mut crc = flate2::Crc::new();
    crc.update(&raw);
    assert_eq!(trailer[..4], crc.sum().to_le_bytes(), "CRC-32 of the records");
    assert_eq!(trailer[4..], (raw.len() as u32).to_le_bytes(), "ISIZE");
    // A byte of either changed: the file is refused.
    for at in [file.len() - 8, file.len() - 5, file.len() - 4, file.len() - 1] {
        let mut bad = file.clone();
        bad[at] ^= 0x01;
        let err = Replay::read(&bad).expect_err("a wrong trailer must not read");
        assert!(matches!(err, ReplayError::Corrupt(_)), "byte {at}: {err}");
    }
    // The trailer or the final block missing: truncated.
    for cut in [8, 12] {
        let err = Replay::read(&file[..file.len() - cut]).unwrap_err();
        assert!(matches!(err, ReplayError::Truncated(_)), "{cut} bytes cut: {err}");
    }
}

#[test]
fn the_encoder_writes_segments_when_asked_and_reads_the_same() {
    let (frames, one_segment) = recorded();
    let mut encoder = ReplayEncoder::new(Vec::new(), &header(FORMAT_VERSION)).unwrap();
    for (n, (tick, entities)) in frames.iter().enumerate() {
        encoder.frame(*tick, entities).unwrap();
        if n % 20 == 0 {
            let kill = crate::ServerMsg::Kill(crate::server_msg::Kill { killer: PlayerId(1), victim: PlayerId(2) });
            encoder.event(*tick, &encode(&kill)).unwrap();
        }
        if n % 10 == 9 {
            encoder.end_segment().unwrap();
            encoder.end_segment().unwrap();
        }
    }
    let raw = encoder.raw_bytes();
    let end = ReplayEnd { tick: Tick(388), reason: "score_limit".into(), ended_at_ms: 1_795_000_013_000 };
    let segmented = encoder.finish(&end).unwrap();
    assert_ne!(segmented, one_segment, "written in segments");
    assert_eq!(gunzip(&segmented), gunzip(&one_segment), "the same records");
    assert_eq!(raw + encode(&Record::End(end)).len() as u64, gunzip(&segmented).len() as u64);
}

#[test]
fn a_segment_points_back_into_the_one_before() {
    // Two seconds of a quiet room are nearly the same bytes: primed with the first, the
    // compressor writes the second as back-references, far smaller than the first.
    let second: Vec<u8> = (0..3000u32).flat_map(|i| (i.wrapping_mul(2_654_435_761) >> 7).to_le_bytes()).collect();
    let mut compressor = crate::replay::SegmentCompressor::new(REPLAY_GZIP_LEVEL);
    let mut member = crate::replay::GzipMember::default();
    let mut file = crate::replay::GzipMember::header(&compressor).to_vec();
    let first_len = {
        let first = member.segment(&second, &mut compressor).unwrap();
        file.extend_from_slice(first);
        first.len()
    };
    let again = member.segment(&second, &mut compressor).unwrap();
    assert!(again.len() * 10 < first_len, "primed segment {} B against a fresh one's {first_len} B", again.len());
    file.extend_from_slice(again);
    file.extend_from_slice(member.last_segment(&[], &mut compressor).unwrap());
    assert_eq!(gunzip(&file), [second.clone(), second].concat(), "the back-references decode to the same bytes");
}

#[test]
fn priming_uses_the_last_bytes_written_not_older_ones() {
    // 20 KB of noise, then a segment that repeats its first 2 KB (older than the 16 KiB
    // window: must not be referenced) and its last 2 KB (inside it: should be), with
    // another recording's segment on the same compressor in between. A tail kept from the
    // wrong place makes back-references that decode to other bytes.
    let mut seed = 0x9e37_79b9_u32;
    let noise: Vec<u8> = (0..20_000)
        .map(|_| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 24) as u8
        })
        .collect();
    let repeat = [&noise[..2048], &noise[noise.len() - 2048..]].concat();
    let mut compressor = crate::replay::SegmentCompressor::new(REPLAY_GZIP_LEVEL);
    let (mut member, mut other) = (crate::replay::GzipMember::default(), crate::replay::GzipMember::default());
    let mut file = crate::replay::GzipMember::header(&compressor).to_vec();
    file.extend_from_slice(member.segment(&noise, &mut compressor).unwrap());
    other.segment(&noise[..5000], &mut compressor).unwrap();
    let second = member.segment(&repeat, &mut compressor).unwrap();
    assert!(second.len() < 2048 + 1024, "the last 2 KB came back as a reference: {} B", second.len());
    file.extend_from_slice(second);
    file.extend_from_slice(member.last_segment(&noise[..100], &mut compressor).unwrap());
    assert_eq!(gunzip(&file), [&noise[..], &repeat, &noise[..100]].concat());
}

/// One batch of a crowded room grows the buffers a writer shares among its recordings;
/// once written they shrink back to at most `SCRATCH_KEPT_MAX` each, and the file still
/// reads. A small room's batch keeps its buffers for the next one.
#[test]
fn a_large_batch_does_not_keep_the_shared_buffers_at_its_size() {
    let mut compressor = ReplayCompressor::new(REPLAY_GZIP_LEVEL);
    let mut file = Vec::new();
    let (mut stream, _) = ReplayStream::begin(&header(FORMAT_VERSION), &mut compressor, &mut file).unwrap();
    // Unsorted (the sorting buffer is used) and every entity moving (deltas change them all).
    let room = |players: u32, i: u32| -> Vec<WireEntity> {
        (1..=players).rev().map(|id| entity(id, (i * id) as f32, 100)).collect()
    };
    let mut batch = stream.batch(&mut compressor);
    for i in 0..10 {
        batch.frame(Tick(3 * i + 1), &room(50, i));
    }
    batch.write_to(&mut file).unwrap();
    let small = compressor.scratch_bytes();
    assert!(small > 0 && small <= SCRATCH_KEPT_MAX, "a room of 50 keeps its buffers: {small} bytes");
    let mut batch = stream.batch(&mut compressor);
    for i in 10..20 {
        batch.frame(Tick(3 * i + 1), &room(5_000, i));
    }
    batch.write_to(&mut file).unwrap();
    // Six buffers (records, compressed output, sorted frame, the delta's three lists),
    // none past the bound once the batch is written; during it they grew to megabytes.
    let kept = compressor.scratch_bytes();
    assert!(kept <= 6 * SCRATCH_KEPT_MAX, "{kept} bytes kept after a batch of 5,000 entities");
    let end = ReplayEnd { tick: Tick(60), reason: "time_limit".into(), ended_at_ms: 1_795_000_060_000 };
    stream.finish(&end, &mut compressor, &mut file).unwrap();
    let replay = Replay::read(&file).unwrap();
    assert_eq!(replay.frames.len(), 20);
    assert_eq!(replay.frames[19].entities.len(), 5_000);
}
