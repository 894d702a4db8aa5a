// Package npm serves the npm registry API as GitLab does, for the real npm client:
//
//	project  /api/v4/projects/:id/packages/npm/…   publish, metadata, tarballs, dist-tags
//	group    /api/v4/groups/:id/-/packages/npm/…   metadata, tarballs, dist-tags (read)
//	instance /api/v4/packages/npm/…                metadata, tarballs, dist-tags; the name's
//	                                               @scope must be a top-level group
//
// Under each prefix: <name> (GET packument, full or abbreviated with Accept:
// application/vnd.npm.install-v1+json; PUT publish), <name>/-/<base>-<version>.tgz (tarball),
// -/package/<name>/dist-tags (GET) and -/package/<name>/dist-tags/<tag> (PUT, DELETE). Names
// travel as "@scope%2fname" (npm) or "@scope/name". Group- and instance-level requests are
// served from the one project in the group (for the instance level, the top-level group the
// @scope names) that holds the package. When several projects there hold it, the answer is a
// 409 that names them: anyone who may publish to any project of the group could otherwise plant
// a higher version that `npm install` would take. Errors are npm's {"error": "..."}.
package npm

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/packages/pkghttp"
)

// Config is what the npm registry needs from the composition root.
type Config struct {
	Packages *packages.Service
	Auth     *authn.Authenticator
	Gate     *gate.Gate
	Log      *slog.Logger
	// ExternalURL is the server's public base URL, for tarball URLs in packuments.
	ExternalURL string
}

// Handler serves the npm registry API. Create it with New.
type Handler struct {
	cfg Config
}

// New returns the handler for cfg.
func New(cfg Config) *Handler { return &Handler{cfg: cfg} }

// Patterns are the ServeMux patterns the handler serves.
func (h *Handler) Patterns() []string {
	return []string{"/api/v4/projects/{id}/packages/npm/", "/api/v4/groups/{id}/-/packages/npm/", "/api/v4/packages/npm/"}
}

type endpoint struct {
	action access.Action
	serve  func(h *Handler, w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant)
}

// routes is the route table: level → kind → method → endpoint. Every route names its access
// action (parse_test.go checks); anything else is 405.
var routes = map[level]map[kind]map[string]endpoint{
	levelProject: {
		kindPackage:  {http.MethodGet: {access.ReadPackage, (*Handler).handlePackument}, http.MethodPut: {access.WritePackage, (*Handler).handlePublish}},
		kindTarball:  {http.MethodGet: {access.ReadPackage, (*Handler).handleTarball}},
		kindDistTags: {http.MethodGet: {access.ReadPackage, (*Handler).handleDistTags}},
		kindDistTag:  {http.MethodPut: {access.WritePackage, (*Handler).handleSetDistTag}, http.MethodDelete: {access.WritePackage, (*Handler).handleDeleteDistTag}},
	},
	levelGroup: {
		kindPackage:  {http.MethodGet: {access.ReadPackage, (*Handler).handlePackument}},
		kindTarball:  {http.MethodGet: {access.ReadPackage, (*Handler).handleTarball}},
		kindDistTags: {http.MethodGet: {access.ReadPackage, (*Handler).handleDistTags}},
	},
	levelInstance: {
		kindPackage:  {http.MethodGet: {access.ReadPackage, (*Handler).handlePackument}},
		kindTarball:  {http.MethodGet: {access.ReadPackage, (*Handler).handleTarball}},
		kindDistTags: {http.MethodGet: {access.ReadPackage, (*Handler).handleDistTags}},
		kindDistTag:  {http.MethodPut: {access.WritePackage, (*Handler).handleSetDistTag}, http.MethodDelete: {access.WritePackage, (*Handler).handleDeleteDistTag}},
	},
}

// paths are the route patterns of the kinds, after the level's prefix, for Routes (the
// gate walk in internal/server sends each, filled in).
var paths = map[kind]string{
	kindPackage:  "/{name}",
	kindTarball:  "/{name}/-/{file}",
	kindDistTags: "/-/package/{name}/dist-tags",
	kindDistTag:  "/-/package/{name}/dist-tags/{tag}",
}

// at is the level as pkghttp names it.
func (l level) at() pkghttp.Level {
	return [...]pkghttp.Level{levelProject: pkghttp.ProjectLevel, levelGroup: pkghttp.GroupLevel, levelInstance: pkghttp.InstanceLevel}[l]
}

// Routes lists the route table with how each route is gated: its action, decided at the gate on
// the project {id} names, or on the one holder of the package in the group {id} names or in
// the top-level group of the name's @scope (docs/architecture.md §3.3).
func Routes() []gate.Route {
	return pkghttp.Routes("npm", routes, level.at, paths, func(lv pkghttp.Level, ep endpoint) gate.Rule { return lv.Decide(ep.action) })
}

// ServeHTTP is the dispatcher: parse, look up the route's access, authenticate, resolve the
// project, authorize once, then serve.
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
	g, err := pkghttp.Authorize(r, h.cfg.Auth, h.cfg.Gate, h.cfg.Packages, target(rt), ep.action)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ep.serve(h, w, r, rt, g)
}

// target is what a request acts on: the project, or the one project holding the package among
// a group's projects or, at the instance level, those of the top-level group its @scope names
// (GitLab's rule). A second holder in that scope is a 409, never the newer one's versions.
func target(rt Route) pkghttp.Target {
	t := pkghttp.Target{Level: rt.level.at(), Ref: rt.Ref, Format: packages.NPM, Name: rt.Name.String()}
	if rt.level == levelInstance {
		t.Ref, t.Scoped = rt.Name.Scope, true
	}
	return t
}

// handlePublish stores an `npm publish`: the document is parsed and its tarball verified before
// anything is stored; the version, its file and its dist-tags are recorded together.
func (h *Handler) handlePublish(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	lim := DefaultLimits(h.cfg.Packages.MaxFileSize(packages.NPM))
	if r.ContentLength > lim.MaxBody() {
		h.writeError(w, r, packages.ErrTooLarge)
		return
	}
	pub, err := ParsePublish(r.Body, rt.Name, lim)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	_, err = h.cfg.Packages.AddFile(r.Context(), packages.Upload{ProjectID: g.Project().ID, Format: packages.NPM,
		Name: pub.Name.String(), Version: pub.Version, Filename: pub.Filename, Metadata: pub.Manifest, Tags: pub.Tags,
		Expected: pub.Expected, Size: int64(len(pub.Tarball)), Body: bytes.NewReader(pub.Tarball)})
	if errors.Is(err, packages.ErrConflict) {
		h.writeError(w, r, errPublishedBefore(pub.Version))
		return
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"ok": true, "id": pub.Name.String(), "rev": pub.Version})
}

// conflictError is a refused re-publish, in npm's words.
type conflictError struct{ version string }

func errPublishedBefore(v string) error { return &conflictError{v} }

func (e *conflictError) Error() string {
	return "cannot publish over the previously published version " + e.version
}

func (e *conflictError) Unwrap() error { return packages.ErrConflict }

// handlePackument answers the package document: full, or abbreviated for npm install.
func (h *Handler) handlePackument(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	ctx := r.Context()
	pkg, err := h.cfg.Packages.Package(ctx, g.Project().ID, packages.NPM, rt.Name.String())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	versions, err := h.cfg.Packages.Versions(ctx, pkg, false)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	tags, err := h.cfg.Packages.Tags(ctx, pkg)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if len(versions) == 0 {
		h.writeError(w, r, packages.ErrNotFound)
		return
	}
	abbreviated := strings.Contains(r.Header.Get("Accept"), abbreviatedType)
	doc := packument(pkg, versions, tags, h.cfg.ExternalURL+rt.Prefix, abbreviated)
	ct := "application/json"
	if abbreviated {
		ct = abbreviatedType
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(doc)
}

// handleTarball streams a version's tarball.
func (h *Handler) handleTarball(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	ctx := r.Context()
	f, err := h.cfg.Packages.File(ctx, g.Project().ID, packages.NPM, rt.Name.String(), rt.Version, rt.Filename)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	err = pkghttp.SendFile(w, r, h.cfg.Packages, h.cfg.Log, f, "npm tarball download", func(hdr http.Header) {
		hdr.Set("Content-Type", "application/octet-stream")
	})
	if err != nil {
		h.writeError(w, r, err)
	}
}

// handleDistTags lists the package's dist-tags.
func (h *Handler) handleDistTags(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	ctx := r.Context()
	pkg, err := h.cfg.Packages.Package(ctx, g.Project().ID, packages.NPM, rt.Name.String())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	tags, err := h.cfg.Packages.Tags(ctx, pkg)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := map[string]string{}
	for _, t := range tags {
		out[t.Name] = t.Version
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// maxTagBody bounds a dist-tag PUT body (a JSON string holding a version).
const maxTagBody = 1024

// handleSetDistTag points a dist-tag at a version (`npm dist-tag add name@version tag` sends the
// version as a JSON string).
func (h *Handler) handleSetDistTag(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	ctx := r.Context()
	b, err := io.ReadAll(io.LimitReader(r.Body, maxTagBody+1))
	if err != nil || len(b) > maxTagBody {
		h.writeError(w, r, invalid("body", "must be the version as a JSON string"))
		return
	}
	var version string
	if json.Unmarshal(b, &version) != nil {
		version = strings.TrimSpace(string(b))
	}
	if !ValidVersion(version) {
		h.writeError(w, r, invalid("version", "must be a semantic version (semver.org)"))
		return
	}
	pkg, err := h.cfg.Packages.Package(ctx, g.Project().ID, packages.NPM, rt.Name.String())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.cfg.Packages.SetTag(ctx, pkg, rt.Tag, version); err != nil {
		h.writeError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// handleDeleteDistTag removes a dist-tag.
func (h *Handler) handleDeleteDistTag(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	ctx := r.Context()
	pkg, err := h.cfg.Packages.Package(ctx, g.Project().ID, packages.NPM, rt.Name.String())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if rt.Tag == "latest" {
		h.writeError(w, r, invalid("dist-tag", "latest cannot be removed; point it at another version instead"))
		return
	}
	if err := h.cfg.Packages.DeleteTag(ctx, pkg, rt.Tag); err != nil {
		h.writeError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"ok": true})
}

func writeNPMError(w http.ResponseWriter, status int, msg string) {
	httpx.WriteJSON(w, status, map[string]string{"error": msg})
}

// writeError is the format's one error writer: the shared kinds → status (pkghttp.Classify) in
// npm's {"error": …}. npm shows the text after the status line ("403 Forbidden - PUT … -
// <error>"). Unknown errors are logged with the request ID and answered with a generic 500.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ce *conflictError
	p := pkghttp.Classify(err)
	var msg string
	switch {
	case errors.Is(err, authn.ErrInvalidCredentials):
		msg = "unauthorized: the credentials are not valid"
	case p.Status == http.StatusUnauthorized:
		msg = "unauthorized: authentication required"
		if p.Detail != "" {
			msg = "unauthorized: " + p.Detail
		}
	case p.Status == http.StatusForbidden:
		msg = "forbidden"
		if p.Detail != "" {
			msg = "forbidden: " + p.Detail
		}
	case p.Status == http.StatusConflict && errors.As(err, &ce):
		// npm's registry answers a re-publish with 403, and npm prints the reason.
		p.Status, msg = http.StatusForbidden, ce.Error()
	case p.Status == http.StatusNotFound:
		msg = "not_found: package, version or file not found"
	case p.Status == http.StatusBadRequest:
		msg = "bad request"
		if p.Detail != "" {
			msg = "bad request: " + p.Detail
		}
	case p.Status == http.StatusRequestEntityTooLarge:
		msg = "the package is larger than this registry's npm limit"
	case p.Status == http.StatusConflict && p.Detail != "":
		msg = "conflict: " + p.Detail
	case p.Status == http.StatusConflict:
		msg = "conflict: already exists"
	case p.Status == http.StatusMethodNotAllowed:
		msg = "method not allowed"
	default:
		msg = "internal server error"
	}
	p.Prepare(w, r, h.cfg.Log)
	writeNPMError(w, p.Status, msg)
}
