-- Deploy-token expiry notifications (docs/design.md §4); the job runs under a row of leases (0010).
-- deploy_token_expiry_notices records, per token and interval
-- (60, 30 or 7 days), the notice a node claimed (sent_at NULL) and then sent (sent_at set); the
-- primary key is what makes reruns, restarts and concurrent nodes send each notice once.
CREATE TABLE deploy_token_expiry_notices (
    token_id      BIGINT NOT NULL REFERENCES deploy_tokens (id) ON DELETE CASCADE,
    interval_days BIGINT NOT NULL,
    holder        TEXT   NOT NULL,
    claimed_at    BIGINT NOT NULL,
    sent_at       BIGINT,
    recipients    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (token_id, interval_days)
);

-- The daily scan selects unrevoked tokens by expiry.
CREATE INDEX deploy_tokens_expires_at ON deploy_tokens (expires_at);
