//! Back-off on password attempts per account name, on two levels:
//!
//! - **From one address** (an IPv6 client by its /64): after [`FREE_FAILURES`] wrong
//!   passwords in a row for a name, that address's next try for it waits twice as
//!   long as the one before (1 s, 2 s, 4 s, … up to [`MAX_LOCK`]).
//! - **From all addresses together**: after [`FREE_FAILURES_PER_NAME`] in a row,
//!   every address waits likewise: the cap on a guesser spread over many addresses.
//!
//! So a stranger guessing at a name (names are public on the leaderboard) backs
//! off alone and the owner still signs in from their own address; only guesses
//! from many addresses lock the name for everyone. A right password clears the
//! name's count and its address's.
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
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::lobby::budgets::{OverBudget, budget_address};

/// Wrong passwords in a row for a name from one address before it backs off.
pub const FREE_FAILURES: u32 = 3;
/// Wrong passwords in a row for a name from all addresses before everyone backs off.
pub const FREE_FAILURES_PER_NAME: u32 = 30;
/// The longest wait between tries.
pub const MAX_LOCK: Duration = Duration::from_secs(300);
/// Counts remembered at most; past it the quiet ones are forgotten first.
const MAX_TRACKED: usize = 65_536;
/// A count with no failure this long is forgotten.
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

/// One count: an attempt's from one address, or (None) from all of them.
type Key = (Attempt, Option<IpAddr>);

/// Failures per attempt, per address and in all.
#[derive(Debug, Default)]
pub struct SignInLimit {
    counts: Mutex<HashMap<Key, Failures>>,
}

impl SignInLimit {
    /// Start a password attempt for `attempt` from `from`: refused while backed off;
    /// otherwise it counts as a failure now, in the same locked step, until
    /// [`Self::succeeded`].
    pub fn begin(&self, attempt: &Attempt, from: IpAddr, now: Instant) -> Result<(), OverBudget> {
        let (mine, everyone) = keys(attempt, from);
        let mut counts = self.counts.lock().expect("sign-in limit");
        let locked = |key: &Key| counts.get(key).filter(|f| f.locked_until > now).map(|f| f.locked_until - now);
        if let Some(wait) = locked(&everyone) {
            return Err(OverBudget {
                budget: "sign_in_per_account_all_addresses",
                message: "too many wrong passwords for this name from many addresses: wait before trying again".into(),
                retry_after: wait,
            });
        }
        if let Some(wait) = locked(&mine) {
            return Err(OverBudget {
                budget: "sign_in_per_account",
                message: "too many wrong passwords for this name: wait before trying again".into(),
                retry_after: wait,
            });
        }
        failed(&mut counts, mine, FREE_FAILURES, now);
        failed(&mut counts, everyone, FREE_FAILURES_PER_NAME, now);
        Ok(())
    }

    /// A right password for `attempt` from `from`: the failures counted for it
    /// there and in all (this attempt's too) are forgotten.
    pub fn succeeded(&self, attempt: &Attempt, from: IpAddr) {
        let (mine, everyone) = keys(attempt, from);
        let mut counts = self.counts.lock().expect("sign-in limit");
        counts.remove(&mine);
        counts.remove(&everyone);
    }
}

fn keys(attempt: &Attempt, from: IpAddr) -> (Key, Key) {
    ((attempt.clone(), Some(budget_address(from))), (attempt.clone(), None))
}

/// Count a wrong password under `key`; past `free` in a row it backs off.
fn failed(counts: &mut HashMap<Key, Failures>, key: Key, free: u32, now: Instant) {
    if counts.len() >= MAX_TRACKED && !counts.contains_key(&key) {
        counts.retain(|_, f| now.duration_since(f.last) < FORGET_AFTER);
        if counts.len() >= MAX_TRACKED {
            let mut by_age: Vec<(Instant, Key)> = counts.iter().map(|(k, f)| (f.last, k.clone())).collect();
            by_age.sort_unstable_by_key(|(last, _)| *last);
            for (_, k) in by_age.into_iter().take(MAX_TRACKED / 2) {
                counts.remove(&k);
            }
        }
    }
    let f = counts.entry(key).or_insert(Failures { count: 0, last: now, locked_until: now });
    if now.duration_since(f.last) >= FORGET_AFTER {
        f.count = 0;
    }
    f.count += 1;
    f.last = now;
    if f.count >= free {
        let lock = Duration::from_secs(1u64 << (f.count - free).min(16)).min(MAX_LOCK);
        f.locked_until = now + lock;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> Attempt {
        Attempt::Name(n.into())
    }

    fn address(last: u8) -> IpAddr {
        IpAddr::from([203, 0, 113, last])
    }

    #[test]
    fn failures_back_off_doubling_and_a_success_clears_them() {
        let limit = SignInLimit::default();
        let (t, me) = (Instant::now(), address(1));
        for _ in 0..FREE_FAILURES {
            limit.begin(&name("ann"), me, t).unwrap();
        }
        assert_eq!(limit.begin(&name("ann"), me, t).unwrap_err().retry_after, Duration::from_secs(1));
        limit.begin(&name("bob"), me, t).expect("another name has its own count");
        limit.begin(&Attempt::Account(7), me, t).expect("an account's confirmations have their own count");
        let t2 = t + Duration::from_secs(1);
        limit.begin(&name("ann"), me, t2).unwrap();
        assert_eq!(limit.begin(&name("ann"), me, t2).unwrap_err().retry_after, Duration::from_secs(2));
        let mut t3 = t2;
        for _ in 0..20 {
            t3 += MAX_LOCK;
            limit.begin(&name("ann"), me, t3).unwrap();
        }
        assert_eq!(limit.begin(&name("ann"), me, t3).unwrap_err().retry_after, MAX_LOCK);
        limit.succeeded(&name("ann"), me);
        limit.begin(&name("ann"), me, t3).unwrap();
    }

    #[test]
    fn a_strangers_guesses_back_off_the_stranger_not_the_owner() {
        let limit = SignInLimit::default();
        let (t, owner, stranger) = (Instant::now(), address(1), address(2));
        for _ in 0..FREE_FAILURES {
            limit.begin(&name("ann"), stranger, t).unwrap();
        }
        assert_eq!(limit.begin(&name("ann"), stranger, t).unwrap_err().budget, "sign_in_per_account");
        limit.begin(&name("ann"), owner, t).expect("the owner's address has its own count");
        // Guesses from many addresses lock the name for everyone.
        let limit = SignInLimit::default();
        for n in 0..FREE_FAILURES_PER_NAME {
            limit.begin(&name("ann"), address(10 + n as u8), t).unwrap();
        }
        assert_eq!(limit.begin(&name("ann"), owner, t).unwrap_err().budget, "sign_in_per_account_all_addresses");
    }

    #[test]
    fn a_sign_in_as_hash_id_does_not_touch_that_accounts_confirmations() {
        let limit = SignInLimit::default();
        let (t, me) = (Instant::now(), address(1));
        for _ in 0..FREE_FAILURES + 2 {
            let _ = limit.begin(&name("#42"), me, t);
        }
        limit.begin(&Attempt::Account(42), me, t).expect("account 42 is not backed off");
    }
}
