// Package pypi serves GitLab's PyPI API for the real twine and pip:
//
//	project /api/v4/projects/:id/packages/pypi              POST: twine upload (:action=file_upload)
//	        /api/v4/projects/:id/packages/pypi/simple/      the project list (PEP 503/691)
//	        /api/v4/projects/:id/packages/pypi/simple/:name/ a project's files (PEP 503/691)
//	        /api/v4/projects/:id/packages/pypi/files/:sha256/:filename  a file
//	group   /api/v4/groups/:id/-/packages/pypi/simple/:name/ the files of the one project in the
//	                                                          group (and below) holding :name; 409
//	                                                          naming them when several do
//	        /api/v4/groups/:id/-/packages/pypi/files/:sha256/:filename
//
// Simple pages are HTML (PEP 503) or, when the Accept header prefers it, JSON (PEP 691). Links
// carry #sha256= fragments and data-requires-python. Names that are not in PEP 503's normal form,
// or lack the trailing slash, are redirected to it. Credentials are HTTP basic (username ignored
// for deploy tokens), Deploy-Token, Private-Token or Bearer; a 401 carries a Basic challenge so
// that pip retries with the credentials of its index URL or keyring. Errors are plain text.
package pypi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/packages/pkghttp"
)

// Config is what the PyPI registry needs from the composition root.
type Config struct {
	Packages *packages.Service
	Auth     *authn.Authenticator
	Gate     *gate.Gate
	Log      *slog.Logger
	// ExternalURL is the server's public base URL, for file links in simple pages.
	ExternalURL string
}

// Handler serves the PyPI API. Create it with New.
type Handler struct {
	cfg Config
}

// New returns the handler for cfg.
func New(cfg Config) *Handler { return &Handler{cfg: cfg} }

// Patterns are the ServeMux patterns the handler serves. The repository URL itself has no
// trailing slash (twine posts to it and refuses redirects), so it is a pattern of its own.
func (h *Handler) Patterns() []string {
	return []string{"/api/v4/projects/{id}/packages/pypi", "/api/v4/projects/{id}/packages/pypi/",
		"/api/v4/groups/{id}/-/packages/pypi/"}
}

type endpoint struct {
	action access.Action
	serve  func(h *Handler, w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant)
}

// routes is the route table: level → kind → method → endpoint. Every route names its access
// action (parse_test.go checks); anything else is 405.
var routes = map[level]map[kind]map[string]endpoint{
	levelProject: {
		kindUpload:        {http.MethodPost: {access.WritePackage, (*Handler).handleUpload}},
		kindSimpleIndex:   {http.MethodGet: {access.ReadPackage, (*Handler).handleIndex}, http.MethodHead: {access.ReadPackage, (*Handler).handleIndex}},
		kindSimpleProject: {http.MethodGet: {access.ReadPackage, (*Handler).handleProject}, http.MethodHead: {access.ReadPackage, (*Handler).handleProject}},
		kindFile:          {http.MethodGet: {access.ReadPackage, (*Handler).handleFile}, http.MethodHead: {access.ReadPackage, (*Handler).handleFile}},
	},
	levelGroup: {
		kindSimpleProject: {http.MethodGet: {access.ReadPackage, (*Handler).handleProject}, http.MethodHead: {access.ReadPackage, (*Handler).handleProject}},
		kindFile:          {http.MethodGet: {access.ReadPackage, (*Handler).handleFile}, http.MethodHead: {access.ReadPackage, (*Handler).handleFile}},
	},
}

// paths are the route patterns of the kinds, after the level's prefix, for Routes (the
// gate walk in internal/server sends each, filled in).
var paths = map[kind]string{
	kindUpload:        "",
	kindSimpleIndex:   "/simple/",
	kindSimpleProject: "/simple/{name}/",
	kindFile:          "/files/{sha256}/{file}",
}

// at is the level as pkghttp names it.
func (l level) at() pkghttp.Level {
	return [...]pkghttp.Level{levelProject: pkghttp.ProjectLevel, levelGroup: pkghttp.GroupLevel}[l]
}

// Routes lists the route table with how each route is gated: its action, decided at the gate on
// the project {id} names, or on the one project in the group {id} names that holds the name or
// file (docs/architecture.md §3.3).
func Routes() []gate.Route {
	return pkghttp.Routes("pypi", routes, level.at, paths, func(lv pkghttp.Level, ep endpoint) gate.Rule { return lv.Decide(ep.action) })
}

// ServeHTTP is the dispatcher: parse, look up the route's access, authenticate, resolve the
// project(s), authorize, then serve.
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
	g, err := pkghttp.Authorize(r, h.cfg.Auth, h.cfg.Gate, h.cfg.Packages, h.target(r, rt), ep.action)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ep.serve(h, w, r, rt, g)
}

// target is what a request acts on: the project, or (group level) the one project in the group
// holding what is asked for. Several holders are a 409 naming them (pkghttp.Holder): a merged
// index would let any project of the group add a higher version that pip takes. When the
// credential may read no holder, the one audited decision on the most recently updated holder
// explains the refusal.
func (h *Handler) target(r *http.Request, rt Route) pkghttp.Target {
	if rt.level == levelProject {
		return pkghttp.Target{Ref: rt.Ref}
	}
	return pkghttp.Target{Level: rt.level.at(), Ref: rt.Ref, Name: rt.Name,
		Holders: func(ctx context.Context, g *namespace.Group) ([]*namespace.Project, error) {
			return h.groupHolders(r, g, rt)
		}}
}

// groupHolders lists the projects in grp (at any depth) that hold the requested project name,
// or the requested file, most recently updated first.
func (h *Handler) groupHolders(r *http.Request, grp *namespace.Group, rt Route) ([]*namespace.Project, error) {
	ctx := r.Context()
	if rt.kind == kindSimpleProject {
		return h.cfg.Packages.ProjectsHolding(ctx, packages.PyPI, rt.Name, grp)
	}
	var out []*namespace.Project
	seen := map[int64]bool{}
	for _, name := range FilenameProjects(rt.Filename) {
		projects, err := h.cfg.Packages.ProjectsHolding(ctx, packages.PyPI, name, grp)
		if err != nil {
			return nil, err
		}
		for _, proj := range projects {
			if seen[proj.ID] {
				continue
			}
			seen[proj.ID] = true
			if _, err := h.findFile(r, proj.ID, rt); errors.Is(err, packages.ErrNotFound) {
				continue
			} else if err != nil {
				return nil, err
			}
			out = append(out, proj)
		}
	}
	return out, nil
}

// findFile finds the file named rt.Filename with digest rt.SHA256 in a project: its package is
// one of the names the filename starts with (ParseUpload made sure of that).
func (h *Handler) findFile(r *http.Request, projectID int64, rt Route) (*packages.File, error) {
	ctx := r.Context()
	for _, name := range FilenameProjects(rt.Filename) {
		pkg, err := h.cfg.Packages.Package(ctx, projectID, packages.PyPI, name)
		if errors.Is(err, packages.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		versions, err := h.cfg.Packages.Versions(ctx, pkg, true)
		if err != nil {
			return nil, err
		}
		for _, v := range versions {
			if f := v.File(rt.Filename); f != nil && f.SHA256 == rt.SHA256 {
				return f, nil
			}
		}
	}
	return nil, fmt.Errorf("pypi file: %w", packages.ErrNotFound)
}

// handleUpload stores a twine upload: the form's fields are parsed and validated before the file
// is streamed into the store, where its declared MD5 and SHA-256 are checked before anything is
// recorded.
func (h *Handler) handleUpload(w http.ResponseWriter, r *http.Request, _ Route, g pkghttp.Grant) {
	ctx := r.Context()
	lim := DefaultLimits()
	if max := h.cfg.Packages.MaxFileSize(packages.PyPI); r.ContentLength > max+int64(lim.MaxMetadata) {
		h.writeError(w, r, fmt.Errorf("%w: the pypi limit is %d bytes", packages.ErrTooLarge, max))
		return
	}
	up, err := ParseUpload(r.Body, r.Header.Get("Content-Type"), lim)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	project := g.Project()
	meta := up.Metadata
	if pkg, err := h.cfg.Packages.Package(ctx, project.ID, packages.PyPI, up.Name); err == nil {
		if v, err := h.cfg.Packages.Version(ctx, pkg, up.Version); err == nil {
			var old Metadata
			_ = json.Unmarshal(v.Metadata, &old) // stored by this handler
			meta = meta.Merge(old)
		} else if !errors.Is(err, packages.ErrNotFound) {
			h.writeError(w, r, err)
			return
		}
	} else if !errors.Is(err, packages.ErrNotFound) {
		h.writeError(w, r, err)
		return
	}
	doc, err := json.Marshal(meta)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	_, err = h.cfg.Packages.AddFile(ctx, packages.Upload{ProjectID: project.ID, Format: packages.PyPI, Name: up.Name,
		Version: up.Version, Filename: up.Filename, Metadata: doc, Expected: up.Expected, Size: -1, Body: up.Content})
	if errors.Is(err, packages.ErrConflict) {
		h.writeError(w, r, &existsError{up.Filename})
		return
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	pkghttp.WriteText(w, http.StatusCreated, "201 Created")
}

// existsError is a refused re-upload of a filename.
type existsError struct{ filename string }

func (e *existsError) Error() string { return "File already exists: " + e.filename }

func (e *existsError) Unwrap() error { return packages.ErrConflict }

// handleIndex lists the project's PyPI packages (PEP 503 root page, or PEP 691 JSON).
func (h *Handler) handleIndex(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	if !strings.HasSuffix(r.URL.Path, "/") {
		redirect(w, r, h.cfg.ExternalURL+rt.Prefix+"/simple/")
		return
	}
	list, err := h.cfg.Packages.Packages(r.Context(), g.Project().ID, packages.PyPI)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	type entry struct{ name, norm string }
	var names []entry
	for _, p := range list {
		names = append(names, entry{p.Name, p.NormalizedName})
	}
	sort.Slice(names, func(i, j int) bool { return names[i].norm < names[j].norm })
	if WantsJSON(r.Header.Get("Accept")) {
		type project struct {
			Name string `json:"name"`
		}
		doc := struct {
			Meta     meta      `json:"meta"`
			Projects []project `json:"projects"`
		}{Meta: meta{APIVersion: apiVersion}, Projects: []project{}}
		for _, n := range names {
			doc.Projects = append(doc.Projects, project{n.name})
		}
		writeJSON(w, doc)
		return
	}
	var b strings.Builder
	b.WriteString(htmlHead("Simple index"))
	for _, n := range names {
		fmt.Fprintf(&b, "    <a href=\"%s/\">%s</a><br>\n", html.EscapeString(n.norm), html.EscapeString(n.name))
	}
	b.WriteString(htmlFoot)
	writeHTML(w, b.String())
}

// apiVersion is the PEP 691 version served: 1.1 adds "versions", "size" and "upload-time" (PEP 700).
const apiVersion = "1.1"

type meta struct {
	APIVersion string `json:"api-version"`
}

// fileJSON is one file of a PEP 691 project page.
type fileJSON struct {
	Filename       string            `json:"filename"`
	URL            string            `json:"url"`
	Hashes         map[string]string `json:"hashes"`
	RequiresPython *string           `json:"requires-python,omitempty"`
	Size           int64             `json:"size"`
	UploadTime     string            `json:"upload-time"`
	Yanked         bool              `json:"yanked"`
}

// handleProject answers a project's files; a group-level request was granted the one project
// of the group that holds the name.
func (h *Handler) handleProject(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	ctx := r.Context()
	norm := Normalize(rt.Name)
	if !rt.Canonical {
		redirect(w, r, h.cfg.ExternalURL+rt.Prefix+"/simple/"+norm+"/")
		return
	}
	var files []fileJSON
	var versions []string
	seenFile, seenVersion := map[string]bool{}, map[string]bool{}
	for _, proj := range g.Projects() {
		pkg, err := h.cfg.Packages.Package(ctx, proj.ID, packages.PyPI, rt.Name)
		if errors.Is(err, packages.ErrNotFound) {
			continue
		}
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		vs, err := h.cfg.Packages.Versions(ctx, pkg, false)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		for _, v := range vs {
			var m Metadata
			_ = json.Unmarshal(v.Metadata, &m) // stored by handleUpload
			if !seenVersion[v.Version] {
				seenVersion[v.Version] = true
				versions = append(versions, v.Version)
			}
			for _, f := range v.Files {
				if seenFile[f.Filename] {
					continue
				}
				seenFile[f.Filename] = true
				fj := fileJSON{Filename: f.Filename, URL: h.cfg.ExternalURL + rt.Prefix + "/files/" + f.SHA256 + "/" + f.Filename,
					Hashes: map[string]string{"sha256": f.SHA256}, Size: f.Size,
					UploadTime: f.CreatedAt.UTC().Format("2006-01-02T15:04:05.000000Z")}
				if m.RequiresPython != "" {
					rp := m.RequiresPython
					fj.RequiresPython = &rp
				}
				files = append(files, fj)
			}
		}
	}
	if len(files) == 0 {
		h.writeError(w, r, packages.ErrNotFound)
		return
	}
	sort.SliceStable(files, func(i, j int) bool { return files[i].Filename < files[j].Filename })
	if WantsJSON(r.Header.Get("Accept")) {
		writeJSON(w, struct {
			Meta     meta       `json:"meta"`
			Name     string     `json:"name"`
			Versions []string   `json:"versions"`
			Files    []fileJSON `json:"files"`
		}{meta{apiVersion}, norm, versions, files})
		return
	}
	var b strings.Builder
	b.WriteString(htmlHead("Links for " + norm))
	for _, f := range files {
		fmt.Fprintf(&b, "    <a href=\"%s#sha256=%s\"", html.EscapeString(f.URL), f.Hashes["sha256"])
		if f.RequiresPython != nil {
			fmt.Fprintf(&b, " data-requires-python=\"%s\"", html.EscapeString(*f.RequiresPython))
		}
		fmt.Fprintf(&b, ">%s</a><br>\n", html.EscapeString(f.Filename))
	}
	b.WriteString(htmlFoot)
	writeHTML(w, b.String())
}

// handleFile streams a file found by digest and filename.
func (h *Handler) handleFile(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	var f *packages.File
	var err error
	for _, proj := range g.Projects() {
		if f, err = h.findFile(r, proj.ID, rt); err == nil || !errors.Is(err, packages.ErrNotFound) {
			break
		}
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	err = pkghttp.SendFile(w, r, h.cfg.Packages, h.cfg.Log, f, "pypi file download", func(hdr http.Header) {
		hdr.Set("Content-Type", "application/octet-stream")
		// The filename passed ValidateFilename: nothing in it needs quoting.
		hdr.Set("Content-Disposition", `attachment; filename="`+f.Filename+`"`)
		hdr.Set("Last-Modified", f.CreatedAt.UTC().Format(http.TimeFormat))
	})
	if err != nil {
		h.writeError(w, r, err)
	}
}

func redirect(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusMovedPermanently)
}

func htmlHead(title string) string {
	t := html.EscapeString(title)
	return "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.1\">\n" +
		"    <title>" + t + "</title>\n  </head>\n  <body>\n    <h1>" + t + "</h1>\n"
}

const htmlFoot = "  </body>\n</html>\n"

func writeHTML(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Vary", "Accept")
	w.Header().Set("Cache-Control", "private, max-age=0")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, body)
}

func writeJSON(w http.ResponseWriter, doc any) {
	w.Header().Set("Content-Type", TypeJSON)
	w.Header().Set("Vary", "Accept")
	w.Header().Set("Cache-Control", "private, max-age=0")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(doc)
}

// writeError is the format's one error writer: the shared kinds → status (pkghttp.Classify) and
// a line of text, which twine prints with --verbose and pip in its error. Unknown errors are
// logged with the request ID and answered with a generic 500.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ee *existsError
	p := pkghttp.Classify(err)
	switch {
	case errors.Is(err, authn.ErrInvalidCredentials):
		p.Detail = "the credentials are not valid"
	case p.Status == http.StatusConflict && errors.As(err, &ee):
		// 409 lets `twine upload --skip-existing` skip the file.
		p.Detail = ee.Error()
	case p.Status == http.StatusConflict && p.Detail == "":
		p.Detail = "already exists"
	}
	p.WriteText(w, r, h.cfg.Log)
}
