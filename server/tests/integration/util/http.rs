//! A tiny HTTP/1.1 client over raw sockets, so tests see exactly the bytes the server sends.

use std::net::{IpAddr, SocketAddr};

use arena_protocol::lobby::RoomSummary;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{WAIT, connect_from};

/// A response as read off the socket.
#[derive(Debug)]
pub struct HttpResponse {
    /// 0 when nothing parseable arrived (a connection closed without an answer).
    pub status: u16,
    /// The status line and the header lines, as sent.
    pub headers: String,
    pub body: String,
}

impl HttpResponse {
    /// Split raw response bytes into status, head and body.
    fn parse(raw: &[u8]) -> HttpResponse {
        let text = String::from_utf8_lossy(raw);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        HttpResponse { status, headers: head.to_string(), body: body.to_string() }
    }

    /// The value of header `name` (compared case-insensitively), if the response has it.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// A request with a JSON `body` and extra `headers`, asking the server to close after answering.
fn json_request(host: SocketAddr, method: &str, path: &str, body: &str, headers: &[&str]) -> String {
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n{body}",
        body.len()
    )
}

/// `GET path` over a fresh connection; waits up to [`WAIT`] for the whole response.
pub async fn http_get(addr: SocketAddr, path: &str) -> HttpResponse {
    http_request(addr, &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")).await
}

/// Send raw request bytes over a fresh connection; waits up to [`WAIT`] for the whole response.
pub async fn http_request(addr: SocketAddr, request: &str) -> HttpResponse {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw)).await.expect("response in time").unwrap();
    HttpResponse::parse(&raw)
}

/// `method path` with a JSON body and extra headers; waits up to [`WAIT`] for the whole response.
pub async fn http_json(addr: SocketAddr, method: &str, path: &str, body: &str, headers: &[&str]) -> HttpResponse {
    http_request(addr, &json_request(addr, method, path, body, headers)).await
}

/// `method path` with a JSON `body` and extra `headers`, sent from the client address
/// `from` over a fresh connection; waits up to [`WAIT`] for the server to close it. A
/// connection the server closes without answering (refused at accept) reads as
/// status 0 with empty headers and body.
pub async fn http_from(
    from: IpAddr,
    server: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    headers: &[&str],
) -> HttpResponse {
    let request = json_request(server, method, path, body, headers);
    let mut stream = connect_from(from, server).await.expect("connect from a loopback address");
    // A refused connection may be reset under the write or the read: what arrived is the answer.
    let raw = if stream.write_all(request.as_bytes()).await.is_ok() {
        tokio::time::timeout(WAIT, read_until_closed(&mut stream)).await.expect("response in time")
    } else {
        Vec::new()
    };
    HttpResponse::parse(&raw)
}

/// Create a room through the API (expecting a 201) and return its summary.
pub async fn create_room(addr: SocketAddr, body: &str) -> RoomSummary {
    let response = http_json(addr, "POST", "/api/rooms", body, &[]).await;
    assert_eq!(response.status, 201, "{}", response.body);
    serde_json::from_str(&response.body).unwrap()
}

/// Reads everything the server sends until it closes (or resets) the connection; no time limit.
pub async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut read = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = stream.read(&mut buf).await {
        read.extend_from_slice(&buf[..n]);
    }
    read
}

/// Reads one whole response on a keep-alive connection (its head, then `Content-Length`
/// bytes); panics if the server closes first. No time limit.
pub async fn read_one_response(stream: &mut TcpStream) -> HttpResponse {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = HttpResponse::parse(&raw[..end]);
            let length: usize = head.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
            if raw.len() >= end + 4 + length {
                return HttpResponse::parse(&raw[..end + 4 + length]);
            }
        }
        let n = stream.read(&mut buf).await.expect("read a response");
        assert!(n > 0, "closed in the middle of a response: {}", String::from_utf8_lossy(&raw));
        raw.extend_from_slice(&buf[..n]);
    }
}

/// `GET path` from `from` with a small receive buffer, reading 1 KiB every 100 ms (about
/// 10 KiB/s) until the server closes the connection or `give_up` passes: the bytes read
/// (head included) and when it was closed (None: still open when we gave up).
pub async fn read_slowly(
    from: IpAddr,
    server: SocketAddr,
    path: &str,
    give_up: std::time::Duration,
) -> (usize, Option<std::time::Duration>) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4 * 1024).unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    let mut stream = socket.connect(server).await.unwrap();
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: arena\r\n\r\n").as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let mut received = 0;
    let mut chunk = [0u8; 1024];
    while started.elapsed() < give_up {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        match tokio::time::timeout(WAIT, stream.read(&mut chunk)).await.expect("bytes or a close in time") {
            Ok(0) | Err(_) => return (received, Some(started.elapsed())),
            Ok(n) => received += n,
        }
    }
    (received, None)
}
