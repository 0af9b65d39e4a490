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
//!
//! It also holds the client's control messages (welcome, roster, events, chat), in
//! order and bounded, under the same lock: a tokio channel per client cost about
//! 2.5 KiB of blocks kept for a handful of messages a second; an empty queue here
//! holds no memory.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};

use bytes::Bytes;
use futures_util::task::AtomicWaker;

use super::{CLIENT_CONTROL_QUEUE, Latest};

/// A new slot holding [`Latest::Waiting`]: the room's end and the writer's end.
pub fn slot() -> (LatestSender, LatestReceiver) {
    let shared = Arc::new(Shared {
        value: Mutex::new(Versioned { latest: Latest::Waiting, version: 0, control: VecDeque::new() }),
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
        self.shared.ring(bell);
    }
}

struct Versioned {
    latest: Latest,
    /// Bumped by every send: the receiver compares it with the one it last saw.
    version: u64,
    /// Ordered messages that must not be skipped, oldest first.
    control: VecDeque<Bytes>,
}

/// Control messages a queue keeps room for once it has emptied: a burst (a join's
/// welcome and roster) does not keep its larger buffer for the session's life.
const CONTROL_KEPT_CAPACITY: usize = 4;

/// Why a control message was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum ControlRefused {
    /// [`CLIENT_CONTROL_QUEUE`] messages are waiting: the client is not reading.
    Full,
    /// The writer's end is gone (the connection ended).
    Closed,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Versioned> {
        // The lock guards a plain value: a panic elsewhere cannot leave it half-written.
        self.value.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn ring(&self, bell: Bell) {
        self.rung.fetch_or(bell as u8, Ordering::Release);
        self.writer.wake();
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
        let old = self.replace(latest);
        self.shared.writer.wake();
        // The old value (and its share of a body) is dropped outside the lock.
        old
    }

    /// [`LatestSender::send_replace`] without the wake: the writer's waker, if it is
    /// waiting, goes on `wakes` for the caller to wake once it has filled every slot
    /// ([`super::writer_wakes::WriterWakes`]). Taken, not woken: the writer registers before
    /// it looks, so it either sees this value or is woken when the batch is.
    pub fn send_replace_deferred(&self, latest: Latest, wakes: &mut Vec<Waker>) -> Latest {
        let old = self.replace(latest);
        wakes.extend(self.shared.writer.take());
        old
    }

    /// Put `latest` in the slot as a new version; what it held comes back.
    fn replace(&self, latest: Latest) -> Latest {
        let mut value = self.shared.lock();
        value.version += 1;
        std::mem::replace(&mut value.latest, latest)
    }

    /// Call the writer to `bell` (after queueing what it is called to).
    pub fn ring(&self, bell: Bell) {
        self.shared.ring(bell);
    }

    /// Queue a control message and call the writer to it; a full queue is the
    /// caller's to handle (the client is not reading).
    pub fn send_control(&self, message: Bytes) -> Result<(), ControlRefused> {
        if self.is_closed() {
            return Err(ControlRefused::Closed);
        }
        {
            let mut value = self.shared.lock();
            if value.control.len() >= CLIENT_CONTROL_QUEUE {
                return Err(ControlRefused::Full);
            }
            value.control.push_back(message);
        }
        self.shared.ring(Bell::Control);
        Ok(())
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

/// The writer's end of a client's slot.
pub struct LatestReceiver {
    shared: Arc<Shared>,
    /// The version last taken.
    seen: u64,
}

impl LatestReceiver {
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

    /// The slot's value if it changed since last seen, marked seen and moved out (the
    /// slot holds [`Latest::Waiting`] until [`LatestReceiver::put_back`]). Moved, not
    /// read in place: the writer copies a snapshot into its buffer without the lock,
    /// so a writer descheduled mid-copy cannot hold up the room's next send; and not
    /// cloned, which would bump the body's reference count, shared by every client of
    /// the room, from every writer's thread.
    pub fn take_changed(&mut self) -> Option<Latest> {
        let mut guard = self.shared.lock();
        if guard.version == self.seen {
            return None;
        }
        self.seen = guard.version;
        Some(std::mem::take(&mut guard.latest))
    }

    /// Hand back what [`LatestReceiver::take_changed`] gave, so the room drops it with
    /// its next send, on its own thread (where the body's count is already hot). If
    /// the room sent something newer meanwhile, that stays and `latest` is dropped here.
    pub fn put_back(&self, latest: Latest) {
        let mut guard = self.shared.lock();
        if guard.version == self.seen {
            guard.latest = latest;
            return;
        }
        drop(guard);
        drop(latest);
    }

    /// The oldest control message queued, taken out.
    pub fn next_control(&self) -> Option<Bytes> {
        let mut value = self.shared.lock();
        let next = value.control.pop_front();
        if value.control.is_empty() && value.control.capacity() > CONTROL_KEPT_CAPACITY {
            value.control.shrink_to(CONTROL_KEPT_CAPACITY);
        }
        next
    }

    /// Wait until a bell rings, the value changes or the room's end goes.
    pub async fn wait(&self) {
        std::future::poll_fn(|cx| {
            // Register first, then look: a send or ring between the two still wakes us.
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

    /// One turn of the writer as it runs: whether the room is gone (looked at first),
    /// then the changed value, handed back.
    fn writer_turn(rx: &mut LatestReceiver) -> (bool, Option<Latest>) {
        let gone = rx.room_gone();
        let taken = rx.take_changed();
        if let Some(latest) = &taken {
            rx.put_back(latest.clone());
        }
        (gone, taken)
    }

    fn closed_code(latest: &Option<Latest>) -> Option<u16> {
        match latest {
            Some(Latest::Closed { code, .. }) => Some(*code),
            _ => None,
        }
    }

    #[tokio::test]
    async fn the_writer_sees_the_newest_value_once_and_the_end() {
        let (tx, mut rx) = slot();
        tx.send_replace(Latest::Closed { code: 1, reason: "old".into() });
        tx.send_replace(Latest::Closed { code: 2, reason: "new".into() });
        tokio::time::timeout(Duration::from_secs(5), rx.wait()).await.expect("a new value: no wait");
        let (gone, taken) = writer_turn(&mut rx);
        assert_eq!((gone, closed_code(&taken)), (false, Some(2)), "latest wins");
        assert!(matches!(&*rx.borrow(), Latest::Closed { code: 2, .. }), "handed back for the room to drop");
        assert!(rx.take_changed().is_none(), "seen once");
        let waiting = tokio::time::timeout(Duration::from_millis(20), rx.wait()).await;
        assert!(waiting.is_err(), "nothing new: it waits");
        // A send from another thread wakes the waiting writer.
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            tx.send_replace(Latest::Closed { code: 3, reason: "next".into() });
            tx
        });
        tokio::time::timeout(Duration::from_secs(5), rx.wait()).await.expect("the send wakes the writer");
        let tx = sender.join().unwrap();
        // The room sends again while the writer holds what it took: the newer value stays.
        let taken = rx.take_changed();
        assert!(matches!(&*rx.borrow(), Latest::Waiting), "taken out, not copied under the lock");
        let skipped = tx.send_replace(Latest::Closed { code: 4, reason: "newer".into() });
        assert!(matches!(skipped, Latest::Waiting));
        rx.put_back(taken.expect("code 3"));
        assert!(matches!(&*rx.borrow(), Latest::Closed { code: 4, .. }), "a newer send is not overwritten");
        // The last send before the room's end is still taken; then the end shows.
        drop(tx);
        tokio::time::timeout(Duration::from_secs(5), rx.wait()).await.expect("the room's end wakes it");
        let (gone, taken) = writer_turn(&mut rx);
        assert_eq!((gone, closed_code(&taken)), (true, Some(4)), "what was sent before the end is still seen");
        let (gone, taken) = writer_turn(&mut rx);
        assert!(gone && taken.is_none(), "gone, and nothing new after: the writer closes");
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

    #[tokio::test]
    async fn control_messages_come_in_order_bounded_and_outlive_the_room() {
        let (tx, rx) = slot();
        for n in 0..CLIENT_CONTROL_QUEUE {
            tx.send_control(Bytes::from(n.to_string())).expect("room in the queue");
        }
        assert_eq!(tx.send_control(Bytes::from_static(b"more")), Err(ControlRefused::Full));
        assert!(rx.answer(Bell::Control), "sending rang");
        assert_eq!(rx.next_control().as_deref(), Some(&b"0"[..]));
        tx.send_control(Bytes::from_static(b"last")).expect("room again");
        drop(tx);
        tokio::time::timeout(Duration::from_secs(5), rx.wait()).await.expect("the room's end wakes it");
        let rest: Vec<Bytes> = std::iter::from_fn(|| rx.next_control()).collect();
        assert_eq!(rest.len(), CLIENT_CONTROL_QUEUE, "queued before the room went: still delivered");
        assert_eq!((&rest[0][..], &rest[rest.len() - 1][..]), (&b"1"[..], &b"last"[..]));
        assert!(rx.shared.lock().control.capacity() <= CONTROL_KEPT_CAPACITY, "an emptied queue gives its buffer back");
    }

    #[test]
    fn the_room_sees_the_writer_go() {
        let (tx, rx) = slot();
        assert!(!tx.is_closed());
        drop(rx);
        assert!(tx.is_closed());
        assert_eq!(tx.send_control(Bytes::from_static(b"late")), Err(ControlRefused::Closed));
    }
}
