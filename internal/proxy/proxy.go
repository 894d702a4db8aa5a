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
// however many clients ask at once (singleflight; a blob across the nodes too, FetchLocks); a
// blob is teed to the first client and to a blob upload at the same time, and the upload is
// committed only after a full copy whose digest is verified, on a context detached from the
// client with a timeout, so neither a client that goes away nor an upstream that sends wrong
// bytes leaves a partial or false cache entry. The client's last chunk is held back until that
// check passes, so it never receives a complete blob with the wrong digest either. A cached tag
// older than the TTL is checked with a HEAD (the upstream's Docker-Content-Digest decides);
// when the upstream cannot be reached the cached copy is served.
package proxy

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/jwtauth"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
	"github.com/gatehouse-dev/gatehouse/internal/ocihttp"
)

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
	Tokens     *jwtauth.Issuer
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
	// FetchLocks, when set, let one node of a cluster at a time fetch a blob from the
	// upstream; nil leaves the de-duplication to this process (enough for one node).
	FetchLocks FetchLocks
}

// FetchLocks serialise the upstream fetches of one blob across every node of a cluster
// (docs/architecture.md §4.5): the node that waited finds the blob in the shared store and
// only asks the upstream to confirm it (a HEAD), so N nodes pulling one uncached blob at once
// download it once.
type FetchLocks interface {
	// Lock waits until it holds key and returns the function that releases it; ctx ending
	// stops the wait with ctx's error.
	Lock(ctx context.Context, key string) (unlock func(), err error)
}

// Handler serves the dependency proxy's part of /v2/ (see Matches).
type Handler struct {
	cfg     Config
	gate    *ocihttp.Gate
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
	// Tokens for the container registry are accepted too: clients follow the /v2/ challenge,
	// which names the registry's service, whichever image they pull (docs/design.md §6.5).
	return &Handler{cfg: cfg, gate: &ocihttp.Gate{Tokens: cfg.Tokens,
		Services:   []string{jwtauth.DependencyProxyService, jwtauth.ContainerRegistryService},
		Principals: cfg.Principals, Gate: cfg.Gate, Realm: cfg.Realm, Now: cfg.Now}}
}

// grant is what the dispatcher hands a handler once the request is authorized; handlers cannot
// be reached without one.
type grant struct {
	principal access.Principal
	group     *namespace.Group
}

// dispatcher serves every request: parse, look up the route's access, authorize once, then serve.
var dispatcher = ocihttp.Dispatcher[*Handler, oci.ProxyName, grant]{Routes: routes, Parse: parsePath,
	Authorize: (*Handler).authorize, WriteError: (*Handler).writeError,
	Unsupported: "the dependency proxy only serves pulls and deletes of cached content"}

// ServeHTTP is the dispatcher (ocihttp.Dispatcher).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { dispatcher.Serve(h, w, r) }

// authorize checks the bearer token and asks access for every action the route needs, on the
// group (ocihttp.Gate). Anonymous requests are always challenged: the proxy needs a credential,
// even for a public group. It writes the 401 challenge itself.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request, rt route, need []string) (grant, error) {
	name := rt.Name.Name.String()
	scopes := []string{ocihttp.RepositoryScope(name, need)}
	c, err := h.gate.Authenticate(w, r, scopes)
	if err != nil {
		return grant{}, err
	}
	if c.Claims == nil {
		return grant{}, h.gate.Challenge(w, scopes, "", "")
	}
	group, err := h.cfg.Groups.GroupByPath(r.Context(), rt.Name.Group)
	if err != nil && !errors.Is(err, errkind.ErrNotFound) {
		return grant{}, err
	}
	t := ocihttp.Target{Name: name, Unknown: "no such group"}
	if group != nil {
		t.Resource = &access.Resource{Group: group}
	}
	if err := h.gate.Authorize(w, r, c, t, need, jwtauth.ProxyAction); err != nil {
		return grant{}, err
	}
	return grant{principal: c.Principal, group: group}, nil
}
