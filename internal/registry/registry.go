// Package registry serves the OCI Distribution Spec v1.1 (Docker Registry HTTP API v2) under
// /v2/: pulls, pushes (monolithic, chunked, cross-repository mounts), tag listing, deletion and
// the referrers API. Image names are <project path>[/<name>]. Every request passes one dispatcher
// that parses the path, looks up the access it needs in the route table, checks the bearer token
// (issued by jwtauth) and asks access for the decision, before any handler runs.
//
// Storage: blob bytes (layers, configs, and manifests, stored byte for byte) live in a
// blob.Store under their digest. Which repository may serve which blob is metadata in the Store:
// a blob is linked into a repository when it is pushed or mounted there, after the upload is
// committed and its digest verified. Deleting a blob or a manifest removes the link or the row at
// once; the bytes stay until garbage collection, which can find every referenced digest in the
// blob links, the manifests and their recorded references. Stores that can presign URLs
// (blob.Redirector, S3) serve blob GETs by redirect when RedirectBlobs is set.
package registry

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/jwtauth"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
	"github.com/gatehouse-dev/gatehouse/internal/ocihttp"
)

// Config is what the registry needs.
type Config struct {
	Store Store
	Blobs blob.Store
	// Projects resolves image names to projects (shared with the token endpoint).
	Projects   *jwtauth.ProjectCache
	Principals Principals
	Tokens     *jwtauth.Issuer
	Auth       *authn.Authenticator
	// Realm is the token endpoint clients are sent to (<external URL>/jwt/auth).
	Realm string
	// Service is the token audience; jwtauth.ContainerRegistryService by default.
	Service string
	// UploadSecret keys the MAC that binds an upload session to its repository.
	UploadSecret []byte
	// RedirectBlobs sends blob GETs to the store's presigned URLs when it can make them.
	RedirectBlobs bool
	// Fence, when set, is checked after every write that makes a blob reachable (garbage
	// collection runs alongside pushes).
	Fence BlobFence
	Log   *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Handler serves /v2/.
type Handler struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	gate    *ocihttp.Gate
	uploads uploadLocks
}

// New returns the registry handler.
func New(cfg Config) *Handler {
	if cfg.Service == "" {
		cfg.Service = jwtauth.ContainerRegistryService
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Handler{cfg: cfg, log: cfg.Log, now: cfg.Now, gate: &ocihttp.Gate{Tokens: cfg.Tokens,
		Services: []string{cfg.Service}, Principals: cfg.Principals, Auth: cfg.Auth, Realm: cfg.Realm, Now: cfg.Now}}
}

// grant is what the dispatcher hands a handler once the request is authorized; handlers cannot
// be reached without one.
type grant struct {
	principal access.Principal
	// project owns the repository (nil for the base and catalog endpoints).
	project *namespace.Project
	// mount is the source repository of a cross-repository mount the principal may read (with
	// the project that owns it), or the zero Repository.
	mount oci.Repository
}

// repo is the repository the route names, in the project that owns it: the store finds
// repositories by both, so no project reaches another's repository of the same name.
func (g grant) repo(rt route) oci.Repository {
	return oci.Repository{ProjectID: g.project.ID, Name: rt.Name}
}

// dispatcher serves every request: parse, look up the route's access, authorize once, then serve.
var dispatcher = ocihttp.Dispatcher[*Handler, oci.Name, grant]{Routes: routes, Parse: parsePath,
	Authorize: (*Handler).authorize, WriteError: (*Handler).writeError, Unsupported: "method not allowed"}

// ServeHTTP is the dispatcher (ocihttp.Dispatcher).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { dispatcher.Serve(h, w, r) }

// authorize checks the bearer token (anonymous requests may pull public images) and asks access
// for every action the route needs (ocihttp.Gate). It writes the 401 challenge itself.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request, rt route, need []string) (grant, error) {
	ctx := r.Context()
	c, err := h.gate.Authenticate(w, r, scopes(rt, need, ""))
	if err != nil {
		return grant{}, err
	}
	p := c.Principal
	switch rt.Kind {
	case ocihttp.KindBase:
		if c.Claims == nil {
			return grant{}, h.gate.Challenge(w, nil, "", "")
		}
		return grant{principal: p}, nil
	case ocihttp.KindCatalog:
		d, err := h.cfg.Auth.Authorize(ctx, r, p, access.Resource{}, access.AdministerInstance)
		switch {
		case err != nil:
			return grant{}, err
		case d.Allow() && c.Claims != nil && c.Has(jwtauth.RegistryType, "catalog", jwtauth.All):
			return grant{principal: p}, nil
		case d.Allow() || p.Kind == access.Anonymous:
			return grant{}, h.gate.Challenge(w, scopes(rt, need, ""), c.ChallengeError(), "")
		}
		return grant{}, ocihttp.Fail(ocihttp.CodeDenied, "the catalog is for administrators")
	}

	project, err := h.cfg.Projects.Resolve(ctx, rt.Name)
	if err != nil && !errors.Is(err, errkind.ErrNotFound) {
		return grant{}, err
	}
	t := ocihttp.Target{Name: rt.Name.String()}
	if project != nil {
		t.Resource = &access.Resource{Project: project}
	}
	if err := h.gate.Authorize(w, r, c, t, need, jwtauth.ImageAction); err != nil {
		return grant{}, err
	}
	g := grant{principal: p, project: project}
	if rt.Kind == ocihttp.KindUploadStart {
		if err := h.authorizeMount(w, r, rt, need, c, &g); err != nil {
			return grant{}, err
		}
	}
	return g, nil
}

// authorizeMount decides a cross-repository mount (?mount=&from=): it needs pull on the source
// too. A source the principal may not read is not an error: the POST falls back to a normal
// upload (202), revealing nothing. A source it may read but its token lacks is challenged, so the
// client fetches a token covering both repositories.
func (h *Handler) authorizeMount(w http.ResponseWriter, r *http.Request, rt route, need []string, c ocihttp.Caller, g *grant) error {
	q := r.URL.Query()
	from := q.Get("from")
	if q.Get("mount") == "" || from == "" {
		return nil
	}
	src, err := oci.ParseName(from)
	if err != nil {
		return nil
	}
	if src == rt.Name {
		g.mount = g.repo(rt)
		return nil
	}
	ctx := r.Context()
	project, err := h.cfg.Projects.Resolve(ctx, src)
	if errors.Is(err, errkind.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	d, err := h.cfg.Auth.Authorize(ctx, r, c.Principal, access.Resource{Project: project}, access.PullImage)
	if err != nil || !d.Allow() {
		return err
	}
	if !c.Has(jwtauth.RepositoryType, src.String(), jwtauth.Pull) {
		return h.gate.Challenge(w, scopes(rt, need, src), "insufficient_scope", "")
	}
	g.mount = oci.Repository{ProjectID: project.ID, Name: src}
	return nil
}

// scopes are what a challenge for the route asks for: the scope the route needs (the catalog's,
// or need on its repository), plus pull on a mount source.
func scopes(rt route, need []string, mountSrc oci.Name) []string {
	var s []string
	switch {
	case rt.Kind == ocihttp.KindCatalog:
		s = append(s, "registry:catalog:*")
	case rt.Name != "" && len(need) > 0:
		s = append(s, ocihttp.RepositoryScope(rt.Name.String(), need))
	}
	if mountSrc != "" {
		s = append(s, ocihttp.RepositoryScope(mountSrc.String(), []string{jwtauth.Pull}))
	}
	return s
}

func (h *Handler) serveBase(w http.ResponseWriter, r *http.Request, _ route, _ grant) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", "2")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte("{}"))
	}
}

// uploadMAC binds an upload id to its repository, so a session cannot be driven through another
// repository's URL.
func (h *Handler) uploadMAC(name oci.Name, id string) string {
	m := hmac.New(sha256.New, h.cfg.UploadSecret)
	m.Write([]byte(name))
	m.Write([]byte{0})
	m.Write([]byte(id))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

func (h *Handler) checkUploadMAC(name oci.Name, id, mac string) bool {
	return hmac.Equal([]byte(h.uploadMAC(name, id)), []byte(mac))
}
