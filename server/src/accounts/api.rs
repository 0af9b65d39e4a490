//! The accounts API: sign up, sign in and out, change password, delete; the
//! leaderboard, profiles and match history. Every answer is JSON; see the README's
//! "Accounts and ratings" for examples.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arena_protocol::PlayerId;
use hyper::body::Incoming;
use hyper::header::AUTHORIZATION;
use hyper::{Method, Request, Response, StatusCode};
use metrics::counter;
use serde::Deserialize;

use super::account_rows::{DELETED_NAME, name_key};
use super::passwords::{HashError, MAX_PASSWORD_CHARS, Passwords, password_problem};
use super::sign_in_limit::{Attempt, SignInLimit};
use super::store::{Store, StoreError, unix_ms};
use super::token_versions::TokenVersions;
use crate::identity::{ACCOUNT_IDS, Tokens, is_account_id};
use crate::lobby::api::refuse;
use crate::lobby::budgets::{Caller, RateWindow};
use crate::lobby::join::{DEFAULT_NAME, MAX_NAME_CHARS, validate_name};
use crate::web::{Body, error, json, query_value, read_json};

/// Leaderboard lines a call may ask for at most (`?limit=`), and the default.
pub const MAX_BOARD_LINES: i64 = 100;
pub const DEFAULT_BOARD_LINES: i64 = 20;
/// Lines above and below the player's own with `?around=me`.
pub const AROUND_SPAN: i64 = 5;
/// Matches a history page holds at most (`?limit=`), and the default.
pub const MAX_PAGE: i64 = 50;
pub const DEFAULT_PAGE: i64 = 10;

/// What the accounts API uses.
#[derive(Debug)]
pub struct AccountsApi {
    pub store: Store,
    pub tokens: Arc<Tokens>,
    pub versions: Arc<TokenVersions>,
    pub passwords: Passwords,
    pub sign_in_limit: SignInLimit,
    pub body_timeout: Duration,
    /// Accounts one address may create an hour.
    pub accounts_per_hour: RateWindow,
    /// Password attempts (sign-in, password change, deletion) one address may make a minute.
    pub sign_ins_per_minute: RateWindow,
    /// Leaderboard, profile and history reads one address may make a minute.
    pub reads_per_minute: RateWindow,
    /// Reads with a token one account may make a minute, from all addresses, kept
    /// under (account id, token version): a revoked token spends no current one's budget.
    pub account_reads_per_minute: RateWindow<(i64, i64)>,
}

#[derive(Deserialize)]
struct Credentials {
    name: String,
    password: String,
}

#[derive(Deserialize)]
struct PasswordChange {
    password: String,
    new_password: String,
}

#[derive(Deserialize)]
struct PasswordOnly {
    password: String,
}

type Answer = Result<Response<Body>, Response<Body>>;

/// Whether `segments` (after `/api/`) are an accounts endpoint.
pub fn serves(segments: &[&str]) -> bool {
    matches!(
        segments,
        ["accounts"]
            | ["accounts", "me"]
            | ["login"]
            | ["logout"]
            | ["password"]
            | ["leaderboard"]
            | ["players", _]
            | ["players", _, "matches"]
    )
}

/// Route one accounts call.
pub async fn handle(req: Request<Incoming>, api: &AccountsApi, segments: &[&str], caller: Caller) -> Response<Body> {
    let method = req.method().clone();
    let result = match (&method, segments) {
        (&Method::POST, ["accounts"]) => register(req, api, caller).await,
        (&Method::DELETE, ["accounts", "me"]) => delete(req, api, caller).await,
        (&Method::POST, ["login"]) => login(req, api, caller).await,
        (&Method::POST, ["logout"]) => logout(&req, api).await,
        (&Method::POST, ["password"]) => change_password(req, api, caller).await,
        (&Method::GET, ["leaderboard"]) => leaderboard(&req, api, caller).await,
        (&Method::GET, ["players", id]) => profile(api, id, caller).await,
        (&Method::GET, ["players", id, "matches"]) => matches(&req, api, id, caller).await,
        _ => Err(error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")),
    };
    result.unwrap_or_else(|response| response)
}

fn unavailable(e: &StoreError) -> Response<Body> {
    tracing::warn!(error = %e, "account database call failed");
    error(StatusCode::SERVICE_UNAVAILABLE, "the account database is unavailable; try again later")
}

fn busy(e: &HashError) -> Response<Body> {
    error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string())
}

/// Whether no account may take `name`: the guests' default (else a registered
/// "guest" would refuse everyone who plays without typing a name), the name
/// deleted players are shown by, and names that pose as house bots.
pub fn reserved_name(name: &str) -> bool {
    let key = name_key(name.trim());
    key == DEFAULT_NAME || key == DELETED_NAME || key.starts_with("bot")
}

/// An account name: a valid display name, not empty, not reserved.
fn account_name(name: &str) -> Result<String, Response<Body>> {
    if name.trim().is_empty() {
        return Err(error(StatusCode::BAD_REQUEST, "an account needs a name"));
    }
    let name = validate_name(name).map_err(|problem| error(StatusCode::BAD_REQUEST, &problem))?;
    if reserved_name(&name) {
        counter!("arena_account_events_total", "event" => "register_name_reserved").increment(1);
        return Err(error(StatusCode::BAD_REQUEST, "that name is reserved: guest, deleted player and bot… names"));
    }
    Ok(name)
}

/// The 401 every failed sign-in answers, whatever failed.
fn wrong_credentials() -> Response<Body> {
    error(StatusCode::UNAUTHORIZED, "wrong name or password")
}

/// Whether a password is no longer than any account's can be (registration's limit),
/// so a longer one is refused before it reaches the back-off map or the hasher.
fn password_fits(password: &str) -> bool {
    password.chars().count() <= MAX_PASSWORD_CHARS
}

/// Whether a name and password are within what an account can have.
fn plausible(name: &str, password: &str) -> bool {
    name.chars().count() <= MAX_NAME_CHARS && password_fits(password)
}

/// `POST /api/accounts {name, password}`: 201 with a session token, as `/api/session` answers.
async fn register(req: Request<Incoming>, api: &AccountsApi, caller: Caller) -> Answer {
    let request: Credentials = read_json(req, api.body_timeout).await?;
    api.accounts_per_hour.take(caller, Instant::now()).map_err(|over| refuse(&over))?;
    let name = account_name(&request.name)?;
    if let Some(problem) = password_problem(&request.password) {
        return Err(error(StatusCode::BAD_REQUEST, &problem));
    }
    let hash = api.passwords.hash(&request.password).await.map_err(|e| busy(&e))?;
    let id = api.store.create_account(&name, &hash, unix_ms()).await.map_err(|e| unavailable(&e))?;
    let Some(id) = id else {
        counter!("arena_account_events_total", "event" => "register_name_taken").increment(1);
        return Err(error(StatusCode::CONFLICT, "that name is taken"));
    };
    let Some(account) = u32::try_from(id).ok().filter(|id| ACCOUNT_IDS.contains(id)) else {
        tracing::error!(id, "account ids are used up");
        return Err(error(StatusCode::SERVICE_UNAVAILABLE, "no more accounts can be made"));
    };
    counter!("arena_account_events_total", "event" => "registered").increment(1);
    Ok(json(StatusCode::CREATED, &api.tokens.issue_account(PlayerId(account), &name, 0)))
}

/// `POST /api/login {name, password}`: a session token, or 401 that never says which
/// of the two was wrong.
async fn login(req: Request<Incoming>, api: &AccountsApi, caller: Caller) -> Answer {
    let request: Credentials = read_json(req, api.body_timeout).await?;
    api.sign_ins_per_minute.take(caller, Instant::now()).map_err(|over| refuse(&over))?;
    let name = request.name.trim();
    if !plausible(name, &request.password) {
        counter!("arena_account_events_total", "event" => "sign_in_refused").increment(1);
        return Err(wrong_credentials());
    }
    let key = Attempt::Name(name_key(name));
    api.sign_in_limit.begin(&key, caller.ip, Instant::now()).map_err(|over| {
        counter!("arena_account_events_total", "event" => "sign_in_backed_off").increment(1);
        refuse(&over)
    })?;
    let account = api.store.account_by_name(name).await.map_err(|e| unavailable(&e))?;
    let hash = account.as_ref().map(|a| a.password_hash.as_str());
    let account = match (api.passwords.verify(&request.password, hash).await.map_err(|e| busy(&e))?, account) {
        (true, Some(account)) => account,
        _ => {
            counter!("arena_account_events_total", "event" => "sign_in_refused").increment(1);
            return Err(wrong_credentials());
        }
    };
    let Some(id) = u32::try_from(account.id).ok().filter(|id| ACCOUNT_IDS.contains(id)) else {
        tracing::error!(id = account.id, "an account row's id is outside the accounts' range");
        return Err(error(StatusCode::SERVICE_UNAVAILABLE, "this account cannot sign in; tell the operator"));
    };
    api.sign_in_limit.succeeded(&key, caller.ip);
    counter!("arena_account_events_total", "event" => "signed_in").increment(1);
    let id = PlayerId(id);
    Ok(json(StatusCode::OK, &api.tokens.issue_account(id, &account.name, account.token_version)))
}

/// The account a request's `Authorization: Bearer <token>` is signed for, not yet
/// checked for revocation: (id, name, token version).
fn signed_account(req: &Request<Incoming>, api: &AccountsApi) -> Result<(i64, String, i64), Response<Body>> {
    let token = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            error(StatusCode::UNAUTHORIZED, "sign in first: Authorization: Bearer <token from /api/login>")
        })?;
    let (identity, version) =
        api.tokens.verify_versioned(token).map_err(|e| error(StatusCode::UNAUTHORIZED, &e.to_string()))?;
    let Some(version) = version.filter(|_| is_account_id(identity.player_id)) else {
        return Err(error(StatusCode::UNAUTHORIZED, "a guest's token: this needs an account's (POST /api/login)"));
    };
    Ok((i64::from(identity.player_id.0), identity.name, version))
}

/// Whether a signed token's version is still the account's, checked against the
/// database now (not the join cache).
async fn not_revoked(api: &AccountsApi, account: i64, version: i64) -> Result<(), Response<Body>> {
    let current = api.store.token_version(account).await.map_err(|e| unavailable(&e))?;
    if current != Some(version) {
        return Err(error(StatusCode::UNAUTHORIZED, "the session token was revoked: sign in again"));
    }
    Ok(())
}

/// The account a request's `Authorization: Bearer <token>` proves, checked against
/// the database now (not the join cache): (id, name, token version).
async fn bearer_account(req: &Request<Incoming>, api: &AccountsApi) -> Result<(i64, String, i64), Response<Body>> {
    let (account, name, version) = signed_account(req, api)?;
    not_revoked(api, account, version).await?;
    Ok((account, name, version))
}

/// `POST /api/logout`: every token of the account stops working (on every node
/// within the join cache's few seconds).
async fn logout(req: &Request<Incoming>, api: &AccountsApi) -> Answer {
    let (account, _, _) = bearer_account(req, api).await?;
    api.store.bump_token_version(account).await.map_err(|e| unavailable(&e))?;
    api.versions.forget(account);
    counter!("arena_account_events_total", "event" => "signed_out").increment(1);
    Ok(json(StatusCode::OK, &serde_json::json!({ "signed_out": true })))
}

/// Check the account's password for a change to it, with the same budgets as sign-in.
async fn confirm_password(
    api: &AccountsApi,
    account: i64,
    password: &str,
    caller: Caller,
) -> Result<(), Response<Body>> {
    api.sign_ins_per_minute.take(caller, Instant::now()).map_err(|over| refuse(&over))?;
    if !password_fits(password) {
        return Err(error(StatusCode::UNAUTHORIZED, "wrong password"));
    }
    let key = Attempt::Account(account);
    api.sign_in_limit.begin(&key, caller.ip, Instant::now()).map_err(|over| refuse(&over))?;
    let row = api.store.account_by_id(account).await.map_err(|e| unavailable(&e))?;
    let hash = row.as_ref().map(|a| a.password_hash.as_str());
    if !api.passwords.verify(password, hash).await.map_err(|e| busy(&e))? {
        return Err(error(StatusCode::UNAUTHORIZED, "wrong password"));
    }
    api.sign_in_limit.succeeded(&key, caller.ip);
    Ok(())
}

/// `POST /api/password {password, new_password}`: old tokens are revoked; answers a new one.
async fn change_password(req: Request<Incoming>, api: &AccountsApi, caller: Caller) -> Answer {
    let (account, name, _) = bearer_account(&req, api).await?;
    let request: PasswordChange = read_json(req, api.body_timeout).await?;
    if let Some(problem) = password_problem(&request.new_password) {
        return Err(error(StatusCode::BAD_REQUEST, &problem));
    }
    confirm_password(api, account, &request.password, caller).await?;
    let hash = api.passwords.hash(&request.new_password).await.map_err(|e| busy(&e))?;
    let version = api.store.set_password(account, &hash).await.map_err(|e| unavailable(&e))?;
    api.versions.forget(account);
    let version = version.ok_or_else(|| error(StatusCode::UNAUTHORIZED, "the account is gone"))?;
    counter!("arena_account_events_total", "event" => "password_changed").increment(1);
    Ok(json(StatusCode::OK, &api.tokens.issue_account(PlayerId(account as u32), &name, version)))
}

/// `DELETE /api/accounts/me {password}`: the account goes, its history stays anonymised.
async fn delete(req: Request<Incoming>, api: &AccountsApi, caller: Caller) -> Answer {
    let (account, _, _) = bearer_account(&req, api).await?;
    let request: PasswordOnly = read_json(req, api.body_timeout).await?;
    confirm_password(api, account, &request.password, caller).await?;
    api.store.delete_account(account, unix_ms()).await.map_err(|e| unavailable(&e))?;
    api.versions.forget(account);
    counter!("arena_account_events_total", "event" => "deleted").increment(1);
    Ok(json(StatusCode::OK, &serde_json::json!({ "deleted": true })))
}

/// A number from the query, within `range`, or a 400 naming it.
fn query_number(
    req: &Request<Incoming>,
    key: &str,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, Response<Body>> {
    match query_value(req, key) {
        None => Ok(default),
        Some(v) => v.parse::<i64>().ok().filter(|n| range.contains(n)).ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                &format!("{key} must be a whole number from {} to {}", range.start(), range.end()),
            )
        }),
    }
}

/// `GET /api/leaderboard[?limit=N]` or `?around=me` with the session token.
async fn leaderboard(req: &Request<Incoming>, api: &AccountsApi, caller: Caller) -> Answer {
    api.reads_per_minute.take(caller, Instant::now()).map_err(|over| refuse(&over))?;
    match query_value(req, "around").as_deref() {
        None => {
            let limit = query_number(req, "limit", DEFAULT_BOARD_LINES, 1..=MAX_BOARD_LINES)?;
            let ranked = api.store.ranked_players().await.map_err(|e| unavailable(&e))?;
            let lines = api.store.top(limit).await.map_err(|e| unavailable(&e))?;
            Ok(json(StatusCode::OK, &serde_json::json!({ "players": ranked, "lines": lines })))
        }
        Some("me") => {
            // The account's budget before any database read, so a call past it costs none.
            let (account, _, version) = signed_account(req, api)?;
            if !caller.exempt {
                api.account_reads_per_minute
                    .take_for((account, version), Instant::now())
                    .map_err(|over| refuse(&over))?;
            }
            not_revoked(api, account, version).await?;
            let ranked = api.store.ranked_players().await.map_err(|e| unavailable(&e))?;
            let lines = api.store.around(account, AROUND_SPAN).await.map_err(|e| unavailable(&e))?;
            let me = lines.iter().find(|l| l.player_id == account).map(|l| l.rank);
            Ok(json(StatusCode::OK, &serde_json::json!({ "players": ranked, "me": me, "lines": lines })))
        }
        Some(_) => Err(error(StatusCode::BAD_REQUEST, "around must be 'me' (with the session token)")),
    }
}

/// An account id from the path, or a 404.
fn path_account(id: &str) -> Result<i64, Response<Body>> {
    id.parse::<u32>()
        .ok()
        .filter(|id| ACCOUNT_IDS.contains(id))
        .map(i64::from)
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "no such player: only accounts have profiles"))
}

/// `GET /api/players/{id}`.
async fn profile(api: &AccountsApi, id: &str, caller: Caller) -> Answer {
    api.reads_per_minute.take(caller, Instant::now()).map_err(|over| refuse(&over))?;
    let account = path_account(id)?;
    match api.store.profile(account).await.map_err(|e| unavailable(&e))? {
        Some(profile) => Ok(json(StatusCode::OK, &profile)),
        None => Err(error(StatusCode::NOT_FOUND, "no such player")),
    }
}

/// `GET /api/players/{id}/matches[?before=MATCH_ID][&limit=N]`: newest first;
/// `next_before` pages on (null at the end).
async fn matches(req: &Request<Incoming>, api: &AccountsApi, id: &str, caller: Caller) -> Answer {
    api.reads_per_minute.take(caller, Instant::now()).map_err(|over| refuse(&over))?;
    let account = path_account(id)?;
    let limit = query_number(req, "limit", DEFAULT_PAGE, 1..=MAX_PAGE)?;
    let before = match query_value(req, "before") {
        None => None,
        Some(_) => Some(query_number(req, "before", 0, 1..=i64::MAX)?),
    };
    let page = api.store.matches_of(account, before, limit).await.map_err(|e| unavailable(&e))?;
    let next_before = (page.len() as i64 == limit).then(|| page.last().map(|m| m.match_id)).flatten();
    Ok(json(StatusCode::OK, &serde_json::json!({ "player_id": account, "matches": page, "next_before": next_before })))
}
