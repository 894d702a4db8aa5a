-- Package registries (every format): packages per project, their versions, each version's files
-- (bytes in the blob store under blob_digest) and tags (npm dist-tags).
CREATE TABLE packages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id      INTEGER NOT NULL REFERENCES projects (id),
    format          TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    normalized_name TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX packages_key ON packages (project_id, format, normalized_name);
CREATE INDEX packages_name ON packages (format, normalized_name, updated_at);

CREATE TABLE package_versions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    package_id INTEGER NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    version    TEXT    NOT NULL,
    metadata   TEXT,
    status     TEXT    NOT NULL DEFAULT 'default',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX package_versions_key ON package_versions (package_id, version);

CREATE TABLE package_files (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    version_id  INTEGER NOT NULL REFERENCES package_versions (id) ON DELETE CASCADE,
    filename    TEXT    NOT NULL,
    size        INTEGER NOT NULL,
    md5         TEXT    NOT NULL,
    sha1        TEXT    NOT NULL,
    sha256      TEXT    NOT NULL,
    sha512      TEXT    NOT NULL,
    blob_digest TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX package_files_key ON package_files (version_id, filename);
CREATE INDEX package_files_blob ON package_files (blob_digest);

CREATE TABLE package_tags (
    package_id INTEGER NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    version_id INTEGER NOT NULL REFERENCES package_versions (id) ON DELETE CASCADE,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (package_id, name)
);
CREATE INDEX package_tags_version ON package_tags (version_id);
