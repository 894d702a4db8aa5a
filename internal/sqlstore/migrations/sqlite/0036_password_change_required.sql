-- A user who must choose a new password before doing anything else in the web UI: root with the
-- generated initial password printed at first start (docs/design.md §6.9). Setting a password
-- clears it.
ALTER TABLE users ADD COLUMN password_change_required INTEGER NOT NULL DEFAULT 0;
