-- Debian (apt) distributions of projects and groups (docs/debian.md). The OpenPGP private key is
-- sealed (AES-GCM under a key derived from the instance key): a database dump alone does not reveal it.
CREATE TABLE debian_distributions (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id          INTEGER REFERENCES projects (id) ON DELETE CASCADE,
    group_id            INTEGER REFERENCES namespace_groups (id) ON DELETE CASCADE,
    codename            TEXT    NOT NULL,
    suite               TEXT    NOT NULL DEFAULT '',
    origin              TEXT    NOT NULL DEFAULT '',
    label               TEXT    NOT NULL DEFAULT '',
    version             TEXT    NOT NULL DEFAULT '',
    description         TEXT    NOT NULL DEFAULT '',
    valid_time_seconds  INTEGER NOT NULL DEFAULT 0,
    components          TEXT    NOT NULL,
    architectures       TEXT    NOT NULL,
    sealed_key          BLOB    NOT NULL,
    public_key          TEXT    NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE UNIQUE INDEX debian_distributions_codename ON debian_distributions (COALESCE(project_id, 0), COALESCE(group_id, 0), codename);
