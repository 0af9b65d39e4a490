//! A certificate authority of the test's own (rcgen), the server's certificate files
//! it issues, and an HTTPS client that trusts it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::RootCertStore;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::ClientConfig;

use super::WAIT;

/// A CA of the test's own, and files for the server's certificate and key.
pub struct TestPki {
    ca: CertifiedIssuer<'static, KeyPair>,
    dir: PathBuf,
}

impl TestPki {
    pub fn new() -> TestPki {
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
    pub fn issue(&self) -> CertificateDer<'static> {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        std::fs::write(self.key(), key.serialize_pem()).unwrap();
        std::fs::write(self.cert(), cert.pem()).unwrap();
        cert.der().clone()
    }

    pub fn cert(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    pub fn key(&self) -> PathBuf {
        self.dir.join("key.pem")
    }

    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    pub fn client(&self) -> TlsConnector {
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

    /// A server config with this pair, writing everything under this PKI's folder (as
    /// `Config::for_tests` does under the temp folder).
    pub fn config(&self, extra: &[&str]) -> arena_server::Config {
        let results = self.dir.join("results.jsonl");
        let database = format!("sqlite://{}", self.dir.join("arena.db").display());
        let (cert, key) = (self.cert(), self.key());
        let mut args = vec!["arena-server", "--addr", "127.0.0.1:0", "--results-log", results.to_str().unwrap()];
        let replays = self.dir.join("replays");
        args.extend(["--database-url", &database, "--replay-dir", replays.to_str().unwrap()]);
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
pub async fn https_request(
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
