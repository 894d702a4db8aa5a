package namespace_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore/storetest"
)

var fixedNow = time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)

func newService(t *testing.T) (*namespace.Service, *sqlstore.Stores) {
	t.Helper()
	s := storetest.OpenSQLite(t)
	return namespace.NewService(s.Namespaces, func() time.Time { return fixedNow }), s
}

// wantField fails unless err is a *errkind.ValidationError on field (wrapping errkind.ErrInvalid).
func wantField(t *testing.T, err error, field string) {
	t.Helper()
	var ve *errkind.ValidationError
	if !errors.As(err, &ve) || ve.Field != field || !errors.Is(err, errkind.ErrInvalid) {
		t.Fatalf("error = %v, want a errkind.ValidationError on %q", err, field)
	}
}

// storeUser inserts a user directly, skipping bcrypt where the password does not matter.
func storeUser(t *testing.T, s *sqlstore.Stores, username string, blocked bool) *namespace.User {
	t.Helper()
	u := &namespace.User{Username: username, Email: username + "@example.com", Name: username, PasswordHash: "!", Blocked: blocked, CreatedAt: fixedNow}
	if err := s.Namespaces.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestCreateUser(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t)
	ctx := context.Background()
	valid := namespace.CreateUserInput{Username: "alice", Email: "alice@example.com", Name: "Alice", Password: "correct horse", Admin: true}

	t.Run("ok/create", func(t *testing.T) {
		u, err := svc.CreateUser(ctx, valid)
		if err != nil {
			t.Fatal(err)
		}
		if u.ID == 0 || !u.Admin || u.Blocked || !u.CreatedAt.Equal(fixedNow) {
			t.Fatalf("user = %+v", *u)
		}
		if u.PasswordHash == valid.Password || bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(valid.Password)) != nil {
			t.Fatal("password not stored as its bcrypt hash")
		}
		if cost, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil || cost < bcrypt.DefaultCost {
			t.Fatalf("bcrypt cost = %d, %v; want ≥ %d", cost, err, bcrypt.DefaultCost)
		}
		stored, err := svc.UserByUsername(ctx, "ALICE")
		if err != nil || stored.ID != u.ID || stored.PasswordHash != u.PasswordHash {
			t.Fatalf("UserByUsername = %+v, %v", stored, err)
		}
	})
	fails := []struct {
		name  string
		edit  func(*namespace.CreateUserInput)
		field string
	}{
		{"fail/username empty", func(in *namespace.CreateUserInput) { in.Username = "" }, "username"},
		{"fail/username leading dash", func(in *namespace.CreateUserInput) { in.Username = "-bob" }, "username"},
		{"fail/username space", func(in *namespace.CreateUserInput) { in.Username = "bo b" }, "username"},
		{"fail/username slash", func(in *namespace.CreateUserInput) { in.Username = "bo/b" }, "username"},
		{"fail/username reserved", func(in *namespace.CreateUserInput) { in.Username = "api" }, "username"},
		{"fail/username reserved any case", func(in *namespace.CreateUserInput) { in.Username = "Groups" }, "username"},
		{"fail/username ends in .git", func(in *namespace.CreateUserInput) { in.Username = "bob.git" }, "username"},
		{"fail/email missing", func(in *namespace.CreateUserInput) { in.Email = "" }, "email"},
		{"fail/email without at", func(in *namespace.CreateUserInput) { in.Email = "bob.example.com" }, "email"},
		{"fail/email with display name", func(in *namespace.CreateUserInput) { in.Email = "Bob <bob@example.com>" }, "email"},
		{"fail/name blank", func(in *namespace.CreateUserInput) { in.Name = "  " }, "name"},
		{"fail/password too short", func(in *namespace.CreateUserInput) { in.Password = "1234567" }, "password"},
		{"fail/password too long", func(in *namespace.CreateUserInput) { in.Password = strings.Repeat("p", 73) }, "password"},
		{"fail/username taken other case", func(in *namespace.CreateUserInput) { in.Username = "Alice" }, "username"},
		{"fail/email taken other case", func(in *namespace.CreateUserInput) { in.Email = "ALICE@example.com" }, "username"},
	}
	for _, tc := range fails {
		t.Run(tc.name, func(t *testing.T) {
			in := namespace.CreateUserInput{Username: "bob", Email: "bob@example.com", Name: "Bob", Password: "12345678"}
			tc.edit(&in)
			u, err := svc.CreateUser(ctx, in)
			if u != nil {
				t.Fatalf("user created: %+v", *u)
			}
			wantField(t, err, tc.field)
		})
	}
	t.Run("ok/failures stored nothing", func(t *testing.T) {
		us, err := svc.ListUsers(ctx)
		if err != nil || len(us) != 1 {
			t.Fatalf("ListUsers = %d users, %v; want only alice", len(us), err)
		}
	})
}

func TestPasswords(t *testing.T) {
	t.Parallel()
	svc, s := newService(t)
	ctx := context.Background()
	alice, err := svc.CreateUser(ctx, namespace.CreateUserInput{Username: "alice", Email: "alice@example.com", Name: "Alice", Password: "first-password"})
	if err != nil {
		t.Fatal(err)
	}
	blocked := storeUser(t, s, "mallory", true)
	if err := svc.SetPassword(ctx, blocked.ID, "mallory-password"); err != nil {
		t.Fatal(err)
	}
	check := []struct {
		name, username, password string
		want                     *namespace.User
	}{
		{"ok/right password", "alice", "first-password", alice},
		{"ok/username any case", "ALICE", "first-password", alice},
		{"fail/wrong password", "alice", "first-passwore", nil},
		{"fail/empty password", "alice", "", nil},
		{"fail/password prefix", "alice", "first", nil},
		{"fail/unknown user", "nobody", "first-password", nil},
		{"fail/blocked user", "mallory", "mallory-password", nil},
	}
	// bcrypt at its production cost is slow under -race: the read-only checks run in parallel.
	t.Run("check", func(t *testing.T) {
		for _, tc := range check {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				u, err := svc.CheckPassword(ctx, tc.username, tc.password)
				if tc.want == nil {
					if u != nil || !errors.Is(err, errkind.ErrNotFound) {
						t.Fatalf("CheckPassword = %v, %v; want errkind.ErrNotFound", u, err)
					}
					return
				}
				if err != nil || u.ID != tc.want.ID {
					t.Fatalf("CheckPassword = %v, %v; want user %d", u, err, tc.want.ID)
				}
			})
		}
	})
	t.Run("ok/set password replaces the old one", func(t *testing.T) {
		if err := svc.SetPassword(ctx, alice.ID, "second-password"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CheckPassword(ctx, "alice", "first-password"); !errors.Is(err, errkind.ErrNotFound) {
			t.Fatalf("old password still accepted: %v", err)
		}
		if u, err := svc.CheckPassword(ctx, "alice", "second-password"); err != nil || u.ID != alice.ID {
			t.Fatalf("new password refused: %v", err)
		}
	})
	t.Run("fail/set password too short", func(t *testing.T) {
		wantField(t, svc.SetPassword(ctx, alice.ID, "short"), "password")
	})
	t.Run("fail/set password too long", func(t *testing.T) {
		wantField(t, svc.SetPassword(ctx, alice.ID, strings.Repeat("p", 73)), "password")
	})
	t.Run("fail/set password of missing user", func(t *testing.T) {
		if err := svc.SetPassword(ctx, 999999, "long-enough"); !errors.Is(err, errkind.ErrNotFound) {
			t.Fatalf("SetPassword(missing) = %v", err)
		}
	})
}

func TestGroupsAndProjects(t *testing.T) {
	t.Parallel()
	svc, s := newService(t)
	ctx := context.Background()
	root, err := svc.CreateGroup(ctx, namespace.CreateGroupInput{Name: " Platform ", Path: "platform", Visibility: "internal"})
	if err != nil {
		t.Fatal(err)
	}
	if root.Name != "Platform" || root.FullPath != "platform" || !root.CreatedAt.Equal(fixedNow) {
		t.Fatalf("root = %+v", *root)
	}
	t.Run("ok/reserved word allowed below top level", func(t *testing.T) {
		g, err := svc.CreateGroup(ctx, namespace.CreateGroupInput{Name: "API", Path: "api", ParentID: root.ID})
		if err != nil || g.FullPath != "platform/api" {
			t.Fatalf("CreateGroup(platform/api) = %v, %v", g, err)
		}
		subs, err := svc.Subgroups(ctx, root.ID)
		if err != nil || len(subs) != 1 || subs[0].ID != g.ID {
			t.Fatalf("Subgroups = %v, %v", subs, err)
		}
	})
	groupFails := []struct {
		name  string
		in    namespace.CreateGroupInput
		field string
	}{
		{"fail/group name missing", namespace.CreateGroupInput{Path: "x"}, "name"},
		{"fail/group path invalid", namespace.CreateGroupInput{Name: "x", Path: "x y"}, "path"},
		{"fail/group path reserved", namespace.CreateGroupInput{Name: "x", Path: "v2"}, "path"},
		{"fail/group path taken", namespace.CreateGroupInput{Name: "x", Path: "PLATFORM"}, "path"},
		{"fail/group parent missing", namespace.CreateGroupInput{Name: "x", Path: "x", ParentID: 999999}, "parent_id"},
	}
	for _, tc := range groupFails {
		t.Run(tc.name, func(t *testing.T) {
			g, err := svc.CreateGroup(ctx, tc.in)
			if g != nil {
				t.Fatalf("group created: %+v", *g)
			}
			wantField(t, err, tc.field)
		})
	}

	var hooked []string
	svc.OnProjectCreated = func(_ context.Context, p *namespace.Project) error {
		if p.ID == 0 {
			t.Error("hook saw a project without id")
		}
		hooked = append(hooked, p.FullPath)
		if strings.EqualFold(p.Path, "hookfails") {
			return errors.New("disk full")
		}
		return nil
	}
	t.Run("ok/project in group", func(t *testing.T) {
		p, err := svc.CreateProject(ctx, namespace.CreateProjectInput{Name: "Web", Path: "web", GroupID: root.ID, Visibility: "internal"})
		if err != nil || p.FullPath != "platform/web" || p.Visibility != namespace.Internal {
			t.Fatalf("CreateProject = %+v, %v", p, err)
		}
		byPath, err := svc.ProjectByPath(ctx, "Platform/Web")
		if err != nil || byPath.ID != p.ID {
			t.Fatalf("ProjectByPath = %v, %v", byPath, err)
		}
	})
	t.Run("ok/project in user namespace defaults to private", func(t *testing.T) {
		u := storeUser(t, s, "carol", false)
		p, err := svc.CreateProject(ctx, namespace.CreateProjectInput{Name: "Notes", Path: "notes", OwnerUserID: u.ID})
		if err != nil || p.FullPath != "carol/notes" || p.Visibility != namespace.Private || p.OwnerUserID != u.ID {
			t.Fatalf("CreateProject = %+v, %v", p, err)
		}
	})
	t.Run("fail/hook error reaches the creator", func(t *testing.T) {
		_, err := svc.CreateProject(ctx, namespace.CreateProjectInput{Name: "H", Path: "hookfails", GroupID: root.ID})
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Fatalf("CreateProject with failing hook = %v", err)
		}
		if p, err := svc.ProjectByPath(ctx, "platform/hookfails"); !errors.Is(err, errkind.ErrNotFound) {
			t.Fatalf("project kept after its hook failed: %+v, %v", p, err)
		}
	})
	t.Run("ok/path free again after a failed hook", func(t *testing.T) {
		p, err := svc.CreateProject(ctx, namespace.CreateProjectInput{Name: "H", Path: "HookFails", GroupID: root.ID})
		if err == nil || p != nil {
			t.Fatalf("CreateProject = %+v, %v; the hook still fails on this path", p, err)
		}
		var ve *errkind.ValidationError
		if errors.As(err, &ve) {
			t.Fatalf("path still taken: %v", err)
		}
	})
	if strings.Join(hooked, ",") != "platform/web,carol/notes,platform/hookfails,platform/HookFails" {
		t.Errorf("hook calls = %v", hooked)
	}
	projectFails := []struct {
		name  string
		in    namespace.CreateProjectInput
		field string
	}{
		{"fail/project name missing", namespace.CreateProjectInput{Path: "x", GroupID: root.ID}, "name"},
		{"fail/project path invalid", namespace.CreateProjectInput{Name: "x", Path: "x.git", GroupID: root.ID}, "path"},
		{"fail/project visibility", namespace.CreateProjectInput{Name: "x", Path: "x", GroupID: root.ID, Visibility: "secret"}, "visibility"},
		{"fail/project path taken", namespace.CreateProjectInput{Name: "x", Path: "WEB", GroupID: root.ID}, "path"},
		{"fail/project group missing", namespace.CreateProjectInput{Name: "x", Path: "x", GroupID: 999999}, "namespace_id"},
		{"fail/project without namespace", namespace.CreateProjectInput{Name: "x", Path: "x"}, "namespace_id"},
	}
	for _, tc := range projectFails {
		t.Run(tc.name, func(t *testing.T) {
			p, err := svc.CreateProject(ctx, tc.in)
			if p != nil {
				t.Fatalf("project created: %+v", *p)
			}
			wantField(t, err, tc.field)
		})
	}
}

// roleTree is platform ⊃ backend ⊃ payments, a sibling group, and projects at each level.
type roleTree struct {
	svc                         *namespace.Service
	store                       *sqlstore.Stores
	root, mid, leaf, sibling    *namespace.Group
	rootProj, leafProj, sibProj *namespace.Project
	userProj                    *namespace.Project
	owner                       *namespace.User
}

func newRoleTree(t *testing.T) roleTree {
	t.Helper()
	svc, s := newService(t)
	ctx := context.Background()
	mkGroup := func(path string, parent int64) *namespace.Group {
		g, err := svc.CreateGroup(ctx, namespace.CreateGroupInput{Name: path, Path: path, ParentID: parent})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	mkProject := func(path string, group, owner int64) *namespace.Project {
		p, err := svc.CreateProject(ctx, namespace.CreateProjectInput{Name: path, Path: path, GroupID: group, OwnerUserID: owner})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	rt := roleTree{svc: svc, store: s}
	rt.root = mkGroup("platform", 0)
	rt.mid = mkGroup("backend", rt.root.ID)
	rt.leaf = mkGroup("payments", rt.mid.ID)
	rt.sibling = mkGroup("frontend", rt.root.ID)
	rt.rootProj = mkProject("handbook", rt.root.ID, 0)
	rt.leafProj = mkProject("ledger", rt.leaf.ID, 0)
	rt.sibProj = mkProject("ui", rt.sibling.ID, 0)
	rt.owner = storeUser(t, s, "olivia", false)
	rt.userProj = mkProject("scratch", 0, rt.owner.ID)
	return rt
}

func TestRoles(t *testing.T) {
	t.Parallel()
	rt := newRoleTree(t)
	svc, ctx := rt.svc, context.Background()
	type grant struct {
		group   *namespace.Group
		project *namespace.Project
		role    namespace.Role
	}
	users := map[string][]grant{
		"project-only":      {{project: rt.leafProj, role: namespace.Guest}},
		"root-reporter":     {{group: rt.root, role: namespace.Reporter}},
		"highest-wins":      {{group: rt.root, role: namespace.Reporter}, {group: rt.mid, role: namespace.Developer}, {project: rt.leafProj, role: namespace.Guest}},
		"project-beats-grp": {{group: rt.root, role: namespace.Guest}, {project: rt.leafProj, role: namespace.Maintainer}},
		"leaf-developer":    {{group: rt.leaf, role: namespace.Developer}},
		"sibling-owner":     {{group: rt.sibling, role: namespace.Owner}},
		"root-owner":        {{group: rt.root, role: namespace.Owner}},
		"guest-on-scratch":  {{project: rt.userProj, role: namespace.Guest}},
		"stranger":          nil,
	}
	ids := map[string]int64{"olivia": rt.owner.ID}
	for name, grants := range users {
		u := storeUser(t, rt.store, name, false)
		ids[name] = u.ID
		for _, g := range grants {
			m := namespace.Member{UserID: u.ID, Role: g.role}
			if g.group != nil {
				m.GroupID = g.group.ID
			} else {
				m.ProjectID = g.project.ID
			}
			if err := svc.AddMember(ctx, namespace.Instance, m); err != nil {
				t.Fatal(err)
			}
		}
	}
	projectCases := []struct {
		user    string
		project *namespace.Project
		want    namespace.Role
	}{
		{"project-only", rt.leafProj, namespace.Guest},
		{"project-only", rt.rootProj, namespace.NoRole},
		{"root-reporter", rt.leafProj, namespace.Reporter},
		{"root-reporter", rt.sibProj, namespace.Reporter},
		{"root-reporter", rt.userProj, namespace.NoRole},
		{"highest-wins", rt.leafProj, namespace.Developer},
		{"highest-wins", rt.rootProj, namespace.Reporter},
		{"highest-wins", rt.sibProj, namespace.Reporter},
		{"project-beats-grp", rt.leafProj, namespace.Maintainer},
		{"project-beats-grp", rt.sibProj, namespace.Guest},
		{"leaf-developer", rt.leafProj, namespace.Developer},
		{"leaf-developer", rt.rootProj, namespace.NoRole},
		{"sibling-owner", rt.sibProj, namespace.Owner},
		{"sibling-owner", rt.leafProj, namespace.NoRole},
		{"root-owner", rt.leafProj, namespace.Owner},
		{"olivia", rt.userProj, namespace.Owner},
		{"olivia", rt.leafProj, namespace.NoRole},
		{"guest-on-scratch", rt.userProj, namespace.Guest},
		{"stranger", rt.leafProj, namespace.NoRole},
		{"stranger", rt.userProj, namespace.NoRole},
	}
	for _, tc := range projectCases {
		t.Run("ok/project/"+tc.user+"/"+tc.project.FullPath, func(t *testing.T) {
			got, err := svc.ProjectRole(ctx, ids[tc.user], tc.project)
			if err != nil || got != tc.want {
				t.Fatalf("ProjectRole = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
	groupCases := []struct {
		user  string
		group *namespace.Group
		want  namespace.Role
	}{
		{"root-reporter", rt.leaf, namespace.Reporter},
		{"root-reporter", rt.sibling, namespace.Reporter},
		{"highest-wins", rt.mid, namespace.Developer},
		{"highest-wins", rt.leaf, namespace.Developer},
		{"highest-wins", rt.root, namespace.Reporter},
		{"leaf-developer", rt.leaf, namespace.Developer},
		{"leaf-developer", rt.mid, namespace.NoRole},
		{"leaf-developer", rt.root, namespace.NoRole},
		{"sibling-owner", rt.sibling, namespace.Owner},
		{"sibling-owner", rt.mid, namespace.NoRole},
		{"root-owner", rt.leaf, namespace.Owner},
		{"project-only", rt.leaf, namespace.NoRole},
		{"olivia", rt.root, namespace.NoRole},
	}
	for _, tc := range groupCases {
		t.Run("ok/group/"+tc.user+"/"+tc.group.FullPath, func(t *testing.T) {
			got, err := svc.GroupRole(ctx, ids[tc.user], tc.group)
			if err != nil || got != tc.want {
				t.Fatalf("GroupRole = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
	t.Run("ok/role change replaces the old one", func(t *testing.T) {
		if _, err := svc.UpdateMember(ctx, namespace.Instance, namespace.Member{UserID: ids["root-reporter"], GroupID: rt.root.ID, Role: namespace.Guest}); err != nil {
			t.Fatal(err)
		}
		if got, err := svc.ProjectRole(ctx, ids["root-reporter"], rt.leafProj); err != nil || got != namespace.Guest {
			t.Fatalf("after downgrade ProjectRole = %d, %v; want guest", got, err)
		}
		ms, err := svc.ListMembers(ctx, rt.root.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.UserID == ids["root-reporter"] && m.Role != namespace.Guest {
				t.Fatalf("ListMembers shows role %d", m.Role)
			}
		}
	})
	t.Run("fail/member role invalid", func(t *testing.T) {
		wantField(t, svc.AddMember(ctx, namespace.Instance, namespace.Member{UserID: ids["stranger"], GroupID: rt.root.ID, Role: 15}), "access_level")
	})
	t.Run("fail/member role none", func(t *testing.T) {
		wantField(t, svc.AddMember(ctx, namespace.Instance, namespace.Member{UserID: ids["stranger"], GroupID: rt.root.ID, Role: namespace.NoRole}), "access_level")
	})
	t.Run("fail/member user missing", func(t *testing.T) {
		wantField(t, svc.AddMember(ctx, namespace.Instance, namespace.Member{UserID: 999999, GroupID: rt.root.ID, Role: namespace.Guest}), "user_id")
	})
	t.Run("fail/member group missing", func(t *testing.T) {
		if err := svc.AddMember(ctx, namespace.Instance, namespace.Member{UserID: ids["stranger"], GroupID: 999999, Role: namespace.Guest}); !errors.Is(err, errkind.ErrNotFound) {
			t.Fatalf("AddMember(missing group) = %v", err)
		}
	})
}
