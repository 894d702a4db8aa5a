-- Named locks shared by every node (docs/architecture.md §4.5): a registry upload session, a
-- dependency-proxy fetch. One row per held lock, with its holder and when it expires by the
-- database's clock (Unix microseconds), so the nodes' clocks need not agree. A release deletes
-- the row; the row of a node that died holding it is taken over once it has expired.
CREATE TABLE cluster_locks (
    name       TEXT   PRIMARY KEY,
    holder     TEXT   NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX cluster_locks_expires_at ON cluster_locks (expires_at);
