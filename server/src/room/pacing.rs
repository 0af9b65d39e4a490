//! A room's pace: ticks at a fixed rate against absolute deadlines, one rule for
//! the room task and for `arena-server stress`, so both count late ticks alike.

use std::time::{Duration, Instant};

/// Wait for the tick deadline `next_tick`, and return the one after it, and whether
/// this tick was late (its work ended past `next_tick`). A room more than one tick
/// behind skips ahead instead of bursting to catch up.
pub fn wait_for_next(next_tick: Instant, period: Duration) -> (Instant, bool) {
    let now = Instant::now();
    if now < next_tick {
        std::thread::sleep(next_tick - now);
        return (next_tick + period, false);
    }
    let next = if now - next_tick > period { now + period } else { next_tick + period };
    (next, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_time_waits_and_far_behind_skips_ahead() {
        let period = Duration::from_millis(5);
        let deadline = Instant::now() + period;
        let (next, late) = wait_for_next(deadline, period);
        assert!(!late && Instant::now() >= deadline && next == deadline + period);
        let long_ago = Instant::now() - period * 10;
        let (next, late) = wait_for_next(long_ago, period);
        assert!(late && next > Instant::now(), "skips ahead instead of bursting");
    }
}
