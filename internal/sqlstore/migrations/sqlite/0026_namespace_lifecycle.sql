-- Namespaces as GitLab has them (docs/gitlab-compatibility.md): every user gets a personal
-- namespace id drawn from the groups' own AUTOINCREMENT counter (sqlite_sequence), so a user's
-- namespace never shares an id with a group and POST /projects namespace_id names either.
-- Existing users are numbered here, after every group id ever handed out; new ones by the store.
-- Groups gain a visibility (see the end) and a description, projects a description and a
-- default branch.
-- contract: nothing is removed or renamed; the previous release neither reads nor writes the new
-- columns (SQLite is served by one process, so no older release writes users meanwhile).
ALTER TABLE users ADD COLUMN namespace_id INTEGER;
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'namespace_groups', COALESCE((SELECT max(id) FROM namespace_groups), 0)
    WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'namespace_groups');
UPDATE users SET namespace_id = (SELECT seq FROM sqlite_sequence WHERE name = 'namespace_groups')
    + (SELECT COUNT(*) FROM users u WHERE u.id <= users.id);
UPDATE sqlite_sequence SET seq = seq + (SELECT COUNT(*) FROM users) WHERE name = 'namespace_groups';
CREATE UNIQUE INDEX users_namespace_id ON users (namespace_id);
ALTER TABLE namespace_groups ADD COLUMN visibility TEXT NOT NULL DEFAULT 'private';
ALTER TABLE namespace_groups ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE projects ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE projects ADD COLUMN default_branch TEXT NOT NULL DEFAULT 'main';
-- An existing group becomes as visible as the most visible project below it (private when none),
-- so no existing project is more visible than its group and nothing hidden is shown.
UPDATE namespace_groups SET visibility = CASE
    WHEN EXISTS (SELECT 1 FROM projects p JOIN namespace_groups pg ON pg.id = p.group_id
        WHERE p.visibility = 'public' AND (pg.ancestry = namespace_groups.ancestry OR pg.ancestry LIKE namespace_groups.ancestry || '/%')) THEN 'public'
    WHEN EXISTS (SELECT 1 FROM projects p JOIN namespace_groups pg ON pg.id = p.group_id
        WHERE p.visibility = 'internal' AND (pg.ancestry = namespace_groups.ancestry OR pg.ancestry LIKE namespace_groups.ancestry || '/%')) THEN 'internal'
    ELSE 'private' END;
