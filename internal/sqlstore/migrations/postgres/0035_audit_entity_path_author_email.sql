-- Audit events keep, as GitLab's do, the path of their project or group and their author's email
-- as they were when the event happened (details.entity_path, details.author_email): a project
-- moved or deleted later, or an author whose email changed, does not rewrite its history. Rows
-- written before this migration hold '' and are shown with the current path and email.
-- contract: none; the columns are added with a default, and the previous release's INSERT names
-- its columns, so its rows simply hold '' (shown as the older rows are).
ALTER TABLE audit_events ADD COLUMN entity_path TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN author_email TEXT NOT NULL DEFAULT '';
