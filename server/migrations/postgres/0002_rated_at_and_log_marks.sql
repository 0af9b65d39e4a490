-- When each account was last rated, so other nodes' rank caches read only what
-- changed; and how far each node's results log is stored (PostgreSQL).
ALTER TABLE stats ADD COLUMN rated_at_ms BIGINT NOT NULL DEFAULT 0;
CREATE INDEX stats_by_rated_at ON stats (rated_at_ms);

-- One row per results log (each node has its own): every round up to line_end of
-- the file with this file id (its inode, which survives the rename when the log is
-- rotated) is stored. The line at line_start..line_end is round_id's: a restart
-- checks that before trusting it.
CREATE TABLE results_log_marks (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    file_id BIGINT NOT NULL,
    file_name TEXT NOT NULL,
    line_start BIGINT NOT NULL,
    line_end BIGINT NOT NULL,
    round_id TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
