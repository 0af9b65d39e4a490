//! Who a connection is: signed session tokens (JWT, HS256), guest identities, and
//! the ranges of the player id space each kind of player draws from.
//!
//! # Player id ranges
//!
//! Rooms and seat books key players by [`PlayerId`] alone, so two kinds of player
//! must never share an id: a guest whose random id equalled a token holder's would
//! take over that player's body. The top two bits of the `u32` say which kind:
//!
//! | ids                         | who                                   | how made                     |
//! |-----------------------------|---------------------------------------|------------------------------|
//! | `0`                         | nobody (never issued)                 | —                            |
//! | `0x0000_0001..=0x1FFF_FFFF` | accounts (signed in)                  | the database, in order       |
//! | `0x2000_0000..=0x3FFF_FFFF` | guests' session tokens                | random, in [`Tokens::issue`] |
//! | `0x4000_0000..=0x7FFF_FFFF` | house bots                            | reserved for them            |
//! | `0x8000_0000..=0xFFFF_FFFF` | guests (no token)                     | random, [`new_guest_id`]     |
//!
//! Every id is below 2^32, so JSON and JavaScript numbers hold it exactly (they are
//! exact to 2^53); a client must not squeeze one through a 32-bit *signed* integer
//! (JavaScript's `|0`), which would turn every guest id negative.

use std::ops::RangeInclusive;
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
    /// An account's token version when issued: a token whose version is behind the
    /// account's (signed out, password changed, deleted) is refused at join.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ver: Option<i64>,
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

/// Ids session tokens carry; a token naming another is refused.
pub const TOKEN_IDS: RangeInclusive<u32> = 0x0000_0001..=0x3FFF_FFFF;
/// Of [`TOKEN_IDS`], the accounts' ids (the database numbers them from 1).
pub const ACCOUNT_IDS: RangeInclusive<u32> = 0x0000_0001..=0x1FFF_FFFF;
/// Of [`TOKEN_IDS`], the ids of guests' session tokens.
pub const SESSION_IDS: RangeInclusive<u32> = 0x2000_0000..=0x3FFF_FFFF;

/// Whether `id` is an account's.
pub fn is_account_id(id: PlayerId) -> bool {
    ACCOUNT_IDS.contains(&id.0)
}
/// Ids kept for house bots, so a bot never takes a person's place.
pub const BOT_IDS: RangeInclusive<u32> = 0x4000_0000..=0x7FFF_FFFF;
/// Whether `id` is a house bot's (the server plays it): no person is ever given one.
pub fn is_bot(id: PlayerId) -> bool {
    IdKind::of(id) == Some(IdKind::Bot)
}

/// Ids of guests: the top bit set. Half the space, as guests are the many.
pub const GUEST_IDS: RangeInclusive<u32> = 0x8000_0000..=0xFFFF_FFFF;

/// Which kind of player an id belongs to, by its range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdKind {
    Token,
    Bot,
    Guest,
}

impl IdKind {
    /// The kind `id` is drawn for; None for 0, which is never issued.
    pub fn of(id: PlayerId) -> Option<IdKind> {
        match id.0 {
            0 => None,
            id if TOKEN_IDS.contains(&id) => Some(IdKind::Token),
            id if BOT_IDS.contains(&id) => Some(IdKind::Bot),
            _ => Some(IdKind::Guest),
        }
    }
}

/// A new random guest id. Random so nodes need not agree on who is next; drawn
/// from [`GUEST_IDS`] so it can never be a token holder's or a bot's.
pub fn new_guest_id() -> PlayerId {
    PlayerId(rand::random_range(GUEST_IDS))
}

/// A new random id for a guest's session token, from [`SESSION_IDS`].
fn new_token_id() -> PlayerId {
    PlayerId(rand::random_range(SESSION_IDS))
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

    /// A token for a new guest with this (already validated) name.
    pub fn issue(&self, name: &str) -> SessionGranted {
        self.sign(new_token_id(), name, None)
    }

    /// A token for an account (an id in [`ACCOUNT_IDS`]) at its token version.
    pub fn issue_account(&self, account: PlayerId, name: &str, version: i64) -> SessionGranted {
        debug_assert!(is_account_id(account));
        self.sign(account, name, Some(version))
    }

    fn sign(&self, player_id: PlayerId, name: &str, ver: Option<i64>) -> SessionGranted {
        let iat = unix_now();
        let exp = iat + self.ttl.as_secs();
        let claims = Claims { sub: player_id.0.to_string(), name: name.to_string(), ver, iat, exp };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing of our own claims cannot fail");
        SessionGranted { token, player_id, name: name.to_string(), expires_at: exp }
    }

    /// The identity a token proves. A token whose subject is outside [`TOKEN_IDS`] is
    /// refused even when signed: it could only stand for a guest or a bot.
    pub fn verify(&self, token: &str) -> Result<Identity, TokenError> {
        self.verify_versioned(token).map(|(identity, _)| identity)
    }

    /// The identity a token proves and, for an account's token, the token version
    /// it was issued at (to compare with the account's). An account id without a
    /// version is refused: only [`Tokens::issue_account`] signs account ids.
    pub fn verify_versioned(&self, token: &str) -> Result<(Identity, Option<i64>), TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
            _ => TokenError::Invalid,
        })?;
        let id: u32 = data.claims.sub.parse().map_err(|_| TokenError::Invalid)?;
        if !TOKEN_IDS.contains(&id) || ACCOUNT_IDS.contains(&id) != data.claims.ver.is_some() {
            return Err(TokenError::Invalid);
        }
        Ok((Identity { player_id: PlayerId(id), name: data.claims.name, verified: true }, data.claims.ver))
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

    /// A token signed with the right secret for whatever subject the test names.
    fn signed(tokens: &Tokens, sub: &str) -> String {
        let iat = unix_now();
        let claims = Claims { sub: sub.to_string(), name: "mallory".into(), ver: None, iat, exp: iat + 60 };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &tokens.encoding).unwrap()
    }

    #[test]
    fn the_id_ranges_split_the_whole_space_without_overlap() {
        assert_eq!(*TOKEN_IDS.start(), 1);
        assert_eq!(*TOKEN_IDS.end() + 1, *BOT_IDS.start());
        assert_eq!(*BOT_IDS.end() + 1, *GUEST_IDS.start());
        assert_eq!(*GUEST_IDS.end(), u32::MAX);
        let kinds = [
            (0, None),
            (1, Some(IdKind::Token)),
            (0x3FFF_FFFF, Some(IdKind::Token)),
            (0x4000_0000, Some(IdKind::Bot)),
            (0x7FFF_FFFF, Some(IdKind::Bot)),
            (0x8000_0000, Some(IdKind::Guest)),
            (u32::MAX, Some(IdKind::Guest)),
        ];
        for (id, kind) in kinds {
            assert_eq!(IdKind::of(PlayerId(id)), kind, "{id:#x}");
        }
    }

    #[test]
    fn guests_and_token_holders_draw_from_their_own_ranges() {
        let tokens = Tokens::new(Some("secret"), Duration::from_secs(60));
        for _ in 0..1000 {
            assert_eq!(IdKind::of(new_guest_id()), Some(IdKind::Guest));
            assert_eq!(IdKind::of(tokens.issue("ann").player_id), Some(IdKind::Token));
        }
    }

    #[test]
    fn a_signed_token_for_a_guest_or_bot_id_is_refused() {
        let tokens = Tokens::new(Some("secret"), Duration::from_secs(60));
        assert_eq!(tokens.verify(&signed(&tokens, "536870912")).unwrap().player_id, PlayerId(0x2000_0000));
        // An account's id without a token version was not signed by issue_account.
        for sub in ["7", "0", "1073741824", "2147483647", "2147483648", "4294967295", "4294967296", "-1"] {
            assert!(matches!(tokens.verify(&signed(&tokens, sub)), Err(TokenError::Invalid)), "subject {sub}");
        }
    }

    #[test]
    fn an_account_token_carries_its_version() {
        let tokens = Tokens::new(Some("secret"), Duration::from_secs(60));
        let granted = tokens.issue_account(PlayerId(42), "ann", 3);
        let (identity, version) = tokens.verify_versioned(&granted.token).unwrap();
        assert_eq!((identity.player_id, version), (PlayerId(42), Some(3)));
        let (guest, version) = tokens.verify_versioned(&tokens.issue("bob").token).unwrap();
        assert!(SESSION_IDS.contains(&guest.player_id.0));
        assert_eq!(version, None);
    }

    #[test]
    fn an_expired_token_says_so() {
        let tokens = Tokens::new(Some("secret"), Duration::from_secs(0));
        let granted = tokens.issue("ann");
        std::thread::sleep(Duration::from_millis(1100));
        assert!(matches!(tokens.verify(&granted.token), Err(TokenError::Expired)));
    }
}
