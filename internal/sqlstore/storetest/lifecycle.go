package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// testNamespaceIDs: a user's personal namespace id is never a group's id, nor another user's,
// however users and groups are created in turn (migration 0026, GitLab's namespaces).
func testNamespaceIDs(t *testing.T, s *sqlstore.Stores) {
	seen := map[int64]string{}
	claim := func(id int64, who string) {
		t.Helper()
		if id == 0 {
			t.Fatalf("%s has no namespace id", who)
		}
		if other, ok := seen[id]; ok {
			t.Fatalf("namespace id %d held by %s and %s", id, other, who)
		}
		seen[id] = who
	}
	for i := range 3 {
		u := mustUser(t, s, fmt.Sprintf("nsuser%d", i))
		claim(u.NamespaceID, u.Username)
		g := mustGroup(t, s, fmt.Sprintf("nsgroup%d", i), 0)
		claim(g.ID, g.FullPath)
		got, err := s.Namespaces.UserByNamespaceID(ctx(), u.NamespaceID)
		if err != nil || got.ID != u.ID || got.NamespaceID != u.NamespaceID {
			t.Fatalf("UserByNamespaceID(%d) = %+v, %v", u.NamespaceID, got, err)
		}
		if _, err := s.Namespaces.UserByNamespaceID(ctx(), g.ID); !errors.Is(err, errkind.ErrNotFound) {
			t.Fatalf("UserByNamespaceID(group %d) = %v, want not found", g.ID, err)
		}
	}
	sub := mustGroup(t, s, "sub", mustGroup(t, s, "nsparent", 0).ID)
	claim(sub.ID, sub.FullPath)
}

// testNamespaceMigration: migration 0026 numbers existing users after every group id and makes
// each existing group as visible as the most visible project below it.
func testNamespaceMigration(t *testing.T, s *sqlstore.Stores) {
	exec := execer(t, s)
	u1 := mustUser(t, s, "old1")
	top := mustGroup(t, s, "top", 0)
	sub := mustGroup(t, s, "sub", top.ID)
	quiet := mustGroup(t, s, "quiet", 0)
	pub := mustProject(t, s, "pub", sub.ID, 0)
	inner := mustProject(t, s, "inner", quiet.ID, 0)
	u2 := mustUser(t, s, "old2")
	// Back to before 0026, with a public project in top/sub and an internal one in quiet.
	exec(`DROP INDEX users_namespace_id`)
	for _, col := range []string{"users.namespace_id", "namespace_groups.visibility", "namespace_groups.description",
		"projects.description", "projects.default_branch"} {
		table, column, _ := strings.Cut(col, ".")
		exec(`ALTER TABLE ` + table + ` DROP COLUMN ` + column)
	}
	exec(`DELETE FROM schema_migrations WHERE version = 26`)
	exec(`UPDATE projects SET visibility = 'public' WHERE id = ?`, pub.ID)
	exec(`UPDATE projects SET visibility = 'internal' WHERE id = ?`, inner.ID)
	if _, err := s.Migrate(ctx()); err != nil {
		t.Fatal(err)
	}
	groups := map[int64]bool{top.ID: true, sub.ID: true, quiet.ID: true}
	var ids []int64
	for _, u := range []*namespace.User{u1, u2} {
		got, err := s.Namespaces.User(ctx(), u.ID)
		must(t, err)
		if got.NamespaceID == 0 || groups[got.NamespaceID] || slices.Contains(ids, got.NamespaceID) {
			t.Fatalf("user %s has namespace id %d after the migration (groups %v, users %v)", u.Username, got.NamespaceID, groups, ids)
		}
		ids = append(ids, got.NamespaceID)
	}
	for g, want := range map[*namespace.Group]namespace.Visibility{top: namespace.Public, sub: namespace.Public, quiet: namespace.Internal} {
		if got := mustGetGroup(t, s, g.ID); got.Visibility != want {
			t.Errorf("group %s visibility %q after the migration, want %q", g.FullPath, got.Visibility, want)
		}
	}
	// New users and groups still never share an id.
	u3 := mustUser(t, s, "new3")
	g := mustGroup(t, s, "new", 0)
	if u3.NamespaceID == g.ID || slices.Contains(ids, u3.NamespaceID) || groups[u3.NamespaceID] {
		t.Fatalf("after the migration: user namespace %d, group %d, earlier %v", u3.NamespaceID, g.ID, ids)
	}
	if p, err := s.Namespaces.Project(ctx(), pub.ID); err != nil || p.DefaultBranch != "main" {
		t.Fatalf("project after the migration = %+v, %v", p, err)
	}
}

// execer runs raw SQL in the store's dialect.
func execer(t *testing.T, s *sqlstore.Stores) func(query string, args ...any) {
	return func(query string, args ...any) {
		t.Helper()
		if s.Dialect() == "postgres" {
			for i := 1; strings.Contains(query, "?"); i++ {
				query = strings.Replace(query, "?", fmt.Sprintf("$%d", i), 1)
			}
		}
		if _, err := s.SQL().ExecContext(ctx(), query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
}

// testMoves: moving a group takes its subgroups, projects, routes and image names along; tokens
// stay on their projects and groups (by id); a taken path or a move below itself is refused.
func testMoves(t *testing.T, s *sqlstore.Stores) {
	f := newTokenFixture(t, s) // group "tokens", project tokens/repo
	g1 := mustGroup(t, s, "g1", 0)
	s1 := mustGroup(t, s, "s1", g1.ID)
	s2 := mustGroup(t, s, "s2", s1.ID)
	p := mustProject(t, s, "p", s2.ID, 0)
	g2 := mustGroup(t, s, "g2", 0)
	mustProject(t, s, "taken", g2.ID, 0)
	tok := f.deploy("ptoken", "ptoken", token.Owner{ProjectID: p.ID}, nil)
	must(t, s.Tokens.CreateDeployToken(ctx(), tok))
	img := oci.Repository{ProjectID: p.ID, Name: oci.Name("g1/s1/s2/p/app")}
	must(t, s.Registry.LinkBlob(ctx(), img, oci.BlobLink{Digest: "sha256:" + strings.Repeat("a", 64), Size: 1, CreatedAt: t0}))

	moved, err := s.Namespaces.MoveGroup(ctx(), s1.ID, g2.ID, "s1")
	if err != nil || !slices.Equal(moved, []int64{p.ID}) {
		t.Fatalf("MoveGroup = %v, %v", moved, err)
	}
	if got := mustGetGroup(t, s, s2.ID); got.FullPath != "g2/s1/s2" || !equalIDs(got.Ancestry, []int64{g2.ID, s1.ID, s2.ID}) {
		t.Fatalf("moved subgroup = %+v", got)
	}
	got, err := s.Namespaces.Project(ctx(), p.ID)
	if err != nil || got.FullPath != "g2/s1/s2/p" || !got.InGroup(g2.ID) || got.InGroup(g1.ID) {
		t.Fatalf("moved project = %+v, %v", got, err)
	}
	if _, err := s.Namespaces.ProjectByPath(ctx(), "g1/s1/s2/p"); !errors.Is(err, errkind.ErrNotFound) {
		t.Fatalf("old path still names the project: %v", err)
	}
	if _, err := s.Namespaces.GroupByPath(ctx(), "g1/s1"); !errors.Is(err, errkind.ErrNotFound) {
		t.Fatalf("old path still names the group: %v", err)
	}
	names, err := s.Registry.Repositories(ctx(), "", 100)
	if err != nil || !slices.Contains(names, "g2/s1/s2/p/app") || slices.Contains(names, "g1/s1/s2/p/app") {
		t.Fatalf("image names after the move = %v, %v", names, err)
	}
	if _, err := s.Registry.BlobLink(ctx(), oci.Repository{ProjectID: p.ID, Name: "g2/s1/s2/p/app"}, "sha256:"+strings.Repeat("a", 64)); err != nil {
		t.Fatalf("the image's blob under its new name: %v", err)
	}
	if tt, err := s.Tokens.DeployToken(ctx(), tok.ID); err != nil || tt.Owner.ProjectID != p.ID {
		t.Fatalf("the project's token after the move = %+v, %v", tt, err)
	}
	// The old paths are free again; the new ones are taken.
	mustGroup(t, s, "s1", g1.ID)
	wantErr(t, s.Namespaces.MoveProject(ctx(), p.ID, g2.ID, 0, "taken"), errkind.ErrConflict)
	_, err = s.Namespaces.MoveGroup(ctx(), g2.ID, s2.ID, "g2")
	wantErr(t, err, errkind.ErrInvalid)
	_, err = s.Namespaces.MoveGroup(ctx(), s1.ID, 0, "g1")
	wantErr(t, err, errkind.ErrConflict)

	// A project moves to a personal namespace and back under a new path.
	u := mustUser(t, s, "mover")
	must(t, s.Namespaces.MoveProject(ctx(), p.ID, 0, u.ID, "p"))
	if got, err := s.Namespaces.ProjectByPath(ctx(), "mover/p"); err != nil || got.OwnerUserID != u.ID || got.GroupID != 0 || len(got.GroupAncestry) != 0 {
		t.Fatalf("project in a personal namespace = %+v, %v", got, err)
	}
	must(t, s.Namespaces.MoveProject(ctx(), p.ID, g1.ID, 0, "renamed"))
	names, _ = s.Registry.Repositories(ctx(), "", 100)
	if !slices.Contains(names, "g1/renamed/app") {
		t.Fatalf("image names after two moves = %v", names)
	}
}

// testDeletes: deleting a project takes its tokens, images and members; deleting a group takes
// its subgroups and their projects too, and frees every path.
func testDeletes(t *testing.T, s *sqlstore.Stores) {
	f := newTokenFixture(t, s)
	g := mustGroup(t, s, "doomed", 0)
	sub := mustGroup(t, s, "sub", g.ID)
	p := mustProject(t, s, "p", sub.ID, 0)
	keep := mustProject(t, s, "keep", f.group.ID, 0)
	ptok := f.deploy("ptok", "ptok", token.Owner{ProjectID: p.ID}, nil)
	gtok := f.deploy("gtok", "gtok", token.Owner{GroupID: sub.ID}, nil)
	ktok := f.deploy("ktok", "ktok", token.Owner{ProjectID: keep.ID}, nil)
	for _, tk := range []*token.DeployToken{ptok, gtok, ktok} {
		must(t, s.Tokens.CreateDeployToken(ctx(), tk))
	}
	must(t, s.Namespaces.AddMember(ctx(), namespace.Member{UserID: f.user.ID, ProjectID: p.ID, Role: namespace.Developer, CreatedAt: t0}))
	must(t, s.Namespaces.AddMember(ctx(), namespace.Member{UserID: f.user.ID, GroupID: sub.ID, Role: namespace.Owner, CreatedAt: t0}))
	img := oci.Repository{ProjectID: p.ID, Name: "doomed/sub/p"}
	must(t, s.Registry.LinkBlob(ctx(), img, oci.BlobLink{Digest: "sha256:" + strings.Repeat("b", 64), Size: 1, CreatedAt: t0}))

	projects, err := s.Namespaces.DeleteGroup(ctx(), g.ID)
	if err != nil || !slices.Equal(projects, []int64{p.ID}) {
		t.Fatalf("DeleteGroup = %v, %v", projects, err)
	}
	for _, id := range []int64{g.ID, sub.ID} {
		if _, err := s.Namespaces.Group(ctx(), id); !errors.Is(err, errkind.ErrNotFound) {
			t.Fatalf("group %d after delete: %v", id, err)
		}
	}
	if _, err := s.Namespaces.Project(ctx(), p.ID); !errors.Is(err, errkind.ErrNotFound) {
		t.Fatalf("project after its group's delete: %v", err)
	}
	for _, tk := range []*token.DeployToken{ptok, gtok} {
		if _, err := s.Tokens.DeployTokenByDigest(ctx(), tk.Digest); !errors.Is(err, errkind.ErrNotFound) {
			t.Fatalf("token %s after delete: %v", tk.Name, err)
		}
	}
	if _, err := s.Tokens.DeployTokenByDigest(ctx(), ktok.Digest); err != nil {
		t.Fatalf("another project's token went too: %v", err)
	}
	if names, err := s.Registry.Repositories(ctx(), "", 100); err != nil || slices.Contains(names, "doomed/sub/p") {
		t.Fatalf("images after delete = %v, %v", names, err)
	}
	// Every path is free again.
	g = mustGroup(t, s, "doomed", 0)
	mustProject(t, s, "p", mustGroup(t, s, "sub", g.ID).ID, 0)

	must(t, s.Namespaces.DeleteProject(ctx(), keep.ID))
	if _, err := s.Tokens.DeployTokenByDigest(ctx(), ktok.Digest); !errors.Is(err, errkind.ErrNotFound) {
		t.Fatalf("token after its project's delete: %v", err)
	}
	wantErr(t, s.Namespaces.DeleteProject(ctx(), keep.ID), errkind.ErrNotFound)
	_, err = s.Namespaces.DeleteGroup(ctx(), 999999)
	wantErr(t, err, errkind.ErrNotFound)
}

// testUpdates: attributes round-trip.
func testUpdates(t *testing.T, s *sqlstore.Stores) {
	g := mustGroup(t, s, "upd", 0)
	if g.Visibility != namespace.Private {
		t.Fatalf("new group visibility %q, want private", g.Visibility)
	}
	g.Name, g.Description, g.Visibility = "Renamed", "about", namespace.Internal
	must(t, s.Namespaces.UpdateGroup(ctx(), g))
	if got := mustGetGroup(t, s, g.ID); got.Name != "Renamed" || got.Description != "about" || got.Visibility != namespace.Internal {
		t.Fatalf("updated group = %+v", got)
	}
	p := mustProject(t, s, "p", g.ID, 0)
	p.Name, p.Description, p.Visibility, p.DefaultBranch = "P", "d", namespace.Internal, "trunk"
	must(t, s.Namespaces.UpdateProject(ctx(), p))
	got, err := s.Namespaces.Project(ctx(), p.ID)
	if err != nil || got.Name != "P" || got.Description != "d" || got.Visibility != namespace.Internal || got.DefaultBranch != "trunk" {
		t.Fatalf("updated project = %+v, %v", got, err)
	}
	wantErr(t, s.Namespaces.UpdateGroup(ctx(), &namespace.Group{ID: 999999, Visibility: namespace.Private}), errkind.ErrNotFound)
}

// testGroupShares: a share gives the shared-with group's members (direct or inherited) the
// lesser of their role and the share's access, on the group and below it, until it expires.
func testGroupShares(t *testing.T, s *sqlstore.Stores) {
	f := newTokenFixture(t, s)
	target := mustGroup(t, s, "target", 0)
	below := mustGroup(t, s, "below", target.ID)
	team := mustGroup(t, s, "team", 0)
	squad := mustGroup(t, s, "squad", team.ID)
	lead, dev, outsider := f.user, mustUser(t, s, "dev"), mustUser(t, s, "outsider")
	must(t, s.Namespaces.AddMember(ctx(), namespace.Member{UserID: lead.ID, GroupID: team.ID, Role: namespace.Owner, CreatedAt: t0}))
	must(t, s.Namespaces.AddMember(ctx(), namespace.Member{UserID: dev.ID, GroupID: squad.ID, Role: namespace.Reporter, CreatedAt: t0}))
	exp := t0.Add(24 * time.Hour)
	must(t, s.Namespaces.ShareGroup(ctx(), namespace.GroupShare{GroupID: target.ID, SharedWithGroupID: squad.ID, Access: namespace.Developer, ExpiresAt: &exp, CreatedAt: t0}))
	wantErr(t, s.Namespaces.ShareGroup(ctx(), namespace.GroupShare{GroupID: target.ID, SharedWithGroupID: squad.ID, Access: namespace.Guest, CreatedAt: t0}), errkind.ErrConflict)
	wantErr(t, s.Namespaces.ShareGroup(ctx(), namespace.GroupShare{GroupID: target.ID, SharedWithGroupID: 999999, Access: namespace.Guest, CreatedAt: t0}), errkind.ErrNotFound)

	for _, c := range []struct {
		name string
		user int64
		at   time.Time
		want []namespace.Role
	}{
		{"ok/inherited owner capped at the share's access", lead.ID, t0, []namespace.Role{namespace.Developer}},
		{"ok/direct reporter keeps the lesser role", dev.ID, t0, []namespace.Role{namespace.Reporter}},
		{"fail/not a member of the shared-with group", outsider.ID, t0, nil},
		{"fail/expired share", lead.ID, exp, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.Namespaces.MemberRoles(ctx(), c.user, 0, below.Ancestry, c.at)
			if err != nil || !sameRoles(got, c.want) {
				t.Fatalf("MemberRoles = %v, %v; want %v", got, err, c.want)
			}
		})
	}
	shares, err := s.Namespaces.GroupShares(ctx(), target.ID)
	if err != nil || len(shares) != 1 || shares[0].SharedWithGroupID != squad.ID || shares[0].Access != namespace.Developer ||
		shares[0].ExpiresAt == nil || !shares[0].ExpiresAt.Equal(exp) {
		t.Fatalf("GroupShares = %+v, %v", shares, err)
	}
	must(t, s.Namespaces.UnshareGroup(ctx(), target.ID, squad.ID))
	wantErr(t, s.Namespaces.UnshareGroup(ctx(), target.ID, squad.ID), errkind.ErrNotFound)
	if got, _ := s.Namespaces.MemberRoles(ctx(), lead.ID, 0, below.Ancestry, t0); len(got) != 0 {
		t.Fatalf("roles after unshare = %v", got)
	}
	// Deleting the shared-with group removes its shares.
	must(t, s.Namespaces.ShareGroup(ctx(), namespace.GroupShare{GroupID: target.ID, SharedWithGroupID: squad.ID, Access: namespace.Guest, CreatedAt: t0}))
	if _, err := s.Namespaces.DeleteGroup(ctx(), team.ID); err != nil {
		t.Fatal(err)
	}
	if shares, err := s.Namespaces.GroupShares(ctx(), target.ID); err != nil || len(shares) != 0 {
		t.Fatalf("shares after the shared-with group's delete = %+v, %v", shares, err)
	}
}
