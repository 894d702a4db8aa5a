-- Leases: one row per scheduled job (garbage collection, the deploy-token expiry mail) so that
-- one node runs it at a time, with the end of its last completed run. Garbage collection also
-- keeps, and the record of blob deletions in progress that writers check (the fence).
CREATE TABLE leases (
    name        TEXT    PRIMARY KEY,
    holder      TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL,
    last_run_at INTEGER NOT NULL
);

CREATE TABLE blob_deletions (
    digest   TEXT    PRIMARY KEY,
    began_at INTEGER NOT NULL,
    ended_at INTEGER
);

-- The sweep re-checks candidate digests against manifests by digest alone.
CREATE INDEX registry_manifests_digest ON registry_manifests (digest);
