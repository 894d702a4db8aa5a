// Package web is Gatehouse's small server-rendered UI: sign in, the user's groups and projects,
// Settings › Repository › Deploy tokens for projects and groups (docs/design.md §6.9) with each
// token's usage view and rotation, and the deploy-token audit events (docs/design.md §8). Pages are
// html/template with embedded templates and CSS; nothing needs JavaScript except the optional copy
// button. Sessions live server-side (only a digest of the session id is stored), every POST carries
// a per-session CSRF token, and each page asks access for its one decision before it renders.
package web

import (
	"context"
	"embed"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/ban"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

//go:embed templates/*.html assets/*
var files embed.FS

// SessionStore keeps web sessions server-side, keyed by the SHA-256 digest of the session id.
// *sqlstore.SessionStore implements it.
type SessionStore interface {
	// CreateWebSession stores a session of userID under digest, valid until expiresAt.
	CreateWebSession(ctx context.Context, digest []byte, userID int64, createdAt, expiresAt time.Time) error
	// WebSessionUser returns the user of the session under digest unless it has expired at now;
	// ok is false for an unknown or expired session. The error is only for "could not look".
	WebSessionUser(ctx context.Context, digest []byte, now time.Time) (userID int64, ok bool, err error)
	// DeleteWebSession removes a session; an absent one is not an error.
	DeleteWebSession(ctx context.Context, digest []byte) error
	// DeleteExpiredWebSessions purges the sessions expired at now.
	DeleteExpiredWebSessions(ctx context.Context, now time.Time) (int64, error)
	// DeleteUserWebSessions removes every session of userID but the one under keep (nil: all).
	DeleteUserWebSessions(ctx context.Context, userID int64, keep []byte) (int64, error)
}

// DefaultSessionTTL is how long a sign-in lasts when Config.SessionTTL is zero.
const DefaultSessionTTL = 24 * time.Hour

// Config is what the UI needs from the composition root.
type Config struct {
	Namespaces *namespace.Service
	Deploy     *token.DeployService
	// Gate makes the authorization decisions for every page.
	Gate     *gate.Gate
	Audit    *audit.Log
	Sessions SessionStore
	// SignInLimiter is the ban shared with every other credential-accepting surface: it counts
	// failed sign-ins per client address and per login, and a banned one is refused (429); nil
	// disables it.
	SignInLimiter ban.Limiter
	Log           *slog.Logger
	// ExternalURL is the public base URL: the clone URLs shown, and Secure cookies when https.
	ExternalURL string
	// Key signs the sign-in form's CSRF token; it must be the same on every node.
	Key []byte
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// SessionTTL is how long a session lasts after sign-in; zero means DefaultSessionTTL.
	SessionTTL time.Duration
	// RepositoryEmpty reports whether a project's repository has no commits yet, for the project
	// page's first-push guidance (docs/design.md §6.9); nil never shows it.
	RepositoryEmpty func(ctx context.Context, projectID int64) (bool, error)
	// Personal is the personal-access-token service of User settings › Access tokens.
	Personal *token.PersonalService
	// ExternalAuthorization, ConfigSettings and SystemInfo feed the Admin area (admin.go); nil
	// leaves their part out.
	ExternalAuthorization ExternalAuthorizationSettings
	ConfigSettings        []ConfigSetting
	SystemInfo            func(ctx context.Context) (SystemInfo, error)
	// The project pages (project_pages.go): Repos and GitBin for the repository browser,
	// Registry for the container registry page, Packages and PackageBytes for the package
	// registry page; a nil one leaves its page 404 and its storage line out.
	Repos        RepositoryDirs
	GitBin       string
	Registry     RegistryReader
	Packages     *packages.Service
	PackageBytes PackageBytes
	// Credentials authenticates the credential a request to an archive or a raw file carries
	// (repository_downloads.go), under the shared ban; nil leaves those routes to sessions.
	Credentials func(context.Context, *http.Request) (access.Principal, error)
}

// Handler serves the UI. Create it with New.
type Handler struct {
	cfg    Config
	secure bool
	pages  map[string]*pageTemplate
}

// New returns the UI handler for cfg.
func New(cfg Config) *Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	cfg.ExternalURL = strings.TrimRight(cfg.ExternalURL, "/")
	return &Handler{cfg: cfg, secure: strings.HasPrefix(cfg.ExternalURL, "https://"), pages: mustParsePages()}
}

// Handles reports whether the UI serves urlPath, so the server can route to it without taking
// paths that belong to Git (/<project>.git/…), the registry, the API or other project routes.
func Handles(urlPath string) bool {
	if strings.HasPrefix(urlPath, "/users/") || strings.HasPrefix(urlPath, "/assets/") {
		return true
	}
	_, ok := parseRoute(urlPath)
	return ok
}

// routeKind says which page a path names.
type routeKind int

const (
	homeRoute routeKind = iota
	groupRoute
	projectRoute
	newGroupRoute   // /groups/new (namespace_forms.go)
	newProjectRoute // /projects/new
	adminRoute
)

// Actions below a group or project ("/-/…").
const (
	actShow     = ""
	actSettings = "settings"
	actCreate   = "create"
	actRevoke   = "revoke"
	actRotate   = "rotate"
	actUsage    = "usage"
	actAudit    = "audit_events"
	// Settings › General of a group (/-/edit) or project (/edit) and its destructive actions
	// (namespace_forms.go).
	actEdit        = "edit"
	actProjectEdit = "edit_project"
	actPath        = "path"
	actTransfer    = "transfer"
	actDelete      = "delete"
)

// tokenActions are the pages under "/-/deploy_tokens/<id>/".
var tokenActions = map[string]bool{actRevoke: true, actRotate: true, actUsage: true}

// route is a parsed UI path.
type route struct {
	kind    routeKind
	path    string // full path of the group or project
	action  string
	tokenID int64
	userID  int64 // the member of a members page action (members.go)
	// rest is what follows a project page's action: "<ref>[/<path>]" for the repository
	// browser, "<ref>/<file name>" for an archive (project_pages.go).
	rest string
}

// parseRoute parses "/", "/groups/<path>[/-/<action>]" and "/<project path>[/-/<action>]", where
// an action is settings/repository, settings/repository/deploy_token/create, audit_events or
// deploy_tokens/<id>/{revoke,rotate,usage}; ok is false for anything else, including Git paths
// (segments ending in .git are never valid).
func parseRoute(p string) (route, bool) {
	if p == "/" {
		return route{kind: homeRoute}, true
	}
	if r, ok := parseNamespaceFormRoute(p); ok {
		return r, true
	}
	if rest, ok := strings.CutPrefix(p, userSettingsPrefix); ok {
		return parseUserSettings(rest)
	}
	if isAdminPath(p) {
		return parseAdminRoute(p)
	}
	rest, ok := strings.CutPrefix(p, "/")
	if !ok {
		return route{}, false
	}
	kind := projectRoute
	if g, ok := strings.CutPrefix(rest, "groups/"); ok {
		kind, rest = groupRoute, g
	}
	full, tail, hasTail := strings.Cut(rest, "/-/")
	segs := strings.Split(full, "/")
	if kind == projectRoute && (len(segs) < 2 || serverPaths[strings.ToLower(segs[0])]) {
		return route{}, false
	}
	for _, s := range segs {
		if namespace.ValidatePath("path", s) != nil {
			return route{}, false
		}
	}
	r := route{kind: kind, path: full}
	if !hasTail {
		return r, true
	}
	switch tail {
	case "settings/repository":
		r.action = actSettings
		return r, true
	case "settings/repository/deploy_token/create":
		r.action = actCreate
		return r, true
	case actAudit:
		r.action = actAudit
		return r, true
	}
	if act, ok := settingsTailAction(kind, tail); ok {
		r.action = act
		return r, true
	}
	if m, ok := parseMembersTail(r, tail); ok {
		return m, true
	}
	if rest, ok := strings.CutPrefix(tail, "deploy_tokens/"); ok {
		idText, act, _ := strings.Cut(rest, "/")
		id, err := strconv.ParseInt(idText, 10, 64)
		if err == nil && id > 0 && strconv.FormatInt(id, 10) == idText && tokenActions[act] {
			r.action, r.tokenID = act, id
			return r, true
		}
	}
	if pr, ok := parseProjectPage(r, tail); ok {
		return pr, true
	}
	return route{}, false
}

// serverPaths are top-level segments other handlers serve; no namespace can take them.
var serverPaths = map[string]bool{"api": true, "v2": true, "jwt": true, "users": true, "assets": true, "metrics": true}

// basePath is the URL of a group's or project's page.
func basePath(kind routeKind, fullPath string) string {
	if kind == userSettingsRoute {
		return "" // the pages' whole paths are their pageSuffix
	}
	if kind == adminRoute {
		return ""
	}
	if kind == groupRoute {
		return "/groups/" + fullPath
	}
	return "/" + fullPath
}

// maxFormBytes bounds every form body.
const maxFormBytes = 64 << 10

// ServeHTTP routes a UI request. Every POST is refused with 403 unless it carries the right CSRF
// token; every page but sign-in needs a session.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "same-origin")
	hdr.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	}
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, "/assets/"):
		h.serveAsset(w, r)
		return
	case p == "/users/sign_in":
		h.handleSignIn(w, r)
		return
	case p == "/users/sign_out":
		h.handleSignOut(w, r)
		return
	}
	rt, ok := parseRoute(r.URL.Path)
	if !ok {
		h.renderError(w, r, nil, http.StatusNotFound)
		return
	}
	downloads := downloadRoute(rt) && h.cfg.Credentials != nil
	if downloads && presentsCredentials(r) {
		h.serveDownload(w, r, rt, false)
		return
	}
	sess, err := h.session(r)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	if sess == nil && downloads && h.serveDownload(w, r, rt, true) {
		return
	}
	if r.Method == http.MethodPost {
		if sess == nil || !sess.checkCSRF(r.PostFormValue(csrfField)) {
			h.renderError(w, r, sess, http.StatusForbidden)
			return
		}
	}
	if sess == nil {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.renderError(w, r, nil, http.StatusForbidden)
			return
		}
		http.Redirect(w, r, "/users/sign_in?redirect_to="+urlQueryEscape(r.URL.Path), http.StatusSeeOther)
		return
	}
	if h.passwordChangeFirst(w, r, sess, rt) {
		return
	}
	if !methodAllowed(rt, r.Method) {
		w.Header().Set("Allow", allowedMethods(rt))
		h.renderError(w, r, sess, http.StatusMethodNotAllowed)
		return
	}
	switch {
	case isNamespaceFormRoute(rt): // first: /groups/new and /projects/new have no action
		err = h.handleNamespaceForm(w, r, sess, rt)
	case rt.kind == homeRoute:
		err = h.handleHome(w, r, sess)
	case rt.kind == userSettingsRoute:
		err = h.handleUserSettings(w, r, sess, rt)
	case rt.kind == adminRoute:
		err = h.handleAdmin(w, r, sess, rt)
	case membersActions[rt.action]:
		err = h.handleMembers(w, r, sess, rt)
	case rt.action == actShow && rt.kind == groupRoute:
		err = h.handleGroup(w, r, sess, rt)
	case rt.action == actShow:
		err = h.handleProject(w, r, sess, rt)
	case rt.action == actAudit:
		err = h.handleAuditEvents(w, r, sess, rt)
	case projectPageActions[rt.action]:
		err = h.handleProjectPage(w, r, sess, rt)
	default:
		err = h.handleDeployTokens(w, r, sess, rt)
	}
	if err != nil {
		h.writeError(w, r, sess, err)
	}
}

// uiRoute is one kind of UI page: the methods it answers and how the gate decides it
// (docs/architecture.md §3.3). A page below a group or a project decides on that namespace.
type uiRoute struct {
	kind    routeKind
	action  string
	methods []string
	rule    gate.Rule
}

var (
	readMethods     = []string{http.MethodGet, http.MethodHead}
	postMethods     = []string{http.MethodPost}
	readPostMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost}
)

// uiRoutes is the route table of the pages behind a session. The token pages decide
// list_deploy_tokens on the namespace first; creating, revoking and rotating then also need
// manage_deploy_tokens (403 without it).
var uiRoutes = slices.Concat([]uiRoute{
	{homeRoute, actShow, readMethods, gate.SignedIn("the user's own start page: a listing of what the user may view").Filtered(access.ViewNamespace)},
	{groupRoute, actShow, readMethods, gate.Decide(access.ViewNamespace).Filtered(access.ViewNamespace)},
	{projectRoute, actShow, readMethods, gate.Decide(access.ViewNamespace)},
}, tokenPages(groupRoute), tokenPages(projectRoute), namespaceFormPages, userSettingsPages, memberPages, adminPages)

// tokenPages are the deploy-token and audit pages of a group or a project.
func tokenPages(kind routeKind) []uiRoute {
	return []uiRoute{
		{kind, actSettings, readMethods, gate.Decide(access.ListDeployTokens)},
		{kind, actCreate, postMethods, gate.Decide(access.ListDeployTokens)},
		{kind, actRevoke, readPostMethods, gate.Decide(access.ListDeployTokens)},
		{kind, actRotate, readPostMethods, gate.Decide(access.ListDeployTokens)},
		{kind, actUsage, readMethods, gate.Decide(access.ListDeployTokens)},
		{kind, actAudit, readMethods, gate.Decide(access.ReadAuditEvents)},
	}
}

// uiRouteOf is the table's entry for a parsed path (parseRoute yields only paths it has).
func uiRouteOf(rt route) uiRoute {
	for _, u := range uiRoutes {
		if u.kind == rt.kind && u.action == rt.action {
			return u
		}
	}
	panic("web: no route table entry for a parsed path")
}

func methodAllowed(rt route, m string) bool { return slices.Contains(uiRouteOf(rt).methods, m) }

func allowedMethods(rt route) string { return strings.Join(uiRouteOf(rt).methods, ", ") }

// Routes lists every UI route with how it is gated: the pages of the route table (with
// {path} for a group's or project's full path and {id} for a deploy token), then the assets and
// sign-in and sign-out, which take no decision.
func Routes() []gate.Route {
	var out []gate.Route
	for _, u := range uiRoutes {
		pattern := "/"
		if u.kind != homeRoute {
			pattern = basePath(u.kind, "{path}") + pageSuffix[u.action]
		}
		if fixed, ok := fixedPaths[u.kind]; ok {
			pattern = fixed
		}
		for _, m := range u.methods {
			out = append(out, gate.Route{Method: m, Pattern: pattern, Rule: u.rule})
		}
	}
	signIn := gate.Public("the sign-in form and sign-in: the password is checked here, under the ban (docs/design.md §6.9)")
	return append(out,
		gate.Route{Method: http.MethodGet, Pattern: "/assets/{file}", Rule: gate.Public("static CSS and script")},
		gate.Route{Method: http.MethodGet, Pattern: "/users/sign_in", Rule: signIn},
		gate.Route{Method: http.MethodPost, Pattern: "/users/sign_in", Rule: signIn},
		gate.Route{Method: http.MethodPost, Pattern: "/users/sign_out", Rule: gate.Public("ends the session it carries, if any (403 without its CSRF token)")})
}

// pageSuffix is the path below a group or project of each page, as parseRoute reads it.
var pageSuffix = map[string]string{
	actShow:     "",
	actSettings: "/-/settings/repository",
	actCreate:   "/-/settings/repository/deploy_token/create",
	actRevoke:   "/-/deploy_tokens/{id}/revoke",
	actRotate:   "/-/deploy_tokens/{id}/rotate",
	actUsage:    "/-/deploy_tokens/{id}/usage",
	actAudit:    "/-/audit_events",
	// namespace_forms.go
	actEdit:        "/-/edit",
	actProjectEdit: "/edit",
	actPath:        "/-/path",
	actTransfer:    "/-/transfer",
	actDelete:      "/-/delete",
	// The signed-in user's own pages (account.go).
	actPATs:         userSettingsPrefix + "personal_access_tokens",
	actPATRevoke:    userSettingsPrefix + "personal_access_tokens/{id}/revoke",
	actPATRotate:    userSettingsPrefix + "personal_access_tokens/{id}/rotate",
	actPasswordEdit: userSettingsPrefix + "password/edit",
	actPassword:     userSettingsPrefix + "password",
	actTree:         "/-/tree/{ref}",
	actBlob:         "/-/blob/{ref}/{file_path}",
	actRaw:          "/-/raw/{ref}/{file_path}",
	actArchive:      "/-/archive/{ref}/{file}",
	actRegistry:     "/-/container_registry",
	actPackages:     "/-/packages",
	actPackage:      "/-/packages/{id}",
}

func init() { maps.Copy(pageSuffix, membersSuffix); maps.Copy(pageSuffix, adminSuffix) }

// statusError is a refusal or "not there" with the status to answer.
type statusError int

func (e statusError) Error() string { return http.StatusText(int(e)) }

const (
	errNotFound  = statusError(http.StatusNotFound)
	errForbidden = statusError(http.StatusForbidden)
)

// writeError maps an error to a page: a statusError to its status, anything else to a logged 500
// whose detail never reaches the browser.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, sess *session, err error) {
	var se statusError
	if errors.As(err, &se) {
		h.renderError(w, r, sess, int(se))
		return
	}
	h.internal(w, r, err)
}

func (h *Handler) internal(w http.ResponseWriter, r *http.Request, err error) {
	httpx.Internal(r.Context(), h.cfg.Log, err)
	h.renderError(w, r, nil, http.StatusInternalServerError)
}

// authorize asks access whether the session's user may do act on res.
func (h *Handler) authorize(r *http.Request, sess *session, res access.Resource, act access.Action) (access.Decision, error) {
	return h.cfg.Gate.Authorize(r.Context(), r, sess.principal(), res, act)
}

// permits asks the gate whether to show res in a listing (not the request's decision).
func (h *Handler) permits(r *http.Request, sess *session, res access.Resource, act access.Action) (bool, error) {
	return h.cfg.Gate.Permits(r.Context(), r, sess.principal(), res, act)
}

// allowed is authorize reduced to yes or no.
func (h *Handler) allowed(r *http.Request, sess *session, res access.Resource, act access.Action) (bool, error) {
	d, err := h.authorize(r, sess, res, act)
	return err == nil && d.Allow(), err
}
