package storetest

import (
	"errors"
	"fmt"
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
func testSharedPaths(t *testing.T, s *sqlstore.Stores) {
	svc := namespace.NewService(s.Namespaces, func() time.Time { return t0 })
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
		if _, err := s.Namespaces.UserByUsername(ctx(), "acme"); !errors.Is(err, errkind.ErrNotFound) {
			t.Fatalf("user acme: %v, want not found", err)
		}
		if g, err := s.Namespaces.GroupByPath(ctx(), "alice"); !errors.Is(err, errkind.ErrNotFound) {
			t.Fatalf("group alice: %+v %v, want not found", g, err)
		}
	})
}

// testSiblingPaths checks that a group's subgroups and projects share one namespace of paths
// (g1/p1 cannot be both), case-insensitively, through the service and under concurrency: the
// store's unique index decides, so of two creates racing for one path exactly one wins.
func testSiblingPaths(t *testing.T, s *sqlstore.Stores) {
	svc := namespace.NewService(s.Namespaces, func() time.Time { return t0 })
	g1, err := svc.CreateGroup(ctx(), namespace.CreateGroupInput{Name: "g1", Path: "g1"})
	must(t, err)
	group := func(path string) error {
		_, err := svc.CreateGroup(ctx(), namespace.CreateGroupInput{Name: path, Path: path, ParentID: g1.ID})
		return err
	}
	project := func(path string) error {
		_, err := svc.CreateProject(ctx(), namespace.CreateProjectInput{Name: path, Path: path, GroupID: g1.ID})
		return err
	}
	taken := func(t *testing.T, err error) {
		t.Helper()
		var ve *errkind.ValidationError
		if !errors.As(err, &ve) || ve.Field != "path" || ve.Reason != "has already been taken" {
			t.Fatalf("error = %v, want path has already been taken", err)
		}
	}
	must(t, project("p1"))
	must(t, group("sub"))
	t.Run("fail/subgroup with a sibling project's path", func(t *testing.T) {
		taken(t, group("p1"))
		taken(t, group("P1"))
	})
	t.Run("fail/project with a sibling subgroup's path", func(t *testing.T) {
		taken(t, project("sub"))
		taken(t, project("SUB"))
	})
	t.Run("ok/nothing stored by the refusals", func(t *testing.T) {
		if _, err := s.Namespaces.GroupByPath(ctx(), "g1/p1"); !errors.Is(err, errkind.ErrNotFound) {
			t.Fatalf("group g1/p1: %v, want not found", err)
		}
		if _, err := s.Namespaces.ProjectByPath(ctx(), "g1/sub"); !errors.Is(err, errkind.ErrNotFound) {
			t.Fatalf("project g1/sub: %v, want not found", err)
		}
	})
	t.Run("ok/a refused project frees nothing and an undone one frees its path", func(t *testing.T) {
		p, err := svc.CreateProject(ctx(), namespace.CreateProjectInput{Name: "tmp", Path: "tmp", GroupID: g1.ID})
		must(t, err)
		must(t, s.Namespaces.DeleteProject(ctx(), p.ID))
		must(t, group("tmp"))
	})
	t.Run("ok/concurrent project and subgroup creates: exactly one wins", func(t *testing.T) {
		for i := range 20 {
			path := fmt.Sprintf("race%d", i)
			start := make(chan struct{})
			errs := make(chan error, 2)
			for _, create := range []func(string) error{project, group} {
				go func() {
					<-start
					errs <- create(path)
				}()
			}
			close(start)
			won := 0
			for range 2 {
				if err := <-errs; err == nil {
					won++
				} else {
					taken(t, err)
				}
			}
			_, gerr := s.Namespaces.GroupByPath(ctx(), "g1/"+path)
			_, perr := s.Namespaces.ProjectByPath(ctx(), "g1/"+path)
			if won != 1 || (gerr == nil) == (perr == nil) {
				t.Fatalf("%s: %d creates won; group: %v, project: %v", path, won, gerr, perr)
			}
		}
	})
	t.Run("ok/concurrent user and top-level group creates: exactly one wins", func(t *testing.T) {
		for i := range 10 {
			name := fmt.Sprintf("both%d", i)
			start := make(chan struct{})
			errs := make(chan error, 2)
			go func() {
				<-start
				_, err := svc.CreateGroup(ctx(), namespace.CreateGroupInput{Name: name, Path: name})
				errs <- err
			}()
			go func() {
				<-start
				// A store user: bcrypt would make the race one-sided.
				errs <- s.Namespaces.CreateUser(ctx(), &namespace.User{Username: name, Email: name + "@example.com", Name: name, PasswordHash: "!", CreatedAt: t0})
			}()
			close(start)
			won := 0
			for range 2 {
				if err := <-errs; err == nil {
					won++
				} else if !errors.Is(err, errkind.ErrConflict) && !errors.Is(err, errkind.ErrInvalid) {
					t.Fatalf("%s: %v", name, err)
				}
			}
			if won != 1 {
				t.Fatalf("%s: %d creates won, want 1", name, won)
			}
		}
	})
}

// testRoutesMigration checks that migration 0015 refuses existing paths held twice, naming them,
// and builds the routes table once they are gone.
func testRoutesMigration(t *testing.T, s *sqlstore.Stores) {
	db := s.SQL()
	exec := func(query string, args ...any) {
		t.Helper()
		if s.Dialect() == "postgres" {
			for i := 1; strings.Contains(query, "?"); i++ {
				query = strings.Replace(query, "?", fmt.Sprintf("$%d", i), 1)
			}
		}
		if _, err := db.ExecContext(ctx(), query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	g1 := mustGroup(t, s, "g1", 0)
	// Back to before 0015, with a subgroup and a project both at g1/p1, as older versions allowed.
	exec(`DROP TABLE routes`)
	exec(`DELETE FROM schema_migrations WHERE version = 15`)
	exec(`INSERT INTO namespace_groups (name, path, parent_id, full_path, ancestry, created_at) VALUES ('p1', 'p1', ?, 'g1/p1', '', 0)`, g1.ID)
	exec(`INSERT INTO projects (name, path, group_id, full_path, visibility, created_at) VALUES ('p1', 'P1', ?, 'g1/P1', 'private', 0)`, g1.ID)
	_, err := s.Migrate(ctx())
	if err == nil || !strings.Contains(err.Error(), "0015") || !strings.Contains(err.Error(), "g1/p1 (2 holders)") {
		t.Fatalf("Migrate with a path held twice = %v, want a refusal naming g1/p1", err)
	}
	exec(`DELETE FROM namespace_groups WHERE full_path = 'g1/p1'`)
	n, err := s.Migrate(ctx())
	if err != nil || n != 1 {
		t.Fatalf("Migrate after the rename = %d, %v; want 0015 applied", n, err)
	}
	// The backfilled routes hold the existing paths.
	svc := namespace.NewService(s.Namespaces, func() time.Time { return t0 })
	_, err = svc.CreateGroup(ctx(), namespace.CreateGroupInput{Name: "p1", Path: "p1", ParentID: g1.ID})
	var ve *errkind.ValidationError
	if !errors.As(err, &ve) || ve.Reason != "has already been taken" {
		t.Fatalf("subgroup at a backfilled project's path: %v", err)
	}
}
