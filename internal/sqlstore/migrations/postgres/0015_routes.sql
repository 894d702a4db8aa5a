-- One table of every full path a URL can name: usernames (the top level, shared with groups),
-- groups and projects. Its unique index makes "has already been taken" hold across all three
-- kinds, in the database itself, so two concurrent creates of g1/p1 as a project and as a
-- subgroup cannot both succeed. Each row is written in the transaction that writes its source.
-- Existing paths held twice are refused before this runs (sqlstore.checkRoutes names them).
CREATE TABLE routes (
    path        TEXT    NOT NULL,
    source_type TEXT    NOT NULL,
    source_id   BIGINT  NOT NULL,
    PRIMARY KEY (source_type, source_id)
);
CREATE UNIQUE INDEX routes_path ON routes (lower(path));
INSERT INTO routes (path, source_type, source_id) SELECT username, 'user', id FROM users;
INSERT INTO routes (path, source_type, source_id) SELECT full_path, 'group', id FROM namespace_groups;
INSERT INTO routes (path, source_type, source_id) SELECT full_path, 'project', id FROM projects;
