package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/ban"
)

// BanStore keeps the failed-authentication ban's windows in the database, so every node of a
// cluster counts the same failures (docs/design.md §7.6). Each failure upserts its key's row
// first: that row lock makes the nodes' updates of one window take turns.
type BanStore struct {
	*conn
	// pruned is when expired rows were last deleted (Unix microseconds of the callers' clock).
	pruned atomic.Int64
}

var _ ban.Store = (*BanStore)(nil)

// pruneEvery is how often Fail deletes the rows that no longer count.
const pruneEvery = time.Minute

func addrKey(addr netip.Prefix) string { return "addr:" + addr.String() }
func identityKey(id string) string     { return "id:" + id }

// Banned reports whether addr, or identity when not "", is banned at now.
func (s *BanStore) Banned(ctx context.Context, addr netip.Prefix, identity string, now time.Time) (bool, error) {
	ik := ""
	if identity != "" {
		ik = identityKey(identity)
	}
	var n int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM auth_ban_keys WHERE ban_key IN (?, ?) AND banned_until > ?`),
		addrKey(addr), ik, unixTime(now)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("ban: %w", err)
	}
	return n > 0, nil
}

// Fail records the failure in addr's window and identity's, each under its key's row lock.
func (s *BanStore) Fail(ctx context.Context, addr netip.Prefix, identity string, now time.Time, r ban.Rule) (bool, error) {
	s.prune(ctx, now, r)
	banned := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		banned = false
		keys := []string{addrKey(addr)}
		if identity != "" {
			keys = append(keys, identityKey(identity))
		}
		for _, k := range keys {
			b, err := s.fail(ctx, tx, k, identity, now, r)
			if err != nil {
				return err
			}
			banned = banned || b
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("ban: %w", err)
	}
	return banned, nil
}

// fail applies one failure to key's window (docs/design.md §7.2) and reports whether key is
// banned at now afterwards.
func (s *BanStore) fail(ctx context.Context, tx *sql.Tx, key, identity string, now time.Time, r ban.Rule) (bool, error) {
	at, cut := unixTime(now), unixTime(now.Add(-r.Window))
	var until int64
	if err := tx.QueryRowContext(ctx, s.q(`INSERT INTO auth_ban_keys (ban_key, banned_until, expires_at) VALUES (?, 0, ?)
		ON CONFLICT (ban_key) DO UPDATE SET expires_at = CASE WHEN auth_ban_keys.expires_at > excluded.expires_at
			THEN auth_ban_keys.expires_at ELSE excluded.expires_at END
		RETURNING banned_until`), key, unixTime(now.Add(r.Window))).Scan(&until); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM auth_ban_failures WHERE ban_key = ? AND at <= ?`), key, cut); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO auth_ban_failures (ban_key, at, identity) VALUES (?, ?, ?)`), key, at, identity); err != nil {
		return false, err
	}
	var n int
	if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM auth_ban_failures WHERE ban_key = ?`), key).Scan(&n); err != nil {
		return false, err
	}
	if n >= r.MaxFailures {
		// Banned, and the count starts afresh.
		until = unixTime(now.Add(r.Duration))
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE auth_ban_keys SET banned_until = ?,
			expires_at = CASE WHEN expires_at > ? THEN expires_at ELSE ? END WHERE ban_key = ?`), until, until, until, key); err != nil {
			return false, err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM auth_ban_failures WHERE ban_key = ?`), key); err != nil {
			return false, err
		}
	}
	return at < until, nil
}

// Forgive forgets identity's failures: its window unless it is banned, and those it made from
// addr. It is one statement (one round trip), since every successful authentication runs it.
func (s *BanStore) Forgive(ctx context.Context, addr netip.Prefix, identity string, now time.Time) error {
	ik := identityKey(identity)
	_, err := s.db.ExecContext(ctx, s.q(`DELETE FROM auth_ban_failures WHERE (ban_key = ? AND identity = ?)
		OR (ban_key = ? AND NOT EXISTS (SELECT 1 FROM auth_ban_keys WHERE ban_key = ? AND banned_until > ?))`),
		addrKey(addr), identity, ik, ik, unixTime(now))
	if err != nil {
		return fmt.Errorf("ban: %w", err)
	}
	return nil
}

// prune deletes, at most once per pruneEvery, the failures older than the window and the keys
// whose failures and ban are over. A failure's upsert holds its key's row, so a key counting
// again is never deleted under it. Errors only delay the cleanup.
func (s *BanStore) prune(ctx context.Context, now time.Time, r ban.Rule) {
	last, at := s.pruned.Load(), unixTime(now)
	if at-last < pruneEvery.Microseconds() || !s.pruned.CompareAndSwap(last, at) {
		return
	}
	_, _ = s.db.ExecContext(ctx, s.q(`DELETE FROM auth_ban_failures WHERE at <= ?`), unixTime(now.Add(-r.Window)))
	_, _ = s.db.ExecContext(ctx, s.q(`DELETE FROM auth_ban_keys WHERE expires_at < ?`), at)
}
