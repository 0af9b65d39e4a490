//! Passing a lobby call on to the node that should answer it (plain HTTP/1.1
//! between nodes; put TLS in front of the public side, not between nodes).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// `POST {public_url}{path}` with a JSON body; returns the status and body.
pub async fn post(public_url: &str, path: &str, body: Bytes) -> anyhow::Result<(u16, Bytes)> {
    let authority = public_url
        .trim_end_matches('/')
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("nodes talk plain http; public URL {public_url} is not http://"))?;
    let stream = tokio::time::timeout(std::time::Duration::from_secs(2), TcpStream::connect(authority)).await??;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let request = Request::builder()
        .method("POST")
        .uri(path)
        .header("host", authority)
        .header("content-type", "application/json")
        .body(Full::new(body))?;
    let response = tokio::time::timeout(std::time::Duration::from_secs(5), sender.send_request(request)).await??;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}
