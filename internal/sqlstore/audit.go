package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
)

// AuditStore keeps the audit events.
type AuditStore struct{ *conn }

var (
	_ audit.Store  = (*AuditStore)(nil)
	_ audit.Pruner = (*AuditStore)(nil)
)

// RecordEvent implements audit.Store.
func (s *AuditStore) RecordEvent(ctx context.Context, e *audit.Event) error {
	id, err := s.insertID(ctx, s.db, `INSERT INTO audit_events (type, actor_kind, actor_id, actor_name, target_type, target_id, target_name, entity_type, entity_id, entity_path, author_email, ip, details, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Type, e.ActorKind, e.ActorID, e.ActorName, e.TargetType, e.TargetID, e.TargetName, e.EntityType, e.EntityID, e.EntityPath, e.AuthorEmail, e.IP, e.Details, unixTime(e.CreatedAt))
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

// auditColumns are an event's columns, in scanEvent's order.
const auditColumns = `id, type, actor_kind, actor_id, actor_name, target_type, target_id, target_name, entity_type, entity_id, entity_path, author_email, ip, details, created_at`

func scanEvent(row interface{ Scan(...any) error }) (*audit.Event, error) {
	var e audit.Event
	var created int64
	if err := row.Scan(&e.ID, &e.Type, &e.ActorKind, &e.ActorID, &e.ActorName, &e.TargetType, &e.TargetID, &e.TargetName, &e.EntityType, &e.EntityID, &e.EntityPath, &e.AuthorEmail, &e.IP, &e.Details, &created); err != nil {
		return nil, err
	}
	e.CreatedAt = fromUnix(created)
	return &e, nil
}

// Event implements audit.Store.
func (s *AuditStore) Event(ctx context.Context, id int64) (*audit.Event, error) {
	e, err := scanEvent(s.db.QueryRowContext(ctx, s.q(`SELECT `+auditColumns+` FROM audit_events WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("audit event %d: %w", id, errkind.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get audit event: %w", err)
	}
	return e, nil
}

// ListEvents implements audit.Store.
func (s *AuditStore) ListEvents(ctx context.Context, entityType string, entityID int64) ([]*audit.Event, error) {
	query := `SELECT ` + auditColumns + ` FROM audit_events`
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
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
