//! Who a connection is: signed session tokens (JWT, HS256) and guest identities.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arena_protocol::PlayerId;
use arena_protocol::lobby::SessionGranted;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// A connection's identity.
#[derive(Clone, Debug, PartialEq)]
pub struct Identity {
    pub player_id: PlayerId,
    pub name: String,
    /// Came from a signed token, so a reconnection can prove it is the same player.
    pub verified: bool,
}

/// What a token says.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// The player id, as a decimal string (JWT subjects are strings).
    sub: String,
    name: String,
    iat: u64,
    exp: u64,
}

/// Issues and checks session tokens with one shared secret.
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: Duration,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens").field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the session token has expired")]
    Expired,
    #[error("the session token is not valid")]
    Invalid,
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A new random player id: random so ids from different nodes do not collide;
/// at most 2^31 so it stays exact in every JSON and JavaScript number.
pub fn new_player_id() -> PlayerId {
    PlayerId(rand::random_range(1..=i32::MAX as u32))
}

impl Tokens {
    /// With the configured secret, or a random one (then tokens die with the process).
    pub fn new(secret: Option<&str>, ttl: Duration) -> Tokens {
        let secret: Vec<u8> = match secret {
            Some(secret) => secret.as_bytes().to_vec(),
            None => {
                tracing::warn!(
                    "no --jwt-secret set: generated a random one; session tokens are valid on this process only"
                );
                (0..32).map(|_| rand::random::<u8>()).collect()
            }
        };
        Tokens { encoding: EncodingKey::from_secret(&secret), decoding: DecodingKey::from_secret(&secret), ttl }
    }

    /// A token for a new player with this (already validated) name.
    pub fn issue(&self, name: &str) -> SessionGranted {
        let player_id = new_player_id();
        let iat = unix_now();
        let exp = iat + self.ttl.as_secs();
        let claims = Claims { sub: player_id.0.to_string(), name: name.to_string(), iat, exp };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing of our own claims cannot fail");
        SessionGranted { token, player_id, name: name.to_string(), expires_at: exp }
    }

    /// The identity a token proves.
    pub fn verify(&self, token: &str) -> Result<Identity, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
            _ => TokenError::Invalid,
        })?;
        let id: u32 = data.claims.sub.parse().map_err(|_| TokenError::Invalid)?;
        Ok(Identity { player_id: PlayerId(id), name: data.claims.name, verified: true })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_proves_its_player_and_nothing_else_does() {
        let tokens = Tokens::new(Some("secret"), Duration::from_secs(60));
        let granted = tokens.issue("ann");
        let identity = tokens.verify(&granted.token).unwrap();
        assert_eq!((identity.player_id, identity.name.as_str(), identity.verified), (granted.player_id, "ann", true));

        let other = Tokens::new(Some("another secret"), Duration::from_secs(60));
        assert!(matches!(other.verify(&granted.token), Err(TokenError::Invalid)));
        let mut tampered = granted.token.clone();
        tampered.pop();
        assert!(matches!(tokens.verify(&tampered), Err(TokenError::Invalid)));
        assert!(matches!(tokens.verify("not a token"), Err(TokenError::Invalid)));
    }

    #[test]
    fn an_expired_token_says_so() {
        let tokens = Tokens::new(Some("secret"), Duration::from_secs(0));
        let granted = tokens.issue("ann");
        std::thread::sleep(Duration::from_millis(1100));
        assert!(matches!(tokens.verify(&granted.token), Err(TokenError::Expired)));
    }
}
