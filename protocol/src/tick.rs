//! Simulation tick counter that wraps instead of overflowing.

use serde::{Deserialize, Serialize};

/// A room's simulation step. Wraps at `u32::MAX` (about 4.5 years at 30 Hz), so
/// ordering is defined on the wrapping distance, not on the raw number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tick(pub u32);

impl Tick {
    /// The next tick.
    pub fn next(self) -> Tick {
        Tick(self.0.wrapping_add(1))
    }

    /// Signed distance from `earlier` to `self`, correct across the wrap.
    pub fn since(self, earlier: Tick) -> i32 {
        self.0.wrapping_sub(earlier.0) as i32
    }

    /// Whether `self` comes after `other` in wrapping order.
    pub fn is_after(self, other: Tick) -> bool {
        self.since(other) > 0
    }

    /// `self` moved forward by `ticks`.
    pub fn plus(self, ticks: u32) -> Tick {
        Tick(self.0.wrapping_add(ticks))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_survives_the_wrap() {
        let before = Tick(u32::MAX - 1);
        let after = before.next().next().next();
        assert_eq!(after, Tick(1));
        assert!(after.is_after(before));
        assert!(!before.is_after(after));
        assert_eq!(after.since(before), 3);
        assert_eq!(before.since(after), -3);
    }

    #[test]
    fn a_tick_is_not_after_itself() {
        assert!(!Tick(7).is_after(Tick(7)));
        assert_eq!(Tick(7).since(Tick(7)), 0);
    }
}
