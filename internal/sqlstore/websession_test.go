package sqlstore_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore"
)

// TestWebSessions runs the web-session store behaviour against SQLite and PostgreSQL.
func TestWebSessions(t *testing.T) {
	backends := map[string]func(t *testing.T) *sqlstore.Stores{
		"sqlite": func(t *testing.T) *sqlstore.Stores {
			return openSQLite(t, filepath.Join(t.TempDir(), "gatehouse.db"))
		},
		"postgres": openPostgres,
	}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { _ = s.Close() })
			testWebSessions(t, s)
		})
	}
}

func testWebSessions(t *testing.T, s *sqlstore.Stores) {
	ctx := context.Background()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	u := &namespace.User{Username: "alice", Email: "alice@example.com", Name: "Alice", PasswordHash: "x", CreatedAt: time.Now()}
	if err := s.Namespaces.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	live, old := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	if err := s.Sessions.CreateWebSession(ctx, live, u.ID, now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Sessions.CreateWebSession(ctx, old, u.ID, now.Add(-2*time.Hour), now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Sessions.CreateWebSession(ctx, live, u.ID, now, now.Add(time.Hour)); err == nil {
		t.Fatal("fail/duplicate digest: created twice")
	}
	if id, ok, err := s.Sessions.WebSessionUser(ctx, live, now); err != nil || !ok || id != u.ID {
		t.Fatalf("ok/live: %d %v %v", id, ok, err)
	}
	if _, ok, err := s.Sessions.WebSessionUser(ctx, live, now.Add(time.Hour)); err != nil || ok {
		t.Fatalf("fail/at expiry: %v %v", ok, err)
	}
	if _, ok, err := s.Sessions.WebSessionUser(ctx, old, now); err != nil || ok {
		t.Fatalf("fail/expired: %v %v", ok, err)
	}
	if _, ok, err := s.Sessions.WebSessionUser(ctx, []byte("unknown"), now); err != nil || ok {
		t.Fatalf("fail/unknown: %v %v", ok, err)
	}
	if n, err := s.Sessions.DeleteExpiredWebSessions(ctx, now); err != nil || n != 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
	if err := s.Sessions.DeleteWebSession(ctx, live); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Sessions.WebSessionUser(ctx, live, now); err != nil || ok {
		t.Fatalf("fail/deleted: %v %v", ok, err)
	}
	if err := s.Sessions.DeleteWebSession(ctx, live); err != nil {
		t.Fatalf("deleting twice: %v", err)
	}
}
