//! Native TLS: the certificate slot rustls reads at each handshake, and its reload
//! (on SIGHUP and when the files change) without dropping a connection.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// How often the certificate and key files are read for changes. A renewal is
/// picked up within this; SIGHUP picks it up at once.
const RELOAD_POLL: Duration = Duration::from_secs(2);

/// Why a certificate and key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("{path} holds no PEM private key: {problem}")]
    BadKey { path: PathBuf, problem: String },
    #[error("the key does not fit the certificate, or its kind is not supported: {0}")]
    Mismatch(rustls::Error),
    #[error("TLS setup: {0}")]
    Setup(rustls::Error),
}

/// The certificate every new handshake gets. Swapped whole on reload, so a
/// handshake sees the old pair or the new one, never half of each.
pub struct CertSlot {
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertSlot {
    fn get(&self) -> Arc<CertifiedKey> {
        self.current.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    fn set(&self, key: Arc<CertifiedKey>) {
        *self.current.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = key;
    }
}

impl fmt::Debug for CertSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertSlot").field("chain_len", &self.get().cert.len()).finish()
    }
}

impl ResolvesServerCert for CertSlot {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

/// The server's TLS: the acceptor the listener uses, and what reloading needs.
pub struct Tls {
    pub acceptor: TlsAcceptor,
    slot: Arc<CertSlot>,
    cert_path: PathBuf,
    key_path: PathBuf,
}

impl Tls {
    /// Load the pair (a bad one fails the start) and build the acceptor; HTTP/1.1 only
    /// (ALPN), as the listener serves.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Tls, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (cert, key) = (read(cert_path)?, read(key_path)?);
        let certified = certified_key(&cert, cert_path, &key, key_path, &provider)?;
        let slot = Arc::new(CertSlot { current: RwLock::new(Arc::new(certified)) });
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Setup)?
            .with_no_client_auth()
            .with_cert_resolver(slot.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            slot,
            cert_path: cert_path.to_path_buf(),
            key_path: key_path.to_path_buf(),
        })
    }

    /// Reload on SIGHUP and whenever the files' contents change; a bad new pair
    /// keeps the old one and is logged once (until the files change again). Runs until dropped.
    pub async fn reload_forever(self: Arc<Tls>) {
        let provider = rustls::crypto::ring::default_provider();
        // What the slot was last loaded from, or last failed to load from.
        let mut seen = (read(&self.cert_path).ok(), read(&self.key_path).ok());
        let mut hangup = hangups();
        let mut poll = tokio::time::interval(RELOAD_POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let asked = tokio::select! {
                _ = poll.tick() => false,
                _ = next_hangup(&mut hangup) => true,
            };
            let (cert, key) = (read(&self.cert_path), read(&self.key_path));
            let now = (cert.as_ref().ok().cloned(), key.as_ref().ok().cloned());
            if !asked && now == seen {
                continue;
            }
            let outcome = match (cert, key) {
                (Ok(cert), Ok(key)) => certified_key(&cert, &self.cert_path, &key, &self.key_path, &provider),
                (Err(e), _) | (_, Err(e)) => Err(e),
            };
            match outcome {
                Ok(certified) => {
                    self.slot.set(Arc::new(certified));
                    tracing::info!(cert = %self.cert_path.display(), "TLS certificate reloaded");
                }
                Err(e) => tracing::error!(error = %e, "TLS certificate not reloaded: keeping the one in use"),
            }
            seen = now;
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read { path: path.to_path_buf(), source })
}

/// Parse a PEM chain and key and check that they belong together.
fn certified_key(
    cert: &[u8],
    cert_path: &Path,
    key: &[u8],
    key_path: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert).filter_map(Result::ok).collect();
    if chain.is_empty() {
        return Err(TlsError::NoCertificate { path: cert_path.to_path_buf() });
    }
    let key = PrivateKeyDer::from_pem_slice(key)
        .map_err(|e| TlsError::BadKey { path: key_path.to_path_buf(), problem: e.to_string() })?;
    CertifiedKey::from_der(chain, key, provider).map_err(TlsError::Mismatch)
}

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = ();

#[cfg(unix)]
fn hangups() -> Hangups {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(signal) => Some(signal),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP: certificates reload on file changes only");
            None
        }
    }
}

#[cfg(not(unix))]
fn hangups() -> Hangups {}

#[cfg(unix)]
async fn next_hangup(hangups: &mut Hangups) {
    if let Some(signal) = hangups
        && signal.recv().await.is_some()
    {
        return;
    }
    std::future::pending().await
}

#[cfg(not(unix))]
async fn next_hangup(_: &mut Hangups) {
    std::future::pending().await
}
