-- Project and group CI/CD variables. Values are sealed (AES-GCM under a key derived from the
-- instance key, as the CI deploy token's secret): a database dump alone reveals none of them.
CREATE TABLE ci_variables (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id        INTEGER REFERENCES projects (id) ON DELETE CASCADE,
    group_id          INTEGER REFERENCES namespace_groups (id) ON DELETE CASCADE,
    var_key           TEXT    NOT NULL,
    sealed_value      BLOB    NOT NULL,
    variable_type     TEXT    NOT NULL,
    protected         INTEGER NOT NULL DEFAULT 0,
    masked            INTEGER NOT NULL DEFAULT 0,
    raw               INTEGER NOT NULL DEFAULT 0,
    environment_scope TEXT    NOT NULL DEFAULT '*',
    description       TEXT    NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL
);
CREATE UNIQUE INDEX ci_variables_key ON ci_variables (COALESCE(project_id, 0), COALESCE(group_id, 0), var_key, environment_scope);
