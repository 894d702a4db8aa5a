package jwtauth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
)

// ContainerRegistryService is the token audience of the container registry (docs/design.md §6.3).
const ContainerRegistryService = "container_registry"

// Grantor decides, for one service, which of the actions a scope requests the principal gets.
// It returns the granted subset (possibly empty: denied actions are dropped, not errors); the
// error is only for "could not decide".
type Grantor interface {
	Grant(ctx context.Context, r *http.Request, p access.Principal, s Scope) ([]string, error)
}

// Config is what the token endpoint needs.
type Config struct {
	Issuer *Issuer
	Auth   *authn.Authenticator
	// Services maps each token audience ("service" parameter) to what decides its scopes.
	Services map[string]Grantor
	Log      *slog.Logger
}

// Handler serves GET /jwt/auth, the Docker token endpoint: basic auth (deploy token with its
// username, personal access token, or password; through authn.Basic so the shared failed-auth ban
// applies) or none, then a signed token whose access claim holds requested ∩ allowed. Create it
// with New.
type Handler struct {
	cfg Config
}

// New returns the token endpoint for cfg. It is the package's one handler, as registry.New and
// proxy.New are theirs; the issuer and the project cache it shares have their own constructors.
func New(cfg Config) *Handler {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Handler{cfg: cfg}
}

// Routes lists the token endpoint's route (GET, and HEAD, which ServeHTTP answers alike) with
// how it is gated (docs/architecture.md §3.3).
func Routes() []gate.Route {
	rule := gate.Requested("authenticated by basic auth (or anonymous); the service's grantor decides each action of each requested scope at the gate, and the token holds those allowed")
	return []gate.Route{{Method: http.MethodGet, Pattern: "/jwt/auth", Rule: rule}, {Method: http.MethodHead, Pattern: "/jwt/auth", Rule: rule}}
}

// tokenResponse is the Docker token spec's answer.
type tokenResponse struct {
	Token       string `json:"token"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
	IssuedAt    string `json:"issued_at"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		h.fail(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "the token endpoint answers GET only")
		return
	}
	q := r.URL.Query()
	service := q.Get("service")
	grantor, ok := h.cfg.Services[service]
	if !ok {
		h.fail(w, http.StatusNotFound, "UNSUPPORTED", "unknown service")
		return
	}
	scopes, err := ParseScopes(q["scope"])
	if err != nil {
		h.fail(w, http.StatusBadRequest, "UNSUPPORTED", err.Error())
		return
	}
	ctx := r.Context()
	p, err := h.cfg.Auth.Basic(ctx, r)
	switch {
	case errors.Is(err, authn.ErrBanned):
		h.fail(w, http.StatusForbidden, "DENIED", err.Error())
		return
	case errors.Is(err, authn.ErrInvalidCredentials), errors.Is(err, authn.ErrDeployTokenNotAllowed):
		w.Header().Set("WWW-Authenticate", `Basic realm="Gatehouse"`)
		h.fail(w, http.StatusUnauthorized, "UNAUTHORIZED", "invalid username or token")
		return
	case err != nil:
		h.internal(w, r, err)
		return
	}
	if p.Kind == access.DeployTokenPrincipal && !p.DeployToken.Active(h.cfg.Auth.Deploy.Now()) {
		w.Header().Set("WWW-Authenticate", `Basic realm="Gatehouse"`)
		h.fail(w, http.StatusUnauthorized, "UNAUTHORIZED", "deploy token is revoked or expired")
		return
	}
	granted, err := h.grant(ctx, r, grantor, p, scopes)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	t, err := h.cfg.Issuer.Issue(service, p, granted)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	writeToken(w, t)
}

// response is the token endpoint's answer for t.
func (t Issued) response() tokenResponse {
	return tokenResponse{Token: t.Token, AccessToken: t.Token,
		ExpiresIn: int(t.TTL / time.Second), IssuedAt: t.IssuedAt.UTC().Format(time.RFC3339)}
}

// writeToken answers 200 with t's token response, as httpx.WriteJSON would encode it, with a
// Content-Length: the body rendered when t was issued, else through httpx.WriteJSON.
func writeToken(w http.ResponseWriter, t Issued) {
	if t.answer == nil {
		httpx.WriteJSON(w, http.StatusOK, t.response())
		return
	}
	// Canonical keys set directly, their values in one array: this runs for every token.
	v := [...]string{"application/json", strconv.Itoa(len(t.answer))}
	h := w.Header()
	h["Content-Type"], h["Content-Length"] = v[0:1:1], v[1:2:2]
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(t.answer)
}

// tokenAnswer renders tr as encoding/json would, or returns nil when it needs escaping. A JWT
// is base64url and dots, and the time RFC 3339: nothing to escape, so the body (the token
// twice, about 2 KiB) is put together directly instead of through encoding/json, which scans
// every byte.
func tokenAnswer(tr tokenResponse) []byte {
	if !plainJSON(tr.Token) || !plainJSON(tr.IssuedAt) {
		return nil
	}
	b := make([]byte, 0, 2*len(tr.Token)+96)
	b = append(b, `{"token":"`...)
	b = append(b, tr.Token...)
	b = append(b, `","access_token":"`...)
	b = append(b, tr.Token...)
	b = append(b, `","expires_in":`...)
	b = strconv.AppendInt(b, int64(tr.ExpiresIn), 10)
	b = append(b, `,"issued_at":"`...)
	b = append(b, tr.IssuedAt...)
	b = append(b, "\"}\n"...)
	return b
}

// plainJSON reports whether s is the same inside a JSON string: letters, digits and "-_.:+".
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if !plainByte[s[i]] {
			return false
		}
	}
	return true
}

// plainByte are the bytes plainJSON accepts.
var plainByte = func() (t [256]bool) {
	for _, c := range []byte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:+") {
		t[c] = true
	}
	return t
}()

// grant asks the service's grantor about every scope and merges the answers per resource,
// actions in canonical order.
func (h *Handler) grant(ctx context.Context, r *http.Request, g Grantor, p access.Principal, scopes []Scope) ([]ResourceActions, error) {
	var out []ResourceActions
	for _, s := range scopes {
		actions, err := g.Grant(ctx, r, p, s)
		if err != nil {
			return nil, err
		}
		if len(actions) == 0 {
			continue
		}
		// A request names a few scopes: a search finds the resource's entry without a map.
		i := slices.IndexFunc(out, func(ra ResourceActions) bool { return ra.Type == s.Type && ra.Name == s.Name })
		if i < 0 {
			i = len(out)
			out = append(out, ResourceActions{Type: s.Type, Name: s.Name})
		}
		out[i].Actions = mergeActions(out[i].Actions, actions)
	}
	return out, nil
}

// mergeActions returns the union of a and b, ordered pull, push, delete, "*", then the rest in
// the order given. Action lists are short: searching them costs less than a set.
func mergeActions(a, b []string) []string {
	all := append(append(make([]string, 0, len(a)+len(b)), a...), b...)
	out := make([]string, 0, len(all))
	for _, x := range canonicalActions {
		if slices.Contains(all, x) {
			out = append(out, x)
		}
	}
	for _, x := range all {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// canonicalActions are the actions mergeActions puts first, in this order.
var canonicalActions = append(slices.Clone(ImageActions), All)

type wireError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (h *Handler) fail(w http.ResponseWriter, status int, code, msg string) {
	httpx.WriteJSON(w, status, map[string][]wireError{"errors": {{Code: code, Message: msg}}})
}

// internal answers an error the request cannot be decided for: 503 (as the registry answers,
// docs/operations.md) while the database does not answer, else 500.
func (h *Handler) internal(w http.ResponseWriter, r *http.Request, err error) {
	httpx.Internal(r.Context(), h.cfg.Log, err)
	if errors.Is(err, errkind.ErrUnavailable) {
		h.fail(w, http.StatusServiceUnavailable, "UNAVAILABLE", "storage does not answer, try again")
		return
	}
	h.fail(w, http.StatusInternalServerError, "UNKNOWN", "internal server error")
}

// RegistryGrantor decides scopes for the container registry: repository:<name>:pull,push,delete
// through access (pull→PullImage, push→PushImage, delete→DeleteImage, "*"→each of them), and
// registry:catalog:* for administrators.
type RegistryGrantor struct {
	Projects *ProjectCache
	Gate     *gate.Gate
}

// Grant implements Grantor.
func (g *RegistryGrantor) Grant(ctx context.Context, r *http.Request, p access.Principal, s Scope) ([]string, error) {
	switch s.Type {
	case RepositoryType:
		name, err := oci.ParseName(s.Name)
		if err != nil {
			return nil, nil
		}
		project, err := g.Projects.Resolve(ctx, name)
		if errors.Is(err, errkind.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return grantEach(ctx, r, g.Gate, p, access.Resource{Project: project}, s.Actions, ImageAction)
	case RegistryType:
		if s.Name != "catalog" {
			return nil, nil
		}
		for _, a := range s.Actions {
			if a != All {
				continue
			}
			d, err := g.Gate.Authorize(ctx, r, p, access.Resource{}, access.AdministerInstance)
			if err != nil || !d.Allow() {
				return nil, err
			}
			return []string{All}, nil
		}
	}
	return nil, nil
}

// grantEach asks the audited gate about each token action of a scope ("*": each of them) on
// res, mapping them to access actions with action (unknown ones are dropped), and returns those
// allowed.
func grantEach(ctx context.Context, r *http.Request, gt *gate.Gate, p access.Principal, res access.Resource,
	actions []string, action func(string) (access.Action, bool)) ([]string, error) {
	var out []string
	for _, a := range expand(actions) {
		act, ok := action(a)
		if !ok {
			continue
		}
		d, err := gt.Authorize(ctx, r, p, res, act)
		if err != nil {
			return nil, err
		}
		if d.Allow() {
			out = append(out, a)
		}
	}
	return out, nil
}

// expand replaces "*" by every image action.
func expand(actions []string) []string {
	for _, a := range actions {
		if a == All {
			return ImageActions
		}
	}
	return actions
}
