//! Accounts, ratings, the leaderboard and match history against a real SQLite file
//! and a real PostgreSQL server: the same scenario on both engines, rounds played
//! and closed in real rooms, and the database going away while rooms play.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use arena_protocol::PlayerId;
use arena_protocol::lobby::SessionGranted;
use arena_server::Config;
use arena_server::accounts::Store;
use arena_server::accounts::migrations::latest_version;
use arena_server::accounts::token_versions::{Revoked, TokenVersions};
use arena_server::accounts::writer::{self, CatchUp};
use arena_server::identity::ACCOUNT_IDS;
use arena_server::ops::results::{PlayerRecord, RoundRecord};
use serde_json::Value;

use crate::util::http::{create_room, http_json};
use crate::util::postgres::Postgres;
use crate::util::process::{server_command, spawn_command};
use crate::util::ws::{refused, welcomed};
use crate::util::{TestServer, eventually};

const ADMIN: &str = "an operator token of at least 32 bytes";
const WAIT_STORED: Duration = Duration::from_secs(15);
/// How long a count is watched after reaching its value, for a late double count.
const SETTLE: Duration = Duration::from_millis(500);

fn bearer(token: &str) -> String {
    format!("Authorization: Bearer {token}")
}

async fn post(addr: SocketAddr, path: &str, body: &str, headers: &[&str]) -> (u16, Value) {
    let response = http_json(addr, "POST", path, body, headers).await;
    (response.status, serde_json::from_str(&response.body).unwrap_or(Value::Null))
}

async fn get(addr: SocketAddr, path: &str, headers: &[&str]) -> (u16, Value) {
    let response = http_json(addr, "GET", path, "", headers).await;
    (response.status, serde_json::from_str(&response.body).unwrap_or(Value::Null))
}

async fn register(addr: SocketAddr, name: &str, password: &str) -> SessionGranted {
    let response =
        http_json(addr, "POST", "/api/accounts", &format!(r#"{{"name": "{name}", "password": "{password}"}}"#), &[])
            .await;
    assert_eq!(response.status, 201, "{}", response.body);
    serde_json::from_str(&response.body).unwrap()
}

async fn login(addr: SocketAddr, name: &str, password: &str) -> (u16, Value) {
    post(addr, "/api/login", &format!(r#"{{"name": "{name}", "password": "{password}"}}"#), &[]).await
}

/// A round in a real room: the account (by token) and a guest join, the operator
/// closes the room, and its round reaches the log (and so the database).
async fn play_a_round(addr: SocketAddr, token: &str) -> String {
    let room = create_room(addr, r#"{"name": "Ranked"}"#).await;
    let ws = |q: String| format!("ws://{addr}/ws?{q}");
    let (_me, _) = welcomed(&ws(format!("room={}&token={token}", room.id))).await;
    let (_guest, _) = welcomed(&ws(format!("room={}&name=visitor", room.id))).await;
    let closed = http_json(addr, "POST", &format!("/api/admin/rooms/{}/close", room.id), "", &[&bearer(ADMIN)]).await;
    assert!(closed.status < 300, "{}", closed.body);
    room.id
}

/// The value of one metric series of the node at `addr` (0 when absent).
async fn metric(addr: SocketAddr, series: &str) -> f64 {
    let page = http_json(addr, "GET", "/metrics", "", &[]).await;
    let series = format!("{series} ");
    page.body.lines().find_map(|line| line.strip_prefix(&series)?.parse().ok()).unwrap_or(0.0)
}

/// `arena_rounds_stored_total{outcome}` of the node at `addr` (0 when absent).
async fn rounds_stored(addr: SocketAddr, outcome: &str) -> f64 {
    metric(addr, &format!(r#"arena_rounds_stored_total{{outcome="{outcome}"}}"#)).await
}

async fn rounds_of(addr: SocketAddr, id: u32) -> i64 {
    get(addr, &format!("/api/players/{id}"), &[]).await.1["stats"]["rounds"].as_i64().unwrap_or(-1)
}

fn synthetic_round(n: u32, players: &[(u32, &str, u32, u32)]) -> RoundRecord {
    RoundRecord {
        room_id: format!("synthetic{n:03}"),
        room_name: "Synthetic".into(),
        round: n,
        reason: "score_limit".into(),
        ended_at_ms: 1_800_000_000_000 + u64::from(n),
        duration_s: 30.0,
        players: players
            .iter()
            .map(|&(id, name, kills, deaths)| PlayerRecord {
                player_id: PlayerId(id),
                name: name.into(),
                kills,
                deaths,
                bot: arena_server::identity::is_bot(PlayerId(id)),
            })
            .collect(),
    }
}

/// Everything the issue asks of the store and the API, on whichever engine `url` names.
async fn the_whole_story(url: &str) {
    // Migrations from empty, and again on a database already at the newest version.
    let store = Store::open(url).await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), latest_version());
    // Accounts as code before NFKC keys made them (key: the name lowered): the start
    // below rewrites ＺＯＥ's key to NFKC; ＢＥＮ's NFKC key is a newer account's, so it
    // keeps its old one. Both then hold their look-alikes off.
    let before_nfkc = "INSERT INTO accounts (name, name_key, password_hash, token_version, created_at_ms) \
                       VALUES ('ＺＯＥ', 'ｚｏｅ', 'x', 0, 0), ('ＢＥＮ', 'ｂｅｎ', 'x', 0, 0), ('ben', 'ben', 'x', 0, 1)";
    store.seed_for_benchmark(&[before_nfkc], 0, "").await.unwrap();
    let mut config = Config::for_tests();
    config.database_url = url.to_string();
    config.admin_token = Some(ADMIN.into());
    config.sign_ins_per_ip_per_minute = 100;
    let server = TestServer::start_with(config).await;
    let addr = server.addr;

    // Sign up: an account id below 2^30, a token like /api/session's.
    let ann = register(addr, "Ann", "correct horse").await;
    assert!(ACCOUNT_IDS.contains(&ann.player_id.0), "{:?}", ann.player_id);
    let (status, body) = post(addr, "/api/accounts", r#"{"name": "ANN", "password": "another one"}"#, &[]).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("that name is taken")));
    // Look-alikes are one name: full-width letters normalise (NFKC) to the same key.
    let (status, body) = post(addr, "/api/accounts", r#"{"name": "ＡＮＮ", "password": "another one"}"#, &[]).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("that name is taken")), "{body}");
    let (status, _) = post(addr, "/api/accounts", r#"{"name": "Shorty", "password": "short"}"#, &[]).await;
    assert_eq!(status, 400);
    let (status, body) = post(addr, "/api/session", r#"{"name": "ann"}"#, &[]).await;
    assert_eq!(status, 409, "a guest may not take an account's name: {body}");
    // Accounts from before NFKC keys, after the start's rewrite.
    for look_alike in ["zoe", "Ｚｏｅ", "ｂｅｎ", "Ben"] {
        let (status, body) =
            post(addr, "/api/accounts", &format!(r#"{{"name": "{look_alike}", "password": "another one"}}"#), &[])
                .await;
        assert_eq!((status, body["error"].as_str()), (409, Some("that name is taken")), "{look_alike}: {body}");
        let (status, body) = post(addr, "/api/session", &format!(r#"{{"name": "{look_alike}"}}"#), &[]).await;
        assert_eq!(status, 409, "{look_alike} as a guest: {body}");
    }
    let named = async |name: &str| store.account_by_name(name).await.unwrap().map(|a| a.name);
    assert_eq!(named("zoe").await.as_deref(), Some("ＺＯＥ"), "found by its new key");
    assert_eq!(named("ＢＥＮ").await.as_deref(), Some("ＢＥＮ"), "found by the old key it kept");
    assert_eq!(named("ben").await.as_deref(), Some("ben"));

    // The guests' default name, deleted players' and bot-like names are no account's,
    // so nameless guest play (the lobby page sends "guest") keeps working.
    for reserved in ["guest", " GUEST ", "deleted player", "Bot", "bot 7", "BotMaster"] {
        let (status, body) =
            post(addr, "/api/accounts", &format!(r#"{{"name": "{reserved}", "password": "long enough"}}"#), &[]).await;
        assert_eq!(status, 400, "{reserved:?} is reserved: {body}");
    }
    for nameless in [r#"{"name": "guest"}"#, r#"{"name": ""}"#] {
        let (status, body) = post(addr, "/api/session", nameless, &[]).await;
        assert_eq!(status, 200, "{nameless}: {body}");
    }

    // Guesses sent at once cannot all slip past the per-name back-off: each is counted
    // before its password is hashed, so at most 3 are checked and the rest wait.
    let guesses = (0..10).map(|_| login(addr, "parallel-target", "wrong guess!"));
    let answers = futures_util::future::join_all(guesses).await;
    let checked = answers.iter().filter(|(status, _)| *status == 401).count();
    let backed_off = answers.iter().filter(|(s, b)| *s == 429 && b["budget"] == "sign_in_per_account").count();
    assert_eq!((checked, backed_off), (3, 7), "{answers:?}");

    // Sign-in failures say the same whether or not the name exists.
    let wrong_password = login(addr, "ann", "wrong horse!").await;
    let no_such_name = login(addr, "nobody-here", "wrong horse!").await;
    assert_eq!(wrong_password.0, 401);
    assert_eq!(wrong_password, no_such_name);
    let (status, signed_in) = login(addr, "ann", "correct horse").await;
    assert_eq!((status, signed_in["player_id"].as_u64()), (200, Some(u64::from(ann.player_id.0))));
    let token = signed_in["token"].as_str().unwrap().to_string();

    // A round in a real room: stored with ratings; the guest appears unrated.
    let room = play_a_round(addr, &token).await;
    eventually("the round stored", WAIT_STORED, async || rounds_of(addr, ann.player_id.0).await == 1).await;
    let (_, page) = get(addr, &format!("/api/players/{}/matches", ann.player_id.0), &[]).await;
    let played = &page["matches"][0];
    assert_eq!(played["room_id"], room.as_str());
    assert_eq!(played["player_count"], 2);
    assert_eq!(played["me"]["kind"], "account");
    assert!(played["me"]["rating_after"].is_f64());
    let guest = played["top"].as_array().unwrap().iter().find(|l| l["kind"] == "guest").expect("the guest's line");
    assert!(guest["rating_after"].is_null(), "guests have no rating");
    let (_, board) = get(addr, "/api/leaderboard?around=me", &[&bearer(&token)]).await;
    assert_eq!(board["me"], 1, "{board}");

    // Sign-out revokes the token at join and on the API; signing in again works.
    let (status, _) = post(addr, "/api/logout", "", &[&bearer(&token)]).await;
    assert_eq!(status, 200);
    let (code, reason) = refused(&format!("ws://{addr}/ws?token={token}")).await;
    assert_eq!(code, 1008, "{reason}");
    assert!(reason.contains("revoked"), "{reason}");
    assert_eq!(get(addr, "/api/leaderboard?around=me", &[&bearer(&token)]).await.0, 401);

    // Back-off per name: after 3 wrong passwords the next try waits, even a right one.
    for _ in 0..3 {
        assert_eq!(login(addr, "ann", "not it at all").await.0, 401);
    }
    let (status, body) = login(addr, "ann", "correct horse").await;
    assert_eq!((status, body["budget"].as_str()), (429, Some("sign_in_per_account")));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, signed_in) = login(addr, "ann", "correct horse").await;
    assert_eq!(status, 200);
    let token = signed_in["token"].as_str().unwrap().to_string();

    // A password change revokes the old token and answers a new one.
    let change = r#"{"password": "correct horse", "new_password": "battery staple"}"#;
    let (status, changed) = post(addr, "/api/password", change, &[&bearer(&token)]).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(get(addr, "/api/leaderboard?around=me", &[&bearer(&token)]).await.0, 401);
    let token = changed["token"].as_str().unwrap().to_string();
    assert_eq!(get(addr, "/api/leaderboard?around=me", &[&bearer(&token)]).await.0, 200);

    // Ratings, ties and paging, through the store the server uses.
    let bob = register(addr, "bob", "bob's password").await.player_id.0;
    let cat = register(addr, "cat", "cat's password").await.player_id.0;
    let dan = register(addr, "dan", "dan's password").await.player_id.0;
    let me = ann.player_id.0;
    for n in 0..24 {
        let round = synthetic_round(n, &[(me, "Ann", 5, 0), (bob, "bob", 1, 3), (0x9000_0000, "guest", 0, 5)]);
        assert!(store.store_round(&round, None).await.unwrap());
        assert!(!store.store_round(&round, None).await.unwrap(), "a round is stored once");
    }
    // cat and dan share a place in the same round: the same rating, the same rank.
    let tie = synthetic_round(100, &[(cat, "cat", 2, 1), (dan, "dan", 2, 1), (0x4000_0001, "bot", 0, 2)]);
    assert!(store.store_round(&tie, None).await.unwrap());
    let (_, board) = get(addr, "/api/leaderboard?limit=10", &[]).await;
    let lines = board["lines"].as_array().unwrap();
    let line = |id: u32| lines.iter().find(|l| l["player_id"] == id).unwrap_or_else(|| panic!("{id} in {board}"));
    assert_eq!(line(me)["rank"], 1);
    assert_eq!(line(cat)["rank"], line(dan)["rank"], "a tie shares its rank: {board}");
    assert_eq!(line(cat)["rating"], line(dan)["rating"]);
    let after_tie = lines
        .iter()
        .position(|l| l["player_id"] == dan)
        .unwrap()
        .max(lines.iter().position(|l| l["player_id"] == cat).unwrap());
    if let Some(next) = lines.get(after_tie + 1) {
        assert_eq!(
            next["rank"].as_i64().unwrap(),
            after_tie as i64 + 2,
            "the rank after a tie counts everyone above: {board}"
        );
    }
    assert!(line(bob)["rating"].as_f64().unwrap() < line(me)["rating"].as_f64().unwrap());
    // Around me, with everyone within five lines: the same lines and ranks as the top
    // (ranks come from a cache at most a few seconds stale).
    eventually("around=me to match the top", WAIT_STORED, async || {
        let (_, around) = get(addr, "/api/leaderboard?around=me", &[&bearer(&token)]).await;
        around["lines"] == board["lines"] && around["me"] == 1 && around["players"] == 4
    })
    .await;
    let (_, profile) = get(addr, &format!("/api/players/{me}"), &[]).await;
    assert_eq!((profile["stats"]["rounds"].as_i64(), profile["stats"]["wins"].as_i64()), (Some(25), Some(24)));
    assert_eq!(profile["stats"]["kills"], 120);

    // House bots are no rating opponents: dan beating two bots changes his rounds,
    // not his rating (the round is in his history all the same).
    let (_, before) = get(addr, &format!("/api/players/{dan}"), &[]).await;
    let bots = synthetic_round(101, &[(dan, "dan", 9, 0), (0x4000_0002, "Ada", 0, 5), (0x4000_0003, "Grace", 0, 4)]);
    assert!(store.store_round(&bots, None).await.unwrap());
    let (_, after) = get(addr, &format!("/api/players/{dan}"), &[]).await;
    assert_eq!(after["stats"]["rating"], before["stats"]["rating"], "{before} -> {after}");
    assert_eq!(after["stats"]["rounds"].as_i64(), before["stats"]["rounds"].as_i64().map(|r| r + 1));

    // History pages: newest first, every match once.
    let mut seen = Vec::new();
    let mut path = format!("/api/players/{me}/matches?limit=10");
    loop {
        let (status, page) = get(addr, &path, &[]).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(page["matches"].as_array().unwrap().iter().map(|m| m["match_id"].as_i64().unwrap()));
        match page["next_before"].as_i64() {
            Some(before) => path = format!("/api/players/{me}/matches?limit=10&before={before}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first, no repeats: {seen:?}");
    assert_eq!(get(addr, &format!("/api/players/{me}/matches?limit=0"), &[]).await.0, 400);
    assert_eq!(get(addr, "/api/players/3000000000", &[]).await.0, 404);

    // Deletion: the account, its rank and its name go; its history stays, anonymised.
    let wrong = http_json(addr, "DELETE", "/api/accounts/me", r#"{"password": "nope nope"}"#, &[&bearer(&token)]).await;
    assert_eq!(wrong.status, 401);
    let deleted =
        http_json(addr, "DELETE", "/api/accounts/me", r#"{"password": "battery staple"}"#, &[&bearer(&token)]).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(get(addr, &format!("/api/players/{me}"), &[]).await.0, 404);
    let (_, board) = get(addr, "/api/leaderboard", &[]).await;
    assert!(board["lines"].as_array().unwrap().iter().all(|l| l["player_id"] != me), "{board}");
    let (_, bobs) = get(addr, &format!("/api/players/{bob}/matches?limit=1"), &[]).await;
    let first = &bobs["matches"][0]["top"][0];
    assert_eq!((first["name"].as_str(), first["kind"].as_str()), (Some("deleted player"), Some("account")));
    assert_eq!(first["player_id"], 0, "no link back to the deleted id: {first}");
    // A round of the deleted id stored later (it waited in the log) does not bring the name back.
    let late = synthetic_round(200, &[(me, "Ann", 3, 0), (bob, "bob", 1, 1)]);
    assert!(store.store_round(&late, None).await.unwrap());
    let (_, bobs) = get(addr, &format!("/api/players/{bob}/matches?limit=1"), &[]).await;
    let late_line = &bobs["matches"][0]["top"][0];
    assert_eq!(
        (late_line["name"].as_str(), late_line["player_id"].as_i64()),
        (Some("deleted player"), Some(0)),
        "{bobs}"
    );
    assert_eq!(refused(&format!("ws://{addr}/ws?token={token}")).await.0, 1008);
    let again = register(addr, "ann", "a new beginning").await;
    assert_ne!(again.player_id, ann.player_id, "ids are never reused");

    server.shutdown().await;
    store.close().await;
}

/// The join's revocation check without a fresh answer: a cached answer decides; with
/// none, a database that answers with an error refuses the token, and one that cannot
/// be reached lets it in (docs/ACCOUNTS.md, "Revocation while the database is away").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_let_in_unchecked_only_while_the_database_is_down() {
    let file = std::env::temp_dir().join(format!("arena-versions-{}-{}.db", std::process::id(), rand::random::<u32>()));
    let store = Store::open(&format!("sqlite://{}", file.display())).await.unwrap();
    let versions = TokenVersions::new(store.clone());
    let ann = store.create_account("ann", "not a real hash", 0).await.unwrap().unwrap();
    let bob = store.create_account("bob", "not a real hash", 0).await.unwrap().unwrap();
    versions.check(ann, 0).await.expect("the current version");
    assert_eq!(versions.check(ann, 1).await, Err(Revoked::Revoked));
    // The database answers, with an error: refused, unless a cached answer decides.
    store.seed_for_benchmark(&["ALTER TABLE accounts RENAME TO accounts_away"], 0, "").await.unwrap();
    assert_eq!(versions.check(bob, 0).await, Err(Revoked::Unchecked));
    versions.check(ann, 0).await.expect("ann's cached answer decides");
    // The database cannot be reached: let in.
    store.close().await;
    versions.check(bob, 0).await.expect("let in while the database is down");
    let _ = std::fs::remove_file(&file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_ratings_and_history_on_sqlite() {
    let file = std::env::temp_dir().join(format!("arena-accounts-{}-{}.db", std::process::id(), rand::random::<u32>()));
    the_whole_story(&format!("sqlite://{}", file.display())).await;
    let _ = std::fs::remove_file(&file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_ratings_and_history_on_postgres() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    the_whole_story(&pg.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_play_on_while_the_database_is_down_and_every_round_is_stored_once() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let data = std::env::temp_dir().join(format!("arena-fault-{}-{}", std::process::id(), rand::random::<u32>()));
    let args = ["--database-url", &pg.url(), "--admin-token", ADMIN, "--data-dir", data.to_str().unwrap()];
    let start = async || {
        let mut command = server_command();
        command.args(["--addr", "127.0.0.1:0"]).args(args).env("NO_COLOR", "1");
        spawn_command(command).await
    };
    let node = start().await;
    let ann = register(node.addr, "ann", "correct horse").await;
    play_a_round(node.addr, &ann.token).await;
    eventually("the first round stored", WAIT_STORED, async || rounds_of(node.addr, ann.player_id.0).await == 1).await;
    // The harness runs PostgreSQL with synchronous_commit off, so an immediate stop
    // loses the last fraction of a second of commits (rounds would be stored again from
    // the log; the log's mark would be lost). Put the mark on disk before the stop.
    let watcher = Store::open(&pg.url()).await.unwrap();
    eventually("the log's mark saved", WAIT_STORED, async || !watcher.log_marks().await.unwrap().is_empty()).await;
    watcher.seed_for_benchmark(&["CHECKPOINT"], 0, "").await.unwrap();
    watcher.close().await;

    pg.halt();
    // Rooms keep playing and rounds keep ending; the log has them.
    for _ in 0..2 {
        play_a_round(node.addr, &ann.token).await;
    }
    let (status, _) = get(node.addr, &format!("/api/players/{}", ann.player_id.0), &[]).await;
    assert_eq!(status, 503, "the API says the database is away");
    let logged = async || std::fs::read_to_string(data.join("results.jsonl")).unwrap_or_default().lines().count();
    eventually("three rounds in the log", WAIT_STORED, async || logged().await == 3).await;

    pg.resume();
    eventually("the missed rounds stored", WAIT_STORED, async || rounds_of(node.addr, ann.player_id.0).await == 3)
        .await;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(rounds_of(node.addr, ann.player_id.0).await, 3, "no round counted twice after the catch-up");
    drop(node);
    // A restart reads only what the log gained past the mark the database keeps:
    // nothing here, and stores nothing twice.
    let node = start().await;
    eventually("the restart's catch-up", WAIT_STORED, async || metric(node.addr, "arena_database_up").await == 1.0)
        .await;
    assert_eq!(metric(node.addr, "arena_rounds_read_back_total").await, 0.0, "the log is not read again");
    assert_eq!(rounds_stored(node.addr, "stored").await, 0.0);
    assert_eq!(rounds_of(node.addr, ann.player_id.0).await, 3);
    // And the mark goes on from there (a new node: a new token secret, sign in again).
    let (status, signed_in) = login(node.addr, "ann", "correct horse").await;
    assert_eq!(status, 200, "{signed_in}");
    play_a_round(node.addr, signed_in["token"].as_str().unwrap()).await;
    eventually("the round after the restart", WAIT_STORED, async || rounds_of(node.addr, ann.player_id.0).await == 4)
        .await;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(rounds_of(node.addr, ann.player_id.0).await, 4, "and no later double count");
    assert_eq!(rounds_stored(node.addr, "stored").await, 1.0);
    let (_, page) = get(node.addr, &format!("/api/players/{}/matches", ann.player_id.0), &[]).await;
    assert_eq!(page["matches"].as_array().unwrap().len(), 4);
    drop(node);
    let _ = std::fs::remove_dir_all(&data);
}

/// Appends rounds `numbers` (one guest each) to the log at `path` as the results log
/// writes them, and `tail` after them (part of a line being written).
fn append_rounds(path: &Path, numbers: std::ops::Range<u32>, tail: &str) {
    let mut text = String::new();
    for n in numbers {
        text += &serde_json::to_string(&synthetic_round(n, &[(0x9000_0000 + n, "guest", 1, 0)])).unwrap();
        text.push('\n');
    }
    text += tail;
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
}

/// What a catch-up by a writer that just started (no mark in memory) does.
async fn catch_up_after_restart(store: &Store, log: &Path) -> CatchUp {
    writer::catch_up(store, log, &mut writer::Mark::default()).await.unwrap()
}

/// A fresh folder holding an SQLite store, and the results log's path in it.
async fn log_beside_a_store(name: &str) -> (std::path::PathBuf, std::path::PathBuf, Store) {
    let dir = std::env::temp_dir().join(format!("arena-{name}-{}-{}", std::process::id(), rand::random::<u32>()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::open(&format!("sqlite://{}", dir.join("arena.db").display())).await.unwrap();
    (dir.clone(), dir.join("results.jsonl"), store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_reads_the_results_log_from_its_mark_through_rotations() {
    let (dir, log, store) = log_beside_a_store("marks").await;
    let caught_up = |read, stored| CatchUp { read, stored };

    append_rounds(&log, 0..3, "");
    assert_eq!(catch_up_after_restart(&store, &log).await, caught_up(3, 3));
    // A line still being written is left for later, then read once whole.
    let next = serde_json::to_string(&synthetic_round(3, &[(0x9000_0003, "guest", 1, 0)])).unwrap();
    let (head, rest) = next.split_at(20);
    append_rounds(&log, 0..0, head);
    assert_eq!(catch_up_after_restart(&store, &log).await, caught_up(0, 0));
    append_rounds(&log, 0..0, &format!("{rest}\n"));
    append_rounds(&log, 4..5, "");
    assert_eq!(catch_up_after_restart(&store, &log).await, caught_up(2, 2));
    // Rotation: the marked file, renamed aside, is still found; the new one is read whole.
    std::fs::rename(&log, dir.join("results.jsonl.20261207T070000Z")).unwrap();
    append_rounds(&log, 5..7, "");
    assert_eq!(catch_up_after_restart(&store, &log).await, caught_up(2, 2));
    assert_eq!(catch_up_after_restart(&store, &log).await, caught_up(0, 0));
    // A log the mark does not match (replaced by another) is read whole, and no round
    // is stored twice.
    std::fs::remove_file(dir.join("results.jsonl.20261207T070000Z")).unwrap();
    std::fs::remove_file(&log).unwrap();
    append_rounds(&log, 0..8, "");
    assert_eq!(catch_up_after_restart(&store, &log).await, caught_up(8, 1));
    assert_eq!(catch_up_after_restart(&store, &log).await, caught_up(0, 0));
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A log file that cannot be opened stops the catch-up: no round after it is read
/// (from the wrong place, or at all) and the mark stays before it, so once the file
/// can be read its rounds are stored too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_file_that_cannot_be_read_is_not_skipped() {
    let (dir, log, store) = log_beside_a_store("unread").await;
    append_rounds(&dir.join("results.jsonl.20261207T060000Z"), 0..3, "");
    // Rotated aside, but not readable now (a link to where the file is not yet).
    let missing = dir.join("away.jsonl");
    std::os::unix::fs::symlink(&missing, dir.join("results.jsonl.20261207T070000Z")).unwrap();
    append_rounds(&log, 6..8, "");
    let failed = writer::catch_up(&store, &log, &mut writer::Mark::default()).await;
    assert!(matches!(failed, Err(writer::CatchUpError::Log { .. })), "{failed:?}");
    append_rounds(&missing, 3..6, "");
    assert_eq!(catch_up_after_restart(&store, &log).await, CatchUp { read: 5, stored: 5 });
    assert_eq!(catch_up_after_restart(&store, &log).await, CatchUp { read: 0, stored: 0 });
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sqlite_database_with_redis_stops_the_start() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_arena-server"))
        .args(["--addr", "127.0.0.1:0", "--redis-url", "redis://127.0.0.1:1", "--jwt-secret", ADMIN])
        .env("NO_COLOR", "1")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(15), output).await.expect("the node exits").unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--redis-url with an SQLite --database-url"), "{stderr}");
}

/// Ann's rating after `rounds` stored one after another on a fresh SQLite database
/// whose accounts `names` get the same ids as on the database under test.
async fn rating_stored_in_turn(names: &[&str], rounds: &[&RoundRecord], ann: i64) -> (i64, f64) {
    let file = std::env::temp_dir().join(format!("arena-in-turn-{}-{}.db", std::process::id(), rand::random::<u32>()));
    let store = Store::open(&format!("sqlite://{}", file.display())).await.unwrap();
    for name in names {
        store.create_account(name, "not a real hash", 0).await.unwrap().unwrap();
    }
    for round in rounds {
        assert!(store.store_round(round, None).await.unwrap());
    }
    let stats = store.profile(ann).await.unwrap().unwrap().stats;
    store.close().await;
    let _ = std::fs::remove_file(&file);
    (stats.rounds, stats.rating)
}

/// Two nodes store rounds that share a player at the same moment: the second waits
/// for the first's lock on the player and then rates from the first's result. (Rated
/// from what its statement saw before the wait, it overwrote the first round's rating
/// change: the player's uncertainty shrank once for two rounds.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_storing_rounds_of_one_player_at_once_both_count_in_the_rating() {
    use sqlx::Connection;
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let (node_a, node_b) = (Store::open(&pg.url()).await.unwrap(), Store::open(&pg.url()).await.unwrap());
    let names = ["ann", "bob", "cat"];
    let mut ids = Vec::new();
    for name in names {
        ids.push(node_a.create_account(name, "not a real hash", 0).await.unwrap().unwrap());
    }
    let [ann, bob, cat] = [ids[0], ids[1], ids[2]];
    let round_a = synthetic_round(1, &[(ann as u32, "ann", 3, 0), (bob as u32, "bob", 0, 3)]);
    let round_b = synthetic_round(2, &[(ann as u32, "ann", 3, 0), (cat as u32, "cat", 0, 3)]);

    // Hold ann's row, so both rounds begin and then queue for it.
    let mut holder = sqlx::PgConnection::connect(&pg.url()).await.unwrap();
    let mut held = holder.begin().await.unwrap();
    sqlx::query("SELECT id FROM accounts WHERE id = $1 FOR UPDATE").bind(ann).execute(&mut *held).await.unwrap();
    let store = |node: &Store, round: &RoundRecord| {
        let (node, round) = (node.clone(), round.clone());
        tokio::spawn(async move { node.store_round(&round, None).await.unwrap() })
    };
    let (stored_a, stored_b) = (store(&node_a, &round_a), store(&node_b, &round_b));
    let watcher = sqlx::PgPool::connect(&pg.url()).await.unwrap();
    let waiting = "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = 'arena'";
    eventually("both rounds waiting for ann's row", WAIT_STORED, async || {
        sqlx::query_scalar::<_, i64>(waiting).fetch_one(&watcher).await.unwrap() == 2
    })
    .await;
    held.commit().await.unwrap();
    assert!(stored_a.await.unwrap() && stored_b.await.unwrap());

    let stats = node_a.profile(ann).await.unwrap().unwrap().stats;
    let a_then_b = rating_stored_in_turn(&names, &[&round_a, &round_b], ann).await;
    let b_then_a = rating_stored_in_turn(&names, &[&round_b, &round_a], ann).await;
    let b_alone = rating_stored_in_turn(&names, &[&round_b], ann).await;
    assert_eq!(a_then_b.0, 2);
    assert_ne!(a_then_b.1, b_alone.1, "two rounds rate differently from one");
    assert!(
        (stats.rounds, stats.rating) == a_then_b || (stats.rounds, stats.rating) == b_then_a,
        "{stats:?}: as if stored one after the other ({a_then_b:?} or {b_then_a:?})"
    );
    watcher.close().await;
    node_a.close().await;
    node_b.close().await;
}
