//! The TLS client side of node-to-node calls: which certificates a node trusts when
//! another node's internal URL is `https://` (`--internal-ca`, else the public roots).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// Why `--internal-ca` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum NodeTlsError {
    #[error("cannot read {path}: {problem}")]
    Read { path: PathBuf, problem: String },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("{path}: {count} certificate(s) could not be used as a trust anchor")]
    Unusable { path: PathBuf, count: usize },
    #[error("TLS setup: {0}")]
    Setup(rustls::Error),
}

/// The client config for `https://` node URLs: rustls on ring, HTTP/1.1, trusting the
/// CA certificates in the PEM file `ca` only (a private CA for the nodes' names), or the
/// public (webpki/Mozilla) roots without one.
pub fn client_config(ca: Option<&Path>) -> Result<Arc<ClientConfig>, NodeTlsError> {
    let roots = match ca {
        Some(path) => roots_from(path)?,
        None => RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() },
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(NodeTlsError::Setup)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Every certificate of a PEM file as a trust anchor; a file with none, or with one
/// that cannot anchor anything, is refused rather than half used.
fn roots_from(path: &Path) -> Result<RootCertStore, NodeTlsError> {
    let read = |problem: &dyn std::fmt::Display| NodeTlsError::Read { path: path.into(), problem: problem.to_string() };
    let found: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(path).map_err(|e| read(&e))?.collect::<Result<_, _>>().map_err(|e| read(&e))?;
    if found.is_empty() {
        return Err(NodeTlsError::NoCertificate { path: path.into() });
    }
    let mut roots = RootCertStore::empty();
    let (_, unusable) = roots.add_parsable_certificates(found);
    if unusable > 0 {
        return Err(NodeTlsError::Unusable { path: path.into(), count: unusable });
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(contents: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("arena-node-ca-{}-{}", std::process::id(), rand::random::<u64>()));
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn a_ca_file_is_read_and_bad_ones_are_named() {
        let ca = rcgen::generate_simple_self_signed(vec!["ca.internal".into()]).unwrap();
        let good = temp_file(&ca.cert.pem());
        client_config(Some(&good)).unwrap();
        let empty = temp_file("no certificate here\n");
        let message = client_config(Some(&empty)).unwrap_err().to_string();
        assert!(message.contains("no PEM certificate") && message.contains(empty.to_str().unwrap()), "{message}");
        let broken = temp_file("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        assert!(client_config(Some(&broken)).is_err());
        let missing = client_config(Some(Path::new("/nonexistent/arena/ca.pem"))).unwrap_err().to_string();
        assert!(missing.contains("cannot read /nonexistent/arena/ca.pem"), "{missing}");
        client_config(None).unwrap();
        for path in [good, empty, broken] {
            let _ = std::fs::remove_file(path);
        }
    }
}
