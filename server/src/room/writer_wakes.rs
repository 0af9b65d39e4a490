//! Waking a room's writers once a publish is done, in one batch woken from a tokio
//! worker rather than one by one from the room thread.
//!
//! Why: a wake from a thread outside the runtime goes through tokio's shared inject
//! queue (a lock, and maybe a futex to unpark a worker) once per writer: with 1,000
//! clients that was most of the room thread's publishing. The room thread now takes
//! each waiting writer's waker as it fills its slot ([`super::latest::LatestSender::send_replace_deferred`]),
//! and hands the tick's wakers to a small task of the room's, on the runtime, which
//! wakes them from a worker (its own run queue): one cross-thread wake a publish.
//!
//! A writer never misses its wake: it registers its waker before it looks at its slot,
//! and a waker taken is woken, only later. Bounded: at most one batch waits for the
//! task; if the task has not taken the last one yet, the room wakes this one itself.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};

use futures_util::task::AtomicWaker;

/// The room's end: the wakers of this publish, and where they go.
pub struct WriterWakes {
    /// Wakers taken this publish (kept across ticks for its capacity).
    collected: Vec<Waker>,
    /// The room's waking task; None outside a runtime (unit tests), where the room wakes them itself.
    task: Option<Arc<Handover>>,
}

/// What the room thread and its waking task share.
struct Handover {
    /// The batch waiting for the task (empty when it took the last).
    pending: Mutex<Vec<Waker>>,
    /// The waking task, waiting for a batch.
    task: AtomicWaker,
    room_gone: AtomicBool,
}

impl Handover {
    fn pending(&self) -> MutexGuard<'_, Vec<Waker>> {
        // The lock guards a plain list: a panic elsewhere cannot leave it half-written.
        self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl WriterWakes {
    /// Starts the room's waking task on the runtime this is called in, if any.
    pub fn new() -> WriterWakes {
        let task = tokio::runtime::Handle::try_current().ok().map(|runtime| {
            let handover = Arc::new(Handover {
                pending: Mutex::default(),
                task: AtomicWaker::new(),
                room_gone: AtomicBool::new(false),
            });
            runtime.spawn(wake_batches(handover.clone()));
            handover
        });
        WriterWakes { collected: Vec::new(), task }
    }

    /// Where this publish's wakers go.
    pub fn collected(&mut self) -> &mut Vec<Waker> {
        &mut self.collected
    }

    /// Wake every writer collected: from the room's task, or here if it has not taken the last batch yet.
    pub fn wake_all(&mut self) {
        if self.collected.is_empty() {
            return;
        }
        if let Some(handover) = &self.task {
            let handed = {
                let mut pending = handover.pending();
                let free = pending.is_empty();
                if free {
                    // The task's emptied vector comes back: no allocation in steady state.
                    std::mem::swap(&mut *pending, &mut self.collected);
                }
                free
            };
            if handed {
                handover.task.wake();
                return;
            }
        }
        self.collected.drain(..).for_each(Waker::wake);
    }
}

impl Default for WriterWakes {
    fn default() -> WriterWakes {
        WriterWakes::new()
    }
}

impl Drop for WriterWakes {
    fn drop(&mut self) {
        self.collected.drain(..).for_each(Waker::wake);
        if let Some(handover) = &self.task {
            // A batch the task never took (it is gone with a stopping runtime) is woken here.
            let pending = std::mem::take(&mut *handover.pending());
            pending.into_iter().for_each(Waker::wake);
            handover.room_gone.store(true, Ordering::Release);
            handover.task.wake();
        }
    }
}

/// The room's waking task: wakes each batch handed over, until the room is gone (the last batch still woken).
async fn wake_batches(handover: Arc<Handover>) {
    let mut waking = Vec::new();
    loop {
        let more = std::future::poll_fn(|cx| {
            // Register first, then look: a batch handed over between the two still wakes us.
            handover.task.register(cx.waker());
            let mut pending = handover.pending();
            if !pending.is_empty() {
                std::mem::swap(&mut *pending, &mut waking);
                Poll::Ready(true)
            } else if handover.room_gone.load(Ordering::Acquire) {
                Poll::Ready(false)
            } else {
                Poll::Pending
            }
        })
        .await;
        // Woken from this worker, each writer goes on its run queue, not the shared one.
        waking.drain(..).for_each(Waker::wake);
        if !more {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::room::Latest;
    use crate::room::latest::slot;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_waiting_on_a_deferred_send_are_woken_by_the_batch() {
        // The room thread: made outside the runtime's workers but with its handle, as a room's is.
        let runtime = tokio::runtime::Handle::current();
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..50).map(|_| slot()).unzip();
        let writers: Vec<_> = receivers
            .into_iter()
            .map(|mut rx| {
                tokio::spawn(async move {
                    let mut codes = Vec::new();
                    while codes.last() != Some(&3) {
                        rx.wait().await;
                        if let Some(Latest::Closed { code, .. }) = rx.take_changed() {
                            codes.push(code);
                        }
                    }
                    codes
                })
            })
            .collect();
        let room = std::thread::spawn(move || {
            let _entered = runtime.enter();
            let mut wakes = WriterWakes::new();
            for code in 1..=3 {
                // Give the writers time to wait, so their wakers are there to take.
                std::thread::sleep(Duration::from_millis(20));
                for tx in &senders {
                    tx.send_replace_deferred(Latest::Closed { code, reason: "".into() }, wakes.collected());
                }
                wakes.wake_all();
            }
            senders
        });
        for writer in writers {
            let codes = tokio::time::timeout(Duration::from_secs(5), writer).await.expect("woken").unwrap();
            assert_eq!(codes.last(), Some(&3), "the newest value seen: {codes:?}");
        }
        drop(room.join().unwrap());
    }

    #[test]
    fn without_a_runtime_the_room_wakes_them_itself() {
        let (tx, rx) = slot();
        let woken = Arc::new(AtomicBool::new(false));
        struct Flag(Arc<AtomicBool>);
        impl std::task::Wake for Flag {
            fn wake(self: Arc<Self>) {
                self.0.store(true, Ordering::Release);
            }
        }
        let waker = Waker::from(Arc::new(Flag(woken.clone())));
        let mut wait = std::pin::pin!(rx.wait());
        assert!(wait.as_mut().poll(&mut std::task::Context::from_waker(&waker)).is_pending());
        let mut wakes = WriterWakes::new();
        tx.send_replace_deferred(Latest::Closed { code: 1, reason: "".into() }, wakes.collected());
        assert!(!woken.load(Ordering::Acquire), "not woken while the room publishes");
        wakes.wake_all();
        assert!(woken.load(Ordering::Acquire), "woken once it is done");
    }
}
