//! What the reader saw and when, for the writer's heartbeat and idle checks
//! (the reader itself cannot wait on a timer: reading is not cancellation-safe).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// No ping of ours is waiting for its pong.
const NO_PING: u64 = u64::MAX;

/// Shared by a session's reader (who writes) and writer (who checks).
#[derive(Debug)]
pub struct Liveness {
    epoch: Instant,
    last_pong_ms: AtomicU64,
    last_activity_ms: AtomicU64,
    /// When our unanswered ping went out (µs on this clock), so its pong gives the
    /// round trip; milliseconds are too coarse for a LAN.
    ping_out_us: AtomicU64,
}

impl Liveness {
    pub fn new() -> Liveness {
        Liveness {
            epoch: Instant::now(),
            last_pong_ms: AtomicU64::new(0),
            last_activity_ms: AtomicU64::new(0),
            ping_out_us: AtomicU64::new(NO_PING),
        }
    }

    /// Milliseconds since the session began.
    pub fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    /// The writer sent a ping; its pong will measure the round trip.
    pub fn ping_sent(&self) {
        self.ping_out_us.store(self.now_us(), Ordering::Relaxed);
    }

    /// A pong arrived. Returns the round trip when it answers our ping (an
    /// unsolicited pong, or a second one, measures nothing).
    pub fn pong_received(&self) -> Option<Duration> {
        let now_us = self.now_us();
        self.last_pong_ms.store(now_us / 1000, Ordering::Relaxed);
        let sent_us = self.ping_out_us.swap(NO_PING, Ordering::Relaxed);
        (sent_us != NO_PING).then(|| Duration::from_micros(now_us.saturating_sub(sent_us)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pong_measures_the_round_trip_of_our_ping_once() {
        let liveness = Liveness::new();
        assert_eq!(liveness.pong_received(), None, "unsolicited pong");
        liveness.ping_sent();
        std::thread::sleep(Duration::from_millis(2));
        let rtt = liveness.pong_received().expect("answers our ping");
        assert!(rtt >= Duration::from_millis(2) && rtt < Duration::from_secs(1), "{rtt:?}");
        assert!(liveness.pong_since(0));
        assert_eq!(liveness.pong_received(), None, "a second pong measures nothing");
    }
}
