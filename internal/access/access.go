// Package access makes Gatehouse's one authorization decision: given who is asking (Principal),
// what they touch (Resource) and what they want to do (Action), allow or deny with a reason. Every
// protocol asks here; nothing else decides. Deny by default.
package access

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// PrincipalKind tags who is asking. A deploy token is never a user (docs/design.md §1.4).
type PrincipalKind int

// The kinds of principal.
const (
	Anonymous PrincipalKind = iota
	UserPrincipal
	DeployTokenPrincipal
)

// Principal is an authenticated (or anonymous) requester.
type Principal struct {
	Kind PrincipalKind
	// User is set for UserPrincipal.
	User *namespace.User
	// PersonalToken is set when a user authenticated with a personal access token; its scopes
	// then limit what the user may do. Nil for a password login.
	PersonalToken *token.PersonalToken
	// DeployToken is set for DeployTokenPrincipal.
	DeployToken *token.DeployToken
	// ClientIP is the requester's address, for deploy tokens' IP allow-lists.
	ClientIP netip.Addr
}

// AnonymousPrincipal is the requester without credentials.
var AnonymousPrincipal = Principal{Kind: Anonymous}

// Name describes the principal for audit and logs; never a secret.
func (p Principal) Name() string {
	switch p.Kind {
	case UserPrincipal:
		return p.User.Username
	case DeployTokenPrincipal:
		return p.DeployToken.Username
	}
	return "anonymous"
}

// Action is something a principal wants to do to a resource.
type Action string

// Actions on projects (repository, registry, packages) and on namespaces (administration).
const (
	ReadRepository  Action = "read_repository"  // git clone/fetch
	WriteRepository Action = "write_repository" // git push
	PullImage       Action = "pull_image"
	PushImage       Action = "push_image"
	DeleteImage     Action = "delete_image"
	ReadPackage     Action = "read_package"
	WritePackage    Action = "write_package"
	// DeletePackage deletes packages and package files through the REST API (GitLab's
	// destroy_package: maintainer+); deploy tokens never may.
	DeletePackage Action = "delete_package"
	// Dependency proxy (group resources).
	ProxyPull   Action = "proxy_pull"
	ProxyPush   Action = "proxy_push"
	ProxyDelete Action = "proxy_delete"
	// REST API.
	ViewNamespace      Action = "view"                 // see a project or group
	ListDeployTokens   Action = "list_deploy_tokens"   // project: maintainer+; group: maintainer+
	ManageDeployTokens Action = "manage_deploy_tokens" // project: maintainer+; group: owner
	ManageMembers      Action = "manage_members"       // maintainer+
	CreateInNamespace  Action = "create_in_namespace"  // create subgroups/projects: maintainer+ (group)
	AdministerInstance Action = "administer_instance"  // admins only
	// ReadCIVariables reads a project's predefined CI variables, secrets included: admins (the
	// stand-in for a runner) only.
	ReadCIVariables Action = "read_ci_variables"
	// ReadAuditEvents lists a project's (maintainer+) or group's (owner) audit events.
	ReadAuditEvents Action = "read_audit_events"
	// ReadOwnAuditEvents lists the requester's own events of a project or group (developer+);
	// with ReadAuditEvents too, everyone's (GitLab filters the others by author).
	ReadOwnAuditEvents Action = "read_own_audit_events"
	// ReadCode reads a repository through the REST API (branches, tags, tree, archive): GitLab's
	// download_code with the api or read_api scope.
	ReadCode Action = "read_code"
	// ReadRepositoryFiles reads files through the REST API (repository files): ReadCode, plus
	// the read_repository scope, which GitLab lets reach these GET endpoints too.
	ReadRepositoryFiles Action = "read_repository_files"
	// AdministerDependencyProxy turns a group's dependency proxy on or off and purges its cache
	// (group owners, as GitLab's admin_dependency_proxy).
	AdministerDependencyProxy Action = "administer_dependency_proxy"
	// EditNamespace edits a project's or group's settings (GitLab's admin_project: project
	// maintainer+; admin_group: group owner).
	EditNamespace Action = "edit_namespace"
	// OwnNamespace deletes or transfers a project or group, and renames a project or changes its
	// visibility (GitLab's remove_project, change_namespace, rename_project,
	// change_visibility_level, admin_group): owners only; a maintainer may not.
	OwnNamespace Action = "own_namespace"
	// ViewCIVariables reads a project's (maintainer+) or group's (owner) CI/CD variables, values
	// included; AdministerCIVariables creates, changes and deletes them (GitLab's
	// admin_cicd_variables: the same roles, and the api scope).
	ViewCIVariables       Action = "view_cicd_variables"
	AdministerCIVariables Action = "admin_cicd_variables"
	// ViewUsers lists and reads users' public profiles (the instance's): any signed-in user, with
	// a personal access token of any scope (docs/design.md §1.2).
	ViewUsers Action = "view_users"
	// DownloadArchive downloads an archive of a ref (/-/archive/<ref>/<name>.<format>) and
	// ReadRawFile one file at a ref (/-/raw/<ref>/<path>), GitLab's web routes. They reveal what
	// a clone does, so read_repository grants them to deploy tokens too (docs/design.md §6.2.1).
	DownloadArchive Action = "download_archive"
	ReadRawFile     Action = "read_raw_file"
)

// actions lists every Action constant above; TestActionsListsEveryConstant keeps it complete.
var actions = []Action{ReadRepository, WriteRepository, PullImage, PushImage, DeleteImage, ReadPackage,
	WritePackage, DeletePackage, ProxyPull, ProxyPush, ProxyDelete, ViewNamespace, ListDeployTokens,
	ManageDeployTokens, ManageMembers, CreateInNamespace, AdministerInstance, ReadCIVariables,
	ReadAuditEvents, AdministerDependencyProxy, EditNamespace, OwnNamespace, ViewUsers, ReadOwnAuditEvents,
	ReadCode, ReadRepositoryFiles, ViewCIVariables, AdministerCIVariables, DownloadArchive, ReadRawFile}

// Actions returns every action, in declaration order, so tests can range over all of them and a
// new action is covered without being named again. The slice is the caller's.
func Actions() []Action { return append([]Action(nil), actions...) }

// Resource is what an action targets: a project, a group, or the instance (both nil).
type Resource struct {
	Project *namespace.Project
	Group   *namespace.Group
}

// Denial says how a request is answered: allowed, or how the refusal must be answered.
type Denial int

// Kinds of refusal, which the protocol maps to 401 + challenge, 404, or 403, and Allowed. The zero
// Denial refuses (Unauthenticated), so a Decision nobody filled in denies.
const (
	Unauthenticated Denial = iota // no or unusable credentials: 401 with the protocol's challenge
	NotFound                      // the principal may not know the resource exists: 404
	Forbidden                     // the resource is visible but the action is not allowed: 403
	Allowed                       // not a refusal: the request may go ahead
)

// Decision is the answer to one authorization request. It has one field for the outcome, so it
// cannot say both "not allowed" and "denial: Allowed".
type Decision struct {
	Denial Denial
	// Reason explains the decision in words safe to show the requester and to log.
	Reason string
	// Cause is the rule that decided, one of a fixed set (Causes), so decisions can be counted
	// by why without the free text of Reason.
	Cause Cause
}

// Cause names the rule behind a decision.
type Cause string

// The causes of decisions, allowed and refused.
const (
	CauseUnknownPrincipal Cause = "unknown_principal" // no usable principal
	CauseAuthRequired     Cause = "authentication_required"
	CauseRevoked          Cause = "revoked"  // deploy token revoked
	CauseExpired          Cause = "expired"  // deploy token expired
	CauseInactive         Cause = "inactive" // personal access token revoked or expired
	CauseBlocked          Cause = "blocked"  // user blocked
	CauseIPNotAllowed     Cause = "ip_not_allowed"
	CauseReach            Cause = "reach" // out of a deploy token's reach
	CauseScope            Cause = "scope" // a token's scopes (or no scope at all) decide
	CauseRole             Cause = "role"
	CauseNotMember        Cause = "not_member"
	CauseVisibility       Cause = "visibility" // a public or internal project's reads
	CauseAdmin            Cause = "admin"
	CauseSignedIn         Cause = "signed_in"
	CauseExternal         Cause = "external_authorization"
	CauseProxyDisabled    Cause = "proxy_disabled"
)

// Causes lists every Cause, so a consumer can range over them.
func Causes() []Cause {
	return []Cause{CauseUnknownPrincipal, CauseAuthRequired, CauseRevoked, CauseExpired, CauseInactive, CauseBlocked,
		CauseIPNotAllowed, CauseReach, CauseScope, CauseRole, CauseNotMember, CauseVisibility, CauseAdmin, CauseSignedIn,
		CauseExternal, CauseProxyDisabled}
}

// Allow reports whether the request may go ahead.
func (d Decision) Allow() bool { return d.Denial == Allowed }

func allow(c Cause, reason string) Decision {
	return Decision{Denial: Allowed, Reason: reason, Cause: c}
}

func deny(d Denial, c Cause, format string, args ...any) Decision {
	return Decision{Denial: d, Reason: fmt.Sprintf(format, args...), Cause: c}
}

// Roles answers membership questions; *namespace.Service implements it.
type Roles interface {
	ProjectRole(ctx context.Context, userID int64, p *namespace.Project) (namespace.Role, error)
	GroupRole(ctx context.Context, userID int64, g *namespace.Group) (namespace.Role, error)
}

// Options are instance settings that change decisions.
type Options struct {
	// ExternalAuthorization, when on, refuses deploy tokens for Git and packages
	// (docs/design.md §5.2).
	ExternalAuthorization func() bool
	// External, when set, is the external authorization service humans are checked with
	// while ExternalAuthorization is on.
	External ExternalAuthorizer
	// DependencyProxyEnabled reports whether a group's dependency proxy is on; nil means on.
	DependencyProxyEnabled func(g *namespace.Group) bool
}

// Authorizer makes decisions.
type Authorizer struct {
	roles Roles
	now   func() time.Time
	opts  Options
}

// New returns an Authorizer; now may be nil for time.Now.
func New(roles Roles, now func() time.Time, opts Options) *Authorizer {
	if now == nil {
		now = time.Now
	}
	return &Authorizer{roles: roles, now: now, opts: opts}
}

// Authorize decides whether p may do action on r. The error is only for "could not decide"
// (for example the store is down); a refusal is a Decision with Allow false.
func (a *Authorizer) Authorize(ctx context.Context, p Principal, r Resource, action Action) (Decision, error) {
	switch p.Kind {
	case DeployTokenPrincipal:
		return a.deployToken(p.DeployToken, p.ClientIP, r, action), nil
	case UserPrincipal:
		d, err := a.user(ctx, p, r, action)
		if err == nil && d.Allow() && proxyAction(action) && r.Group != nil && r.Project == nil && !a.proxyEnabled(r.Group) {
			// A disabled proxy is disabled for everyone, administrators included.
			return deny(Forbidden, CauseProxyDisabled, "the dependency proxy is disabled for this group"), nil
		}
		if err != nil {
			return d, err
		}
		return a.external(ctx, p.User, r, d)
	case Anonymous:
		d := a.anonymous(r, action)
		if d.Allow() {
			// The external service classifies people; an anonymous request has none to ask about.
			if _, ok, err := a.externalLabel(ctx, r); err != nil || ok {
				return deny(Unauthenticated, CauseExternal, "external authorization is enabled: sign in"), err
			}
		}
		return d, nil
	}
	return deny(Unauthenticated, CauseUnknownPrincipal, "unknown principal"), nil
}

// scopeSet is one way for a deploy token to hold an action: it needs every scope of the set.
type scopeSet []token.Scope

// String names the set for a decision's reason: "the read_registry and write_registry scopes".
func (s scopeSet) String() string {
	names := make([]string, len(s))
	for i, x := range s {
		names[i] = string(x)
	}
	if len(s) == 1 {
		return "the " + names[0] + " scope"
	}
	return "the " + strings.Join(names, " and ") + " scopes"
}

// legacyProxyScopes grant the dependency proxy to a group deploy token made before the
// virtual-registry scopes, as GitLab still does: both registry scopes together, never one alone
// (docs/design.md §6.5). They grant what write_virtual_registry does.
var legacyProxyScopes = scopeSet{token.ReadRegistry, token.WriteRegistry}

// deployScopeFor maps each action a deploy token may ever do to the scope sets that grant it,
// any one of them; the first names what a refusal says is lacking.
var deployScopeFor = map[Action][]scopeSet{
	ReadRepository:  {{token.ReadRepository}},
	DownloadArchive: {{token.ReadRepository}},
	ReadRawFile:     {{token.ReadRepository}},
	PullImage:       {{token.ReadRegistry}},
	PushImage:       {{token.WriteRegistry}},
	ReadPackage:     {{token.ReadPackageRegistry}},
	WritePackage:    {{token.WritePackageRegistry}},
	ProxyPull:       {{token.ReadVirtualRegistry}, {token.WriteVirtualRegistry}, legacyProxyScopes},
	ProxyPush:       {{token.WriteVirtualRegistry}, legacyProxyScopes},
	ProxyDelete:     {{token.WriteVirtualRegistry}, legacyProxyScopes},
}

// grantReasons are the reasons of the grants of deployScopeFor, by action and set, written
// once rather than on every decision.
var grantReasons = func() map[Action][]string {
	out := make(map[Action][]string, len(deployScopeFor))
	for a, sets := range deployScopeFor {
		for _, set := range sets {
			out[a] = append(out[a], "deploy token has "+set.String())
		}
	}
	return out
}()

// grantingSet returns the index of the first of sets whose every scope is in has, or false.
func grantingSet(has token.Scopes, sets []scopeSet) (int, bool) {
	for i, set := range sets {
		if !slices.ContainsFunc(set, func(s token.Scope) bool { return !has.Has(s) }) {
			return i, true
		}
	}
	return 0, false
}

func (a *Authorizer) deployToken(t *token.DeployToken, ip netip.Addr, r Resource, action Action) Decision {
	now := a.now()
	if t == nil {
		return deny(Unauthenticated, CauseUnknownPrincipal, "no deploy token")
	}
	if t.Revoked {
		return deny(Unauthenticated, CauseRevoked, "deploy token is revoked")
	}
	if t.Expired(now) {
		return deny(Unauthenticated, CauseExpired, "deploy token has expired")
	}
	if !t.AllowsIP(ip) {
		return deny(Forbidden, CauseIPNotAllowed, "request comes from an address outside the deploy token's IP allow-list")
	}
	scopes, ok := deployScopeFor[action]
	if !ok && r.Project == nil && r.Group == nil {
		// Deploy tokens never open the REST API (docs/design.md §6.8).
		return deny(Unauthenticated, CauseScope, "deploy tokens cannot be used for this")
	}
	if why := a.externalDeployTokenRefusal(action); why != "" {
		return deny(Forbidden, CauseExternal, "%s", why)
	}
	if !Reaches(t, r) {
		return deny(NotFound, CauseReach, "deploy token does not reach this resource")
	}
	if !ok {
		// Never push, never delete images, never administer (docs/design.md §2.3).
		return deny(Forbidden, CauseScope, "deploy tokens cannot %s", describe(action))
	}
	if proxyAction(action) != (r.Project == nil) {
		// The dependency proxy is a group's, images and packages a project's: an action on the
		// other kind of resource reaches nothing (a project token never reaches a proxy).
		return deny(NotFound, CauseReach, "deploy token does not reach this resource")
	}
	if r.Group != nil && r.Project == nil && !a.proxyEnabled(r.Group) {
		return deny(Forbidden, CauseProxyDisabled, "the dependency proxy is disabled for this group")
	}
	i, held := grantingSet(t.Scopes, scopes)
	if !held {
		return deny(Forbidden, CauseScope, "deploy token lacks %s", scopes[0])
	}
	return allow(CauseScope, grantReasons[action][i])
}

// Reaches implements docs/design.md §2.2: a project token its own project; a group token every
// project in the group or below it; for group resources (dependency proxy), the token's group
// or a group below it. Never siblings or parents.
func Reaches(t *token.DeployToken, r Resource) bool {
	switch {
	case r.Project != nil:
		if t.Owner.ProjectID != 0 {
			return t.Owner.ProjectID == r.Project.ID
		}
		return r.Project.InGroup(t.Owner.GroupID)
	case r.Group != nil:
		if t.Owner.GroupID == 0 {
			return false
		}
		for _, id := range r.Group.Ancestry {
			if id == t.Owner.GroupID {
				return true
			}
		}
	}
	return false
}

// proxyAction reports whether action is one of the dependency proxy's, done on a group.
func proxyAction(action Action) bool {
	return action == ProxyPull || action == ProxyPush || action == ProxyDelete
}

func (a *Authorizer) proxyEnabled(g *namespace.Group) bool {
	return a.opts.DependencyProxyEnabled == nil || a.opts.DependencyProxyEnabled(g)
}

// personalScopeFor maps actions to the personal-access-token scopes that allow them.
var personalScopeFor = map[Action][]token.Scope{
	ReadRepository:     {token.ReadRepository, token.WriteRepository, token.API},
	WriteRepository:    {token.WriteRepository, token.API},
	PullImage:          {token.ReadRegistry, token.WriteRegistry, token.API},
	PushImage:          {token.WriteRegistry, token.API},
	DeleteImage:        {token.WriteRegistry, token.API},
	ReadPackage:        {token.ReadPackageRegistry, token.WritePackageRegistry, token.API, token.ReadAPI},
	WritePackage:       {token.WritePackageRegistry, token.API},
	DeletePackage:      {token.API},
	ProxyPull:          {token.ReadRegistry, token.WriteRegistry, token.API},
	ProxyPush:          {token.WriteRegistry, token.API},
	ProxyDelete:        {token.WriteRegistry, token.API},
	ViewNamespace:      {token.API, token.ReadAPI},
	ListDeployTokens:   {token.API, token.ReadAPI},
	ManageDeployTokens: {token.API},
	ManageMembers:      {token.API},
	CreateInNamespace:  {token.API},
	AdministerInstance: {token.API},
	ReadCIVariables:    {token.API},
	ReadAuditEvents:    {token.API, token.ReadAPI},
	ReadOwnAuditEvents: {token.API, token.ReadAPI},
	ReadCode:           {token.API, token.ReadAPI},

	ReadRepositoryFiles:       {token.API, token.ReadAPI, token.ReadRepository},
	DownloadArchive:           {token.API, token.ReadAPI, token.ReadRepository},
	ReadRawFile:               {token.API, token.ReadAPI, token.ReadRepository},
	AdministerDependencyProxy: {token.API},
	EditNamespace:             {token.API},
	OwnNamespace:              {token.API},
	ViewCIVariables:           {token.API, token.ReadAPI},
	AdministerCIVariables:     {token.API},
	ViewUsers:                 token.PersonalScopes,
}

// projectRoleFor is the least project role each action needs.
var projectRoleFor = map[Action]namespace.Role{
	ViewNamespace:      namespace.Guest,
	ReadRepository:     namespace.Reporter,
	PullImage:          namespace.Reporter,
	ReadPackage:        namespace.Reporter,
	WriteRepository:    namespace.Developer,
	PushImage:          namespace.Developer,
	WritePackage:       namespace.Developer,
	DeleteImage:        namespace.Maintainer,
	DeletePackage:      namespace.Maintainer,
	ListDeployTokens:   namespace.Maintainer,
	ManageDeployTokens: namespace.Maintainer,
	ManageMembers:      namespace.Maintainer,
	ReadAuditEvents:    namespace.Maintainer,
	ReadOwnAuditEvents: namespace.Developer,
	ReadCode:           namespace.Reporter,
	EditNamespace:      namespace.Maintainer,
	OwnNamespace:       namespace.Owner,

	ReadRepositoryFiles: namespace.Reporter,
	DownloadArchive:     namespace.Reporter,
	ReadRawFile:         namespace.Reporter,

	ViewCIVariables:       namespace.Maintainer,
	AdministerCIVariables: namespace.Maintainer,
}

// groupRoleFor is the least group role each action needs.
var groupRoleFor = map[Action]namespace.Role{
	ViewNamespace:      namespace.Guest,
	ProxyPull:          namespace.Guest,
	ProxyPush:          namespace.Developer,
	ProxyDelete:        namespace.Maintainer,
	ListDeployTokens:   namespace.Maintainer,
	ManageDeployTokens: namespace.Owner,
	ManageMembers:      namespace.Maintainer,
	CreateInNamespace:  namespace.Maintainer,
	ReadAuditEvents:    namespace.Owner,
	ReadOwnAuditEvents: namespace.Developer,

	AdministerDependencyProxy: namespace.Owner,
	EditNamespace:             namespace.Owner,
	OwnNamespace:              namespace.Owner,
	ViewCIVariables:           namespace.Owner,
	AdministerCIVariables:     namespace.Owner,
}

// signedInActions are the instance's actions every signed-in user may do (the others on the
// instance are administrators' only).
var signedInActions = map[Action]bool{ViewUsers: true}

// readActions are allowed to anyone who can see a public (or, signed in, internal) project.
var readActions = map[Action]bool{ViewNamespace: true, ReadRepository: true, PullImage: true, ReadPackage: true,
	ReadCode: true, ReadRepositoryFiles: true, DownloadArchive: true, ReadRawFile: true}

func (a *Authorizer) user(ctx context.Context, p Principal, r Resource, action Action) (Decision, error) {
	u := p.User
	if u == nil || u.Blocked {
		return deny(Unauthenticated, CauseBlocked, "user is blocked"), nil
	}
	if pat := p.PersonalToken; pat != nil {
		if !pat.Active(a.now()) {
			return deny(Unauthenticated, CauseInactive, "personal access token is revoked or expired"), nil
		}
		scopes := personalScopeFor[action]
		if !pat.Scopes.HasAny(scopes...) {
			// A PAT without the scope must not reveal what the user could otherwise see.
			d := deny(Forbidden, CauseScope, "personal access token lacks a scope for %s", action)
			if vis, err := a.visible(ctx, u, r); err != nil || !vis {
				d.Denial = NotFound
				return d, err
			}
			return d, nil
		}
	}
	if u.Admin {
		return allow(CauseAdmin, "administrator"), nil
	}
	switch {
	case r.Project != nil:
		role, err := a.roles.ProjectRole(ctx, u.ID, r.Project)
		if err != nil {
			return Decision{}, err
		}
		if need, ok := projectRoleFor[action]; ok && role >= need {
			return allow(CauseRole, fmt.Sprintf("role %d on project", role)), nil
		}
		if readActions[action] && r.Project.Visibility != namespace.Private {
			return allow(CauseVisibility, "project is "+string(r.Project.Visibility)), nil
		}
		if role == namespace.NoRole && r.Project.Visibility == namespace.Private {
			return deny(NotFound, CauseNotMember, "not a member of this project"), nil
		}
		return deny(Forbidden, CauseRole, "your role does not allow %s", action), nil
	case r.Group != nil:
		role, err := a.roles.GroupRole(ctx, u.ID, r.Group)
		if err != nil {
			return Decision{}, err
		}
		if need, ok := groupRoleFor[action]; ok && role >= need {
			return allow(CauseRole, fmt.Sprintf("role %d on group", role)), nil
		}
		if action == ViewNamespace && groupVisibleToSignedIn(r.Group) {
			return allow(CauseVisibility, "group is "+string(r.Group.Visibility)), nil
		}
		if role == namespace.NoRole && !groupVisibleToSignedIn(r.Group) {
			return deny(NotFound, CauseNotMember, "not a member of this group"), nil
		}
		return deny(Forbidden, CauseRole, "your role does not allow %s", action), nil
	case signedInActions[action]:
		return allow(CauseSignedIn, "signed in"), nil
	}
	return deny(Forbidden, CauseRole, "administrators only"), nil
}

func (a *Authorizer) visible(ctx context.Context, u *namespace.User, r Resource) (bool, error) {
	if u.Admin {
		return true, nil
	}
	switch {
	case r.Project != nil:
		if r.Project.Visibility != namespace.Private {
			return true, nil
		}
		role, err := a.roles.ProjectRole(ctx, u.ID, r.Project)
		return role != namespace.NoRole, err
	case r.Group != nil:
		if groupVisibleToSignedIn(r.Group) {
			return true, nil
		}
		role, err := a.roles.GroupRole(ctx, u.ID, r.Group)
		return role != namespace.NoRole, err
	}
	return true, nil
}

// groupVisibleToSignedIn reports whether every signed-in user may see g: internal and public
// groups, as GitLab.
func groupVisibleToSignedIn(g *namespace.Group) bool {
	return g.Visibility == namespace.Internal || g.Visibility == namespace.Public
}

func (a *Authorizer) anonymous(r Resource, action Action) Decision {
	if r.Project != nil && r.Project.Visibility == namespace.Public && readActions[action] {
		return allow(CauseVisibility, "project is public")
	}
	if r.Project == nil && r.Group != nil && r.Group.Visibility == namespace.Public && action == ViewNamespace {
		return allow(CauseVisibility, "group is public")
	}
	return deny(Unauthenticated, CauseAuthRequired, "authentication required")
}

// describe words an action for refusal messages.
func describe(a Action) string {
	switch a {
	case WriteRepository:
		return "push to a repository"
	case DeleteImage:
		return "delete images"
	}
	return "be used for " + string(a)
}
