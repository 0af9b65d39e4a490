//! Open connections per client address (HTTP and WebSocket alike, counted at
//! accept), so one address cannot hold every connection the server takes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Sessions per address, under a limit; loopback is exempt unless told otherwise
/// (load tests run on one machine).
#[derive(Debug)]
pub struct AddressTable {
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
    limit: usize,
    /// `--limit-loopback`: count 127.0.0.0/8 and ::1 like any other address.
    limit_loopback: bool,
}

/// One session's place in its address's count; dropping it frees the place.
#[derive(Debug)]
pub struct AddressSlot {
    counted: Option<(Arc<Mutex<HashMap<IpAddr, usize>>>, IpAddr)>,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        if let Some((counts, ip)) = self.counted.take() {
            let mut table = counts.lock().expect("address table lock");
            if let Some(count) = table.get_mut(&ip) {
                *count -= 1;
                if *count == 0 {
                    table.remove(&ip);
                }
            }
        }
    }
}

impl AddressTable {
    pub fn new(limit: usize, limit_loopback: bool) -> AddressTable {
        AddressTable { counts: Arc::new(Mutex::new(HashMap::new())), limit, limit_loopback }
    }

    /// How many places one address may hold.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// A place for a new connection from `ip`, or None when that address has its
    /// maximum. Loopback is exempt (unless `--limit-loopback`) when `loopback_exempt`:
    /// a forwarded address never is.
    pub fn slot(&self, ip: IpAddr, loopback_exempt: bool) -> Option<AddressSlot> {
        if loopback_exempt && ip.is_loopback() && !self.limit_loopback {
            return Some(AddressSlot { counted: None });
        }
        // An IPv6 client by its /64, as the budgets count it.
        let ip = crate::lobby::budgets::budget_address(ip);
        let mut table = self.counts.lock().expect("address table lock");
        let count = table.entry(ip).or_default();
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(AddressSlot { counted: Some((self.counts.clone(), ip)) })
    }
}
