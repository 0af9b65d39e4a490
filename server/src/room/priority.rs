//! Room threads run ahead of the I/O workers when the machine is short of cores.
//!
//! A tick is a few milliseconds of work that must start and end on time; the I/O
//! workers' is throughput that can wait a moment. With every thread at the same
//! priority, a room thread woken for its tick queued behind the workers, the kernel
//! and whatever else shares the cores: in one room of 1,000 on two busy cores it
//! waited 9–11 ms a tick for a core beside 2.2 ms of work, and 17–24 % of ticks took
//! over 8 ms (BENCHMARKS.md). At nice −10 the wait fell to 3 ms and those ticks to 5 %.
//!
//! Raising a thread's priority needs CAP_SYS_NICE (root has it) or an RLIMIT_NICE that
//! allows it (systemd's `LimitNICE=`); without either the rooms run at the default
//! priority and the server says so once.

use std::sync::Once;

/// Logged once, whichever room thread learns it first.
static REFUSED: Once = Once::new();

/// Give the calling thread the nice value `nice` (lower runs first; 0 leaves it as it is).
pub fn apply_to_this_thread(nice: i8) {
    if nice == 0 {
        return;
    }
    if let Err(error) = set_this_threads_nice(nice) {
        REFUSED.call_once(|| {
            if error.kind() == std::io::ErrorKind::Unsupported {
                tracing::debug!(nice, %error, "room threads run at the default priority");
                return;
            }
            tracing::warn!(
                nice,
                %error,
                "room threads run at the default priority: the system refused a higher one \
                 (it needs CAP_SYS_NICE or LimitNICE=; --room-thread-nice 0 silences this)"
            );
        });
    }
}

#[cfg(target_os = "linux")]
fn set_this_threads_nice(nice: i8) -> std::io::Result<()> {
    // On Linux the nice value belongs to each thread, and PRIO_PROCESS with 0 names
    // the calling thread only: the I/O workers keep theirs.
    // SAFETY: setpriority only reads its arguments.
    let result = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, libc::c_int::from(nice)) };
    if result == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

#[cfg(not(target_os = "linux"))]
fn set_this_threads_nice(_nice: i8) -> std::io::Result<()> {
    // Elsewhere PRIO_PROCESS means the whole process, the I/O workers included.
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "per-thread priority is Linux-only"))
}
