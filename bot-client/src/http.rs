//! A small HTTP/1.1 JSON client for the lobby API (bots create rooms and matchmake with
//! it), over TLS when the bots' URL is `wss://`, trusting what `wss://` trusts (`--ca`).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::connect::{server_name, split_url_tls, tls_config};

/// Why an API call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiCallError {
    #[error("cannot reach {0}: {1}")]
    Connect(String, std::io::Error),
    #[error("TLS with {0} failed: {1}")]
    Tls(String, std::io::Error),
    #[error("HTTP error: {0}")]
    Http(#[from] hyper::Error),
    #[error("{status}: {body}")]
    Status { status: u16, body: String },
    #[error("unexpected answer: {0}")]
    Json(#[from] serde_json::Error),
}

/// Where a server's lobby API answers: `https` on the same `host:port` as a `wss://`
/// endpoint, plain `http` for `ws://`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiAddress {
    /// `host:port`, dialled and sent as the Host header.
    pub authority: String,
    pub tls: bool,
}

/// The lobby API of the server behind a `ws://host:port/…` or `wss://…` URL.
pub fn api_address_of(ws_url: &str) -> Option<ApiAddress> {
    split_url_tls(ws_url).ok().map(|(authority, _, tls)| ApiAddress { authority, tls })
}

/// Send `method path` with an optional JSON body and headers; returns the status and body.
pub async fn call(
    api: &ApiAddress,
    method: &str,
    path: &str,
    body: Option<&impl Serialize>,
    headers: &[(&str, &str)],
) -> Result<(u16, Bytes), ApiCallError> {
    let authority = api.authority.as_str();
    let stream = TcpStream::connect(authority).await.map_err(|e| ApiCallError::Connect(authority.to_string(), e))?;
    if !api.tls {
        return exchange(stream, authority, method, path, body, headers).await;
    }
    let bad_name = || std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a host name for TLS");
    let name = server_name(authority).ok_or_else(|| ApiCallError::Tls(authority.to_string(), bad_name()))?;
    let stream = TlsConnector::from(tls_config())
        .connect(name, stream)
        .await
        .map_err(|e| ApiCallError::Tls(authority.to_string(), e))?;
    exchange(stream, authority, method, path, body, headers).await
}

/// One request and its whole answer over a connected stream (TCP or TLS).
async fn exchange<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    stream: S,
    authority: &str,
    method: &str,
    path: &str,
    body: Option<&impl Serialize>,
    headers: &[(&str, &str)],
) -> Result<(u16, Bytes), ApiCallError> {
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let payload = body.map(|b| serde_json::to_vec(b).expect("JSON of our own types")).unwrap_or_default();
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", authority)
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(Bytes::from(payload))).expect("valid request");
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// `POST path` with a JSON body; a 2xx answer is decoded, anything else is an error.
pub async fn post_json<T: DeserializeOwned>(
    api: &ApiAddress,
    path: &str,
    body: &impl Serialize,
) -> Result<T, ApiCallError> {
    let (status, bytes) = call(api, "POST", path, Some(body), &[]).await?;
    if !(200..300).contains(&status) {
        return Err(ApiCallError::Status { status, body: String::from_utf8_lossy(&bytes).into_owned() });
    }
    Ok(serde_json::from_slice(&bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_speaks_tls_where_the_websocket_does() {
        let plain = ApiAddress { authority: "127.0.0.1:8080".into(), tls: false };
        assert_eq!(api_address_of("ws://127.0.0.1:8080/ws?room=a"), Some(plain));
        let tls = ApiAddress { authority: "arena.example:443".into(), tls: true };
        assert_eq!(api_address_of("wss://arena.example/ws"), Some(tls));
        assert_eq!(api_address_of("https://arena.example/ws"), None);
    }
}
