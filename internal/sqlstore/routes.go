package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// The routes table (migration 0015) holds every full path a URL can name, so its unique index
// keeps one path to one user, group or project. Each create writes its route in its own
// transaction; a taken path fails there with a unique violation, which kindErr maps to
// errkind.ErrConflict.

// Route source types.
const (
	routeUser    = "user"
	routeGroup   = "group"
	routeProject = "project"
)

// insertRoute claims path for a source in tx.
func (s *conn) insertRoute(ctx context.Context, tx *sql.Tx, path, sourceType string, sourceID int64) error {
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO routes (path, source_type, source_id) VALUES (?, ?, ?)`), path, sourceType, sourceID)
	return s.classify(err)
}

// routesMigration is the migration that creates the routes table from existing rows.
const routesMigration = 15

// checkRoutes refuses to build the routes table while two existing users, groups or projects hold
// the same path (case-insensitively), naming them, so the operator can rename all but one: the
// unique index alone would fail with no hint of which.
func (s *conn) checkRoutes(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT lower(path), COUNT(*) FROM (
		SELECT username AS path FROM users UNION ALL SELECT full_path FROM namespace_groups UNION ALL SELECT full_path FROM projects
	) held GROUP BY lower(path) HAVING COUNT(*) > 1 ORDER BY lower(path)`)
	type taken struct {
		path string
		n    int
	}
	list, err := collect(rows, err, func(r scanner) (taken, error) {
		var t taken
		return t, r.Scan(&t.path, &t.n)
	})
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return nil
	}
	names := make([]string, len(list))
	for i, t := range list {
		names[i] = fmt.Sprintf("%s (%d holders)", t.path, t.n)
	}
	return fmt.Errorf("paths held by more than one user, group or project: %s; rename all but one of each (a user, group or project path must be unique, as in GitLab), then migrate again",
		strings.Join(names, ", "))
}
