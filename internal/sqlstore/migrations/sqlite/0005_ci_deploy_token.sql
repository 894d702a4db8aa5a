-- The secret of a token named gitlab-deploy-token, sealed with AES-GCM under a key derived from
-- the instance key (docs/design.md §3.3), so it can be handed to CI jobs; NULL for every other
-- token.
ALTER TABLE deploy_tokens ADD COLUMN sealed_secret BLOB;
