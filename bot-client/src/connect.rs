//! WebSocket client handshake (`ws://` or `wss://`) that checks what the library
//! does not: the server's `Sec-WebSocket-Accept` must answer our key (RFC 6455 §4.1).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use fastwebsockets::{Role, WebSocket};
use http_body_util::Empty;
use hyper::upgrade::Upgraded;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use sha1::{Digest, Sha1};
use std::path::Path;
use std::sync::{Arc, RwLock};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::ClientConfig;

/// A connected, handshaken WebSocket.
pub type Socket = WebSocket<TokioIo<Upgraded>>;

/// Why a connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("bad URL {0}: expected ws://host:port/path or wss://…")]
    BadUrl(String),
    #[error("TCP connect failed: {0}")]
    Tcp(#[from] std::io::Error),
    #[error("TLS handshake failed: {0}")]
    Tls(std::io::Error),
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
    split_url_tls(url).map(|(authority, target, _)| (authority, target))
}

/// [`split_url`], also saying whether the URL is `wss://` (default port 443).
pub fn split_url_tls(url: &str) -> Result<(String, String, bool), ConnectError> {
    let bad = || ConnectError::BadUrl(url.to_string());
    let (rest, tls) = match (url.strip_prefix("ws://"), url.strip_prefix("wss://")) {
        (Some(rest), _) => (rest, false),
        (_, Some(rest)) => (rest, true),
        _ => return Err(bad()),
    };
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
        format!("{authority}:{}", if tls { 443 } else { 80 })
    };
    Ok((authority, target.to_string(), tls))
}

/// The roots `wss://` trusts: webpki-roots' (Mozilla's) until [`trust_ca`] names
/// others. Process-wide, like a system trust store, because bots dial deep inside
/// their loops; the client config is built once per change, not per connection.
static TRUST: RwLock<Option<Arc<ClientConfig>>> = RwLock::new(None);

/// Certificates [`trust_ca`] added, kept so each call adds to them.
static ADDED_ROOTS: RwLock<Vec<CertificateDer<'static>>> = RwLock::new(Vec::new());

/// `--ca PATH`: trust the CA (or self-signed) certificates in this PEM file for
/// `wss://`, instead of the public roots. Calls add up (tests trust one CA each).
pub fn trust_ca(path: &Path) -> Result<(), ConnectError> {
    let bad = |e: &dyn std::fmt::Display| ConnectError::Tls(std::io::Error::other(format!("{}: {e}", path.display())));
    let found: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(path).map_err(|e| bad(&e))?.collect::<Result<_, _>>().map_err(|e| bad(&e))?;
    if found.is_empty() {
        return Err(bad(&"no PEM certificate"));
    }
    let mut added = ADDED_ROOTS.write().unwrap_or_else(|p| p.into_inner());
    added.extend(found);
    let mut roots = RootCertStore::empty();
    let (_, ignored) = roots.add_parsable_certificates(added.iter().cloned());
    if ignored > 0 {
        return Err(bad(&"a certificate could not be parsed"));
    }
    *TRUST.write().unwrap_or_else(|p| p.into_inner()) = Some(client_config(roots));
    Ok(())
}

fn client_config(roots: RootCertStore) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// The client config `wss://` (and the lobby API over https) uses now.
pub(crate) fn tls_config() -> Arc<ClientConfig> {
    if let Some(config) = TRUST.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
        return config.clone();
    }
    let mut slot = TRUST.write().unwrap_or_else(|p| p.into_inner());
    slot.get_or_insert_with(|| client_config(RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() })).clone()
}

/// `host` of `host:port` (brackets of an IPv6 address removed), for SNI and checks.
pub(crate) fn server_name(authority: &str) -> Option<ServerName<'static>> {
    let host = authority.rsplit_once(':').map_or(authority, |(host, _)| host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string()).ok()
}

/// Dial `url`, upgrade, and verify the handshake.
pub async fn connect(url: &str) -> Result<Socket, ConnectError> {
    connect_with_headers(url, &[]).await
}

/// [`connect`] with extra request headers (an `Origin`, say).
pub async fn connect_with_headers(url: &str, headers: &[(&str, &str)]) -> Result<Socket, ConnectError> {
    let (authority, target, tls) = split_url_tls(url)?;
    let stream = TcpStream::connect(&authority).await?;
    stream.set_nodelay(true)?;
    if !tls {
        return handshake(stream, url, &authority, target, headers).await;
    }
    let name = server_name(&authority).ok_or_else(|| ConnectError::BadUrl(url.to_string()))?;
    let stream = TlsConnector::from(tls_config()).connect(name, stream).await.map_err(ConnectError::Tls)?;
    handshake(stream, url, &authority, target, headers).await
}

/// The HTTP upgrade over a connected stream (TCP or TLS) and its checks.
async fn handshake<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    stream: S,
    url: &str,
    authority: &str,
    target: String,
    headers: &[(&str, &str)],
) -> Result<Socket, ConnectError> {
    let key = fastwebsockets::handshake::generate_key();
    let mut request = Request::builder();
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .method("GET")
        .uri(target)
        .header("Host", authority)
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
        assert_eq!(split_url_tls("wss://arena.example/ws").unwrap(), ("arena.example:443".into(), "/ws".into(), true));
        assert!(server_name("[::1]:9000").is_some());
    }
}
