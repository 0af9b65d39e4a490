//! A read/write split of the upgraded socket that keeps a raw handle, so the
//! session can drain what a closed client still sends (a lingering close).
//!
//! Why: closing a TCP socket with unread bytes in its receive buffer makes the
//! kernel send RST, and the peer then loses our close frame. fastwebsockets'
//! halves own their streams, so the handle to drain with must be shared.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

pub type Io = TokioIo<Upgraded>;

/// One side of the shared socket. Both sides only lock for one poll; the
/// socket keeps separate wakers for reading and writing, so they never wait on each other.
pub struct Side {
    io: Arc<Mutex<Io>>,
}

/// Split `io` into a reading side, a writing side, and a raw handle for draining.
pub fn split(io: Io) -> (Side, Side, Side) {
    let io = Arc::new(Mutex::new(io));
    (Side { io: io.clone() }, Side { io: io.clone() }, Side { io })
}

impl Side {
    fn with<R>(&self, f: impl FnOnce(Pin<&mut Io>) -> R) -> R {
        let mut io = self.io.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(Pin::new(&mut *io))
    }

    /// Another handle on the same socket: the writer's, for the frames it gathers
    /// into one write (fastwebsockets' half writes one frame at a time).
    pub fn share(&self) -> Side {
        Side { io: self.io.clone() }
    }

    /// Read and discard until the peer closes, `limit` passes or `max_bytes` are read.
    pub async fn drain(mut self, limit: Duration, max_bytes: usize) {
        // On the heap: an array here would make every session's future (and task) 4 KiB larger.
        let mut sink = vec![0u8; 4096];
        let mut total = 0;
        let _ = tokio::time::timeout(limit, async {
            while total < max_bytes {
                match self.read(&mut sink).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => total += n,
                }
            }
        })
        .await;
    }
}

impl AsyncRead for Side {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.with(|io| io.poll_read(cx, buf))
    }
}

impl AsyncWrite for Side {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.with(|io| io.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.with(|io| io.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.with(|io| io.is_write_vectored())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(|io| io.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(|io| io.poll_shutdown(cx))
    }
}
