//! Revocation: an account token is good while its version is the account's, checked
//! at every join against the database, with answers cached for [`CACHE_TTL`].
//!
//! So a token revoked on one node (sign-out, a new password, deletion) stops
//! joining on every node within [`CACHE_TTL`]; the node that revoked it forgets its
//! cached answer at once.
//!
//! When the database gives no answer, the rule is (docs/ACCOUNTS.md, "Revocation
//! while the database is away"):
//! - a cached answer, however old, decides;
//! - with none, the token is let in only if the database is known to be down: it
//!   could not be reached (no connection, a connection error) or gave no answer
//!   within [`CHECK_TIMEOUT`]. Rooms and reconnection keep working through an outage,
//!   and revocation resumes with the database;
//! - any other failure (the database answered, with an error) refuses the token.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use metrics::counter;

use super::store::{Store, StoreError};

/// How long a join waits for the database's answer; past it the database counts as down.
pub const CHECK_TIMEOUT: Duration = Duration::from_millis(300);
/// How stale a cached token version may be.
pub const CACHE_TTL: Duration = Duration::from_secs(5);
/// Accounts cached at most; past it the cache starts over (a join then asks the database).
pub const CACHE_MAX: usize = 100_000;

/// Why a token was not let in.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Revoked {
    #[error("the session token was revoked (signed out, password changed or account deleted): sign in again")]
    Revoked,
    #[error("the account database cannot check the session token now: try again shortly")]
    Unchecked,
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
            _ => match tokio::time::timeout(CHECK_TIMEOUT, self.store.token_version(account)).await {
                Ok(Ok(current)) => {
                    let mut cache = self.cache.lock().expect("token version cache");
                    if cache.len() >= CACHE_MAX {
                        cache.clear();
                    }
                    cache.insert(account, (current, Instant::now()));
                    current
                }
                failed => {
                    let down = failed.as_ref().map_or(true, |e| e.as_ref().is_err_and(StoreError::is_unreachable));
                    tracing::debug!(account, down, "token version unavailable; using what is known");
                    match cached {
                        Some((current, _)) => current,
                        None if down => {
                            counter!("arena_token_checks_total", "outcome" => "let_in_database_down").increment(1);
                            return Ok(());
                        }
                        None => {
                            counter!("arena_token_checks_total", "outcome" => "refused_database_error").increment(1);
                            return Err(Revoked::Unchecked);
                        }
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
