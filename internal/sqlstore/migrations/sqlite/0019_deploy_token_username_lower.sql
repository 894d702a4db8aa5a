-- Custom deploy-token usernames and users' usernames must differ case-insensitively; this index
-- serves the check made when a user is created.
CREATE INDEX deploy_tokens_username_lower ON deploy_tokens (lower(username));
