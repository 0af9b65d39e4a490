//! Passing a lobby call on to the node that should answer it: plain HTTP/1.1 between
//! nodes (put TLS in front of the public side, not between nodes), signed with the
//! cluster's secret, bounded in time and in the size of the answer.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::node_auth::{NODE_AUTH_HEADER, NodeAuth};
use super::public_url::{self, BadPublicUrl};

/// Largest answer read from another node: a room summary or a seat is well under
/// 2 KiB, so anything near this is a fault, never something to buffer.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Time to open the connection to another node.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Time for the whole exchange, connecting included: the caller is a lobby request
/// waiting on us, so a slow node must not hold it longer than this.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a forwarded call got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("the node's public URL {url:?} is refused: {problem}")]
    BadUrl { url: String, problem: BadPublicUrl },
    #[error("nodes talk plain http; public URL {0} is not http://")]
    NotHttp(String),
    #[error("no connection within {CONNECT_TIMEOUT:?}")]
    ConnectTimeout,
    #[error("connect: {0}")]
    Connect(#[from] std::io::Error),
    #[error("no complete answer within {EXCHANGE_TIMEOUT:?}")]
    Timeout,
    #[error("the answer is larger than {MAX_ANSWER_BYTES} bytes")]
    TooLarge,
    #[error("the connection closed before the answer")]
    Closed,
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("the request cannot be sent: {0}")]
    Request(#[from] hyper::http::Error),
}

/// `POST {public_url}{path}` with a JSON body, signed for the receiving node
/// (`X-Arena-Node-Auth`); returns the status and body. `path` is the request target,
/// query included (`/api/rooms?local=1`).
pub async fn post(public_url: &str, path: &str, body: Bytes, auth: &NodeAuth) -> Result<(u16, Bytes), ForwardError> {
    let url = public_url::check(public_url)
        .map_err(|problem| ForwardError::BadUrl { url: public_url.to_string(), problem })?;
    if url.tls {
        return Err(ForwardError::NotHttp(public_url.to_string()));
    }
    let address = match url.port {
        Some(_) => url.authority.to_string(),
        None => format!("{}:80", url.authority),
    };
    let request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(hyper::header::HOST, url.authority)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(NODE_AUTH_HEADER, auth.header_value(&Method::POST, path))
        .body(Full::new(body))?;
    tokio::time::timeout(EXCHANGE_TIMEOUT, exchange(&address, request)).await.map_err(|_| ForwardError::Timeout)?
}

/// Connect, send, and read the bounded answer; the connection is driven here, so
/// dropping this future (the deadline) closes it.
async fn exchange(address: &str, request: Request<Full<Bytes>>) -> Result<(u16, Bytes), ForwardError> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
        .await
        .map_err(|_| ForwardError::ConnectTimeout)??;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let answer = async {
        let response = sender.send_request(request).await?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES).collect().await.map_err(|e| match e
            .downcast::<hyper::Error>()
        {
            Ok(e) => ForwardError::Http(*e),
            Err(e) if e.is::<LengthLimitError>() => ForwardError::TooLarge,
            Err(_) => ForwardError::Closed,
        })?;
        Ok((status, body.to_bytes()))
    };
    // The connection is polled alongside the answer; when it ends (even on a close
    // right after a complete answer) the answer is what tells how it went.
    let drive = async {
        let _ = conn.await;
        std::future::pending::<()>().await;
    };
    tokio::select! {
        answer = answer => answer,
        () = drive => unreachable!("pending never resolves"),
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::lobby::cluster::node_auth::verify_node_auth;

    const SECRET: &[u8] = b"a shared cluster secret, 32+ bytes long";

    /// A one-shot node on port 0 that hands back the request head it got and answers `reply`.
    async fn node_answering(reply: Vec<u8>) -> (String, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let served = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buf).await.unwrap();
                head.extend_from_slice(&buf[..n]);
            }
            let _ = socket.write_all(&reply).await;
            String::from_utf8(head).unwrap()
        });
        (url, served)
    }

    #[tokio::test]
    async fn a_forwarded_call_is_signed_for_its_path() {
        let (url, served) = node_answering(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}".to_vec()).await;
        let answer = post(&url, "/api/rooms?local=1", Bytes::from_static(b"{}"), &NodeAuth::new(SECRET)).await.unwrap();
        assert_eq!(answer, (201, Bytes::from_static(b"{}")));
        let head = served.await.unwrap();
        let value = head
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{NODE_AUTH_HEADER}: ")))
            .expect("the call carries the node auth header");
        let mut headers = hyper::HeaderMap::new();
        headers.insert(NODE_AUTH_HEADER, value.parse().unwrap());
        assert!(verify_node_auth(&headers, &Method::POST, "/api/rooms?local=1", SECRET));
    }

    #[tokio::test]
    async fn an_answer_over_the_bound_is_an_error_not_a_buffer() {
        let mut reply = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", MAX_ANSWER_BYTES + 1).into_bytes();
        reply.resize(reply.len() + MAX_ANSWER_BYTES + 1, b' ');
        let (url, _served) = node_answering(reply).await;
        let err = post(&url, "/api/matchmake?local=1", Bytes::new(), &NodeAuth::new(SECRET)).await.unwrap_err();
        assert!(matches!(err, ForwardError::TooLarge), "{err}");
    }

    #[tokio::test]
    async fn only_plain_http_node_urls_are_forwarded_to() {
        let auth = NodeAuth::new(SECRET);
        for url in ["https://10.0.0.2:8080", "http://user@127.0.0.1:1", "http://127.0.0.1:1/x", "file:///etc"] {
            let err = post(url, "/api/rooms?local=1", Bytes::new(), &auth).await.unwrap_err();
            assert!(matches!(err, ForwardError::NotHttp(_) | ForwardError::BadUrl { .. }), "{url}: {err}");
        }
    }
}
