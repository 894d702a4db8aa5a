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
	"fmt"
	"log/slog"
	"net/http"
	"strings"
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
	return &Handler{cfg: cfg, log: cfg.Log, now: cfg.Now}
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
	return oci.Repository{ProjectID: g.project.ID, Name: rt.name}
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
		h.writeError(w, r, ocihttp.Fail(ocihttp.CodeUnsupported, "method not allowed"))
		return
	}
	g, err := h.authorize(w, r, rt, ep.need)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ep.serve(h, w, r, rt, g)
}

// authorize checks the bearer token and asks access for every action the route needs. The
// grant is requested ∩ allowed-now: a token must carry the action for the repository, and the
// credential behind it must still be allowed to do it. It writes the 401 challenge itself.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request, rt route, need []string) (grant, error) {
	ctx := r.Context()
	var claims *jwtauth.Claims
	p := access.AnonymousPrincipal
	raw, bearer := authn.Bearer(r)
	if bearer {
		c, err := h.cfg.Tokens.Verify(raw, h.cfg.Service)
		if err != nil {
			return grant{}, h.challenge(w, rt, need, "", "invalid_token", "the bearer token is invalid or expired")
		}
		p, err = access.Recheck(ctx, h.cfg.Principals, h.now(), access.CredentialIDs{
			DeployToken: c.DeployTokenID, User: c.UserID, PersonalToken: c.PersonalTokenID,
			DeployTokenBinding: c.DeployTokenSecret})
		if errors.Is(err, access.ErrInactive) {
			return grant{}, h.challenge(w, rt, need, "", "invalid_token", access.ErrInactive.Error())
		}
		if err != nil {
			return grant{}, err
		}
		claims = c
	}
	has := func(typ, name, action string) bool { return claims == nil || claims.Allows(typ, name, action) }
	switch rt.kind {
	case kindBase:
		if !bearer {
			return grant{}, h.challenge(w, rt, nil, "", "", "")
		}
		return grant{principal: p}, nil
	case kindCatalog:
		d, err := h.cfg.Auth.Authorize(ctx, r, p, access.Resource{}, access.AdministerInstance)
		switch {
		case err != nil:
			return grant{}, err
		case d.Allow() && bearer && has(jwtauth.RegistryType, "catalog", jwtauth.All):
			return grant{principal: p}, nil
		case d.Allow() || p.Kind == access.Anonymous:
			return grant{}, h.challenge(w, rt, need, "", errorParam(bearer), "")
		}
		return grant{}, ocihttp.Fail(ocihttp.CodeDenied, "the catalog is for administrators")
	}

	project, err := h.cfg.Projects.Resolve(ctx, rt.name)
	if err != nil && !errors.Is(err, errkind.ErrNotFound) {
		return grant{}, err
	}
	var missing, forbidden bool
	var reason string
	for _, a := range need {
		act, _ := jwtauth.ImageAction(a)
		d := access.Decision{Denial: access.NotFound, Reason: "no such repository"}
		if project != nil {
			if d, err = h.cfg.Auth.Authorize(ctx, r, p, access.Resource{Project: project}, act); err != nil {
				return grant{}, err
			}
		}
		switch {
		case d.Allow():
			missing = missing || !has(jwtauth.RepositoryType, rt.name.String(), a)
		case d.Denial == access.Unauthenticated || (d.Denial == access.NotFound && p.Kind == access.Anonymous):
			return grant{}, h.challenge(w, rt, need, "", errorParam(bearer), "")
		case d.Denial == access.NotFound:
			if project == nil && p.Kind == access.UserPrincipal && p.User.Admin {
				return grant{}, ocihttp.Fail(ocihttp.CodeNameUnknown, "")
			}
			// Whether the repository exists is not for this credential to learn.
			return grant{}, ocihttp.Fail(ocihttp.CodeDenied, "")
		default:
			forbidden, reason = true, d.Reason
		}
	}
	if forbidden {
		return grant{}, ocihttp.Fail(ocihttp.CodeDenied, "%s", reason)
	}
	if missing {
		return grant{}, h.challenge(w, rt, need, "", "insufficient_scope", "")
	}
	g := grant{principal: p, project: project}
	if rt.kind == kindUploadStart {
		if err := h.authorizeMount(w, r, rt, need, p, has, &g); err != nil {
			return grant{}, err
		}
	}
	return g, nil
}

func errorParam(bearer bool) string {
	if bearer {
		return "insufficient_scope"
	}
	return ""
}

// authorizeMount decides a cross-repository mount (?mount=&from=): it needs pull on the source
// too. A source the principal may not read is not an error: the POST falls back to a normal
// upload (202), revealing nothing. A source it may read but its token lacks is challenged, so the
// client fetches a token covering both repositories.
func (h *Handler) authorizeMount(w http.ResponseWriter, r *http.Request, rt route, need []string, p access.Principal,
	has func(typ, name, action string) bool, g *grant) error {
	q := r.URL.Query()
	from := q.Get("from")
	if q.Get("mount") == "" || from == "" {
		return nil
	}
	src, err := oci.ParseName(from)
	if err != nil {
		return nil
	}
	if src == rt.name {
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
	d, err := h.cfg.Auth.Authorize(ctx, r, p, access.Resource{Project: project}, access.PullImage)
	if err != nil || !d.Allow() {
		return err
	}
	if !has(jwtauth.RepositoryType, src.String(), jwtauth.Pull) {
		return h.challenge(w, rt, need, src, "insufficient_scope", "")
	}
	g.mount = oci.Repository{ProjectID: project.ID, Name: src}
	return nil
}

// challenge writes the Bearer challenge header and returns the 401 error to answer with: the
// realm and service, the scope the route needs (plus a mount source's pull), and error= when a
// token was presented.
func (h *Handler) challenge(w http.ResponseWriter, rt route, need []string, mountSrc oci.Name, errParam, detail string) error {
	v := fmt.Sprintf(`Bearer realm=%q,service=%q`, h.cfg.Realm, h.cfg.Service)
	var scopes []string
	switch {
	case rt.kind == kindCatalog:
		scopes = append(scopes, "registry:catalog:*")
	case rt.name != "" && len(need) > 0:
		scopes = append(scopes, "repository:"+rt.name.String()+":"+strings.Join(need, ","))
	}
	if mountSrc != "" {
		scopes = append(scopes, "repository:"+mountSrc.String()+":pull")
	}
	if len(scopes) > 0 {
		v += fmt.Sprintf(`,scope=%q`, strings.Join(scopes, " "))
	}
	if errParam != "" {
		v += fmt.Sprintf(`,error=%q`, errParam)
	}
	w.Header().Set("WWW-Authenticate", v)
	return ocihttp.Fail(ocihttp.CodeUnauthorized, "%s", detail)
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
