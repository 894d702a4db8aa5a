// Package rubygems serves GitLab's RubyGems API for the real `gem` client (docs/rubygems.md):
//
//	/api/v4/projects/:id/packages/rubygems/api/v1/gems               POST: gem push
//	/api/v4/projects/:id/packages/rubygems/api/v1/dependencies       ?gems=a,b: the dependency API
//	/api/v4/projects/:id/packages/rubygems/specs.4.8.gz              every release
//	/api/v4/projects/:id/packages/rubygems/latest_specs.4.8.gz       the latest release of each gem
//	/api/v4/projects/:id/packages/rubygems/prerelease_specs.4.8.gz   the prereleases
//	/api/v4/projects/:id/packages/rubygems/quick/Marshal.4.8/:f.gemspec.rz  one gemspec
//	/api/v4/projects/:id/packages/rubygems/gems/:f.gem               a gem
//
// Like GitLab, the API exists only at the project level: a client names the one project it
// installs from, so no other project's copy of a gem can answer. gem push sends the token
// alone in the Authorization header (~/.gem/credentials); gem install sends basic auth from
// the source URL's user info. Indexes and the dependency API are Ruby Marshal 4.8 (marshal.go).
// Errors are plain text, which gem prints.
package rubygems

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/packages/pkghttp"
)

// Config is what the RubyGems registry needs from the composition root.
type Config struct {
	Packages *packages.Service
	Auth     *authn.Authenticator
	Gate     *gate.Gate
	Log      *slog.Logger
}

// Handler serves the RubyGems API. Create it with New.
type Handler struct {
	cfg Config
}

// New returns the handler for cfg.
func New(cfg Config) *Handler { return &Handler{cfg: cfg} }

// Patterns are the ServeMux patterns the handler serves.
func (h *Handler) Patterns() []string {
	return []string{"/api/v4/projects/{id}/packages/rubygems/"}
}

type endpoint struct {
	action access.Action
	serve  func(h *Handler, w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant)
}

// onlyLevel is the one level of the route table: RubyGems is served per project.
type onlyLevel struct{}

func read(serve func(h *Handler, w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant)) map[string]endpoint {
	return map[string]endpoint{http.MethodGet: {access.ReadPackage, serve}, http.MethodHead: {access.ReadPackage, serve}}
}

// routes is the route table: kind → method → endpoint. Every route names its access action
// (route_test.go checks); anything else is 405.
var routes = map[onlyLevel]map[kind]map[string]endpoint{{}: {
	kindPush:         {http.MethodPost: {access.WritePackage, (*Handler).handlePush}},
	kindDependencies: read((*Handler).handleDependencies),
	kindSpecs:        read((*Handler).handleSpecs),
	kindLatestSpecs:  read((*Handler).handleSpecs),
	kindPrerelease:   read((*Handler).handleSpecs),
	kindQuickSpec:    read((*Handler).handleQuickSpec),
	kindGem:          read((*Handler).handleGem),
}}

// paths are the route patterns of the kinds after the project's prefix, for Routes.
var paths = map[kind]string{
	kindPush:         "/api/v1/gems",
	kindDependencies: "/api/v1/dependencies",
	kindSpecs:        "/specs.4.8.gz",
	kindLatestSpecs:  "/latest_specs.4.8.gz",
	kindPrerelease:   "/prerelease_specs.4.8.gz",
	kindQuickSpec:    "/quick/Marshal.4.8/{file}.gemspec.rz",
	kindGem:          "/gems/{file}.gem",
}

// Routes lists the route table with how each route is gated: its action, decided at the gate
// on the project {id} names (docs/architecture.md §3.3).
func Routes() []gate.Route {
	return pkghttp.Routes("rubygems", routes, func(onlyLevel) pkghttp.Level { return pkghttp.ProjectLevel }, paths,
		func(lv pkghttp.Level, ep endpoint) gate.Rule { return lv.Decide(ep.action) })
}

// ServeHTTP is the dispatcher: parse, look up the route's access, authenticate, resolve the
// project, authorize, then serve.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, err := ParsePath(r.URL.EscapedPath())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ep, ok := routes[onlyLevel{}][rt.kind][r.Method]
	if !ok {
		h.writeError(w, r, pkghttp.ErrMethod)
		return
	}
	g, err := pkghttp.Authorize(r, h.cfg.Auth, h.cfg.Gate, h.cfg.Packages, target(r, rt), ep.action)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ep.serve(h, w, r, rt, g)
}

// target is the project the path names. gem push sends its API key alone as the Authorization
// header (no scheme), which GitLab accepts: such a header is read as a token on its own.
func target(r *http.Request, rt Route) pkghttp.Target {
	t := pkghttp.Target{Ref: rt.Ref}
	if a := r.Header.Get("Authorization"); a != "" && !strings.ContainsAny(a, " \t") {
		t.Credentials = authn.PackageAuth{TokenHeaders: []string{"Authorization"}}
	}
	return t
}

// versionMeta is a version's JSON document: the gemspec of each of its .gem files (one per
// platform), by file name.
type versionMeta struct {
	Gems map[string]*Spec `json:"gems"`
}

func specs(v *packages.Version) map[string]*Spec {
	var m versionMeta
	_ = json.Unmarshal(v.Metadata, &m) // stored by handlePush
	return m.Gems
}

// handlePush stores a pushed .gem: its gemspec is read and validated first, then the whole gem
// is streamed into the store while the rest of it is checked against checksums.yaml.gz.
func (h *Handler) handlePush(w http.ResponseWriter, r *http.Request, _ Route, g pkghttp.Grant) {
	ctx := r.Context()
	if max := h.cfg.Packages.MaxFileSize(packages.RubyGems); r.ContentLength > max {
		h.writeError(w, r, fmt.Errorf("%w: the rubygems limit is %d bytes", packages.ErrTooLarge, max))
		return
	}
	gem, err := ParseGem(r.Body, DefaultLimits())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	spec, project := gem.Spec, g.Project()
	meta := versionMeta{Gems: map[string]*Spec{}}
	if pkg, err := h.cfg.Packages.Package(ctx, project.ID, packages.RubyGems, spec.Name); err == nil {
		if v, err := h.cfg.Packages.Version(ctx, pkg, spec.Version); err == nil {
			for f, s := range specs(v) {
				meta.Gems[f] = s
			}
		} else if !errors.Is(err, packages.ErrNotFound) {
			h.writeError(w, r, err)
			return
		}
	} else if !errors.Is(err, packages.ErrNotFound) {
		h.writeError(w, r, err)
		return
	}
	if meta.Gems[spec.Filename()] == nil {
		meta.Gems[spec.Filename()] = spec
	}
	doc, err := json.Marshal(meta)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	_, err = h.cfg.Packages.AddFile(ctx, packages.Upload{ProjectID: project.ID, Format: packages.RubyGems, Name: spec.Name,
		Version: spec.Version, Filename: spec.Filename(), Metadata: doc, Size: r.ContentLength, Body: gem.Content})
	if gerr := gem.Err(); err != nil && gerr != nil {
		err = gerr
	}
	if errors.Is(err, packages.ErrConflict) {
		err = &existsError{spec.FullName()}
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	pkghttp.WriteText(w, http.StatusCreated, "Successfully registered gem: "+spec.Name+" ("+spec.Version+")")
}

// existsError is a refused re-push of a gem file.
type existsError struct{ fullName string }

func (e *existsError) Error() string {
	return "Repushing of gem versions is not allowed: " + e.fullName + " already exists"
}

func (e *existsError) Unwrap() error { return packages.ErrConflict }

// handleDependencies answers the dependency API (gem install's resolver in RubyGems 3.3 and
// older bundler): for each asked-for gem held by the project, each version's runtime
// dependencies. Without gems= it is the probe that says the API exists.
func (h *Handler) handleDependencies(w http.ResponseWriter, r *http.Request, _ Route, g pkghttp.Grant) {
	names, err := ParseDependencyNames(r.URL.Query().Get("gems"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if len(names) == 0 {
		writeMarshal(w, r, nil, "application/octet-stream")
		return
	}
	out := []any{}
	for _, name := range names {
		pkg, err := h.cfg.Packages.Package(r.Context(), g.Project().ID, packages.RubyGems, name)
		if errors.Is(err, packages.ErrNotFound) {
			continue
		}
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		vs, err := h.cfg.Packages.Versions(r.Context(), pkg, false)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		for _, v := range vs {
			for _, s := range sortedSpecs(v) {
				out = append(out, s.dependencyEntry())
			}
		}
	}
	doc, err := Marshal(out)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeMarshal(w, r, doc, "application/octet-stream")
}

func sortedSpecs(v *packages.Version) []*Spec {
	m := specs(v)
	files := make([]string, 0, len(m))
	for f := range m {
		if v.File(f) != nil {
			files = append(files, f)
		}
	}
	sort.Strings(files)
	out := make([]*Spec, len(files))
	for i, f := range files {
		out[i] = m[f]
	}
	return out
}

// handleSpecs answers specs.4.8.gz (every release), latest_specs.4.8.gz (the highest release of
// each gem and platform) and prerelease_specs.4.8.gz: gzipped Marshal arrays of
// [name, Gem::Version, platform].
func (h *Handler) handleSpecs(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	ctx := r.Context()
	list, err := h.cfg.Packages.Packages(ctx, g.Project().ID, packages.RubyGems)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	tuples := []any{}
	for _, pkg := range list {
		vs, err := h.cfg.Packages.Versions(ctx, pkg, false)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		latest := map[string]*Spec{} // platform → highest release
		var order []string
		for _, v := range vs {
			for _, s := range sortedSpecs(v) {
				pre := Prerelease(s.Version)
				switch rt.kind {
				case kindSpecs:
					if !pre {
						tuples = append(tuples, specTuple(s.Name, s.Version, s.Platform))
					}
				case kindPrerelease:
					if pre {
						tuples = append(tuples, specTuple(s.Name, s.Version, s.Platform))
					}
				case kindLatestSpecs:
					if old, ok := latest[s.Platform]; !pre && (!ok || CompareVersions(s.Version, old.Version) > 0) {
						if !ok {
							order = append(order, s.Platform)
						}
						latest[s.Platform] = s
					}
				}
			}
		}
		for _, p := range order {
			tuples = append(tuples, specTuple(latest[p].Name, latest[p].Version, p))
		}
	}
	doc, err := Marshal(tuples)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var b bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(&b)
	_, _ = zw.Write(doc)
	_ = zw.Close()
	gzipWriters.Put(zw)
	writeMarshal(w, r, b.Bytes(), "application/octet-stream")
}

// gzipWriters are reused: a gzip.Writer allocates about 800 KiB, far more than an index.
var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(io.Discard) }}

// find returns the project's file named filename with the version holding it: its gem is one
// of the names the file name starts with (handlePush named it so).
func (h *Handler) find(r *http.Request, projectID int64, filename string) (*packages.Version, *packages.File, error) {
	ctx := r.Context()
	for _, name := range FilenameGems(filename) {
		pkg, err := h.cfg.Packages.Package(ctx, projectID, packages.RubyGems, name)
		if errors.Is(err, packages.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		vs, err := h.cfg.Packages.Versions(ctx, pkg, true)
		if err != nil {
			return nil, nil, err
		}
		for _, v := range vs {
			if f := v.File(filename); f != nil {
				return v, f, nil
			}
		}
	}
	return nil, nil, fmt.Errorf("rubygems file: %w", packages.ErrNotFound)
}

// handleQuickSpec answers a gem's gemspec as Marshal, deflated (the .rz of the quick index).
func (h *Handler) handleQuickSpec(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	v, _, err := h.find(r, g.Project().ID, rt.Filename)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	spec := specs(v)[rt.Filename]
	if spec == nil {
		h.writeError(w, r, fmt.Errorf("rubygems gemspec: %w", packages.ErrNotFound))
		return
	}
	doc, err := spec.QuickSpec()
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var b bytes.Buffer
	zw := zlib.NewWriter(&b)
	_, _ = zw.Write(doc)
	_ = zw.Close()
	writeMarshal(w, r, b.Bytes(), "application/octet-stream")
}

// handleGem streams a .gem file.
func (h *Handler) handleGem(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	_, f, err := h.find(r, g.Project().ID, rt.Filename)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	err = pkghttp.SendFile(w, r, h.cfg.Packages, h.cfg.Log, f, "rubygems gem download", func(hdr http.Header) {
		hdr.Set("Content-Type", "application/octet-stream")
		// The file name passed ValidateFilename: nothing in it needs quoting.
		hdr.Set("Content-Disposition", `attachment; filename="`+f.Filename+`"`)
	})
	if err != nil {
		h.writeError(w, r, err)
	}
}

func writeMarshal(w http.ResponseWriter, r *http.Request, body []byte, contentType string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "private, max-age=0")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// writeError is the format's one error writer: the shared kinds → status (pkghttp.Classify) and
// a line of text, which gem prints. Unknown errors are logged with the request ID and answered
// with a generic 500.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ee *existsError
	p := pkghttp.Classify(err)
	switch {
	case errors.Is(err, authn.ErrInvalidCredentials):
		p.Detail = "the credentials are not valid"
	case p.Status == http.StatusConflict && errors.As(err, &ee):
		p.Detail = ee.Error()
	}
	p.WriteText(w, r, h.cfg.Log)
}
