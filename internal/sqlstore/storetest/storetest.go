// Package storetest is the behavioural suite every sqlstore backend must pass
// (docs/architecture.md §7.3): sqlstore_test.go runs it against SQLite and PostgreSQL, so the two
// dialects cannot drift apart. It also offers OpenSQLite, the builder other packages' tests use for
// a real store.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// OpenSQLite opens a migrated SQLite store in a fresh temporary directory and closes it when
// the test ends.
func OpenSQLite(tb testing.TB) *sqlstore.Stores {
	tb.Helper()
	db, err := sqlstore.Open(context.Background(), filepath.Join(tb.TempDir(), "gatehouse.db"))
	if err != nil {
		tb.Fatalf("open sqlite store: %v", err)
	}
	s := sqlstore.New(db)
	tb.Cleanup(func() { _ = s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		tb.Fatalf("migrate sqlite store: %v", err)
	}
	return s
}

// Run runs the suite. open must return a store on a fresh, empty and NOT yet migrated database
// (the suite migrates it itself so it can check Migrate), and arrange for it to be closed.
func Run(t *testing.T, open func(t *testing.T) *sqlstore.Stores) {
	t.Helper()
	migrated := func(t *testing.T) *sqlstore.Stores {
		t.Helper()
		s := open(t)
		if _, err := s.Migrate(context.Background()); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		return s
	}
	t.Run("migrate", func(t *testing.T) { testMigrate(t, open(t)) })
	t.Run("settings", func(t *testing.T) { testSettings(t, migrated(t)) })
	t.Run("users", func(t *testing.T) { testUsers(t, migrated(t)) })
	t.Run("groups", func(t *testing.T) { testGroups(t, migrated(t)) })
	t.Run("projects", func(t *testing.T) { testProjects(t, migrated(t)) })
	t.Run("shared_paths", func(t *testing.T) { testSharedPaths(t, migrated(t)) })
	t.Run("sibling_paths", func(t *testing.T) { testSiblingPaths(t, migrated(t)) })
	t.Run("routes_migration", func(t *testing.T) { testRoutesMigration(t, migrated(t)) })
	t.Run("namespace_ids", func(t *testing.T) { testNamespaceIDs(t, migrated(t)) })
	t.Run("namespace_migration", func(t *testing.T) { testNamespaceMigration(t, migrated(t)) })
	t.Run("namespace_moves", func(t *testing.T) { testMoves(t, migrated(t)) })
	t.Run("namespace_deletes", func(t *testing.T) { testDeletes(t, migrated(t)) })
	t.Run("namespace_updates", func(t *testing.T) { testUpdates(t, migrated(t)) })
	t.Run("group_shares", func(t *testing.T) { testGroupShares(t, migrated(t)) })
	t.Run("members", func(t *testing.T) { testMembers(t, migrated(t)) })
	t.Run("member_changes", func(t *testing.T) { testMemberChanges(t, migrated(t)) })
	t.Run("deploy_tokens", func(t *testing.T) { testDeployTokens(t, migrated(t)) })
	t.Run("deploy_token_list", func(t *testing.T) { testDeployTokenList(t, migrated(t)) })
	t.Run("deploy_token_rotate", func(t *testing.T) { testDeployTokenRotate(t, migrated(t)) })
	t.Run("deploy_token_concurrent_create", func(t *testing.T) { testDeployTokenConcurrent(t, migrated(t)) })
	t.Run("personal_tokens", func(t *testing.T) { testPersonalTokens(t, migrated(t)) })
	t.Run("personal_token_administration", func(t *testing.T) { testPersonalTokenAdministration(t, migrated(t)) })
	t.Run("user_administration", func(t *testing.T) { testUserAdministration(t, migrated(t)) })
	t.Run("variables", func(t *testing.T) { testVariables(t, migrated(t)) })
	t.Run("member_expiry", func(t *testing.T) { testMemberExpiry(t, migrated(t)) })
	t.Run("expired_owners", func(t *testing.T) { testExpiredOwners(t, migrated(t)) })
	t.Run("audit_events", func(t *testing.T) { testAuditEvents(t, migrated(t)) })
	t.Run("deploy_token_usage", func(t *testing.T) { testDeployTokenUsage(t, migrated(t)) })
	t.Run("external_authorization", func(t *testing.T) { testExternalAuthorization(t, migrated(t)) })
	t.Run("cluster_locks", func(t *testing.T) { testClusterLocks(t, migrated(t)) })
}

// t0 is the suite's reference instant, with microsecond precision so it survives the round trip.
var t0 = time.Date(2031, time.March, 14, 15, 9, 26, 535897000, time.UTC)

func ctx() context.Context { return context.Background() }

func wantErr(t *testing.T, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error = %v, want %v", err, kind)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustUser(t *testing.T, s *sqlstore.Stores, username string) *namespace.User {
	t.Helper()
	u := &namespace.User{Username: username, Email: username + "@example.com", Name: strings.ToUpper(username),
		PasswordHash: "hash-of-" + username, CreatedAt: t0}
	if err := s.Namespaces.CreateUser(ctx(), u); err != nil {
		t.Fatalf("create user %s: %v", username, err)
	}
	return u
}

func mustGroup(t *testing.T, s *sqlstore.Stores, path string, parent int64) *namespace.Group {
	t.Helper()
	g := &namespace.Group{Name: "Group " + path, Path: path, ParentID: parent, CreatedAt: t0}
	if err := s.Namespaces.CreateGroup(ctx(), g); err != nil {
		t.Fatalf("create group %s: %v", path, err)
	}
	return g
}

func mustProject(t *testing.T, s *sqlstore.Stores, path string, groupID, ownerID int64) *namespace.Project {
	t.Helper()
	p := &namespace.Project{Name: "Project " + path, Path: path, GroupID: groupID, OwnerUserID: ownerID,
		Visibility: namespace.Private, CreatedAt: t0}
	if err := s.Namespaces.CreateProject(ctx(), p); err != nil {
		t.Fatalf("create project %s: %v", path, err)
	}
	return p
}

// digestOf returns a distinct 32-byte digest per label, as an HMAC-SHA-256 would be.
func digestOf(label string) []byte {
	d := make([]byte, 32)
	copy(d, "digest:"+label)
	return d
}

func testMigrate(t *testing.T, s *sqlstore.Stores) {
	t.Run("ok/first applies every migration", func(t *testing.T) {
		n, err := s.Migrate(ctx())
		must(t, err)
		if n < 1 {
			t.Fatalf("first Migrate applied %d migrations, want ≥ 1", n)
		}
	})
	t.Run("ok/second is a no-op", func(t *testing.T) {
		n, err := s.Migrate(ctx())
		must(t, err)
		if n != 0 {
			t.Fatalf("second Migrate applied %d migrations, want 0", n)
		}
	})
	t.Run("ok/schema usable after re-run", func(t *testing.T) {
		u := mustUser(t, s, "after-migrate")
		if u.ID == 0 {
			t.Fatal("no id assigned")
		}
	})
}

func testSettings(t *testing.T, s *sqlstore.Stores) {
	t.Run("ok/absent", func(t *testing.T) {
		v, ok, err := s.Settings.Setting(ctx(), "jwt_key")
		must(t, err)
		if ok || v != "" {
			t.Fatalf("Setting on empty store = %q, %v; want \"\", false", v, ok)
		}
	})
	t.Run("ok/first value stored", func(t *testing.T) {
		v, err := s.Settings.SetSettingIfAbsent(ctx(), "jwt_key", "first")
		must(t, err)
		if v != "first" {
			t.Fatalf("SetSettingIfAbsent = %q, want first", v)
		}
	})
	t.Run("ok/second value ignored", func(t *testing.T) {
		v, err := s.Settings.SetSettingIfAbsent(ctx(), "jwt_key", "second")
		must(t, err)
		if v != "first" {
			t.Fatalf("SetSettingIfAbsent kept %q, want first", v)
		}
		got, ok, err := s.Settings.Setting(ctx(), "jwt_key")
		must(t, err)
		if !ok || got != "first" {
			t.Fatalf("Setting = %q, %v; want first, true", got, ok)
		}
	})
	t.Run("ok/keys independent", func(t *testing.T) {
		v, err := s.Settings.SetSettingIfAbsent(ctx(), "other", "x")
		must(t, err)
		if v != "x" {
			t.Fatalf("SetSettingIfAbsent(other) = %q, want x", v)
		}
	})
}

func testUsers(t *testing.T, s *sqlstore.Stores) {
	alice := &namespace.User{Username: "Alice", Email: "Alice@Example.com", Name: "Alice A", PasswordHash: "h1",
		Admin: true, CreatedAt: t0}
	t.Run("ok/create", func(t *testing.T) {
		must(t, s.Namespaces.CreateUser(ctx(), alice))
		if alice.ID == 0 {
			t.Fatal("CreateUser assigned no id")
		}
		got, err := s.Namespaces.User(ctx(), alice.ID)
		must(t, err)
		want := *alice
		if !reflect.DeepEqual(*got, want) {
			t.Fatalf("User = %+v, want %+v", *got, want)
		}
	})
	t.Run("ok/by username case-insensitive", func(t *testing.T) {
		for _, name := range []string{"Alice", "alice", "ALICE"} {
			got, err := s.Namespaces.UserByUsername(ctx(), name)
			must(t, err)
			if got.ID != alice.ID || got.Username != "Alice" {
				t.Fatalf("UserByUsername(%q) = %d %q, want %d Alice", name, got.ID, got.Username, alice.ID)
			}
		}
	})
	conflicts := []struct{ name, username, email string }{
		{"fail/username same case", "Alice", "other1@example.com"},
		{"fail/username other case", "aLICE", "other2@example.com"},
		{"fail/email other case", "alice2", "alice@EXAMPLE.COM"},
	}
	for _, c := range conflicts {
		t.Run(c.name, func(t *testing.T) {
			err := s.Namespaces.CreateUser(ctx(), &namespace.User{Username: c.username, Email: c.email, Name: "x", PasswordHash: "h", CreatedAt: t0})
			wantErr(t, err, errkind.ErrConflict)
		})
	}
	bob := &namespace.User{Username: "bob", Email: "bob@example.com", Name: "Bob", PasswordHash: "h2", Blocked: true, CreatedAt: t0}
	t.Run("ok/second user, blocked flag kept", func(t *testing.T) {
		must(t, s.Namespaces.CreateUser(ctx(), bob))
		if bob.ID <= alice.ID {
			t.Fatalf("ids not increasing: %d then %d", alice.ID, bob.ID)
		}
		got, err := s.Namespaces.User(ctx(), bob.ID)
		must(t, err)
		if !got.Blocked || got.Admin {
			t.Fatalf("bob: blocked=%v admin=%v, want true false", got.Blocked, got.Admin)
		}
	})
	t.Run("ok/list by id", func(t *testing.T) {
		us, err := s.Namespaces.ListUsers(ctx())
		must(t, err)
		if len(us) != 2 || us[0].ID != alice.ID || us[1].ID != bob.ID {
			t.Fatalf("ListUsers = %v, want alice then bob", us)
		}
	})
	t.Run("ok/set password", func(t *testing.T) {
		must(t, s.Namespaces.SetUserPassword(ctx(), bob.ID, "new-hash"))
		got, err := s.Namespaces.User(ctx(), bob.ID)
		must(t, err)
		if got.PasswordHash != "new-hash" {
			t.Fatalf("password hash = %q, want new-hash", got.PasswordHash)
		}
		a, err := s.Namespaces.User(ctx(), alice.ID)
		must(t, err)
		if a.PasswordHash != "h1" {
			t.Fatalf("other user's hash changed to %q", a.PasswordHash)
		}
	})
	t.Run("fail/set password of missing user", func(t *testing.T) {
		wantErr(t, s.Namespaces.SetUserPassword(ctx(), 999999, "x"), errkind.ErrNotFound)
	})
	t.Run("fail/missing by id", func(t *testing.T) {
		_, err := s.Namespaces.User(ctx(), 999999)
		wantErr(t, err, errkind.ErrNotFound)
	})
	t.Run("fail/missing by username", func(t *testing.T) {
		_, err := s.Namespaces.UserByUsername(ctx(), "carol")
		wantErr(t, err, errkind.ErrNotFound)
	})
}

func testGroups(t *testing.T, s *sqlstore.Stores) {
	var a, b, c, d *namespace.Group
	t.Run("ok/nested four deep", func(t *testing.T) {
		a = mustGroup(t, s, "Platform", 0)
		b = mustGroup(t, s, "backend", a.ID)
		c = mustGroup(t, s, "payments", b.ID)
		d = mustGroup(t, s, "ledger", c.ID)
		cases := []struct {
			g        *namespace.Group
			fullPath string
			ancestry []int64
			parent   int64
		}{
			{a, "Platform", []int64{a.ID}, 0},
			{b, "Platform/backend", []int64{a.ID, b.ID}, a.ID},
			{c, "Platform/backend/payments", []int64{a.ID, b.ID, c.ID}, b.ID},
			{d, "Platform/backend/payments/ledger", []int64{a.ID, b.ID, c.ID, d.ID}, c.ID},
		}
		for _, tc := range cases {
			for _, got := range []*namespace.Group{tc.g, mustGetGroup(t, s, tc.g.ID)} {
				if got.FullPath != tc.fullPath || !equalIDs(got.Ancestry, tc.ancestry) || got.ParentID != tc.parent {
					t.Errorf("group %s: full_path=%q ancestry=%v parent=%d; want %q %v %d",
						tc.g.Path, got.FullPath, got.Ancestry, got.ParentID, tc.fullPath, tc.ancestry, tc.parent)
				}
				if !got.CreatedAt.Equal(t0) || got.Name != "Group "+tc.g.Path {
					t.Errorf("group %s: name=%q created=%v", tc.g.Path, got.Name, got.CreatedAt)
				}
			}
		}
	})
	t.Run("ok/by path case-insensitive", func(t *testing.T) {
		for _, p := range []string{"Platform/backend/payments/ledger", "platform/BACKEND/payments/Ledger"} {
			g, err := s.Namespaces.GroupByPath(ctx(), p)
			must(t, err)
			if g.ID != d.ID || !equalIDs(g.Ancestry, []int64{a.ID, b.ID, c.ID, d.ID}) {
				t.Fatalf("GroupByPath(%q) = %d %v, want %d", p, g.ID, g.Ancestry, d.ID)
			}
		}
	})
	t.Run("ok/same path under another parent", func(t *testing.T) {
		other := mustGroup(t, s, "backend", d.ID)
		if other.FullPath != "Platform/backend/payments/ledger/backend" {
			t.Fatalf("full path = %q", other.FullPath)
		}
	})
	t.Run("fail/top-level conflict case-insensitive", func(t *testing.T) {
		wantErr(t, s.Namespaces.CreateGroup(ctx(), &namespace.Group{Name: "x", Path: "platform", CreatedAt: t0}), errkind.ErrConflict)
	})
	t.Run("fail/nested conflict", func(t *testing.T) {
		wantErr(t, s.Namespaces.CreateGroup(ctx(), &namespace.Group{Name: "x", Path: "Backend", ParentID: a.ID, CreatedAt: t0}), errkind.ErrConflict)
	})
	t.Run("fail/missing parent", func(t *testing.T) {
		g := &namespace.Group{Name: "x", Path: "orphan", ParentID: 999999, CreatedAt: t0}
		wantErr(t, s.Namespaces.CreateGroup(ctx(), g), errkind.ErrNotFound)
		if _, err := s.Namespaces.GroupByPath(ctx(), "orphan"); !errors.Is(err, errkind.ErrNotFound) {
			t.Fatalf("orphan stored anyway: %v", err)
		}
	})
	t.Run("fail/missing by id", func(t *testing.T) {
		_, err := s.Namespaces.Group(ctx(), 999999)
		wantErr(t, err, errkind.ErrNotFound)
	})
	t.Run("fail/missing by path", func(t *testing.T) {
		_, err := s.Namespaces.GroupByPath(ctx(), "Platform/frontend")
		wantErr(t, err, errkind.ErrNotFound)
	})
	t.Run("ok/list", func(t *testing.T) {
		top := mustGroup(t, s, "tools", 0)
		cases := []struct {
			name   string
			parent int64
			all    bool
			want   []string
		}{
			{"top level", 0, false, []string{"Platform", "tools"}},
			{"children", b.ID, false, []string{"Platform/backend/payments"}},
			{"leaf", top.ID, false, nil},
			{"all", 0, true, []string{"Platform", "Platform/backend", "Platform/backend/payments",
				"Platform/backend/payments/ledger", "Platform/backend/payments/ledger/backend", "tools"}},
		}
		for _, tc := range cases {
			gs, err := s.Namespaces.ListGroups(ctx(), tc.parent, tc.all)
			must(t, err)
			var got []string
			for _, g := range gs {
				got = append(got, g.FullPath)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("ListGroups %s = %v, want %v", tc.name, got, tc.want)
			}
		}
	})
}

func mustGetGroup(t *testing.T, s *sqlstore.Stores, id int64) *namespace.Group {
	t.Helper()
	g, err := s.Namespaces.Group(ctx(), id)
	if err != nil {
		t.Fatalf("group %d: %v", id, err)
	}
	return g
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func testProjects(t *testing.T, s *sqlstore.Stores) {
	a := mustGroup(t, s, "acme", 0)
	b := mustGroup(t, s, "infra", a.ID)
	c := mustGroup(t, s, "deep", b.ID)
	dana := mustUser(t, s, "dana")
	cases := []struct {
		name     string
		p        namespace.Project
		fullPath string
		ancestry []int64
	}{
		{"ok/top group", namespace.Project{Path: "site", GroupID: a.ID, Visibility: namespace.Public}, "acme/site", []int64{a.ID}},
		{"ok/third level group", namespace.Project{Path: "Terraform", GroupID: c.ID, Visibility: namespace.Internal}, "acme/infra/deep/Terraform", []int64{a.ID, b.ID, c.ID}},
		{"ok/user namespace", namespace.Project{Path: "dotfiles", OwnerUserID: dana.ID, Visibility: namespace.Private}, "dana/dotfiles", nil},
	}
	created := map[string]*namespace.Project{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			p.Name, p.CreatedAt = "P "+p.Path, t0
			must(t, s.Namespaces.CreateProject(ctx(), &p))
			if p.ID == 0 || p.FullPath != tc.fullPath || !equalIDs(p.GroupAncestry, tc.ancestry) {
				t.Fatalf("created: id=%d full_path=%q ancestry=%v; want %q %v", p.ID, p.FullPath, p.GroupAncestry, tc.fullPath, tc.ancestry)
			}
			got, err := s.Namespaces.Project(ctx(), p.ID)
			must(t, err)
			if got.FullPath != tc.fullPath || !equalIDs(got.GroupAncestry, tc.ancestry) || got.GroupID != p.GroupID ||
				got.OwnerUserID != p.OwnerUserID || got.Visibility != p.Visibility || got.Name != p.Name || !got.CreatedAt.Equal(t0) {
				t.Fatalf("Project = %+v, want %+v", *got, p)
			}
			byPath, err := s.Namespaces.ProjectByPath(ctx(), strings.ToUpper(tc.fullPath))
			must(t, err)
			if byPath.ID != p.ID {
				t.Fatalf("ProjectByPath(upper) = %d, want %d", byPath.ID, p.ID)
			}
			created[tc.fullPath] = &p
		})
	}
	t.Run("ok/in group checks whole ancestry", func(t *testing.T) {
		p := created["acme/infra/deep/Terraform"]
		if p == nil {
			t.Skip("creation failed")
		}
		for _, g := range []int64{a.ID, b.ID, c.ID} {
			if !p.InGroup(g) {
				t.Errorf("InGroup(%d) = false", g)
			}
		}
		if created["dana/dotfiles"] != nil && created["dana/dotfiles"].InGroup(a.ID) {
			t.Error("user-namespace project claims to be in a group")
		}
	})
	fails := []struct {
		name string
		p    namespace.Project
		kind error
	}{
		{"fail/conflict case-insensitive", namespace.Project{Path: "SITE", GroupID: a.ID}, errkind.ErrConflict},
		{"fail/conflict in user namespace", namespace.Project{Path: "Dotfiles", OwnerUserID: dana.ID}, errkind.ErrConflict},
		{"fail/missing group", namespace.Project{Path: "x", GroupID: 999999}, errkind.ErrNotFound},
		{"fail/missing owner", namespace.Project{Path: "x", OwnerUserID: 999999}, errkind.ErrNotFound},
		{"fail/no namespace", namespace.Project{Path: "x"}, errkind.ErrNotFound},
	}
	for _, tc := range fails {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			p.Name, p.Visibility, p.CreatedAt = "x", namespace.Private, t0
			wantErr(t, s.Namespaces.CreateProject(ctx(), &p), tc.kind)
		})
	}
	t.Run("ok/delete frees the path", func(t *testing.T) {
		p := mustProject(t, s, "gone", a.ID, 0)
		must(t, s.Namespaces.DeleteProject(ctx(), p.ID))
		_, err := s.Namespaces.Project(ctx(), p.ID)
		wantErr(t, err, errkind.ErrNotFound)
		_, err = s.Namespaces.ProjectByPath(ctx(), "acme/gone")
		wantErr(t, err, errkind.ErrNotFound)
		again := mustProject(t, s, "Gone", a.ID, 0)
		must(t, s.Namespaces.DeleteProject(ctx(), again.ID))
	})
	t.Run("fail/delete missing", func(t *testing.T) {
		wantErr(t, s.Namespaces.DeleteProject(ctx(), 999999), errkind.ErrNotFound)
	})
	t.Run("fail/missing by id", func(t *testing.T) {
		_, err := s.Namespaces.Project(ctx(), 999999)
		wantErr(t, err, errkind.ErrNotFound)
	})
	t.Run("fail/missing by path", func(t *testing.T) {
		_, err := s.Namespaces.ProjectByPath(ctx(), "acme/infra")
		wantErr(t, err, errkind.ErrNotFound)
	})
	t.Run("ok/list by id", func(t *testing.T) {
		ps, err := s.Namespaces.ListProjects(ctx())
		must(t, err)
		var got []string
		for _, p := range ps {
			got = append(got, p.FullPath)
		}
		want := "acme/site,acme/infra/deep/Terraform,dana/dotfiles"
		if strings.Join(got, ",") != want {
			t.Fatalf("ListProjects = %v, want %s", got, want)
		}
	})
}

func testMembers(t *testing.T, s *sqlstore.Stores) {
	root := mustGroup(t, s, "org", 0)
	mid := mustGroup(t, s, "team", root.ID)
	leaf := mustGroup(t, s, "squad", mid.ID)
	other := mustGroup(t, s, "elsewhere", 0)
	p := mustProject(t, s, "app", leaf.ID, 0)
	erin, finn := mustUser(t, s, "erin"), mustUser(t, s, "finn")

	t.Run("ok/set", func(t *testing.T) {
		for _, m := range []namespace.Member{
			{UserID: erin.ID, GroupID: root.ID, Role: namespace.Reporter, CreatedAt: t0},
			{UserID: erin.ID, GroupID: leaf.ID, Role: namespace.Developer, CreatedAt: t0},
			{UserID: erin.ID, ProjectID: p.ID, Role: namespace.Guest, CreatedAt: t0},
			{UserID: erin.ID, GroupID: other.ID, Role: namespace.Owner, CreatedAt: t0},
			{UserID: finn.ID, GroupID: root.ID, Role: namespace.Guest, CreatedAt: t0},
		} {
			must(t, s.Namespaces.AddMember(ctx(), m))
		}
	})
	t.Run("ok/member roles with inheritance", func(t *testing.T) {
		cases := []struct {
			name    string
			user    int64
			project int64
			groups  []int64
			want    []namespace.Role
		}{
			{"project and ancestry", erin.ID, p.ID, p.GroupAncestry, []namespace.Role{namespace.Guest, namespace.Reporter, namespace.Developer}},
			{"group ancestry only", erin.ID, 0, mid.Ancestry, []namespace.Role{namespace.Reporter}},
			{"project only", erin.ID, p.ID, nil, []namespace.Role{namespace.Guest}},
			{"inherited from root", finn.ID, p.ID, p.GroupAncestry, []namespace.Role{namespace.Guest}},
			{"unrelated group not counted", finn.ID, 0, other.Ancestry, nil},
		}
		for _, tc := range cases {
			got, err := s.Namespaces.MemberRoles(ctx(), tc.user, tc.project, tc.groups, t0)
			must(t, err)
			if !sameRoles(got, tc.want) {
				t.Errorf("%s: MemberRoles = %v, want %v", tc.name, got, tc.want)
			}
		}
	})
	t.Run("ok/update role", func(t *testing.T) {
		_, err := s.Namespaces.ChangeMember(ctx(), namespace.Member{UserID: finn.ID, GroupID: root.ID, Role: namespace.Maintainer},
			func(namespace.Member, int) error { return nil })
		must(t, err)
		got, err := s.Namespaces.MemberRoles(ctx(), finn.ID, 0, []int64{root.ID}, t0)
		must(t, err)
		if !sameRoles(got, []namespace.Role{namespace.Maintainer}) {
			t.Fatalf("after update MemberRoles = %v, want [maintainer] only", got)
		}
	})
	t.Run("ok/list members", func(t *testing.T) {
		ms, err := s.Namespaces.ListMembers(ctx(), root.ID, 0)
		must(t, err)
		if len(ms) != 2 || ms[0].UserID != erin.ID || ms[0].Role != namespace.Reporter || ms[0].GroupID != root.ID ||
			ms[1].UserID != finn.ID || ms[1].Role != namespace.Maintainer || !ms[0].CreatedAt.Equal(t0) {
			t.Fatalf("ListMembers(root) = %+v", ms)
		}
		ms, err = s.Namespaces.ListMembers(ctx(), 0, p.ID)
		must(t, err)
		if len(ms) != 1 || ms[0].UserID != erin.ID || ms[0].ProjectID != p.ID || ms[0].Role != namespace.Guest {
			t.Fatalf("ListMembers(project) = %+v", ms)
		}
		ms, err = s.Namespaces.ListMembers(ctx(), mid.ID, 0)
		must(t, err)
		if len(ms) != 0 {
			t.Fatalf("ListMembers(mid) = %+v, want none (inherited members are not direct)", ms)
		}
	})
	t.Run("fail/add an existing member", func(t *testing.T) {
		err := s.Namespaces.AddMember(ctx(), namespace.Member{UserID: finn.ID, GroupID: root.ID, Role: namespace.Owner, CreatedAt: t0})
		wantErr(t, err, errkind.ErrConflict)
	})
	t.Run("fail/missing user", func(t *testing.T) {
		err := s.Namespaces.AddMember(ctx(), namespace.Member{UserID: 999999, GroupID: root.ID, Role: namespace.Guest, CreatedAt: t0})
		wantErr(t, err, errkind.ErrNotFound)
	})
	t.Run("fail/missing group", func(t *testing.T) {
		err := s.Namespaces.AddMember(ctx(), namespace.Member{UserID: erin.ID, GroupID: 999999, Role: namespace.Guest, CreatedAt: t0})
		wantErr(t, err, errkind.ErrNotFound)
	})
	t.Run("fail/missing project", func(t *testing.T) {
		err := s.Namespaces.AddMember(ctx(), namespace.Member{UserID: erin.ID, ProjectID: 999999, Role: namespace.Guest, CreatedAt: t0})
		wantErr(t, err, errkind.ErrNotFound)
	})
}

func sameRoles(got, want []namespace.Role) bool {
	count := map[namespace.Role]int{}
	for _, r := range got {
		count[r]++
	}
	for _, r := range want {
		count[r]--
	}
	for _, n := range count {
		if n != 0 {
			return false
		}
	}
	return true
}

// tokenFixture is one project and one group to own deploy tokens.
type tokenFixture struct {
	group   *namespace.Group
	project *namespace.Project
	user    *namespace.User
}

func newTokenFixture(t *testing.T, s *sqlstore.Stores) tokenFixture {
	g := mustGroup(t, s, "tokens", 0)
	return tokenFixture{group: g, project: mustProject(t, s, "repo", g.ID, 0), user: mustUser(t, s, "creator")}
}

func (f tokenFixture) deploy(name, username string, owner token.Owner, exp *time.Time) *token.DeployToken {
	return &token.DeployToken{Name: name, Username: username, Scopes: token.Scopes{token.ReadRepository, token.ReadRegistry},
		ExpiresAt: exp, CreatedAt: t0, CreatorID: f.user.ID, Owner: owner, Digest: digestOf(name)}
}

func testDeployTokens(t *testing.T, s *sqlstore.Stores) {
	f := newTokenFixture(t, s)
	exp := time.Date(2032, 1, 2, 0, 0, 0, 0, time.UTC)
	var def, custom, grp *token.DeployToken

	t.Run("ok/default username", func(t *testing.T) {
		def = f.deploy("default", "", token.Owner{ProjectID: f.project.ID}, &exp)
		must(t, s.Tokens.CreateDeployToken(ctx(), def))
		if def.ID == 0 {
			t.Fatal("no id assigned")
		}
		if want := fmt.Sprintf("gitlab+deploy-token-%d", def.ID); def.Username != want {
			t.Fatalf("username = %q, want %q", def.Username, want)
		}
		got, err := s.Tokens.DeployToken(ctx(), def.ID)
		must(t, err)
		if got.Username != def.Username {
			t.Fatalf("stored username = %q, want %q", got.Username, def.Username)
		}
		assertDeployEqual(t, got, def)
	})
	t.Run("ok/custom username", func(t *testing.T) {
		custom = f.deploy("custom", "ci.bot+prod_1-a", token.Owner{ProjectID: f.project.ID}, nil)
		must(t, s.Tokens.CreateDeployToken(ctx(), custom))
		got, err := s.Tokens.DeployToken(ctx(), custom.ID)
		must(t, err)
		assertDeployEqual(t, got, custom)
	})
	t.Run("ok/group owner", func(t *testing.T) {
		grp = f.deploy("group", "", token.Owner{GroupID: f.group.ID}, nil)
		must(t, s.Tokens.CreateDeployToken(ctx(), grp))
		got, err := s.Tokens.DeployToken(ctx(), grp.ID)
		must(t, err)
		if !got.Owner.IsGroup() || got.Owner.GroupID != f.group.ID || got.Owner.ProjectID != 0 {
			t.Fatalf("owner = %+v, want group %d", got.Owner, f.group.ID)
		}
	})
	if def == nil || custom == nil || grp == nil {
		t.Fatal("fixtures not created")
	}
	t.Run("ok/by digest", func(t *testing.T) {
		for _, want := range []*token.DeployToken{def, custom, grp} {
			got, err := s.Tokens.DeployTokenByDigest(ctx(), want.Digest)
			must(t, err)
			if got.ID != want.ID {
				t.Fatalf("DeployTokenByDigest(%s) = %d, want %d", want.Name, got.ID, want.ID)
			}
		}
	})
	t.Run("fail/by unknown digest", func(t *testing.T) {
		_, err := s.Tokens.DeployTokenByDigest(ctx(), digestOf("nobody"))
		wantErr(t, err, errkind.ErrNotFound)
	})
	t.Run("fail/by digest prefix", func(t *testing.T) {
		_, err := s.Tokens.DeployTokenByDigest(ctx(), def.Digest[:16])
		wantErr(t, err, errkind.ErrNotFound)
	})
	// Custom usernames are not unique, as in GitLab (migration 0025): each token is found by its
	// digest. (A custom name never takes the default prefix: token.ValidateUsername.)
	t.Run("ok/custom username shared by another token", func(t *testing.T) {
		dup := f.deploy("dup", custom.Username, token.Owner{GroupID: f.group.ID}, nil)
		must(t, s.Tokens.CreateDeployToken(ctx(), dup))
		for _, want := range []*token.DeployToken{custom, dup} {
			got, err := s.Tokens.DeployTokenByDigest(ctx(), want.Digest)
			must(t, err)
			if got.ID != want.ID || got.Username != custom.Username {
				t.Fatalf("by digest: token %d %q, want %d %q", got.ID, got.Username, want.ID, custom.Username)
			}
		}
		must(t, s.Tokens.DeleteDeployToken(ctx(), dup.ID))
	})
	t.Run("fail/custom username of a user, any case", func(t *testing.T) {
		for i, name := range []string{f.user.Username, strings.ToUpper(f.user.Username)} {
			dup := f.deploy(fmt.Sprintf("as-user-%d", i), name, token.Owner{ProjectID: f.project.ID}, nil)
			wantErr(t, s.Tokens.CreateDeployToken(ctx(), dup), errkind.ErrConflict)
		}
	})
	t.Run("fail/user named as a custom deploy-token username, any case", func(t *testing.T) {
		named := f.deploy("named", "release-bot", token.Owner{ProjectID: f.project.ID}, nil)
		must(t, s.Tokens.CreateDeployToken(ctx(), named))
		defer func() { must(t, s.Tokens.DeleteDeployToken(ctx(), named.ID)) }()
		for _, name := range []string{"release-bot", "Release-Bot"} {
			err := s.Namespaces.CreateUser(ctx(), &namespace.User{Username: name, Email: name + "@example.com", Name: "x", PasswordHash: "h", CreatedAt: t0})
			wantErr(t, err, errkind.ErrConflict)
		}
	})
	t.Run("fail/digest taken", func(t *testing.T) {
		dup := f.deploy("dup3", "", token.Owner{ProjectID: f.project.ID}, nil)
		dup.Digest = def.Digest
		wantErr(t, s.Tokens.CreateDeployToken(ctx(), dup), errkind.ErrConflict)
	})
	t.Run("fail/missing project", func(t *testing.T) {
		err := s.Tokens.CreateDeployToken(ctx(), f.deploy("orphan-p", "", token.Owner{ProjectID: 999999}, nil))
		wantErr(t, err, errkind.ErrNotFound)
	})
	t.Run("fail/missing group", func(t *testing.T) {
		err := s.Tokens.CreateDeployToken(ctx(), f.deploy("orphan-g", "", token.Owner{GroupID: 999999}, nil))
		wantErr(t, err, errkind.ErrNotFound)
	})
	t.Run("fail/no owner", func(t *testing.T) {
		if err := s.Tokens.CreateDeployToken(ctx(), f.deploy("ownerless", "", token.Owner{}, nil)); err == nil {
			t.Fatal("token without owner stored")
		}
	})
	t.Run("fail/two owners", func(t *testing.T) {
		if err := s.Tokens.CreateDeployToken(ctx(), f.deploy("two-owners", "", token.Owner{ProjectID: f.project.ID, GroupID: f.group.ID}, nil)); err == nil {
			t.Fatal("token with two owners stored")
		}
	})
	t.Run("ok/failed creations left nothing behind", func(t *testing.T) {
		all, err := s.Tokens.ListDeployTokens(ctx(), token.DeployFilter{})
		must(t, err)
		if len(all) != 3 {
			t.Fatalf("%d tokens stored, want 3", len(all))
		}
	})
	t.Run("ok/touch", func(t *testing.T) {
		at := t0.Add(90 * time.Minute)
		must(t, s.Tokens.TouchDeployToken(ctx(), def.ID, at, netip.MustParseAddr("192.0.2.7")))
		got, err := s.Tokens.DeployToken(ctx(), def.ID)
		must(t, err)
		if got.LastUsedAt == nil || !got.LastUsedAt.Equal(at) || got.LastUsedIP != netip.MustParseAddr("192.0.2.7") {
			t.Fatalf("last_used_at = %v from %v, want %v from 192.0.2.7", got.LastUsedAt, got.LastUsedIP, at)
		}
		other, err := s.Tokens.DeployToken(ctx(), custom.ID)
		must(t, err)
		if other.LastUsedAt != nil {
			t.Fatalf("touch leaked to another token: %v", other.LastUsedAt)
		}
	})
	t.Run("ok/revoke", func(t *testing.T) {
		must(t, s.Tokens.RevokeDeployToken(ctx(), custom.ID))
		got, err := s.Tokens.DeployToken(ctx(), custom.ID)
		must(t, err)
		if !got.Revoked {
			t.Fatal("revoked token not marked revoked")
		}
		byDigest, err := s.Tokens.DeployTokenByDigest(ctx(), custom.Digest)
		must(t, err)
		if !byDigest.Revoked {
			t.Fatal("lookup by digest does not show revocation")
		}
		d, err := s.Tokens.DeployToken(ctx(), def.ID)
		must(t, err)
		if d.Revoked {
			t.Fatal("revocation leaked to another token")
		}
	})
	t.Run("fail/revoke missing", func(t *testing.T) {
		wantErr(t, s.Tokens.RevokeDeployToken(ctx(), 999999), errkind.ErrNotFound)
	})
	t.Run("ok/delete", func(t *testing.T) {
		must(t, s.Tokens.DeleteDeployToken(ctx(), grp.ID))
		_, err := s.Tokens.DeployToken(ctx(), grp.ID)
		wantErr(t, err, errkind.ErrNotFound)
		_, err = s.Tokens.DeployTokenByDigest(ctx(), grp.Digest)
		wantErr(t, err, errkind.ErrNotFound)
	})
	t.Run("fail/delete twice", func(t *testing.T) {
		wantErr(t, s.Tokens.DeleteDeployToken(ctx(), grp.ID), errkind.ErrNotFound)
	})
	t.Run("fail/get missing", func(t *testing.T) {
		_, err := s.Tokens.DeployToken(ctx(), 999999)
		wantErr(t, err, errkind.ErrNotFound)
	})
	t.Run("ok/ids never reused after delete", func(t *testing.T) {
		last := f.deploy("last", "", token.Owner{GroupID: f.group.ID}, nil)
		must(t, s.Tokens.CreateDeployToken(ctx(), last))
		if last.ID <= grp.ID {
			t.Fatalf("new token id %d ≤ deleted token id %d: ids reused", last.ID, grp.ID)
		}
		if last.Username == grp.Username {
			t.Fatalf("new token took deleted token's username %q", last.Username)
		}
		// Delete the newest token too: the next id must still move on.
		must(t, s.Tokens.DeleteDeployToken(ctx(), last.ID))
		next := f.deploy("next", "", token.Owner{GroupID: f.group.ID}, nil)
		must(t, s.Tokens.CreateDeployToken(ctx(), next))
		if next.ID <= last.ID {
			t.Fatalf("id %d reused after deleting the newest token (%d)", next.ID, last.ID)
		}
	})
}

func assertDeployEqual(t *testing.T, got, want *token.DeployToken) {
	t.Helper()
	if got.ID != want.ID || got.Name != want.Name || got.Username != want.Username ||
		strings.Join(got.Scopes.Strings(), ",") != strings.Join(want.Scopes.Strings(), ",") ||
		!equalTimePtr(got.ExpiresAt, want.ExpiresAt) || got.Revoked != want.Revoked || !got.CreatedAt.Equal(want.CreatedAt) ||
		got.CreatorID != want.CreatorID || got.Owner != want.Owner || !bytes.Equal(got.Digest, want.Digest) || got.LastUsedAt != nil {
		t.Fatalf("stored token = %+v\nwant %+v", *got, *want)
	}
	if got.CreatedAt.Location() != time.UTC || (got.ExpiresAt != nil && got.ExpiresAt.Location() != time.UTC) {
		t.Fatalf("times not returned in UTC: %v %v", got.CreatedAt, got.ExpiresAt)
	}
}

func equalTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

func testDeployTokenList(t *testing.T, s *sqlstore.Stores) {
	f := newTokenFixture(t, s)
	p2 := mustProject(t, s, "repo2", f.group.ID, 0)
	day := func(d int) *time.Time { v := time.Date(2031, 6, d, 0, 0, 0, 0, time.UTC); return &v }
	specs := []struct {
		name    string
		owner   token.Owner
		exp     *time.Time
		revoked bool
	}{
		{"p-active", token.Owner{ProjectID: f.project.ID}, nil, false},
		{"p-revoked", token.Owner{ProjectID: f.project.ID}, nil, true},
		{"p-expires-10th", token.Owner{ProjectID: f.project.ID}, day(10), false},
		{"p2-active", token.Owner{ProjectID: p2.ID}, day(20), false},
		{"g-active", token.Owner{GroupID: f.group.ID}, nil, false},
		{"g-revoked-expired", token.Owner{GroupID: f.group.ID}, day(1), true},
	}
	for _, sp := range specs {
		tok := f.deploy(sp.name, "", sp.owner, sp.exp)
		must(t, s.Tokens.CreateDeployToken(ctx(), tok))
		if sp.revoked {
			must(t, s.Tokens.RevokeDeployToken(ctx(), tok.ID))
		}
	}
	cases := []struct {
		name string
		f    token.DeployFilter
		want []string
	}{
		{"ok/all", token.DeployFilter{}, []string{"p-active", "p-revoked", "p-expires-10th", "p2-active", "g-active", "g-revoked-expired"}},
		{"ok/project", token.DeployFilter{ProjectID: f.project.ID}, []string{"p-active", "p-revoked", "p-expires-10th"}},
		{"ok/other project", token.DeployFilter{ProjectID: p2.ID}, []string{"p2-active"}},
		{"ok/group", token.DeployFilter{GroupID: f.group.ID}, []string{"g-active", "g-revoked-expired"}},
		{"ok/active before expiry", token.DeployFilter{ActiveAt: day(9).Add(23 * time.Hour)}, []string{"p-active", "p-expires-10th", "p2-active", "g-active"}},
		{"ok/active one microsecond before expiry", token.DeployFilter{ActiveAt: day(10).Add(-time.Microsecond)}, []string{"p-active", "p-expires-10th", "p2-active", "g-active"}},
		{"ok/active at expiry instant excludes it", token.DeployFilter{ActiveAt: *day(10)}, []string{"p-active", "p2-active", "g-active"}},
		{"ok/active on expiry day at noon", token.DeployFilter{ActiveAt: day(10).Add(12 * time.Hour)}, []string{"p-active", "p2-active", "g-active"}},
		{"ok/active project", token.DeployFilter{ProjectID: f.project.ID, ActiveAt: day(10).Add(time.Hour)}, []string{"p-active"}},
		{"ok/active after every expiry", token.DeployFilter{ActiveAt: *day(25)}, []string{"p-active", "g-active"}},
		{"ok/active group", token.DeployFilter{GroupID: f.group.ID, ActiveAt: *day(2)}, []string{"g-active"}},
		{"ok/unknown project", token.DeployFilter{ProjectID: 999999}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts, err := s.Tokens.ListDeployTokens(ctx(), tc.f)
			must(t, err)
			var got []string
			for i, tok := range ts {
				got = append(got, tok.Name)
				if i > 0 && ts[i-1].ID >= tok.ID {
					t.Errorf("not ordered by id: %d before %d", ts[i-1].ID, tok.ID)
				}
				if !tc.f.ActiveAt.IsZero() && !tok.Active(tc.f.ActiveAt) {
					t.Errorf("%s listed as active at %v but Active() = false", tok.Name, tc.f.ActiveAt)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("ListDeployTokens(%+v) = %v, want %v", tc.f, got, tc.want)
			}
		})
	}
}

func testDeployTokenConcurrent(t *testing.T, s *sqlstore.Stores) {
	f := newTokenFixture(t, s)
	const n = 16
	var wg sync.WaitGroup
	toks := make([]*token.DeployToken, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			toks[i] = f.deploy(fmt.Sprintf("c%02d", i), "", token.Owner{ProjectID: f.project.ID}, nil)
			errs[i] = s.Tokens.CreateDeployToken(ctx(), toks[i])
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, tok := range toks {
		if errs[i] != nil {
			t.Fatalf("concurrent create %d: %v", i, errs[i])
		}
		if want := fmt.Sprintf("gitlab+deploy-token-%d", tok.ID); tok.Username != want || seen[want] {
			t.Fatalf("token %d username %q (want %q, unique)", i, tok.Username, want)
		}
		seen[tok.Username] = true
	}
	all, err := s.Tokens.ListDeployTokens(ctx(), token.DeployFilter{ProjectID: f.project.ID})
	must(t, err)
	for _, tok := range all {
		if !seen[tok.Username] {
			t.Fatalf("stored username %q not returned to its creator", tok.Username)
		}
	}
}

func testPersonalTokens(t *testing.T, s *sqlstore.Stores) {
	u := mustUser(t, s, "pat-owner")
	exp := time.Date(2032, 2, 3, 0, 0, 0, 0, time.UTC)
	pat := &token.PersonalToken{UserID: u.ID, Name: "laptop", Scopes: token.Scopes{token.API, token.ReadRepository},
		ExpiresAt: &exp, CreatedAt: t0, Digest: digestOf("pat")}
	t.Run("ok/create and look up", func(t *testing.T) {
		must(t, s.Tokens.CreatePersonalToken(ctx(), pat))
		if pat.ID == 0 {
			t.Fatal("no id assigned")
		}
		got, err := s.Tokens.PersonalTokenByDigest(ctx(), pat.Digest)
		must(t, err)
		if got.ID != pat.ID || got.UserID != u.ID || got.Name != "laptop" || !got.Scopes.Has(token.API) ||
			!got.Scopes.Has(token.ReadRepository) || len(got.Scopes) != 2 || !equalTimePtr(got.ExpiresAt, &exp) ||
			got.Revoked || !got.CreatedAt.Equal(t0) || got.LastUsedAt != nil || !bytes.Equal(got.Digest, pat.Digest) {
			t.Fatalf("PersonalTokenByDigest = %+v, want %+v", *got, *pat)
		}
	})
	t.Run("ok/no expiry", func(t *testing.T) {
		p := &token.PersonalToken{UserID: u.ID, Name: "forever", Scopes: token.Scopes{token.ReadAPI}, CreatedAt: t0, Digest: digestOf("forever")}
		must(t, s.Tokens.CreatePersonalToken(ctx(), p))
		got, err := s.Tokens.PersonalTokenByDigest(ctx(), p.Digest)
		must(t, err)
		if got.ExpiresAt != nil || got.ID <= pat.ID {
			t.Fatalf("got %+v", *got)
		}
	})
	t.Run("fail/unknown digest", func(t *testing.T) {
		_, err := s.Tokens.PersonalTokenByDigest(ctx(), digestOf("nope"))
		wantErr(t, err, errkind.ErrNotFound)
	})
	t.Run("fail/duplicate digest", func(t *testing.T) {
		dup := &token.PersonalToken{UserID: u.ID, Name: "dup", Scopes: token.Scopes{token.API}, CreatedAt: t0, Digest: pat.Digest}
		wantErr(t, s.Tokens.CreatePersonalToken(ctx(), dup), errkind.ErrConflict)
	})
	t.Run("fail/missing user", func(t *testing.T) {
		orphan := &token.PersonalToken{UserID: 999999, Name: "orphan", Scopes: token.Scopes{token.API}, CreatedAt: t0, Digest: digestOf("orphan")}
		wantErr(t, s.Tokens.CreatePersonalToken(ctx(), orphan), errkind.ErrNotFound)
	})
}

func testAuditEvents(t *testing.T, s *sqlstore.Stores) {
	events := []*audit.Event{
		{Type: audit.DeployTokenCreated, ActorKind: "user", ActorID: 1, ActorName: "root", TargetType: "deploy_token",
			TargetID: 7, TargetName: "ci", EntityType: "project", EntityID: 3, EntityPath: "group/ci", AuthorEmail: "root@example.com",
			IP: "192.0.2.1", Details: "scopes=read_repository", CreatedAt: t0},
		{Type: audit.GroupDeployTokenRevoked, ActorKind: "user", ActorID: 1, ActorName: "root", TargetType: "deploy_token",
			TargetID: 8, TargetName: "grp", EntityType: "group", EntityID: 3, IP: "2001:db8::1", CreatedAt: t0.Add(time.Second)},
		{Type: audit.DeployTokenRevoked, ActorKind: "user", ActorID: 2, ActorName: "ops", TargetType: "deploy_token",
			TargetID: 7, TargetName: "ci", EntityType: "project", EntityID: 3, IP: "192.0.2.2", CreatedAt: t0.Add(2 * time.Second)},
		{Type: audit.AuthenticationFailed, ActorKind: "anonymous", EntityType: "instance", IP: "198.51.100.9", CreatedAt: t0.Add(3 * time.Second)},
	}
	t.Run("ok/record", func(t *testing.T) {
		var last int64
		for _, e := range events {
			must(t, s.Audit.RecordEvent(ctx(), e))
			if e.ID <= last {
				t.Fatalf("event ids not increasing: %d after %d", e.ID, last)
			}
			last = e.ID
		}
	})
	cases := []struct {
		name       string
		entityType string
		entityID   int64
		want       []*audit.Event
	}{
		{"ok/all newest first", "", 0, []*audit.Event{events[3], events[2], events[1], events[0]}},
		{"ok/project newest first", "project", 3, []*audit.Event{events[2], events[0]}},
		{"ok/group with same id kept apart", "group", 3, []*audit.Event{events[1]}},
		{"ok/unknown entity", "project", 4, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Audit.ListEvents(ctx(), tc.entityType, tc.entityID)
			must(t, err)
			if len(got) != len(tc.want) {
				t.Fatalf("ListEvents = %d events, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if *got[i] != *tc.want[i] {
					t.Fatalf("event %d = %+v\nwant %+v", i, *got[i], *tc.want[i])
				}
			}
		})
	}
	t.Run("ok/one event", func(t *testing.T) {
		got, err := s.Audit.Event(ctx(), events[1].ID)
		must(t, err)
		if *got != *events[1] {
			t.Fatalf("Event = %+v\nwant %+v", *got, *events[1])
		}
	})
	t.Run("fail/unknown event", func(t *testing.T) {
		_, err := s.Audit.Event(ctx(), events[3].ID+1000)
		wantErr(t, err, errkind.ErrNotFound)
	})
}

func testDeployTokenRotate(t *testing.T, s *sqlstore.Stores) {
	f := newTokenFixture(t, s)
	tok := f.deploy("ci", "", token.Owner{ProjectID: f.project.ID}, nil)
	tok.SealedSecret = []byte("sealed-one")
	must(t, s.Tokens.CreateDeployToken(ctx(), tok))
	old := tok.Digest
	until := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	tok.Digest = []byte("new-digest-0123456789012345678901")
	tok.SealedSecret, tok.PreviousDigest, tok.PreviousValidUntil = []byte("sealed-two"), old, &until
	t.Run("ok/rotate keeps the previous digest", func(t *testing.T) {
		must(t, s.Tokens.RotateDeployToken(ctx(), tok))
		got, err := s.Tokens.DeployTokenByDigest(ctx(), tok.Digest)
		must(t, err)
		if got.ID != tok.ID || string(got.SealedSecret) != "sealed-two" || string(got.PreviousDigest) != string(old) ||
			got.PreviousValidUntil == nil || !got.PreviousValidUntil.Equal(until) {
			t.Fatalf("after rotate: %+v", got)
		}
		byOld, err := s.Tokens.DeployTokenByDigest(ctx(), old)
		must(t, err)
		if byOld.ID != tok.ID {
			t.Fatalf("lookup by the previous digest found %d, want %d", byOld.ID, tok.ID)
		}
	})
	t.Run("ok/rotate without grace clears the previous digest", func(t *testing.T) {
		tok.Digest, tok.PreviousDigest, tok.PreviousValidUntil = []byte("third-digest-012345678901234567890"), nil, nil
		must(t, s.Tokens.RotateDeployToken(ctx(), tok))
		if _, err := s.Tokens.DeployTokenByDigest(ctx(), old); !errors.Is(err, errkind.ErrNotFound) {
			t.Fatalf("old digest still found: %v", err)
		}
	})
	t.Run("fail/revoked tokens cannot be rotated", func(t *testing.T) {
		must(t, s.Tokens.RevokeDeployToken(ctx(), tok.ID))
		if err := s.Tokens.RotateDeployToken(ctx(), tok); !errors.Is(err, errkind.ErrNotFound) {
			t.Fatalf("rotate revoked: %v, want ErrNotFound", err)
		}
	})
}
