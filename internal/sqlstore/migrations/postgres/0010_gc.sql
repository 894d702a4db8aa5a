-- Garbage collection: a lease so that one node collects at a time (and the time of the last
-- completed run), and the record of blob deletions in progress that writers check (the fence).
CREATE TABLE gc_leases (
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
