package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore"
)

// testSharedPaths checks, through the namespace service, that users and top-level groups share
// one namespace of paths (case-insensitively), as in GitLab, while a subgroup may reuse a
// username.
func testSharedPaths(t *testing.T, s *sqlstore.Store) {
	svc := namespace.NewService(s, func() time.Time { return t0 })
	user := func(name string) error {
		_, err := svc.CreateUser(ctx(), namespace.CreateUserInput{Username: name, Email: strings.ToLower(name) + "@example.com",
			Name: name, Password: "correct horse"})
		return err
	}
	group := func(path string, parent int64) (*namespace.Group, error) {
		return svc.CreateGroup(ctx(), namespace.CreateGroupInput{Name: path, Path: path, ParentID: parent})
	}
	taken := func(t *testing.T, err error, field string) {
		t.Helper()
		var ve *errkind.ValidationError
		if !errors.As(err, &ve) || ve.Field != field || ve.Reason != "has already been taken" || !errors.Is(err, errkind.ErrInvalid) {
			t.Fatalf("error = %v, want %q has already been taken", err, field)
		}
	}
	must(t, user("alice"))
	top, err := group("acme", 0)
	must(t, err)
	t.Run("fail/top-level group named like a user", func(t *testing.T) {
		_, err := group("Alice", 0)
		taken(t, err, "path")
	})
	t.Run("fail/user named like a top-level group", func(t *testing.T) {
		taken(t, user("ACME"), "username")
	})
	t.Run("ok/subgroup named like a user", func(t *testing.T) {
		_, err := group("alice", top.ID)
		must(t, err)
	})
	t.Run("ok/user named like a subgroup only", func(t *testing.T) {
		_, err := group("bob", top.ID)
		must(t, err)
		must(t, user("bob"))
	})
	t.Run("ok/nothing stored by the refusals", func(t *testing.T) {
		if _, err := s.UserByUsername(ctx(), "acme"); !errors.Is(err, errkind.ErrNotFound) {
			t.Fatalf("user acme: %v, want not found", err)
		}
		if g, err := s.GroupByPath(ctx(), "alice"); !errors.Is(err, errkind.ErrNotFound) {
			t.Fatalf("group alice: %+v %v, want not found", g, err)
		}
	})
}
