-- Leases: one row per scheduled job (garbage collection, the deploy-token expiry mail) so that
-- one node runs it at a time, with the end of its last completed run. Garbage collection also
-- keeps, and the record of blob deletions in progress that writers check (the fence).
CREATE TABLE leases (
    name        TEXT COLLATE "C" PRIMARY KEY,
    holder      TEXT   NOT NULL,
    expires_at  BIGINT NOT NULL,
    last_run_at BIGINT NOT NULL
);

CREATE TABLE blob_deletions (
    digest   TEXT COLLATE "C" PRIMARY KEY,
    began_at BIGINT NOT NULL,
    ended_at BIGINT
);

-- The sweep re-checks candidate digests against manifests by digest alone.
CREATE INDEX registry_manifests_digest ON registry_manifests (digest);
