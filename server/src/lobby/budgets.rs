//! Per-client budgets of the lobby: who is asking (their address, and whether
//! budgets apply to them), sliding-window rates (rooms an hour, session tokens a
//! minute; per address, or per account), and the refusal that becomes a 429 naming
//! the budget.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Who is asking, as the edge worked it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    pub ip: IpAddr,
    /// Budgets do not apply: loopback without `--limit-loopback`, or another node
    /// of the cluster passing a call on (authenticated with the shared secret).
    pub exempt: bool,
    /// The client reached a trusted proxy over https (`X-Forwarded-Proto`): URLs
    /// handed to it say `wss://`.
    pub https: bool,
}

impl Caller {
    /// The address budgets are counted against ([`budget_address`]); None when they do not apply.
    pub fn counted(&self) -> Option<IpAddr> {
        (!self.exempt).then(|| budget_address(self.ip))
    }
}

/// The address a client's budgets are kept under: an IPv4 address as it is (an
/// IPv4-mapped IPv6 one too), an IPv6 address by its /64. One subscriber usually
/// holds a whole /64, so counting each IPv6 address apart would hand one client
/// 2^64 budgets.
pub fn budget_address(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        v4 => v4,
    }
}

/// A spent budget: which one, why, and when to try again.
#[derive(Clone, Debug, PartialEq)]
pub struct OverBudget {
    /// Its name in the 429's JSON and in the metric's label.
    pub budget: &'static str,
    pub message: String,
    pub retry_after: Duration,
}

/// Keys (addresses, accounts) a window remembers at most. Past it the oldest-used
/// are forgotten first, so a flood from many addresses cannot grow memory without bound.
const MAX_TRACKED_KEYS: usize = 65_536;

/// At most `limit` events per key (by default a client address) within `window`.
#[derive(Debug)]
pub struct RateWindow<K = IpAddr> {
    budget: &'static str,
    limit: u32,
    window: Duration,
    /// Whose budget it is, for the refusal's message: "one address", "one account".
    per: &'static str,
    events: Mutex<HashMap<K, VecDeque<Instant>>>,
}

impl RateWindow {
    /// A budget per client address.
    pub fn new(budget: &'static str, limit: u32, window: Duration) -> RateWindow {
        RateWindow::keyed(budget, limit, window, "one address")
    }

    /// Count one event for `caller`'s address, or say when the next one will fit.
    pub fn take(&self, caller: Caller, now: Instant) -> Result<(), OverBudget> {
        let Some(ip) = caller.counted() else { return Ok(()) };
        self.take_for(ip, now)
    }
}

impl<K: Copy + Eq + Hash> RateWindow<K> {
    /// A budget per some other key (an account), `per` naming it in refusals.
    pub fn keyed(budget: &'static str, limit: u32, window: Duration, per: &'static str) -> RateWindow<K> {
        RateWindow { budget, limit, window, per, events: Mutex::new(HashMap::new()) }
    }

    /// Count one event for `key`, or say when the next one will fit.
    pub fn take_for(&self, key: K, now: Instant) -> Result<(), OverBudget> {
        let mut events = self.events.lock().expect("rate window lock");
        if events.len() >= MAX_TRACKED_KEYS && !events.contains_key(&key) {
            self.forget_idle(&mut events, now);
        }
        let times = events.entry(key).or_default();
        while times.front().is_some_and(|&t| now.duration_since(t) >= self.window) {
            times.pop_front();
        }
        if times.len() >= self.limit as usize {
            let oldest = *times.front().expect("at the limit, so not empty");
            return Err(OverBudget {
                budget: self.budget,
                message: format!("at most {} per {} s for {}", self.limit, self.window.as_secs(), self.per),
                retry_after: self.window.saturating_sub(now.duration_since(oldest)),
            });
        }
        times.push_back(now);
        Ok(())
    }

    /// Drop keys with nothing left in the window; if none, the half least recently used.
    fn forget_idle(&self, events: &mut HashMap<K, VecDeque<Instant>>, now: Instant) {
        events.retain(|_, times| times.back().is_some_and(|&t| now.duration_since(t) < self.window));
        if events.len() >= MAX_TRACKED_KEYS {
            let mut last_used: Vec<(Instant, K)> =
                events.iter().filter_map(|(key, t)| t.back().map(|&last| (last, *key))).collect();
            last_used.sort_unstable_by_key(|&(last, _)| last);
            for (_, key) in last_used.iter().take(last_used.len() / 2) {
                events.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(last: u8) -> Caller {
        Caller { ip: IpAddr::from([10, 0, 0, last]), exempt: false, https: false }
    }

    #[test]
    fn a_window_refuses_past_its_limit_and_says_when_to_retry() {
        let window = RateWindow::new("sessions_per_address_per_minute", 3, Duration::from_secs(60));
        let start = Instant::now();
        for i in 0..3 {
            window.take(caller(1), start + Duration::from_secs(i)).unwrap();
        }
        let refused = window.take(caller(1), start + Duration::from_secs(10)).unwrap_err();
        assert_eq!(refused.budget, "sessions_per_address_per_minute");
        assert_eq!(refused.retry_after, Duration::from_secs(50));
        window.take(caller(2), start + Duration::from_secs(10)).expect("another address has its own budget");
        window.take(caller(1), start + Duration::from_secs(60)).expect("the first event left the window");
        let exempt = Caller { exempt: true, ..caller(1) };
        for _ in 0..10 {
            window.take(exempt, start + Duration::from_secs(61)).expect("exempt callers are not counted");
        }
    }

    #[test]
    fn ipv6_addresses_share_their_64s_budget_and_mapped_ipv4_is_ipv4() {
        let window = RateWindow::new("b", 1, Duration::from_secs(60));
        let now = Instant::now();
        let v6 = |s: &str| Caller { ip: s.parse().unwrap(), exempt: false, https: false };
        window.take(v6("2001:db8:1:2::1"), now).unwrap();
        assert!(window.take(v6("2001:db8:1:2:ffff:ffff:ffff:ffff"), now).is_err(), "the same /64");
        window.take(v6("2001:db8:1:3::1"), now).expect("the next /64 is another client");
        window.take(v6("::ffff:10.0.0.9"), now).unwrap();
        assert!(window.take(caller(9), now).is_err(), "10.0.0.9, however written, is one address");
        assert_eq!(v6("2001:db8:1:2:3:4:5:6").counted(), Some("2001:db8:1:2::".parse().unwrap()));
    }

    #[test]
    fn a_flood_of_addresses_keeps_memory_bounded() {
        let window = RateWindow::new("b", 1, Duration::from_secs(3600));
        let now = Instant::now();
        for i in 0..(MAX_TRACKED_KEYS as u32 + 10) {
            let ip = IpAddr::from(i.to_be_bytes());
            window.take(Caller { ip, exempt: false, https: false }, now).unwrap();
        }
        assert!(window.events.lock().unwrap().len() <= MAX_TRACKED_KEYS);
    }

    #[test]
    fn a_keyed_window_counts_each_key_whoever_asks_and_stays_bounded() {
        let window: RateWindow<(i64, i64)> = RateWindow::keyed("b", 2, Duration::from_secs(60), "one account");
        let now = Instant::now();
        window.take_for((7, 0), now).unwrap();
        window.take_for((7, 0), now).unwrap();
        let refused = window.take_for((7, 0), now + Duration::from_secs(15)).unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_secs(45));
        assert!(refused.message.contains("one account"), "{}", refused.message);
        window.take_for((7, 1), now).expect("another token version is another key");
        window.take_for((8, 0), now).expect("another account has its own budget");
        for account in 0..(MAX_TRACKED_KEYS as i64 + 10) {
            window.take_for((account, 5), now + Duration::from_secs(1)).unwrap();
        }
        assert!(window.events.lock().unwrap().len() <= MAX_TRACKED_KEYS);
    }
}
