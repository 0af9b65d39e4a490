//! Operations: what the server tells its operators. Metrics, telemetry, the
//! monitor's history and the results log are fed by the other parts (through
//! atomics and bounded channels) and never awaited by a tick. This part names no
//! other part of the server.

pub mod history;
pub mod metrics;
pub mod results;
pub mod telemetry;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Unix time in milliseconds of an instant in the near future.
pub fn unix_ms_after(from_now: Duration) -> u64 {
    (SystemTime::now() + from_now).duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}
