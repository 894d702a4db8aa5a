-- Custom deploy-token usernames are not unique, as in GitLab: the same username (say "deployer")
-- may name a token on many projects and groups. A token is found by its secret's digest, and the
-- presented username is then compared with that token's own; deploy_tokens_username_lower keeps
-- serving the check that no user takes a token's username.
-- contract: the previous release looks tokens up by digest only, never by username; while it
-- still runs, a duplicate custom username it creates is simply stored and served like any row.
DROP INDEX deploy_tokens_username;
