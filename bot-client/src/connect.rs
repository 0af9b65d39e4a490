//! WebSocket client handshake that checks what the library does not: the
//! server's `Sec-WebSocket-Accept` must answer our key (RFC 6455 §4.1).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use fastwebsockets::{Role, WebSocket};
use http_body_util::Empty;
use hyper::upgrade::Upgraded;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use sha1::{Digest, Sha1};
use tokio::net::TcpStream;

/// A connected, handshaken WebSocket.
pub type Socket = WebSocket<TokioIo<Upgraded>>;

/// Why a connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("bad URL {0}: expected ws://host:port/path")]
    BadUrl(String),
    #[error("TCP connect failed: {0}")]
    Tcp(#[from] std::io::Error),
    #[error("HTTP error: {0}")]
    Http(#[from] hyper::Error),
    #[error("server answered {0} instead of 101 Switching Protocols")]
    Status(StatusCode),
    #[error("Sec-WebSocket-Accept is missing or does not match our key")]
    BadAccept,
    #[error("the response lacks Upgrade: websocket")]
    NotWebSocket,
}

/// The `Sec-WebSocket-Accept` value a server must send for `key`.
pub fn expected_accept(key: &str) -> String {
    let mut sha1 = Sha1::new();
    sha1.update(key.as_bytes());
    sha1.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    STANDARD.encode(sha1.finalize())
}

/// Split `ws://host:port/path?query` into the address to dial and the request target.
pub fn split_url(url: &str) -> Result<(String, String), ConnectError> {
    let bad = || ConnectError::BadUrl(url.to_string());
    let rest = url.strip_prefix("ws://").ok_or_else(bad)?;
    let (authority, target) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(bad());
    }
    let authority = if authority.rsplit_once(':').is_some_and(|(_, port)| port.parse::<u16>().is_ok())
        && !authority.ends_with(']')
    {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    Ok((authority, target.to_string()))
}

/// Dial `url`, upgrade, and verify the handshake.
pub async fn connect(url: &str) -> Result<Socket, ConnectError> {
    connect_with_headers(url, &[]).await
}

/// [`connect`] with extra request headers (an `Origin`, say).
pub async fn connect_with_headers(url: &str, headers: &[(&str, &str)]) -> Result<Socket, ConnectError> {
    let (authority, target) = split_url(url)?;
    let stream = TcpStream::connect(&authority).await?;
    stream.set_nodelay(true)?;
    let key = fastwebsockets::handshake::generate_key();
    let mut request = Request::builder();
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .method("GET")
        .uri(target)
        .header("Host", authority.as_str())
        .header("Upgrade", "websocket")
        .header("Connection", "upgrade")
        .header("Sec-WebSocket-Key", key.as_str())
        .header("Sec-WebSocket-Version", "13")
        .body(Empty::<Bytes>::new())
        .map_err(|_| ConnectError::BadUrl(url.to_string()))?;

    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    let mut response = sender.send_request(request).await?;
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        return Err(ConnectError::Status(response.status()));
    }
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    if !header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
        return Err(ConnectError::NotWebSocket);
    }
    if header("sec-websocket-accept").as_deref() != Some(expected_accept(&key).as_str()) {
        return Err(ConnectError::BadAccept);
    }
    let upgraded = hyper::upgrade::on(&mut response).await?;
    Ok(WebSocket::after_handshake(TokioIo::new(upgraded), Role::Client))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_matches_the_rfc_example() {
        // RFC 6455 §1.3.
        assert_eq!(expected_accept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn urls_split_into_address_and_target() {
        assert_eq!(split_url("ws://127.0.0.1:8080/ws?room=a").unwrap(), ("127.0.0.1:8080".into(), "/ws?room=a".into()));
        assert_eq!(split_url("ws://localhost").unwrap(), ("localhost:80".into(), "/".into()));
        assert_eq!(split_url("ws://[::1]:9000/ws").unwrap(), ("[::1]:9000".into(), "/ws".into()));
        assert!(split_url("http://x/ws").is_err());
    }
}
