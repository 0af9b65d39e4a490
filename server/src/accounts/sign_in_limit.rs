//! Back-off on password attempts per account name: after [`FREE_FAILURES`] wrong
//! passwords in a row, each next try waits twice as long as the one before (1 s,
//! 2 s, 4 s, … up to [`MAX_LOCK`]); a right password clears it.
//!
//! Counted by the name asked for, whether or not an account has it, so the answers
//! never tell a name that exists from one that does not. Per node: with several
//! nodes an attacker gets at most this many tries per node (the per-address budget
//! still applies on each).
//!
//! An attempt is counted as a failure when it starts ([`SignInLimit::begin`], one
//! locked step with the check), before the password is hashed, so guesses sent in
//! parallel cannot all pass the check before any of them is counted.

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

/// What password attempts are counted against: a name asked for at sign-in, or an
/// account confirming a change (password change, deletion). Kept apart so a sign-in
/// as some name cannot lock an account's confirmations.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Attempt {
    /// A sign-in, by the name's key ([`super::account_rows::name_key`]).
    Name(String),
    /// A signed-in account confirming its password.
    Account(i64),
}

/// Failures per attempt key.
#[derive(Debug, Default)]
pub struct SignInLimit {
    names: Mutex<HashMap<Attempt, Failures>>,
}

impl SignInLimit {
    /// Start a password attempt for `key`: refused while backed off; otherwise it
    /// counts as a failure now, in the same locked step, until [`Self::succeeded`].
    pub fn begin(&self, key: &Attempt, now: Instant) -> Result<(), OverBudget> {
        let mut names = self.names.lock().expect("sign-in limit");
        if let Some(f) = names.get(key).filter(|f| f.locked_until > now) {
            return Err(OverBudget {
                budget: "sign_in_per_account",
                message: "too many wrong passwords for this name: wait before trying again".into(),
                retry_after: f.locked_until - now,
            });
        }
        Self::failed(&mut names, key, now);
        Ok(())
    }

    /// Count a wrong password for `key`.
    fn failed(names: &mut HashMap<Attempt, Failures>, key: &Attempt, now: Instant) {
        if names.len() >= MAX_TRACKED_NAMES && !names.contains_key(key) {
            names.retain(|_, f| now.duration_since(f.last) < FORGET_AFTER);
            if names.len() >= MAX_TRACKED_NAMES {
                let mut by_age: Vec<(Instant, Attempt)> = names.iter().map(|(k, f)| (f.last, k.clone())).collect();
                by_age.sort_unstable_by_key(|(last, _)| *last);
                for (_, k) in by_age.into_iter().take(MAX_TRACKED_NAMES / 2) {
                    names.remove(&k);
                }
            }
        }
        let f = names.entry(key.clone()).or_insert(Failures { count: 0, last: now, locked_until: now });
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

    /// A right password for `key`: its failures (this attempt's too) are forgotten.
    pub fn succeeded(&self, key: &Attempt) {
        self.names.lock().expect("sign-in limit").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> Attempt {
        Attempt::Name(n.into())
    }

    #[test]
    fn failures_back_off_doubling_and_a_success_clears_them() {
        let limit = SignInLimit::default();
        let t = Instant::now();
        for _ in 0..FREE_FAILURES {
            limit.begin(&name("ann"), t).unwrap();
        }
        assert_eq!(limit.begin(&name("ann"), t).unwrap_err().retry_after, Duration::from_secs(1));
        limit.begin(&name("bob"), t).expect("another name has its own count");
        limit.begin(&Attempt::Account(7), t).expect("an account's confirmations have their own count");
        let t2 = t + Duration::from_secs(1);
        limit.begin(&name("ann"), t2).unwrap();
        assert_eq!(limit.begin(&name("ann"), t2).unwrap_err().retry_after, Duration::from_secs(2));
        let mut t3 = t2;
        for _ in 0..20 {
            t3 += MAX_LOCK;
            limit.begin(&name("ann"), t3).unwrap();
        }
        assert_eq!(limit.begin(&name("ann"), t3).unwrap_err().retry_after, MAX_LOCK);
        limit.succeeded(&name("ann"));
        limit.begin(&name("ann"), t3).unwrap();
    }

    #[test]
    fn a_sign_in_as_hash_id_does_not_touch_that_accounts_confirmations() {
        let limit = SignInLimit::default();
        let t = Instant::now();
        for _ in 0..FREE_FAILURES + 2 {
            let _ = limit.begin(&name("#42"), t);
        }
        limit.begin(&Attempt::Account(42), t).expect("account 42 is not backed off");
    }
}
