-- Garbage collection: a lease so that one node collects at a time (and the time of the last
-- completed run), and the record of blob deletions in progress that writers check (the fence).
CREATE TABLE gc_leases (
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
