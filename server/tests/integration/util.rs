//! Helpers shared by the integration tests: a real server on 127.0.0.1:0 and a tiny HTTP client.

use std::net::SocketAddr;
use std::time::Duration;

use arena_server::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

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

/// A response read by [`http_get`].
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

/// `GET path` over a fresh connection, read to the end.
pub async fn http_get(addr: SocketAddr, path: &str) -> HttpResponse {
    http_request(addr, &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")).await
}

/// Send raw request bytes and read the whole response.
pub async fn http_request(addr: SocketAddr, request: &str) -> HttpResponse {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut raw))
        .await
        .expect("response in time")
        .unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    HttpResponse { status, headers: head.to_string(), body: body.to_string() }
}

/// `method path` with a JSON body and extra headers.
pub async fn http_json(addr: SocketAddr, method: &str, path: &str, body: &str, headers: &[&str]) -> HttpResponse {
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    http_request(
        addr,
        &format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n{body}",
            body.len()
        ),
    )
    .await
}

/// Create a room through the API and return its summary.
pub async fn create_room(addr: SocketAddr, body: &str) -> arena_protocol::lobby::RoomSummary {
    let response = http_json(addr, "POST", "/api/rooms", body, &[]).await;
    assert_eq!(response.status, 201, "{}", response.body);
    serde_json::from_str(&response.body).unwrap()
}

/// The first results-log record of `room_id`, waiting up to 5 s for it to be written.
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
    tokio::time::timeout(Duration::from_secs(5), logged).await.expect("the round reached the results log")
}

/// A TCP connection to `server` from the client address `from`. On Linux every
/// 127.x.y.z is loopback, so one machine can play many clients' addresses.
pub async fn connect_from(from: std::net::IpAddr, server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(server).await
}

/// `method path` with a JSON `body` and extra `headers`, sent from the client address
/// `from` over a fresh connection (`Connection: close`) and read to the end. A
/// connection the server closes without answering (refused at accept) reads as
/// status 0 with empty headers and body.
pub async fn http_from(
    from: std::net::IpAddr,
    server: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    headers: &[&str],
) -> HttpResponse {
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {server}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n{body}",
        body.len()
    );
    let mut stream = connect_from(from, server).await.expect("connect from a loopback address");
    let mut raw = Vec::new();
    // A refused connection may be reset under the write or the read: what arrived is the answer.
    if stream.write_all(request.as_bytes()).await.is_ok() {
        let read = async {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stream.read(&mut buf).await {
                raw.extend_from_slice(&buf[..n]);
            }
        };
        tokio::time::timeout(Duration::from_secs(5), read).await.expect("response in time");
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    HttpResponse { status, headers: head.to_string(), body: body.to_string() }
}
