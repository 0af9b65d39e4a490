//! Proof that a lobby call comes from another node of this cluster: an HMAC-SHA256,
//! keyed with the shared `--jwt-secret`, over a timestamp, the method and the path.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use hyper::Method;
use hyper::header::{HeaderMap, HeaderValue};
use sha2::Sha256;

/// The header a node's forwarded call carries: `<unix seconds>:<64 hex digits>`.
pub const NODE_AUTH_HEADER: &str = "x-arena-node-auth";

/// How far a call's timestamp may be from our clock, either way. Nodes' clocks are
/// assumed to be NTP-synchronised; a captured header is replayable only this long.
pub const NODE_AUTH_SKEW_S: u64 = 30;

/// Put before what is signed, so this MAC can never be mistaken for another use of
/// the same secret (session tokens sign `header.payload` with it).
const DOMAIN: &str = "arena-node-auth-v1";

type HmacSha256 = Hmac<Sha256>;

/// The cluster's shared secret, for signing calls to other nodes and checking theirs.
#[derive(Clone)]
pub struct NodeAuth {
    secret: Vec<u8>,
}

impl std::fmt::Debug for NodeAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeAuth(<secret>)")
    }
}

impl NodeAuth {
    pub fn new(secret: &[u8]) -> NodeAuth {
        NodeAuth { secret: secret.to_vec() }
    }

    /// The `X-Arena-Node-Auth` value for `method path` (path with its query, as sent), now.
    pub fn header_value(&self, method: &Method, path: &str) -> HeaderValue {
        self.header_value_at(method, path, unix_now())
    }

    fn header_value_at(&self, method: &Method, path: &str, unix_s: u64) -> HeaderValue {
        let tag = mac(&self.secret, unix_s, method, path).finalize().into_bytes();
        HeaderValue::from_str(&format!("{unix_s}:{}", hex(&tag))).expect("digits, a colon and hex are a header value")
    }

    /// Whether `headers` prove that another node of this cluster sent `method path`.
    pub fn verify(&self, headers: &HeaderMap, method: &Method, path: &str) -> bool {
        verify_at(headers, method, path, &self.secret, unix_now())
    }
}

/// Whether the request's `X-Arena-Node-Auth` header was made, within the last
/// [`NODE_AUTH_SKEW_S`] seconds (either way), by a node holding `secret`, for this
/// `method` and `path`. `path` is the request target as received, query included
/// (`req.uri().path_and_query()`), since the query (`?local=1&room=…`) is what the
/// proof is for.
pub fn verify_node_auth(headers: &HeaderMap, method: &Method, path: &str, secret: &[u8]) -> bool {
    verify_at(headers, method, path, secret, unix_now())
}

fn verify_at(headers: &HeaderMap, method: &Method, path: &str, secret: &[u8], now_s: u64) -> bool {
    let Some((unix_s, tag)) = headers.get(NODE_AUTH_HEADER).and_then(|v| v.to_str().ok()).and_then(parse) else {
        return false;
    };
    if unix_s.abs_diff(now_s) > NODE_AUTH_SKEW_S {
        return false;
    }
    // verify_slice compares in constant time.
    mac(secret, unix_s, method, path).verify_slice(&tag).is_ok()
}

/// `<unix seconds>:<64 hex digits>` into its parts.
fn parse(value: &str) -> Option<(u64, [u8; 32])> {
    let (unix_s, hex_tag) = value.split_once(':')?;
    if unix_s.is_empty() || unix_s.len() > 20 || !unix_s.bytes().all(|b| b.is_ascii_digit()) || hex_tag.len() != 64 {
        return None;
    }
    let mut tag = [0u8; 32];
    for (byte, pair) in tag.iter_mut().zip(hex_tag.as_bytes().chunks_exact(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some((unix_s.parse().ok()?, tag))
}

fn mac(secret: &[u8], unix_s: u64, method: &Method, path: &str) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(format!("{DOMAIN}\n{unix_s}\n{method}\n{path}").as_bytes());
    mac
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a shared cluster secret, 32+ bytes long";
    const NOW: u64 = 1_800_000_000;

    fn signed(method: &Method, path: &str, unix_s: u64, secret: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(NODE_AUTH_HEADER, NodeAuth::new(secret).header_value_at(method, path, unix_s));
        headers
    }

    #[test]
    fn a_fresh_call_signed_with_the_secret_is_accepted() {
        let headers = signed(&Method::POST, "/api/rooms?local=1", NOW, SECRET);
        assert!(verify_at(&headers, &Method::POST, "/api/rooms?local=1", SECRET, NOW));
        assert!(verify_at(&headers, &Method::POST, "/api/rooms?local=1", SECRET, NOW + NODE_AUTH_SKEW_S));
        assert!(verify_at(&headers, &Method::POST, "/api/rooms?local=1", SECRET, NOW - NODE_AUTH_SKEW_S));
    }

    #[test]
    fn a_call_signed_with_another_secret_is_refused() {
        let headers = signed(&Method::POST, "/api/rooms?local=1", NOW, b"another secret entirely");
        assert!(!verify_at(&headers, &Method::POST, "/api/rooms?local=1", SECRET, NOW));
    }

    #[test]
    fn a_stale_or_future_timestamp_is_refused() {
        let path = "/api/matchmake?local=1";
        let headers = signed(&Method::POST, path, NOW, SECRET);
        assert!(!verify_at(&headers, &Method::POST, path, SECRET, NOW + NODE_AUTH_SKEW_S + 1));
        assert!(!verify_at(&headers, &Method::POST, path, SECRET, NOW - NODE_AUTH_SKEW_S - 1));
    }

    #[test]
    fn a_signature_does_not_carry_over_to_another_path_or_method() {
        let headers = signed(&Method::POST, "/api/matchmake?local=1", NOW, SECRET);
        assert!(!verify_at(&headers, &Method::POST, "/api/rooms?local=1", SECRET, NOW));
        assert!(!verify_at(&headers, &Method::POST, "/api/matchmake?local=1&strict=1&room=r1", SECRET, NOW));
        assert!(!verify_at(&headers, &Method::GET, "/api/matchmake?local=1", SECRET, NOW));
    }

    #[test]
    fn a_missing_or_malformed_header_is_refused() {
        let path = "/api/rooms?local=1";
        assert!(!verify_at(&HeaderMap::new(), &Method::POST, path, SECRET, NOW));
        let good = signed(&Method::POST, path, NOW, SECRET);
        let good = good.get(NODE_AUTH_HEADER).unwrap().to_str().unwrap().to_string();
        let (unix_s, tag) = good.split_once(':').unwrap();
        for bad in [
            String::new(),
            tag.to_string(),
            format!("{unix_s}:"),
            format!("{unix_s}:{}", &tag[..62]),
            format!("{unix_s}:{}zz", &tag[..62]),
            format!("+{unix_s}:{tag}"),
            format!("{}:{tag}", NOW + 1),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(NODE_AUTH_HEADER, HeaderValue::from_str(&bad).unwrap());
            assert!(!verify_at(&headers, &Method::POST, path, SECRET, NOW), "{bad:?}");
        }
    }

    #[test]
    fn the_public_check_uses_the_clock() {
        let auth = NodeAuth::new(SECRET);
        let mut headers = HeaderMap::new();
        headers.insert(NODE_AUTH_HEADER, auth.header_value(&Method::POST, "/api/rooms?local=1"));
        assert!(verify_node_auth(&headers, &Method::POST, "/api/rooms?local=1", SECRET));
        assert!(auth.verify(&headers, &Method::POST, "/api/rooms?local=1"));
        assert!(!verify_node_auth(&headers, &Method::POST, "/api/rooms?local=1", b"wrong"));
    }
}
