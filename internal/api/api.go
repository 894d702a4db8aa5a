// Package api serves Gatehouse's GitLab-shaped REST API v4 (JSON). Deploy tokens are refused by
// construction: the API authenticates personal access tokens only.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// Config is what the API needs from the composition root.
type Config struct {
	Namespaces *namespace.Service
	Deploy     *token.DeployService
	Personal   *token.PersonalService
	Auth       *authn.Authenticator
	Gate       *gate.Gate
	Audit      *audit.Log
	Log        *slog.Logger
	Version    string
	Revision   string
	// ExternalURL is the server's public base URL, for web_url and http_url_to_repo.
	ExternalURL string
	// DependencyProxy, when set, serves /groups/:id/dependency_proxy (setting and cache purge).
	DependencyProxy DependencyProxySettings
	// ExternalAuthorization, when set, serves /application/settings (external authorization)
	// and PUT /projects/:id (the classification label), and shows projects' labels.
	ExternalAuthorization ExternalAuthorizationSettings
	// ExpiryJob, when set, serves POST /admin/jobs/deploy-token-expiry/run (see jobs.go).
	ExpiryJob DeployTokenExpiryJob
	// Packages, when set, serves the Packages API (/projects/:id/packages, /groups/:id/packages;
	// see packages.go).
	Packages *packages.Service
	// Repos, when set, serves the repository reads (/projects/:id/repository/…; see
	// repository.go), running GitBin (gitexec.DefaultBinary when empty).
	Repos  RepositoryDirs
	GitBin string
	// Variables serves projects' and groups' CI/CD variables (variables.go).
	Variables *token.VariableService
}

// Handler serves /api/v4/. Create it with New.
type Handler struct {
	cfg Config
	mux *http.ServeMux
}

// New returns the API handler for cfg, its route table built.
func New(cfg Config) *Handler {
	h := &Handler{cfg: cfg}
	h.mux = h.routes()
	return h
}

// request carries what every endpoint needs: the principal, already authenticated.
type request struct {
	*http.Request
	principal access.Principal
	params    url.Values
	// external is the server's public base URL (Config.ExternalURL) for links; "" means the
	// request's own host.
	external string
	// sudoer is the administrator acting as principal.User through sudo (sudo.go), else nil.
	sudoer *namespace.User
}

type endpoint func(h *Handler, w http.ResponseWriter, r *request) error

// route is one API route: its pattern, how the gate decides it, and its endpoint. A route with
// an Action decides it on the project or group {id} names (or the instance) before it acts; the
// wrap refuses SignedIn routes without a user.
type route struct {
	method, path string
	rule         gate.Rule
	serve        endpoint
	// on, when set, says whether cfg serves the route (optional features).
	on func(Config) bool
}

var (
	withExternalAuthorization = func(c Config) bool { return c.ExternalAuthorization != nil }
	withDependencyProxy       = func(c Config) bool { return c.DependencyProxy != nil }
	withExpiryJob             = func(c Config) bool { return c.ExpiryJob != nil }
	withPackages              = func(c Config) bool { return c.Packages != nil }
	withVariables             = func(c Config) bool { return c.Variables != nil }
)

// routeTable is every API route (docs/architecture.md §3.3).
var routeTable = []route{
	{"GET", "/api/v4/version", gate.SignedIn("the instance's version, for clients' feature checks"), (*Handler).version, nil},
	{"GET", "/api/v4/metadata", gate.SignedIn("the instance's version, for clients' feature checks"), (*Handler).version, nil},
	{"GET", "/api/v4/user", gate.SignedIn("the requester's own account"), (*Handler).currentUser, nil},
	{"GET", "/api/v4/users", gate.Decide(access.ViewUsers), (*Handler).listUsers, nil},
	{"POST", "/api/v4/users", gate.Decide(access.AdministerInstance), (*Handler).createUser, nil},
	{"GET", "/api/v4/users/{id}", gate.Decide(access.ViewUsers), (*Handler).getUser, nil},
	{"POST", "/api/v4/users/{id}/personal_access_tokens", gate.Decide(access.AdministerInstance), (*Handler).createPersonalToken, nil},
	{"GET", "/api/v4/personal_access_tokens/self", gate.SignedIn("the requester's own token"), (*Handler).personalTokenSelf, nil},
	// Users and tokens (users.go, personal_tokens.go).
	{"PUT", "/api/v4/users/{id}", gate.Decide(access.AdministerInstance), (*Handler).updateUser, nil},
	{"DELETE", "/api/v4/users/{id}", gate.Decide(access.AdministerInstance), (*Handler).deleteUser, nil},
	{"POST", "/api/v4/users/{id}/block", gate.Decide(access.AdministerInstance), changeUserState(namespace.BlockUser), nil},
	{"POST", "/api/v4/users/{id}/unblock", gate.Decide(access.AdministerInstance), changeUserState(namespace.UnblockUser), nil},
	{"POST", "/api/v4/users/{id}/ban", gate.Decide(access.AdministerInstance), changeUserState(namespace.BanUser), nil},
	{"POST", "/api/v4/users/{id}/unban", gate.Decide(access.AdministerInstance), changeUserState(namespace.UnbanUser), nil},
	{"GET", "/api/v4/users/{id}/projects", gate.Decide(access.ViewUsers).Filtered(access.ViewNamespace), (*Handler).listUserProjects, nil},
	{"GET", "/api/v4/users/{id}/memberships", gate.Decide(access.AdministerInstance), (*Handler).listUserMemberships, nil},
	{"GET", "/api/v4/users/{id}/impersonation_tokens", gate.Decide(access.AdministerInstance), (*Handler).listImpersonationTokens, nil},
	{"POST", "/api/v4/users/{id}/impersonation_tokens", gate.Decide(access.AdministerInstance), (*Handler).createImpersonationToken, nil},
	{"GET", "/api/v4/users/{id}/impersonation_tokens/{token_id}", gate.Decide(access.AdministerInstance), (*Handler).getImpersonationToken, nil},
	{"DELETE", "/api/v4/users/{id}/impersonation_tokens/{token_id}", gate.Decide(access.AdministerInstance), (*Handler).revokeImpersonationToken, nil},
	{"GET", "/api/v4/personal_access_tokens", gate.SignedIn("the requester's own tokens (an administrator's: anyone's); decided in the handler"), (*Handler).listPersonalTokens, nil},
	{"GET", "/api/v4/personal_access_tokens/{token_id}", gate.SignedIn("the requester's own token (an administrator's: anyone's); decided in the handler"), (*Handler).getPersonalToken, nil},
	{"DELETE", "/api/v4/personal_access_tokens/self", gate.SignedIn("revokes the token the request authenticates with"), (*Handler).revokePersonalTokenSelf, nil},
	{"DELETE", "/api/v4/personal_access_tokens/{token_id}", gate.SignedIn("the requester's own token (an administrator's: anyone's); decided in the handler"), (*Handler).revokePersonalToken, nil},
	{"POST", "/api/v4/personal_access_tokens/self/rotate", gate.SignedIn("rotates the token the request authenticates with"), (*Handler).rotatePersonalTokenSelf, nil},
	{"POST", "/api/v4/personal_access_tokens/{token_id}/rotate", gate.SignedIn("the requester's own token (an administrator's: anyone's); decided in the handler"), (*Handler).rotatePersonalToken, nil},

	{"GET", "/api/v4/groups", gate.Public("a listing of what the requester may view (anonymous: the public groups, as GitLab)").Filtered(access.ViewNamespace), (*Handler).listGroups, nil},
	{"POST", "/api/v4/groups", gate.SignedIn("a top-level group needs the api scope and is owned by its creator; a subgroup (parent_id) decides create_in_namespace on its parent"), (*Handler).createGroup, nil},
	{"GET", "/api/v4/groups/{id}", gate.Decide(access.ViewNamespace), (*Handler).getGroup, nil},
	{"PUT", "/api/v4/groups/{id}", gate.Decide(access.EditNamespace), (*Handler).updateGroup, nil},
	{"DELETE", "/api/v4/groups/{id}", gate.Decide(access.OwnNamespace), (*Handler).deleteGroup, nil},
	// Then create_in_namespace on the new parent.
	{"POST", "/api/v4/groups/{id}/transfer", gate.Decide(access.OwnNamespace), (*Handler).transferGroup, nil},
	// Then view on the group shared with.
	{"POST", "/api/v4/groups/{id}/share", gate.Decide(access.EditNamespace), (*Handler).shareGroup, nil},
	{"DELETE", "/api/v4/groups/{id}/share/{group_id}", gate.Decide(access.EditNamespace), (*Handler).unshareGroup, nil},
	{"POST", "/api/v4/groups/{id}/projects/{project_id}", gate.Decide(access.AdministerInstance), (*Handler).transferProjectToGroup, nil},
	{"GET", "/api/v4/groups/{id}/projects", gate.Decide(access.ViewNamespace).Filtered(access.ViewNamespace), (*Handler).groupProjects, nil},
	{"GET", "/api/v4/groups/{id}/descendant_groups", gate.Decide(access.ViewNamespace).Filtered(access.ViewNamespace), (*Handler).descendantGroups, nil},
	{"GET", "/api/v4/namespaces", gate.SignedIn("the requester's own namespace and the groups they are a member of (administrators: all)"), (*Handler).listNamespaces, nil},
	// A group decides view on it; another user's personal namespace view on the instance
	// (administrators); the requester's own needs no decision.
	{"GET", "/api/v4/namespaces/{id}", gate.Decide(access.ViewNamespace), (*Handler).getNamespace, nil},
	{"GET", "/api/v4/namespaces/{id}/exists", gate.SignedIn("whether a path is taken, as GitLab tells any signed-in user; parent_id decides view_namespace on the parent"), (*Handler).namespaceExists, nil},
	{"GET", "/api/v4/groups/{id}/subgroups", gate.Decide(access.ViewNamespace).Filtered(access.ViewNamespace), (*Handler).listSubgroups, nil},
	{"GET", "/api/v4/groups/{id}/members", gate.Decide(access.ViewNamespace), (*Handler).listGroupMembers, nil},
	{"POST", "/api/v4/groups/{id}/members", gate.Decide(access.ManageMembers), (*Handler).addGroupMember, nil},
	{"GET", "/api/v4/groups/{id}/members/{user_id}", gate.Decide(access.ViewNamespace), (*Handler).getMember, nil},
	{"PUT", "/api/v4/groups/{id}/members/{user_id}", gate.Decide(access.ManageMembers), (*Handler).updateMember, nil},
	{"DELETE", "/api/v4/groups/{id}/members/{user_id}", gate.Decide(access.ManageMembers), (*Handler).removeMember, nil},

	{"GET", "/api/v4/projects", gate.Public("a listing of what the requester may view (anonymous: the public projects)").Filtered(access.ViewNamespace), (*Handler).listProjects, nil},
	{"POST", "/api/v4/projects", gate.SignedIn("a personal project needs the api scope; one in a group (namespace_id) decides create_in_namespace on the group"), (*Handler).createProject, nil},
	{"GET", "/api/v4/projects/{id}", gate.Decide(access.ViewNamespace), (*Handler).getProject, nil},
	// Then own_namespace for name, path and visibility, administer_instance for the label.
	{"PUT", "/api/v4/projects/{id}", gate.Decide(access.EditNamespace), (*Handler).updateProject, nil},
	{"DELETE", "/api/v4/projects/{id}", gate.Decide(access.OwnNamespace), (*Handler).deleteProject, nil},
	// Then create_in_namespace on the target group, or the target being the requester's own.
	{"PUT", "/api/v4/projects/{id}/transfer", gate.Decide(access.OwnNamespace), (*Handler).transferProject, nil},
	{"GET", "/api/v4/projects/{id}/groups", gate.Decide(access.ViewNamespace).Filtered(access.ViewNamespace), (*Handler).projectGroups, nil},
	{"GET", "/api/v4/projects/{id}/members", gate.Decide(access.ViewNamespace), (*Handler).listProjectMembers, nil},
	{"POST", "/api/v4/projects/{id}/members", gate.Decide(access.ManageMembers), (*Handler).addProjectMember, nil},
	{"GET", "/api/v4/projects/{id}/members/{user_id}", gate.Decide(access.ViewNamespace), (*Handler).getMember, nil},
	{"PUT", "/api/v4/projects/{id}/members/{user_id}", gate.Decide(access.ManageMembers), (*Handler).updateMember, nil},
	{"DELETE", "/api/v4/projects/{id}/members/{user_id}", gate.Decide(access.ManageMembers), (*Handler).removeMember, nil},

	// CI/CD variables (variables.go).
	{"GET", "/api/v4/projects/{id}/variables", gate.Decide(access.ViewCIVariables), (*Handler).listVariables, withVariables},
	{"POST", "/api/v4/projects/{id}/variables", gate.Decide(access.AdministerCIVariables), (*Handler).createVariable, withVariables},
	{"GET", "/api/v4/projects/{id}/variables/{key}", gate.Decide(access.ViewCIVariables), (*Handler).getVariable, withVariables},
	{"PUT", "/api/v4/projects/{id}/variables/{key}", gate.Decide(access.AdministerCIVariables), (*Handler).updateVariable, withVariables},
	{"DELETE", "/api/v4/projects/{id}/variables/{key}", gate.Decide(access.AdministerCIVariables), (*Handler).deleteVariable, withVariables},
	{"GET", "/api/v4/groups/{id}/variables", gate.Decide(access.ViewCIVariables), (*Handler).listVariables, withVariables},
	{"POST", "/api/v4/groups/{id}/variables", gate.Decide(access.AdministerCIVariables), (*Handler).createVariable, withVariables},
	{"GET", "/api/v4/groups/{id}/variables/{key}", gate.Decide(access.ViewCIVariables), (*Handler).getVariable, withVariables},
	{"PUT", "/api/v4/groups/{id}/variables/{key}", gate.Decide(access.AdministerCIVariables), (*Handler).updateVariable, withVariables},
	{"DELETE", "/api/v4/groups/{id}/variables/{key}", gate.Decide(access.AdministerCIVariables), (*Handler).deleteVariable, withVariables},

	// Inherited members (members_all.go).
	{"GET", "/api/v4/groups/{id}/members/all", gate.Decide(access.ViewNamespace), (*Handler).listAllMembers, nil},
	{"GET", "/api/v4/groups/{id}/members/all/{user_id}", gate.Decide(access.ViewNamespace), (*Handler).getAllMember, nil},
	{"GET", "/api/v4/projects/{id}/members/all", gate.Decide(access.ViewNamespace), (*Handler).listAllMembers, nil},
	{"GET", "/api/v4/projects/{id}/members/all/{user_id}", gate.Decide(access.ViewNamespace), (*Handler).getAllMember, nil},

	{"GET", "/api/v4/projects/{id}/ci/variables/predefined", gate.Decide(access.ReadCIVariables), (*Handler).listCIVariables, nil},

	{"GET", "/api/v4/audit_events", gate.Decide(access.AdministerInstance), (*Handler).listInstanceAuditEvents, nil},
	{"GET", "/api/v4/audit_events/{event_id}", gate.Decide(access.AdministerInstance), (*Handler).getInstanceAuditEvent, nil},
	// Developers see their own events; ReadAuditEvents (maintainer+, group owner) everyone's.
	{"GET", "/api/v4/projects/{id}/audit_events", gate.Decide(access.ReadOwnAuditEvents).Filtered(access.ReadAuditEvents), (*Handler).listProjectAuditEvents, nil},
	{"GET", "/api/v4/projects/{id}/audit_events/{event_id}", gate.Decide(access.ReadOwnAuditEvents).Filtered(access.ReadAuditEvents), (*Handler).getProjectAuditEvent, nil},
	{"GET", "/api/v4/groups/{id}/audit_events", gate.Decide(access.ReadOwnAuditEvents).Filtered(access.ReadAuditEvents), (*Handler).listGroupAuditEvents, nil},
	{"GET", "/api/v4/groups/{id}/audit_events/{event_id}", gate.Decide(access.ReadOwnAuditEvents).Filtered(access.ReadAuditEvents), (*Handler).getGroupAuditEvent, nil},

	// Repository reads (repository.go); GET also answers HEAD.
	{"GET", "/api/v4/projects/{id}/repository/branches", gate.Decide(access.ReadCode), (*Handler).listBranches, withRepositories},
	{"GET", "/api/v4/projects/{id}/repository/branches/{branch}", gate.Decide(access.ReadCode), (*Handler).getBranch, withRepositories},
	{"GET", "/api/v4/projects/{id}/repository/tags", gate.Decide(access.ReadCode), (*Handler).listTags, withRepositories},
	{"GET", "/api/v4/projects/{id}/repository/tags/{tag_name}", gate.Decide(access.ReadCode), (*Handler).getTag, withRepositories},
	{"GET", "/api/v4/projects/{id}/repository/tree", gate.Decide(access.ReadCode), (*Handler).listTree, withRepositories},
	{"GET", "/api/v4/projects/{id}/repository/files/{file_path}", gate.Decide(access.ReadRepositoryFiles), (*Handler).getFile, withRepositories},
	{"GET", "/api/v4/projects/{id}/repository/files/{file_path}/raw", gate.Decide(access.ReadRepositoryFiles), (*Handler).getRawFile, withRepositories},
	{"GET", "/api/v4/projects/{id}/repository/archive", gate.Decide(access.ReadCode), (*Handler).getArchive, withRepositories},
	{"GET", "/api/v4/projects/{id}/repository/archive.tar.gz", gate.Decide(access.ReadCode), (*Handler).getArchive, withRepositories},
	{"GET", "/api/v4/projects/{id}/repository/archive.tgz", gate.Decide(access.ReadCode), (*Handler).getArchive, withRepositories},
	{"GET", "/api/v4/projects/{id}/repository/archive.gz", gate.Decide(access.ReadCode), (*Handler).getArchive, withRepositories},
	{"GET", "/api/v4/projects/{id}/repository/archive.tar.bz2", gate.Decide(access.ReadCode), (*Handler).getArchive, withRepositories},
	{"GET", "/api/v4/projects/{id}/repository/archive.tbz", gate.Decide(access.ReadCode), (*Handler).getArchive, withRepositories},
	{"GET", "/api/v4/projects/{id}/repository/archive.tbz2", gate.Decide(access.ReadCode), (*Handler).getArchive, withRepositories},
	{"GET", "/api/v4/projects/{id}/repository/archive.tb2", gate.Decide(access.ReadCode), (*Handler).getArchive, withRepositories},
	{"GET", "/api/v4/projects/{id}/repository/archive.bz2", gate.Decide(access.ReadCode), (*Handler).getArchive, withRepositories},
	{"GET", "/api/v4/projects/{id}/repository/archive.tar", gate.Decide(access.ReadCode), (*Handler).getArchive, withRepositories},
	{"GET", "/api/v4/projects/{id}/repository/archive.zip", gate.Decide(access.ReadCode), (*Handler).getArchive, withRepositories},

	{"GET", "/api/v4/deploy_tokens", gate.Decide(access.AdministerInstance), (*Handler).listAllDeployTokens, nil},
	{"GET", "/api/v4/projects/{id}/deploy_tokens", gate.Decide(access.ListDeployTokens), (*Handler).listProjectDeployTokens, nil},
	{"POST", "/api/v4/projects/{id}/deploy_tokens", gate.Decide(access.ManageDeployTokens), (*Handler).createProjectDeployToken, nil},
	{"GET", "/api/v4/projects/{id}/deploy_tokens/{token_id}", gate.Decide(access.ListDeployTokens), (*Handler).getProjectDeployToken, nil},
	{"DELETE", "/api/v4/projects/{id}/deploy_tokens/{token_id}", gate.Decide(access.ManageDeployTokens), (*Handler).deleteProjectDeployToken, nil},
	{"POST", "/api/v4/projects/{id}/deploy_tokens/{token_id}/rotate", gate.Decide(access.ManageDeployTokens), (*Handler).rotateProjectDeployToken, nil},
	{"GET", "/api/v4/groups/{id}/deploy_tokens", gate.Decide(access.ListDeployTokens), (*Handler).listGroupDeployTokens, nil},
	{"POST", "/api/v4/groups/{id}/deploy_tokens", gate.Decide(access.ManageDeployTokens), (*Handler).createGroupDeployToken, nil},
	{"GET", "/api/v4/groups/{id}/deploy_tokens/{token_id}", gate.Decide(access.ListDeployTokens), (*Handler).getGroupDeployToken, nil},
	{"DELETE", "/api/v4/groups/{id}/deploy_tokens/{token_id}", gate.Decide(access.ManageDeployTokens), (*Handler).deleteGroupDeployToken, nil},
	{"POST", "/api/v4/groups/{id}/deploy_tokens/{token_id}/rotate", gate.Decide(access.ManageDeployTokens), (*Handler).rotateGroupDeployToken, nil},
	{"GET", "/api/v4/projects/{id}/deploy_tokens/{token_id}/usage", gate.Decide(access.ListDeployTokens), (*Handler).projectDeployTokenUsage, nil},
	{"GET", "/api/v4/groups/{id}/deploy_tokens/{token_id}/usage", gate.Decide(access.ListDeployTokens), (*Handler).groupDeployTokenUsage, nil},

	{"GET", "/api/v4/application/settings", gate.Decide(access.AdministerInstance), (*Handler).getApplicationSettings, withExternalAuthorization},
	{"PUT", "/api/v4/application/settings", gate.Decide(access.AdministerInstance), (*Handler).putApplicationSettings, withExternalAuthorization},

	{"GET", "/api/v4/groups/{id}/dependency_proxy", gate.Decide(access.ViewNamespace), (*Handler).getDependencyProxy, withDependencyProxy},
	{"PUT", "/api/v4/groups/{id}/dependency_proxy", gate.Decide(access.AdministerDependencyProxy), (*Handler).putDependencyProxy, withDependencyProxy},
	{"DELETE", "/api/v4/groups/{id}/dependency_proxy/cache", gate.Decide(access.AdministerDependencyProxy), (*Handler).purgeDependencyProxy, withDependencyProxy},

	{"POST", "/api/v4/admin/jobs/deploy-token-expiry/run", gate.Decide(access.AdministerInstance), (*Handler).runDeployTokenExpiry, withExpiryJob},

	{"GET", "/api/v4/projects/{id}/packages", gate.Decide(access.ReadPackage).Filtered(access.DeletePackage), (*Handler).listProjectPackages, withPackages},
	{"GET", "/api/v4/projects/{id}/packages/{package_id}", gate.Decide(access.ReadPackage).Filtered(access.DeletePackage), (*Handler).getProjectPackage, withPackages},
	{"DELETE", "/api/v4/projects/{id}/packages/{package_id}", gate.Decide(access.DeletePackage), (*Handler).deleteProjectPackage, withPackages},
	{"GET", "/api/v4/projects/{id}/packages/{package_id}/package_files", gate.Decide(access.ReadPackage), (*Handler).listPackageFiles, withPackages},
	{"DELETE", "/api/v4/projects/{id}/packages/{package_id}/package_files/{package_file_id}", gate.Decide(access.DeletePackage), (*Handler).deletePackageFile, withPackages},
	{"GET", "/api/v4/groups/{id}/packages", gate.Decide(access.ViewNamespace).Filtered(access.ReadPackage), (*Handler).listGroupPackages, withPackages},
}

// notFoundRule is the catch-all's: an unknown path is answered 404 before anything is read.
var notFoundRule = gate.Public("an unknown API path: 404, nothing read")

// Routes lists every API route with how it is gated, the catch-all last. The optional ones
// are included; each is served only when its feature is configured.
func Routes() []gate.Route {
	var out []gate.Route
	for _, rt := range routeTable {
		out = append(out, gate.Route{Method: rt.method, Pattern: rt.path, Rule: rt.rule})
	}
	return append(out, gate.Route{Pattern: "/api/v4/", Rule: notFoundRule})
}

// routes builds the mux from the route table.
func (h *Handler) routes() *http.ServeMux {
	m := http.NewServeMux()
	for _, rt := range routeTable {
		if rt.on == nil || rt.on(h.cfg) {
			m.Handle(rt.method+" "+rt.path, h.wrap(rt))
		}
	}
	m.Handle("/api/v4/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if allow := h.allowed(r); len(allow) > 0 {
			// The path exists with other methods. As GitLab (Grape) answers: OPTIONS lists
			// them, any other method is a 405 with Grape's body.
			w.Header().Set("Allow", strings.Join(allow, ", "))
			if r.Method == http.MethodOptions {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			writeJSONError(w, http.StatusMethodNotAllowed, "405 Not Allowed")
			return
		}
		writeMessage(w, http.StatusNotFound, "404 Not Found")
	}))
	return m
}

// methods are those a route may have; allowed tries each on a path.
var methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// allowed returns the methods some route serves r's path with: none for an unknown path. The
// catch-all matches every method, so the mux never answers 405 itself.
func (h *Handler) allowed(r *http.Request) []string {
	var out []string
	for _, m := range methods {
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := h.mux.Handler(probe); pattern != "/api/v4/" && pattern != "" {
			out = append(out, m)
		}
	}
	return out
}

// ServeHTTP implements http.Handler. Trailing slashes are stripped first, as GitLab's router
// does, so every route also answers with one (GitLab's documented deploy-token create example
// posts to ".../deploy_tokens/").
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := strings.TrimRight(r.URL.Path, "/"); p != r.URL.Path && len(p) > len("/api/v4") {
		// A copy: the access log holds the caller's request and URL.
		r2, u := *r, *r.URL
		u.Path, u.RawPath = p, strings.TrimRight(u.RawPath, "/")
		r2.URL = &u
		r = &r2
	}
	h.mux.ServeHTTP(w, r)
}

// maxBody bounds API request bodies.
const maxBody = 1 << 20

// wrap authenticates, parses parameters, refuses a SignedIn route without a user, and maps
// errors; it never logs headers or bodies.
func (h *Handler) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := h.cfg.Auth.API(r.Context(), r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		params, err := readParams(r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		self := p.User
		if p, err = h.sudo(r, p, params); err != nil {
			h.writeError(w, r, err)
			return
		}
		var sudoer *namespace.User
		if p.User != self {
			sudoer = self
		}
		if rt.rule.SignedIn && p.Kind != access.UserPrincipal {
			h.writeError(w, r, errUnauthorized)
			return
		}
		if err := rt.serve(h, w, &request{Request: r, principal: p, params: params, external: h.cfg.ExternalURL, sudoer: sudoer}); err != nil {
			h.writeError(w, r, err)
		}
	})
}

// apiError is an error with a status and a GitLab-style message.
type apiError struct {
	status  int
	message string
}

func (e *apiError) Error() string { return e.message }

var (
	errUnauthorized = &apiError{http.StatusUnauthorized, "401 Unauthorized"}
	errForbidden    = &apiError{http.StatusForbidden, "403 Forbidden"}
)

func notFound(what string) error {
	return &apiError{http.StatusNotFound, "404 " + what + " Not Found"}
}

func badRequest(format string, args ...any) error {
	return &apiError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

func writeMessage(w http.ResponseWriter, status int, msg string) {
	httpx.WriteJSON(w, status, map[string]string{"message": msg})
}

// writeJSONError writes Grape's own error shape, {"error": msg}, which GitLab answers for
// parameter validation (400), a wrong method (405) and keyset pagination not offered (405).
func writeJSONError(w http.ResponseWriter, status int, msg string) {
	httpx.WriteJSON(w, status, map[string]string{"error": msg})
}

// bodyError is an answer whose JSON body is not {"message"}: GitLab's OAuth-style refusals
// (insufficient_scope) and {"error"} answers outside parameter validation.
type bodyError struct {
	status int
	body   any
}

func (e *bodyError) Error() string { return http.StatusText(e.status) }

// writeError is the API's one error writer: domain kinds (every errkind kind, authn's) → status
// + {"message": …}. Unknown errors are logged with the request ID and answered with a generic 500.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var ve *errkind.ValidationError
	var fe *errkind.ForbiddenError
	var pe *paramsError
	var be *bodyError
	switch {
	case errors.As(err, &pe):
		writeParamsError(w, pe)
	case errors.As(err, &be):
		httpx.WriteJSON(w, be.status, be.body)
	case errors.As(err, &ae):
		if ae.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="Gatehouse API"`)
		}
		writeMessage(w, ae.status, ae.message)
	case errors.As(err, &ve):
		// A model's validation failure, as GitLab's render_validation_error! writes it.
		httpx.WriteJSON(w, http.StatusBadRequest, validationMessage(ve.Field, ve.Reason))
	case errors.As(err, &fe):
		writeMessage(w, http.StatusForbidden, "403 Forbidden - "+fe.Reason)
	case errors.Is(err, authn.ErrDeployTokenNotAllowed), errors.Is(err, authn.ErrInvalidCredentials), errors.Is(err, errkind.ErrUnauthorized):
		w.Header().Set("WWW-Authenticate", `Bearer realm="Gatehouse API"`)
		writeMessage(w, http.StatusUnauthorized, "401 Unauthorized")
	case errors.Is(err, authn.ErrBanned), errors.Is(err, errkind.ErrForbidden):
		writeMessage(w, http.StatusForbidden, "403 Forbidden")
	case errors.Is(err, errkind.ErrNotFound):
		writeMessage(w, http.StatusNotFound, "404 Not Found")
	case errors.Is(err, errkind.ErrInvalid):
		writeMessage(w, http.StatusBadRequest, "400 Bad Request")
	case errors.Is(err, errkind.ErrConflict):
		writeMessage(w, http.StatusConflict, "409 Conflict")
	case errors.Is(err, errkind.ErrTooLarge):
		writeMessage(w, http.StatusRequestEntityTooLarge, "413 Request Entity Too Large")
	case errors.Is(err, errkind.ErrUnavailable):
		httpx.Internal(r.Context(), h.cfg.Log, err)
		writeMessage(w, http.StatusServiceUnavailable, "503 Service Unavailable - storage does not answer, try again")
	default:
		httpx.Internal(r.Context(), h.cfg.Log, err)
		writeMessage(w, http.StatusInternalServerError, "500 Internal Server Error")
	}
}

// authorize asks for the decision and turns a refusal into the right API error; notFoundWhat
// names the resource in a 404 ("Project", "Group").
func (h *Handler) authorize(r *request, res access.Resource, act access.Action, notFoundWhat string) error {
	d, err := h.cfg.Gate.Authorize(r.Context(), r.Request, r.principal, res, act)
	if err != nil {
		return err
	}
	if d.Allow() {
		return nil
	}
	switch d.Denial {
	case access.Unauthenticated:
		if r.principal.Kind == access.Anonymous {
			return errUnauthorized
		}
		return errForbidden
	case access.NotFound:
		return notFound(notFoundWhat)
	}
	return errForbidden
}

// readParams merges the query string with a JSON or form body, as GitLab accepts both. JSON
// arrays become repeated values; form keys like "scopes[]" lose the brackets.
func readParams(r *http.Request) (url.Values, error) {
	out := url.Values{}
	add := func(k string, v string) { out.Add(strings.TrimSuffix(k, "[]"), v) }
	for k, vs := range r.URL.Query() {
		if k == "private_token" {
			continue // a credential (authn.API), not a parameter of the endpoint
		}
		for _, v := range vs {
			add(k, v)
		}
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead || r.Body == nil {
		return out, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, badRequest("could not read the request body")
	}
	if len(body) > maxBody {
		return nil, &apiError{http.StatusRequestEntityTooLarge, "413 Request Entity Too Large"}
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return out, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var obj map[string]any
		if err := json.Unmarshal(body, &obj); err != nil {
			return nil, badRequest("the request body is not a JSON object")
		}
		for k, v := range obj {
			switch x := v.(type) {
			case []any:
				if len(x) == 0 {
					out[k] = []string{} // present, and empty: Grape tells [] from a missing key
				}
				for _, e := range x {
					add(k, jsonScalar(e))
				}
			default:
				add(k, jsonScalar(x))
			}
		}
	case "application/x-www-form-urlencoded", "":
		vs, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, badRequest("the request body is not form-encoded")
		}
		for k, list := range vs {
			for _, v := range list {
				add(k, v)
			}
		}
	case "multipart/form-data":
		if err := readMultipart(body, r.Header.Get("Content-Type"), add); err != nil {
			return nil, err
		}
	default:
		return nil, &apiError{http.StatusUnsupportedMediaType, "415 Unsupported Media Type"}
	}
	return out, nil
}

// readMultipart reads a multipart/form-data body (python-gitlab sends one whenever a call
// attaches a file) into add. No endpoint takes a file yet, so a file part (avatar, …) is refused
// by name rather than dropped.
func readMultipart(body []byte, contentType string, add func(k, v string)) error {
	_, mp, err := mime.ParseMediaType(contentType)
	if err != nil || mp["boundary"] == "" {
		return badRequest("the request body is not multipart/form-data")
	}
	mr := multipart.NewReader(bytes.NewReader(body), mp["boundary"])
	var files []string
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return badRequest("the request body is not multipart/form-data")
		}
		name := part.FormName()
		if part.FileName() != "" {
			files = append(files, strings.TrimSuffix(name, "[]")+" is not supported by Gatehouse (file upload)")
			continue
		}
		v, err := io.ReadAll(part)
		if err != nil {
			return badRequest("the request body is not multipart/form-data")
		}
		if name != "" {
			add(name, string(v))
		}
	}
	if files != nil {
		return &paramsError{files}
	}
	return nil
}

func jsonScalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// intParam parses an integer parameter; missing gives 0, a non-integer Grape's "<name> is invalid".
func intParam(r *request, name string) (int64, error) {
	v := strings.TrimSpace(r.params.Get(name))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, invalidParam(name)
	}
	return n, nil
}

// boolParam reads a boolean parameter as GitLab's API does (parseBool); missing, or not a
// boolean, is false. Endpoints that declare their params have refused non-booleans already.
func boolParam(r *request, name string) bool {
	v, _ := parseBool(r.params.Get(name))
	return v
}

// isoTime formats times as GitLab does.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func isoTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := isoTime(*t)
	return &s
}

// ctxOf returns the request's context.
func ctxOf(r *request) context.Context { return r.Context() }
