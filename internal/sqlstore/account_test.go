package sqlstore_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// TestPasswordChangeAndSessions runs, on SQLite and PostgreSQL, what User settings › Password
// stores: the password-change-required flag (set at creation, cleared by a new password), the
// end of a user's other sessions, and a personal access token's last use.
func TestPasswordChangeAndSessions(t *testing.T) {
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
			testPasswordChangeAndSessions(t, s)
			testTouchPersonalToken(t, s)
		})
	}
}

func testPasswordChangeAndSessions(t *testing.T, s *sqlstore.Stores) {
	ctx := context.Background()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	root := &namespace.User{Username: "root", Email: "root@example.com", Name: "Root", PasswordHash: "x", CreatedAt: time.Now(), PasswordChangeRequired: true}
	other := &namespace.User{Username: "bob", Email: "bob@example.com", Name: "Bob", PasswordHash: "x", CreatedAt: time.Now()}
	for _, u := range []*namespace.User{root, other} {
		if err := s.Namespaces.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if u, err := s.Namespaces.User(ctx, root.ID); err != nil || !u.PasswordChangeRequired {
		t.Fatalf("ok/flag stored: %+v %v", u, err)
	}
	if u, err := s.Namespaces.UserByUsername(ctx, "bob"); err != nil || u.PasswordChangeRequired {
		t.Fatalf("ok/flag unset by default: %+v %v", u, err)
	}
	if err := s.Namespaces.SetUserPassword(ctx, root.ID, "y"); err != nil {
		t.Fatal(err)
	}
	if u, err := s.Namespaces.User(ctx, root.ID); err != nil || u.PasswordChangeRequired || u.PasswordHash != "y" {
		t.Fatalf("ok/new password clears the flag: %+v %v", u, err)
	}

	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	mine, second, third, bobs := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32), bytes.Repeat([]byte{4}, 32)
	for _, c := range []struct {
		digest []byte
		user   int64
	}{{mine, root.ID}, {second, root.ID}, {third, root.ID}, {bobs, other.ID}} {
		if err := s.Sessions.CreateWebSession(ctx, c.digest, c.user, now, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.Sessions.DeleteUserWebSessions(ctx, root.ID, mine); err != nil || n != 2 {
		t.Fatalf("ok/others ended: %d %v", n, err)
	}
	for _, c := range []struct {
		name   string
		digest []byte
		live   bool
	}{{"kept", mine, true}, {"second", second, false}, {"third", third, false}, {"another user's", bobs, true}} {
		if _, ok, err := s.Sessions.WebSessionUser(ctx, c.digest, now); err != nil || ok != c.live {
			t.Errorf("%s session: live %v %v, want %v", c.name, ok, err, c.live)
		}
	}
	if n, err := s.Sessions.DeleteUserWebSessions(ctx, root.ID, nil); err != nil || n != 1 {
		t.Fatalf("ok/all ended: %d %v", n, err)
	}
}

// testTouchPersonalToken: a personal access token's last use is stored to the microsecond.
func testTouchPersonalToken(t *testing.T, s *sqlstore.Stores) {
	ctx := context.Background()
	u, err := s.Namespaces.UserByUsername(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	pat := &token.PersonalToken{UserID: u.ID, Name: "laptop", Scopes: token.Scopes{token.API}, CreatedAt: time.Now(), Digest: []byte("digest-of-laptop")}
	if err := s.Tokens.CreatePersonalToken(ctx, pat); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC)
	if err := s.Tokens.TouchPersonalToken(ctx, pat.ID, at); err != nil {
		t.Fatal(err)
	}
	got, err := s.Tokens.PersonalToken(ctx, pat.ID)
	if err != nil || got.LastUsedAt == nil || !got.LastUsedAt.Equal(at) {
		t.Fatalf("ok/last use stored: %+v %v", got, err)
	}
	if err := s.Tokens.TouchPersonalToken(ctx, 999999, at); !errors.Is(err, errkind.ErrNotFound) {
		t.Fatalf("fail/missing token: %v", err)
	}
}
