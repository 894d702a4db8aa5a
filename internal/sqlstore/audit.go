package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
)

// AuditStore keeps the audit events.
type AuditStore struct{ *conn }

var (
	_ audit.Store  = (*AuditStore)(nil)
	_ audit.Pruner = (*AuditStore)(nil)
)

// RecordEvent implements audit.Store.
func (s *AuditStore) RecordEvent(ctx context.Context, e *audit.Event) error {
	id, err := s.insertID(ctx, s.db, `INSERT INTO audit_events (type, actor_kind, actor_id, actor_name, target_type, target_id, target_name, entity_type, entity_id, ip, details, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Type, e.ActorKind, e.ActorID, e.ActorName, e.TargetType, e.TargetID, e.TargetName, e.EntityType, e.EntityID, e.IP, e.Details, unixTime(e.CreatedAt))
	if err != nil {
		return fmt.Errorf("record audit event: %w", err)
	}
	e.ID = id
	return nil
}

// DeleteEventsBefore implements audit.Pruner: it deletes up to limit events created before
// before, oldest first, and returns how many it deleted.
func (s *AuditStore) DeleteEventsBefore(ctx context.Context, before time.Time, limit int) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM audit_events WHERE id IN
		(SELECT id FROM audit_events WHERE created_at < ? ORDER BY created_at, id LIMIT ?)`), unixTime(before), limit)
	if err != nil {
		return 0, fmt.Errorf("delete audit events: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete audit events: %w", err)
	}
	return n, nil
}

// ListEvents implements audit.Store.
func (s *AuditStore) ListEvents(ctx context.Context, entityType string, entityID int64) ([]*audit.Event, error) {
	query := `SELECT id, type, actor_kind, actor_id, actor_name, target_type, target_id, target_name, entity_type, entity_id, ip, details, created_at FROM audit_events`
	var args []any
	if entityType != "" {
		query += ` WHERE entity_type = ? AND entity_id = ?`
		args = append(args, entityType, entityID)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+` ORDER BY id DESC`), args...)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	defer rows.Close()
	var out []*audit.Event
	for rows.Next() {
		var e audit.Event
		var created int64
		if err := rows.Scan(&e.ID, &e.Type, &e.ActorKind, &e.ActorID, &e.ActorName, &e.TargetType, &e.TargetID, &e.TargetName, &e.EntityType, &e.EntityID, &e.IP, &e.Details, &created); err != nil {
			return nil, err
		}
		e.CreatedAt = fromUnix(created)
		out = append(out, &e)
	}
	return out, rows.Err()
}
