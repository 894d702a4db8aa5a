package access_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// TestNamespaceLifecycle: editing a project is a maintainer's (GitLab's admin_project), deleting,
// transferring, renaming it or changing its visibility an owner's; a group's settings, deletion
// and transfer are its owners' (admin_group). A maintainer never does what only an owner may.
func TestNamespaceLifecycle(t *testing.T) {
	az := access.New(humanRoles(), func() time.Time { return noon }, access.Options{})
	P := func(p *namespace.Project) access.Resource { return access.Resource{Project: p} }
	G := func(g *namespace.Group) access.Resource { return access.Resource{Group: g} }
	cases := []struct {
		name   string
		who    access.Principal
		res    access.Resource
		act    access.Action
		allow  bool
		denial access.Denial
	}{
		{"ok/project maintainer edits", user(maintainer), P(child), access.EditNamespace, true, access.Allowed},
		{"fail/project maintainer deletes or transfers", user(maintainer), P(child), access.OwnNamespace, false, access.Forbidden},
		{"ok/group owner owns the projects below", user(owner), P(grandchild), access.OwnNamespace, true, access.Allowed},
		{"ok/group owner edits the group", user(owner), G(sub), access.EditNamespace, true, access.Allowed},
		{"ok/group owner deletes a subgroup", user(owner), G(sub), access.OwnNamespace, true, access.Allowed},
		{"fail/group maintainer edits the group", user(maintainer), G(team), access.EditNamespace, false, access.Forbidden},
		{"fail/group maintainer deletes the group", user(maintainer), G(team), access.OwnNamespace, false, access.Forbidden},
		{"fail/developer edits a project", user(developer), P(child), access.EditNamespace, false, access.Forbidden},
		{"fail/outsider deletes a private project", user(outsider), P(child), access.OwnNamespace, false, access.NotFound},
		{"fail/outsider deletes a public project", user(outsider), P(public), access.OwnNamespace, false, access.Forbidden},
		{"ok/admin deletes", user(admin), G(root), access.OwnNamespace, true, access.Allowed},
		{"fail/owner with a read_api token", withPAT(owner, nil, false, token.ReadAPI), G(team), access.OwnNamespace, false, access.Forbidden},
		{"ok/owner with an api token", withPAT(owner, nil, false, token.API), G(team), access.OwnNamespace, true, access.Allowed},
		{"fail/anonymous", access.AnonymousPrincipal, P(public), access.OwnNamespace, false, access.Unauthenticated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := az.Authorize(context.Background(), c.who, c.res, c.act)
			if err != nil || d.Allow() != c.allow || d.Denial != c.denial {
				t.Fatalf("Authorize = %+v, %v; want allow=%v denial=%v", d, err, c.allow, c.denial)
			}
		})
	}
}

// TestGroupVisibility: a public group is seen by anyone, an internal one by every signed-in
// user, a private one by its members only (others are told it does not exist); seeing a group
// grants nothing more.
func TestGroupVisibility(t *testing.T) {
	az := access.New(humanRoles(), func() time.Time { return noon }, access.Options{})
	with := func(v namespace.Visibility) access.Resource {
		g := *other
		g.Visibility = v
		return access.Resource{Group: &g}
	}
	cases := []struct {
		name   string
		who    access.Principal
		vis    namespace.Visibility
		act    access.Action
		denial access.Denial
	}{
		{"ok/anonymous views a public group", access.AnonymousPrincipal, namespace.Public, access.ViewNamespace, access.Allowed},
		{"fail/anonymous views an internal group", access.AnonymousPrincipal, namespace.Internal, access.ViewNamespace, access.Unauthenticated},
		{"fail/anonymous views a private group", access.AnonymousPrincipal, namespace.Private, access.ViewNamespace, access.Unauthenticated},
		{"ok/outsider views an internal group", user(outsider), namespace.Internal, access.ViewNamespace, access.Allowed},
		{"ok/outsider views a public group", user(outsider), namespace.Public, access.ViewNamespace, access.Allowed},
		{"fail/outsider views a private group", user(outsider), namespace.Private, access.ViewNamespace, access.NotFound},
		{"fail/outsider manages a public group's members", user(outsider), namespace.Public, access.ManageMembers, access.Forbidden},
		{"fail/outsider deletes an internal group", user(outsider), namespace.Internal, access.OwnNamespace, access.Forbidden},
		{"fail/outsider's read_api token on a private group", withPAT(outsider, nil, false, token.ReadAPI), namespace.Private, access.OwnNamespace, access.NotFound},
		{"fail/outsider's read_api token on an internal group", withPAT(outsider, nil, false, token.ReadAPI), namespace.Internal, access.OwnNamespace, access.Forbidden},
		{"fail/anonymous pulls through a public group's proxy", access.AnonymousPrincipal, namespace.Public, access.ProxyPull, access.Unauthenticated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := az.Authorize(context.Background(), c.who, with(c.vis), c.act)
			if err != nil || d.Denial != c.denial {
				t.Fatalf("Authorize = %+v, %v; want %v", d, err, c.denial)
			}
		})
	}
}
