//! What one HTTP connection is doing, so an idle keep-alive connection can be told
//! from a busy one: requests whose handler still runs, and when it last sent anything
//! (an answer's head, or a chunk of a body streamed after it, such as a replay download).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::body::{Body, Frame, SizeHint};

/// A client that stops reading an answer still being sent (a replay download, which
/// holds one of a few slots) is cut after this, or `--http-idle-timeout-s` if shorter.
pub const STALLED_READER_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct Activity {
    started: Instant,
    handlers_running: AtomicUsize,
    /// Answers whose body is not all sent yet.
    bodies_sending: AtomicUsize,
    /// Milliseconds after `started` that something was last sent.
    last_sent_ms: AtomicU64,
}

impl Activity {
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            started: Instant::now(),
            handlers_running: AtomicUsize::new(0),
            bodies_sending: AtomicUsize::new(0),
            last_sent_ms: AtomicU64::new(0),
        })
    }

    pub fn handler_started(&self) {
        self.handlers_running.fetch_add(1, Ordering::AcqRel);
    }

    /// The handler answered: its head is about to be sent.
    pub fn handler_done(&self) {
        self.sent_now();
        self.handlers_running.fetch_sub(1, Ordering::AcqRel);
    }

    fn sent_now(&self) {
        self.last_sent_ms.store(self.started.elapsed().as_millis() as u64, Ordering::Release);
    }

    /// How long nothing has been sent, and whether an answer's body is still to be sent;
    /// None while a handler runs (its own deadlines bound it).
    fn idle_for(&self) -> Option<(Duration, bool)> {
        if self.handlers_running.load(Ordering::Acquire) > 0 {
            return None;
        }
        let sending = self.bodies_sending.load(Ordering::Acquire) > 0;
        let last = Duration::from_millis(self.last_sent_ms.load(Ordering::Acquire));
        Some((self.started.elapsed().saturating_sub(last), sending))
    }
}

/// Resolves once the connection has had no handler running and sent nothing for
/// `idle_limit` (an idle keep-alive connection), or for [`STALLED_READER_TIMEOUT`] if
/// shorter while an answer is still being sent (its client stopped reading). A slow
/// download that keeps being read never resolves it.
pub async fn idle_past(activity: &Activity, idle_limit: Duration) {
    quiet_past(activity, idle_limit, idle_limit.min(STALLED_READER_TIMEOUT)).await;
}

async fn quiet_past(activity: &Activity, idle_limit: Duration, stall_limit: Duration) {
    let check_every = (stall_limit / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
    loop {
        tokio::time::sleep(check_every).await;
        let limit = |sending| if sending { stall_limit } else { idle_limit };
        if activity.idle_for().is_some_and(|(quiet, sending)| quiet >= limit(sending)) {
            return;
        }
    }
}

/// An answer's body that marks its connection active with every chunk sent (hyper
/// asks for the next chunk only once the client has taken the last ones) and when done.
pub struct Sending<B> {
    body: B,
    activity: Arc<Activity>,
}

impl<B> Sending<B> {
    pub fn new(body: B, activity: Arc<Activity>) -> Sending<B> {
        activity.bodies_sending.fetch_add(1, Ordering::AcqRel);
        Sending { body, activity }
    }
}

impl<B: Body + Unpin> Body for Sending<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        if let Poll::Ready(Some(Ok(_))) = &polled {
            this.activity.sent_now();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl<B> Drop for Sending<B> {
    fn drop(&mut self) {
        // The last byte is out (or the answer abandoned): idle from here.
        self.activity.sent_now();
        self.activity.bodies_sending.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};

    use super::*;

    #[tokio::test]
    async fn a_connection_is_busy_while_a_handler_runs_and_idle_from_its_last_sent_chunk() {
        let activity = Activity::new();
        activity.handler_started();
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(activity.idle_for(), None, "a handler is running");
        activity.handler_done();
        let body = Sending::new(Full::new(Bytes::from_static(b"abc")), activity.clone());
        tokio::time::sleep(Duration::from_millis(60)).await;
        let (quiet, sending) = activity.idle_for().unwrap();
        assert!(quiet >= Duration::from_millis(60) && sending);
        assert_eq!(body.collect().await.unwrap().to_bytes(), Bytes::from_static(b"abc"));
        let (quiet, sending) = activity.idle_for().unwrap();
        assert!(quiet < Duration::from_millis(30) && !sending, "sending the body counts, and it is done");
    }

    #[tokio::test]
    async fn a_stalled_reader_is_cut_sooner_than_an_idle_keep_alive_connection() {
        let (idle_limit, stall_limit) = (Duration::from_millis(600), Duration::from_millis(150));
        let activity = Activity::new();
        let unread = Sending::new(Full::new(Bytes::from_static(b"abc")), activity.clone());
        let started = Instant::now();
        quiet_past(&activity, idle_limit, stall_limit).await;
        let stalled = started.elapsed();
        assert!(stalled >= stall_limit && stalled < idle_limit, "a stalled reader cut after {stalled:?}");
        drop(unread);
        let started = Instant::now();
        quiet_past(&activity, idle_limit, stall_limit).await;
        assert!(started.elapsed() >= idle_limit, "an idle connection cut after {:?}", started.elapsed());
    }
}
