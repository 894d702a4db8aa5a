package namespace_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
)

// TestMemberRules: GitLab's membership rules, decided by the service whatever the caller: adding
// never changes a member, only an owner touches an owner, nobody grants above their own role,
// and the last owner stays.
func TestMemberRules(t *testing.T) {
	t.Parallel()
	rt := newRoleTree(t)
	svc, ctx := rt.svc, context.Background()
	ids := map[string]int64{}
	for _, name := range []string{"owner", "maint", "dev", "newcomer", "sub-owner"} {
		ids[name] = storeUser(t, rt.store, name, false).ID
	}
	as := func(name string) namespace.Actor { return namespace.Actor{UserID: ids[name]} }
	root := func(name string, r namespace.Role) namespace.Member {
		return namespace.Member{UserID: ids[name], GroupID: rt.root.ID, Role: r}
	}
	for _, m := range []namespace.Member{root("owner", namespace.Owner), root("maint", namespace.Maintainer),
		root("dev", namespace.Developer), {UserID: ids["sub-owner"], GroupID: rt.mid.ID, Role: namespace.Owner}} {
		if err := svc.AddMember(ctx, namespace.Instance, m); err != nil {
			t.Fatal(err)
		}
	}
	forbidden := func(t *testing.T, err error, reason string) {
		t.Helper()
		var fe *errkind.ForbiddenError
		if !errors.As(err, &fe) || !errors.Is(err, errkind.ErrForbidden) || !strings.Contains(fe.Reason, reason) {
			t.Fatalf("error = %v, want a refusal: %s", err, reason)
		}
	}
	ownerStays := func(t *testing.T) {
		t.Helper()
		if r, err := svc.GroupRole(ctx, ids["owner"], rt.root); err != nil || r != namespace.Owner {
			t.Fatalf("the owner's role is now %d, %v", r, err)
		}
	}
	update := func(by namespace.Actor, m namespace.Member) error { _, err := svc.UpdateMember(ctx, by, m); return err }

	t.Run("fail/adding an existing member does not change it (the old upsert demoted the owner)", func(t *testing.T) {
		if err := svc.AddMember(ctx, as("maint"), root("owner", namespace.Guest)); !errors.Is(err, errkind.ErrConflict) {
			t.Fatalf("AddMember(existing) = %v, want ErrConflict", err)
		}
		ownerStays(t)
	})
	t.Run("fail/maintainer grants owner", func(t *testing.T) {
		forbidden(t, svc.AddMember(ctx, as("maint"), root("newcomer", namespace.Owner)), "above your own")
		forbidden(t, update(as("maint"), root("dev", namespace.Owner)), "above your own")
	})
	t.Run("fail/maintainer demotes or removes an owner", func(t *testing.T) {
		forbidden(t, update(as("maint"), root("owner", namespace.Guest)), "only an owner")
		forbidden(t, svc.RemoveMember(ctx, as("maint"), root("owner", 0)), "only an owner")
		ownerStays(t)
	})
	t.Run("fail/the last owner, even by an admin or themselves", func(t *testing.T) {
		admin := namespace.Actor{UserID: ids["newcomer"], Admin: true}
		for _, by := range []namespace.Actor{as("owner"), admin} {
			forbidden(t, update(by, root("owner", namespace.Maintainer)), "last owner")
			forbidden(t, svc.RemoveMember(ctx, by, root("owner", 0)), "last owner")
		}
		ownerStays(t)
	})
	t.Run("fail/no such member", func(t *testing.T) {
		if err := update(as("owner"), root("newcomer", namespace.Guest)); !errors.Is(err, errkind.ErrNotFound) {
			t.Fatalf("UpdateMember(non-member) = %v, want ErrNotFound", err)
		}
		if err := svc.RemoveMember(ctx, as("owner"), root("newcomer", 0)); !errors.Is(err, errkind.ErrNotFound) {
			t.Fatalf("RemoveMember(non-member) = %v, want ErrNotFound", err)
		}
	})
	t.Run("fail/bad role on update", func(t *testing.T) {
		wantField(t, update(as("owner"), root("dev", 35)), "access_level")
	})
	t.Run("ok/maintainer manages up to maintainer", func(t *testing.T) {
		if err := svc.AddMember(ctx, as("maint"), root("newcomer", namespace.Maintainer)); err != nil {
			t.Fatal(err)
		}
		if err := update(as("maint"), root("newcomer", namespace.Reporter)); err != nil {
			t.Fatal(err)
		}
		if err := svc.RemoveMember(ctx, as("maint"), root("newcomer", 0)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ok/a subgroup's only direct owner goes while an owner above remains", func(t *testing.T) {
		if err := svc.RemoveMember(ctx, as("owner"), namespace.Member{UserID: ids["sub-owner"], GroupID: rt.mid.ID}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ok/an owner steps down once another owner exists", func(t *testing.T) {
		if err := update(as("owner"), root("maint", namespace.Owner)); err != nil {
			t.Fatal(err)
		}
		if err := update(as("owner"), root("owner", namespace.Developer)); err != nil {
			t.Fatal(err)
		}
		forbidden(t, svc.RemoveMember(ctx, as("maint"), root("maint", 0)), "last owner")
	})
	t.Run("fail/project members follow the same rules", func(t *testing.T) {
		p := func(name string, r namespace.Role) namespace.Member {
			return namespace.Member{UserID: ids[name], ProjectID: rt.leafProj.ID, Role: r}
		}
		if err := svc.AddMember(ctx, as("maint"), p("newcomer", namespace.Owner)); err != nil {
			t.Fatal(err) // maint is an owner of the root group now
		}
		forbidden(t, svc.AddMember(ctx, as("dev"), p("sub-owner", namespace.Maintainer)), "above your own")
		forbidden(t, update(as("dev"), p("newcomer", namespace.Guest)), "only an owner")
		if err := svc.AddMember(ctx, as("maint"), p("newcomer", namespace.Guest)); !errors.Is(err, errkind.ErrConflict) {
			t.Fatalf("AddMember(existing project member) = %v, want ErrConflict", err)
		}
	})
}
