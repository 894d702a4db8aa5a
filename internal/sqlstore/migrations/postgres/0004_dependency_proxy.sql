-- The group dependency proxy: each group's setting (no row means enabled), and the manifests,
-- tags and blobs it has cached. Bytes live in the shared blob store under their digests, so
-- garbage collection reads the digests here.
CREATE TABLE dependency_proxy_group_settings (
    group_id   BIGINT PRIMARY KEY REFERENCES namespace_groups (id) ON DELETE CASCADE,
    enabled    BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE dependency_proxy_manifests (
    group_id   BIGINT NOT NULL REFERENCES namespace_groups (id) ON DELETE CASCADE,
    image      TEXT COLLATE "C" NOT NULL,
    digest     TEXT COLLATE "C" NOT NULL,
    media_type TEXT NOT NULL,
    size       BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, image, digest)
);
CREATE INDEX dependency_proxy_manifests_digest ON dependency_proxy_manifests (digest);

CREATE TABLE dependency_proxy_tags (
    group_id   BIGINT NOT NULL,
    image      TEXT COLLATE "C" NOT NULL,
    tag        TEXT COLLATE "C" NOT NULL,
    digest     TEXT COLLATE "C" NOT NULL,
    checked_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, image, tag),
    FOREIGN KEY (group_id, image, digest) REFERENCES dependency_proxy_manifests (group_id, image, digest) ON DELETE CASCADE
);
CREATE INDEX dependency_proxy_tags_digest ON dependency_proxy_tags (group_id, image, digest);

CREATE TABLE dependency_proxy_blobs (
    group_id   BIGINT NOT NULL REFERENCES namespace_groups (id) ON DELETE CASCADE,
    digest     TEXT COLLATE "C" NOT NULL,
    size       BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, digest)
);
CREATE INDEX dependency_proxy_blobs_digest ON dependency_proxy_blobs (digest);
