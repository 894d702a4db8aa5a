-- Where a deploy token was last used from (written with last_used_at, at most once a minute),
-- and how many requests it authenticated per UTC day (added in batches).
ALTER TABLE deploy_tokens ADD COLUMN last_used_ip TEXT NOT NULL DEFAULT '';

CREATE TABLE deploy_token_usage (
    deploy_token_id INTEGER NOT NULL REFERENCES deploy_tokens (id) ON DELETE CASCADE,
    day             DATE    NOT NULL,
    requests        INTEGER NOT NULL,
    PRIMARY KEY (deploy_token_id, day)
);
