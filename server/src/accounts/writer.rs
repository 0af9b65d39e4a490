//! The round writer: derives the database from the results log.
//!
//! The results log is written first and stays the complete record. Each round it
//! syncs comes here through a bounded queue ([`STORE_QUEUE`]), with where its line
//! is, and is stored in one transaction that also moves this log's mark
//! ([`super::log_marks`]) past the line, as long as the rounds come in the log's
//! order. When the database cannot take a round (down, or the queue overflowed), or
//! a round comes out of order (the log was rotated, or one was missed), the writer
//! drops what it holds (every round is in the log), waits if it must, and catches up:
//! it reads the log from the mark on (the files rotated aside after the marked one,
//! then the current one) and stores every round it does not have yet, each exactly
//! once, as rounds are keyed by their round id. It does the same at start, so a
//! restart reads only what was written after the mark. A mark that does not match
//! the files (a log replaced or removed) is not trusted: the whole log is read then,
//! as before marks. Nothing here is awaited by a room.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use metrics::{counter, gauge, histogram};
use tokio::sync::mpsc;

use super::log_marks::LogMark;
use super::round_rows::round_id;
use super::store::{Store, StoreError};
use crate::ops::results::{Feed, LoggedRound, RoundRecord, file_id};

/// Rounds waiting to be stored. Past it a round is read back from the log later.
pub const STORE_QUEUE: usize = 1024;
/// First wait before trying a database that failed; doubles up to [`RETRY_MAX`].
pub const RETRY_FIRST: Duration = Duration::from_millis(250);
pub const RETRY_MAX: Duration = Duration::from_secs(5);
/// Log lines read from disk at a time while catching up.
const READ_CHUNK: usize = 512;
/// The longest line a mark may claim (a round of a full room is far shorter): a mark
/// row cannot make the check in [`locate`] allocate more.
const MAX_LINE_BYTES: u64 = 16 * 1024 * 1024;

/// Why a catch-up stopped; the writer tries again later, from its mark.
#[derive(Debug, thiserror::Error)]
pub enum CatchUpError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A log file listed could not be opened or read: its rounds are not skipped.
    #[error("cannot read the results log file {path}: {error}")]
    Log { path: PathBuf, error: std::io::Error },
}

/// The feed to hand the results log, and the writer's end of it.
pub fn channel() -> (Feed, Inbox) {
    let (tx, rx) = mpsc::channel(STORE_QUEUE);
    let missed = Arc::new(AtomicBool::new(false));
    (Feed { tx, missed: missed.clone() }, Inbox { rx, missed })
}

/// What the writer receives.
#[derive(Debug)]
pub struct Inbox {
    rx: mpsc::Receiver<LoggedRound>,
    missed: Arc<AtomicBool>,
}

/// This log's mark: its row, once there is one, and where it stands.
#[derive(Debug, Default)]
pub struct Mark {
    row: Option<i64>,
    at: Option<LogMark>,
    /// The mark was looked for in the database (at the first catch-up).
    looked_up: bool,
}

/// What a catch-up did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CatchUp {
    /// Rounds read from the log files (past the mark, or all of them without one).
    pub read: u64,
    /// Of those, rounds the database did not have yet.
    pub stored: u64,
}

/// Store rounds from `inbox` until the results log is gone, catching up from the log
/// at `log_path` at start, after every failure and whenever a round comes out of order.
pub async fn run(store: Store, mut inbox: Inbox, log_path: PathBuf) {
    let mut mark = Mark::default();
    let mut behind = true;
    let mut wait = RETRY_FIRST;
    loop {
        if behind || inbox.missed.swap(false, Ordering::AcqRel) {
            // Take what is queued off first: it is all in the log, read below.
            while inbox.rx.try_recv().is_ok() {}
            match catch_up(&store, &log_path, &mut mark).await {
                Ok(done) => {
                    if done.stored > 0 {
                        tracing::info!(
                            rounds = done.stored,
                            read = done.read,
                            "stored rounds read back from the results log"
                        );
                    }
                    behind = false;
                    wait = RETRY_FIRST;
                    gauge!("arena_database_up").set(1.0);
                }
                Err(e) => {
                    // A log file that cannot be read says nothing of the database.
                    if matches!(e, CatchUpError::Store(_)) {
                        gauge!("arena_database_up").set(0.0);
                    }
                    tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "cannot store rounds now; they wait in the results log");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(RETRY_MAX);
                    continue;
                }
            }
        }
        let logged = tokio::select! {
            logged = inbox.rx.recv() => logged,
            // Wake now and then to see a raised `missed` without a round arriving.
            _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
        };
        let Some(logged) = logged else { return };
        // A file id of 0 tells no file apart (no inodes): never "the same file".
        let here = |at: &LogMark| at.file_id != 0 && at.file_id == logged.file_id;
        if mark.at.as_ref().is_some_and(|at| here(at) && logged.line_end <= at.line_end) {
            continue; // the catch-up read it
        }
        let next = LogMark {
            file_id: logged.file_id,
            file_name: file_name(&log_path),
            line_start: logged.line_start,
            line_end: logged.line_end,
            round_id: round_id(&logged.record),
        };
        let in_order = mark.at.as_ref().is_some_and(|at| here(at) && logged.line_start == at.line_end);
        let row = mark.row.filter(|_| in_order);
        match store_one(&store, &logged.record, row.map(|row| (row, &next))).await {
            Ok(_) if in_order => mark.at = Some(next),
            // Stored, but the mark cannot pass the rounds between: read them from the log.
            Ok(_) => behind = true,
            Err(e) => {
                tracing::warn!(error = %e, round = %round_id(&logged.record), "cannot store a round; it waits in the results log");
                gauge!("arena_database_up").set(0.0);
                behind = true;
            }
        }
    }
}

/// Store one round (moving the mark with it), counting it in the metrics.
async fn store_one(store: &Store, record: &RoundRecord, mark: Option<(i64, &LogMark)>) -> Result<bool, StoreError> {
    let started = Instant::now();
    match store.store_round(record, mark).await {
        Ok(stored) => {
            histogram!("arena_round_store_seconds").record(started.elapsed().as_secs_f64());
            counter!("arena_rounds_stored_total", "outcome" => if stored { "stored" } else { "already_stored" })
                .increment(1);
            Ok(stored)
        }
        Err(e) => {
            counter!("arena_rounds_stored_total", "outcome" => "failed").increment(1);
            Err(e)
        }
    }
}

/// Store every round in the log files past `mark` that the database lacks, moving
/// the mark over each line read. A file that cannot be opened or read stops the
/// catch-up (the mark stays before its rounds) rather than being skipped.
pub async fn catch_up(store: &Store, log_path: &Path, mark: &mut Mark) -> Result<CatchUp, CatchUpError> {
    if !store.ping().await {
        // Say so plainly rather than failing on the first round.
        store.round_stored("").await?;
    }
    let files = log_files(log_path);
    if !mark.looked_up {
        let marks = store.log_marks().await?;
        if let Some((row, found)) = marks.into_iter().find(|(_, m)| locate(&files, m).is_some()) {
            *mark = Mark { row: Some(row), at: Some(found), looked_up: true };
        }
        mark.looked_up = true;
    }
    // From the marked file on, past the marked line; without a mark that matches the
    // files, everything.
    let (first, mark_end) = match mark.at.as_ref().and_then(|at| Some((locate(&files, at)?, at.line_end))) {
        Some((index, line_end)) => (index, line_end),
        None => (0, 0),
    };
    let mut done = CatchUp::default();
    for (index, path) in files.into_iter().enumerate().skip(first) {
        let unreadable = |error| CatchUpError::Log { path: path.clone(), error };
        let mut offset = if index == first { mark_end } else { 0 };
        let (mut opened, id) = open_log(&path).map_err(unreadable)?;
        opened.seek(SeekFrom::Start(offset)).map_err(unreadable)?;
        let name = file_name(&path);
        // Read on the blocking pool a chunk of lines at a time: log files are large.
        let mut reader = BufReader::new(opened);
        loop {
            let (chunk, rest) = tokio::task::spawn_blocking(move || (read_lines(&mut reader, offset), reader))
                .await
                .expect("reading the results log does not panic");
            reader = rest;
            let chunk = chunk.map_err(unreadable)?;
            // Fewer than a chunk: the file's end (or a line still being written) is reached.
            let more = chunk.len() == READ_CHUNK;
            let Some(last) = chunk.last() else { break };
            offset = last.1;
            for (line_start, line_end, record) in chunk.into_iter().filter_map(|(s, e, r)| Some((s, e, r?))) {
                done.read += 1;
                counter!("arena_rounds_read_back_total").increment(1);
                let next =
                    LogMark { file_id: id, file_name: name.clone(), line_start, line_end, round_id: round_id(&record) };
                if store.round_stored(&next.round_id).await? {
                    // Counted like the writer's own finds, so a catch-up shows how far it got.
                    counter!("arena_rounds_stored_total", "outcome" => "already_stored").increment(1);
                } else {
                    done.stored += u64::from(store_one(store, &record, mark.row.map(|row| (row, &next))).await?);
                }
                mark.at = Some(next);
            }
            // The mark moves over rounds found stored (and makes its row) once per chunk.
            if let Some(at) = &mark.at {
                match mark.row {
                    Some(row) => store.save_log_mark(row, at).await?,
                    None => mark.row = Some(store.new_log_mark(at).await?),
                }
            }
            if !more {
                break;
            }
        }
    }
    Ok(done)
}

/// Up to [`READ_CHUNK`] whole lines from `reader`, which stands at byte `offset`: each
/// line's start and end, and its round (None: not a round). A last line without its
/// newline (being written) is left for the next catch-up: the reader goes back to its
/// start, and fewer than a chunk of lines tells the caller to stop at this file.
fn read_lines(reader: &mut BufReader<File>, mut offset: u64) -> std::io::Result<Vec<(u64, u64, Option<RoundRecord>)>> {
    let mut lines = Vec::new();
    let mut line = Vec::new();
    while lines.len() < READ_CHUNK {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        if !line.ends_with(b"\n") {
            reader.seek(SeekFrom::Start(offset))?;
            break;
        }
        let start = offset;
        offset += n as u64;
        lines.push((start, offset, serde_json::from_slice(&line).ok()));
    }
    Ok(lines)
}

/// A log file, opened, and its [`file_id`] as the opened file says (a path's metadata
/// taken earlier may be another file's, if the log rotated meanwhile).
fn open_log(path: &Path) -> std::io::Result<(File, u64)> {
    let file = File::open(path)?;
    let id = file_id(&file.metadata()?);
    Ok((file, id))
}

/// Which of `files` the mark is in: the file with its id whose line at the mark is
/// the marked round's. A mark with file id 0 (no inodes) is never trusted.
fn locate(files: &[PathBuf], mark: &LogMark) -> Option<usize> {
    if mark.file_id == 0 {
        return None;
    }
    let length = mark.line_end.checked_sub(mark.line_start).filter(|&l| l <= MAX_LINE_BYTES)?;
    let (index, mut file) = files.iter().enumerate().find_map(|(index, path)| {
        let (file, id) = open_log(path).ok()?;
        (id == mark.file_id).then_some((index, file))
    })?;
    file.seek(SeekFrom::Start(mark.line_start)).ok()?;
    let mut line = vec![0; usize::try_from(length).ok()?];
    file.read_exact(&mut line).ok()?;
    let record: RoundRecord = serde_json::from_slice(line.strip_suffix(b"\n")?).ok()?;
    (round_id(&record) == mark.round_id).then_some(index)
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The results log and the files rotated aside from it (`<name>.<UTC time>[.n]`),
/// oldest first.
fn log_files(log_path: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (log_path.parent(), log_path.file_name()) else { return Vec::new() };
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let prefix = format!("{}.", name.to_string_lossy());
    let mut aside: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    aside.sort();
    // The current file may not exist yet (nothing logged): nothing to read there.
    if log_path.exists() {
        aside.push(log_path.to_path_buf());
    }
    aside
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A file in the system's temp dir, removed when dropped.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str) -> TempFile {
            let name = format!("arena-{name}-{}-{}", std::process::id(), rand::random::<u32>());
            TempFile(std::env::temp_dir().join(name))
        }

        fn append(&self, text: &str) {
            let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&self.0).unwrap();
            file.write_all(text.as_bytes()).unwrap();
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn a_line_being_written_is_read_whole_from_its_start_once_finished() {
        let file = TempFile::new("writer-partial");
        file.append("first\nsec");
        let mut reader = BufReader::new(File::open(&file.0).unwrap());
        let lines = read_lines(&mut reader, 0).unwrap();
        assert_eq!(lines.iter().map(|l| (l.0, l.1)).collect::<Vec<_>>(), [(0, 6)]);
        // The line is finished while the reader still stands in the file.
        file.append("ond\n");
        let lines = read_lines(&mut reader, 6).unwrap();
        assert_eq!(lines.iter().map(|l| (l.0, l.1)).collect::<Vec<_>>(), [(6, 13)], "the whole line, from its start");
    }

    #[test]
    fn a_mark_is_not_trusted_without_a_file_id_nor_past_the_longest_line() {
        let file = TempFile::new("writer-locate");
        file.append("{}\n");
        let id = open_log(&file.0).unwrap().1;
        let mark = |file_id, line_end| LogMark {
            file_id,
            file_name: String::new(),
            line_start: 0,
            line_end,
            round_id: String::new(),
        };
        let files = [file.0.clone()];
        assert_eq!(locate(&files, &mark(0, 3)), None, "no file id: nothing to tell files apart by");
        // A mark row claiming a huge line is refused before anything is allocated.
        assert_eq!(locate(&files, &mark(id, MAX_LINE_BYTES + 1)), None);
        assert_eq!(locate(&files, &mark(id, u64::MAX)), None);
    }
}
