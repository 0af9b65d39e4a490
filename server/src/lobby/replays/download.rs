//! The body of a replay download: read as it is sent (from this node's file, or from
//! the node that keeps it), holding its download slot (and its address's place) until
//! the last byte is out or the body is dropped, never more or other bytes than the
//! length announced, and never slower than a minimum rate. Every download that ends
//! short is logged and counted once, whichever side cut it.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use futures_util::TryStreamExt;
use http_body_util::StreamBody;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, Sleep};
use tokio_util::io::ReaderStream;

use super::across_nodes::node_call;
use crate::lobby::addresses::AddressSlot;
use crate::lobby::cluster::forward::ConnectionTask;
use crate::web::{Body, BodyError};

/// Longest wait for the next bytes of a file passed on from another node: a keeper
/// that stalls mid-file is cut off (and the slot freed) after this, while a large
/// file that keeps coming is never cut for its size.
pub const READ_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a download stopped before its end (its connection is then cut).
#[derive(Debug, thiserror::Error)]
pub enum DownloadCut {
    #[error("no bytes from the source within {0:?}")]
    Stalled(Duration),
    #[error("the keeper sent more than the {0} bytes it announced")]
    Longer(u64),
    #[error("the keeper ended {0} bytes short of what it announced")]
    Shorter(u64),
    #[error("fewer than {0} bytes sent in {1:?}: too slow a download")]
    TooSlow(u64, Duration),
}

/// The slowest a download may be sent: at least `bytes` (or what is left of the file,
/// if less) every `window`, else it is cut.
///
/// A minimum rate rather than a total deadline scaled by size: a deadline generous
/// enough for a slow honest client on a large file lets a client that reads almost
/// nothing hold the slot for most of that time, whereas a rate holds every window to
/// it, so holding a slot for long costs real bandwidth. A client that stops reading
/// altogether is cut sooner by the listener (`edge::activity`).
///
/// It is measured at what the connection takes from the body: a client can be ahead of
/// its reading by the buffers in between (hyper's, up to 64 KiB, the kernel's send
/// buffer, its own receive buffer), an allowance that fills once, in the first windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MinRate {
    pub bytes: u64,
    pub window: Duration,
}

/// What a download holds while it lasts: one of the node's `DOWNLOADS_AT_ONCE` slots
/// and, for a client held to `--replay-downloads-per-ip`, its address's place.
pub struct Held {
    pub slot: OwnedSemaphorePermit,
    pub address: Option<AddressSlot>,
}

/// The limits a download is sent under.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Longest wait for the source's next bytes.
    pub source_idle: Duration,
    pub min_rate: MinRate,
}

impl Limits {
    pub fn new(min_rate: MinRate) -> Limits {
        Limits { source_idle: READ_IDLE_TIMEOUT, min_rate }
    }
}

/// A body of exactly `length` bytes from `inner`, holding `slot` (and the connection
/// to the keeper, when passed on) while it lasts.
pub struct Download<B> {
    inner: B,
    /// Announced length still to send.
    left: u64,
    announced: u64,
    /// Set to `idle_limit` from when the body is asked for a chunk the source does not
    /// have yet; fires when the source stalls. A client that takes long to ask (it reads
    /// slowly) is not the source stalling: the listener times that.
    idle: Pin<Box<Sleep>>,
    idle_limit: Duration,
    /// The source said Pending since the last chunk: `idle` is running.
    waiting: bool,
    min_rate: MinRate,
    /// The rate window under way: when it began, what was left then, and what it sent.
    window_started: Instant,
    left_at_window_start: u64,
    sent_in_window: u64,
    /// Why it was cut, once it was (logged and counted then, never again).
    cut: Option<&'static str>,
    /// Released when hyper drops the body, after the last byte or when the client goes
    /// away, not when the handler returns.
    _held: Held,
    /// Named when the download is cut; holds the connection to the keeper, if any.
    source: Source,
}

/// Where a download's bytes come from.
pub enum Source {
    /// This node's file of replay `id`.
    File { id: String },
    /// Replay `id` passed on from `node` as it arrives over `connection`, which is
    /// driven while this lasts and closed when it is dropped.
    Keeper { id: String, node: String, connection: ConnectionTask },
}

/// Replay `id`'s file `file` on this node, of `length` bytes.
pub fn from_file(id: &str, file: tokio::fs::File, length: u64, held: Held, limits: Limits) -> Body {
    let frames = ReaderStream::new(file).map_ok(Frame::data).map_err(BodyError::from);
    let source = Source::File { id: id.to_string() };
    Body::stream(Download::new(StreamBody::new(frames), length, held, source, limits))
}

/// A file passed on from the keeper (`source`) as it arrives: `length` is its `Content-Length`.
pub fn passed_on(incoming: hyper::body::Incoming, length: u64, held: Held, source: Source, limits: Limits) -> Body {
    Body::stream(Download::new(incoming, length, held, source, limits))
}

impl<B> Download<B> {
    fn new(inner: B, length: u64, held: Held, source: Source, limits: Limits) -> Download<B> {
        Download {
            inner,
            left: length,
            announced: length,
            idle: Box::pin(tokio::time::sleep(limits.source_idle)),
            idle_limit: limits.source_idle,
            waiting: false,
            min_rate: limits.min_rate,
            window_started: Instant::now(),
            left_at_window_start: length,
            sent_in_window: 0,
            cut: None,
            _held: held,
            source,
        }
    }

    /// A download cut before its end (`cause` is its metric label): the client sees its
    /// connection closed short of the announced length; the operator sees why here, once.
    fn report(&mut self, cause: &'static str, why: &str) {
        if self.cut.is_some() {
            return;
        }
        self.cut = Some(cause);
        metrics::counter!("arena_replay_download_cuts_total", "cause" => cause).increment(1);
        let (id, node) = match &self.source {
            Source::File { id } => (id, None),
            Source::Keeper { id, node, .. } => {
                // The call's one outcome (`answered` only for a file passed on whole).
                node_call("download", "cut");
                (id, Some(node))
            }
        };
        let (left, node) = (self.left, node.map(String::as_str));
        if cause == "client_gone" {
            // Usually a viewer closing the page: worth a line, not a warning.
            tracing::info!(%id, node, left, cause, error = %why, "a replay download ended before its end");
        } else {
            tracing::warn!(%id, node, left, cause, error = %why, "a replay download was cut before its end");
        }
    }

    /// The next rate window, or the cut if the one just ended sent too little.
    fn check_rate(&mut self) -> Result<(), DownloadCut> {
        let now = Instant::now();
        if now.duration_since(self.window_started) < self.min_rate.window || self.left == 0 {
            return Ok(());
        }
        let needed = self.min_rate.bytes.min(self.left_at_window_start);
        if self.sent_in_window < needed {
            return Err(DownloadCut::TooSlow(needed, self.min_rate.window));
        }
        (self.window_started, self.left_at_window_start, self.sent_in_window) = (now, self.left, 0);
        Ok(())
    }
}

impl<B> Drop for Download<B> {
    fn drop(&mut self) {
        if self.left > 0 {
            // Dropped short, with no cut of its own: the client left, or stopped reading
            // and the listener cut it (`edge::activity`).
            self.report("client_gone", "the client left or stopped reading");
        } else if let Source::Keeper { .. } = self.source {
            node_call("download", "answered");
        }
    }
}

/// `cut` with its causes: hyper's "error reading a body" says why only in its source.
fn with_causes(cut: &BodyError) -> String {
    let mut why = cut.to_string();
    let mut cause = cut.source();
    while let Some(c) = cause {
        why = format!("{why}: {c}");
        cause = c.source();
    }
    why
}

impl<B> HttpBody for Download<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<BodyError>,
{
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        let polled = this.next_frame(cx);
        if let Poll::Ready(Some(Err(cut))) = &polled {
            let cause = match cut.downcast_ref::<DownloadCut>() {
                Some(DownloadCut::TooSlow(..)) => "too_slow",
                _ => "source",
            };
            this.report(cause, &with_causes(cut));
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

impl<B> Download<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<BodyError>,
{
    /// The next chunk, checked against the announced length, or why the download stops.
    fn next_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        let frame = match polled {
            Poll::Pending => {
                if !self.waiting {
                    self.waiting = true;
                    self.idle.as_mut().reset(tokio::time::Instant::now() + self.idle_limit);
                }
                ready!(self.idle.as_mut().poll(cx));
                return Poll::Ready(Some(Err(DownloadCut::Stalled(self.idle_limit).into())));
            }
            Poll::Ready(None) if self.left > 0 => {
                return Poll::Ready(Some(Err(DownloadCut::Shorter(self.left).into())));
            }
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(Some(Ok(frame))) => frame,
        };
        self.waiting = false;
        if let Some(data) = frame.data_ref() {
            let len = data.len() as u64;
            if len > self.left {
                return Poll::Ready(Some(Err(DownloadCut::Longer(self.announced).into())));
            }
            self.left -= len;
            self.sent_in_window += len;
            self.check_rate()?;
        }
        Poll::Ready(Some(Ok(frame)))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use http_body_util::BodyExt;
    use tokio::sync::Semaphore;

    use super::*;

    fn file() -> Source {
        Source::File { id: "0123456789abcdef0123".into() }
    }

    fn held(slots: &Arc<Semaphore>) -> Held {
        Held { slot: slots.clone().try_acquire_owned().unwrap(), address: None }
    }

    /// `source_idle` for the source, and a minimum rate no test below reaches.
    fn limits(source_idle: Duration) -> Limits {
        Limits { source_idle, min_rate: MinRate { bytes: 1, window: Duration::from_secs(3600) } }
    }

    fn chunks(
        parts: &[&'static [u8]],
    ) -> StreamBody<impl futures_util::Stream<Item = Result<Frame<Bytes>, BodyError>>> {
        let frames: Vec<Result<Frame<Bytes>, BodyError>> =
            parts.iter().map(|p| Ok(Frame::data(Bytes::from_static(p)))).collect();
        StreamBody::new(futures_util::stream::iter(frames))
    }

    #[tokio::test]
    async fn the_slot_is_held_until_the_body_is_done_with() {
        let slots = Arc::new(Semaphore::new(1));
        let body = Download::new(chunks(&[b"ab", b"cd"]), 4, held(&slots), file(), limits(READ_IDLE_TIMEOUT));
        assert_eq!(slots.available_permits(), 0, "held while the body waits to be sent");
        assert_eq!(body.collect().await.unwrap().to_bytes(), Bytes::from_static(b"abcd"));
        assert_eq!(slots.available_permits(), 1, "given back with the body");
    }

    #[tokio::test]
    async fn a_source_longer_or_shorter_than_announced_is_an_error() {
        let slots = Arc::new(Semaphore::new(2));
        let longer = Download::new(chunks(&[b"ab", b"cd"]), 3, held(&slots), file(), limits(READ_IDLE_TIMEOUT));
        let err = longer.collect().await.unwrap_err();
        assert!(err.to_string().contains("more than the 3 bytes"), "{err}");
        let shorter = Download::new(chunks(&[b"ab"]), 3, held(&slots), file(), limits(READ_IDLE_TIMEOUT));
        let err = shorter.collect().await.unwrap_err();
        assert!(err.to_string().contains("1 bytes short"), "{err}");
        assert_eq!(slots.available_permits(), 2);
    }

    #[tokio::test]
    async fn a_stalled_source_is_cut_after_the_idle_timeout() {
        let slots = Arc::new(Semaphore::new(1));
        let stalled = StreamBody::new(futures_util::stream::pending::<Result<Frame<Bytes>, BodyError>>());
        let limit = Duration::from_millis(100);
        let body = Download::new(stalled, 10, held(&slots), file(), limits(limit));
        let started = tokio::time::Instant::now();
        let err = body.collect().await.unwrap_err();
        assert!(err.to_string().contains("no bytes from the source within 100ms"), "{err}");
        assert!(started.elapsed() >= limit);
        assert_eq!(slots.available_permits(), 1);
    }

    #[tokio::test]
    async fn a_client_slow_to_ask_for_the_next_chunk_is_not_a_stalled_source() {
        let slots = Arc::new(Semaphore::new(1));
        let limit = Duration::from_millis(100);
        // The second chunk takes a moment (as a file read does), well within the limit.
        let parts = futures_util::stream::unfold(0, |n| async move {
            if n == 1 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (n < 2).then(|| (Ok::<_, BodyError>(Frame::data(Bytes::from_static(b"ab"))), n + 1))
        });
        let mut body = Download::new(StreamBody::new(Box::pin(parts)), 4, held(&slots), file(), limits(limit));
        let first = body.frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), Bytes::from_static(b"ab"));
        // The client takes three limits to ask for more.
        tokio::time::sleep(limit * 3).await;
        assert_eq!(body.collect().await.unwrap().to_bytes(), Bytes::from_static(b"ab"));
    }

    #[tokio::test]
    async fn a_download_slower_than_the_minimum_rate_is_cut_once_a_window_has_passed() {
        let slots = Arc::new(Semaphore::new(1));
        let window = Duration::from_millis(100);
        // 2 bytes every 40 ms: 5 a window, under the 8 asked for.
        let parts = futures_util::stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_millis(40)).await;
            Some((Ok::<_, BodyError>(Frame::data(Bytes::from_static(b"ab"))), ()))
        });
        let limits = Limits { source_idle: READ_IDLE_TIMEOUT, min_rate: MinRate { bytes: 8, window } };
        let body = Download::new(StreamBody::new(Box::pin(parts)), 1000, held(&slots), file(), limits);
        let started = Instant::now();
        let err = body.collect().await.unwrap_err();
        assert!(err.to_string().contains("fewer than 8 bytes sent in 100ms"), "{err}");
        let took = started.elapsed();
        assert!(took >= window && took < window * 3, "cut after {took:?}");
        assert_eq!(slots.available_permits(), 1);
    }
}
