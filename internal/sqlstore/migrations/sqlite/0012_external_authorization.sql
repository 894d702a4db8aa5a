-- GitLab's external authorization service: the instance settings (one row, id 1; no row means
-- off) and each project's classification label (no row: the instance default label).
CREATE TABLE external_authorization_settings (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    enabled       INTEGER NOT NULL,
    service_url   TEXT    NOT NULL,
    timeout_ms    INTEGER NOT NULL,
    default_label TEXT    NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE project_classification_labels (
    project_id INTEGER PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    label      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);
