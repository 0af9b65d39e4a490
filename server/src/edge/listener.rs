//! The accept loop: one port for HTTP and WebSockets (or HTTPS and WSS), the
//! connection limit taken before accept, and each connection served by hyper
//! (upgrades handed to sessions).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use super::activity::{Activity, Sending, idle_past};
use super::router::{self, Routes};
use super::tls::Tls;
use crate::lobby::addresses::AddressSlot;
use crate::ops::metrics;

/// Unsent bytes a connection may have queued in the kernel before writes wait.
/// Without a limit the kernel takes megabytes from a client that reads slowly:
/// seconds of old snapshots pile up there, out of reach of the writer's
/// latest-wins slot. With it, a slow client skips to the newest snapshot.
const UNSENT_BYTES_LIMIT: u32 = 16 * 1024;

/// One open TCP connection (and the WebSocket session it may become): its place
/// under `--max-connections` and in its address's count, counted in
/// `arena_connections_open` until dropped.
#[derive(Debug)]
pub struct ConnectionSlot {
    _permit: OwnedSemaphorePermit,
    /// None for a trusted proxy (its clients are counted per request) and exempt loopback.
    _address: Option<AddressSlot>,
}

impl ConnectionSlot {
    fn new(permit: OwnedSemaphorePermit, address: Option<AddressSlot>) -> ConnectionSlot {
        let m = metrics::handles();
        m.connections_total.increment(1);
        m.connections_open.increment(1.0);
        ConnectionSlot { _permit: permit, _address: address }
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
    /// `--tls-cert`: every connection is TLS, its handshake done in its own task.
    pub tls: Option<Arc<Tls>>,
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
            // Counted at accept, before any request is read; a trusted proxy is not
            // (its clients are counted by their forwarded address).
            // An IPv4 client of a dual-stack listener is counted as the IPv4 address it is.
            let ip = peer.ip().to_canonical();
            let address = if self.routes.config.trusted_proxy(ip) {
                None
            } else {
                match self.routes.addresses.slot(ip, true) {
                    Some(slot) => Some(slot),
                    None => {
                        metrics::connection_refused("per_address");
                        drop(stream);
                        continue;
                    }
                }
            };
            let _ = stream.set_nodelay(true);
            limit_unsent_bytes(&stream);
            let slot = Arc::new(ConnectionSlot::new(permit, address));
            let (routes, stop) = (self.routes.clone(), self.stop.clone());
            let timeout = self.handshake_timeout;
            match &self.tls {
                None => {
                    tokio::spawn(serve_connection(
                        stream,
                        Peer { addr: peer, tls: false },
                        routes,
                        slot,
                        timeout,
                        stop,
                    ));
                }
                Some(tls) => {
                    let acceptor = tls.acceptor.clone();
                    tokio::spawn(async move {
                        // Bounded like a stalled request head: a client that never finishes
                        // its handshake cannot hold the slot. Plain HTTP sent here fails it.
                        match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                            Ok(Ok(stream)) => {
                                serve_connection(stream, Peer { addr: peer, tls: true }, routes, slot, timeout, stop)
                                    .await
                            }
                            Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                        }
                    });
                }
            }
        }
    }
}

fn limit_unsent_bytes(stream: &TcpStream) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Err(e) = socket2::SockRef::from(stream).set_tcp_notsent_lowat(UNSENT_BYTES_LIMIT) {
        tracing::debug!(error = %e, "cannot limit unsent bytes");
    }
}

/// Who is at the other end of a connection, as the router needs it.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    pub addr: SocketAddr,
    /// Arrived over native TLS: links the server hands out say https/wss.
    pub tls: bool,
}

/// Serve one connection's HTTP requests (and hand over upgrades). Generic, so the
/// plain path serves the `TcpStream` itself, as it did before TLS.
async fn serve_connection<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    stream: S,
    peer: Peer,
    routes: Arc<Routes>,
    permit: Arc<ConnectionSlot>,
    handshake_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let idle_timeout = routes.config.http_idle_timeout();
    let activity = Activity::new();
    let service = {
        let activity = activity.clone();
        service_fn(move |req| {
            let (routes, permit, activity) = (routes.clone(), permit.clone(), activity.clone());
            activity.handler_started();
            async move {
                let response = router::handle(req, routes, peer.addr, peer.tls, permit).await;
                activity.handler_done();
                // A body streamed after the head (a replay download) keeps the connection busy while it is read.
                response.map(|r| r.map(|body| Sending::new(body, activity)))
            }
        })
    };
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        // A client that stalls its request head is cut, so it cannot hold a connection slot.
        .header_read_timeout(handshake_timeout)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => if let Err(e) = result { tracing::debug!(peer = %peer.addr, error = %e, "http connection error") },
        _ = idle_past(&activity, idle_timeout) => {
            // An idle keep-alive connection, or a client that stopped reading, holds a slot for nothing: close it.
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(2), conn).await;
        }
        _ = async { let _ = stop.wait_for(|stopping| *stopping).await; } => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(2), conn).await;
        }
    }
}

/// Connections the `--metrics-addr` listener serves at once.
const METRICS_CONNECTIONS: usize = 16;

/// `--metrics-addr`: `/metrics` alone, on an address of its own (a private
/// interface), so the public port need not expose it. Runs until dropped.
pub async fn serve_metrics(listener: TcpListener, directory: Arc<crate::lobby::Directory>) {
    // Scrapers are few: a bounded number of connections, the rest wait in the backlog.
    let connections = Arc::new(Semaphore::new(METRICS_CONNECTIONS));
    loop {
        let permit = connections.clone().acquire_owned().await.expect("the semaphore is never closed");
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let directory = directory.clone();
        let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            let response = if req.uri().path() == "/metrics" {
                router::metrics_page(&directory)
            } else {
                crate::web::error(hyper::StatusCode::NOT_FOUND, "only /metrics is served here")
            };
            async move { Ok::<_, std::convert::Infallible>(response) }
        });
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(10))
            .serve_connection(TokioIo::new(stream), service);
        tokio::spawn(async move {
            let _permit = permit;
            let _ = tokio::time::timeout(Duration::from_secs(60), conn).await;
        });
    }
}

/// Connections the `--http-redirect-addr` listener serves at once.
const REDIRECT_CONNECTIONS: usize = 64;

/// How long a redirect connection may take, head and answer together.
const REDIRECT_CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);

/// `--http-redirect-addr`: plain HTTP that answers every request with a 308 to the
/// same path over https on `https_port` (the TLS listener's). Runs until dropped.
pub async fn serve_redirect(listener: TcpListener, https_port: u16) {
    // Browsers send one request here and leave: a few connections, short timeouts.
    let connections = Arc::new(Semaphore::new(REDIRECT_CONNECTIONS));
    loop {
        let permit = connections.clone().acquire_owned().await.expect("the semaphore is never closed");
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            let response = redirect_to_https(&req, https_port);
            async move { Ok::<_, std::convert::Infallible>(response) }
        });
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(5))
            .keep_alive(false)
            .serve_connection(TokioIo::new(stream), service);
        tokio::spawn(async move {
            let _permit = permit;
            let _ = tokio::time::timeout(REDIRECT_CONNECTION_TIMEOUT, conn).await;
        });
    }
}

/// The 308 for one request: its Host without the port, `https_port` unless 443, and
/// its path and query. A missing or odd Host gets a 400, never a Location built from it.
fn redirect_to_https<B>(req: &hyper::Request<B>, https_port: u16) -> hyper::Response<crate::web::Body> {
    let host = req.headers().get(hyper::header::HOST).and_then(|v| v.to_str().ok()).and_then(host_without_port);
    let Some(host) = host else {
        return crate::web::error(hyper::StatusCode::BAD_REQUEST, "a Host header is needed to redirect to https");
    };
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let port = if https_port == 443 { String::new() } else { format!(":{https_port}") };
    let location = format!("https://{host}{port}{path}");
    let mut response = crate::web::error(hyper::StatusCode::PERMANENT_REDIRECT, "this server speaks https");
    match hyper::header::HeaderValue::from_str(&location) {
        Ok(value) => {
            response.headers_mut().insert(hyper::header::LOCATION, value);
            response
        }
        Err(_) => crate::web::error(hyper::StatusCode::BAD_REQUEST, "cannot redirect this request"),
    }
}

/// `name`, `name:port`, `[v6]` or `[v6]:port` → the name (brackets kept); anything
/// with characters a host cannot have → None.
fn host_without_port(host: &str) -> Option<&str> {
    let name = if host.starts_with('[') { &host[..=host.find(']')?] } else { host.split(':').next().unwrap_or(host) };
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':');
    (!name.is_empty() && name.chars().all(allowed)).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(host: Option<&str>, target: &str, port: u16) -> (u16, Option<String>) {
        let mut req = hyper::Request::builder().uri(target);
        if let Some(host) = host {
            req = req.header("host", host);
        }
        let response = redirect_to_https(&req.body(()).unwrap(), port);
        let location = response.headers().get("location").map(|v| v.to_str().unwrap().to_string());
        (response.status().as_u16(), location)
    }

    #[test]
    fn redirects_keep_the_path_and_take_the_tls_port() {
        let to = |url: &str| (308, Some(url.to_string()));
        assert_eq!(location(Some("arena.example"), "/play?room=a", 443), to("https://arena.example/play?room=a"));
        assert_eq!(location(Some("arena.example:80"), "/", 8443), to("https://arena.example:8443/"));
        assert_eq!(location(Some("[::1]:8080"), "/ws", 9443), to("https://[::1]:9443/ws"));
        assert_eq!(location(None, "/", 443).0, 400);
        assert_eq!(location(Some("evil.example/x"), "/", 443).0, 400);
        assert_eq!(location(Some("a@b"), "/", 443).0, 400);
    }
}
