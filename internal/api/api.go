// Package api serves Gatehouse's GitLab-shaped REST API v4 (JSON). Deploy tokens are refused by
// construction: the API authenticates personal access tokens only.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
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
}

type endpoint func(w http.ResponseWriter, r *request) error

// routes lists every API route. Each endpoint authorizes through h.authorize before acting.
func (h *Handler) routes() *http.ServeMux {
	m := http.NewServeMux()
	add := func(pattern string, e endpoint) { m.Handle(pattern, h.wrap(e)) }
	add("GET /api/v4/version", h.version)
	add("GET /api/v4/user", h.currentUser)
	add("GET /api/v4/users", h.listUsers)
	add("POST /api/v4/users", h.createUser)
	add("GET /api/v4/users/{id}", h.getUser)
	add("POST /api/v4/users/{id}/personal_access_tokens", h.createPersonalToken)
	add("GET /api/v4/personal_access_tokens/self", h.personalTokenSelf)

	add("GET /api/v4/groups", h.listGroups)
	add("POST /api/v4/groups", h.createGroup)
	add("GET /api/v4/groups/{id}", h.getGroup)
	add("GET /api/v4/groups/{id}/subgroups", h.listSubgroups)
	add("GET /api/v4/groups/{id}/members", h.listGroupMembers)
	add("POST /api/v4/groups/{id}/members", h.addGroupMember)
	add("GET /api/v4/groups/{id}/members/{user_id}", h.getMember)
	add("PUT /api/v4/groups/{id}/members/{user_id}", h.updateMember)
	add("DELETE /api/v4/groups/{id}/members/{user_id}", h.removeMember)

	add("GET /api/v4/projects", h.listProjects)
	add("POST /api/v4/projects", h.createProject)
	add("GET /api/v4/projects/{id}", h.getProject)
	add("GET /api/v4/projects/{id}/members", h.listProjectMembers)
	add("POST /api/v4/projects/{id}/members", h.addProjectMember)
	add("GET /api/v4/projects/{id}/members/{user_id}", h.getMember)
	add("PUT /api/v4/projects/{id}/members/{user_id}", h.updateMember)
	add("DELETE /api/v4/projects/{id}/members/{user_id}", h.removeMember)

	add("GET /api/v4/projects/{id}/ci/variables/predefined", h.listCIVariables)

	add("GET /api/v4/audit_events", h.listInstanceAuditEvents)
	add("GET /api/v4/projects/{id}/audit_events", h.listProjectAuditEvents)
	add("GET /api/v4/groups/{id}/audit_events", h.listGroupAuditEvents)

	add("GET /api/v4/deploy_tokens", h.listAllDeployTokens)
	add("GET /api/v4/projects/{id}/deploy_tokens", h.listProjectDeployTokens)
	add("POST /api/v4/projects/{id}/deploy_tokens", h.createProjectDeployToken)
	add("GET /api/v4/projects/{id}/deploy_tokens/{token_id}", h.getProjectDeployToken)
	add("DELETE /api/v4/projects/{id}/deploy_tokens/{token_id}", h.deleteProjectDeployToken)
	add("POST /api/v4/projects/{id}/deploy_tokens/{token_id}/rotate", h.rotateProjectDeployToken)
	add("GET /api/v4/groups/{id}/deploy_tokens", h.listGroupDeployTokens)
	add("POST /api/v4/groups/{id}/deploy_tokens", h.createGroupDeployToken)
	add("GET /api/v4/groups/{id}/deploy_tokens/{token_id}", h.getGroupDeployToken)
	add("DELETE /api/v4/groups/{id}/deploy_tokens/{token_id}", h.deleteGroupDeployToken)
	add("POST /api/v4/groups/{id}/deploy_tokens/{token_id}/rotate", h.rotateGroupDeployToken)
	add("GET /api/v4/projects/{id}/deploy_tokens/{token_id}/usage", h.projectDeployTokenUsage)
	add("GET /api/v4/groups/{id}/deploy_tokens/{token_id}/usage", h.groupDeployTokenUsage)
	if h.cfg.ExternalAuthorization != nil {
		add("GET /api/v4/application/settings", h.getApplicationSettings)
		add("PUT /api/v4/application/settings", h.putApplicationSettings)
		add("PUT /api/v4/projects/{id}", h.editProject)
	}
	if h.cfg.DependencyProxy != nil {
		add("GET /api/v4/groups/{id}/dependency_proxy", h.getDependencyProxy)
		add("PUT /api/v4/groups/{id}/dependency_proxy", h.putDependencyProxy)
		add("DELETE /api/v4/groups/{id}/dependency_proxy/cache", h.purgeDependencyProxy)
	}
	if h.cfg.ExpiryJob != nil {
		add("POST /api/v4/admin/jobs/deploy-token-expiry/run", h.runDeployTokenExpiry)
	}
	if h.cfg.Packages != nil {
		add("GET /api/v4/projects/{id}/packages", h.listProjectPackages)
		add("GET /api/v4/projects/{id}/packages/{package_id}", h.getProjectPackage)
		add("DELETE /api/v4/projects/{id}/packages/{package_id}", h.deleteProjectPackage)
		add("GET /api/v4/projects/{id}/packages/{package_id}/package_files", h.listPackageFiles)
		add("DELETE /api/v4/projects/{id}/packages/{package_id}/package_files/{package_file_id}", h.deletePackageFile)
		add("GET /api/v4/groups/{id}/packages", h.listGroupPackages)
	}
	m.Handle("/api/v4/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeMessage(w, http.StatusNotFound, "404 Not Found")
	}))
	return m
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// maxBody bounds API request bodies.
const maxBody = 1 << 20

// wrap authenticates, parses parameters and maps errors; it never logs headers or bodies.
func (h *Handler) wrap(e endpoint) http.Handler {
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
		if err := e(w, &request{Request: r, principal: p, params: params, external: h.cfg.ExternalURL}); err != nil {
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

// writeError is the API's one error writer: domain kinds (every errkind kind, authn's) → status
// + {"message": …}. Unknown errors are logged with the request ID and answered with a generic 500.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var ve *errkind.ValidationError
	var fe *errkind.ForbiddenError
	switch {
	case errors.As(err, &ae):
		if ae.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="Gatehouse API"`)
		}
		writeMessage(w, ae.status, ae.message)
	case errors.As(err, &ve):
		writeMessage(w, http.StatusBadRequest, ve.Error())
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

// requireUser refuses anonymous requests.
func requireUser(r *request) error {
	if r.principal.Kind != access.UserPrincipal {
		return errUnauthorized
	}
	return nil
}

// readParams merges the query string with a JSON or form body, as GitLab accepts both. JSON
// arrays become repeated values; form keys like "scopes[]" lose the brackets.
func readParams(r *http.Request) (url.Values, error) {
	out := url.Values{}
	add := func(k string, v string) { out.Add(strings.TrimSuffix(k, "[]"), v) }
	for k, vs := range r.URL.Query() {
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
	default:
		return nil, &apiError{http.StatusUnsupportedMediaType, "415 Unsupported Media Type"}
	}
	return out, nil
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

// intParam parses an integer parameter; missing gives 0.
func intParam(r *request, name string) (int64, error) {
	v := r.params.Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, badRequest("%s is invalid", name)
	}
	return n, nil
}

// boolParam reads a boolean parameter as GitLab's API does: "true", "True", "1", "yes", "on",
// "t" and "y" (any case) are true; anything else, or missing, is false. python-gitlab sends
// Python's "True" in query strings.
func boolParam(r *request, name string) bool {
	switch strings.ToLower(strings.TrimSpace(r.params.Get(name))) {
	case "true", "1", "yes", "on", "t", "y":
		return true
	}
	return false
}

// paginate writes a page of items with GitLab's pagination headers (page, per_page; X-Total,
// X-Total-Pages, X-Next-Page, Link).
func paginate[T any](w http.ResponseWriter, r *request, items []T) {
	page, _ := strconv.Atoi(r.params.Get("page"))
	per, _ := strconv.Atoi(r.params.Get("per_page"))
	if page < 1 {
		page = 1
	}
	if per < 1 {
		per = 20
	}
	per = min(per, 100)
	total := len(items)
	pages := max(1, (total+per-1)/per)
	start := min((page-1)*per, total)
	end := min(start+per, total)
	h := w.Header()
	h.Set("X-Page", strconv.Itoa(page))
	h.Set("X-Per-Page", strconv.Itoa(per))
	h.Set("X-Total", strconv.Itoa(total))
	h.Set("X-Total-Pages", strconv.Itoa(pages))
	if page < pages {
		h.Set("X-Next-Page", strconv.Itoa(page+1))
		u := *r.URL
		q := u.Query()
		q.Set("page", strconv.Itoa(page+1))
		q.Set("per_page", strconv.Itoa(per))
		u.RawQuery = q.Encode()
		h.Set("Link", `<`+externalPath(r, &u)+`>; rel="next"`)
	} else {
		h.Set("X-Next-Page", "")
	}
	page1 := items[start:end]
	if page1 == nil {
		page1 = []T{}
	}
	httpx.WriteJSON(w, http.StatusOK, page1)
}

// externalPath renders u as an absolute URL for Link headers: under the configured external URL,
// so clients behind a TLS-terminating proxy (python-gitlab follows Link) stay on the public
// address, or else on the request's own host.
func externalPath(r *request, u *url.URL) string {
	if r.external != "" {
		return strings.TrimRight(r.external, "/") + u.RequestURI()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + u.RequestURI()
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
