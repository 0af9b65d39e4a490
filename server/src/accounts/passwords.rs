//! Password hashing: Argon2id, on the blocking pool, a few at a time.
//!
//! Parameters (OWASP's first recommendation for Argon2id): 19 MiB of memory
//! (`m = 19456` KiB), 2 passes (`t = 2`), one lane (`p = 1`), a 16-byte random salt
//! and a 32-byte hash, stored as a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`),
//! so hashes made with other parameters later still verify. One hash takes about
//! 20–40 ms of one core here; at most [`HASHING_AT_ONCE`] run together, so sign-ins
//! never starve the rooms, and a request that cannot get a turn within
//! [`HASHING_WAIT`] is answered 503 instead of queueing without bound.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

/// Hashes computed at once (each holds 19 MiB while it runs).
pub const HASHING_AT_ONCE: usize = 2;
/// Longest a request waits for a turn to hash.
pub const HASHING_WAIT: Duration = Duration::from_secs(3);
/// Password length, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Why hashing did not happen.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("the server is busy checking passwords; try again in a moment")]
    Busy,
}

/// Hashes and checks passwords with bounded parallelism.
#[derive(Debug)]
pub struct Passwords {
    turns: Arc<Semaphore>,
}

/// A hash of nothing anybody knows (made at the first use): checked against when a
/// name has no account, so a wrong name takes as long as a wrong password.
fn decoy() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_now(&format!("{:032x}", rand::random::<u128>())))
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, Some(32)).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_now(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    argon2().hash_password(password.as_bytes(), &salt).expect("Argon2id of a bounded password").to_string()
}

fn verify_now(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| argon2().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A password's problem, or None: [`MIN_PASSWORD_CHARS`]–[`MAX_PASSWORD_CHARS`] characters.
pub fn password_problem(password: &str) -> Option<String> {
    let chars = password.chars().count();
    (!(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars))
        .then(|| format!("a password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"))
}

impl Default for Passwords {
    fn default() -> Self {
        Passwords { turns: Arc::new(Semaphore::new(HASHING_AT_ONCE)) }
    }
}

impl Passwords {
    /// A PHC string for a new password.
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let password = password.to_string();
        self.on_blocking_pool(move || hash_now(&password)).await
    }

    /// Whether `password` matches `hash`; with no hash (no such account), checks
    /// against the decoy and answers false, taking as long as a real check.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, HashError> {
        let (password, hash) = (password.to_string(), hash.map(str::to_string));
        let known = hash.is_some();
        let matches = self
            .on_blocking_pool(move || match &hash {
                Some(hash) => verify_now(&password, hash),
                None => verify_now(&password, decoy()),
            })
            .await?;
        Ok(matches && known)
    }

    async fn on_blocking_pool<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let turn = tokio::time::timeout(HASHING_WAIT, self.turns.clone().acquire_owned())
            .await
            .map_err(|_| HashError::Busy)?
            .map_err(|_| HashError::Busy)?;
        let result = tokio::task::spawn_blocking(move || {
            let _turn = turn;
            work()
        })
        .await;
        result.map_err(|_| HashError::Busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let passwords = Passwords::default();
        let hash = passwords.hash("correct horse").await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(passwords.verify("correct horse", Some(&hash)).await.unwrap());
        assert!(!passwords.verify("wrong horse", Some(&hash)).await.unwrap());
        assert!(!passwords.verify("correct horse", None).await.unwrap());
        assert!(!passwords.verify("x", Some("not a PHC string")).await.unwrap());
    }

    #[test]
    fn password_lengths_are_bounded() {
        assert!(password_problem("short").is_some());
        assert!(password_problem("long enough").is_none());
        assert!(password_problem(&"x".repeat(MAX_PASSWORD_CHARS + 1)).is_some());
    }
}
