//! Which replays to delete: those past the age limit, then the oldest while all of
//! them together are over the size limit. A recording still being written is
//! counted in the size but never chosen.

/// One replay as retention sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Kept {
    pub id: String,
    /// Unix milliseconds; what "oldest" means.
    pub ended_at_ms: u64,
    pub bytes: u64,
    /// A round being recorded right now.
    pub writing: bool,
}

/// The ids to delete, oldest first.
pub fn to_delete(kept: &[Kept], now_ms: u64, max_age_ms: u64, max_bytes: u64) -> Vec<String> {
    let mut finished: Vec<&Kept> = kept.iter().filter(|k| !k.writing).collect();
    finished.sort_by(|a, b| a.ended_at_ms.cmp(&b.ended_at_ms).then_with(|| a.id.cmp(&b.id)));
    let mut total: u64 = kept.iter().map(|k| k.bytes).sum();
    let mut doomed = Vec::new();
    for k in finished {
        let too_old = now_ms.saturating_sub(k.ended_at_ms) > max_age_ms;
        if !(too_old || total > max_bytes) {
            // Oldest first: the rest are younger, and the total is within the limit.
            break;
        }
        total -= k.bytes;
        doomed.push(k.id.clone());
    }
    doomed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(id: &str, ended_at_ms: u64, bytes: u64, writing: bool) -> Kept {
        Kept { id: id.into(), ended_at_ms, bytes, writing }
    }

    #[test]
    fn the_oldest_go_first_until_the_total_fits() {
        let all = [kept("c", 300, 40, false), kept("a", 100, 40, false), kept("b", 200, 40, false)];
        assert_eq!(to_delete(&all, 400, 1_000, 80), vec!["a"]);
        assert_eq!(to_delete(&all, 400, 1_000, 50), vec!["a", "b"]);
        assert!(to_delete(&all, 400, 1_000, 120).is_empty());
    }

    #[test]
    fn age_deletes_whatever_the_size() {
        let all = [kept("a", 100, 1, false), kept("b", 200, 1, false), kept("c", 900, 1, false)];
        assert_eq!(to_delete(&all, 1_000, 500, u64::MAX), vec!["a", "b"]);
    }

    #[test]
    fn the_round_being_written_is_never_deleted() {
        // The recording in progress is the oldest and alone over the limit: it stays,
        // and every finished one goes.
        let all = [kept("live", 0, 500, true), kept("a", 100, 10, false), kept("b", 200, 10, false)];
        assert_eq!(to_delete(&all, 300, 1, 100), vec!["a", "b"]);
        assert!(to_delete(&[kept("live", 0, 500, true)], 10_000, 1, 1).is_empty());
    }
}
