//! Per-thread control of jemalloc, the binary's allocator: what the server sets for
//! its room threads and what the benches set to measure a tick as those threads run it.

/// Turn jemalloc's per-thread cache on or off for the calling thread; the error is
/// mallctl's code (jemalloc not linked in, or the control refused).
pub fn set_thread_cache(mut enabled: bool) -> Result<(), i32> {
    // SAFETY: a documented jemalloc control that takes a bool and returns nothing.
    let failed = unsafe {
        tikv_jemalloc_sys::mallctl(
            c"thread.tcache.enabled".as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            (&raw mut enabled).cast(),
            std::mem::size_of::<bool>(),
        )
    };
    if failed == 0 { Ok(()) } else { Err(failed) }
}
