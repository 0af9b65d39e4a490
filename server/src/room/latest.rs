//! A client's latest-wins slot: the room puts the newest snapshot (or a close) in
//! it, the session's writer takes the newest when it wakes.
//!
//! Why not tokio's `watch`: its sender wakes eight `Notify`s per send (each behind
//! its own lock), built for many receivers; a slot has one. A room sends to every
//! client every tick, so here a send is one short lock and one wake.
//!
//! The slot is also the writer's doorbell: whoever queues it a control message (the
//! room) or a frame (the session's reader) rings, so a writer woken by a snapshot
//! looks at its other queues only when something is in them (looking into an empty
//! queue of each of thousands of sessions, 30 times a second, was a tenth of the
//! server's user time: cold cache lines).

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;

use futures_util::task::AtomicWaker;

use super::Latest;

/// A new slot holding [`Latest::Waiting`]: the room's end and the writer's end.
pub fn slot() -> (LatestSender, LatestReceiver) {
    let shared = Arc::new(Shared {
        value: Mutex::new(Versioned { latest: Latest::Waiting, version: 0 }),
        writer: AtomicWaker::new(),
        sender_gone: AtomicBool::new(false),
        receiver_gone: AtomicBool::new(false),
        rung: AtomicU8::new(0),
    });
    (LatestSender { shared: shared.clone() }, LatestReceiver { shared, seen: 0 })
}

struct Shared {
    value: Mutex<Versioned>,
    /// The writer waiting for a change.
    writer: AtomicWaker,
    sender_gone: AtomicBool,
    receiver_gone: AtomicBool,
    /// The bells rung and not answered yet ([`Bell`] bits).
    rung: AtomicU8,
}

/// What besides the slot's value the writer is called to.
#[derive(Clone, Copy, Debug)]
pub enum Bell {
    /// The room queued control messages.
    Control = 1,
    /// The reader queued frames (pongs, closes), or is gone.
    Direct = 2,
}

/// A handle that rings a writer's doorbell.
#[derive(Clone)]
pub struct Doorbell {
    shared: Arc<Shared>,
}

impl Doorbell {
    /// Call the writer to `bell`; ring after queueing, so the writer finds what it is called to.
    pub fn ring(&self, bell: Bell) {
        self.shared.rung.fetch_or(bell as u8, Ordering::Release);
        self.shared.writer.wake();
    }
}

struct Versioned {
    latest: Latest,
    /// Bumped by every send: the receiver compares it with the one it last saw.
    version: u64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Versioned> {
        // The lock guards a plain value: a panic elsewhere cannot leave it half-written.
        self.value.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The room's end of a client's slot.
pub struct LatestSender {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for LatestSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatestSender").field("closed", &self.is_closed()).finish()
    }
}

impl LatestSender {
    /// Put `latest` in the slot (whatever was there and not taken is skipped) and wake the writer.
    pub fn send_replace(&self, latest: Latest) -> Latest {
        let old = {
            let mut value = self.shared.lock();
            value.version += 1;
            std::mem::replace(&mut value.latest, latest)
        };
        self.shared.writer.wake();
        // The old value (and its share of a body) is dropped outside the lock.
        old
    }

    /// Call the writer to `bell` (after queueing what it is called to).
    pub fn ring(&self, bell: Bell) {
        Doorbell { shared: self.shared.clone() }.ring(bell);
    }

    /// Whether the writer's end is gone (the connection ended).
    pub fn is_closed(&self) -> bool {
        self.shared.receiver_gone.load(Ordering::Acquire)
    }
}

impl Drop for LatestSender {
    fn drop(&mut self) {
        self.shared.sender_gone.store(true, Ordering::Release);
        self.shared.writer.wake();
    }
}

/// The room is gone: it dropped its end without anything left to take.
#[derive(Debug, PartialEq, Eq)]
pub struct RoomGone;

/// The writer's end of a client's slot.
pub struct LatestReceiver {
    shared: Arc<Shared>,
    /// The version last taken.
    seen: u64,
}

impl LatestReceiver {
    /// Wait until the slot holds something not yet seen (marking it seen); Err once
    /// the room's end is gone and nothing new is left.
    pub async fn changed(&mut self) -> Result<(), RoomGone> {
        std::future::poll_fn(|cx| {
            // Register first, then look: a send between the two still wakes us.
            self.shared.writer.register(cx.waker());
            let version = self.shared.lock().version;
            if version != self.seen {
                self.seen = version;
                return Poll::Ready(Ok(()));
            }
            if self.shared.sender_gone.load(Ordering::Acquire) {
                return Poll::Ready(Err(RoomGone));
            }
            Poll::Pending
        })
        .await
    }

    /// A handle for others to ring this writer's doorbell.
    pub fn doorbell(&self) -> Doorbell {
        Doorbell { shared: self.shared.clone() }
    }

    /// Whether `bell` rang since it was last answered; answers it.
    pub fn answer(&self, bell: Bell) -> bool {
        self.shared.rung.fetch_and(!(bell as u8), Ordering::AcqRel) & bell as u8 != 0
    }

    /// Whether the room's end is gone. Checked before [`LatestReceiver::take_changed`],
    /// a None from it means the room sent nothing more.
    pub fn room_gone(&self) -> bool {
        self.shared.sender_gone.load(Ordering::Acquire)
    }

    /// The slot's value if it changed since last seen, marked seen.
    pub fn take_changed(&mut self) -> Option<SlotGuard<'_>> {
        let guard = self.shared.lock();
        if guard.version == self.seen {
            return None;
        }
        self.seen = guard.version;
        Some(SlotGuard(guard))
    }

    /// Wait until a bell rings, the value changes or the room's end goes.
    pub async fn wait(&self) {
        std::future::poll_fn(|cx| {
            self.shared.writer.register(cx.waker());
            let ready = self.shared.rung.load(Ordering::Acquire) != 0
                || self.shared.sender_gone.load(Ordering::Acquire)
                || self.shared.lock().version != self.seen;
            if ready { Poll::Ready(()) } else { Poll::Pending }
        })
        .await
    }

    /// What the slot holds now (the lock is held while the guard lives: keep it short).
    pub fn borrow(&self) -> SlotGuard<'_> {
        SlotGuard(self.shared.lock())
    }

    /// What the slot holds now, marked seen.
    pub fn borrow_and_update(&mut self) -> SlotGuard<'_> {
        let guard = self.shared.lock();
        self.seen = guard.version;
        SlotGuard(guard)
    }
}

impl Drop for LatestReceiver {
    fn drop(&mut self) {
        self.shared.receiver_gone.store(true, Ordering::Release);
    }
}

/// A look at a slot's value.
pub struct SlotGuard<'a>(MutexGuard<'a, Versioned>);

impl std::ops::Deref for SlotGuard<'_> {
    type Target = Latest;

    fn deref(&self) -> &Latest {
        &self.0.latest
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn the_writer_sees_the_newest_value_once_and_the_end() {
        let (tx, mut rx) = slot();
        tx.send_replace(Latest::Closed { code: 1, reason: "old".into() });
        tx.send_replace(Latest::Closed { code: 2, reason: "new".into() });
        rx.changed().await.unwrap();
        assert!(matches!(&*rx.borrow_and_update(), Latest::Closed { code: 2, .. }), "latest wins");
        let waiting = tokio::time::timeout(Duration::from_millis(20), rx.changed()).await;
        assert!(waiting.is_err(), "nothing new: it waits");
        // A send from another thread wakes the waiting writer.
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            tx.send_replace(Latest::Waiting);
            tx
        });
        rx.changed().await.unwrap();
        assert!(matches!(&*rx.borrow(), Latest::Waiting));
        let tx = sender.join().unwrap();
        tx.send_replace(Latest::Closed { code: 3, reason: "last".into() });
        drop(tx);
        rx.changed().await.expect("what was sent before the end is still seen");
        assert_eq!(rx.changed().await, Err(RoomGone));
    }

    #[tokio::test]
    async fn bells_wake_the_writer_and_are_answered_once() {
        let (tx, rx) = slot();
        let bell = rx.doorbell();
        assert!(!rx.answer(Bell::Direct));
        let ringer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            bell.ring(Bell::Direct);
        });
        tokio::time::timeout(Duration::from_secs(5), rx.wait()).await.expect("the ring wakes the writer");
        ringer.join().unwrap();
        assert!(rx.answer(Bell::Direct) && !rx.answer(Bell::Direct) && !rx.answer(Bell::Control));
        tx.ring(Bell::Control);
        assert!(rx.answer(Bell::Control));
        assert!(!rx.room_gone());
        drop(tx);
        tokio::time::timeout(Duration::from_secs(5), rx.wait()).await.expect("the room's end going wakes it");
        assert!(rx.room_gone());
    }

    #[test]
    fn the_room_sees_the_writer_go() {
        let (tx, rx) = slot();
        assert!(!tx.is_closed());
        drop(rx);
        assert!(tx.is_closed());
    }
}
