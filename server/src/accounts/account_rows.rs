//! Account rows: create, find, the token version that revokes old tokens, password
//! changes and deletion (which anonymises the account's history).

use sqlx::Row;
use unicode_normalization::UnicodeNormalization;

use super::migrations::Dialect;
use super::store::{Store, StoreError, on_pool};

/// An account as sign-in and token checks need it.
#[derive(Clone, Debug, PartialEq)]
pub struct AccountRow {
    pub id: i64,
    pub name: String,
    pub password_hash: String,
    pub token_version: i64,
}

/// What a deleted account's lines in match history are shown as.
pub const DELETED_NAME: &str = "deleted player";

/// The key names are unique by: compatibility-normalised (NFKC) and case folded, so
/// `Ann`, `ann`, `ＡＮＮ` (full-width) and `ａｎｎ` are one name, as are a ligature `ﬁ`
/// and `fi`. Normalised again after lowering, as lowering can undo NFKC.
pub fn name_key(name: &str) -> String {
    name.nfkc().collect::<String>().to_lowercase().nfkc().collect()
}

/// The key before NFKC (case folded only): an account made before keys were
/// normalised whose NFKC key was taken keeps it ([`Store::backfill_name_keys`]).
fn legacy_name_key(name: &str) -> String {
    name.to_lowercase()
}

impl Store {
    /// A new account; None when the name is taken (by its key, or by the key an
    /// account made before NFKC keys still has: [`Store::backfill_name_keys`]).
    pub async fn create_account(
        &self,
        name: &str,
        password_hash: &str,
        now_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        let sql = "INSERT INTO accounts (name, name_key, password_hash, token_version, created_at_ms) \
                   SELECT $1, $2, $3, 0, $4 WHERE NOT EXISTS (SELECT 1 FROM accounts WHERE name_key = $5) \
                   ON CONFLICT (name_key) DO NOTHING RETURNING id";
        let (key, legacy) = (name_key(name), legacy_name_key(name));
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, i64>(sql)
            .bind(name)
            .bind(&key)
            .bind(password_hash)
            .bind(now_ms)
            .bind(&legacy)
            .fetch_optional(pool)
            .await?))
    }

    /// The live (not deleted) account with this name, any case or width. An account
    /// that kept its pre-NFKC key (its NFKC key was another's when keys were
    /// rewritten) is found by the names that found it before; every other by its key.
    pub async fn account_by_name(&self, name: &str) -> Result<Option<AccountRow>, StoreError> {
        let (key, legacy) = (name_key(name), legacy_name_key(name));
        if legacy != key
            && let Some(old) = self.live_account(AccountKey::Name(legacy)).await?
        {
            return Ok(Some(old));
        }
        self.live_account(AccountKey::Name(key)).await
    }

    /// Rewrite the name keys of accounts made before keys were NFKC-normalised (run
    /// at every start, after the migrations; only keys with a character outside
    /// printable ASCII can differ, so only those are read). Oldest account first: an
    /// account whose NFKC key another account already has keeps its old key (logged),
    /// and is still found by it. Returns how many keys were rewritten.
    pub async fn backfill_name_keys(&self) -> Result<u64, StoreError> {
        let candidates = match self.dialect() {
            Dialect::Sqlite => "SELECT id, name, name_key FROM accounts WHERE name_key GLOB '*[^ -~]*' ORDER BY id",
            Dialect::Postgres => "SELECT id, name, name_key FROM accounts WHERE name_key ~ '[^ -~]' ORDER BY id",
        };
        let rewrite = "UPDATE accounts SET name_key = $2 WHERE id = $1 \
                       AND NOT EXISTS (SELECT 1 FROM accounts WHERE name_key = $2)";
        let rows: Vec<(i64, String, String)> =
            on_pool!(self, pool => sqlx::query_as(candidates).fetch_all(pool).await?);
        let mut rewritten = 0;
        for (id, name, old_key) in rows {
            let key = name_key(&name);
            if key == old_key {
                continue;
            }
            let done = on_pool!(self, pool => sqlx::query(rewrite).bind(id).bind(&key).execute(pool).await.map(|d| d.rows_affected()));
            match done {
                Ok(1) => rewritten += 1,
                Ok(_) => {
                    tracing::warn!(account = id, %name, "an account has this name's NFKC key: this one keeps its old key")
                }
                // Another node rewriting at the same moment gave the key to another account.
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    tracing::warn!(account = id, %name, "an account has this name's NFKC key: this one keeps its old key")
                }
                Err(e) => return Err(e.into()),
            }
        }
        if rewritten > 0 {
            tracing::info!(accounts = rewritten, "name keys rewritten to their NFKC form");
        }
        Ok(rewritten)
    }

    /// The live account with this id.
    pub async fn account_by_id(&self, id: i64) -> Result<Option<AccountRow>, StoreError> {
        self.live_account(AccountKey::Id(id)).await
    }

    /// The one query behind both lookups: same columns, same "not deleted" rule.
    async fn live_account(&self, key: AccountKey) -> Result<Option<AccountRow>, StoreError> {
        let sql = match key {
            AccountKey::Name(_) => {
                "SELECT id, name, password_hash, token_version FROM accounts WHERE name_key = $1 AND deleted_at_ms IS NULL"
            }
            AccountKey::Id(_) => {
                "SELECT id, name, password_hash, token_version FROM accounts WHERE id = $1 AND deleted_at_ms IS NULL"
            }
        };
        on_pool!(self, pool => {
            let query = sqlx::query(sql);
            let query = match &key {
                AccountKey::Name(name_key) => query.bind(name_key.clone()),
                AccountKey::Id(id) => query.bind(*id),
            };
            let row = query.fetch_optional(pool).await?;
            row.map(|r| Ok(AccountRow {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                password_hash: r.try_get("password_hash")?,
                token_version: r.try_get("token_version")?,
            }))
            .transpose()
        })
    }

    /// The token version of a live account; None for a deleted or unknown one.
    pub async fn token_version(&self, id: i64) -> Result<Option<i64>, StoreError> {
        let sql = "SELECT token_version FROM accounts WHERE id = $1 AND deleted_at_ms IS NULL";
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, i64>(sql).bind(id).fetch_optional(pool).await?))
    }

    /// Revoke every token of the account: its version moves on. Returns the new one.
    pub async fn bump_token_version(&self, id: i64) -> Result<Option<i64>, StoreError> {
        let sql = "UPDATE accounts SET token_version = token_version + 1 \
                   WHERE id = $1 AND deleted_at_ms IS NULL RETURNING token_version";
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, i64>(sql).bind(id).fetch_optional(pool).await?))
    }

    /// A new password hash, revoking every token: returns the new token version.
    pub async fn set_password(&self, id: i64, password_hash: &str) -> Result<Option<i64>, StoreError> {
        let sql = "UPDATE accounts SET password_hash = $2, token_version = token_version + 1 \
                   WHERE id = $1 AND deleted_at_ms IS NULL RETURNING token_version";
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, i64>(sql)
            .bind(id)
            .bind(password_hash)
            .fetch_optional(pool)
            .await?))
    }

    /// Whether a live account has this name (any case or width), by its key or by
    /// the key an account made before NFKC keys may still have.
    pub async fn name_registered(&self, name: &str) -> Result<bool, StoreError> {
        let sql = "SELECT COUNT(*) FROM accounts WHERE name_key IN ($1, $2)";
        let (key, legacy) = (name_key(name), legacy_name_key(name));
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, i64>(sql).bind(&key).bind(&legacy).fetch_one(pool).await?)
            > 0)
    }

    /// Delete an account, in one transaction: its name and password go (the name is
    /// free again), its tokens are revoked, it leaves the leaderboard, and its lines
    /// in match history stay (other players' places still add up) under
    /// [`DELETED_NAME`] with no link back. False if there was no such live account.
    pub async fn delete_account(&self, id: i64, now_ms: i64) -> Result<bool, StoreError> {
        let forget = "UPDATE accounts SET name = NULL, name_key = NULL, password_hash = NULL, \
                      token_version = token_version + 1, deleted_at_ms = $2 \
                      WHERE id = $1 AND deleted_at_ms IS NULL";
        let unlink = "UPDATE match_players SET account_id = NULL, player_id = 0, name = $2 WHERE account_id = $1";
        let unrank = "DELETE FROM stats WHERE account_id = $1";
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let gone = sqlx::query(forget).bind(id).bind(now_ms).execute(&mut *tx).await?.rows_affected() == 1;
            if gone {
                sqlx::query(unlink).bind(id).bind(DELETED_NAME).execute(&mut *tx).await?;
                sqlx::query(unrank).bind(id).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            if gone {
                self.ranks.apply(&[(id, None)]);
            }
            Ok(gone)
        })
    }
}

/// How a live account is looked up: by its case-folded name key or by its id.
enum AccountKey {
    Name(String),
    Id(i64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alike_names_share_one_key() {
        for same in ["Ann", "ANN", "ａｎｎ", "ＡＮＮ"] {
            assert_eq!(name_key(same), "ann", "{same}");
        }
        assert_eq!(name_key("ﬁsh"), name_key("FISH"), "a ligature is its letters");
        assert_eq!(name_key("Ｂｏｔ７"), "bot7", "so full-width cannot dodge the bot… reservation");
        assert_ne!(name_key("ann"), name_key("anne"));
    }
}
