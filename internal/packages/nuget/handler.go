package nuget

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/packages/pkghttp"
)

// ProjectLister lists the instance's projects (*namespace.Service); group searches pick the
// group's descendants from it.
type ProjectLister interface {
	ListProjects(ctx context.Context) ([]*namespace.Project, error)
}

// Config is what the NuGet feeds need from the composition root.
type Config struct {
	Packages *packages.Service
	Auth     *authn.Authenticator
	Gate     *gate.Gate
	Log      *slog.Logger
	// ExternalURL is the server's public base URL, for the URLs in feed documents.
	ExternalURL string
	// Projects serves group-level searches; without it they find nothing.
	Projects ProjectLister
	// TempDir holds pushed packages while they are checked; "" is the system's.
	TempDir string
}

// Handler serves the NuGet feeds. Create it with New.
type Handler struct {
	cfg Config
}

// New returns the handler for cfg.
func New(cfg Config) *Handler { return &Handler{cfg: cfg} }

// Patterns are the ServeMux patterns the handler serves (the publish URL has no trailing
// slash, as the service index names it).
func (h *Handler) Patterns() []string {
	return []string{"/api/v4/projects/{id}/packages/nuget", "/api/v4/projects/{id}/packages/nuget/",
		"/api/v4/groups/{id}/-/packages/nuget/"}
}

// auth is GitLab's NuGet credential rule: a deploy token's basic-auth username must be its own,
// and push may carry the token in X-NuGet-ApiKey.
var auth = authn.PackageAuth{CheckDeployUsername: true, TokenHeaders: []string{"X-NuGet-ApiKey"}}

type endpoint struct {
	// action is what the request needs; "" marks a public service document, which is the
	// same for every :id and holds no data (public then says why it is answered to anyone).
	action access.Action
	public string
	serve  func(h *Handler, w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant)
}

func read(f func(*Handler, http.ResponseWriter, *http.Request, Route, pkghttp.Grant)) endpoint {
	return endpoint{action: access.ReadPackage, serve: f}
}

func public(why string, f func(*Handler, http.ResponseWriter, *http.Request, Route, pkghttp.Grant)) endpoint {
	return endpoint{public: why, serve: f}
}

// Why the service documents are public (GitLab answers them so too).
const (
	serviceIndexPublic = "the v3 service index is the same for every :id and holds no data; dotnet nuget push reads it before it pushes with only an API key"
	v2MetadataPublic   = "the v2 $metadata document is the same for every :id and holds no data"
)

// routes is the route table: level → kind → method → endpoint (route_test.go checks it).
// Anything else is 405.
var routes = map[level]map[kind]map[string]endpoint{
	levelProject: {
		kindServiceIndex:     {http.MethodGet: public(serviceIndexPublic, (*Handler).handleServiceIndex)},
		kindPublish:          {http.MethodPut: {action: access.WritePackage, serve: (*Handler).handlePublish}},
		kindSearch:           {http.MethodGet: read((*Handler).handleSearch)},
		kindVersions:         {http.MethodGet: read((*Handler).handleVersions)},
		kindContent:          {http.MethodGet: read((*Handler).handleContent)},
		kindRegistration:     {http.MethodGet: read((*Handler).handleRegistration)},
		kindRegistrationLeaf: {http.MethodGet: read((*Handler).handleRegistrationLeaf)},
		kindV2Service: {http.MethodGet: read((*Handler).handleV2Service),
			http.MethodPut: {action: access.WritePackage, serve: (*Handler).handlePublish}},
		kindV2Metadata: {http.MethodGet: public(v2MetadataPublic, (*Handler).handleV2Metadata)},
		kindV2FindByID: {http.MethodGet: read((*Handler).handleV2FindByID)},
		kindV2Entry:    {http.MethodGet: read((*Handler).handleV2Entry)},
		kindV2Download: {http.MethodGet: read((*Handler).handleContent)},
	},
	levelGroup: {
		kindServiceIndex:     {http.MethodGet: public(serviceIndexPublic, (*Handler).handleServiceIndex)},
		kindSearch:           {http.MethodGet: read((*Handler).handleSearch)},
		kindVersions:         {http.MethodGet: read((*Handler).handleVersions)},
		kindContent:          {http.MethodGet: read((*Handler).handleContent)},
		kindRegistration:     {http.MethodGet: read((*Handler).handleRegistration)},
		kindRegistrationLeaf: {http.MethodGet: read((*Handler).handleRegistrationLeaf)},
	},
}

// paths are the route patterns of the kinds, after the level's prefix, for Routes (the
// gate walk in internal/server sends each, filled in).
var paths = map[kind]string{
	kindServiceIndex:     "/index.json",
	kindPublish:          "",
	kindSearch:           "/query",
	kindVersions:         "/download/{package}/index.json",
	kindContent:          "/download/{package}/{version}/{file}",
	kindRegistration:     "/metadata/{package}/index.json",
	kindRegistrationLeaf: "/metadata/{package}/{version}.json",
	kindV2Service:        "/v2",
	kindV2Metadata:       "/v2/$metadata",
	kindV2FindByID:       "/v2/FindPackagesById()",
	kindV2Entry:          "/v2/Packages(Id='{package}',Version='{version}')",
	kindV2Download:       "/v2/download/{package}/{version}",
}

// at is the level as pkghttp names it.
func (l level) at() pkghttp.Level {
	return [...]pkghttp.Level{levelProject: pkghttp.ProjectLevel, levelGroup: pkghttp.GroupLevel}[l]
}

// Routes lists the route table with how each route is gated: its action, decided at the gate on
// the project {id} names or on the one project in the group {id} names that holds the package
// (a search: on the first the credential may read, showing only those), or public with the
// reason (docs/architecture.md §3.3).
func Routes() []gate.Route {
	return pkghttp.Routes("nuget", routes, level.at, paths, func(lv pkghttp.Level, ep endpoint) gate.Rule {
		if ep.public != "" {
			return gate.Public(ep.public)
		}
		return lv.Decide(ep.action)
	})
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
	if ep.public != "" {
		ep.serve(h, w, r, rt, pkghttp.Grant{})
		return
	}
	g, err := pkghttp.Authorize(r, h.cfg.Auth, h.cfg.Gate, h.cfg.Packages, h.target(rt), ep.action)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ep.serve(h, w, r, rt, g)
}

// target is what a request acts on: the project, or (group level) the one project of the group
// holding the package, or for a search (a listing that names no package) every project of the
// group that the credential may read, most recently updated first. Several holders of a package
// are a 409 naming them (pkghttp.Holder): a feed merged across them would let any project of
// the group add a higher version that restore takes.
func (h *Handler) target(rt Route) pkghttp.Target {
	if rt.level == levelProject {
		return pkghttp.Target{Ref: rt.Ref, Credentials: auth}
	}
	return pkghttp.Target{Level: rt.level.at(), Ref: rt.Ref, All: rt.kind == kindSearch, Name: rt.ID, Credentials: auth,
		Holders: func(ctx context.Context, g *namespace.Group) ([]*namespace.Project, error) {
			return h.groupCandidates(ctx, g, rt)
		}}
}

// groupCandidates are the projects of g that may serve the request: those holding the package,
// or every project in the group (at any depth) for a search.
func (h *Handler) groupCandidates(ctx context.Context, g *namespace.Group, rt Route) ([]*namespace.Project, error) {
	if rt.kind != kindSearch {
		return h.cfg.Packages.ProjectsHolding(ctx, packages.NuGet, rt.ID, g)
	}
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

func (h *Handler) base(rt Route) string {
	return strings.TrimSuffix(h.cfg.ExternalURL, "/") + rt.Prefix
}

func (h *Handler) handleServiceIndex(w http.ResponseWriter, r *http.Request, rt Route, _ pkghttp.Grant) {
	httpx.WriteJSON(w, http.StatusOK, serviceIndex(h.base(rt), rt.level == levelProject))
}

func (h *Handler) handleV2Service(w http.ResponseWriter, r *http.Request, rt Route, _ pkghttp.Grant) {
	writeXML(w, "application/xml; charset=utf-8", v2ServiceDocument(h.base(rt)+"/v2"))
}

func (h *Handler) handleV2Metadata(w http.ResponseWriter, r *http.Request, rt Route, _ pkghttp.Grant) {
	writeXML(w, "application/xml; charset=utf-8", v2Metadata())
}

func writeXML(w http.ResponseWriter, ct, doc string) {
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(doc)))
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, doc)
}

// multipartOverhead is what a multipart envelope may add to the package's size.
const multipartOverhead = 64 << 10

// handlePublish stores a push: the multipart body is spooled to a temporary file (bounded by
// the format's limit), the package located in it, its .nuspec parsed and checked, and only then
// the package stored.
func (h *Handler) handlePublish(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	ctx := r.Context()
	limit := h.cfg.Packages.MaxFileSize(packages.NuGet)
	if r.ContentLength > limit+multipartOverhead {
		h.writeError(w, r, tooLarge(limit))
		return
	}
	tmp, err := os.CreateTemp(h.cfg.TempDir, "gatehouse-nuget-*")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	raw, err := io.Copy(tmp, io.LimitReader(r.Body, limit+multipartOverhead+1))
	switch {
	case err != nil:
		h.writeError(w, r, invalid("package", "upload was interrupted"))
		return
	case raw > limit+multipartOverhead:
		h.writeError(w, r, tooLarge(limit))
		return
	}
	off, n, err := LocatePackage(tmp, raw, r.Header.Get("Content-Type"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if n > limit {
		h.writeError(w, r, tooLarge(limit))
		return
	}
	pkg := io.NewSectionReader(tmp, off, n)
	spec, err := ParseNupkg(pkg, n, DefaultLimits())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	meta, err := marshalMetadata(spec)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	key := spec.ParsedVersion().Key()
	_, err = h.cfg.Packages.AddFile(ctx, packages.Upload{ProjectID: g.Project().ID, Format: packages.NuGet, Name: spec.ID,
		Version: key, Filename: strings.ToLower(spec.ID) + "." + key + ".nupkg", Metadata: meta, Size: n, Body: pkg})
	if errors.Is(err, packages.ErrConflict) {
		h.writeError(w, r, &conflictError{id: spec.ID, version: spec.Version})
		return
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	pkghttp.WriteText(w, http.StatusCreated, "201 Created")
}

func marshalMetadata(spec *Nuspec) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(spec); err != nil {
		return nil, err
	}
	if buf.Len() > packages.MaxMetadataSize {
		return nil, invalid("nuspec", "is too large")
	}
	return bytes.TrimSpace(buf.Bytes()), nil
}

func tooLarge(limit int64) error {
	return &tooLargeError{limit: limit}
}

type tooLargeError struct{ limit int64 }

func (e *tooLargeError) Error() string {
	return "the package is larger than this registry's NuGet limit of " + strconv.FormatInt(e.limit, 10) + " bytes"
}

func (e *tooLargeError) Unwrap() error { return packages.ErrTooLarge }

// conflictError is a refused re-push of a version.
type conflictError struct{ id, version string }

func (e *conflictError) Error() string {
	return "package " + e.id + " version " + e.version + " already exists"
}

func (e *conflictError) Unwrap() error { return packages.ErrConflict }

// collect returns the listed versions of package id in the grant's project (the one holder of a
// group-level request), ascending; ErrNotFound when there are none.
func (h *Handler) collect(ctx context.Context, g pkghttp.Grant, id string) ([]entry, error) {
	var out []entry
	seen := map[string]bool{}
	for _, p := range g.Projects() {
		pkg, err := h.cfg.Packages.Package(ctx, p.ID, packages.NuGet, id)
		if errors.Is(err, packages.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		vs, err := h.cfg.Packages.Versions(ctx, pkg, false)
		if err != nil {
			return nil, err
		}
		for _, e := range entries(pkg, vs) {
			if k := e.version.Key(); !seen[k] {
				seen[k] = true
				out = append(out, e)
			}
		}
	}
	if len(out) == 0 {
		return nil, packages.ErrNotFound
	}
	sort.SliceStable(out, func(i, j int) bool { return Compare(out[i].version, out[j].version) < 0 })
	return out, nil
}

func (h *Handler) handleVersions(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	es, err := h.collect(r.Context(), g, rt.ID)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, flatVersions(es))
}

func (h *Handler) handleRegistration(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	es, err := h.collect(r.Context(), g, rt.ID)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, registrationIndex(h.base(rt), es))
}

// find returns the listed entry of rt's id and version.
func (h *Handler) find(ctx context.Context, g pkghttp.Grant, rt Route) (entry, []entry, error) {
	es, err := h.collect(ctx, g, rt.ID)
	if err != nil {
		return entry{}, nil, err
	}
	for _, e := range es {
		if e.version.Key() == rt.Version.Key() {
			return e, es, nil
		}
	}
	return entry{}, nil, packages.ErrNotFound
}

func (h *Handler) handleRegistrationLeaf(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	e, _, err := h.find(r.Context(), g, rt)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, leaf(h.base(rt), e))
}

// handleContent streams a .nupkg (hidden versions too: hiding keeps them out of listings only).
func (h *Handler) handleContent(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	ctx := r.Context()
	key := rt.Version.Key()
	filename := strings.ToLower(rt.ID) + "." + key + ".nupkg"
	var f *packages.File
	for _, p := range g.Projects() {
		found, err := h.cfg.Packages.File(ctx, p.ID, packages.NuGet, rt.ID, key, filename)
		if errors.Is(err, packages.ErrNotFound) {
			continue
		}
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		f = found
		break
	}
	if f == nil {
		h.writeError(w, r, packages.ErrNotFound)
		return
	}
	err := pkghttp.SendFile(w, r, h.cfg.Packages, h.cfg.Log, f, "nuget package download", func(hdr http.Header) {
		hdr.Set("Content-Type", "application/octet-stream")
		hdr.Set("Content-Disposition", `attachment; filename="`+f.Filename+`"`)
	})
	if err != nil {
		h.writeError(w, r, err)
	}
}

// Search bounds.
const (
	defaultTake = 20
	maxTake     = 100
	maxQuery    = 256
)

// SearchQuery is a parsed query: q (substring of the id, any case), skip, take and prerelease
// (GitLab's default: true).
type SearchQuery struct {
	Q          string
	Skip, Take int
	Prerelease bool
}

// ParseSearch reads the search parameters; bad numbers are a *packages.ValidationError.
func ParseSearch(q url.Values) (SearchQuery, error) {
	s := SearchQuery{Q: strings.ToLower(strings.TrimSpace(q.Get("q"))), Take: defaultTake, Prerelease: true}
	if len(s.Q) > maxQuery {
		return SearchQuery{}, invalid("q", "is too long")
	}
	num := func(name string, dst *int, min int) error {
		v := q.Get(name)
		if v == "" {
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < min || n > 1<<20 {
			return invalid(name, "must be a number of at least "+strconv.Itoa(min))
		}
		*dst = n
		return nil
	}
	if err := num("skip", &s.Skip, 0); err != nil {
		return SearchQuery{}, err
	}
	if err := num("take", &s.Take, 1); err != nil {
		return SearchQuery{}, err
	}
	s.Take = min(s.Take, maxTake)
	if v := q.Get("prerelease"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return SearchQuery{}, invalid("prerelease", "must be true or false")
		}
		s.Prerelease = b
	}
	return s, nil
}

// maxSearchPackages bounds the packages one search looks at.
const maxSearchPackages = 10000

func (h *Handler) handleSearch(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	ctx := r.Context()
	q, err := ParseSearch(r.URL.Query())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	type hit struct {
		id string
		es []entry
	}
	var hits []hit
	seen := map[string]bool{}
	looked := 0
	for _, p := range g.Projects() {
		pkgs, err := h.cfg.Packages.Packages(ctx, p.ID, packages.NuGet)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		for _, pkg := range pkgs {
			if seen[pkg.NormalizedName] || !strings.Contains(pkg.NormalizedName, q.Q) || looked >= maxSearchPackages {
				continue
			}
			looked++
			vs, err := h.cfg.Packages.Versions(ctx, pkg, false)
			if err != nil {
				h.writeError(w, r, err)
				return
			}
			var es []entry
			for _, e := range entries(pkg, vs) {
				if q.Prerelease || !e.version.IsPrerelease() {
					es = append(es, e)
				}
			}
			if len(es) > 0 {
				seen[pkg.NormalizedName] = true
				hits = append(hits, hit{pkg.NormalizedName, es})
			}
		}
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i].id < hits[j].id })
	data := []searchResultJSON{}
	base := h.base(rt)
	for i := q.Skip; i < len(hits) && len(data) < q.Take; i++ {
		data = append(data, searchResult(base, hits[i].es))
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"totalHits": len(hits), "data": data})
}

func (h *Handler) handleV2FindByID(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	id, err := ParseODataID(r.URL.Query())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	es, err := h.collect(r.Context(), g, id)
	if errors.Is(err, packages.ErrNotFound) {
		es, err = nil, nil // OData answers an empty feed
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeXML(w, "application/atom+xml;type=feed;charset=utf-8", v2Feed(h.base(rt)+"/v2", "FindPackagesById", es, es, false))
}

func (h *Handler) handleV2Entry(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	e, all, err := h.find(r.Context(), g, rt)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeXML(w, "application/atom+xml;type=entry;charset=utf-8", v2Feed(h.base(rt)+"/v2", "Packages", []entry{e}, all, true))
}

// writeError is the format's one error writer: the shared kinds → status (pkghttp.Classify) and
// a short text (nuget.exe and dotnet show the status; the text names the reason). Unknown errors
// are logged with the request ID and answered with a generic 500.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ce *conflictError
	var te *tooLargeError
	p := pkghttp.Classify(err)
	switch {
	case p.Detail == "" && errors.Is(err, authn.ErrInvalidCredentials):
		p.Detail = "the credentials are not valid (a deploy token needs its own username)"
	case p.Status == http.StatusConflict && errors.As(err, &ce):
		p.Detail = ce.Error()
	case p.Status == http.StatusConflict && p.Detail == "":
		p.Detail = "this version already exists"
	case p.Status == http.StatusRequestEntityTooLarge && errors.As(err, &te):
		p.Detail = te.Error()
	}
	p.WriteText(w, r, h.cfg.Log)
}
