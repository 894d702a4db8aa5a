-- Audit retention deletes the oldest events in batches by creation time (audit.retention).
CREATE INDEX audit_events_created ON audit_events (created_at, id);
