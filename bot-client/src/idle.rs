//! Idle connections: lobby watchers that connect to `/ws/lobby`, take the room list,
//! answer the server's pings and otherwise say nothing — the load of many open
//! browser tabs on a lobby page, to measure what an idle connection costs a server.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arena_protocol::ServerMsg;
use serde::Serialize;

use crate::client::{ArenaClient, Incoming, RecvError};

/// What the watchers saw.
#[derive(Debug, Default, Serialize)]
pub struct IdleReport {
    pub watchers: usize,
    pub connected: usize,
    pub failed: usize,
    /// Watchers whose connection ended before the run did.
    pub dropped: usize,
    /// Room lists received (one on connecting, then one per change).
    pub lobby_messages: u64,
    /// Seconds from the first connect until every watcher was connected.
    pub ramp_s: f64,
    /// Error message → count.
    pub error_kinds: std::collections::BTreeMap<String, u64>,
}

impl IdleReport {
    pub fn summary(&self) -> String {
        let mut out = format!(
            "idle watchers {} connected {} failed {} dropped {} | ramp {:.1}s | room lists received {}\n",
            self.watchers, self.connected, self.failed, self.dropped, self.ramp_s, self.lobby_messages
        );
        for (kind, count) in &self.error_kinds {
            out.push_str(&format!("  {count} × {kind}\n"));
        }
        out
    }

    pub fn passed(&self) -> bool {
        self.failed == 0 && self.dropped == 0
    }

    /// Count one watcher's outcome.
    fn add(&mut self, outcome: Outcome) {
        let error = match outcome {
            Outcome::Failed(e) => {
                self.failed += 1;
                Some(e)
            }
            Outcome::Held { lists, dropped } => {
                self.connected += 1;
                self.lobby_messages += lists;
                self.dropped += usize::from(dropped.is_some());
                dropped
            }
        };
        if let Some(e) = error {
            *self.error_kinds.entry(e).or_default() += 1;
        }
    }
}

/// The lobby feed URL of a server whose game endpoint is `ws_url` (`…/ws` → `…/ws/lobby`).
pub fn lobby_url(ws_url: &str) -> String {
    let base = ws_url.split('?').next().unwrap_or(ws_url).trim_end_matches('/');
    format!("{base}/lobby")
}

/// How one watcher's connection went.
enum Outcome {
    Failed(String),
    Held { lists: u64, dropped: Option<String> },
}

/// Open `count` watchers at `ramp_per_s` connections a second; each stays until
/// `hold` after connecting. `connected` counts the watchers connected so far.
pub async fn run_idle(
    ws_url: &str,
    count: usize,
    ramp_per_s: f64,
    hold: Duration,
    connected: Arc<AtomicUsize>,
) -> IdleReport {
    let url = lobby_url(ws_url);
    let started = Instant::now();
    let gap = Duration::from_secs_f64(1.0 / ramp_per_s.max(1.0));
    let all_in = Arc::new(std::sync::Mutex::new(None::<Instant>));
    let mut next = tokio::time::Instant::now();
    let mut handles = Vec::with_capacity(count);
    for _ in 0..count {
        tokio::time::sleep_until(next).await;
        next += gap;
        let (url, connected, all_in) = (url.clone(), connected.clone(), all_in.clone());
        handles.push(tokio::spawn(async move {
            let client = match ArenaClient::connect(&url).await {
                Ok(client) => client,
                Err(e) => return Outcome::Failed(format!("connect: {e}")),
            };
            if connected.fetch_add(1, Ordering::Relaxed) + 1 == count {
                *all_in.lock().expect("lock") = Some(Instant::now());
            }
            watch(client, hold).await
        }));
    }
    let mut report = IdleReport { watchers: count, ..IdleReport::default() };
    for handle in handles {
        report.add(handle.await.unwrap_or_else(|e| Outcome::Failed(format!("watcher task: {e}"))));
    }
    report.ramp_s = all_in.lock().expect("lock").map_or(0.0, |t| t.duration_since(started).as_secs_f64());
    report
}

/// Hold a connected watcher for `hold`, counting room lists, then close.
async fn watch(mut client: ArenaClient, hold: Duration) -> Outcome {
    let until = Instant::now() + hold;
    let mut lists = 0;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match client.recv(left.max(Duration::from_millis(1))).await {
            Ok(Incoming::Message(ServerMsg::Lobby(_), _)) => lists += 1,
            Ok(Incoming::Closed { code, reason }) => {
                return Outcome::Held { lists, dropped: Some(format!("closed by server: {code} {reason}")) };
            }
            Ok(_) => {}
            Err(RecvError::Timeout(_)) => break,
            Err(e) => return Outcome::Held { lists, dropped: Some(format!("receive: {e}")) },
        }
    }
    let _ = client.close(1000, "done watching").await;
    Outcome::Held { lists, dropped: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lobby_url_sits_beside_the_game_endpoint() {
        assert_eq!(lobby_url("ws://127.0.0.1:8080/ws"), "ws://127.0.0.1:8080/ws/lobby");
        assert_eq!(lobby_url("ws://h:1/ws?room=a"), "ws://h:1/ws/lobby");
    }
}
