//! Back-off on password attempts per account name: after [`FREE_FAILURES`] wrong
//! passwords in a row, each next try waits twice as long as the one before (1 s,
//! 2 s, 4 s, … up to [`MAX_LOCK`]); a right password clears it.
//!
//! Counted by the name asked for, whether or not an account has it, so the answers
//! never tell a name that exists from one that does not. Per node: with several
//! nodes an attacker gets at most this many tries per node (the per-address budget
//! still applies on each).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::lobby::budgets::OverBudget;

/// Wrong passwords in a row before the back-off starts.
pub const FREE_FAILURES: u32 = 3;
/// The longest wait between tries.
pub const MAX_LOCK: Duration = Duration::from_secs(300);
/// Names remembered at most; past it the quiet ones are forgotten first.
const MAX_TRACKED_NAMES: usize = 65_536;
/// A name with no failure this long is forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(900);

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last: Instant,
    locked_until: Instant,
}

/// Failures per name key.
#[derive(Debug, Default)]
pub struct SignInLimit {
    names: Mutex<HashMap<String, Failures>>,
}

impl SignInLimit {
    /// May `key` try a password now?
    pub fn check(&self, key: &str, now: Instant) -> Result<(), OverBudget> {
        let names = self.names.lock().expect("sign-in limit");
        match names.get(key) {
            Some(f) if f.locked_until > now => Err(OverBudget {
                budget: "sign_in_per_account",
                message: "too many wrong passwords for this name: wait before trying again".into(),
                retry_after: f.locked_until - now,
            }),
            _ => Ok(()),
        }
    }

    /// A wrong password for `key`.
    pub fn failed(&self, key: &str, now: Instant) {
        let mut names = self.names.lock().expect("sign-in limit");
        if names.len() >= MAX_TRACKED_NAMES && !names.contains_key(key) {
            names.retain(|_, f| now.duration_since(f.last) < FORGET_AFTER);
            if names.len() >= MAX_TRACKED_NAMES {
                let mut by_age: Vec<(Instant, String)> = names.iter().map(|(k, f)| (f.last, k.clone())).collect();
                by_age.sort_unstable();
                for (_, k) in by_age.into_iter().take(MAX_TRACKED_NAMES / 2) {
                    names.remove(&k);
                }
            }
        }
        let f = names.entry(key.to_string()).or_insert(Failures { count: 0, last: now, locked_until: now });
        if now.duration_since(f.last) >= FORGET_AFTER {
            f.count = 0;
        }
        f.count += 1;
        f.last = now;
        if f.count >= FREE_FAILURES {
            let lock = Duration::from_secs(1u64 << (f.count - FREE_FAILURES).min(16)).min(MAX_LOCK);
            f.locked_until = now + lock;
        }
    }

    /// A right password for `key`: its failures are forgotten.
    pub fn succeeded(&self, key: &str) {
        self.names.lock().expect("sign-in limit").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_back_off_doubling_and_a_success_clears_them() {
        let limit = SignInLimit::default();
        let t = Instant::now();
        for _ in 0..FREE_FAILURES - 1 {
            limit.check("ann", t).unwrap();
            limit.failed("ann", t);
        }
        limit.check("ann", t).unwrap();
        limit.failed("ann", t);
        assert_eq!(limit.check("ann", t).unwrap_err().retry_after, Duration::from_secs(1));
        limit.check("bob", t).expect("another name has its own count");
        let t2 = t + Duration::from_secs(1);
        limit.check("ann", t2).unwrap();
        limit.failed("ann", t2);
        assert_eq!(limit.check("ann", t2).unwrap_err().retry_after, Duration::from_secs(2));
        for _ in 0..20 {
            limit.failed("ann", t2);
        }
        assert_eq!(limit.check("ann", t2).unwrap_err().retry_after, MAX_LOCK);
        limit.succeeded("ann");
        limit.check("ann", t2).unwrap();
    }
}
