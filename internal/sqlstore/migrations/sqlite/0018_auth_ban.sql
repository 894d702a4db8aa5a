-- The failed-authentication ban's windows, shared by every node (docs/design.md §7.6): one row
-- per key (an address group or an identity), locked by each failure's upsert so the nodes count
-- one after another, with the ban's end; and the failures within the window. Times are Unix
-- microseconds. A key's row expires once neither a failure nor its ban counts any more.
CREATE TABLE auth_ban_keys (
    ban_key      TEXT   PRIMARY KEY,
    banned_until INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX auth_ban_keys_expires_at ON auth_ban_keys (expires_at);
CREATE TABLE auth_ban_failures (
    ban_key  TEXT   NOT NULL,
    at       INTEGER NOT NULL,
    identity TEXT   NOT NULL
);
CREATE INDEX auth_ban_failures_key ON auth_ban_failures (ban_key, at);
CREATE INDEX auth_ban_failures_at ON auth_ban_failures (at);
