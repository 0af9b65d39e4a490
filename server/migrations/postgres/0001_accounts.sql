-- Accounts, their stats and ratings, and match history (PostgreSQL).
-- Identity columns never hand a deleted account's id out again.
CREATE TABLE accounts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT,
    name_key TEXT UNIQUE,
    password_hash TEXT,
    token_version BIGINT NOT NULL DEFAULT 0,
    created_at_ms BIGINT NOT NULL,
    deleted_at_ms BIGINT
);

CREATE TABLE stats (
    account_id BIGINT PRIMARY KEY REFERENCES accounts(id),
    rounds BIGINT NOT NULL DEFAULT 0,
    wins BIGINT NOT NULL DEFAULT 0,
    kills BIGINT NOT NULL DEFAULT 0,
    deaths BIGINT NOT NULL DEFAULT 0,
    score BIGINT NOT NULL DEFAULT 0,
    mu DOUBLE PRECISION NOT NULL,
    sigma DOUBLE PRECISION NOT NULL,
    rating DOUBLE PRECISION NOT NULL
);
CREATE INDEX stats_by_rating ON stats (rating DESC, account_id ASC);

CREATE TABLE matches (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    round_id TEXT NOT NULL UNIQUE,
    room_id TEXT NOT NULL,
    room_name TEXT NOT NULL,
    round BIGINT NOT NULL,
    reason TEXT NOT NULL,
    ended_at_ms BIGINT NOT NULL,
    duration_s DOUBLE PRECISION NOT NULL,
    player_count BIGINT NOT NULL
);

CREATE TABLE match_players (
    match_id BIGINT NOT NULL REFERENCES matches(id),
    line BIGINT NOT NULL,
    place BIGINT NOT NULL,
    player_id BIGINT NOT NULL,
    account_id BIGINT,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    kills BIGINT NOT NULL,
    deaths BIGINT NOT NULL,
    score BIGINT NOT NULL,
    rating_before DOUBLE PRECISION,
    rating_after DOUBLE PRECISION,
    PRIMARY KEY (match_id, line)
);
CREATE INDEX match_players_by_account ON match_players (account_id, match_id DESC);
