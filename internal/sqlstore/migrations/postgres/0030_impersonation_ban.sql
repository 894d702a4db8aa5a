-- Impersonation tokens (GitLab's admin-made tokens that act as a user) are personal tokens marked
-- impersonation. A banned user is also blocked, so every check that refuses blocked users refuses
-- banned ones unchanged; banned only tells the two states apart (GitLab's "banned").
ALTER TABLE personal_tokens ADD COLUMN impersonation BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN banned BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX personal_tokens_user ON personal_tokens (user_id);
