-- In-place rotation: the replaced secret's digest keeps working until previous_valid_until.
ALTER TABLE deploy_tokens ADD COLUMN previous_digest BLOB;
ALTER TABLE deploy_tokens ADD COLUMN previous_valid_until INTEGER;
CREATE INDEX deploy_tokens_previous_digest ON deploy_tokens (previous_digest);
