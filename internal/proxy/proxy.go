// Package proxy is the container dependency proxy: a per-group pull-through cache of an
// upstream registry (Docker Hub by default) at
// /v2/<group path>/dependency_proxy/containers/<image>/manifests/<tag|digest> and …/blobs/<digest>
// (GET, HEAD, and DELETE of cached content; pushes are not supported, as in GitLab).
//
// Every request passes one dispatcher that parses the path, looks up the access it needs in the
// route table, checks the bearer token (issued by /jwt/auth for service "dependency_proxy", or
// for "container_registry", which clients ask for after the shared /v2/ challenge) and asks
// access for the decision on the group (ProxyPull, ProxyDelete), before any handler runs.
//
// Cache: manifests and blobs are stored byte for byte in the shared blob store under their
// digests and recorded per group. A miss is fetched from the upstream once per digest or tag
// however many clients ask at once (singleflight); a blob is teed to the first client and to a
// blob upload at the same time, and the upload is committed only after a full copy whose digest
// is verified, on a context detached from the client with a timeout, so neither a client that
// goes away nor an upstream that sends wrong bytes leaves a partial or false cache entry. The
// client's last chunk is held back until that check passes, so it never receives a complete
// blob with the wrong digest either. A cached tag older than the TTL is checked with a HEAD
// (the upstream's Docker-Content-Digest decides); when the upstream cannot be reached the cached
// copy is served.
package proxy

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/ocihttp"
)

// Service is the token audience of the dependency proxy (docs/design.md §6.5).
const Service = "dependency_proxy"

// Defaults of Config.
const (
	DefaultTagTTL       = 24 * time.Hour
	DefaultFetchTimeout = time.Hour
)

// Config is what the proxy needs.
type Config struct {
	Store      Store
	Blobs      blob.Store
	Groups     Groups
	Principals Principals
	Tokens     Tokens
	Gate       *gate.Gate
	Upstream   *Upstream
	// Realm is the token endpoint clients are sent to (<external URL>/jwt/auth).
	Realm string
	// TagTTL is how long a cached tag is served without asking the upstream; DefaultTagTTL if 0.
	TagTTL time.Duration
	// FetchTimeout bounds one upstream fetch into the cache; DefaultFetchTimeout if 0.
	FetchTimeout time.Duration
	// RedirectBlobs sends cached blob GETs to the store's presigned URLs when it can make them.
	RedirectBlobs bool
	// Fence, when set, is checked after every cache record is written (garbage collection runs
	// alongside).
	Fence Fence
	Log   *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Handler serves the dependency proxy's part of /v2/ (see Matches).
type Handler struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	flights singleflight.Group
}

// New returns the proxy handler.
func New(cfg Config) *Handler {
	if cfg.TagTTL <= 0 {
		cfg.TagTTL = DefaultTagTTL
	}
	if cfg.FetchTimeout <= 0 {
		cfg.FetchTimeout = DefaultFetchTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Handler{cfg: cfg, log: cfg.Log, now: cfg.Now}
}

// grant is what the dispatcher hands a handler once the request is authorized; handlers cannot
// be reached without one.
type grant struct {
	principal access.Principal
	group     *namespace.Group
}

// ServeHTTP is the dispatcher: parse, look up the route's access, authorize once, then serve.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	rt, err := parsePath(r.URL.Path)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ep, ok := routes[rt.kind][r.Method]
	if !ok {
		w.Header().Set("Allow", allowHeader(rt.kind))
		h.writeError(w, r, ocihttp.Fail(ocihttp.CodeUnsupported, "the dependency proxy only serves pulls and deletes of cached content"))
		return
	}
	g, err := h.authorize(w, r, rt, ep.need)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ep.serve(h, w, r, rt, g)
}

// proxyAction maps a token action to the access action it needs on the group.
func proxyAction(a string) access.Action {
	switch a {
	case actionPull:
		return access.ProxyPull
	case actionDelete:
		return access.ProxyDelete
	}
	return access.ProxyPush
}

// authorize checks the bearer token and asks access for every action the route needs, on the
// group. The grant is requested ∩ allowed-now: the token must carry the action for the image,
// and the credential behind it must still be allowed to do it. Anonymous requests are always
// challenged: the proxy needs a credential, even for a public group. It writes the 401
// challenge itself.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request, rt route, need []string) (grant, error) {
	ctx := r.Context()
	raw, bearer := authn.Bearer(r)
	if !bearer {
		return grant{}, h.challenge(w, rt, need, "", "")
	}
	claims, err := h.cfg.Tokens.VerifyBearer(raw)
	if err != nil {
		return grant{}, h.challenge(w, rt, need, "invalid_token", "the bearer token is invalid or expired")
	}
	p, err := access.Recheck(ctx, h.cfg.Principals, h.now(), access.CredentialIDs{
		DeployToken: claims.DeployTokenID, User: claims.UserID, PersonalToken: claims.PersonalTokenID,
		DeployTokenBinding: claims.DeployTokenSecret})
	if errors.Is(err, access.ErrInactive) {
		return grant{}, h.challenge(w, rt, need, "invalid_token", access.ErrInactive.Error())
	}
	if err != nil {
		return grant{}, err
	}
	group, err := h.cfg.Groups.GroupByPath(ctx, rt.name.Group)
	if err != nil && !errors.Is(err, errkind.ErrNotFound) {
		return grant{}, err
	}
	name := rt.name.Name.String()
	var missing, forbidden bool
	var reason string
	for _, a := range need {
		d := access.Decision{Denial: access.NotFound, Reason: "no such group"}
		if group != nil {
			if d, err = h.cfg.Gate.Authorize(ctx, r, p, access.Resource{Group: group}, proxyAction(a)); err != nil {
				return grant{}, err
			}
		}
		switch {
		case d.Allow():
			missing = missing || claims.Allows == nil || !claims.Allows("repository", name, a)
		case d.Denial == access.Unauthenticated || (d.Denial == access.NotFound && p.Kind == access.Anonymous):
			return grant{}, h.challenge(w, rt, need, "insufficient_scope", "")
		case d.Denial == access.NotFound:
			if group == nil && p.Kind == access.UserPrincipal && p.User.Admin {
				return grant{}, ocihttp.Fail(ocihttp.CodeNameUnknown, "no such group")
			}
			// Whether the group exists is not for this credential to learn.
			return grant{}, ocihttp.Fail(ocihttp.CodeDenied, "")
		default:
			forbidden, reason = true, d.Reason
		}
	}
	if forbidden {
		return grant{}, ocihttp.Fail(ocihttp.CodeDenied, "%s", reason)
	}
	if missing {
		return grant{}, h.challenge(w, rt, need, "insufficient_scope", "")
	}
	return grant{principal: p, group: group}, nil
}

// challenge writes the Bearer challenge header (realm, service "dependency_proxy", the scope the
// route needs, and error= when a token was presented) and returns the 401 error to answer with.
func (h *Handler) challenge(w http.ResponseWriter, rt route, need []string, errParam, detail string) error {
	v := fmt.Sprintf(`Bearer realm=%q,service=%q`, h.cfg.Realm, Service)
	if len(need) > 0 {
		v += fmt.Sprintf(`,scope=%q`, "repository:"+rt.name.Name.String()+":"+strings.Join(need, ","))
	}
	if errParam != "" {
		v += fmt.Sprintf(`,error=%q`, errParam)
	}
	w.Header().Set("WWW-Authenticate", v)
	return ocihttp.Fail(ocihttp.CodeUnauthorized, "%s", detail)
}
