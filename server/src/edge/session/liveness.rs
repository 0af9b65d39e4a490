//! What the reader saw and when, for the writer's heartbeat and idle checks
//! (the reader itself cannot wait on a timer: reading is not cancellation-safe).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Shared by a session's reader (who writes) and writer (who checks).
#[derive(Debug)]
pub struct Liveness {
    epoch: Instant,
    last_pong_ms: AtomicU64,
    last_activity_ms: AtomicU64,
}

impl Liveness {
    pub fn new() -> Liveness {
        Liveness { epoch: Instant::now(), last_pong_ms: AtomicU64::new(0), last_activity_ms: AtomicU64::new(0) }
    }

    /// Milliseconds since the session began.
    pub fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    pub fn pong_received(&self) {
        self.last_pong_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// An application message (input, chat, ping) arrived.
    pub fn active(&self) {
        self.last_activity_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// Whether a pong came at or after `ms`.
    pub fn pong_since(&self, ms: u64) -> bool {
        self.last_pong_ms.load(Ordering::Relaxed) >= ms
    }

    pub fn idle_for(&self) -> Duration {
        Duration::from_millis(self.now_ms().saturating_sub(self.last_activity_ms.load(Ordering::Relaxed)))
    }
}

impl Default for Liveness {
    fn default() -> Self {
        Liveness::new()
    }
}
