// Package composer serves PHP Composer packages as GitLab does, for the real composer client:
//
//	project /api/v4/projects/:id/packages/composer                 POST tag= or branch=: publish
//	project /api/v4/projects/:id/packages/composer/archives/<name>.zip?sha=…  the version's zip
//	group   /api/v4/group/:id/-/packages/composer/packages.json     the repository document
//	group   /api/v4/group/:id/-/packages/composer/p2/<name>.json    tagged versions
//	group   /api/v4/group/:id/-/packages/composer/p2/<name>~dev.json branch versions
//
// (GitLab spells the group prefix "group", singular, for Composer.) A publish builds the package
// from the project's own Git repository: composer.json is read at the tag or branch, and the
// tree is archived as a zip with git archive; nothing the client uploads is stored.
//
// packages.json is the same for every group and holds no data (only the template of the p2
// URLs), so it is answered without credentials. A p2 document is served from the one project
// of the group (at any depth) that holds the package: when several do, the answer is a 409
// naming them, never either copy, so a copy planted in another project of the group (same
// name, higher version) cannot be installed in place of the one the client meant
// (docs/composer.md). Errors are GitLab's {"message": "…"}.
package composer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/gitexec"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/packages/pkghttp"
)

// RepoDirs locates a project's bare Git repository; *git.Repos implements it.
type RepoDirs interface {
	Dir(projectID int64) string
}

// Config is what the Composer registry needs from the composition root.
type Config struct {
	Packages *packages.Service
	Auth     *authn.Authenticator
	Gate     *gate.Gate
	Log      *slog.Logger
	// ExternalURL is the server's public base URL, for the archive URLs in p2 documents.
	ExternalURL string
	Repos       RepoDirs
	// GitBin is the git binary (gitexec.DefaultBinary when empty).
	GitBin string
	// TempDir holds archives while they are built (os.TempDir when empty).
	TempDir string
}

// Handler serves the Composer registry API. Create it with New.
type Handler struct {
	cfg Config
}

// New returns the handler for cfg.
func New(cfg Config) *Handler { return &Handler{cfg: cfg} }

// Patterns are the ServeMux patterns the handler serves.
func (h *Handler) Patterns() []string {
	return []string{"/api/v4/projects/{id}/packages/composer", "/api/v4/projects/{id}/packages/composer/",
		"/api/v4/group/{id}/-/packages/composer/"}
}

type endpoint struct {
	// action is what the request needs; "" marks a public document (public says why).
	action access.Action
	public string
	serve  func(h *Handler, w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant)
}

const packagesJSONPublic = "packages.json is the same for every group and holds no data, only the template of the p2 URLs"

// routes is the route table: level → kind → method → endpoint (route_test.go checks it).
// Anything else is 405.
var routes = map[level]map[kind]map[string]endpoint{
	levelProject: {
		kindPublish: {http.MethodPost: {action: access.WritePackage, serve: (*Handler).handlePublish}},
		kindArchive: {http.MethodGet: {action: access.ReadPackage, serve: (*Handler).handleArchive}},
	},
	levelGroup: {
		kindPackages: {http.MethodGet: {public: packagesJSONPublic, serve: (*Handler).handlePackagesJSON}},
		kindMetadata: {http.MethodGet: {action: access.ReadPackage, serve: (*Handler).handleMetadata}},
	},
}

// paths are the route patterns of the kinds, after the level's prefix, for Routes (the gate
// walk in internal/server sends each, filled in).
var paths = map[kind]string{
	kindPublish:  "",
	kindArchive:  "/archives/{name}.zip",
	kindPackages: "/packages.json",
	kindMetadata: "/p2/{name}.json",
}

// at is the level as pkghttp names it.
func (l level) at() pkghttp.Level {
	return [...]pkghttp.Level{levelProject: pkghttp.ProjectLevel, levelGroup: pkghttp.GroupLevel}[l]
}

// groupPrefix is GitLab's group prefix for Composer, which pkghttp's group pattern spells
// "groups".
const groupPrefix = "/api/v4/group/"

// Routes lists the route table with how each route is gated: its action, decided at the gate on
// the project {id} names or on the one project of the group {id} names that holds the package,
// or public with the reason (docs/architecture.md §3.3).
func Routes() []gate.Route {
	rs := pkghttp.Routes("composer", routes, level.at, paths, func(lv pkghttp.Level, ep endpoint) gate.Rule {
		if ep.public != "" {
			return gate.Public(ep.public)
		}
		return lv.Decide(ep.action)
	})
	for i := range rs {
		rs[i].Pattern = strings.Replace(rs[i].Pattern, "/api/v4/groups/", groupPrefix, 1)
	}
	return rs
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
	if ep.public != "" {
		ep.serve(h, w, r, rt, pkghttp.Grant{})
		return
	}
	g, err := pkghttp.Authorize(r, h.cfg.Auth, h.cfg.Gate, h.cfg.Packages, target(rt), ep.action)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ep.serve(h, w, r, rt, g)
}

// target is what a request acts on: the project, or the one project of the group (at any depth)
// holding the package. A second holder is a 409 (pkghttp.Holder), never the newer copy.
func target(rt Route) pkghttp.Target {
	if rt.level == levelProject {
		return pkghttp.Target{Ref: rt.Ref}
	}
	return pkghttp.Target{Level: pkghttp.GroupLevel, Ref: rt.Ref, Format: packages.Composer, Name: rt.Name}
}

// versionMeta is a version's stored metadata: composer.json as it was at the ref, and where
// the version was built from.
type versionMeta struct {
	Composer map[string]json.RawMessage `json:"composer_json"`
	SHA      string                     `json:"sha"`
	Ref      string                     `json:"ref"`
}

// handlePublish builds a version from the project's repository at the tag or branch the form
// names: composer.json is read and checked first, then the tree is archived as a zip and stored.
func (h *Handler) handlePublish(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormSize)
	if err := r.ParseForm(); err != nil {
		h.writeError(w, r, invalid("form", "must be tag=<tag> or branch=<branch>, urlencoded"))
		return
	}
	src, err := ParsePublish(r.PostForm.Get("tag"), r.PostForm.Get("branch"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	repo := gitexec.Open(h.cfg.GitBin, h.cfg.Repos.Dir(g.Project().ID))
	var ref gitexec.Ref
	if src.Tag {
		ref, err = repo.Tag(ctx, src.Ref)
	} else {
		ref, err = repo.Branch(ctx, src.Ref)
	}
	if err != nil {
		h.writeError(w, r, gitError(err))
		return
	}
	commit := ref.Commit.ID
	entry, err := repo.Blob(ctx, commit, "composer.json")
	if errors.Is(err, gitexec.ErrNotFound) {
		h.writeError(w, r, invalid("composer.json", "is not in the repository at "+src.Ref))
		return
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if entry.Size > MaxManifestSize {
		h.writeError(w, r, packages.ErrTooLarge)
		return
	}
	raw, err := repo.ReadBlob(ctx, entry.ID, MaxManifestSize)
	if err != nil {
		h.writeError(w, r, gitError(err))
		return
	}
	m, err := ParseManifest(bytes.NewReader(raw), MaxManifestSize)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	meta, err := json.Marshal(versionMeta{Composer: m.JSON, SHA: commit, Ref: src.Ref})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	zip, size, err := h.archive(ctx, repo, commit, m.Name)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	defer zip.Close()
	_, err = h.cfg.Packages.AddFile(ctx, packages.Upload{ProjectID: g.Project().ID, Format: packages.Composer,
		Name: m.Name, Version: src.Version, Filename: archiveName(m.Name, src.Version), Metadata: meta, Size: size, Body: zip})
	if errors.Is(err, packages.ErrConflict) {
		err = &publishedError{name: m.Name, version: src.Version}
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, map[string]string{"message": "201 Created"})
}

// publishedError refuses publishing a tag's version again.
type publishedError struct{ name, version string }

func (e *publishedError) Error() string {
	return e.name + " " + e.version + " was published before; a tagged version is immutable"
}

func (e *publishedError) Unwrap() error { return packages.ErrConflict }

// gitError maps what the repository does not hold to ErrNotFound.
func gitError(err error) error {
	if errors.Is(err, gitexec.ErrNotFound) {
		return fmt.Errorf("%w: %w", packages.ErrNotFound, err)
	}
	return err
}

// archiveName is the stored file of a version: the package's name after the vendor, then the
// version ("tools-1.0.0.zip").
func archiveName(name, version string) string {
	_, base, _ := strings.Cut(name, "/")
	return base + "-" + version + ".zip"
}

// tempFile is the archive being stored; Close removes it.
type tempFile struct{ *os.File }

func (f tempFile) Close() error {
	err := f.File.Close()
	_ = os.Remove(f.Name())
	return err
}

// archive writes the tree of commit as a zip (git archive) to a temporary file, bounded by the
// format's limit, and returns it rewound with its size.
func (h *Handler) archive(ctx context.Context, repo gitexec.Repo, commit, name string) (io.ReadCloser, int64, error) {
	f, err := os.CreateTemp(h.cfg.TempDir, "composer-*.zip")
	if err != nil {
		return nil, 0, err
	}
	tf := tempFile{f}
	limit := h.cfg.Packages.MaxFileSize(packages.Composer)
	lw := &limitWriter{w: f, left: limit}
	prefix := strings.ReplaceAll(name, "/", "-") + "-" + commit[:min(12, len(commit))]
	if err := repo.Archive(ctx, lw, commit, "zip", prefix, ""); err != nil {
		tf.Close()
		if lw.over {
			return nil, 0, fmt.Errorf("%w: the composer limit is %d bytes", packages.ErrTooLarge, limit)
		}
		return nil, 0, err
	}
	size := limit - lw.left
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		tf.Close()
		return nil, 0, err
	}
	return tf, size, nil
}

// limitWriter fails once more than left bytes were written.
type limitWriter struct {
	w    io.Writer
	left int64
	over bool
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.left {
		l.over = true
		return 0, packages.ErrTooLarge
	}
	n, err := l.w.Write(p)
	l.left -= int64(n)
	return n, err
}

// handlePackagesJSON answers the repository document: Composer 2 asks p2/<name>.json for each
// package it needs (a 404 there means "not in this repository").
func (h *Handler) handlePackagesJSON(w http.ResponseWriter, r *http.Request, rt Route, _ pkghttp.Grant) {
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"packages": []any{},
		"metadata-url": rt.Prefix + "/p2/%package%.json"})
}

// isDev reports whether a version was built from a branch (dev-main, 1.x-dev).
func isDev(version string) bool {
	return strings.HasPrefix(version, "dev-") || strings.HasSuffix(version, "-dev")
}

// handleMetadata answers p2/<name>.json (tagged versions) or p2/<name>~dev.json (branch
// versions) from the one project of the group holding the package.
func (h *Handler) handleMetadata(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	ctx := r.Context()
	proj := g.Project()
	pkg, err := h.cfg.Packages.Package(ctx, proj.ID, packages.Composer, rt.Name)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	versions, err := h.cfg.Packages.Versions(ctx, pkg, false)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	base := strings.TrimSuffix(h.cfg.ExternalURL, "/") + "/api/v4/projects/" + strconv.FormatInt(proj.ID, 10) +
		"/packages/composer/archives/" + pkg.Name + ".zip?sha="
	list := []map[string]any{}
	for _, v := range versions {
		if isDev(v.Version) != rt.Dev || len(v.Files) == 0 {
			continue
		}
		var meta versionMeta
		if err := json.Unmarshal(v.Metadata, &meta); err != nil || !ValidSHA(meta.SHA) {
			continue
		}
		doc := make(map[string]any, len(meta.Composer)+4)
		for k, raw := range meta.Composer {
			doc[k] = raw
		}
		file := v.Files[len(v.Files)-1]
		doc["name"], doc["version"] = pkg.Name, v.Version
		doc["time"] = v.UpdatedAt.UTC().Format("2006-01-02T15:04:05+00:00")
		doc["dist"] = map[string]string{"type": "zip", "url": base + url.QueryEscape(meta.SHA), "reference": meta.SHA, "shasum": file.SHA1}
		list = append(list, doc)
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"packages": map[string]any{pkg.Name: list}})
}

// handleArchive streams the zip of the version built from commit ?sha=.
func (h *Handler) handleArchive(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	ctx := r.Context()
	sha := r.URL.Query().Get("sha")
	if !ValidSHA(sha) {
		h.writeError(w, r, invalid("sha", "must be the commit id of a published version"))
		return
	}
	pkg, err := h.cfg.Packages.Package(ctx, g.Project().ID, packages.Composer, rt.Name)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	versions, err := h.cfg.Packages.Versions(ctx, pkg, true)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	for _, v := range versions {
		var meta versionMeta
		if json.Unmarshal(v.Metadata, &meta) != nil || meta.SHA != sha || len(v.Files) == 0 {
			continue
		}
		f := &v.Files[len(v.Files)-1]
		err = pkghttp.SendFile(w, r, h.cfg.Packages, h.cfg.Log, f, "composer archive download", func(hdr http.Header) {
			hdr.Set("Content-Type", "application/zip")
		})
		if err != nil {
			h.writeError(w, r, err)
		}
		return
	}
	h.writeError(w, r, packages.ErrNotFound)
}

// writeError is the format's one error writer: the shared kinds → status (pkghttp.Classify) in
// GitLab's {"message": "<status> <text>"}. Unknown errors are logged with the request ID and
// answered with a generic 500.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p := pkghttp.Classify(err)
	if pe := (*publishedError)(nil); errors.As(err, &pe) {
		p.Detail = pe.Error()
	}
	p.Prepare(w, r, h.cfg.Log)
	httpx.WriteJSON(w, p.Status, map[string]string{"message": p.Line()})
}
