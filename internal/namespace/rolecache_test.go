package namespace_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/namespace"
)

// WithRoleCache answers ProjectRole and GroupRole exactly as without it: direct, inherited,
// shared, owned and expired memberships, for several users in one context.
func TestRoleCacheAgrees(t *testing.T) {
	t.Parallel()
	svc, st := newService(t)
	ctx := context.Background()
	top, err := svc.CreateGroup(ctx, namespace.CreateGroupInput{Name: "top", Path: "top"})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := svc.CreateGroup(ctx, namespace.CreateGroupInput{Name: "sub", Path: "sub", ParentID: top.ID})
	if err != nil {
		t.Fatal(err)
	}
	team, err := svc.CreateGroup(ctx, namespace.CreateGroupInput{Name: "team", Path: "team"})
	if err != nil {
		t.Fatal(err)
	}
	var users []*namespace.User
	for _, name := range []string{"ann", "bob", "cat", "dan"} {
		u, err := svc.CreateUser(ctx, namespace.CreateUserInput{Username: name, Email: name + "@example.com", Name: name, Password: "password-" + name})
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
	}
	var projects []*namespace.Project
	for i, g := range []int64{top.ID, sub.ID, sub.ID, team.ID} {
		p, err := svc.CreateProject(ctx, namespace.CreateProjectInput{Name: fmt.Sprintf("p%d", i), Path: fmt.Sprintf("p%d", i), GroupID: g})
		if err != nil {
			t.Fatal(err)
		}
		projects = append(projects, p)
	}
	own, err := svc.CreateProject(ctx, namespace.CreateProjectInput{Name: "mine", Path: "mine", OwnerUserID: users[3].ID})
	if err != nil {
		t.Fatal(err)
	}
	projects = append(projects, own)
	past := fixedNow.Add(-24 * time.Hour)
	for _, m := range []namespace.Member{
		{UserID: users[0].ID, GroupID: top.ID, Role: namespace.Reporter},
		{UserID: users[0].ID, ProjectID: projects[1].ID, Role: namespace.Maintainer},
		{UserID: users[1].ID, GroupID: sub.ID, Role: namespace.Developer},
		{UserID: users[2].ID, GroupID: team.ID, Role: namespace.Maintainer},
	} {
		if err := svc.AddMember(ctx, namespace.Instance, m); err != nil {
			t.Fatal(err)
		}
	}
	// An expired membership, stored as it stays after its date.
	if err := st.Namespaces.AddMember(ctx, namespace.Member{UserID: users[1].ID, ProjectID: projects[0].ID, Role: namespace.Maintainer,
		ExpiresAt: &past, CreatedAt: past}); err != nil {
		t.Fatal(err)
	}
	if err := svc.ShareGroup(ctx, namespace.GroupShare{GroupID: sub.ID, SharedWithGroupID: team.ID, Access: namespace.Reporter}); err != nil {
		t.Fatal(err)
	}
	for _, g := range []*namespace.Group{top, sub, team} {
		if g2, err := svc.Group(ctx, g.ID); err == nil {
			*g = *g2
		}
	}
	cached := namespace.WithRoleCache(ctx)
	for _, u := range append(users, &namespace.User{}) {
		for round := range 2 { // the second round answers from the cache
			for _, p := range projects {
				want, err := svc.ProjectRole(ctx, u.ID, p)
				if err != nil {
					t.Fatal(err)
				}
				got, err := svc.ProjectRole(cached, u.ID, p)
				if err != nil || got != want {
					t.Errorf("round %d: %s on %s: cached %v (%v), uncached %v", round, u.Username, p.FullPath, got, err, want)
				}
			}
			for _, g := range []*namespace.Group{top, sub, team} {
				want, err := svc.GroupRole(ctx, u.ID, g)
				if err != nil {
					t.Fatal(err)
				}
				if got, err := svc.GroupRole(cached, u.ID, g); err != nil || got != want {
					t.Errorf("round %d: %s on group %s: cached %v (%v), uncached %v", round, u.Username, g.FullPath, got, err, want)
				}
			}
		}
	}
	// The cases differ: the test would catch a cache that answered one role for all.
	if r, _ := svc.ProjectRole(cached, users[0].ID, projects[1]); r != namespace.Maintainer {
		t.Errorf("ann on p1 = %v, want maintainer", r)
	}
	if r, _ := svc.ProjectRole(cached, users[1].ID, projects[0]); r != namespace.NoRole {
		t.Errorf("bob on p0 (expired) = %v, want none", r)
	}
	if r, _ := svc.ProjectRole(cached, users[2].ID, projects[2]); r != namespace.Reporter {
		t.Errorf("cat on p2 (share) = %v, want reporter", r)
	}
}
