//! Which node base URLs we trust enough to forward to or hand to clients, and the
//! WebSocket URL of a node.

/// Longest base URL we accept (a host name is at most 253 bytes; with scheme and port, less than this).
const MAX_URL_LEN: usize = 300;

/// Why a node's base URL is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BadPublicUrl {
    #[error("longer than {MAX_URL_LEN} bytes")]
    TooLong,
    #[error("not an http:// or https:// URL")]
    Scheme,
    #[error("no host")]
    NoHost,
    #[error("user info (user@) is not allowed")]
    UserInfo,
    #[error("a path, query or fragment beyond `/` is not allowed")]
    Path,
    #[error("the host {0:?} has characters a host name cannot have")]
    Host(String),
    #[error("the port {0:?} is not a number from 1 to 65535")]
    Port(String),
}

/// A node's base URL, taken apart: `https`, `host:port` (port as written, if any).
#[derive(Debug, PartialEq, Eq)]
pub struct NodeUrl<'a> {
    pub tls: bool,
    /// `host` or `host:port`, `[v6]` or `[v6]:port`; safe to put in a Host header.
    pub authority: &'a str,
    /// The port as written; None means the scheme's default.
    pub port: Option<u16>,
}

impl<'a> NodeUrl<'a> {
    /// The host alone, without port or IPv6 brackets: the name TLS checks the certificate for.
    pub fn host(&self) -> &'a str {
        let host = split_host_port(self.authority).map_or(self.authority, |(host, _)| host);
        host.trim_start_matches('[').trim_end_matches(']')
    }
}

/// Check that `url` is `http(s)://host[:port]` with at most a trailing `/`: no user
/// info (it would end up in clients' `ws_url`s and Host headers), no path (forwarded
/// calls append theirs to the authority) and a host of host-name or IP characters
/// only, so what another node wrote in Redis cannot smuggle anything into a request.
pub fn check(url: &str) -> Result<NodeUrl<'_>, BadPublicUrl> {
    if url.len() > MAX_URL_LEN {
        return Err(BadPublicUrl::TooLong);
    }
    let (tls, rest) = if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else {
        return Err(BadPublicUrl::Scheme);
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains('@') {
        return Err(BadPublicUrl::UserInfo);
    }
    if authority.contains(['/', '?', '#', '\\']) {
        return Err(BadPublicUrl::Path);
    }
    let (host, port) = split_host_port(authority)?;
    if host.is_empty() || host == "[]" {
        return Err(BadPublicUrl::NoHost);
    }
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_'),
    };
    if !host_ok {
        return Err(BadPublicUrl::Host(host.to_string()));
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
            _ => return Err(BadPublicUrl::Port(p.to_string())),
        },
    };
    Ok(NodeUrl { tls, authority, port })
}

/// `host[:port]` or `[v6][:port]` into host and the port text.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), BadPublicUrl> {
    if authority.starts_with('[') {
        let end = authority.find(']').ok_or_else(|| BadPublicUrl::Host(authority.to_string()))?;
        let (host, after) = authority.split_at(end + 1);
        return match after {
            "" => Ok((host, None)),
            _ => after.strip_prefix(':').map(|p| (host, Some(p))).ok_or_else(|| BadPublicUrl::Host(authority.into())),
        };
    }
    Ok(match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    })
}

/// `ws://host:port/ws` for a node's `http://host:port` (`wss://` for `https://`).
pub fn ws_url_of(public_url: &str) -> String {
    let base = public_url.trim_end_matches('/');
    let base = base.strip_prefix("https://").map(|rest| format!("wss://{rest}")).unwrap_or_else(|| {
        base.strip_prefix("http://").map_or_else(|| base.to_string(), |rest| format!("ws://{rest}"))
    });
    format!("{base}/ws")
}

#[cfg(test)]
mod tests {
    use super::{BadPublicUrl, NodeUrl, check, ws_url_of};

    #[test]
    fn ws_urls_follow_the_public_scheme() {
        assert_eq!(ws_url_of("http://10.0.0.2:8080"), "ws://10.0.0.2:8080/ws");
        assert_eq!(ws_url_of("https://arena.example/"), "wss://arena.example/ws");
    }

    #[test]
    fn node_urls_with_a_host_and_nothing_else_are_accepted() {
        assert_eq!(
            check("http://10.0.0.2:8080"),
            Ok(NodeUrl { tls: false, authority: "10.0.0.2:8080", port: Some(8080) })
        );
        assert_eq!(check("https://arena.example/"), Ok(NodeUrl { tls: true, authority: "arena.example", port: None }));
        assert_eq!(check("http://[::1]:9000/").map(|u| u.port), Ok(Some(9000)));
        assert_eq!(check("http://node-a.internal_zone:1").map(|u| u.authority), Ok("node-a.internal_zone:1"));
        assert_eq!(check("https://[::1]:9000").map(|u| u.host()), Ok("::1"));
        assert_eq!(check("https://arena.example").map(|u| u.host()), Ok("arena.example"));
        assert_eq!(check("https://10.0.0.2:8443/").map(|u| u.host()), Ok("10.0.0.2"));
    }

    #[test]
    fn node_urls_that_could_redirect_or_smuggle_are_refused() {
        assert_eq!(check("ftp://10.0.0.2"), Err(BadPublicUrl::Scheme));
        assert_eq!(check("javascript:alert(1)"), Err(BadPublicUrl::Scheme));
        assert_eq!(check("HTTP://10.0.0.2"), Err(BadPublicUrl::Scheme));
        assert_eq!(check("//10.0.0.2"), Err(BadPublicUrl::Scheme));
        assert_eq!(check("http://"), Err(BadPublicUrl::NoHost));
        assert_eq!(check("http://:8080"), Err(BadPublicUrl::NoHost));
        assert_eq!(check("http://user:pw@10.0.0.2"), Err(BadPublicUrl::UserInfo));
        assert_eq!(check("http://10.0.0.2@evil.example"), Err(BadPublicUrl::UserInfo));
        assert_eq!(check("http://10.0.0.2/arena"), Err(BadPublicUrl::Path));
        assert_eq!(check("http://10.0.0.2//"), Err(BadPublicUrl::Path));
        assert_eq!(check("http://10.0.0.2?x=1"), Err(BadPublicUrl::Path));
        assert_eq!(check("http://10.0.0.2#x"), Err(BadPublicUrl::Path));
        assert!(matches!(check("http://a b"), Err(BadPublicUrl::Host(_))));
        assert!(matches!(check("http://a\r\nX-Evil: 1"), Err(BadPublicUrl::Host(_))));
        assert!(matches!(check("http://[zz]:80"), Err(BadPublicUrl::Host(_))));
        assert!(matches!(check("http://10.0.0.2:0"), Err(BadPublicUrl::Port(_))));
        assert!(matches!(check("http://10.0.0.2:99999"), Err(BadPublicUrl::Port(_))));
        assert!(matches!(check("http://10.0.0.2:+80"), Err(BadPublicUrl::Port(_))));
        assert!(matches!(check("http://10.0.0.2:80:80"), Err(BadPublicUrl::Port(_))));
        assert_eq!(check(&format!("http://{}", "a".repeat(400))), Err(BadPublicUrl::TooLong));
    }
}
