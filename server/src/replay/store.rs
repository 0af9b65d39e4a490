//! The finished replays of this node: their descriptions (kept beside each file as
//! `<id>.json`, loaded at start), filtered for listing.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use arena_protocol::PlayerId;
use serde::{Deserialize, Serialize};

/// A finished replay as `GET /api/replays` lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplayMeta {
    /// 20 lowercase hex digits: the start time and a random part.
    pub id: String,
    pub room_id: String,
    pub room_name: String,
    pub private: bool,
    pub round: u32,
    /// `score_limit`, `time_limit`, `room_closed` or `room_failed`.
    pub reason: String,
    pub started_at_ms: u64,
    pub ended_at_ms: u64,
    pub duration_s: f32,
    /// Size of the file (compressed).
    pub bytes: u64,
    pub frames: u32,
    /// Everyone who played in the round (bots too).
    pub players: Vec<ReplayPlayer>,
    /// With several nodes: the node that keeps the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Where to download it (`GET` this URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplayPlayer {
    pub player_id: PlayerId,
    pub name: String,
    /// A house bot, not a person.
    #[serde(default)]
    pub bot: bool,
}

/// What a listing asks for; every part optional.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplayFilter {
    pub room: Option<String>,
    pub player: Option<PlayerId>,
    /// Replays that ended at or after this (Unix ms).
    pub since_ms: Option<u64>,
    /// Replays that started at or before this (Unix ms).
    pub until_ms: Option<u64>,
    /// Who asks (from a session token): private rooms' replays are theirs to see when they were in them.
    pub viewer: Option<PlayerId>,
}

impl ReplayMeta {
    pub fn had_player(&self, player: PlayerId) -> bool {
        self.players.iter().any(|p| p.player_id == player)
    }

    /// Whether `viewer` may list and download it.
    pub fn visible_to(&self, viewer: Option<PlayerId>) -> bool {
        !self.private || viewer.is_some_and(|v| self.had_player(v))
    }

    /// Whether `filter` selects it: also applied to what other nodes answer.
    pub fn matches(&self, filter: &ReplayFilter) -> bool {
        self.visible_to(filter.viewer)
            && filter.room.as_ref().is_none_or(|room| *room == self.room_id)
            && filter.player.is_none_or(|p| self.had_player(p))
            && filter.since_ms.is_none_or(|t| self.ended_at_ms >= t)
            && filter.until_ms.is_none_or(|t| self.started_at_ms <= t)
    }
}

/// The replays of this node, newest last.
#[derive(Debug)]
pub struct ReplayStore {
    pub dir: PathBuf,
    replays: Mutex<Vec<ReplayMeta>>,
}

/// Whether `id` is shaped like a replay id (so it is safe in a path).
pub fn valid_id(id: &str) -> bool {
    id.len() == 20 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl ReplayStore {
    /// The replays whose description and file are both in `dir`.
    pub fn load(dir: &Path) -> ReplayStore {
        let mut replays = Vec::new();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let Some(id) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            if !valid_id(id) {
                continue;
            }
            let meta = std::fs::read(&path).ok().and_then(|bytes| serde_json::from_slice::<ReplayMeta>(&bytes).ok());
            match meta {
                Some(meta) if meta.id == id && file_path(dir, id).exists() => replays.push(meta),
                _ => tracing::warn!(path = %path.display(), "replay description without a readable replay; ignored"),
            }
        }
        replays.sort_by_key(|m| (m.ended_at_ms, m.id.clone()));
        ReplayStore { dir: dir.to_path_buf(), replays: Mutex::new(replays) }
    }

    pub fn insert(&self, meta: ReplayMeta) {
        self.lock().push(meta);
    }

    pub fn remove(&self, id: &str) -> Option<ReplayMeta> {
        let mut replays = self.lock();
        let at = replays.iter().position(|m| m.id == id)?;
        Some(replays.remove(at))
    }

    pub fn get(&self, id: &str) -> Option<ReplayMeta> {
        self.lock().iter().find(|m| m.id == id).cloned()
    }

    /// The replays `filter` selects, newest first, at most `limit`.
    pub fn list(&self, filter: &ReplayFilter, limit: usize) -> Vec<ReplayMeta> {
        self.lock().iter().rev().filter(|m| m.matches(filter)).take(limit).cloned().collect()
    }

    pub fn all(&self) -> Vec<ReplayMeta> {
        self.lock().clone()
    }

    /// The replay file of `id`.
    pub fn file_of(&self, id: &str) -> PathBuf {
        file_path(&self.dir, id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<ReplayMeta>> {
        // A panic while holding it cannot leave the list half-changed: every change is one call.
        self.replays.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// `<dir>/<id>.replay.gz`
pub fn file_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.replay.gz"))
}

/// `<dir>/<id>.json`: the description beside it.
pub fn meta_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.json"))
}
