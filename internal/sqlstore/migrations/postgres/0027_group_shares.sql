-- Group sharing (POST /groups/:id/share): the members of shared_with_group_id (direct or
-- inherited from its ancestors) get min(their role there, group_access) on group_id, its
-- subgroups and their projects, until expires_at (00:00 UTC on that date; NULL: never).
-- contract: a new table only; the previous release never reads it, so its members see no share.
CREATE TABLE group_shares (
    group_id             BIGINT NOT NULL REFERENCES namespace_groups (id),
    shared_with_group_id BIGINT NOT NULL REFERENCES namespace_groups (id),
    group_access         BIGINT NOT NULL,
    expires_at           BIGINT,
    created_at           BIGINT NOT NULL,
    PRIMARY KEY (group_id, shared_with_group_id)
);
CREATE INDEX group_shares_with ON group_shares (shared_with_group_id);
