CREATE TABLE registry_repositories (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects (id),
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX registry_repositories_name ON registry_repositories (name);
CREATE INDEX registry_repositories_project ON registry_repositories (project_id);

CREATE TABLE registry_blob_links (
    repository_id INTEGER NOT NULL REFERENCES registry_repositories (id) ON DELETE CASCADE,
    digest        TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (repository_id, digest)
);
CREATE INDEX registry_blob_links_digest ON registry_blob_links (digest);

CREATE TABLE registry_manifests (
    repository_id INTEGER NOT NULL REFERENCES registry_repositories (id) ON DELETE CASCADE,
    digest        TEXT    NOT NULL,
    media_type    TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    artifact_type TEXT    NOT NULL,
    subject       TEXT,
    annotations   TEXT,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (repository_id, digest)
);
CREATE INDEX registry_manifests_subject ON registry_manifests (repository_id, subject, digest) WHERE subject IS NOT NULL;

CREATE TABLE registry_manifest_references (
    repository_id INTEGER NOT NULL,
    digest        TEXT    NOT NULL,
    reference     TEXT    NOT NULL,
    PRIMARY KEY (repository_id, digest, reference),
    FOREIGN KEY (repository_id, digest) REFERENCES registry_manifests (repository_id, digest) ON DELETE CASCADE
);
CREATE INDEX registry_manifest_references_reference ON registry_manifest_references (reference);

CREATE TABLE registry_tags (
    repository_id INTEGER NOT NULL,
    name          TEXT    NOT NULL,
    digest        TEXT    NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (repository_id, name),
    FOREIGN KEY (repository_id, digest) REFERENCES registry_manifests (repository_id, digest) ON DELETE CASCADE
);
CREATE INDEX registry_tags_digest ON registry_tags (repository_id, digest);
