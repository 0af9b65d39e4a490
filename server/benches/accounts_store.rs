//! The accounts database at size: a million accounts (one precomputed password hash
//! reused) with stats, and a million matches, on SQLite and on PostgreSQL (a throwaway
//! server started here, as the tests do). Measures `GET /api/leaderboard?around=me`
//! over HTTP against a real server on that database, and storing a 50-player round.
//!
//! `cargo bench -p arena-server --bench accounts_store` (both engines), or add
//! `-- sqlite` / `-- postgres` for one. Prints a markdown table for BENCHMARKS.md.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use arena_protocol::PlayerId;
use arena_server::Config;
use arena_server::accounts::Store;
use arena_server::identity::Tokens;
use arena_server::ops::results::{PlayerRecord, RoundRecord};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[path = "../tests/integration/util/postgres.rs"]
mod postgres;

/// For `postgres.rs`, which picks its port this way in the tests.
fn free_loopback_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

const ACCOUNTS: i64 = 1_000_000;
/// As many matches as accounts: the seeding binds one count for both.
const MATCHES: i64 = ACCOUNTS;
const SECRET: &str = "a benchmark secret of at least 32 bytes";
const READS: usize = 3_000;
const ROUNDS: u32 = 500;
/// One Argon2id PHC string for every seeded account (nobody signs in here).
const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2VlZHNlZWRzZWVkc2VlZA$0Pj0hXbkMbH9yq8b3mJfWq6QHqJ2i6n0m2w7n1p4Zx8";

const SEED_SQLITE: &[&str] = &[
    "INSERT INTO accounts (name, name_key, password_hash, token_version, created_at_ms) \
     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
     SELECT 'p' || i, 'p' || i, $2, 0, 0 FROM n",
    "INSERT INTO stats (account_id, rounds, wins, kills, deaths, score, mu, sigma, rating) \
     SELECT id, 10, 2, 30, 25, 30, m, 3.0, m - 9.0 FROM (SELECT id, 15.0 + (abs(random()) % 2000000) / 100000.0 AS m FROM accounts)",
    "INSERT INTO matches (round_id, room_id, room_name, round, reason, ended_at_ms, duration_s, player_count) \
     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
     SELECT 'seed/' || i, 'seedroom', 'Seed', i, 'score_limit', i, 60.0, 2 FROM n",
    "INSERT INTO match_players (match_id, line, place, player_id, account_id, kind, name, kills, deaths, score, rating_before, rating_after) \
     SELECT id, 0, 1, (id % $1) + 1, (id % $1) + 1, 'account', 'p', 3, 1, 3, 1.0, 1.1 FROM matches",
    "ANALYZE",
];

const SEED_POSTGRES: &[&str] = &[
    // Seeding takes longer than the store's statement timeout allows a query.
    "SET LOCAL statement_timeout = 0",
    "INSERT INTO accounts (name, name_key, password_hash, token_version, created_at_ms) \
     SELECT 'p' || i, 'p' || i, $2, 0, 0 FROM generate_series(1, $1) AS i",
    "INSERT INTO stats (account_id, rounds, wins, kills, deaths, score, mu, sigma, rating) \
     SELECT id, 10, 2, 30, 25, 30, m, 3.0, m - 9.0 FROM (SELECT id, 15.0 + random() * 20.0 AS m FROM accounts) AS r",
    "INSERT INTO matches (round_id, room_id, room_name, round, reason, ended_at_ms, duration_s, player_count) \
     SELECT 'seed/' || i, 'seedroom', 'Seed', i, 'score_limit', i, 60.0, 2 FROM generate_series(1, $1) AS i",
    "INSERT INTO match_players (match_id, line, place, player_id, account_id, kind, name, kills, deaths, score, rating_before, rating_after) \
     SELECT id, 0, 1, (id % $1) + 1, (id % $1) + 1, 'account', 'p', 3, 1, 3, 1.0, 1.1 FROM matches",
    "ANALYZE",
];

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

/// One keep-alive GET; the whole response's body.
async fn get(stream: &mut TcpStream, path: &str, token: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
        .unwrap();
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.unwrap();
    String::from_utf8(body).unwrap()
}

async fn bench(engine: &str, url: &str) -> String {
    let store = Store::open(url).await.unwrap();
    let started = Instant::now();
    let seed = if engine == "sqlite" { SEED_SQLITE } else { SEED_POSTGRES };
    store.seed_for_benchmark(seed, ACCOUNTS, HASH).await.unwrap();
    let seeded_s = started.elapsed().as_secs_f64();
    eprintln!("{engine}: seeded {ACCOUNTS} accounts and {MATCHES} matches in {seeded_s:.1} s");

    let mut config = Config::for_tests();
    config.database_url = url.to_string();
    config.jwt_secret = Some(SECRET.into());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(arena_server::run(listener, config, async {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_millis(300)).await;

    let tokens = Tokens::new(Some(SECRET), Duration::from_secs(3600));
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut reads = Vec::with_capacity(READS);
    for i in 0..READS + 100 {
        let id = rand::random_range(1..=ACCOUNTS as u32);
        let token = tokens.issue_account(PlayerId(id), &format!("p{id}"), 0).token;
        let t = Instant::now();
        let body = get(&mut stream, "/api/leaderboard?around=me", &token).await;
        if i >= 100 {
            reads.push(t.elapsed());
        }
        assert!(body.contains(&format!("\"player_id\":{id},")), "{body}");
    }
    reads.sort();

    let mut stores = Vec::with_capacity(ROUNDS as usize);
    for n in 0..ROUNDS {
        let players = (0..50)
            .map(|k| {
                let id = rand::random_range(1..=ACCOUNTS as u32);
                PlayerRecord {
                    player_id: PlayerId(id),
                    name: format!("p{id}"),
                    kills: k % 7,
                    deaths: k % 5,
                    bot: false,
                }
            })
            .collect();
        let round = RoundRecord {
            room_id: format!("bench{n}"),
            room_name: "Bench".into(),
            round: 1,
            reason: "score_limit".into(),
            ended_at_ms: 2_000_000_000_000 + u64::from(n),
            duration_s: 60.0,
            players,
        };
        let t = Instant::now();
        assert!(store.store_round(&round, None).await.unwrap());
        stores.push(t.elapsed());
    }
    stores.sort();
    let _ = stop.send(());
    let _ = server.await;
    store.close().await;
    format!(
        "| {engine} | {:.0} s | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
        seeded_s,
        percentile(&reads, 0.5),
        percentile(&reads, 0.99),
        percentile(&reads, 1.0),
        percentile(&stores, 0.5),
        percentile(&stores, 0.99),
        percentile(&stores, 1.0),
    )
}

fn main() {
    let only: Vec<String> = std::env::args().skip(1).filter(|a| a == "sqlite" || a == "postgres").collect();
    let wanted = |engine: &str| only.is_empty() || only.iter().any(|o| o == engine);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let mut rows = Vec::new();
    if wanted("sqlite") {
        let dir = std::env::temp_dir().join(format!("arena-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        rows.push(runtime.block_on(bench("sqlite", &format!("sqlite://{}", dir.join("bench.db").display()))));
        let _ = std::fs::remove_dir_all(&dir);
    }
    if wanted("postgres") {
        let pg = postgres::Postgres::start();
        rows.push(runtime.block_on(bench("postgres", &pg.url())));
    }
    println!("| engine | seeding | around=me p50 ms | p99 ms | max ms | round store p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
}
