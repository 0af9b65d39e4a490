//! The reader's queue to the writer: frames the WebSocket protocol obliges us to send
//! (pongs, close replies) and answers to ping messages, in order and bounded.
//!
//! Why not a tokio channel: it allocates its state and a block of 32 slots for every
//! connection up front (about 1.4 KiB), idle lobby watchers included, for a queue that
//! is empty nearly all the time. This one holds memory only while frames wait.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;

use fastwebsockets::OpCode;
use futures_util::task::AtomicWaker;

use crate::room::latest::{Bell, Doorbell};

/// Frames the reader may have waiting for the writer. Small: the reader waits when
/// the queue is full, which slows a client that floods pings.
pub(crate) const DIRECT_QUEUE: usize = 16;

/// Frames an emptied queue keeps room for.
const KEPT_CAPACITY: usize = 2;

/// What the reader asks the writer to send. Boxed slices keep it at 24 bytes.
pub enum Direct {
    /// A frame the WebSocket protocol obliges us to send (pong, close echo).
    Frame(OpCode, Box<[u8]>),
    /// An application message (pong to our own ping message).
    Message(Box<[u8]>),
    /// Close with this code and reason, then stop.
    Close { code: u16, reason: Box<str> },
}

/// The writer has ended: nothing more is sent.
#[derive(Debug)]
pub struct WriterGone;

struct Shared {
    frames: Mutex<VecDeque<Direct>>,
    /// The reader, waiting for room in a full queue.
    reader: AtomicWaker,
    reader_gone: AtomicBool,
    writer_gone: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, VecDeque<Direct>> {
        // A plain queue: a panic elsewhere cannot leave it half-changed.
        self.frames.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A new queue whose sender rings `bell` (the writer's doorbell) after each frame
/// queued and when it goes, so the writer looks into the queue only then.
pub fn queue(bell: Doorbell) -> (DirectSender, DirectReceiver) {
    let shared = Arc::new(Shared {
        frames: Mutex::new(VecDeque::new()),
        reader: AtomicWaker::new(),
        reader_gone: AtomicBool::new(false),
        writer_gone: AtomicBool::new(false),
    });
    (DirectSender { shared: shared.clone(), bell }, DirectReceiver { shared })
}

/// The reader's end.
pub struct DirectSender {
    shared: Arc<Shared>,
    bell: Doorbell,
}

impl DirectSender {
    /// Queue a frame, waiting while the queue is full (that slows a ping flood).
    pub async fn send(&self, frame: Direct) -> Result<(), WriterGone> {
        let mut frame = Some(frame);
        std::future::poll_fn(|cx| {
            if let Some(done) = self.push(&mut frame) {
                return Poll::Ready(done);
            }
            // Register, then look again: room made between the two still wakes us.
            self.shared.reader.register(cx.waker());
            self.push(&mut frame).map_or(Poll::Pending, Poll::Ready)
        })
        .await
    }

    /// Queue a frame unless the queue is full or the writer gone; whether it was queued.
    pub fn try_send(&self, frame: Direct) -> bool {
        matches!(self.push(&mut Some(frame)), Some(Ok(())))
    }

    /// Take `frame` into the queue; None (and `frame` left) when the queue is full.
    fn push(&self, frame: &mut Option<Direct>) -> Option<Result<(), WriterGone>> {
        if self.shared.writer_gone.load(Ordering::Acquire) {
            return Some(Err(WriterGone));
        }
        {
            let mut frames = self.shared.lock();
            if frames.len() >= DIRECT_QUEUE {
                return None;
            }
            frames.extend(frame.take());
        }
        self.bell.ring(Bell::Direct);
        Some(Ok(()))
    }
}

impl Drop for DirectSender {
    fn drop(&mut self) {
        self.shared.reader_gone.store(true, Ordering::Release);
        self.bell.ring(Bell::Direct);
    }
}

/// The writer's end.
pub struct DirectReceiver {
    shared: Arc<Shared>,
}

impl DirectReceiver {
    /// The next frame, without waiting: Ready(None) once the reader is gone and its
    /// frames are taken, Pending when nothing waits.
    pub fn next(&self) -> Poll<Option<Direct>> {
        // Looked at before the queue: gone, and nothing queued, means nothing more comes.
        let gone = self.shared.reader_gone.load(Ordering::Acquire);
        let next = {
            let mut frames = self.shared.lock();
            let next = frames.pop_front();
            if frames.is_empty() && frames.capacity() > KEPT_CAPACITY {
                frames.shrink_to(KEPT_CAPACITY);
            }
            next
        };
        match next {
            Some(frame) => {
                self.shared.reader.wake();
                Poll::Ready(Some(frame))
            }
            None if gone => Poll::Ready(None),
            None => Poll::Pending,
        }
    }
}

impl Drop for DirectReceiver {
    fn drop(&mut self) {
        self.shared.writer_gone.store(true, Ordering::Release);
        self.shared.reader.wake();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn message(n: u8) -> Direct {
        Direct::Message(Box::new([n]))
    }

    fn taken(rx: &DirectReceiver) -> Option<u8> {
        match rx.next() {
            Poll::Ready(Some(Direct::Message(bytes))) => Some(bytes[0]),
            _ => None,
        }
    }

    #[tokio::test]
    async fn a_full_queue_holds_the_reader_until_the_writer_takes_one() {
        let (_slot_kept, slot) = crate::room::latest::slot();
        let (tx, rx) = queue(slot.doorbell());
        for n in 0..DIRECT_QUEUE as u8 {
            tx.send(message(n)).await.expect("room in the queue");
        }
        assert!(slot.answer(Bell::Direct), "queueing rang the writer");
        assert!(!tx.try_send(message(99)), "full");
        let waiting = tokio::spawn(async move {
            tx.send(message(100)).await.expect("room once one is taken");
            tx
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "the reader waits while the queue is full");
        assert_eq!(taken(&rx), Some(0));
        let tx = tokio::time::timeout(Duration::from_secs(5), waiting).await.expect("woken").unwrap();
        let rest: Vec<u8> = std::iter::from_fn(|| taken(&rx)).collect();
        assert_eq!(rest, (1..DIRECT_QUEUE as u8).chain([100]).collect::<Vec<_>>(), "in order");
        assert!(rx.next().is_pending(), "empty, the reader still there");
        tx.try_send(message(7));
        drop(tx);
        assert_eq!(taken(&rx), Some(7), "queued before the reader went: still sent");
        assert!(matches!(rx.next(), Poll::Ready(None)), "then the reader's end shows");
        assert!(rx.shared.lock().capacity() <= KEPT_CAPACITY, "an emptied queue gives its buffer back");
    }

    #[tokio::test]
    async fn a_reader_waiting_on_a_full_queue_learns_the_writer_is_gone() {
        let (_slot_kept, slot) = crate::room::latest::slot();
        let (tx, rx) = queue(slot.doorbell());
        for n in 0..DIRECT_QUEUE as u8 {
            assert!(tx.try_send(message(n)));
        }
        let waiting = tokio::spawn(async move { tx.send(message(100)).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(rx);
        let sent = tokio::time::timeout(Duration::from_secs(5), waiting).await.expect("woken").unwrap();
        assert!(sent.is_err());
    }
}
