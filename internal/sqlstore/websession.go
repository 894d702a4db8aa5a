package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// SessionStore keeps the web UI's sessions (internal/web.SessionStore). Rows are keyed by the
// digest of the session id; the id itself is never stored.
type SessionStore struct{ *conn }

// CreateWebSession stores a session of userID under digest, valid until expiresAt.
func (s *SessionStore) CreateWebSession(ctx context.Context, digest []byte, userID int64, createdAt, expiresAt time.Time) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO web_sessions (id_digest, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`),
		digest, userID, unixTime(createdAt), unixTime(expiresAt))
	if err = s.classify(err); err != nil {
		return fmt.Errorf("create web session: %w", err)
	}
	return nil
}

// WebSessionUser returns the user of the session stored under digest if it has not expired at
// now; ok is false for an unknown or expired session.
func (s *SessionStore) WebSessionUser(ctx context.Context, digest []byte, now time.Time) (userID int64, ok bool, err error) {
	err = s.db.QueryRowContext(ctx, s.q(`SELECT user_id FROM web_sessions WHERE id_digest = ? AND expires_at > ?`),
		digest, unixTime(now)).Scan(&userID)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("web session: %w", err)
	}
	return userID, true, nil
}

// DeleteWebSession removes the session stored under digest (signing out); absent is not an error.
func (s *SessionStore) DeleteWebSession(ctx context.Context, digest []byte) error {
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM web_sessions WHERE id_digest = ?`), digest); err != nil {
		return fmt.Errorf("delete web session: %w", err)
	}
	return nil
}

// DeleteExpiredWebSessions removes the sessions expired at now and returns how many.
func (s *SessionStore) DeleteExpiredWebSessions(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM web_sessions WHERE expires_at <= ?`), unixTime(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired web sessions: %w", err)
	}
	return res.RowsAffected()
}

// DeleteUserWebSessions removes every session of userID except the one stored under keep (nil
// keeps none), as a password change ends the user's other sign-ins; it returns how many.
func (s *SessionStore) DeleteUserWebSessions(ctx context.Context, userID int64, keep []byte) (int64, error) {
	if keep == nil {
		keep = []byte{}
	}
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM web_sessions WHERE user_id = ? AND id_digest <> ?`), userID, keep)
	if err != nil {
		return 0, fmt.Errorf("delete user's web sessions: %w", err)
	}
	return res.RowsAffected()
}
