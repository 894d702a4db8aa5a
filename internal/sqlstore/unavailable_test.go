package sqlstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
)

// TestLostConnectionIsUnavailable: a connection PostgreSQL ends under a transaction (as
// `pg_ctl stop -m fast` ends every one) makes the next statement, and the rollback,
// errkind.ErrUnavailable (503), not an unknown error (500); a statement's own error stays
// what it was.
func TestLostConnectionIsUnavailable(t *testing.T) {
	s := openPostgres(t)
	t.Cleanup(func() { _ = s.Close() })
	db := s.SQL()
	ctx := context.Background()

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if err := tx.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `SELECT no_such_column FROM no_such_table`); err == nil || errors.Is(err, errkind.ErrUnavailable) {
		t.Fatalf("a bad statement: %v, want an error that is not ErrUnavailable", err)
	}
	_ = tx.Rollback()

	tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	var killed bool
	if err := db.QueryRowContext(ctx, `SELECT pg_terminate_backend($1)`, pid).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminate backend %d: %v %v", pid, killed, err)
	}
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
	if !errors.Is(err, errkind.ErrUnavailable) {
		t.Fatalf("a query on the terminated connection: %v, want ErrUnavailable", err)
	}
	_ = tx.Rollback()
	// The pool recovers by itself.
	if err := db.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil || one != 1 {
		t.Fatalf("after the lost connection: %d, %v", one, err)
	}
}
