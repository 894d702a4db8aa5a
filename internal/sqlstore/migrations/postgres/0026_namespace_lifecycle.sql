-- Namespaces as GitLab has them (docs/gitlab-compatibility.md): every user gets a personal
-- namespace id drawn from the groups' own id sequence, so a user's namespace never shares an id
-- with a group and POST /projects namespace_id names either. The volatile default numbers every
-- existing user as the column is added, and every user the previous release still creates.
-- Groups gain a visibility (see the end) and a description, projects a description and a
-- default branch.
-- contract: nothing is removed or renamed; the previous release neither reads nor writes the new
-- columns, and its inserts get their defaults (a new user its namespace id, a group private).
ALTER TABLE users ADD COLUMN namespace_id BIGINT DEFAULT nextval(pg_get_serial_sequence('namespace_groups', 'id')::regclass);
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
