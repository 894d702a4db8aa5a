-- A membership may expire (GitLab's expires_at): from 00:00 UTC on that date it grants nothing.
-- Nullable, so the previous release's inserts (which never set it) keep working.
ALTER TABLE group_members ADD COLUMN expires_at INTEGER;
ALTER TABLE project_members ADD COLUMN expires_at INTEGER;
