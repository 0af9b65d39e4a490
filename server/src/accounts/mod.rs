//! Accounts, ratings, leaderboards and match history, in a database derived from
//! the results log: SQLite by default, PostgreSQL for several nodes.
//!
//! - [`store`]: the one interface over both engines; [`migrations`] at start.
//! - [`account_rows`], [`round_rows`], [`board`]: what is stored and read.
//! - [`passwords`] (Argon2id), [`sign_in_limit`], [`token_versions`] (revocation).
//! - [`ratings`]: places and Weng-Lin ratings from a round's standings; [`rank_cache`]
//!   over [`sorted_ratings`].
//! - [`writer`]: stores each round the results log wrote, catching up from the log
//!   past its [`log_marks`].
//! - [`api`]: the HTTP endpoints.

pub mod account_rows;
pub mod api;
pub mod board;
pub mod log_marks;
pub mod migrations;
pub mod passwords;
pub mod rank_cache;
pub mod ratings;
pub mod round_rows;
pub mod sign_in_limit;
pub mod sorted_ratings;
pub mod store;
pub mod token_versions;
pub mod writer;

pub use store::{Store, StoreError};
