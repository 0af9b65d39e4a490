//! Native TLS (`--tls-cert`/`--tls-key`): HTTPS and WSS on one port, plain HTTP cut,
//! the certificate reloaded from its files, and the plain-HTTP redirect.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arena_protocol::ServerMsg;
use clap::Parser;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::RootCertStore;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::ClientConfig;

use crate::util::http::http_get;
use crate::util::{TestServer, WAIT, eventually, free_loopback_addr};

/// A CA of the test's own, and files for the server's certificate and key.
struct TestPki {
    ca: CertifiedIssuer<'static, KeyPair>,
    dir: PathBuf,
}

impl TestPki {
    fn new() -> TestPki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let dir = std::env::temp_dir().join(format!("arena-tls-{}-{}", std::process::id(), rand::random::<u32>()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        let pki = TestPki { ca, dir };
        pki.issue();
        pki
    }

    /// Write a fresh leaf for 127.0.0.1 and localhost to cert.pem and key.pem; returns its DER.
    fn issue(&self) -> CertificateDer<'static> {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        std::fs::write(self.key(), key.serialize_pem()).unwrap();
        std::fs::write(self.cert(), cert.pem()).unwrap();
        cert.der().clone()
    }

    fn cert(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    fn key(&self) -> PathBuf {
        self.dir.join("key.pem")
    }

    fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    fn client(&self) -> TlsConnector {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.der().clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        TlsConnector::from(Arc::new(config))
    }

    fn config(&self, extra: &[&str]) -> arena_server::Config {
        let results = self.dir.join("results.jsonl");
        let (cert, key) = (self.cert(), self.key());
        let mut args = vec!["arena-server", "--addr", "127.0.0.1:0", "--results-log", results.to_str().unwrap()];
        args.extend(["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()]);
        args.extend(extra);
        arena_server::Config::parse_from(args)
    }
}

impl Drop for TestPki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One HTTPS request (Connection: close): the whole answer and the leaf certificate the server showed.
async fn https_request(
    pki: &TestPki,
    addr: SocketAddr,
    request: &str,
) -> std::io::Result<(String, CertificateDer<'static>)> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = tokio::time::timeout(WAIT, pki.client().connect(name, tcp)).await??;
    let leaf = tls.get_ref().1.peer_certificates().unwrap()[0].clone().into_owned();
    tls.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(WAIT, tls.read_to_end(&mut answer)).await;
    Ok((String::from_utf8_lossy(&answer).into_owned(), leaf))
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
}

#[tokio::test]
async fn health_answers_over_https() {
    let pki = TestPki::new();
    let server = TestServer::start_with(pki.config(&[])).await;
    let (answer, _) = https_request(&pki, server.addr, &get("/health")).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    server.shutdown().await;
}

#[tokio::test]
async fn matchmaking_over_native_tls_hands_out_wss_urls() {
    let pki = TestPki::new();
    let server = TestServer::start_with(pki.config(&[])).await;
    let request = "POST /api/matchmake HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
                   Content-Length: 2\r\nConnection: close\r\n\r\n{}";
    let (answer, _) = https_request(&pki, server.addr, request).await.unwrap();
    assert!(answer.contains("\"ws_url\":\"wss://"), "{answer}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_bot_plays_over_wss_with_the_ca_it_is_given() {
    let pki = TestPki::new();
    let server = TestServer::start_with(pki.config(&[])).await;
    arena_bots::connect::trust_ca(&pki.ca_path()).unwrap();
    let url = format!("wss://localhost:{}/ws", server.addr.port());
    let mut client = arena_bots::ArenaClient::connect(&url).await.unwrap();
    client.recv_until(WAIT, |m| matches!(m, ServerMsg::Snapshot(_)).then_some(())).await.unwrap();
    drop(client);
    server.shutdown().await;
}

#[tokio::test]
async fn plain_http_sent_to_the_tls_port_is_cut_not_left_hanging() {
    let pki = TestPki::new();
    let server = TestServer::start_with(pki.config(&[])).await;
    let answer = tokio::time::timeout(WAIT, http_get(server.addr, "/health")).await.expect("cut, not left hanging");
    assert_ne!(answer.status, 200, "plain HTTP must not be served on the TLS port");
    server.shutdown().await;
}

#[tokio::test]
async fn a_renewed_certificate_is_served_without_a_restart_and_a_bad_one_is_not() {
    let pki = TestPki::new();
    let first = CertificateDer::from(std::fs::read(pki.cert()).map(|pem| pem_der(&pem)).unwrap());
    let server = TestServer::start_with(pki.config(&[])).await;
    let (_, seen) = https_request(&pki, server.addr, &get("/health")).await.unwrap();
    assert_eq!(seen, first);

    let renewed = pki.issue();
    eventually("the renewed certificate to be served", Duration::from_secs(15), async || {
        https_request(&pki, server.addr, &get("/health")).await.is_ok_and(|(_, seen)| seen == renewed)
    })
    .await;

    // A key that does not fit (and then a broken file) keeps the renewed pair.
    std::fs::write(pki.key(), KeyPair::generate().unwrap().serialize_pem()).unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    std::fs::write(pki.cert(), "not a certificate").unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (answer, seen) = https_request(&pki, server.addr, &get("/health")).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(seen, renewed, "a bad pair must not replace the one in use");
    server.shutdown().await;
}

#[tokio::test]
async fn the_redirect_port_sends_plain_http_to_https() {
    let pki = TestPki::new();
    let redirect = free_loopback_addr();
    let server = TestServer::start_with(pki.config(&["--http-redirect-addr", &redirect.to_string()])).await;
    eventually("the redirect listener", WAIT, async || TcpStream::connect(redirect).await.is_ok()).await;
    let response =
        crate::util::http::http_request(redirect, "GET /play?room=a HTTP/1.1\r\nHost: localhost:80\r\n\r\n").await;
    assert_eq!(response.status, 308, "{}", response.headers);
    let expected = format!("https://localhost:{}/play?room=a", server.addr.port());
    assert_eq!(response.header("location"), Some(expected.as_str()));
    server.shutdown().await;
}

/// The DER inside a one-certificate PEM file.
fn pem_der(pem: &[u8]) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem).unwrap().to_vec()
}
