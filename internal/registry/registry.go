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
	"log/slog"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
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
	Gate       *gate.Gate
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
	// UploadLocks serialise the requests on one upload session; nil means within this process
	// only, enough for one node.
	UploadLocks UploadLocks
}

// Handler serves /v2/.
type Handler struct {
	cfg  Config
	gate *ocihttp.Gate
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
	if cfg.UploadLocks == nil {
		cfg.UploadLocks = new(localUploadLocks)
	}
	return &Handler{cfg: cfg, gate: &ocihttp.Gate{Tokens: cfg.Tokens,
		Services: []string{cfg.Service}, Principals: cfg.Principals, Gate: cfg.Gate, Realm: cfg.Realm, Now: cfg.Now}}
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
