package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore"
)

// testMemberChanges checks ChangeMember: the owners it counts for the domain's last-owner rule,
// that a refusal changes nothing, and that two concurrent demotions in one tree cannot both
// count on the other's ownership.
func testMemberChanges(t *testing.T, s *sqlstore.Stores) {
	top := mustGroup(t, s, "co", 0)
	dept := mustGroup(t, s, "dept", top.ID)
	alice, bob, carol, dave, erin, frank := mustUser(t, s, "alice"), mustUser(t, s, "bob"), mustUser(t, s, "carol"),
		mustUser(t, s, "dave"), mustUser(t, s, "erin"), mustUser(t, s, "frank")
	app := mustProject(t, s, "app", dept.ID, 0)
	dot := mustProject(t, s, "dot", 0, erin.ID)
	for _, m := range []namespace.Member{
		{UserID: alice.ID, GroupID: top.ID, Role: namespace.Owner},
		{UserID: bob.ID, GroupID: top.ID, Role: namespace.Owner},
		{UserID: carol.ID, GroupID: dept.ID, Role: namespace.Owner},
		{UserID: dave.ID, ProjectID: app.ID, Role: namespace.Owner},
		{UserID: frank.ID, ProjectID: dot.ID, Role: namespace.Owner},
		{UserID: frank.ID, GroupID: dept.ID, Role: namespace.Developer},
	} {
		m.CreatedAt = t0
		must(t, s.Namespaces.AddMember(ctx(), m))
	}
	// owners asks ChangeMember how many owners remain apart from m, refusing so nothing changes.
	errAsked := errors.New("asked")
	owners := func(t *testing.T, m namespace.Member) (namespace.Member, int) {
		t.Helper()
		var old namespace.Member
		n := -1
		_, err := s.Namespaces.ChangeMember(ctx(), m, func(o namespace.Member, others int) error { old, n = o, others; return errAsked })
		wantErr(t, err, errAsked)
		return old, n
	}
	t.Run("ok/other owners counted up the tree", func(t *testing.T) {
		for _, c := range []struct {
			name string
			m    namespace.Member
			want int
		}{
			{"top-level group: the other direct owner", namespace.Member{UserID: alice.ID, GroupID: top.ID}, 1},
			{"subgroup: the owners above", namespace.Member{UserID: carol.ID, GroupID: dept.ID}, 2},
			{"group project: the group's and its ancestors' owners", namespace.Member{UserID: dave.ID, ProjectID: app.ID}, 3},
			{"personal project: the namespace's owner", namespace.Member{UserID: frank.ID, ProjectID: dot.ID}, 1},
			{"a developer: every owner", namespace.Member{UserID: frank.ID, GroupID: dept.ID}, 3},
		} {
			old, n := owners(t, c.m)
			if n != c.want {
				t.Errorf("%s: %d other owners, want %d", c.name, n, c.want)
			}
			if old.UserID != c.m.UserID || !old.CreatedAt.Equal(t0) || old.Role == namespace.NoRole {
				t.Errorf("%s: old membership %+v", c.name, old)
			}
		}
	})
	t.Run("ok/refusal changes nothing", func(t *testing.T) {
		owners(t, namespace.Member{UserID: alice.ID, GroupID: top.ID, Role: namespace.Guest})
		if roles, err := s.Namespaces.MemberRoles(ctx(), alice.ID, 0, []int64{top.ID}, t0); err != nil || !sameRoles(roles, []namespace.Role{namespace.Owner}) {
			t.Fatalf("alice after a refused change: %v, %v", roles, err)
		}
	})
	t.Run("ok/change and remove", func(t *testing.T) {
		old, err := s.Namespaces.ChangeMember(ctx(), namespace.Member{UserID: frank.ID, GroupID: dept.ID, Role: namespace.Reporter},
			func(namespace.Member, int) error { return nil })
		must(t, err)
		if old.Role != namespace.Developer {
			t.Fatalf("old role %d, want developer", old.Role)
		}
		_, err = s.Namespaces.ChangeMember(ctx(), namespace.Member{UserID: frank.ID, GroupID: dept.ID, Role: namespace.NoRole},
			func(namespace.Member, int) error { return nil })
		must(t, err)
		if roles, err := s.Namespaces.MemberRoles(ctx(), frank.ID, 0, []int64{dept.ID}, t0); err != nil || len(roles) != 0 {
			t.Fatalf("frank after removal: %v, %v", roles, err)
		}
	})
	t.Run("fail/no such membership", func(t *testing.T) {
		_, err := s.Namespaces.ChangeMember(ctx(), namespace.Member{UserID: frank.ID, GroupID: top.ID, Role: namespace.Guest},
			func(namespace.Member, int) error { return nil })
		wantErr(t, err, errkind.ErrNotFound)
		_, err = s.Namespaces.ChangeMember(ctx(), namespace.Member{UserID: frank.ID, GroupID: 999999, Role: namespace.Guest},
			func(namespace.Member, int) error { return nil })
		wantErr(t, err, errkind.ErrNotFound)
	})
	t.Run("ok/concurrent demotions keep an owner", func(t *testing.T) {
		// alice and bob, the two owners of co, each demote the other at once. decide waits for the
		// other change to reach it too: if the store let both in, each would count the other as
		// the remaining owner and co would end with none.
		for round := range 3 {
			var mu sync.Mutex
			arrived, both := 0, make(chan struct{})
			lastOwner := errors.New("last owner")
			decide := func(_ namespace.Member, others int) error {
				mu.Lock()
				if arrived++; arrived == 2 {
					close(both)
				}
				mu.Unlock()
				select {
				case <-both:
				case <-time.After(300 * time.Millisecond):
				}
				if others == 0 {
					return lastOwner
				}
				return nil
			}
			errs := make(chan error, 2)
			for _, u := range []*namespace.User{alice, bob} {
				go func() {
					_, err := s.Namespaces.ChangeMember(ctx(), namespace.Member{UserID: u.ID, GroupID: top.ID, Role: namespace.Maintainer}, decide)
					errs <- err
				}()
			}
			var refused int
			for range 2 {
				if err := <-errs; errors.Is(err, lastOwner) {
					refused++
				} else {
					must(t, err)
				}
			}
			ms, err := s.Namespaces.ListMembers(ctx(), top.ID, 0)
			must(t, err)
			var left []int64
			for _, m := range ms {
				if m.Role == namespace.Owner {
					left = append(left, m.UserID)
				}
			}
			if len(left) != 1 || refused != 1 {
				t.Fatalf("round %d: owners left %v, %d refused; want exactly one of each", round, left, refused)
			}
			// Make both owners again for the next round.
			for _, u := range []*namespace.User{alice, bob} {
				_, err := s.Namespaces.ChangeMember(ctx(), namespace.Member{UserID: u.ID, GroupID: top.ID, Role: namespace.Owner},
					func(namespace.Member, int) error { return nil })
				must(t, err)
			}
		}
	})
}
