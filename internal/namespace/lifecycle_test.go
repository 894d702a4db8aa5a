package namespace_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
)

func ptr(s string) *string { return &s }

// TestVisibilityRules: GitLab's rules, with its field and wording: a project is no more visible
// than its group (lowered on create and transfer, refused on update), a subgroup no more than its
// parent, a group no less than what it holds.
func TestVisibilityRules(t *testing.T) {
	t.Parallel()
	svc, s := newService(t)
	ctx := context.Background()
	pub, err := svc.CreateGroup(ctx, namespace.CreateGroupInput{Name: "pub", Path: "pub", Visibility: "public"})
	if err != nil || pub.Visibility != namespace.Public {
		t.Fatalf("public group = %+v, %v", pub, err)
	}
	priv, err := svc.CreateGroup(ctx, namespace.CreateGroupInput{Name: "priv", Path: "priv"})
	if err != nil || priv.Visibility != namespace.Private {
		t.Fatalf("default group visibility = %+v, %v", priv, err)
	}
	refusal := func(t *testing.T, err error, text string) {
		t.Helper()
		var ve *errkind.ValidationError
		if !errors.As(err, &ve) || ve.Field != "visibility_level" || ve.Reason != text {
			t.Fatalf("error = %v, want visibility_level %q", err, text)
		}
	}
	t.Run("fail/subgroup above its parent", func(t *testing.T) {
		_, err := svc.CreateGroup(ctx, namespace.CreateGroupInput{Name: "s", Path: "s", ParentID: priv.ID, Visibility: "internal"})
		refusal(t, err, "internal is not allowed since the parent group has a private visibility.")
	})
	t.Run("ok/project lowered to its group on create", func(t *testing.T) {
		p, err := svc.CreateProject(ctx, namespace.CreateProjectInput{Name: "p", Path: "p", GroupID: priv.ID, Visibility: "public"})
		if err != nil || p.Visibility != namespace.Private {
			t.Fatalf("project = %+v, %v", p, err)
		}
		_, err = svc.UpdateProject(ctx, p.ID, namespace.UpdateProjectInput{Visibility: ptr("internal")})
		refusal(t, err, "internal is not allowed in a private group.")
	})
	pubProject, err := svc.CreateProject(ctx, namespace.CreateProjectInput{Name: "w", Path: "w", GroupID: pub.ID, Visibility: "public"})
	if err != nil || pubProject.Visibility != namespace.Public {
		t.Fatalf("public project = %+v, %v", pubProject, err)
	}
	inner, err := svc.CreateGroup(ctx, namespace.CreateGroupInput{Name: "in", Path: "in", ParentID: pub.ID, Visibility: "public"})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("fail/group below what it holds", func(t *testing.T) {
		_, err := svc.UpdateGroup(ctx, pub.ID, namespace.UpdateGroupInput{Visibility: ptr("internal")})
		refusal(t, err, "internal is not allowed since this group contains projects with higher visibility.")
		if _, err := svc.UpdateProject(ctx, pubProject.ID, namespace.UpdateProjectInput{Visibility: ptr("internal")}); err != nil {
			t.Fatal(err)
		}
		_, err = svc.UpdateGroup(ctx, pub.ID, namespace.UpdateGroupInput{Visibility: ptr("internal")})
		refusal(t, err, "internal is not allowed since there are sub-groups with higher visibility.")
	})
	t.Run("ok/transfer lowers the group, its subgroups and projects", func(t *testing.T) {
		deep, err := svc.CreateProject(ctx, namespace.CreateProjectInput{Name: "d", Path: "d", GroupID: inner.ID, Visibility: "public"})
		if err != nil {
			t.Fatal(err)
		}
		var moved []int64
		svc.OnProjectMoved = func(_ context.Context, id int64) error { moved = append(moved, id); return nil }
		defer func() { svc.OnProjectMoved = nil }()
		g, err := svc.TransferGroup(ctx, inner.ID, priv.ID)
		if err != nil || g.FullPath != "priv/in" || g.Visibility != namespace.Private {
			t.Fatalf("TransferGroup = %+v, %v", g, err)
		}
		p, err := svc.Project(ctx, deep.ID)
		if err != nil || p.FullPath != "priv/in/d" || p.Visibility != namespace.Private {
			t.Fatalf("project below the moved group = %+v, %v", p, err)
		}
		if !slices.Equal(moved, []int64{deep.ID}) {
			t.Fatalf("OnProjectMoved saw %v", moved)
		}
		_, err = svc.TransferGroup(ctx, priv.ID, inner.ID)
		wantField(t, err, "group")
		_, err = svc.TransferGroup(ctx, inner.ID, priv.ID)
		wantField(t, err, "group")
	})
	t.Run("ok/project transfer to a personal namespace and back", func(t *testing.T) {
		u := storeUser(t, s, "owner", false)
		p, err := svc.TransferProject(ctx, pubProject.ID, 0, u.ID)
		if err != nil || p.FullPath != "owner/w" || p.OwnerUserID != u.ID || p.GroupID != 0 {
			t.Fatalf("TransferProject to owner = %+v, %v", p, err)
		}
		_, err = svc.TransferProject(ctx, pubProject.ID, 0, u.ID)
		wantField(t, err, "new_namespace")
		if _, err := svc.CreateProject(ctx, namespace.CreateProjectInput{Name: "w", Path: "w", GroupID: priv.ID}); err != nil {
			t.Fatal(err)
		}
		_, err = svc.TransferProject(ctx, pubProject.ID, priv.ID, 0)
		wantField(t, err, "path") // priv/w is taken
		p, err = svc.UpdateProject(ctx, pubProject.ID, namespace.UpdateProjectInput{Path: ptr("w2"), Name: ptr(" W2 ")})
		if err != nil || p.FullPath != "owner/w2" || p.Name != "W2" {
			t.Fatalf("rename = %+v, %v", p, err)
		}
		_, err = svc.UpdateProject(ctx, pubProject.ID, namespace.UpdateProjectInput{Path: ptr("bad path")})
		wantField(t, err, "path")
		if err := svc.DeleteProject(ctx, pubProject.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Project(ctx, pubProject.ID); !errors.Is(err, errkind.ErrNotFound) {
			t.Fatalf("deleted project: %v", err)
		}
	})
	t.Run("ok/group delete runs the hook for every project below", func(t *testing.T) {
		var deleted []int64
		svc.OnProjectDeleted = func(_ context.Context, id int64) error { deleted = append(deleted, id); return nil }
		defer func() { svc.OnProjectDeleted = nil }()
		if err := svc.DeleteGroup(ctx, priv.ID); err != nil {
			t.Fatal(err)
		}
		if len(deleted) != 3 { // priv/p, priv/in/d, priv/w
			t.Fatalf("OnProjectDeleted ran %d times, want 3", len(deleted))
		}
		if _, err := svc.Group(ctx, inner.ID); !errors.Is(err, errkind.ErrNotFound) {
			t.Fatalf("subgroup of a deleted group: %v", err)
		}
	})
}
