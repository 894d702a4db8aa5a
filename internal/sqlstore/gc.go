package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/gc"
)

// GCStore is garbage collection's metadata (gc.Store): the record of blob deletions in progress
// (the fence writers check) and, since a collection runs under a lease, the leases it shares
// with the other daily jobs. Each store that keeps blob references has its side of the mark
// phase (gc.Referencer, gc.Checker) beside it, over the helpers below.
type GCStore struct{ *LeaseStore }

var (
	_ gc.Store      = (*GCStore)(nil)
	_ gc.Referencer = RegistryReferences{}
	_ gc.Checker    = RegistryReferences{}
	_ gc.Referencer = PackageReferences{}
	_ gc.Checker    = PackageReferences{}
	_ gc.Referencer = ProxyReferences{}
	_ gc.Checker    = ProxyReferences{}
)

// BeginBlobDeletions records that the blobs digests are about to be deleted, as of now
// (replacing older records of the same digests).
func (s *GCStore) BeginBlobDeletions(ctx context.Context, digests []string, now time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for start := 0; start < len(digests); start += inChunk / 2 {
			chunk := digests[start:min(start+inChunk/2, len(digests))]
			args := make([]any, 0, 2*len(chunk))
			values := make([]string, len(chunk))
			for i, d := range chunk {
				args = append(args, d, unixTime(now))
				values[i] = "(?, ?, NULL)"
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO blob_deletions (digest, began_at, ended_at) VALUES `+
				strings.Join(values, ", ")+` ON CONFLICT (digest) DO UPDATE SET began_at = excluded.began_at, ended_at = NULL`), args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("begin blob deletions: %w", err)
	}
	return nil
}

// EndBlobDeletions marks the records of deleted as ended at now and removes those of kept
// (blobs the sweep decided to keep after all).
func (s *GCStore) EndBlobDeletions(ctx context.Context, deleted, kept []string, now time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for start := 0; start < len(deleted); start += inChunk {
			chunk := deleted[start:min(start+inChunk, len(deleted))]
			args := []any{unixTime(now)}
			for _, d := range chunk {
				args = append(args, d)
			}
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE blob_deletions SET ended_at = ? WHERE digest IN (`+placeholders(len(chunk))+`)`), args...); err != nil {
				return err
			}
		}
		for start := 0; start < len(kept); start += inChunk {
			chunk := kept[start:min(start+inChunk, len(kept))]
			args := make([]any, len(chunk))
			for i, d := range chunk {
				args[i] = d
			}
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM blob_deletions WHERE digest IN (`+placeholders(len(chunk))+`)`), args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("end blob deletions: %w", err)
	}
	return nil
}

// BlobDeletion returns the record of digest's deletion: when it began and, once it ended, when
// (zero while in progress). ok is false when there is no record.
func (s *GCStore) BlobDeletion(ctx context.Context, digest string) (began, ended time.Time, ok bool, err error) {
	var b int64
	var e sql.NullInt64
	err = s.db.QueryRowContext(ctx, s.q(`SELECT began_at, ended_at FROM blob_deletions WHERE digest = ?`), digest).Scan(&b, &e)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, time.Time{}, false, nil
	case err != nil:
		return time.Time{}, time.Time{}, false, fmt.Errorf("blob deletion: %w", err)
	}
	if e.Valid {
		ended = fromUnix(e.Int64)
	}
	return fromUnix(b), ended, true, nil
}

// PruneBlobDeletions removes the records of deletions that began before before, and returns
// how many it removed.
func (s *GCStore) PruneBlobDeletions(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM blob_deletions WHERE began_at < ?`), unixTime(before))
	if err != nil {
		return 0, fmt.Errorf("prune blob deletions: %w", err)
	}
	return res.RowsAffected()
}

// refColumn is a table column holding blob digests that garbage collection must keep.
type refColumn struct{ table, column string }

// referencedBlobs calls fn for every distinct digest in each of cols (a digest may come more
// than once across columns), stopping at fn's first error. what names the owner in errors.
func (s *conn) referencedBlobs(ctx context.Context, what string, cols []refColumn, fn func(digest string) error) error {
	for _, c := range cols {
		if err := s.scanStrings(ctx, `SELECT DISTINCT `+c.column+` FROM `+c.table, fn); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return nil
}

// referencedAmong reports which of digests appear in any of cols, by index lookups in chunks.
func (s *conn) referencedAmong(ctx context.Context, what string, cols []refColumn, digests []string) (map[string]bool, error) {
	found := map[string]bool{}
	for start := 0; start < len(digests); start += inChunk {
		chunk := digests[start:min(start+inChunk, len(digests))]
		args := make([]any, len(chunk))
		for i, d := range chunk {
			args[i] = d
		}
		for _, c := range cols {
			err := s.scanStrings(ctx, `SELECT DISTINCT `+c.column+` FROM `+c.table+` WHERE `+c.column+` IN (`+placeholders(len(chunk))+`)`,
				func(d string) error { found[d] = true; return nil }, args...)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", what, err)
			}
		}
	}
	return found, nil
}

// scanStrings runs a one-column query and calls fn with each value, stopping at fn's first error.
func (s *conn) scanStrings(ctx context.Context, query string, fn func(string) error, args ...any) error {
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return rows.Err()
}
