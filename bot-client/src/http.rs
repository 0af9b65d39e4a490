//! A small HTTP/1.1 JSON client for the lobby API (bots create rooms and matchmake with it).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::TcpStream;

/// Why an API call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiCallError {
    #[error("cannot reach {0}: {1}")]
    Connect(String, std::io::Error),
    #[error("HTTP error: {0}")]
    Http(#[from] hyper::Error),
    #[error("{status}: {body}")]
    Status { status: u16, body: String },
    #[error("unexpected answer: {0}")]
    Json(#[from] serde_json::Error),
}

/// `host:port` of the server behind a `ws://host:port/…` URL.
pub fn authority_of(ws_url: &str) -> Option<String> {
    crate::connect::split_url(ws_url).ok().map(|(authority, _)| authority)
}

/// Send `method path` with an optional JSON body and headers; returns the status and body.
pub async fn call(
    authority: &str,
    method: &str,
    path: &str,
    body: Option<&impl Serialize>,
    headers: &[(&str, &str)],
) -> Result<(u16, Bytes), ApiCallError> {
    let stream = TcpStream::connect(authority).await.map_err(|e| ApiCallError::Connect(authority.to_string(), e))?;
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
    authority: &str,
    path: &str,
    body: &impl Serialize,
) -> Result<T, ApiCallError> {
    let (status, bytes) = call(authority, "POST", path, Some(body), &[]).await?;
    if !(200..300).contains(&status) {
        return Err(ApiCallError::Status { status, body: String::from_utf8_lossy(&bytes).into_owned() });
    }
    Ok(serde_json::from_slice(&bytes)?)
}
