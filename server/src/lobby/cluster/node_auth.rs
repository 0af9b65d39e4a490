//! Proof that a lobby call comes from another node of this cluster and is meant for
//! this one: an HMAC-SHA256, keyed with the shared `--jwt-secret`, over a timestamp,
//! the node it is for (id and URL it is called at), the method and the path.

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
/// the same secret (session tokens sign `header.payload` with it). v2 binds the callee.
const DOMAIN: &str = "arena-node-auth-v2";

/// The node a call is meant for, as the caller read it from Redis: its id and the
/// URL it is called at ([`super::NodeInfo::called_at`]). Signed with the call, so a
/// header captured by one node (say a rogue one a Redis writer registered) cannot be
/// replayed to another: the receiver checks the proof against its own id and URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Callee<'a> {
    pub node_id: &'a str,
    pub url: &'a str,
}

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

    /// The `X-Arena-Node-Auth` value for `method path` (path with its query, as sent)
    /// to `to`, now.
    pub fn header_value(&self, method: &Method, path: &str, to: Callee<'_>) -> HeaderValue {
        self.header_value_at(method, path, to, unix_now())
    }

    fn header_value_at(&self, method: &Method, path: &str, to: Callee<'_>, unix_s: u64) -> HeaderValue {
        let tag = mac(&self.secret, unix_s, to, method, path).finalize().into_bytes();
        HeaderValue::from_str(&format!("{unix_s}:{}", hex(&tag))).expect("digits, a colon and hex are a header value")
    }

    /// Whether `headers` prove that another node of this cluster sent `method path`
    /// to `me` (this node's own id and called-at URL). `path` is the request target as
    /// received, query included (`req.uri().path_and_query()`), since the query
    /// (`?local=1&room=…`) is what the proof is for.
    pub fn verify(&self, headers: &HeaderMap, method: &Method, path: &str, me: Callee<'_>) -> bool {
        verify_at(headers, method, path, me, &self.secret, unix_now())
    }
}

/// Whether the request's `X-Arena-Node-Auth` header was made, within the last
/// [`NODE_AUTH_SKEW_S`] seconds (either way), by a node holding `secret`, for `me`,
/// this `method` and `path`.
fn verify_at(headers: &HeaderMap, method: &Method, path: &str, me: Callee<'_>, secret: &[u8], now_s: u64) -> bool {
    let Some((unix_s, tag)) = headers.get(NODE_AUTH_HEADER).and_then(|v| v.to_str().ok()).and_then(parse) else {
        return false;
    };
    if unix_s.abs_diff(now_s) > NODE_AUTH_SKEW_S {
        return false;
    }
    // verify_slice compares in constant time.
    mac(secret, unix_s, me, method, path).verify_slice(&tag).is_ok()
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

fn mac(secret: &[u8], unix_s: u64, to: Callee<'_>, method: &Method, path: &str) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    // Lengths before the callee's fields: no choice of id and URL reads as another's.
    let (id, url) = (to.node_id, to.url);
    mac.update(format!("{DOMAIN}\n{unix_s}\n{}:{id}\n{}:{url}\n{method}\n{path}", id.len(), url.len()).as_bytes());
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
    const B: Callee<'static> = Callee { node_id: "node-b", url: "http://10.0.0.2:8080" };

    fn signed(method: &Method, path: &str, unix_s: u64, secret: &[u8]) -> HeaderMap {
        signed_for(B, method, path, unix_s, secret)
    }

    fn signed_for(to: Callee<'_>, method: &Method, path: &str, unix_s: u64, secret: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(NODE_AUTH_HEADER, NodeAuth::new(secret).header_value_at(method, path, to, unix_s));
        headers
    }

    fn verify(headers: &HeaderMap, method: &Method, path: &str, now_s: u64) -> bool {
        verify_at(headers, method, path, B, SECRET, now_s)
    }

    #[test]
    fn a_fresh_call_signed_with_the_secret_is_accepted() {
        let headers = signed(&Method::POST, "/api/rooms?local=1", NOW, SECRET);
        assert!(verify(&headers, &Method::POST, "/api/rooms?local=1", NOW));
        assert!(verify(&headers, &Method::POST, "/api/rooms?local=1", NOW + NODE_AUTH_SKEW_S));
        assert!(verify(&headers, &Method::POST, "/api/rooms?local=1", NOW - NODE_AUTH_SKEW_S));
    }

    #[test]
    fn a_call_signed_with_another_secret_is_refused() {
        let headers = signed(&Method::POST, "/api/rooms?local=1", NOW, b"another secret entirely");
        assert!(!verify(&headers, &Method::POST, "/api/rooms?local=1", NOW));
    }

    #[test]
    fn a_call_signed_for_another_node_is_refused() {
        let path = "/api/replays?local=1&viewer=7";
        // What a rogue node registered as `evil` (or as `node-b` at its own URL) was sent.
        for to in [
            Callee { node_id: "evil", url: "http://10.0.0.66:8080" },
            Callee { node_id: "node-b", url: "http://10.0.0.66:8080" },
            Callee { node_id: "evil", url: B.url },
            Callee { node_id: "node-b:http", url: "//10.0.0.2:8080" },
        ] {
            let headers = signed_for(to, &Method::GET, path, NOW, SECRET);
            assert!(!verify(&headers, &Method::GET, path, NOW), "{to:?}");
        }
        assert!(verify(&signed_for(B, &Method::GET, path, NOW, SECRET), &Method::GET, path, NOW));
    }

    #[test]
    fn a_stale_or_future_timestamp_is_refused() {
        let path = "/api/matchmake?local=1";
        let headers = signed(&Method::POST, path, NOW, SECRET);
        assert!(!verify(&headers, &Method::POST, path, NOW + NODE_AUTH_SKEW_S + 1));
        assert!(!verify(&headers, &Method::POST, path, NOW - NODE_AUTH_SKEW_S - 1));
    }

    #[test]
    fn a_signature_does_not_carry_over_to_another_path_or_method() {
        let headers = signed(&Method::POST, "/api/matchmake?local=1", NOW, SECRET);
        assert!(!verify(&headers, &Method::POST, "/api/rooms?local=1", NOW));
        assert!(!verify(&headers, &Method::POST, "/api/matchmake?local=1&strict=1&room=r1", NOW));
        assert!(!verify(&headers, &Method::GET, "/api/matchmake?local=1", NOW));
    }

    #[test]
    fn a_missing_or_malformed_header_is_refused() {
        let path = "/api/rooms?local=1";
        assert!(!verify(&HeaderMap::new(), &Method::POST, path, NOW));
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
            assert!(!verify(&headers, &Method::POST, path, NOW), "{bad:?}");
        }
    }

    #[test]
    fn the_public_check_uses_the_clock() {
        let auth = NodeAuth::new(SECRET);
        let mut headers = HeaderMap::new();
        headers.insert(NODE_AUTH_HEADER, auth.header_value(&Method::POST, "/api/rooms?local=1", B));
        assert!(auth.verify(&headers, &Method::POST, "/api/rooms?local=1", B));
        assert!(!NodeAuth::new(b"wrong").verify(&headers, &Method::POST, "/api/rooms?local=1", B));
    }
}
