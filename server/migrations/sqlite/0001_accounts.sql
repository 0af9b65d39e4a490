-- Accounts, their stats and ratings, and match history (SQLite).
-- AUTOINCREMENT: a deleted account's id is never handed out again.
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT,
    name_key TEXT UNIQUE,
    password_hash TEXT,
    token_version INTEGER NOT NULL DEFAULT 0,
    created_at_ms INTEGER NOT NULL,
    deleted_at_ms INTEGER
);

CREATE TABLE stats (
    account_id INTEGER PRIMARY KEY REFERENCES accounts(id),
    rounds INTEGER NOT NULL DEFAULT 0,
    wins INTEGER NOT NULL DEFAULT 0,
    kills INTEGER NOT NULL DEFAULT 0,
    deaths INTEGER NOT NULL DEFAULT 0,
    score INTEGER NOT NULL DEFAULT 0,
    mu REAL NOT NULL,
    sigma REAL NOT NULL,
    rating REAL NOT NULL
);
CREATE INDEX stats_by_rating ON stats (rating DESC, account_id ASC);

CREATE TABLE matches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    round_id TEXT NOT NULL UNIQUE,
    room_id TEXT NOT NULL,
    room_name TEXT NOT NULL,
    round INTEGER NOT NULL,
    reason TEXT NOT NULL,
    ended_at_ms INTEGER NOT NULL,
    duration_s REAL NOT NULL,
    player_count INTEGER NOT NULL
);

CREATE TABLE match_players (
    match_id INTEGER NOT NULL REFERENCES matches(id),
    line INTEGER NOT NULL,
    place INTEGER NOT NULL,
    player_id INTEGER NOT NULL,
    account_id INTEGER,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    kills INTEGER NOT NULL,
    deaths INTEGER NOT NULL,
    score INTEGER NOT NULL,
    rating_before REAL,
    rating_after REAL,
    PRIMARY KEY (match_id, line)
);
CREATE INDEX match_players_by_account ON match_players (account_id, match_id DESC);
