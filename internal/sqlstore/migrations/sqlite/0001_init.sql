CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL,
    email         TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    admin         INTEGER NOT NULL DEFAULT 0,
    blocked       INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_username ON users (lower(username));
CREATE UNIQUE INDEX users_email ON users (lower(email));

CREATE TABLE namespace_groups (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    path       TEXT    NOT NULL,
    parent_id  INTEGER REFERENCES namespace_groups (id),
    full_path  TEXT    NOT NULL,
    ancestry   TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX namespace_groups_full_path ON namespace_groups (lower(full_path));
CREATE INDEX namespace_groups_parent ON namespace_groups (parent_id);

CREATE TABLE projects (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL,
    path          TEXT    NOT NULL,
    group_id      INTEGER REFERENCES namespace_groups (id),
    owner_user_id INTEGER REFERENCES users (id),
    full_path     TEXT    NOT NULL,
    visibility    TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX projects_full_path ON projects (lower(full_path));

CREATE TABLE group_members (
    group_id   INTEGER NOT NULL REFERENCES namespace_groups (id),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    role       INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, group_id)
);

CREATE TABLE project_members (
    project_id INTEGER NOT NULL REFERENCES projects (id),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    role       INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, project_id)
);

CREATE TABLE deploy_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL,
    username     TEXT    NOT NULL,
    scopes       TEXT    NOT NULL,
    expires_at   INTEGER,
    revoked      INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    creator_id   INTEGER NOT NULL,
    last_used_at INTEGER,
    project_id   INTEGER REFERENCES projects (id),
    group_id     INTEGER REFERENCES namespace_groups (id),
    digest       BLOB    NOT NULL,
    CHECK ((project_id IS NULL) <> (group_id IS NULL))
);
CREATE UNIQUE INDEX deploy_tokens_username ON deploy_tokens (username);
CREATE UNIQUE INDEX deploy_tokens_digest ON deploy_tokens (digest);
CREATE INDEX deploy_tokens_project ON deploy_tokens (project_id);
CREATE INDEX deploy_tokens_group ON deploy_tokens (group_id);

CREATE TABLE personal_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    name         TEXT    NOT NULL,
    scopes       TEXT    NOT NULL,
    expires_at   INTEGER,
    revoked      INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    digest       BLOB    NOT NULL
);
CREATE UNIQUE INDEX personal_tokens_digest ON personal_tokens (digest);

CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    type        TEXT    NOT NULL,
    actor_kind  TEXT    NOT NULL,
    actor_id    INTEGER NOT NULL,
    actor_name  TEXT    NOT NULL,
    target_type TEXT    NOT NULL,
    target_id   INTEGER NOT NULL,
    target_name TEXT    NOT NULL,
    entity_type TEXT    NOT NULL,
    entity_id   INTEGER NOT NULL,
    ip          TEXT    NOT NULL,
    details     TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX audit_events_entity ON audit_events (entity_type, entity_id, id);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
