// Package maven serves GitLab's Maven repository API for mvn, Gradle and sbt:
//
//	project  /api/v4/projects/:id/packages/maven/*path   GET, HEAD (download); PUT (deploy)
//	group    /api/v4/groups/:id/-/packages/maven/*path   GET, HEAD
//	instance /api/v4/packages/maven/*path                GET, HEAD
//
// A path is <groupId as a path>/<artifactId>/<version>/<file>, or
// <groupId path>/<artifactId>/maven-metadata.xml for an artifact's version listing. Every file
// also answers <file>.md5, .sha1, .sha256 and .sha512 from the checksums stored with it.
//
// Deploying: artifacts (jar, pom, …) and maven-metadata.xml are stored as uploaded (a
// maven-metadata.xml must name the groupId, artifactId and version of its path). SNAPSHOT
// versions and maven-metadata.xml may be deployed again and replace the old file; a release
// version's files may not (409). A PUT of a checksum file stores nothing: it is verified against
// the stored file's checksum, 204 when it matches and 409 when it does not (GitLab does this for
// .sha1 and ignores .md5; Gatehouse verifies all four, so a corrupted upload fails the deploy).
// X-Checksum-Md5/Sha1/Sha256/Sha512 request headers on an upload are verified before anything is
// stored. Deleting a version through the REST API rewrites the artifact's maven-metadata.xml
// (SyncMetadata), so the listing never names a version that is gone.
//
// An instance-level request is served only from the project that the package path names: the
// project whose full path is the package's groupId path and artifactId, or begins it
// ("com/acme/core" from project com/acme/core or com/acme), as GitLab's naming convention asks
// (docs/maven.md). A group-level request is served from the one project of the group (at any
// depth) that holds the artifact. Neither ever picks among several holders: that is a 409 whose
// text names them, for files and maven-metadata.xml (version ranges) alike. Errors are a status
// and a line of text; 401 carries `WWW-Authenticate: Basic realm="Gatehouse"`, so Maven retries
// with the server's basic credentials.
package maven

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/packages/pkghttp"
)

// Config is what the Maven registry needs from the composition root.
type Config struct {
	Packages *packages.Service
	Auth     *authn.Authenticator
	Gate     *gate.Gate
	Log      *slog.Logger
}

// Handler serves the Maven repository API. Create it with New.
type Handler struct {
	cfg Config
}

// New returns the handler for cfg.
func New(cfg Config) *Handler { return &Handler{cfg: cfg} }

// Patterns are the ServeMux patterns the handler serves.
func (h *Handler) Patterns() []string {
	return []string{"/api/v4/projects/{id}/packages/maven/", "/api/v4/groups/{id}/-/packages/maven/", "/api/v4/packages/maven/"}
}

type endpoint struct {
	action access.Action
	serve  func(h *Handler, w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant)
}

// routes is the route table: level → method → endpoint. Every route names its access action
// (route_test.go checks); anything else is 405.
var routes = map[level]map[string]endpoint{
	levelProject: {
		http.MethodGet:  {access.ReadPackage, (*Handler).handleGet},
		http.MethodHead: {access.ReadPackage, (*Handler).handleGet},
		http.MethodPut:  {access.WritePackage, (*Handler).handlePut},
	},
	levelGroup: {
		http.MethodGet:  {access.ReadPackage, (*Handler).handleGet},
		http.MethodHead: {access.ReadPackage, (*Handler).handleGet},
	},
	levelInstance: {
		http.MethodGet:  {access.ReadPackage, (*Handler).handleGet},
		http.MethodHead: {access.ReadPackage, (*Handler).handleGet},
	},
}

// routePath is the route pattern of every level, after the level's prefix: a file of a version
// of an artifact (or an artifact's maven-metadata.xml, in place of the version and file).
const routePath = "/{groupPath}/{artifactId}/{version}/{file}"

// at is the level as pkghttp names it.
func (l level) at() pkghttp.Level {
	return [...]pkghttp.Level{levelProject: pkghttp.ProjectLevel, levelGroup: pkghttp.GroupLevel, levelInstance: pkghttp.InstanceLevel}[l]
}

// Routes lists the route table with how each route is gated: its action, decided at the gate on
// the project {id} names, on the one holder of the artifact in the group {id} names, or on the
// project the package path names (docs/architecture.md §3.3).
func Routes() []gate.Route {
	var out []gate.Route
	for lv, methods := range routes {
		for m, ep := range methods {
			out = append(out, gate.Route{Method: m, Pattern: lv.at().Pattern("maven", routePath), Rule: lv.at().Decide(ep.action)})
		}
	}
	pkghttp.SortRoutes(out)
	return out
}

// ServeHTTP is the dispatcher: parse, look up the route's access, authenticate, resolve the
// project, authorize once, then serve.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, err := ParsePath(r.URL.EscapedPath())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ep, ok := routes[rt.level][r.Method]
	if !ok {
		if rt.level == levelProject {
			w.Header().Set("Allow", "GET, HEAD, PUT")
		} else {
			w.Header().Set("Allow", "GET, HEAD")
		}
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

// target is what a request acts on: the project; at the group level, the one project of the
// group holding the package; at the instance level, the project the package path names
// (ProjectsNamedBy), never a project found by searching the instance.
func (h *Handler) target(rt Route) pkghttp.Target {
	t := pkghttp.Target{Level: rt.level.at(), Ref: rt.Ref, Format: packages.Maven, Name: rt.Name}
	if rt.level == levelInstance {
		t.Holders = func(ctx context.Context, _ *namespace.Group) ([]*namespace.Project, error) {
			return h.cfg.Packages.ProjectsNamedBy(ctx, packages.Maven, rt.Name)
		}
	}
	return t
}

// handleGet answers a file, or one of its checksums as text (GET and HEAD).
func (h *Handler) handleGet(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	ctx := r.Context()
	f, err := h.cfg.Packages.File(ctx, g.Project().ID, packages.Maven, rt.Name, rt.Version, rt.File)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	hdr := w.Header()
	if rt.Checksum != NoChecksum {
		sum := rt.Checksum.Of(f.Checksums)
		hdr.Set("Content-Type", "text/plain; charset=utf-8")
		hdr.Set("Content-Length", strconv.Itoa(len(sum)))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = io.WriteString(w, sum)
		}
		return
	}
	err = pkghttp.SendFile(w, r, h.cfg.Packages, h.cfg.Log, f, "maven download", func(hdr http.Header) {
		hdr.Set("Content-Type", contentType(f.Filename))
		hdr.Set("Last-Modified", f.CreatedAt.UTC().Format(http.TimeFormat))
		// Maven Resolver takes checksums from these headers (Artifactory's convention) and
		// skips fetching the checksum files.
		hdr.Set("X-Checksum-Md5", f.MD5)
		hdr.Set("X-Checksum-Sha1", f.SHA1)
		hdr.Set("X-Checksum-Sha256", f.SHA256)
		hdr.Set("X-Checksum-Sha512", f.SHA512)
	})
	if err != nil {
		h.writeError(w, r, err)
	}
}

func contentType(filename string) string {
	switch {
	case strings.HasSuffix(filename, ".xml"), strings.HasSuffix(filename, ".pom"):
		return "application/xml"
	case strings.HasSuffix(filename, ".jar"):
		return "application/java-archive"
	}
	return "application/octet-stream"
}

// versionMetadata is the version's format data (GitLab's maven_metadatum), stored as the
// version's Metadata JSON.
type versionMetadata struct {
	Path       string `json:"path"`
	GroupID    string `json:"app_group"`
	ArtifactID string `json:"app_name"`
	Version    string `json:"app_version,omitempty"`
}

// handlePut deploys a file, or verifies a checksum file against the stored file.
func (h *Handler) handlePut(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	if rt.Checksum != NoChecksum {
		h.verifyChecksum(w, r, rt, g)
		return
	}
	ctx := r.Context()
	limit := h.cfg.Packages.MaxFileSize(packages.Maven)
	meta := versionMetadata{Path: rt.Path(), GroupID: rt.GroupID(), ArtifactID: rt.ArtifactID()}
	up := packages.Upload{ProjectID: g.Project().ID, Format: packages.Maven, Name: rt.Name, Version: rt.Version,
		Filename: rt.File, Expected: pkghttp.ExpectedChecksums(r), Size: r.ContentLength, Body: r.Body}
	if rt.Version == MetadataVersion {
		// An artifact's version listing: kept out of version listings (GitLab stores it in a
		// package without a version).
		up.Status = packages.StatusHidden
	} else {
		meta.Version = rt.Version
	}
	if rt.Metadata() {
		max := min(int64(MaxMetadataSize), limit)
		if r.ContentLength > max {
			h.writeError(w, r, packages.ErrTooLarge)
			return
		}
		_, doc, err := ParseMetadata(r.Body, rt, max)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		up.Size, up.Body = int64(len(doc)), bytes.NewReader(doc)
	}
	var err error
	if up.Metadata, err = json.Marshal(meta); err != nil {
		h.writeError(w, r, err)
		return
	}
	if _, err := h.cfg.Packages.AddFile(ctx, up); err != nil {
		if errors.Is(err, packages.ErrConflict) {
			err = &conflictError{"a release version's files cannot be deployed again; deploy a new version or a -SNAPSHOT"}
		}
		h.writeError(w, r, err)
		return
	}
	pkghttp.WriteText(w, http.StatusCreated, "201 Created")
}

// verifyChecksum compares an uploaded <file>.<checksum> with the stored file's checksum. It
// stores nothing: every checksum is computed when the file is stored.
func (h *Handler) verifyChecksum(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	sum, err := ParseChecksum(r.Body, rt.Checksum)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	f, err := h.cfg.Packages.File(r.Context(), g.Project().ID, packages.Maven, rt.Name, rt.Version, rt.File)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if rt.Checksum.Of(f.Checksums) != sum {
		h.writeError(w, r, &conflictError{string(rt.Checksum) + " checksum does not match the stored file"})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// conflictError is a refused deploy, in words safe to show.
type conflictError struct{ msg string }

func (e *conflictError) Error() string { return e.msg }

func (e *conflictError) Unwrap() error { return packages.ErrConflict }

// writeError is the format's one error writer: the shared kinds → status (pkghttp.Classify) and
// a line of text (Maven shows the status; people with curl read the text). Unknown errors are
// logged with the request ID and answered with a generic 500.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ce *conflictError
	p := pkghttp.Classify(err)
	switch {
	case errors.Is(err, authn.ErrInvalidCredentials):
		p.Detail = "the credentials are not valid"
	case p.Status == http.StatusRequestEntityTooLarge:
		p.Detail = "the file is larger than this registry's Maven limit"
	case p.Status == http.StatusConflict && errors.As(err, &ce):
		p.Detail = ce.Error()
	}
	p.WriteText(w, r, h.cfg.Log)
}
