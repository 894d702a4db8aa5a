package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/gc"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
)

// LeaseStore lets one node of a cluster run a scheduled job at a time (garbage collection, the
// deploy-token expiry mail, audit retention): one row per job name, taken with one atomic upsert
// that only overwrites a free lease, plus the end of the job's last completed run.
type LeaseStore struct{ *conn }

var (
	_ gc.Leases     = (*LeaseStore)(nil)
	_ notify.Leases = (*LeaseStore)(nil)
	_ audit.Leases  = (*LeaseStore)(nil)
)

// AcquireLease takes the lease name for holder until until, if it is free at now (never taken,
// released, or expired) and the last completed run ended at or before ranBefore. It reports
// whether it took the lease.
func (s *LeaseStore) AcquireLease(ctx context.Context, name, holder string, now, until, ranBefore time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO leases (name, holder, expires_at, last_run_at) VALUES (?, ?, ?, 0)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.expires_at <= ? AND leases.last_run_at <= ?`),
		name, holder, unixTime(until), unixTime(now), unixTime(ranBefore))
	return changedOne("acquire lease", res, err)
}

// RenewLease extends holder's lease name until until. It reports false when holder no longer
// holds it.
func (s *LeaseStore) RenewLease(ctx context.Context, name, holder string, until time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ?`),
		unixTime(until), name, holder)
	return changedOne("renew lease", res, err)
}

// ReleaseLease frees holder's lease name; completed records now as the end of the last
// completed run.
func (s *LeaseStore) ReleaseLease(ctx context.Context, name, holder string, now time.Time, completed bool) error {
	var err error
	if completed {
		_, err = s.db.ExecContext(ctx, s.q(`UPDATE leases SET expires_at = 0, last_run_at = ? WHERE name = ? AND holder = ?`),
			unixTime(now), name, holder)
	} else {
		_, err = s.db.ExecContext(ctx, s.q(`UPDATE leases SET expires_at = 0 WHERE name = ? AND holder = ?`), name, holder)
	}
	if err != nil {
		return fmt.Errorf("release lease: %w", err)
	}
	return nil
}

// LastRun returns when the last completed run under lease name ended (zero if none).
func (s *LeaseStore) LastRun(ctx context.Context, name string) (time.Time, error) {
	var v int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT last_run_at FROM leases WHERE name = ?`), name).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows) || (err == nil && v == 0):
		return time.Time{}, nil
	case err != nil:
		return time.Time{}, fmt.Errorf("last run: %w", err)
	}
	return fromUnix(v), nil
}

func changedOne(what string, res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	return n == 1, nil
}
