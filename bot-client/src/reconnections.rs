//! How churned bots' reconnections went: tries, refusals by close code, retries and losses.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::bot::retry::LossCause;
use crate::stats::{histogram, micros};

/// Refused tries with one close code.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Refused {
    pub count: u64,
    /// The first reason seen: reasons name rooms, so keeping them all would be noise.
    pub example: String,
}

/// One bot's reconnections, or many bots' added up ([`Reconnections::add`]).
#[derive(Debug)]
pub struct Reconnections {
    /// Drops after which the bot set out to come back: each ends granted or lost.
    pub attempted: u64,
    /// Granted on the first try.
    pub granted_first_try: u64,
    /// Granted after one or more refused tries.
    pub granted_after_retry: u64,
    /// Tries after the first, over all reconnections.
    pub retries: u64,
    /// Refused tries by close code (connections that failed without one count as 1006).
    pub refused: BTreeMap<u16, Refused>,
    /// Reconnections that never succeeded (the bot stopped there), by why it stopped trying.
    pub lost: BTreeMap<LossCause, u64>,
    /// Granted reconnections that got their own entity (score, health) back.
    pub reclaimed: u64,
    /// From the drop to the welcome, µs, back-off included: what a player would wait.
    pub time: Histogram<u64>,
}

impl Default for Reconnections {
    fn default() -> Self {
        Reconnections {
            attempted: 0,
            granted_first_try: 0,
            granted_after_retry: 0,
            retries: 0,
            refused: BTreeMap::new(),
            lost: BTreeMap::new(),
            reclaimed: 0,
            time: histogram(),
        }
    }
}

impl Reconnections {
    /// A bot dropped its connection and sets out to come back.
    pub fn start(&mut self) {
        self.attempted += 1;
    }

    /// One try was refused with `code`.
    pub fn refuse(&mut self, code: u16, reason: &str) {
        let entry = self.refused.entry(code).or_insert_with(|| Refused { count: 0, example: reason.to_string() });
        entry.count += 1;
    }

    /// The bot is back after `retries` refused tries, `took` after it dropped.
    pub fn grant(&mut self, took: Duration, same_entity: bool, retries: u32) {
        if retries == 0 {
            self.granted_first_try += 1;
        } else {
            self.granted_after_retry += 1;
        }
        self.retries += u64::from(retries);
        self.reclaimed += u64::from(same_entity);
        let _ = self.time.record(micros(took));
    }

    /// The bot stopped trying after `retries` retries: it is gone for good.
    pub fn lose(&mut self, cause: LossCause, retries: u32) {
        self.retries += u64::from(retries);
        *self.lost.entry(cause).or_default() += 1;
    }

    pub fn granted(&self) -> u64 {
        self.granted_first_try + self.granted_after_retry
    }

    pub fn lost_total(&self) -> u64 {
        self.lost.values().sum()
    }

    pub fn refused_total(&self) -> u64 {
        self.refused.values().map(|r| r.count).sum()
    }

    /// Add another bot's reconnections (the first example reason of a code stays).
    pub fn add(&mut self, other: &Reconnections) {
        self.attempted += other.attempted;
        self.granted_first_try += other.granted_first_try;
        self.granted_after_retry += other.granted_after_retry;
        self.retries += other.retries;
        for (code, refused) in &other.refused {
            let entry =
                self.refused.entry(*code).or_insert_with(|| Refused { count: 0, example: refused.example.clone() });
            entry.count += refused.count;
        }
        for (cause, count) in &other.lost {
            *self.lost.entry(*cause).or_default() += count;
        }
        self.reclaimed += other.reclaimed;
        let _ = self.time.add(&other.time);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bot granted at once, one granted after two room-full refusals, one lost after a bad token.
    fn three_bots() -> Reconnections {
        let mut first = Reconnections::default();
        first.start();
        first.grant(Duration::from_millis(3), true, 0);
        let mut second = Reconnections::default();
        second.start();
        second.refuse(4001, "room a is full");
        second.refuse(4001, "room b is full");
        second.grant(Duration::from_millis(800), true, 2);
        let mut third = Reconnections::default();
        third.start();
        third.refuse(1008, "invalid token");
        third.lose(LossCause::NotRetryable, 0);
        let mut all = Reconnections::default();
        [first, second, third].iter().for_each(|bot| all.add(bot));
        all
    }

    #[test]
    fn every_attempt_ends_granted_first_granted_after_retries_or_lost() {
        let all = three_bots();
        assert_eq!((all.attempted, all.granted_first_try, all.granted_after_retry), (3, 1, 1));
        assert_eq!((all.granted(), all.lost_total(), all.retries, all.reclaimed), (2, 1, 2, 2));
        assert_eq!(all.attempted, all.granted() + all.lost_total());
        assert_eq!(all.lost, BTreeMap::from([(LossCause::NotRetryable, 1)]));
        assert_eq!(all.time.len(), 2, "only granted reconnections have a time");
    }

    #[test]
    fn refusals_are_counted_by_code_with_the_first_reason_as_example() {
        let all = three_bots();
        assert_eq!(all.refused_total(), 3);
        assert_eq!(all.refused[&4001], Refused { count: 2, example: "room a is full".into() });
        assert_eq!(all.refused[&1008], Refused { count: 1, example: "invalid token".into() });
    }
}
