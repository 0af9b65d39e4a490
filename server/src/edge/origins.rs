//! Who is connecting: the `Origin` allow-list of the WebSocket upgrade, and the
//! client's address (the TCP peer, or X-Forwarded-For from a --trusted-proxy peer).

use std::net::{IpAddr, SocketAddr};

use hyper::header::{HOST, HeaderMap, ORIGIN};
use hyper::{Request, Response, StatusCode};

use crate::config::Config;
use crate::web::{Body, error};

/// Allow the upgrade (or a lobby API call that changes something) when the page came
/// from this server, from localhost, or from a configured origin. No `Origin` header
/// means a non-browser client (bots), which is allowed: the check exists to stop
/// other sites' pages from using a player's browser (and spending its address's budgets).
pub fn check<B>(req: &Request<B>, config: &Config) -> Result<(), Response<Body>> {
    let Some(origin) = req.headers().get(ORIGIN).and_then(|v| v.to_str().ok()) else { return Ok(()) };
    let host = req.headers().get(HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    if allowed(origin, host, &config.allowed_origins) {
        Ok(())
    } else {
        tracing::debug!(%origin, "refused: foreign origin");
        Err(error(StatusCode::FORBIDDEN, "this origin may not use this server's game connections or lobby API"))
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

/// Where a request came from, and whether a proxy told us so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr {
    /// The address to count, limit and log (IPv4-mapped IPv6 shown as IPv4).
    pub ip: IpAddr,
    /// Came through a trusted proxy (from its X-Forwarded-For, or the proxy's own
    /// address when the header is missing), not counted at accept. Such an address is never
    /// loopback-exempt: behind a proxy on the same host every peer is loopback, and
    /// the header's loopback entry could be anyone's.
    pub forwarded: bool,
}

/// The client behind `peer`. X-Forwarded-For is read only when `peer` is a
/// --trusted-proxy; walking it from the right (the entries our own proxies appended),
/// the client is the first address that is not itself a trusted proxy. Entries left
/// of that were written by the client and may be lies. Every entry trusted: the
/// left-most. An unparseable entry stops the walk at the last good address.
pub fn client_of<B>(req: &Request<B>, peer: SocketAddr, config: &Config) -> ClientAddr {
    let peer_ip = peer.ip().to_canonical();
    let direct = ClientAddr { ip: peer_ip, forwarded: false };
    if !config.trusted_proxy(peer_ip) {
        return direct;
    }
    let mut last_good = None;
    for entry in forwarded_for_right_to_left(req.headers()) {
        let Some(ip) = entry.and_then(parse_forwarded_entry) else { break };
        last_good = Some(ip);
        if !config.trusted_proxy(ip) {
            break;
        }
    }
    // A trusted proxy's request is always counted like a forwarded one: without a
    // usable header, by the proxy's own address, and never loopback-exempt (a proxy
    // on this host would otherwise make its clients exempt).
    ClientAddr { ip: last_good.unwrap_or(peer_ip), forwarded: true }
}

/// Whether the client reached our trusted proxy over https (X-Forwarded-Proto). The
/// right-most value counts: it is the one the nearest proxy, a trusted peer, wrote.
pub fn forwarded_https<B>(req: &Request<B>, peer: SocketAddr, config: &Config) -> bool {
    config.trusted_proxy(peer.ip())
        && req
            .headers()
            .get_all("x-forwarded-proto")
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// X-Forwarded-For entries, right-most first, across repeated headers; `None` for a
/// header that is not text (which ends the walk like any unparseable entry).
fn forwarded_for_right_to_left(headers: &HeaderMap) -> impl Iterator<Item = Option<&str>> {
    headers.get_all("x-forwarded-for").iter().rev().flat_map(|value| {
        let entries: Vec<Option<&str>> = match value.to_str() {
            Ok(text) => text.rsplit(',').map(str::trim).filter(|e| !e.is_empty()).map(Some).collect(),
            Err(_) => vec![None],
        };
        entries
    })
}

/// One X-Forwarded-For entry: an address, or an address with a port as some proxies
/// write it (`203.0.113.7:4711`, `[2001:db8::1]:4711`).
fn parse_forwarded_entry(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|addr| addr.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::{ClientAddr, allowed, client_of, forwarded_https};
    use crate::config::Config;
    use clap::Parser;
    use hyper::Request;
    use std::net::{IpAddr, SocketAddr};

    fn config(trusted: &str) -> Config {
        Config::parse_from(["arena-server", "--trusted-proxy", trusted])
    }

    fn request(headers: &[(&str, &str)]) -> Request<()> {
        let mut builder = Request::builder().uri("/ws");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap()
    }

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 40_000)
    }

    fn forwarded(ip: &str) -> ClientAddr {
        ClientAddr { ip: ip.parse().unwrap(), forwarded: true }
    }

    #[test]
    fn an_untrusted_peers_forwarded_for_is_ignored() {
        let config = config("10.0.0.0/8");
        let req = request(&[("x-forwarded-for", "127.0.0.1"), ("x-forwarded-proto", "https")]);
        let direct = ClientAddr { ip: "198.51.100.9".parse().unwrap(), forwarded: false };
        assert_eq!(client_of(&req, peer("198.51.100.9"), &config), direct);
        assert!(!forwarded_https(&req, peer("198.51.100.9"), &config));
        let none = Config::parse_from(["arena-server"]);
        assert_eq!(client_of(&req, peer("198.51.100.9"), &none), direct);
    }

    #[test]
    fn the_right_most_untrusted_entry_is_the_client() {
        let config = config("127.0.0.1/32");
        let req = request(&[("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(client_of(&req, peer("127.0.0.1"), &config), forwarded("203.0.113.7"));
        let req = request(&[("x-forwarded-for", "203.0.113.7, 127.0.0.1")]);
        assert_eq!(client_of(&req, peer("127.0.0.1"), &config), forwarded("203.0.113.7"));
    }

    #[test]
    fn a_spoofed_left_most_entry_is_ignored() {
        let config = config("127.0.0.1/32");
        // The client sent "X-Forwarded-For: 1.2.3.4"; the proxy appended the real peer.
        let req = request(&[("x-forwarded-for", "1.2.3.4, 203.0.113.7")]);
        assert_eq!(client_of(&req, peer("127.0.0.1"), &config), forwarded("203.0.113.7"));
        // A spoofed loopback entry does not make the client loopback either.
        let req = request(&[("x-forwarded-for", "127.0.0.1, 203.0.113.7")]);
        assert_eq!(client_of(&req, peer("127.0.0.1"), &config), forwarded("203.0.113.7"));
        // Nor does a spoofed header repeated before the proxy's own.
        let req = request(&[("x-forwarded-for", "9.9.9.9"), ("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(client_of(&req, peer("127.0.0.1"), &config), forwarded("203.0.113.7"));
    }

    #[test]
    fn a_chain_of_two_proxies_is_walked() {
        // CDN edge (10.1.0.5) → local nginx (127.0.0.1) → us.
        let config = config("127.0.0.1/32,10.0.0.0/8");
        let req = request(&[("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.1.0.5")]);
        assert_eq!(client_of(&req, peer("127.0.0.1"), &config), forwarded("203.0.113.7"));
        // Every entry a trusted proxy: the left-most is as far back as we can see.
        let req = request(&[("x-forwarded-for", "10.2.0.1, 10.1.0.5")]);
        assert_eq!(client_of(&req, peer("127.0.0.1"), &config), forwarded("10.2.0.1"));
    }

    #[test]
    fn an_unparseable_entry_stops_at_the_last_good_address() {
        let config = config("127.0.0.1/32,10.0.0.0/8");
        let req = request(&[("x-forwarded-for", "203.0.113.7, unknown, 10.1.0.5")]);
        assert_eq!(client_of(&req, peer("127.0.0.1"), &config), forwarded("10.1.0.5"));
        // No usable header: the proxy's own address, still counted as forwarded (never
        // loopback-exempt), so a proxy that omits the header cannot make clients exempt.
        let req = request(&[("x-forwarded-for", "garbage")]);
        assert_eq!(client_of(&req, peer("127.0.0.1"), &config), forwarded("127.0.0.1"));
        assert_eq!(client_of(&request(&[]), peer("127.0.0.1"), &config), forwarded("127.0.0.1"));
    }

    #[test]
    fn ipv6_peers_and_entries_work() {
        let config = config("::1/128,fd00::/8");
        let req = request(&[("x-forwarded-for", "2001:db8::1, fd00::7"), ("x-forwarded-proto", "https")]);
        assert_eq!(client_of(&req, peer("::1"), &config), forwarded("2001:db8::1"));
        assert!(forwarded_https(&req, peer("::1"), &config));
        let req = request(&[("x-forwarded-for", "[2001:db8::2]:4711")]);
        assert_eq!(client_of(&req, peer("::1"), &config), forwarded("2001:db8::2"));
        // An IPv4 proxy reaching a dual-stack listener shows up IPv4-mapped.
        let config = self::config("127.0.0.1/32");
        let req = request(&[("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(client_of(&req, peer("::ffff:127.0.0.1"), &config), forwarded("203.0.113.7"));
        let mapped: IpAddr = "::ffff:198.51.100.9".parse().unwrap();
        assert_eq!(client_of(&req, SocketAddr::new(mapped, 1), &config).ip, "198.51.100.9".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn forwarded_https_needs_a_trusted_peer_and_https() {
        let config = config("127.0.0.1/32");
        assert!(forwarded_https(&request(&[("x-forwarded-proto", "HTTPS")]), peer("127.0.0.1"), &config));
        assert!(!forwarded_https(&request(&[("x-forwarded-proto", "http")]), peer("127.0.0.1"), &config));
        assert!(!forwarded_https(&request(&[("x-forwarded-proto", "https, http")]), peer("127.0.0.1"), &config));
        assert!(!forwarded_https(&request(&[]), peer("127.0.0.1"), &config));
    }

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
