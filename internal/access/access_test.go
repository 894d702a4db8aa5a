package access_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// fakeRoles is an in-memory Roles: direct roles per (user, project) and (user, group), inherited
// down the ancestry with the highest winning, as namespace.Service does over a store.
type fakeRoles struct {
	project map[[2]int64]namespace.Role
	group   map[[2]int64]namespace.Role
	err     error
}

func (f *fakeRoles) ProjectRole(_ context.Context, userID int64, p *namespace.Project) (namespace.Role, error) {
	if f.err != nil {
		return namespace.NoRole, f.err
	}
	best := f.project[[2]int64{userID, p.ID}]
	for _, g := range p.GroupAncestry {
		best = max(best, f.group[[2]int64{userID, g}])
	}
	return best, nil
}

func (f *fakeRoles) GroupRole(_ context.Context, userID int64, g *namespace.Group) (namespace.Role, error) {
	if f.err != nil {
		return namespace.NoRole, f.err
	}
	best := namespace.NoRole
	for _, id := range g.Ancestry {
		best = max(best, f.group[[2]int64{userID, id}])
	}
	return best, nil
}

// The tree: root ⊃ {team ⊃ {sub ⊃ grandchild project; child and sibling projects}, other ⊃ its
// project; root's own project}.
var (
	root  = &namespace.Group{ID: 1, Path: "root", FullPath: "root", Ancestry: []int64{1}}
	team  = &namespace.Group{ID: 2, Path: "team", ParentID: 1, FullPath: "root/team", Ancestry: []int64{1, 2}}
	sub   = &namespace.Group{ID: 3, Path: "sub", ParentID: 2, FullPath: "root/team/sub", Ancestry: []int64{1, 2, 3}}
	other = &namespace.Group{ID: 4, Path: "other", ParentID: 1, FullPath: "root/other", Ancestry: []int64{1, 4}}

	child      = project(20, "root/team/child", team, namespace.Private)
	sibling    = project(21, "root/team/sibling", team, namespace.Private)
	grandchild = project(30, "root/team/sub/grand", sub, namespace.Private)
	rootProj   = project(10, "root/handbook", root, namespace.Private)
	otherProj  = project(40, "root/other/app", other, namespace.Private)
	internal   = project(22, "root/team/internal", team, namespace.Internal)
	public     = project(23, "root/team/public", team, namespace.Public)
)

func project(id int64, fullPath string, g *namespace.Group, v namespace.Visibility) *namespace.Project {
	return &namespace.Project{ID: id, Path: fullPath[strings.LastIndexByte(fullPath, '/')+1:], GroupID: g.ID,
		FullPath: fullPath, Visibility: v, GroupAncestry: g.Ancestry}
}

// grants is the scope table of docs/design.md §2.3, written independently of the code under test.
var grants = map[token.Scope][]access.Action{
	token.ReadRepository:       {access.ReadRepository, access.DownloadArchive, access.ReadRawFile},
	token.ReadRegistry:         {access.PullImage},
	token.WriteRegistry:        {access.PushImage},
	token.ReadVirtualRegistry:  {access.ProxyPull},
	token.WriteVirtualRegistry: {access.ProxyPull, access.ProxyPush, access.ProxyDelete},
	token.ReadPackageRegistry:  {access.ReadPackage},
	token.WritePackageRegistry: {access.WritePackage},
}

// groupLevel actions are the dependency proxy's: they target a group, every other deploy-token
// action targets a project.
var groupLevel = map[access.Action]bool{access.ProxyPull: true, access.ProxyPush: true, access.ProxyDelete: true}

// externallyBlocked are refused to deploy tokens while external authorization is on
// (docs/design.md §5.2).
var externallyBlocked = map[access.Action]bool{access.ReadRepository: true, access.ReadPackage: true, access.WritePackage: true,
	access.DownloadArchive: true, access.ReadRawFile: true}

// legacyProxy is GitLab's rule for group deploy tokens made before the virtual-registry scopes
// (docs/design.md §6.5): read_registry and write_registry together, never one alone, allow
// what write_virtual_registry allows on the dependency proxy.
var legacyProxy = token.Scopes{token.ReadRegistry, token.WriteRegistry}

func granted(scopes token.Scopes, a access.Action) bool {
	if groupLevel[a] && scopes.Has(legacyProxy[0]) && scopes.Has(legacyProxy[1]) {
		return true
	}
	for _, s := range scopes {
		for _, g := range grants[s] {
			if g == a {
				return true
			}
		}
	}
	return false
}

func anyScopeGrants(a access.Action) bool {
	for _, as := range grants {
		for _, g := range as {
			if g == a {
				return true
			}
		}
	}
	return false
}

// reach is one (token owner, resource) pair and whether docs/design.md §2.2 lets the token touch
// it.
type reach struct {
	name    string
	owner   token.Owner
	res     access.Resource
	reaches bool
}

var reaches = []reach{
	{"own project", token.Owner{ProjectID: child.ID}, access.Resource{Project: child}, true},
	{"group token to child project", token.Owner{GroupID: team.ID}, access.Resource{Project: child}, true},
	{"group token to grandchild in subgroup", token.Owner{GroupID: team.ID}, access.Resource{Project: grandchild}, true},
	{"root token to grandchild", token.Owner{GroupID: root.ID}, access.Resource{Project: grandchild}, true},
	{"sibling project", token.Owner{ProjectID: child.ID}, access.Resource{Project: sibling}, false},
	{"parent group's other project", token.Owner{GroupID: team.ID}, access.Resource{Project: rootProj}, false},
	{"sibling group's project", token.Owner{GroupID: team.ID}, access.Resource{Project: otherProj}, false},
	{"subgroup token to parent's project", token.Owner{GroupID: sub.ID}, access.Resource{Project: child}, false},
	{"own group", token.Owner{GroupID: team.ID}, access.Resource{Group: team}, true},
	{"group token to subgroup", token.Owner{GroupID: team.ID}, access.Resource{Group: sub}, true},
	{"group token to parent group", token.Owner{GroupID: team.ID}, access.Resource{Group: root}, false},
	{"group token to sibling group", token.Owner{GroupID: team.ID}, access.Resource{Group: other}, false},
	{"project token to its group", token.Owner{ProjectID: child.ID}, access.Resource{Group: team}, false},
	{"instance", token.Owner{GroupID: root.ID}, access.Resource{}, false},
}

// noon on 2030-06-15 is "now" throughout.
var (
	today    = time.Date(2030, 6, 15, 0, 0, 0, 0, time.UTC)
	noon     = today.Add(12 * time.Hour)
	tomorrow = today.AddDate(0, 0, 1)
	yester   = today.AddDate(0, 0, -1)
)

type state struct {
	name    string
	revoked bool
	expires *time.Time
	active  bool
}

var states = []state{
	{"active", false, nil, true},
	{"revoked", true, nil, false},
	{"expired", false, &yester, false},
	{"expiring today", false, &today, false},
	{"expiring tomorrow", false, &tomorrow, true},
}

func scopeSets() []token.Scopes {
	var out []token.Scopes
	for _, s := range token.DeployScopes {
		out = append(out, token.Scopes{s})
	}
	return append(out, legacyProxy, token.Scopes(append([]token.Scope{}, token.DeployScopes...)))
}

func scopeName(s token.Scopes) string {
	if len(s) == len(token.DeployScopes) {
		return "all_scopes"
	}
	return strings.Join(s.Strings(), "+")
}

// expect applies the independent rule and names the denial a refusal must carry.
func expect(t *token.DeployToken, r reach, a access.Action, st state, external bool) (bool, access.Denial) {
	instance := r.res.Project == nil && r.res.Group == nil
	switch {
	case !st.active:
		return false, access.Unauthenticated
	case !anyScopeGrants(a) && instance:
		return false, access.Unauthenticated // deploy tokens never open the REST API
	case external && externallyBlocked[a]:
		return false, access.Forbidden
	case !r.reaches:
		return false, access.NotFound
	case !anyScopeGrants(a):
		return false, access.Forbidden // never push, delete images or administer what it reaches
	case groupLevel[a] != (r.res.Project == nil):
		return false, access.NotFound // a project has no dependency proxy, a group no images
	case !granted(t.Scopes, a):
		return false, access.Forbidden
	}
	return true, access.Allowed
}

func TestDeployTokenMatrix(t *testing.T) {
	ctx := context.Background()
	for _, external := range []bool{false, true} {
		az := access.New(&fakeRoles{}, func() time.Time { return noon }, access.Options{
			ExternalAuthorization: func() bool { return external },
		})
		for _, scopes := range scopeSets() {
			for _, r := range reaches {
				for _, st := range states {
					tok := &token.DeployToken{ID: 99, Username: "gitlab+deploy-token-99", Scopes: scopes,
						Owner: r.owner, Revoked: st.revoked, ExpiresAt: st.expires}
					p := access.Principal{Kind: access.DeployTokenPrincipal, DeployToken: tok}
					for _, a := range access.Actions() {
						allow, denial := expect(tok, r, a, st, external)
						prefix := "fail/"
						if allow {
							prefix = "ok/"
						}
						name := fmt.Sprintf("%sext=%v/%s/%s/%s/%s", prefix, external, scopeName(scopes), r.name, st.name, a)
						t.Run(name, func(t *testing.T) {
							d, err := az.Authorize(ctx, p, r.res, a)
							if err != nil {
								t.Fatal(err)
							}
							if d.Allow() != allow || d.Denial != denial {
								t.Fatalf("Authorize = %+v, want allow=%v denial=%d", d, allow, denial)
							}
							if d.Reason == "" {
								t.Fatal("decision without a reason")
							}
							if !slices.Contains(access.Causes(), d.Cause) {
								t.Fatalf("decision with cause %q, not one of access.Causes()", d.Cause)
							}
						})
					}
				}
			}
		}
	}
}

func deployPrincipal(owner token.Owner, scopes ...token.Scope) access.Principal {
	return access.Principal{Kind: access.DeployTokenPrincipal, DeployToken: &token.DeployToken{ID: 7, Username: "deployer",
		Scopes: scopes, Owner: owner}}
}

// TestDeployTokenLiterals spells out a few cases by hand, so a mistake shared by the rule in
// expect and the code cannot hide.
func TestDeployTokenLiterals(t *testing.T) {
	ctx := context.Background()
	now := noon
	clock := func() time.Time { return now }
	external := false
	proxyOff := map[int64]bool{other.ID: true}
	az := access.New(&fakeRoles{}, clock, access.Options{
		ExternalAuthorization:  func() bool { return external },
		DependencyProxyEnabled: func(g *namespace.Group) bool { return !proxyOff[g.ID] },
	})
	expiring := func(p access.Principal, at time.Time) access.Principal {
		tok := *p.DeployToken
		tok.ExpiresAt = &at
		p.DeployToken = &tok
		return p
	}
	revoked := func(p access.Principal) access.Principal {
		tok := *p.DeployToken
		tok.Revoked = true
		p.DeployToken = &tok
		return p
	}
	projTok := deployPrincipal(token.Owner{ProjectID: child.ID}, token.ReadRepository, token.ReadRegistry)
	groupTok := deployPrincipal(token.Owner{GroupID: team.ID}, token.WriteRegistry, token.ReadPackageRegistry, token.WriteVirtualRegistry)
	otherTok := deployPrincipal(token.Owner{GroupID: other.ID}, token.ReadVirtualRegistry)
	legacyTok := deployPrincipal(token.Owner{GroupID: team.ID}, token.ReadRegistry, token.WriteRegistry)
	cases := []struct {
		name     string
		p        access.Principal
		res      access.Resource
		action   access.Action
		now      time.Time
		external bool
		allow    bool
		denial   access.Denial
	}{
		{"ok/project token clones its project", projTok, access.Resource{Project: child}, access.ReadRepository, noon, false, true, access.Allowed},
		{"ok/project token pulls", projTok, access.Resource{Project: child}, access.PullImage, noon, false, true, access.Allowed},
		{"fail/project token never pushes git", projTok, access.Resource{Project: child}, access.WriteRepository, noon, false, false, access.Forbidden},
		{"fail/project token without write_registry", projTok, access.Resource{Project: child}, access.PushImage, noon, false, false, access.Forbidden},
		{"fail/project token on sibling", projTok, access.Resource{Project: sibling}, access.ReadRepository, noon, false, false, access.NotFound},
		{"ok/group token pushes to grandchild", groupTok, access.Resource{Project: grandchild}, access.PushImage, noon, false, true, access.Allowed},
		{"fail/write_registry alone does not pull", groupTok, access.Resource{Project: grandchild}, access.PullImage, noon, false, false, access.Forbidden},
		{"ok/group token reads packages below", groupTok, access.Resource{Project: grandchild}, access.ReadPackage, noon, false, true, access.Allowed},
		{"fail/group token never deletes images", groupTok, access.Resource{Project: child}, access.DeleteImage, noon, false, false, access.Forbidden},
		{"fail/group token in parent's project", groupTok, access.Resource{Project: rootProj}, access.ReadPackage, noon, false, false, access.NotFound},
		{"ok/write_virtual_registry deletes cached images in subgroup", groupTok, access.Resource{Group: sub}, access.ProxyDelete, noon, false, true, access.Allowed},
		{"ok/read_registry and write_registry pull through the proxy", legacyTok, access.Resource{Group: sub}, access.ProxyPull, noon, false, true, access.Allowed},
		{"ok/read_registry and write_registry delete cached images", legacyTok, access.Resource{Group: team}, access.ProxyDelete, noon, false, true, access.Allowed},
		{"fail/read_registry alone does not pull through the proxy", deployPrincipal(token.Owner{GroupID: team.ID}, token.ReadRegistry), access.Resource{Group: team}, access.ProxyPull, noon, false, false, access.Forbidden},
		{"fail/write_registry alone does not pull through the proxy", deployPrincipal(token.Owner{GroupID: team.ID}, token.WriteRegistry, token.ReadPackageRegistry), access.Resource{Group: team}, access.ProxyPull, noon, false, false, access.Forbidden},
		{"fail/project token with both registry scopes reaches no proxy", deployPrincipal(token.Owner{ProjectID: child.ID}, token.ReadRegistry, token.WriteRegistry), access.Resource{Group: team}, access.ProxyPull, noon, false, false, access.NotFound},
		{"fail/proxy of the parent group", groupTok, access.Resource{Group: root}, access.ProxyPull, noon, false, false, access.NotFound},
		{"fail/proxy action on a project", deployPrincipal(token.Owner{ProjectID: child.ID}, token.DeployScopes...), access.Resource{Project: child}, access.ProxyPull, noon, false, false, access.NotFound},
		{"fail/image action on a group", deployPrincipal(token.Owner{GroupID: team.ID}, token.DeployScopes...), access.Resource{Group: team}, access.PullImage, noon, false, false, access.NotFound},
		{"fail/proxy disabled for the group", otherTok, access.Resource{Group: other}, access.ProxyPull, noon, false, false, access.Forbidden},
		{"fail/deploy token listing its group's tokens", groupTok, access.Resource{Group: team}, access.ListDeployTokens, noon, false, false, access.Forbidden},
		{"fail/write_package_registry never deletes packages", deployPrincipal(token.Owner{ProjectID: child.ID}, token.DeployScopes...), access.Resource{Project: child}, access.DeletePackage, noon, false, false, access.Forbidden},
		{"fail/deploy token deleting packages elsewhere", deployPrincipal(token.Owner{ProjectID: child.ID}, token.DeployScopes...), access.Resource{Project: sibling}, access.DeletePackage, noon, false, false, access.NotFound},
		{"fail/deploy token viewing a project", projTok, access.Resource{Project: child}, access.ViewNamespace, noon, false, false, access.Forbidden},
		{"fail/deploy token administering", projTok, access.Resource{}, access.AdministerInstance, noon, false, false, access.Unauthenticated},
		{"fail/deploy token on the instance API", groupTok, access.Resource{}, access.ListDeployTokens, noon, false, false, access.Unauthenticated},
		{"fail/push to a project it does not reach", projTok, access.Resource{Project: sibling}, access.WriteRepository, noon, false, false, access.NotFound},
		{"fail/revoked", revoked(projTok), access.Resource{Project: child}, access.ReadRepository, noon, false, false, access.Unauthenticated},
		{"ok/expiring today still works the second before midnight", expiring(projTok, today), access.Resource{Project: child}, access.ReadRepository, today.Add(-time.Second), false, true, access.Allowed},
		{"fail/expiring today stops at midnight", expiring(projTok, today), access.Resource{Project: child}, access.ReadRepository, today, false, false, access.Unauthenticated},
		{"fail/expiring today refused at noon", expiring(projTok, today), access.Resource{Project: child}, access.ReadRepository, noon, false, false, access.Unauthenticated},
		{"ok/expiring tomorrow works at noon", expiring(projTok, tomorrow), access.Resource{Project: child}, access.PullImage, noon, false, true, access.Allowed},
		{"fail/external authorization refuses git", deployPrincipal(token.Owner{ProjectID: child.ID}, token.DeployScopes...), access.Resource{Project: child}, access.ReadRepository, noon, true, false, access.Forbidden},
		{"fail/external authorization refuses package read", groupTok, access.Resource{Project: child}, access.ReadPackage, noon, true, false, access.Forbidden},
		{"fail/external authorization refuses package write", deployPrincipal(token.Owner{GroupID: team.ID}, token.WritePackageRegistry), access.Resource{Project: child}, access.WritePackage, noon, true, false, access.Forbidden},
		{"ok/external authorization leaves image pull", projTok, access.Resource{Project: child}, access.PullImage, noon, true, true, access.Allowed},
		{"ok/external authorization leaves image push", groupTok, access.Resource{Project: child}, access.PushImage, noon, true, true, access.Allowed},
		{"ok/external authorization leaves the proxy", groupTok, access.Resource{Group: team}, access.ProxyPull, noon, true, true, access.Allowed},
		{"fail/nil deploy token", access.Principal{Kind: access.DeployTokenPrincipal}, access.Resource{Project: child}, access.ReadRepository, noon, false, false, access.Unauthenticated},
		{"fail/unknown principal kind", access.Principal{Kind: access.PrincipalKind(42)}, access.Resource{Project: public}, access.ReadRepository, noon, false, false, access.Unauthenticated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now, external = tc.now, tc.external
			d, err := az.Authorize(ctx, tc.p, tc.res, tc.action)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allow() != tc.allow || d.Denial != tc.denial || d.Reason == "" || !slices.Contains(access.Causes(), d.Cause) {
				t.Fatalf("Authorize = %+v, want allow=%v denial=%d with a reason", d, tc.allow, tc.denial)
			}
		})
	}
}

// Users of the human cases, by id.
var (
	admin      = &namespace.User{ID: 1, Username: "admin", Admin: true}
	reporter   = &namespace.User{ID: 2, Username: "reporter"}
	developer  = &namespace.User{ID: 3, Username: "developer"}
	guest      = &namespace.User{ID: 4, Username: "guest"}
	outsider   = &namespace.User{ID: 5, Username: "outsider"}
	blocked    = &namespace.User{ID: 6, Username: "blocked", Blocked: true}
	maintainer = &namespace.User{ID: 7, Username: "maintainer"}
	owner      = &namespace.User{ID: 8, Username: "owner"}
)

func humanRoles() *fakeRoles {
	return &fakeRoles{
		project: map[[2]int64]namespace.Role{
			{reporter.ID, child.ID}:   namespace.Reporter,
			{guest.ID, child.ID}:      namespace.Guest,
			{maintainer.ID, child.ID}: namespace.Maintainer,
		},
		group: map[[2]int64]namespace.Role{
			{developer.ID, team.ID}:  namespace.Developer, // inherited by child, sub and grandchild
			{blocked.ID, team.ID}:    namespace.Owner,
			{maintainer.ID, team.ID}: namespace.Maintainer,
			{owner.ID, team.ID}:      namespace.Owner,
		},
	}
}

func user(u *namespace.User) access.Principal {
	return access.Principal{Kind: access.UserPrincipal, User: u}
}

func withPAT(u *namespace.User, expires *time.Time, revoked bool, scopes ...token.Scope) access.Principal {
	return access.Principal{Kind: access.UserPrincipal, User: u,
		PersonalToken: &token.PersonalToken{ID: 1, UserID: u.ID, Scopes: scopes, ExpiresAt: expires, Revoked: revoked}}
}

func TestHumans(t *testing.T) {
	ctx := context.Background()
	az := access.New(humanRoles(), func() time.Time { return noon }, access.Options{ExternalAuthorization: func() bool { return true }})
	anon := access.AnonymousPrincipal
	P := func(p *namespace.Project) access.Resource { return access.Resource{Project: p} }
	G := func(g *namespace.Group) access.Resource { return access.Resource{Group: g} }
	cases := []struct {
		name   string
		p      access.Principal
		res    access.Resource
		action access.Action
		allow  bool
		denial access.Denial
	}{
		{"ok/admin pushes to any private project", user(admin), P(otherProj), access.WriteRepository, true, access.Allowed},
		{"ok/admin deletes images", user(admin), P(grandchild), access.DeleteImage, true, access.Allowed},
		{"ok/admin administers", user(admin), access.Resource{}, access.AdministerInstance, true, access.Allowed},
		{"ok/admin manages group tokens", user(admin), G(other), access.ManageDeployTokens, true, access.Allowed},
		{"fail/non-admin administers", user(owner), access.Resource{}, access.AdministerInstance, false, access.Forbidden},
		{"ok/any user views users", user(outsider), access.Resource{}, access.ViewUsers, true, access.Allowed},
		{"ok/a PAT of any scope views users", withPAT(outsider, nil, false, token.ReadRegistry), access.Resource{}, access.ViewUsers, true, access.Allowed},
		{"fail/anonymous views users", anon, access.Resource{}, access.ViewUsers, false, access.Unauthenticated},

		{"ok/reporter clones", user(reporter), P(child), access.ReadRepository, true, access.Allowed},
		{"ok/reporter pulls", user(reporter), P(child), access.PullImage, true, access.Allowed},
		{"ok/reporter downloads packages", user(reporter), P(child), access.ReadPackage, true, access.Allowed},
		{"fail/reporter cannot push", user(reporter), P(child), access.WriteRepository, false, access.Forbidden},
		{"fail/reporter cannot push images", user(reporter), P(child), access.PushImage, false, access.Forbidden},
		{"fail/reporter cannot publish", user(reporter), P(child), access.WritePackage, false, access.Forbidden},
		{"fail/reporter cannot manage tokens", user(reporter), P(child), access.ManageDeployTokens, false, access.Forbidden},
		{"fail/reporter of child does not see sibling", user(reporter), P(sibling), access.ReadRepository, false, access.NotFound},

		{"ok/developer pushes through group inheritance", user(developer), P(child), access.WriteRepository, true, access.Allowed},
		{"ok/developer pushes to grandchild", user(developer), P(grandchild), access.WriteRepository, true, access.Allowed},
		{"ok/developer pushes images", user(developer), P(grandchild), access.PushImage, true, access.Allowed},
		{"ok/developer publishes packages", user(developer), P(sibling), access.WritePackage, true, access.Allowed},
		{"fail/developer cannot delete images", user(developer), P(child), access.DeleteImage, false, access.Forbidden},
		{"fail/developer cannot manage tokens", user(developer), P(child), access.ManageDeployTokens, false, access.Forbidden},
		{"fail/developer of team does not reach the parent's project", user(developer), P(rootProj), access.ReadRepository, false, access.NotFound},
		{"ok/developer proxy push", user(developer), G(sub), access.ProxyPush, true, access.Allowed},
		{"fail/developer proxy delete", user(developer), G(team), access.ProxyDelete, false, access.Forbidden},

		{"ok/guest views", user(guest), P(child), access.ViewNamespace, true, access.Allowed},
		{"fail/guest cannot clone private", user(guest), P(child), access.ReadRepository, false, access.Forbidden},
		{"fail/guest cannot push", user(guest), P(child), access.WriteRepository, false, access.Forbidden},

		{"ok/maintainer manages project tokens", user(maintainer), P(child), access.ManageDeployTokens, true, access.Allowed},
		{"ok/maintainer deletes images", user(maintainer), P(grandchild), access.DeleteImage, true, access.Allowed},
		{"ok/maintainer lists group tokens", user(maintainer), G(team), access.ListDeployTokens, true, access.Allowed},
		{"fail/maintainer cannot manage group tokens", user(maintainer), G(team), access.ManageDeployTokens, false, access.Forbidden},
		{"ok/maintainer deletes packages", user(maintainer), P(child), access.DeletePackage, true, access.Allowed},
		{"ok/maintainer deletes packages through group inheritance", user(maintainer), P(grandchild), access.DeletePackage, true, access.Allowed},
		{"ok/admin deletes packages", user(admin), P(otherProj), access.DeletePackage, true, access.Allowed},
		{"fail/developer cannot delete packages", user(developer), P(child), access.DeletePackage, false, access.Forbidden},
		{"fail/reporter cannot delete packages", user(reporter), P(child), access.DeletePackage, false, access.Forbidden},
		{"fail/non-member cannot delete packages", user(outsider), P(child), access.DeletePackage, false, access.NotFound},
		{"fail/non-member cannot delete public packages", user(outsider), P(public), access.DeletePackage, false, access.Forbidden},
		{"fail/anonymous cannot delete public packages", anon, P(public), access.DeletePackage, false, access.Unauthenticated},
		{"fail/read_api PAT cannot delete packages", withPAT(maintainer, nil, false, token.ReadAPI), P(child), access.DeletePackage, false, access.Forbidden},
		{"fail/write_package_registry PAT cannot delete packages", withPAT(maintainer, nil, false, token.WritePackageRegistry), P(child), access.DeletePackage, false, access.Forbidden},
		{"ok/api PAT deletes packages", withPAT(maintainer, nil, false, token.API), P(child), access.DeletePackage, true, access.Allowed},
		{"ok/owner manages group tokens", user(owner), G(team), access.ManageDeployTokens, true, access.Allowed},
		{"ok/owner manages subgroup tokens", user(owner), G(sub), access.ManageDeployTokens, true, access.Allowed},
		{"fail/owner of team not of root", user(owner), G(root), access.ManageDeployTokens, false, access.NotFound},

		{"fail/non-member private clone", user(outsider), P(child), access.ReadRepository, false, access.NotFound},
		{"fail/non-member private push", user(outsider), P(child), access.WriteRepository, false, access.NotFound},
		{"fail/non-member group", user(outsider), G(team), access.ViewNamespace, false, access.NotFound},
		{"ok/internal readable by any signed-in user", user(outsider), P(internal), access.ReadRepository, true, access.Allowed},
		{"ok/internal images pullable by any signed-in user", user(outsider), P(internal), access.PullImage, true, access.Allowed},
		{"fail/internal not writable by non-member", user(outsider), P(internal), access.WriteRepository, false, access.Forbidden},
		{"ok/public readable by non-member", user(outsider), P(public), access.ReadPackage, true, access.Allowed},
		{"fail/public not writable by non-member", user(outsider), P(public), access.PushImage, false, access.Forbidden},

		{"ok/anonymous clones public", anon, P(public), access.ReadRepository, true, access.Allowed},
		{"ok/anonymous pulls public", anon, P(public), access.PullImage, true, access.Allowed},
		{"ok/anonymous views public", anon, P(public), access.ViewNamespace, true, access.Allowed},
		{"fail/anonymous push to public", anon, P(public), access.WriteRepository, false, access.Unauthenticated},
		{"fail/anonymous image push to public", anon, P(public), access.PushImage, false, access.Unauthenticated},
		{"fail/anonymous on internal", anon, P(internal), access.ReadRepository, false, access.Unauthenticated},
		{"fail/anonymous on private", anon, P(child), access.ReadRepository, false, access.Unauthenticated},
		{"fail/anonymous on group", anon, G(team), access.ProxyPull, false, access.Unauthenticated},

		{"fail/blocked owner", user(blocked), P(child), access.ReadRepository, false, access.Unauthenticated},
		{"fail/blocked on public", user(blocked), P(public), access.ReadRepository, false, access.Unauthenticated},
		{"fail/user principal without user", access.Principal{Kind: access.UserPrincipal}, P(public), access.ReadRepository, false, access.Unauthenticated},

		{"ok/read_repository PAT clones", withPAT(developer, nil, false, token.ReadRepository), P(child), access.ReadRepository, true, access.Allowed},
		{"fail/read_repository PAT cannot push", withPAT(developer, nil, false, token.ReadRepository), P(child), access.WriteRepository, false, access.Forbidden},
		{"fail/read_repository PAT hides a private project", withPAT(outsider, nil, false, token.ReadRepository), P(child), access.WriteRepository, false, access.NotFound},
		{"ok/write_repository PAT pushes", withPAT(developer, nil, false, token.WriteRepository), P(child), access.WriteRepository, true, access.Allowed},
		{"ok/api PAT pushes", withPAT(developer, nil, false, token.API), P(child), access.WriteRepository, true, access.Allowed},
		{"ok/api PAT publishes", withPAT(developer, nil, false, token.API), P(child), access.WritePackage, true, access.Allowed},
		{"fail/api PAT does not raise the role", withPAT(reporter, nil, false, token.API), P(child), access.WriteRepository, false, access.Forbidden},
		{"fail/read_registry PAT cannot clone", withPAT(developer, nil, false, token.ReadRegistry), P(child), access.ReadRepository, false, access.Forbidden},
		{"ok/read_api PAT downloads packages", withPAT(reporter, nil, false, token.ReadAPI), P(child), access.ReadPackage, true, access.Allowed},
		{"fail/read_api PAT cannot manage tokens", withPAT(maintainer, nil, false, token.ReadAPI), P(child), access.ManageDeployTokens, false, access.Forbidden},
		{"fail/PAT scope limits an admin", withPAT(admin, nil, false, token.ReadRepository), P(child), access.WriteRepository, false, access.Forbidden},
		{"fail/revoked PAT", withPAT(developer, nil, true, token.API), P(child), access.ReadRepository, false, access.Unauthenticated},
		{"fail/expired PAT", withPAT(developer, &today, false, token.API), P(child), access.ReadRepository, false, access.Unauthenticated},
		{"ok/PAT expiring tomorrow", withPAT(developer, &tomorrow, false, token.API), P(child), access.ReadRepository, true, access.Allowed},

		// External authorization (on for this Authorizer) does not block humans here: their
		// check with the external service happens elsewhere.
		{"ok/humans unaffected by the deploy-token rule", user(reporter), P(child), access.ReadPackage, true, access.Allowed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := az.Authorize(ctx, tc.p, tc.res, tc.action)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allow() != tc.allow || d.Denial != tc.denial || d.Reason == "" || !slices.Contains(access.Causes(), d.Cause) {
				t.Fatalf("Authorize = %+v, want allow=%v denial=%d with a reason", d, tc.allow, tc.denial)
			}
		})
	}
}

func TestCouldNotDecide(t *testing.T) {
	down := errors.New("database down")
	az := access.New(&fakeRoles{err: down}, func() time.Time { return noon }, access.Options{})
	for _, res := range []access.Resource{{Project: child}, {Group: team}} {
		d, err := az.Authorize(context.Background(), user(developer), res, access.ReadRepository)
		if !errors.Is(err, down) || d.Allow() {
			t.Errorf("Authorize with a failing store = %+v, %v; want the store error and no grant", d, err)
		}
	}
	// Anonymous and deploy-token decisions need no store.
	d, err := az.Authorize(context.Background(), access.AnonymousPrincipal, access.Resource{Project: public}, access.ReadRepository)
	if err != nil || !d.Allow() {
		t.Errorf("anonymous public read with a failing store = %+v, %v", d, err)
	}
}

func TestPrincipalName(t *testing.T) {
	cases := map[string]access.Principal{
		"developer":              user(developer),
		"gitlab+deploy-token-99": {Kind: access.DeployTokenPrincipal, DeployToken: &token.DeployToken{ID: 99, Username: "gitlab+deploy-token-99"}},
		"anonymous":              access.AnonymousPrincipal,
	}
	for want, p := range cases {
		if got := p.Name(); got != want {
			t.Errorf("Name() = %q, want %q", got, want)
		}
	}
}

// TestHumansDependencyProxy: a group's disabled proxy refuses humans too (administrators
// included), and only group owners administer the proxy.
func TestHumansDependencyProxy(t *testing.T) {
	ctx := context.Background()
	az := access.New(humanRoles(), func() time.Time { return noon }, access.Options{
		DependencyProxyEnabled: func(g *namespace.Group) bool { return g.ID != sub.ID },
	})
	G := func(g *namespace.Group) access.Resource { return access.Resource{Group: g} }
	cases := []struct {
		name   string
		p      access.Principal
		res    access.Resource
		action access.Action
		allow  bool
		denial access.Denial
	}{
		{"ok/developer pulls through an enabled proxy", user(developer), G(team), access.ProxyPull, true, access.Allowed},
		{"fail/developer through a disabled proxy", user(developer), G(sub), access.ProxyPull, false, access.Forbidden},
		{"fail/admin through a disabled proxy", user(admin), G(sub), access.ProxyPull, false, access.Forbidden},
		{"fail/maintainer deletes through a disabled proxy", user(maintainer), G(sub), access.ProxyDelete, false, access.Forbidden},
		{"fail/non-member learns nothing of a disabled proxy", user(outsider), G(sub), access.ProxyPull, false, access.NotFound},
		{"ok/owner administers the proxy", user(owner), G(sub), access.AdministerDependencyProxy, true, access.Allowed},
		{"ok/admin administers the proxy", user(admin), G(other), access.AdministerDependencyProxy, true, access.Allowed},
		{"fail/maintainer cannot administer the proxy", user(maintainer), G(team), access.AdministerDependencyProxy, false, access.Forbidden},
		{"fail/read_api PAT cannot administer the proxy", withPAT(owner, nil, false, token.ReadAPI), G(team), access.AdministerDependencyProxy, false, access.Forbidden},
		{"fail/deploy token cannot administer the proxy", deployPrincipal(token.Owner{GroupID: team.ID}, token.DeployScopes...), G(team), access.AdministerDependencyProxy, false, access.Forbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := az.Authorize(ctx, tc.p, tc.res, tc.action)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allow() != tc.allow || d.Denial != tc.denial || d.Reason == "" || !slices.Contains(access.Causes(), d.Cause) {
				t.Fatalf("Authorize = %+v, want allow=%v denial=%d with a reason", d, tc.allow, tc.denial)
			}
		})
	}
}

// fakeExternal is an in-memory external authorization service: allowed[user][label].
type fakeExternal struct {
	labels   map[int64]string // project → label; others get "default"
	allowed  map[string]map[string]bool
	err      error // the service failed
	labelErr error // the store failed
	asked    int
}

func (f *fakeExternal) ExternalLabel(_ context.Context, p *namespace.Project) (string, bool, error) {
	if f.labelErr != nil {
		return "", false, f.labelErr
	}
	if l, ok := f.labels[p.ID]; ok {
		return l, true, nil
	}
	return "default", true, nil
}

func (f *fakeExternal) Authorize(_ context.Context, u *namespace.User, label string) (bool, string, error) {
	f.asked++
	if f.err != nil {
		return false, "", f.err
	}
	if f.allowed[u.Username][label] {
		return true, "", nil
	}
	return false, "not cleared", nil
}

// TestExternalHumans: while external authorization is on, people are checked with the service
// on projects (administrators excepted); a service failure denies; off, nothing is asked.
func TestExternalHumans(t *testing.T) {
	ctx := context.Background()
	ext := &fakeExternal{labels: map[int64]string{grandchild.ID: "secret"},
		allowed: map[string]map[string]bool{"developer": {"default": true}, "reporter": {"default": true}}}
	on := true
	az := access.New(humanRoles(), func() time.Time { return noon }, access.Options{
		ExternalAuthorization: func() bool { return on }, External: ext})
	P := func(p *namespace.Project) access.Resource { return access.Resource{Project: p} }
	cases := []struct {
		name    string
		on      bool
		p       access.Principal
		res     access.Resource
		action  access.Action
		svcErr  error
		lblErr  error
		allow   bool
		denial  access.Denial
		asks    bool
		wantErr bool
	}{
		{"ok/developer cleared for the default label", true, user(developer), P(child), access.WriteRepository, nil, nil, true, access.Allowed, true, false},
		{"ok/reporter cleared, pulls images", true, user(reporter), P(child), access.PullImage, nil, nil, true, access.Allowed, true, false},
		{"fail/developer not cleared for the project's own label", true, user(developer), P(grandchild), access.ReadRepository, nil, nil, false, access.Forbidden, true, false},
		{"fail/maintainer not cleared at all", true, user(maintainer), P(child), access.ReadPackage, nil, nil, false, access.Forbidden, true, false},
		{"fail/service failure denies", true, user(developer), P(child), access.ReadRepository, errors.New("timeout"), nil, false, access.Forbidden, true, false},
		{"fail/label store failure is an error", true, user(developer), P(child), access.ReadRepository, nil, errors.New("db down"), false, access.Allowed, false, true},
		{"ok/administrator not checked", true, user(admin), P(grandchild), access.WriteRepository, nil, nil, true, access.Allowed, false, false},
		{"fail/role refusal is not asked about", true, user(outsider), P(child), access.ReadRepository, nil, nil, false, access.NotFound, false, false},
		{"ok/groups are not classified", true, user(developer), access.Resource{Group: team}, access.ProxyPull, nil, nil, true, access.Allowed, false, false},
		{"fail/anonymous on a public project", true, access.AnonymousPrincipal, P(public), access.ReadRepository, nil, nil, false, access.Unauthenticated, false, false},
		{"ok/off: not asked", false, user(maintainer), P(child), access.ReadPackage, nil, nil, true, access.Allowed, false, false},
		{"ok/off: anonymous reads public", false, access.AnonymousPrincipal, P(public), access.ReadRepository, nil, nil, true, access.Allowed, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			on, ext.err, ext.labelErr, ext.asked = tc.on, tc.svcErr, tc.lblErr, 0
			d, err := az.Authorize(ctx, tc.p, tc.res, tc.action)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Authorize error = %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				if d.Allow() {
					t.Fatal("allowed although the decision failed")
				}
				return
			}
			if d.Allow() != tc.allow || d.Denial != tc.denial || d.Reason == "" || !slices.Contains(access.Causes(), d.Cause) {
				t.Fatalf("Authorize = %+v, want allow=%v denial=%d with a reason", d, tc.allow, tc.denial)
			}
			if (ext.asked > 0) != tc.asks {
				t.Fatalf("service asked %d times, want asked=%v", ext.asked, tc.asks)
			}
			if !d.Allow() && ext.asked > 0 && !strings.Contains(d.Reason, "external authorization") {
				t.Fatalf("reason %q does not name external authorization", d.Reason)
			}
		})
	}
}

// TestExternalDeployTokenReasons: the refusal says why and for what.
func TestExternalDeployTokenReasons(t *testing.T) {
	az := access.New(&fakeRoles{}, func() time.Time { return noon }, access.Options{ExternalAuthorization: func() bool { return true }})
	p := deployPrincipal(token.Owner{ProjectID: child.ID}, token.DeployScopes...)
	for action, want := range map[access.Action]string{
		access.ReadRepository: "external authorization is enabled: deploy tokens cannot be used for Git",
		access.ReadPackage:    "external authorization is enabled: deploy tokens cannot be used for the package registry",
		access.WritePackage:   "external authorization is enabled: deploy tokens cannot be used for the package registry",
	} {
		d, err := az.Authorize(context.Background(), p, access.Resource{Project: child}, action)
		if err != nil || d.Allow() || d.Reason != want {
			t.Errorf("%s: %+v, %v; want reason %q", action, d, err, want)
		}
	}
}

// TestHumansCIVariables: project CI/CD variables are maintainers', group variables owners' (as
// GitLab's admin_cicd_variables); changing them needs the api scope, reading api or read_api.
func TestHumansCIVariables(t *testing.T) {
	ctx := context.Background()
	az := access.New(humanRoles(), func() time.Time { return noon }, access.Options{})
	P := access.Resource{Project: child}
	G := access.Resource{Group: team}
	cases := []struct {
		name   string
		p      access.Principal
		res    access.Resource
		action access.Action
		allow  bool
		denial access.Denial
	}{
		{"ok/project maintainer reads", user(maintainer), P, access.ViewCIVariables, true, access.Allowed},
		{"ok/project maintainer changes", user(maintainer), P, access.AdministerCIVariables, true, access.Allowed},
		{"ok/group owner changes the project's", user(owner), P, access.AdministerCIVariables, true, access.Allowed},
		{"fail/developer cannot read project variables", user(developer), P, access.ViewCIVariables, false, access.Forbidden},
		{"fail/reporter cannot change project variables", user(reporter), P, access.AdministerCIVariables, false, access.Forbidden},
		{"fail/outsider learns nothing", user(outsider), P, access.ViewCIVariables, false, access.NotFound},
		{"ok/group owner reads", user(owner), G, access.ViewCIVariables, true, access.Allowed},
		{"ok/group owner changes", user(owner), G, access.AdministerCIVariables, true, access.Allowed},
		{"fail/group maintainer cannot read group variables", user(maintainer), G, access.ViewCIVariables, false, access.Forbidden},
		{"fail/group maintainer cannot change group variables", user(maintainer), G, access.AdministerCIVariables, false, access.Forbidden},
		{"ok/admin changes", user(admin), G, access.AdministerCIVariables, true, access.Allowed},
		{"ok/read_api PAT reads", withPAT(maintainer, nil, false, token.ReadAPI), P, access.ViewCIVariables, true, access.Allowed},
		{"fail/read_api PAT cannot change", withPAT(maintainer, nil, false, token.ReadAPI), P, access.AdministerCIVariables, false, access.Forbidden},
		{"fail/deploy token cannot read", deployPrincipal(token.Owner{ProjectID: child.ID}, token.DeployScopes...), P, access.ViewCIVariables, false, access.Forbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := az.Authorize(ctx, tc.p, tc.res, tc.action)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allow() != tc.allow || d.Denial != tc.denial {
				t.Fatalf("Authorize = %+v, want allow=%v denial=%d", d, tc.allow, tc.denial)
			}
		})
	}
}
