//! Who is connecting: the `Origin` allow-list of the WebSocket upgrade, and the
//! client's address (the TCP peer, or the proxy's X-Forwarded-For with --trust-proxy).

use std::net::{IpAddr, SocketAddr};

use hyper::body::Incoming;
use hyper::header::{HOST, ORIGIN};
use hyper::{Request, Response, StatusCode};

use crate::config::Config;
use crate::web::{Body, error};

/// Allow the upgrade when the page came from this server, from localhost, or from
/// a configured origin. No `Origin` header means a non-browser client (bots), which
/// is allowed: the check exists to stop other sites' pages from using a player's browser.
pub fn check(req: &Request<Incoming>, config: &Config) -> Result<(), Response<Body>> {
    let Some(origin) = req.headers().get(ORIGIN).and_then(|v| v.to_str().ok()) else { return Ok(()) };
    let host = req.headers().get(HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    if allowed(origin, host, &config.allowed_origins) {
        Ok(())
    } else {
        tracing::debug!(%origin, "upgrade refused: foreign origin");
        Err(error(StatusCode::FORBIDDEN, "this origin may not open game connections"))
    }
}

fn allowed(origin: &str, host: &str, extra: &[String]) -> bool {
    let origin = origin.trim_end_matches('/');
    let Some((_, authority)) = origin.split_once("://") else { return false };
    let origin_host = match authority.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => authority,
    };
    authority.eq_ignore_ascii_case(host)
        || matches!(origin_host, "localhost" | "127.0.0.1" | "[::1]")
        || extra.iter().any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin))
}

/// The address to count and log: the first X-Forwarded-For entry behind a trusted proxy.
pub fn client_address(req: &Request<Incoming>, peer: SocketAddr, config: &Config) -> IpAddr {
    if config.trust_proxy
        && let Some(forwarded) = req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok())
        && let Some(Ok(ip)) = forwarded.split(',').next().map(|first| first.trim().parse::<IpAddr>())
    {
        return ip;
    }
    peer.ip()
}

#[cfg(test)]
mod tests {
    use super::allowed;

    #[test]
    fn own_origin_localhost_and_listed_ones_pass() {
        assert!(allowed("http://arena.example:8080", "arena.example:8080", &[]));
        assert!(allowed("https://arena.example", "arena.example", &[]));
        assert!(allowed("http://localhost:5173", "arena.example", &[]));
        assert!(allowed("http://127.0.0.1:9", "arena.example", &[]));
        assert!(allowed("https://play.example", "arena.example", &["https://play.example/".into()]));
        assert!(!allowed("https://evil.example", "arena.example", &[]));
        assert!(!allowed("https://localhost.evil.example", "arena.example", &[]));
        assert!(!allowed("null", "arena.example", &[]));
    }
}
