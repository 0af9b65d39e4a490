//! The accept loop: one port for HTTP and WebSockets, the connection limit taken
//! before accept, and each connection served by hyper (upgrades handed to sessions).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use super::router::{self, Routes};
use crate::ops::metrics;

/// Unsent bytes a connection may have queued in the kernel before writes wait.
/// Without a limit the kernel takes megabytes from a client that reads slowly:
/// seconds of old snapshots pile up there, out of reach of the writer's
/// latest-wins slot. With it, a slow client skips to the newest snapshot.
const UNSENT_BYTES_LIMIT: u32 = 16 * 1024;

/// One open TCP connection (and the WebSocket session it may become): its place
/// under `--max-connections`, counted in `arena_connections_open` until dropped.
#[derive(Debug)]
pub struct ConnectionSlot {
    _permit: OwnedSemaphorePermit,
}

impl ConnectionSlot {
    fn new(permit: OwnedSemaphorePermit) -> ConnectionSlot {
        let m = metrics::handles();
        m.connections_total.increment(1);
        m.connections_open.increment(1.0);
        ConnectionSlot { _permit: permit }
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        metrics::handles().connections_open.decrement(1.0);
    }
}

/// Accepts connections and hands each to hyper with the routes.
pub struct Listener {
    pub listener: TcpListener,
    /// Taken before accept() so a connect flood waits in the kernel backlog, not in our memory.
    pub connections: Arc<Semaphore>,
    pub routes: Arc<Routes>,
    /// A stalled request head is cut after this.
    pub handshake_timeout: Duration,
    /// Every connection task holds one; it sees `true` on shutdown.
    pub stop: watch::Receiver<bool>,
}

impl Listener {
    /// Accept until the task is dropped (the server's shutdown drops it).
    pub async fn run(&self) {
        loop {
            let permit = self.connections.clone().acquire_owned().await.expect("the semaphore is never closed");
            let (stream, peer) = match self.listener.accept().await {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            limit_unsent_bytes(&stream);
            let slot = Arc::new(ConnectionSlot::new(permit));
            let (routes, stop) = (self.routes.clone(), self.stop.clone());
            tokio::spawn(serve_connection(stream, peer, routes, slot, self.handshake_timeout, stop));
        }
    }
}

fn limit_unsent_bytes(stream: &TcpStream) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Err(e) = socket2::SockRef::from(stream).set_tcp_notsent_lowat(UNSENT_BYTES_LIMIT) {
        tracing::debug!(error = %e, "cannot limit unsent bytes");
    }
}

/// Serve one TCP connection's HTTP requests (and hand over upgrades).
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    routes: Arc<Routes>,
    permit: Arc<ConnectionSlot>,
    handshake_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let service = service_fn(move |req| router::handle(req, routes.clone(), peer, permit.clone()));
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        // A client that stalls its request head is cut, so it cannot hold a connection slot.
        .header_read_timeout(handshake_timeout)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => if let Err(e) = result { tracing::debug!(%peer, error = %e, "http connection error") },
        _ = async { let _ = stop.wait_for(|stopping| *stopping).await; } => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(2), conn).await;
        }
    }
}
