//! The results log: finished rounds appended as JSON lines, written by a thread of
//! its own so a room's tick never waits on the disk.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arena_protocol::PlayerId;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// Rounds waiting to be written. Rounds end seconds apart per room; this is
/// hundreds of rooms ending at once before a record is dropped (and logged).
pub const RESULTS_QUEUE: usize = 1024;

/// Longest a written round waits for `sync_data` while more rounds keep arriving.
/// A writer that runs out of rounds syncs at once, so a quiet server's rounds are
/// durable as soon as they are written and a drain never waits out this interval.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// One finished round, as one line of the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoundRecord {
    pub room_id: String,
    pub room_name: String,
    pub round: u32,
    /// `score_limit`, `time_limit`, `room_closed` or `room_failed`.
    pub reason: String,
    /// Unix milliseconds.
    pub ended_at_ms: u64,
    pub duration_s: f32,
    pub players: Vec<PlayerRecord>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlayerRecord {
    pub player_id: PlayerId,
    pub name: String,
    pub kills: u32,
    pub deaths: u32,
    /// A house bot (the server played it), not a person. Absent in lines written before bots.
    #[serde(default)]
    pub bot: bool,
}

/// The rooms' handle on the results log.
#[derive(Debug)]
pub struct ResultsLog {
    tx: mpsc::Sender<RoundRecord>,
    /// Rounds handed to the writer; counted before they are sent, so a round in the
    /// queue is never missing from the count.
    queued: AtomicU64,
    /// Rounds the writer is done with: written and synced to disk, or given up on
    /// (and logged). Counted only after the sync, so the drain's wait means durable.
    settled: Arc<AtomicU64>,
}

impl ResultsLog {
    /// Queue a finished round; never waits (a full queue drops the round, loudly).
    /// A round nobody played in (no standings) is not worth a line and is skipped.
    pub fn submit(&self, record: RoundRecord) {
        if record.players.is_empty() {
            tracing::debug!(room = %record.room_id, round = record.round, "round without players not logged");
            return;
        }
        self.queued.fetch_add(1, Ordering::AcqRel);
        if let Err(e) = self.tx.try_send(record) {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            tracing::error!(error = %e, "the results log queue refused a round");
        }
    }

    /// Whether every queued round is on disk and synced (`sync_data`).
    pub fn all_written(&self) -> bool {
        self.settled.load(Ordering::Acquire) >= self.queued.load(Ordering::Acquire)
    }
}

/// Where rounds go once they are on disk: the store writer's bounded queue. A round
/// it has no room for raises `missed`, and the store reads it back from the log.
#[derive(Debug)]
pub struct Feed {
    pub tx: mpsc::Sender<LoggedRound>,
    pub missed: Arc<AtomicBool>,
}

/// A round on disk and where its line is, so what is derived from the log can say
/// how far it got.
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedRound {
    pub record: RoundRecord,
    /// The file's id ([`file_id`]): it stays the same when the file is renamed aside.
    pub file_id: u64,
    /// The line's first byte and the byte after its newline.
    pub line_start: u64,
    pub line_end: u64,
}

/// What tells a log file apart while it exists, across a rename: its inode (0 where
/// there are none, and then nothing can be told apart).
pub fn file_id(metadata: &std::fs::Metadata) -> u64 {
    #[cfg(unix)]
    return std::os::unix::fs::MetadataExt::ino(metadata);
    #[cfg(not(unix))]
    return 0;
}

/// Start the writer thread, appending to `path` and renaming it aside once it would
/// grow past `max_bytes` (0: never).
pub fn spawn_writer(path: PathBuf, max_bytes: u64) -> Arc<ResultsLog> {
    spawn_writer_feeding(path, max_bytes, None)
}

/// [`spawn_writer`], handing every round written and synced to `feed`: the log is
/// written first, so what is derived from it can always be rebuilt from it.
pub fn spawn_writer_feeding(path: PathBuf, max_bytes: u64, feed: Option<Feed>) -> Arc<ResultsLog> {
    let (tx, rx) = mpsc::channel::<RoundRecord>(RESULTS_QUEUE);
    let settled = Arc::new(AtomicU64::new(0));
    let writer = Writer { path, max_bytes, file: None, file_id: 0, size: 0, unsynced: false, feed };
    let counter = settled.clone();
    // A thread, not a task: every write and sync blocks, and the thread ends by
    // itself once the last handle on the log (and so the sender) is dropped.
    std::thread::Builder::new()
        .name("arena-results".into())
        .spawn(move || writer.run(rx, &counter))
        .expect("spawn the results log writer");
    Arc::new(ResultsLog { tx, queued: AtomicU64::new(0), settled })
}

/// The writer thread's state: the open file and how full it is.
struct Writer {
    path: PathBuf,
    /// Size at which the file is renamed aside; 0 never rotates.
    max_bytes: u64,
    /// `None` if it could not be opened, and after a failed write, so the next
    /// round tries a fresh open instead of writing to a broken handle.
    file: Option<File>,
    /// The open file's [`file_id`], handed on with each round's place in it.
    file_id: u64,
    /// Bytes in the open file, to decide when to rotate without asking the disk.
    size: u64,
    /// Written lines that `sync_data` has not covered yet.
    unsynced: bool,
    /// Who hears of each round once it is synced.
    feed: Option<Feed>,
}

impl Writer {
    /// Write rounds as they come; sync whenever the queue runs dry, or after
    /// [`SYNC_INTERVAL`] of a steady stream, and only then count them as settled.
    fn run(mut self, mut rx: mpsc::Receiver<RoundRecord>, settled: &AtomicU64) {
        // Open now, so a path we cannot write is reported at start, not at the first round.
        if let Err(e) = self.open() {
            tracing::error!(path = %self.path.display(), error = %e, "cannot open the results log; will retry at each round");
        }
        while let Some(first) = rx.blocking_recv() {
            let batch_started = Instant::now();
            let (mut handled, mut written) = (0, Vec::new());
            let mut next = Some(first);
            while let Some(record) = next.take() {
                handled += 1;
                if let Some((line_start, line_end)) = self.append(&record) {
                    written.push(LoggedRound { record, file_id: self.file_id, line_start, line_end });
                }
                if batch_started.elapsed() < SYNC_INTERVAL {
                    next = rx.try_recv().ok();
                }
            }
            self.sync();
            let written = self.pass_on(written);
            crate::ops::metrics::handles().rounds_logged.increment(written);
            settled.fetch_add(handled, Ordering::AcqRel);
        }
    }

    /// Hand synced rounds to the feed without waiting; returns how many there were.
    fn pass_on(&self, written: Vec<LoggedRound>) -> u64 {
        let count = written.len() as u64;
        if let Some(feed) = &self.feed {
            for record in written {
                if feed.tx.try_send(record).is_err() {
                    feed.missed.store(true, Ordering::Release);
                }
            }
        }
        count
    }

    /// Append one round as one line: where it starts and ends in the open file, or
    /// None (and logged) if it could not be written.
    fn append(&mut self, record: &RoundRecord) -> Option<(u64, u64)> {
        let mut line = serde_json::to_vec(record).expect("JSON of our own record");
        line.push(b'\n');
        match self.try_append(&line) {
            Ok(()) => Some((self.size - line.len() as u64, self.size)),
            Err(e) => {
                tracing::error!(path = %self.path.display(), error = %e, room = %record.room_id, "cannot append a round to the results log");
                self.file = None;
                None
            }
        }
    }

    fn try_append(&mut self, line: &[u8]) -> io::Result<()> {
        if self.file.is_none() {
            self.open()?;
        }
        // A line is never split across files; one longer than the limit gets a file of its own.
        if self.max_bytes > 0 && self.size > 0 && self.size + line.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        let file = self.file.as_mut().expect("opened above");
        // One write per line keeps lines whole (the file is opened for append).
        file.write_all(line)?;
        self.size += line.len() as u64;
        self.unsynced = true;
        Ok(())
    }

    fn open(&mut self) -> io::Result<()> {
        let mut file = OpenOptions::new().create(true).read(true).append(true).open(&self.path)?;
        let metadata = file.metadata()?;
        self.size = metadata.len();
        self.file_id = file_id(&metadata);
        // A line cut short (a crash or a failed write mid-line) is ended first, or the
        // next round would be appended to it and lost with it.
        if self.size > 0 {
            let mut last = [0_u8];
            file.seek(SeekFrom::Start(self.size - 1))?;
            file.read_exact(&mut last)?;
            if last != *b"\n" {
                file.write_all(b"\n")?;
                self.size += 1;
                self.unsynced = true;
            }
        }
        self.file = Some(file);
        Ok(())
    }

    /// Rename the full file aside (never over another file, never deleting one) and
    /// start a fresh one under the configured name.
    fn rotate(&mut self) -> io::Result<()> {
        self.sync();
        self.file = None;
        let aside = aside_name(&self.path, SystemTime::now());
        std::fs::rename(&self.path, &aside)?;
        tracing::info!(path = %self.path.display(), renamed_to = %aside.display(), bytes = self.size, "results log rotated");
        self.open()
    }

    /// `sync_data` the open file if it has unsynced lines; a failure is logged.
    fn sync(&mut self) {
        if !self.unsynced {
            return;
        }
        self.unsynced = false;
        if let Some(file) = &self.file
            && let Err(e) = file.sync_data()
        {
            tracing::error!(path = %self.path.display(), error = %e, "cannot sync the results log");
        }
    }
}

/// `<path>.<UTC time>` (e.g. `results.jsonl.20261129T164500Z`), with `.1`,
/// `.2`, … added if rotations within one second would otherwise collide.
fn aside_name(path: &Path, now: SystemTime) -> PathBuf {
    let seconds = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut stamped = OsString::from(path.as_os_str());
    stamped.push(".");
    stamped.push(utc_stamp(seconds));
    let stamped = PathBuf::from(stamped);
    let mut candidate = stamped.clone();
    let mut n = 0;
    while candidate.exists() {
        n += 1;
        let mut numbered = OsString::from(stamped.as_os_str());
        numbered.push(format!(".{n}"));
        candidate = PathBuf::from(numbered);
    }
    candidate
}

/// Unix seconds as `YYYYMMDDTHHMMSSZ` (proleptic Gregorian, UTC).
fn utc_stamp(unix_s: u64) -> String {
    let (days, secs) = (unix_s / 86_400, unix_s % 86_400);
    // Howard Hinnant's civil_from_days, shifted so years start on 1 March.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder under the system's temp dir, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir =
                std::env::temp_dir().join(format!("arena-{name}-{}-{}", std::process::id(), rand::random::<u32>()));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn round(n: u32, players: usize) -> RoundRecord {
        RoundRecord {
            room_id: "r0000001".into(),
            room_name: "Test room".into(),
            round: n,
            reason: "score_limit".into(),
            ended_at_ms: 1_764_434_700_000 + u64::from(n),
            duration_s: 42.5,
            players: (0..players)
                .map(|i| PlayerRecord {
                    player_id: PlayerId(i as u32 + 1),
                    name: format!("p{i}"),
                    kills: n,
                    deaths: 1,
                    bot: false,
                })
                .collect(),
        }
    }

    fn wait_written(log: &ResultsLog) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !log.all_written() {
            assert!(Instant::now() < deadline, "the writer did not settle its rounds");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn records_in(path: &Path) -> Vec<RoundRecord> {
        let text = std::fs::read_to_string(path).unwrap();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    #[test]
    fn rounds_parse_back_and_empty_rounds_are_skipped() {
        let dir = TempDir::new("results-skip");
        let path = dir.0.join("results.jsonl");
        let log = spawn_writer(path.clone(), 64 * 1024 * 1024);
        log.submit(round(1, 2));
        log.submit(round(2, 0));
        log.submit(round(3, 1));
        wait_written(&log);
        assert_eq!(records_in(&path), vec![round(1, 2), round(3, 1)]);
    }

    #[test]
    fn a_round_without_players_is_settled_at_once_and_leaves_no_line() {
        let dir = TempDir::new("results-empty");
        let path = dir.0.join("results.jsonl");
        let log = spawn_writer(path.clone(), 0);
        log.submit(round(1, 0));
        assert!(log.all_written());
        log.submit(round(2, 1));
        wait_written(&log);
        assert_eq!(records_in(&path), vec![round(2, 1)]);
    }

    #[test]
    fn rotation_renames_the_full_file_aside_and_keeps_every_line() {
        let dir = TempDir::new("results-rotate");
        let path = dir.0.join("results.jsonl");
        let line_len = serde_json::to_vec(&round(10, 2)).unwrap().len() as u64 + 1;
        let max_bytes = 3 * line_len;
        let log = spawn_writer(path.clone(), max_bytes);
        let rounds: Vec<RoundRecord> = (10..20).map(|n| round(n, 2)).collect();
        for r in &rounds {
            log.submit(r.clone());
        }
        wait_written(&log);

        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir.0).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        // Ten lines of equal length, three to a file: three files aside and one current.
        assert_eq!(files.len(), 4, "{files:?}");
        assert!(files.contains(&path));
        let mut kept: Vec<RoundRecord> = Vec::new();
        for file in &files {
            assert!(std::fs::metadata(file).unwrap().len() <= max_bytes, "{} overfull", file.display());
            if file != &path {
                let name = file.file_name().unwrap().to_string_lossy().into_owned();
                assert!(name.starts_with("results.jsonl.") && name.contains('T'), "{name}");
                assert_eq!(records_in(file).len(), 3);
            }
            kept.extend(records_in(file));
        }
        assert_eq!(records_in(&path), vec![round(19, 2)], "the newest round is in the current file");
        kept.sort_by_key(|r| r.round);
        assert_eq!(kept, rounds);
    }

    #[test]
    fn an_oversized_file_from_an_earlier_run_is_rotated_before_the_next_line() {
        let dir = TempDir::new("results-restart");
        let path = dir.0.join("results.jsonl");
        std::fs::write(&path, "x".repeat(100) + "\n").unwrap();
        let log = spawn_writer(path.clone(), 100);
        log.submit(round(1, 1));
        wait_written(&log);
        assert_eq!(records_in(&path), vec![round(1, 1)]);
        assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 2);
    }

    #[test]
    fn a_line_cut_short_by_a_crash_is_ended_before_the_next_round() {
        let dir = TempDir::new("results-cut");
        let path = dir.0.join("results.jsonl");
        let whole = serde_json::to_string(&round(1, 1)).unwrap() + "\n";
        let cut = &serde_json::to_string(&round(2, 1)).unwrap()[..30];
        std::fs::write(&path, format!("{whole}{cut}")).unwrap();
        let log = spawn_writer(path.clone(), 0);
        log.submit(round(3, 1));
        wait_written(&log);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(lines[1], cut, "the cut line stays, ended");
        assert_eq!(serde_json::from_str::<RoundRecord>(lines[2]).unwrap(), round(3, 1));
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn aside_names_never_collide() {
        let dir = TempDir::new("results-aside");
        let path = dir.0.join("log.jsonl");
        let at = UNIX_EPOCH + Duration::from_secs(1_795_970_700);
        let first = aside_name(&path, at);
        assert_eq!(first, dir.0.join("log.jsonl.20261129T164500Z"));
        std::fs::write(&first, "").unwrap();
        let second = aside_name(&path, at);
        assert_eq!(second, dir.0.join("log.jsonl.20261129T164500Z.1"));
    }

    #[test]
    fn utc_stamps_match_the_calendar() {
        assert_eq!(utc_stamp(0), "19700101T000000Z");
        assert_eq!(utc_stamp(951_782_400), "20000229T000000Z");
        assert_eq!(utc_stamp(1_795_970_700), "20261129T164500Z");
        assert_eq!(utc_stamp(4_102_444_799), "20991231T235959Z");
    }
}
