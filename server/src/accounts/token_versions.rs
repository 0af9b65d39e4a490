//! Revocation: an account token is good while its version is the account's, checked
//! at every join against the database, with answers cached for [`CACHE_TTL`].
//!
//! So a token revoked on one node (sign-out, a new password, deletion) stops
//! joining on every node within [`CACHE_TTL`]; the node that revoked it forgets its
//! cached answer at once. While the database cannot be reached, a cached answer
//! (however old) is used, and a token never checked before is let in: rooms and
//! reconnection keep working through an outage, and revocation resumes with it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::store::Store;

/// How stale a cached token version may be.
pub const CACHE_TTL: Duration = Duration::from_secs(5);
/// Accounts cached at most; past it the cache starts over (a join then asks the database).
pub const CACHE_MAX: usize = 100_000;

/// Why a token was not let in.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Revoked {
    #[error("the session token was revoked (signed out, password changed or account deleted): sign in again")]
    Revoked,
}

/// Token versions of accounts, cached briefly.
#[derive(Debug)]
pub struct TokenVersions {
    store: Store,
    /// account id → (its live token version, None if deleted; when read).
    cache: Mutex<HashMap<i64, (Option<i64>, Instant)>>,
}

impl TokenVersions {
    pub fn new(store: Store) -> TokenVersions {
        TokenVersions { store, cache: Mutex::new(HashMap::new()) }
    }

    /// Let a token of `account` issued at `version` in, or say it was revoked.
    pub async fn check(&self, account: i64, version: i64) -> Result<(), Revoked> {
        let cached = self.cache.lock().expect("token version cache").get(&account).copied();
        let current = match cached {
            Some((current, read)) if read.elapsed() < CACHE_TTL => current,
            _ => match self.store.token_version(account).await {
                Ok(current) => {
                    let mut cache = self.cache.lock().expect("token version cache");
                    if cache.len() >= CACHE_MAX {
                        cache.clear();
                    }
                    cache.insert(account, (current, Instant::now()));
                    current
                }
                Err(e) => {
                    tracing::debug!(error = %e, account, "token version unavailable; using what is known");
                    match cached {
                        Some((current, _)) => current,
                        None => return Ok(()),
                    }
                }
            },
        };
        if current == Some(version) { Ok(()) } else { Err(Revoked::Revoked) }
    }

    /// This node changed the account's version: drop the cached one now.
    pub fn forget(&self, account: i64) {
        self.cache.lock().expect("token version cache").remove(&account);
    }
}
