//! Passing a lobby call on to the node that should answer it, at that node's internal
//! URL (`--internal-url`, else its public one): HTTP/1.1, over TLS for an `https://`
//! URL, signed with the cluster's secret for that node, bounded in time and in the
//! size of the answer (or, streamed, handed over with its body still arriving).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::node_auth::{Callee, NODE_AUTH_HEADER, NodeAuth};
use super::public_url::{self, BadPublicUrl, NodeUrl};

/// Largest answer read from another node: a room summary or a seat is well under
/// 2 KiB, so anything near this is a fault, never something to buffer.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Time to open the connection to another node.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Time for the whole exchange, connecting and the TLS handshake included: the caller
/// is a lobby request waiting on us, so a slow node must not hold it longer than this.
/// A streamed answer gets this for its head; its body is the caller's to time.
pub const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a forwarded call got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("the node's URL {url:?} is refused: {problem}")]
    BadUrl { url: String, problem: BadPublicUrl },
    #[error("no connection within {CONNECT_TIMEOUT:?}")]
    ConnectTimeout,
    #[error("connect: {0}")]
    Connect(#[from] std::io::Error),
    #[error("TLS with the node failed (is its CA given with --internal-ca?): {0}")]
    Tls(std::io::Error),
    #[error("no complete answer within {EXCHANGE_TIMEOUT:?}")]
    Timeout,
    #[error("no answer within {EXCHANGE_TIMEOUT:?}")]
    HeadTimeout,
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the connection closed before the answer")]
    Closed,
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("the request cannot be sent: {0}")]
    Request(#[from] hyper::http::Error),
}

/// An answer whose body is still arriving. The connection is driven by a task of its
/// own, stopped when this (or the body taken from it) is dropped.
#[derive(Debug)]
pub struct Streamed {
    pub response: Response<Incoming>,
    pub connection: ConnectionTask,
}

/// The task driving one call's connection: aborted when dropped, so a passed-on body
/// that is abandoned (the client left, a deadline passed) closes its connection too.
#[derive(Debug)]
pub struct ConnectionTask(tokio::task::JoinHandle<()>);

impl Drop for ConnectionTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What a node needs to call the others: the secret that signs its calls and the TLS
/// client for the nodes reached over `https://`.
pub struct NodeClient {
    auth: NodeAuth,
    tls: TlsConnector,
}

impl NodeClient {
    /// `tls` is [`super::node_tls::client_config`]'s answer for `--internal-ca`.
    pub fn new(auth: NodeAuth, tls: Arc<ClientConfig>) -> NodeClient {
        NodeClient { auth, tls: TlsConnector::from(tls) }
    }

    /// Checks the signatures of other nodes' calls.
    pub fn auth(&self) -> &NodeAuth {
        &self.auth
    }

    /// `POST {to.url}{path}` with a JSON body, signed for the receiving node `to`
    /// (`X-Arena-Node-Auth`); returns the status and body. `path` is the request target,
    /// query included (`/api/rooms?local=1`).
    pub async fn post(&self, to: Callee<'_>, path: &str, body: Bytes) -> Result<(u16, Bytes), ForwardError> {
        self.call(Method::POST, to, path, body, MAX_ANSWER_BYTES).await
    }

    /// `GET {to.url}{path}`, signed like [`NodeClient::post`], reading at most
    /// `max_answer` bytes of answer (a replay listing is larger than a seat).
    pub async fn get(&self, to: Callee<'_>, path: &str, max_answer: usize) -> Result<(u16, Bytes), ForwardError> {
        self.call(Method::GET, to, path, Bytes::new(), max_answer).await
    }

    /// `GET {to.url}{path}`, signed like [`NodeClient::post`]: the answer's head within
    /// [`EXCHANGE_TIMEOUT`], its body read by the caller as it arrives.
    pub async fn get_streamed(&self, to: Callee<'_>, path: &str) -> Result<Streamed, ForwardError> {
        let (url, request) = self.request(Method::GET, to, path, Bytes::new())?;
        let (response, connection) = tokio::time::timeout(EXCHANGE_TIMEOUT, self.send(&url, request))
            .await
            .map_err(|_| ForwardError::HeadTimeout)??;
        Ok(Streamed { response, connection })
    }

    /// The signed request for `method path` to `to`, and `to`'s URL taken apart.
    fn request<'u>(
        &self,
        method: Method,
        to: Callee<'u>,
        path: &str,
        body: Bytes,
    ) -> Result<(NodeUrl<'u>, Request<Full<Bytes>>), ForwardError> {
        let url =
            public_url::check(to.url).map_err(|problem| ForwardError::BadUrl { url: to.url.to_string(), problem })?;
        let request = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(hyper::header::HOST, url.authority)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(NODE_AUTH_HEADER, self.auth.header_value(&method, path, to))
            .body(Full::new(body))?;
        Ok((url, request))
    }

    async fn call(
        &self,
        method: Method,
        to: Callee<'_>,
        path: &str,
        body: Bytes,
        max_answer: usize,
    ) -> Result<(u16, Bytes), ForwardError> {
        let (url, request) = self.request(method, to, path, body)?;
        let exchange = async {
            let (response, _connection) = self.send(&url, request).await?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), max_answer).collect().await.map_err(|e| match e
                .downcast::<hyper::Error>()
            {
                Ok(e) => ForwardError::Http(*e),
                Err(e) if e.is::<LengthLimitError>() => ForwardError::TooLarge(max_answer),
                Err(_) => ForwardError::Closed,
            })?;
            Ok((status, body.to_bytes()))
        };
        tokio::time::timeout(EXCHANGE_TIMEOUT, exchange).await.map_err(|_| ForwardError::Timeout)?
    }

    /// Connect (and shake hands for `https://`), send, and hand back the answer's head
    /// with the task driving the connection.
    async fn send(
        &self,
        url: &NodeUrl<'_>,
        request: Request<Full<Bytes>>,
    ) -> Result<(Response<Incoming>, ConnectionTask), ForwardError> {
        let address = match url.port {
            Some(_) => url.authority.to_string(),
            None => format!("{}:{}", url.authority, if url.tls { 443 } else { 80 }),
        };
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&address))
            .await
            .map_err(|_| ForwardError::ConnectTimeout)??;
        if !url.tls {
            return send_over(stream, request).await;
        }
        let name = ServerName::try_from(url.host().to_string()).map_err(|_| ForwardError::BadUrl {
            url: url.authority.to_string(),
            problem: BadPublicUrl::Host(url.host().into()),
        })?;
        let stream = self.tls.connect(name, stream).await.map_err(ForwardError::Tls)?;
        send_over(stream, request).await
    }
}

/// Send over a connected stream; the connection is driven by a task of its own, which
/// ends when the answer is read (or dropped) and is aborted with the returned guard.
async fn send_over<S>(
    stream: S,
    request: Request<Full<Bytes>>,
) -> Result<(Response<Incoming>, ConnectionTask), ForwardError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let connection = ConnectionTask(tokio::spawn(async move {
        // How it ended is told by the answer (even a close right after a complete one).
        let _ = conn.await;
    }));
    let response = sender.send_request(request).await?;
    Ok((response, connection))
}

#[cfg(test)]
mod tests {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    use rustls::ServerConfig;
    use rustls_pki_types::PrivateKeyDer;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio_rustls::TlsAcceptor;

    use super::*;
    use crate::lobby::cluster::node_tls;

    const SECRET: &[u8] = b"a shared cluster secret, 32+ bytes long";

    /// A node called at `url`.
    fn to(url: &str) -> Callee<'_> {
        Callee { node_id: "node-b", url }
    }

    /// A node client trusting the public roots, or the CA in `ca` (a PEM file).
    fn client(ca: Option<&std::path::Path>) -> NodeClient {
        NodeClient::new(NodeAuth::new(SECRET), node_tls::client_config(ca).unwrap())
    }

    /// Read a request head, answer `reply`, hand back the head.
    async fn serve_once<S: AsyncRead + AsyncWrite + Unpin>(mut socket: S, reply: &[u8]) -> String {
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "the caller hung up before its request head");
            head.extend_from_slice(&buf[..n]);
        }
        let _ = socket.write_all(reply).await;
        let _ = socket.flush().await;
        String::from_utf8(head).unwrap()
    }

    /// A one-shot node on port 0 that hands back the request head it got and answers `reply`.
    async fn node_answering(reply: Vec<u8>) -> (String, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let served = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            serve_once(socket, &reply).await
        });
        (url, served)
    }

    /// A one-shot `https://localhost:port` node with a certificate from a CA of the
    /// test's own, whose PEM is written to the returned path. The task ends with the
    /// request head, or None when the handshake failed.
    async fn tls_node_answering(
        reply: &'static [u8],
    ) -> (String, std::path::PathBuf, tokio::task::JoinHandle<Option<String>>) {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".to_string()]).unwrap().signed_by(&key, &ca).unwrap();
        let ca_path =
            std::env::temp_dir().join(format!("arena-forward-ca-{}-{}.pem", std::process::id(), rand::random::<u64>()));
        std::fs::write(&ca_path, ca.pem()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], PrivateKeyDer::try_from(key.serialize_der()).unwrap())
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://localhost:{}", listener.local_addr().unwrap().port());
        let served = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let tls = TlsAcceptor::from(Arc::new(config)).accept(socket).await.ok()?;
            Some(serve_once(tls, reply).await)
        });
        (url, ca_path, served)
    }

    #[tokio::test]
    async fn a_forwarded_call_is_signed_for_its_path() {
        let (url, served) = node_answering(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}".to_vec()).await;
        let answer = client(None).post(to(&url), "/api/rooms?local=1", Bytes::from_static(b"{}")).await.unwrap();
        assert_eq!(answer, (201, Bytes::from_static(b"{}")));
        let head = served.await.unwrap();
        let value = head
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{NODE_AUTH_HEADER}: ")))
            .expect("the call carries the node auth header");
        let mut headers = hyper::HeaderMap::new();
        headers.insert(NODE_AUTH_HEADER, value.parse().unwrap());
        assert!(NodeAuth::new(SECRET).verify(&headers, &Method::POST, "/api/rooms?local=1", to(&url)));
        let elsewhere = Callee { node_id: "node-c", url: &url };
        assert!(!NodeAuth::new(SECRET).verify(&headers, &Method::POST, "/api/rooms?local=1", elsewhere));
    }

    #[tokio::test]
    async fn an_https_node_is_called_over_tls_when_its_ca_is_trusted() {
        let (url, ca, served) = tls_node_answering(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n{\"a\"").await;
        let answer = client(Some(&ca)).post(to(&url), "/api/matchmake?local=1", Bytes::new()).await.unwrap();
        assert_eq!(answer, (200, Bytes::from_static(b"{\"a\"")));
        let head = served.await.unwrap().expect("a TLS handshake");
        assert!(head.starts_with("POST /api/matchmake?local=1 HTTP/1.1\r\n"), "{head}");
        let _ = std::fs::remove_file(ca);
    }

    #[tokio::test]
    async fn an_https_node_with_an_unknown_ca_is_refused() {
        let (url, ca, served) = tls_node_answering(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
        let err = client(None).post(to(&url), "/api/matchmake?local=1", Bytes::new()).await.unwrap_err();
        assert!(matches!(err, ForwardError::Tls(_)), "{err}");
        assert!(err.to_string().contains("--internal-ca"), "{err}");
        assert_eq!(served.await.unwrap(), None, "no request is sent to a node that failed the check");
        let _ = std::fs::remove_file(ca);
    }

    #[tokio::test]
    async fn an_answer_over_the_bound_is_an_error_not_a_buffer() {
        let mut reply = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", MAX_ANSWER_BYTES + 1).into_bytes();
        reply.resize(reply.len() + MAX_ANSWER_BYTES + 1, b' ');
        let (url, _served) = node_answering(reply).await;
        let err = client(None).post(to(&url), "/api/matchmake?local=1", Bytes::new()).await.unwrap_err();
        assert!(matches!(err, ForwardError::TooLarge(MAX_ANSWER_BYTES)), "{err}");
    }

    #[tokio::test]
    async fn node_urls_that_could_smuggle_are_not_called() {
        let client = client(None);
        for url in ["http://user@127.0.0.1:1", "http://127.0.0.1:1/x", "file:///etc", "https://a b"] {
            let err = client.post(to(url), "/api/rooms?local=1", Bytes::new()).await.unwrap_err();
            assert!(matches!(err, ForwardError::BadUrl { .. }), "{url}: {err}");
        }
    }
}
