//! Helpers shared by the integration tests: a real server on 127.0.0.1:0, and waiting for what it does.
//!
//! The helpers that speak a protocol live beside this file: [`http`] (a tiny HTTP
//! client over raw sockets), [`ws`] (joining with the bots' client) and [`process`]
//! (the real binary as a child process).

pub mod http;
pub mod pki;
pub mod postgres;
pub mod process;
pub mod ws;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use arena_server::Config;
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// How long a test waits for one thing the server should do promptly (a welcome, a
/// snapshot, a close, a response): generous, so a busy two-core machine is not a failure.
pub const WAIT: Duration = Duration::from_secs(5);

/// A server running on a free loopback port until shut down or dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(Config::for_tests()).await
    }

    pub async fn start_with(config: Config) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(arena_server::run(listener, config, async {
            let _ = stopped.await;
        }));
        TestServer { addr, stop: Some(stop), task: Some(task) }
    }

    pub fn ws_url(&self, query: &str) -> String {
        format!("ws://{}/ws{}{}", self.addr, if query.is_empty() { "" } else { "?" }, query)
    }

    /// Stop the server and wait for its drain to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(15), task)
                .await
                .expect("server drained in time")
                .unwrap()
                .unwrap();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Waits until `check` holds, polling every 100 ms; panics naming `what` once `limit`
/// has passed. Returns how long that took.
pub async fn eventually(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed()
}

/// A loopback address nobody listens on now, for a server (or redis-server) to bind.
pub fn free_loopback_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// A TCP connection to `server` from the client address `from`. On Linux every
/// 127.x.y.z is loopback, so one machine can play many clients' addresses.
pub async fn connect_from(from: IpAddr, server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(server).await
}

/// Waits up to [`WAIT`] for the results log to hold a record of `room_id`, and returns the first.
pub async fn logged_round(results_log: &std::path::Path, room_id: &str) -> serde_json::Value {
    let logged = async {
        loop {
            let text = std::fs::read_to_string(results_log).unwrap_or_default();
            if let Some(line) = text.lines().find(|l| l.contains(room_id)) {
                return serde_json::from_str::<serde_json::Value>(line).unwrap();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(WAIT, logged).await.expect("the round reached the results log")
}
