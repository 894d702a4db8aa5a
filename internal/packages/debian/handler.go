package debian

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/packages/pkghttp"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// ProjectLister lists the instance's projects (*namespace.Service); group-level requests pick
// the group's descendants from it.
type ProjectLister interface {
	ListProjects(ctx context.Context) ([]*namespace.Project, error)
}

// Config is what the Debian repositories need from the composition root.
type Config struct {
	Packages      *packages.Service
	Distributions packages.DistributionStore
	Auth          *authn.Authenticator
	Gate          *gate.Gate
	Log           *slog.Logger
	// Sealer seals the distributions' private keys; without it no distribution can be created.
	Sealer *token.Sealer
	// Projects serves group-level requests; without them groups hold nothing.
	Projects ProjectLister
	// Now is the clock of Release dates and keys; nil means time.Now.
	Now func() time.Time
	// TempDir holds uploads while they are checked; "" is the system's.
	TempDir string
}

// Handler serves the Debian repositories and distributions API. Create it with New.
type Handler struct {
	cfg Config
	// signers caches each distribution's opened key, by ID, with the sealed key it came from.
	mu      sync.Mutex
	signers map[int64]cachedSigner
}

type cachedSigner struct {
	sealed string
	s      *Signer
}

// New returns the handler for cfg.
func New(cfg Config) *Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Handler{cfg: cfg, signers: map[int64]cachedSigner{}}
}

// Patterns are the ServeMux patterns the handler serves.
func (h *Handler) Patterns() []string {
	return []string{"/api/v4/projects/{id}/packages/debian/", "/api/v4/groups/{id}/-/packages/debian/",
		"/api/v4/projects/{id}/debian_distributions", "/api/v4/projects/{id}/debian_distributions/",
		"/api/v4/groups/{id}/-/debian_distributions", "/api/v4/groups/{id}/-/debian_distributions/"}
}

// auth is GitLab's Debian credential rule: a deploy token's basic-auth username must be its own.
var auth = authn.PackageAuth{CheckDeployUsername: true}

type endpoint struct {
	action access.Action
	serve  func(h *Handler, w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant)
}

func read(f func(*Handler, http.ResponseWriter, *http.Request, Route, pkghttp.Grant)) endpoint {
	return endpoint{action: access.ReadPackage, serve: f}
}

func write(f func(*Handler, http.ResponseWriter, *http.Request, Route, pkghttp.Grant)) endpoint {
	return endpoint{action: access.WritePackage, serve: f}
}

// routes is the route table: level → kind → method → endpoint (route_test.go checks it).
// Anything else is 405.
var routes = map[level]map[kind]map[string]endpoint{
	levelProject: {
		kindUpload:     {http.MethodPut: write((*Handler).handleUpload)},
		kindRelease:    {http.MethodGet: read((*Handler).handleRelease)},
		kindInRelease:  {http.MethodGet: read((*Handler).handleRelease)},
		kindReleaseGPG: {http.MethodGet: read((*Handler).handleRelease)},
		kindPackages:   {http.MethodGet: read((*Handler).handlePackages)},
		kindPool:       {http.MethodGet: read((*Handler).handlePool)},
		kindDistributions: {http.MethodGet: read((*Handler).handleListDistributions),
			http.MethodPost: write((*Handler).handleCreateDistribution)},
		kindDistribution: {http.MethodGet: read((*Handler).handleGetDistribution),
			http.MethodPut: write((*Handler).handleUpdateDistribution), http.MethodDelete: write((*Handler).handleDeleteDistribution)},
		kindDistributionKey: {http.MethodGet: read((*Handler).handleDistributionKey)},
	},
	levelGroup: {
		kindRelease:    {http.MethodGet: read((*Handler).handleRelease)},
		kindInRelease:  {http.MethodGet: read((*Handler).handleRelease)},
		kindReleaseGPG: {http.MethodGet: read((*Handler).handleRelease)},
		kindPackages:   {http.MethodGet: read((*Handler).handlePackages)},
		kindPool:       {http.MethodGet: read((*Handler).handlePool)},
		kindDistributions: {http.MethodGet: read((*Handler).handleListDistributions),
			http.MethodPost: write((*Handler).handleCreateDistribution)},
		kindDistribution: {http.MethodGet: read((*Handler).handleGetDistribution),
			http.MethodPut: write((*Handler).handleUpdateDistribution), http.MethodDelete: write((*Handler).handleDeleteDistribution)},
		kindDistributionKey: {http.MethodGet: read((*Handler).handleDistributionKey)},
	},
}

// paths are the route patterns of the kinds after the level's prefix (packages/debian, or the
// project or group itself for the distributions API), for Routes.
var paths = map[kind]string{
	kindUpload:          "/{file}",
	kindRelease:         "/dists/{codename}/Release",
	kindInRelease:       "/dists/{codename}/InRelease",
	kindReleaseGPG:      "/dists/{codename}/Release.gpg",
	kindPackages:        "/dists/{codename}/{component}/binary-{arch}/Packages",
	kindPool:            "/pool/{codename}/{letter}/{name}/{version}/{file}",
	kindDistributions:   "/debian_distributions",
	kindDistribution:    "/debian_distributions/{codename}",
	kindDistributionKey: "/debian_distributions/{codename}/key.asc",
}

func (l level) at() pkghttp.Level {
	return [...]pkghttp.Level{levelProject: pkghttp.ProjectLevel, levelGroup: pkghttp.GroupLevel}[l]
}

func (k kind) distributionsAPI() bool {
	return k == kindDistributions || k == kindDistribution || k == kindDistributionKey
}

// Routes lists the route table with how each route is gated: its action, decided at the gate on
// the project {id} names or, at the group level, on a project of the group {id} names (the one
// holding the package for a pool file; for indexes and distributions the first the credential
// may act on) after filtering the candidates (docs/architecture.md §3.3).
func Routes() []gate.Route {
	var out []gate.Route
	for l, kinds := range routes {
		for k, methods := range kinds {
			for m, ep := range methods {
				p := paths[k]
				switch {
				case k.distributionsAPI() && l == levelProject:
					p = "/api/v4/projects/{id}" + p
				case k.distributionsAPI():
					p = "/api/v4/groups/{id}/-" + p
				case k == kindPool && l == levelGroup:
					p = l.at().Pattern("debian", strings.Replace(p, "{codename}/", "{codename}/{project_id}/", 1))
				default:
					p = l.at().Pattern("debian", p)
				}
				out = append(out, gate.Route{Method: m, Pattern: p, Rule: l.at().Decide(ep.action)})
			}
		}
	}
	pkghttp.SortRoutes(out)
	return out
}

// ServeHTTP is the dispatcher: parse, look up the route's access, authenticate, resolve the
// project(s), authorize once, then serve.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, err := ParsePath(r.URL.EscapedPath())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ep, ok := routes[rt.level][rt.kind][r.Method]
	if !ok {
		h.writeError(w, r, pkghttp.ErrMethod)
		return
	}
	g, err := pkghttp.Authorize(r, h.cfg.Auth, h.cfg.Gate, h.cfg.Packages, h.target(rt), ep.action)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ep.serve(h, w, r, rt, g)
}

// target is what a request acts on: the project; or at the group level, for a pool file the
// one project of the group holding the package, which must be the project its path names; for
// indexes and the distributions API every project of the group the credential may act on.
func (h *Handler) target(rt Route) pkghttp.Target {
	if rt.level == levelProject {
		return pkghttp.Target{Ref: rt.Ref, Credentials: auth}
	}
	t := pkghttp.Target{Level: pkghttp.GroupLevel, Ref: rt.Ref, Credentials: auth, Format: packages.Debian, Name: rt.Name}
	if rt.kind == kindPool {
		t.Holders = func(ctx context.Context, g *namespace.Group) ([]*namespace.Project, error) {
			holders, err := h.cfg.Packages.ProjectsHolding(ctx, packages.Debian, rt.Name, g)
			for _, p := range holders {
				if p.ID == rt.ProjectID {
					return []*namespace.Project{p}, err
				}
			}
			return nil, err
		}
		return t
	}
	t.All = true
	t.Holders = h.groupProjects
	return t
}

// groupProjects are the projects in g, at any depth.
func (h *Handler) groupProjects(ctx context.Context, g *namespace.Group) ([]*namespace.Project, error) {
	if h.cfg.Projects == nil {
		return nil, nil
	}
	all, err := h.cfg.Projects.ListProjects(ctx)
	if err != nil {
		return nil, err
	}
	var out []*namespace.Project
	for _, p := range all {
		if p.InGroup(g.ID) {
			out = append(out, p)
		}
	}
	return out, nil
}

// owner is the project or group a route's distributions belong to.
func (h *Handler) owner(ctx context.Context, rt Route, g pkghttp.Grant) (projectID, groupID int64, err error) {
	if rt.level == levelProject {
		return g.Project().ID, 0, nil
	}
	grp, err := h.cfg.Packages.Group(ctx, rt.Ref)
	if err != nil {
		return 0, 0, err
	}
	return 0, grp.ID, nil
}

// distribution finds the route's distribution by codename or suite.
func (h *Handler) distribution(ctx context.Context, rt Route, g pkghttp.Grant) (*packages.Distribution, error) {
	pid, gid, err := h.owner(ctx, rt, g)
	if err != nil {
		return nil, err
	}
	ds, err := h.cfg.Distributions.Distributions(ctx, pid, gid)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		if d.Codename == rt.Codename {
			return d, nil
		}
	}
	for _, d := range ds {
		if d.Suite != "" && d.Suite == rt.Codename {
			return d, nil
		}
	}
	return nil, packages.ErrNotFound
}

// spoolUpload copies an upload of at most limit bytes to a temporary file, which the caller
// closes and removes.
func (h *Handler) spoolUpload(r *http.Request, limit int64) (*os.File, int64, error) {
	if r.ContentLength > limit {
		return nil, 0, tooLargeUpload(limit)
	}
	tmp, err := os.CreateTemp(h.cfg.TempDir, "gatehouse-debian-*")
	if err != nil {
		return nil, 0, err
	}
	n, err := io.Copy(tmp, io.LimitReader(r.Body, limit+1))
	switch {
	case err != nil:
		err = invalid("package", "upload was interrupted")
	case n > limit:
		err = tooLargeUpload(limit)
	}
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, 0, err
	}
	return tmp, n, nil
}

type uploadTooLarge struct{ limit int64 }

func (e *uploadTooLarge) Error() string {
	return "the package is larger than this registry's Debian limit of " + strconv.FormatInt(e.limit, 10) + " bytes"
}
func (e *uploadTooLarge) Unwrap() error { return packages.ErrTooLarge }
func tooLargeUpload(limit int64) error  { return &uploadTooLarge{limit: limit} }

// handleUpload stores a .deb uploaded with ?distribution=&component= (GitLab's explicit upload):
// the body is spooled (bounded by the format's limit), its control paragraph read and checked
// against the file name and the distribution, and only then the file stored.
func (h *Handler) handleUpload(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	ctx := r.Context()
	q := r.URL.Query()
	codename, component := q.Get("distribution"), q.Get("component")
	if codename == "" || component == "" {
		h.writeError(w, r, invalid("distribution", "and component are required (?distribution=<codename>&component=<component>)"))
		return
	}
	if err := firstErr(checkCodename(codename), checkComponent(component)); err != nil {
		h.writeError(w, r, err)
		return
	}
	rt.Codename = codename
	d, err := h.distribution(ctx, rt, g)
	if errors.Is(err, packages.ErrNotFound) {
		err = invalid("distribution", "does not exist in this project; create it with POST /api/v4/projects/:id/debian_distributions")
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if !contains(d.Components, component) {
		h.writeError(w, r, invalid("component", "is not one of the distribution's components ("+strings.Join(d.Components, ", ")+")"))
		return
	}
	limit := h.cfg.Packages.MaxFileSize(packages.Debian)
	tmp, n, err := h.spoolUpload(r, limit)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	c, err := ParseDeb(tmp, n, DefaultLimits())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if want := DebFilename(c.Package, c.Version, c.Architecture); want != rt.Filename {
		h.writeError(w, r, invalid("file name", "does not match the package's control file ("+want+")"))
		return
	}
	if c.Architecture != "all" && !contains(d.Architectures, c.Architecture) {
		h.writeError(w, r, invalid("architecture", c.Architecture+" is not one of the distribution's architectures"))
		return
	}
	meta, err := h.mergedMeta(ctx, g.Project().ID, c, rt.Filename, fileMeta{Distribution: d.Codename, Component: component,
		Architecture: c.Architecture, Control: c.Paragraph()})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	_, err = h.cfg.Packages.AddFile(ctx, packages.Upload{ProjectID: g.Project().ID, Format: packages.Debian, Name: c.Package,
		Version: c.Version, Filename: rt.Filename, Metadata: meta, Size: n, Body: io.NewSectionReader(tmp, 0, n),
		Expected: pkghttp.ExpectedChecksums(r)})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, map[string]string{"message": "201 Created"})
}

// mergedMeta is the version's metadata with the new file's entry added: a version gains one
// .deb per architecture.
func (h *Handler) mergedMeta(ctx context.Context, projectID int64, c *Control, filename string, fm fileMeta) ([]byte, error) {
	m := readMeta(nil)
	pkg, err := h.cfg.Packages.Package(ctx, projectID, packages.Debian, c.Package)
	if err == nil {
		var v *packages.Version
		if v, err = h.cfg.Packages.Version(ctx, pkg, c.Version); err == nil {
			m = readMeta(v.Metadata)
			// Entries of files since deleted go.
			for name := range m.Files {
				if v.File(name) == nil {
					delete(m.Files, name)
				}
			}
		}
	}
	if err != nil && !errors.Is(err, packages.ErrNotFound) {
		return nil, err
	}
	m.Files[filename] = fm
	b, err := json.Marshal(m)
	if err == nil && len(b) > packages.MaxMetadataSize {
		err = invalid("package", "has too many files for one version")
	}
	return b, err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// indexEntries lists what the route's distribution serves: the project's files uploaded to it,
// or at the group level the files of every project the grant covers uploaded to a distribution
// of the same codename, leaving out any name that more than one project of the group holds.
func (h *Handler) indexEntries(ctx context.Context, rt Route, g pkghttp.Grant, d *packages.Distribution) ([]entry, error) {
	if rt.level == levelProject {
		return entries(ctx, h.cfg.Packages, g.Project().ID, d.Codename)
	}
	grp, err := h.cfg.Packages.Group(ctx, rt.Ref)
	if err != nil {
		return nil, err
	}
	var out []entry
	single := map[string]bool{}
	for _, p := range g.Projects() {
		es, err := entries(ctx, h.cfg.Packages, p.ID, d.Codename)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			ok, seen := single[e.name]
			if !seen {
				holders, err := h.cfg.Packages.ProjectsHolding(ctx, packages.Debian, e.name, grp)
				if err != nil {
					return nil, err
				}
				ok = len(holders) == 1
				single[e.name] = ok
			}
			if ok {
				out = append(out, e)
			}
		}
	}
	return out, nil
}

func (h *Handler) handleRelease(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	ctx := r.Context()
	d, err := h.distribution(ctx, rt, g)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	es, err := h.indexEntries(ctx, rt, g, d)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	now := h.cfg.Now()
	body := release(d, es, rt.level == levelGroup, now)
	if rt.kind != kindRelease {
		s, err := h.signer(d)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if rt.kind == kindInRelease {
			body, err = s.ClearSign(body, now)
		} else {
			body, err = s.DetachSign(body, now)
		}
		if err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	writeText(w, body)
}

func (h *Handler) handlePackages(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	ctx := r.Context()
	d, err := h.distribution(ctx, rt, g)
	if err == nil && (!contains(d.Components, rt.Component) || !contains(indexArchitectures(d), rt.Arch)) {
		err = packages.ErrNotFound
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	es, err := h.indexEntries(ctx, rt, g, d)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeText(w, packagesIndex(es, rt.Component, rt.Arch, rt.level == levelGroup))
}

func writeText(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// handlePool streams a .deb of the project (the grant's: at the group level, the one holding it,
// which the path names), if it was uploaded to the codename the path names.
func (h *Handler) handlePool(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	ctx := r.Context()
	pkg, err := h.cfg.Packages.Package(ctx, g.Project().ID, packages.Debian, rt.Name)
	var v *packages.Version
	if err == nil {
		v, err = h.cfg.Packages.Version(ctx, pkg, rt.Version)
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	f := v.File(rt.Filename)
	if fm, ok := readMeta(v.Metadata).Files[rt.Filename]; f == nil || !ok || fm.Distribution != rt.Codename {
		h.writeError(w, r, packages.ErrNotFound)
		return
	}
	err = pkghttp.SendFile(w, r, h.cfg.Packages, h.cfg.Log, f, "debian package download", func(hd http.Header) {
		hd.Set("Content-Type", "application/vnd.debian.binary-package")
	})
	if err != nil {
		h.writeError(w, r, err)
	}
}

// signer opens a distribution's signing key, once per key.
func (h *Handler) signer(d *packages.Distribution) (*Signer, error) {
	h.mu.Lock()
	c, ok := h.signers[d.ID]
	h.mu.Unlock()
	if ok && c.sealed == string(d.SealedKey) {
		return c.s, nil
	}
	if h.cfg.Sealer == nil {
		return nil, errors.New("debian: no sealer configured")
	}
	priv, err := h.cfg.Sealer.Open(d.SealedKey, keyBinding(d))
	if err != nil {
		return nil, err
	}
	s, err := NewSigner(priv)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.signers[d.ID] = cachedSigner{sealed: string(d.SealedKey), s: s}
	h.mu.Unlock()
	return s, nil
}

// keyBinding is what a distribution's sealed key is bound to: its owner and codename, so that a
// sealed key copied to another row does not open.
func keyBinding(d *packages.Distribution) []byte {
	return []byte("debian-distribution/" + strconv.FormatInt(d.ProjectID, 10) + "/" + strconv.FormatInt(d.GroupID, 10) + "/" + d.Codename)
}

// writeError is the one place that picks statuses; errors are GitLab API's {"message": …}.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p := pkghttp.Classify(err)
	if p.Status == http.StatusConflict && p.Detail == "" {
		p.Detail = "this file already exists"
	}
	p.Prepare(w, r, h.cfg.Log)
	httpx.WriteJSON(w, p.Status, map[string]string{"message": p.Line()})
}
