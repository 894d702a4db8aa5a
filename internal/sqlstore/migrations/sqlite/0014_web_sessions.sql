-- Web UI sessions (internal/web). Only the SHA-256 digest of the session id is stored, so a copy
-- of the database cannot be used to sign in. Expired rows are purged at sign-in.
CREATE TABLE web_sessions (
    id_digest  BLOB    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX web_sessions_expires_at ON web_sessions (expires_at);
CREATE INDEX web_sessions_user ON web_sessions (user_id);
