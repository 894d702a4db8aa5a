-- The group dependency proxy: each group's setting (no row means enabled), and the manifests,
-- tags and blobs it has cached. Bytes live in the shared blob store under their digests, so
-- garbage collection reads the digests here.
CREATE TABLE dependency_proxy_group_settings (
    group_id   INTEGER PRIMARY KEY REFERENCES namespace_groups (id) ON DELETE CASCADE,
    enabled    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE dependency_proxy_manifests (
    group_id   INTEGER NOT NULL REFERENCES namespace_groups (id) ON DELETE CASCADE,
    image      TEXT NOT NULL,
    digest     TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size       INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, image, digest)
);
CREATE INDEX dependency_proxy_manifests_digest ON dependency_proxy_manifests (digest);

CREATE TABLE dependency_proxy_tags (
    group_id   INTEGER NOT NULL,
    image      TEXT NOT NULL,
    tag        TEXT NOT NULL,
    digest     TEXT NOT NULL,
    checked_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, image, tag),
    FOREIGN KEY (group_id, image, digest) REFERENCES dependency_proxy_manifests (group_id, image, digest) ON DELETE CASCADE
);
CREATE INDEX dependency_proxy_tags_digest ON dependency_proxy_tags (group_id, image, digest);

CREATE TABLE dependency_proxy_blobs (
    group_id   INTEGER NOT NULL REFERENCES namespace_groups (id) ON DELETE CASCADE,
    digest     TEXT NOT NULL,
    size       INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, digest)
);
CREATE INDEX dependency_proxy_blobs_digest ON dependency_proxy_blobs (digest);
