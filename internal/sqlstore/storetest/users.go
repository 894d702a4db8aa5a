package storetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// testUserAdministration checks UpdateUser (state, rename with its route), DeleteUser (its
// refusals and what it removes) and UserMemberships.
func testUserAdministration(t *testing.T, s *sqlstore.Stores) {
	ann, ben, cat := mustUser(t, s, "ann"), mustUser(t, s, "ben"), mustUser(t, s, "cat")
	team := mustGroup(t, s, "team", 0)
	app := mustProject(t, s, "app", team.ID, 0)
	t.Run("ok/ban and rename", func(t *testing.T) {
		u := *ann
		u.Blocked, u.Banned, u.Username, u.Name = true, true, "anne", "Anne"
		must(t, s.Namespaces.UpdateUser(ctx(), &u))
		got, err := s.Namespaces.UserByUsername(ctx(), "ANNE")
		must(t, err)
		if !got.Blocked || !got.Banned || got.Name != "Anne" || got.State() != "banned" {
			t.Fatalf("after update: %+v", got)
		}
		// The old path is free again: a group may take it.
		mustGroup(t, s, "ann", 0)
	})
	t.Run("fail/rename to a path another holds", func(t *testing.T) {
		u := *ben
		u.Username = "team"
		wantErr(t, s.Namespaces.UpdateUser(ctx(), &u), errkind.ErrConflict)
		u.Username = "CAT"
		wantErr(t, s.Namespaces.UpdateUser(ctx(), &u), errkind.ErrConflict)
	})
	t.Run("fail/missing user", func(t *testing.T) {
		u := namespace.User{ID: 999999, Username: "ghost", Email: "g@example.com", Name: "G"}
		wantErr(t, s.Namespaces.UpdateUser(ctx(), &u), errkind.ErrNotFound)
	})
	for _, m := range []namespace.Member{
		{UserID: ben.ID, GroupID: team.ID, Role: namespace.Owner, CreatedAt: t0},
		{UserID: ben.ID, ProjectID: app.ID, Role: namespace.Developer, CreatedAt: t0},
	} {
		must(t, s.Namespaces.AddMember(ctx(), m))
	}
	t.Run("ok/memberships", func(t *testing.T) {
		got, err := s.Namespaces.UserMemberships(ctx(), ben.ID)
		must(t, err)
		if len(got) != 2 || got[0].GroupID != team.ID || got[0].Role != namespace.Owner || got[1].ProjectID != app.ID || got[1].Role != namespace.Developer {
			t.Fatalf("UserMemberships = %+v", got)
		}
	})
	pat := &token.PersonalToken{UserID: ben.ID, Name: "ci", Scopes: token.Scopes{token.API}, CreatedAt: t0, Digest: digestOf("ben-pat")}
	must(t, s.Tokens.CreatePersonalToken(ctx(), pat))
	t.Run("fail/sole owner of a group", func(t *testing.T) {
		if err := s.Namespaces.DeleteUser(ctx(), ben.ID); !errors.Is(err, namespace.ErrSoleOwner) {
			t.Fatalf("DeleteUser = %v, want ErrSoleOwner", err)
		}
	})
	t.Run("fail/projects in the namespace", func(t *testing.T) {
		mustProject(t, s, "dots", 0, cat.ID)
		if err := s.Namespaces.DeleteUser(ctx(), cat.ID); !errors.Is(err, namespace.ErrUserHasProjects) {
			t.Fatalf("DeleteUser = %v, want ErrUserHasProjects", err)
		}
	})
	t.Run("ok/delete takes memberships and tokens along", func(t *testing.T) {
		must(t, s.Namespaces.AddMember(ctx(), namespace.Member{UserID: ann.ID, GroupID: team.ID, Role: namespace.Owner, CreatedAt: t0}))
		must(t, s.Namespaces.DeleteUser(ctx(), ben.ID))
		_, err := s.Namespaces.User(ctx(), ben.ID)
		wantErr(t, err, errkind.ErrNotFound)
		_, err = s.Tokens.PersonalToken(ctx(), pat.ID)
		wantErr(t, err, errkind.ErrNotFound)
		members, err := s.Namespaces.ListMembers(ctx(), team.ID, 0)
		must(t, err)
		if len(members) != 1 || members[0].UserID != ann.ID {
			t.Fatalf("members after delete: %+v", members)
		}
		// The username is free again.
		mustUser(t, s, "ben")
		wantErr(t, s.Namespaces.DeleteUser(ctx(), ben.ID), errkind.ErrNotFound)
	})
}

// testPersonalTokenAdministration checks listing, revoking and rotating personal tokens.
func testPersonalTokenAdministration(t *testing.T, s *sqlstore.Stores) {
	u, v := mustUser(t, s, "holder"), mustUser(t, s, "other")
	a := &token.PersonalToken{UserID: u.ID, Name: "a", Scopes: token.Scopes{token.API}, CreatedAt: t0, Digest: digestOf("a")}
	b := &token.PersonalToken{UserID: u.ID, Name: "b", Scopes: token.Scopes{token.ReadAPI}, CreatedAt: t0, Digest: digestOf("b"), Impersonation: true}
	c := &token.PersonalToken{UserID: v.ID, Name: "c", Scopes: token.Scopes{token.API}, CreatedAt: t0, Digest: digestOf("c")}
	for _, p := range []*token.PersonalToken{a, b, c} {
		must(t, s.Tokens.CreatePersonalToken(ctx(), p))
	}
	t.Run("ok/list by user and all", func(t *testing.T) {
		mine, err := s.Tokens.ListPersonalTokens(ctx(), u.ID)
		must(t, err)
		if len(mine) != 2 || mine[0].ID != a.ID || mine[1].ID != b.ID || mine[0].Impersonation || !mine[1].Impersonation {
			t.Fatalf("ListPersonalTokens(user) = %+v", mine)
		}
		all, err := s.Tokens.ListPersonalTokens(ctx(), 0)
		must(t, err)
		if len(all) < 3 {
			t.Fatalf("ListPersonalTokens(0) = %d tokens", len(all))
		}
	})
	t.Run("ok/rotate revokes and inserts", func(t *testing.T) {
		next := &token.PersonalToken{UserID: u.ID, Name: "a", Scopes: a.Scopes, CreatedAt: t0, Digest: digestOf("a2")}
		must(t, s.Tokens.RotatePersonalToken(ctx(), a.ID, next))
		old, err := s.Tokens.PersonalToken(ctx(), a.ID)
		must(t, err)
		got, err := s.Tokens.PersonalTokenByDigest(ctx(), digestOf("a2"))
		must(t, err)
		if !old.Revoked || got.ID != next.ID || got.Revoked || !bytes.Equal(got.Digest, next.Digest) {
			t.Fatalf("after rotate: old %+v, new %+v", old, got)
		}
	})
	t.Run("fail/rotate a revoked token", func(t *testing.T) {
		next := &token.PersonalToken{UserID: u.ID, Name: "a", Scopes: a.Scopes, CreatedAt: t0, Digest: digestOf("a3")}
		wantErr(t, s.Tokens.RotatePersonalToken(ctx(), a.ID, next), errkind.ErrConflict)
		_, err := s.Tokens.PersonalTokenByDigest(ctx(), digestOf("a3"))
		wantErr(t, err, errkind.ErrNotFound)
		wantErr(t, s.Tokens.RotatePersonalToken(ctx(), 999999, next), errkind.ErrNotFound)
	})
	t.Run("ok/revoke", func(t *testing.T) {
		must(t, s.Tokens.RevokePersonalToken(ctx(), c.ID))
		got, err := s.Tokens.PersonalToken(ctx(), c.ID)
		must(t, err)
		if !got.Revoked {
			t.Fatal("not revoked")
		}
		wantErr(t, s.Tokens.RevokePersonalToken(ctx(), 999999), errkind.ErrNotFound)
	})
}

// testVariables checks the CI/CD variable store: one key per owner and environment scope, the
// sealed value kept as given, update and delete.
func testVariables(t *testing.T, s *sqlstore.Stores) {
	g := mustGroup(t, s, "vars", 0)
	p := mustProject(t, s, "app", g.ID, 0)
	v := &token.Variable{Owner: token.Owner{ProjectID: p.ID}, Key: "K", SealedValue: []byte("sealed-1"), Type: token.EnvVar,
		Masked: true, EnvironmentScope: "*", CreatedAt: t0}
	must(t, s.Variables.CreateVariable(ctx(), v))
	t.Run("fail/same key and scope", func(t *testing.T) {
		dup := *v
		wantErr(t, s.Variables.CreateVariable(ctx(), &dup), errkind.ErrConflict)
	})
	t.Run("ok/same key elsewhere", func(t *testing.T) {
		for _, o := range []token.Variable{
			{Owner: token.Owner{ProjectID: p.ID}, Key: "K", EnvironmentScope: "prod"},
			{Owner: token.Owner{GroupID: g.ID}, Key: "K", EnvironmentScope: "*"},
		} {
			o.SealedValue, o.Type, o.CreatedAt = []byte("x"), token.FileType, t0
			must(t, s.Variables.CreateVariable(ctx(), &o))
		}
	})
	t.Run("ok/list, update, delete", func(t *testing.T) {
		list, err := s.Variables.ListVariables(ctx(), token.Owner{ProjectID: p.ID})
		must(t, err)
		if len(list) != 2 || list[0].EnvironmentScope != "*" || !bytes.Equal(list[0].SealedValue, []byte("sealed-1")) || !list[0].Masked ||
			list[1].EnvironmentScope != "prod" || list[1].Type != token.FileType {
			t.Fatalf("ListVariables = %+v", list)
		}
		list[0].SealedValue, list[0].Protected, list[0].Description = []byte("sealed-2"), true, "d"
		must(t, s.Variables.UpdateVariable(ctx(), list[0]))
		list[1].EnvironmentScope = "*"
		wantErr(t, s.Variables.UpdateVariable(ctx(), list[1]), errkind.ErrConflict)
		must(t, s.Variables.DeleteVariable(ctx(), list[1].ID))
		wantErr(t, s.Variables.DeleteVariable(ctx(), list[1].ID), errkind.ErrNotFound)
		after, err := s.Variables.ListVariables(ctx(), token.Owner{ProjectID: p.ID})
		must(t, err)
		if len(after) != 1 || !bytes.Equal(after[0].SealedValue, []byte("sealed-2")) || !after[0].Protected || after[0].Description != "d" {
			t.Fatalf("after update and delete: %+v", after)
		}
		groupVars, err := s.Variables.ListVariables(ctx(), token.Owner{GroupID: g.ID})
		must(t, err)
		if len(groupVars) != 1 || groupVars[0].Owner.GroupID != g.ID {
			t.Fatalf("group variables: %+v", groupVars)
		}
	})
}

// testMemberExpiry checks that a membership's expiry is stored, kept by a role change that
// carries it, and that MemberRoles leaves the membership out from its date on.
func testMemberExpiry(t *testing.T, s *sqlstore.Stores) {
	g := mustGroup(t, s, "expiring", 0)
	p := mustProject(t, s, "app", g.ID, 0)
	u := mustUser(t, s, "temp")
	day := t0.Add(24 * time.Hour)
	must(t, s.Namespaces.AddMember(ctx(), namespace.Member{UserID: u.ID, GroupID: g.ID, Role: namespace.Developer, CreatedAt: t0, ExpiresAt: &day}))
	must(t, s.Namespaces.AddMember(ctx(), namespace.Member{UserID: u.ID, ProjectID: p.ID, Role: namespace.Reporter, CreatedAt: t0}))
	roles := func(at time.Time) []namespace.Role {
		t.Helper()
		got, err := s.Namespaces.MemberRoles(ctx(), u.ID, p.ID, p.GroupAncestry, at)
		must(t, err)
		return got
	}
	if got := roles(t0); !sameRoles(got, []namespace.Role{namespace.Reporter, namespace.Developer}) {
		t.Errorf("before expiry: %v", got)
	}
	if got := roles(day); !sameRoles(got, []namespace.Role{namespace.Reporter}) {
		t.Errorf("on the expiry date: %v, want only the project's reporter", got)
	}
	members, err := s.Namespaces.ListMembers(ctx(), g.ID, 0)
	must(t, err)
	if len(members) != 1 || members[0].ExpiresAt == nil || !members[0].ExpiresAt.Equal(day) {
		t.Fatalf("ListMembers = %+v, want the expiry kept", members)
	}
	old, err := s.Namespaces.ChangeMember(ctx(), namespace.Member{UserID: u.ID, GroupID: g.ID, Role: namespace.Maintainer},
		func(namespace.Member, int) error { return nil })
	must(t, err)
	if old.ExpiresAt == nil || !old.ExpiresAt.Equal(day) {
		t.Errorf("ChangeMember's old membership = %+v, want its expiry", old)
	}
	members, err = s.Namespaces.ListMembers(ctx(), g.ID, 0)
	must(t, err)
	if members[0].ExpiresAt != nil || members[0].Role != namespace.Maintainer {
		t.Errorf("a change without an expiry clears it: %+v", members[0])
	}
}

// testExpiredOwners checks that an expired owner is no owner for the last-owner count and the
// sole-owner check of a user's removal.
func testExpiredOwners(t *testing.T, s *sqlstore.Stores) {
	g := mustGroup(t, s, "lapsed", 0)
	owner, gone := mustUser(t, s, "real"), mustUser(t, s, "gone")
	past := time.Now().Add(-48 * time.Hour)
	must(t, s.Namespaces.AddMember(ctx(), namespace.Member{UserID: owner.ID, GroupID: g.ID, Role: namespace.Owner, CreatedAt: t0}))
	must(t, s.Namespaces.AddMember(ctx(), namespace.Member{UserID: gone.ID, GroupID: g.ID, Role: namespace.Owner, CreatedAt: t0, ExpiresAt: &past}))
	n := -1
	errAsked := errors.New("asked")
	_, err := s.Namespaces.ChangeMember(ctx(), namespace.Member{UserID: owner.ID, GroupID: g.ID, Role: namespace.Developer},
		func(_ namespace.Member, others int) error { n = others; return errAsked })
	wantErr(t, err, errAsked)
	if n != 0 {
		t.Errorf("%d other owners counted, want 0 (the other one's membership expired)", n)
	}
	if err := s.Namespaces.DeleteUser(ctx(), owner.ID); !errors.Is(err, namespace.ErrSoleOwner) {
		t.Errorf("DeleteUser = %v, want ErrSoleOwner (the other owner expired)", err)
	}
}
