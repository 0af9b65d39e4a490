//! The buffers writers assemble snapshot messages in, shared by the sessions of
//! one worker thread.
//!
//! Why: a writer copies each snapshot (header and spliced body) into a buffer and
//! writes it; nearly every write completes at once, so a buffer per connection,
//! grown to its largest snapshot (about 2 KiB in rooms of 50), sat idle between
//! snapshots, one per player. A writer borrows one from its thread's spares for
//! the write and gives it back after; a write that waits keeps its buffer until it
//! ends (the task may then be on another thread, whose spares it joins).

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};

/// Spares a thread keeps; more are freed. A thread's writers run one at a time, so
/// only writes that wait on a slow socket hold buffers beyond the first.
const SPARES_KEPT: usize = 8;

/// A buffer larger than this (a spectator's view of a crowded room) is freed rather
/// than kept.
const LARGEST_KEPT: usize = 64 * 1024;

thread_local! {
    static SPARES: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer, borrowed from this thread's spares (or new); it goes back to
/// the spares of the thread that drops it.
pub fn borrow() -> SpareBuffer {
    let spare = SPARES.try_with(|spares| spares.borrow_mut().pop()).ok().flatten();
    SpareBuffer(spare.unwrap_or_default())
}

/// A borrowed assembly buffer.
pub struct SpareBuffer(Vec<u8>);

impl Deref for SpareBuffer {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl DerefMut for SpareBuffer {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl Drop for SpareBuffer {
    fn drop(&mut self) {
        let mut buffer = std::mem::take(&mut self.0);
        if buffer.capacity() == 0 || buffer.capacity() > LARGEST_KEPT {
            return;
        }
        buffer.clear();
        // A thread being torn down has no spares left to join: the buffer is freed.
        let _ = SPARES.try_with(|spares| {
            let mut spares = spares.borrow_mut();
            if spares.len() < SPARES_KEPT {
                spares.push(buffer);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_returned_buffer_is_lent_again_empty_with_its_capacity() {
        let mut first = borrow();
        first.extend_from_slice(&[7; 1500]);
        let capacity = first.capacity();
        drop(first);
        let again = borrow();
        assert!(again.is_empty());
        assert_eq!(again.capacity(), capacity);
    }

    #[test]
    fn spares_are_bounded_and_huge_buffers_are_not_kept() {
        let many: Vec<SpareBuffer> = (0..SPARES_KEPT + 5)
            .map(|_| {
                let mut b = borrow();
                b.reserve(100);
                b
            })
            .collect();
        drop(many);
        assert_eq!(SPARES.with(|s| s.borrow().len()), SPARES_KEPT);
        SPARES.with(|s| s.borrow_mut().clear());
        let mut huge = borrow();
        huge.reserve(LARGEST_KEPT + 1);
        drop(huge);
        assert_eq!(SPARES.with(|s| s.borrow().len()), 0);
    }
}
