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
// served from the most recently updated project in the group that holds the package and that
// the credential may use. Errors are npm's {"error": "..."}.
package npm

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// Handler serves the npm registry API.
type Handler struct {
	Packages *packages.Service
	Auth     *authn.Authenticator
	Log      *slog.Logger
	// ExternalURL is the server's public base URL, for tarball URLs in packuments.
	ExternalURL string
}

// Patterns are the ServeMux patterns the handler serves.
func (h *Handler) Patterns() []string {
	return []string{"/api/v4/projects/{id}/packages/npm/", "/api/v4/groups/{id}/-/packages/npm/", "/api/v4/packages/npm/"}
}

// grant is what the dispatcher hands a handler once the request is authorized; handlers cannot
// be reached without one.
type grant struct {
	principal access.Principal
	// project holds the package (chosen among the group's projects for group and instance
	// requests).
	project *namespace.Project
}

type endpoint struct {
	action access.Action
	serve  func(h *Handler, w http.ResponseWriter, r *http.Request, rt Route, g grant)
}

// routes is the route table: level → kind → method → endpoint. Every route names its access
// action (route_test.go checks); anything else is 405.
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

var errMethod = errors.New("method not allowed")

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
		h.writeError(w, r, errMethod)
		return
	}
	g, err := h.authorize(r, rt, ep.action)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ep.serve(h, w, r, rt, g)
}

// authorize authenticates the request and decides it once, on the project holding the package.
func (h *Handler) authorize(r *http.Request, rt Route, act access.Action) (grant, error) {
	ctx := r.Context()
	p, err := h.Auth.Packages(ctx, r)
	if err != nil {
		return grant{}, err
	}
	var project *namespace.Project
	if rt.level == levelProject {
		project, err = h.Packages.Project(ctx, rt.Ref)
	} else {
		project, err = h.holder(r, rt, p, act)
	}
	if errors.Is(err, packages.ErrNotFound) && p.Kind == access.Anonymous {
		return grant{}, packages.Denied(access.Decision{Denial: access.Unauthenticated, Reason: "authentication required"}, p)
	}
	if err != nil {
		return grant{}, err
	}
	d, err := h.Auth.Authorize(ctx, r, p, access.Resource{Project: project}, act)
	if err != nil {
		return grant{}, err
	}
	if !d.Allow {
		return grant{}, packages.Denied(d, p)
	}
	return grant{principal: p, project: project}, nil
}

// holder picks, for a group- or instance-level request, the project to serve it from: the most
// recently updated project in the group holding the package (and, for a tarball, that file)
// that p may act on. When p may act on none, the newest holder is returned so that the one
// audited decision explains the refusal. ErrNotFound when no project holds it.
func (h *Handler) holder(r *http.Request, rt Route, p access.Principal, act access.Action) (*namespace.Project, error) {
	ctx := r.Context()
	var g *namespace.Group
	var err error
	if rt.level == levelGroup {
		g, err = h.Packages.Group(ctx, rt.Ref)
	} else {
		// Instance level: the scope is a top-level group (GitLab's rule).
		if rt.Name.Scope == "" {
			return nil, packages.ErrNotFound
		}
		g, err = h.Packages.Group(ctx, rt.Name.Scope)
		if err == nil && g.ParentID != 0 {
			err = packages.ErrNotFound
		}
	}
	if err != nil {
		return nil, err
	}
	holders, err := h.Packages.ProjectsHolding(ctx, packages.NPM, rt.Name.String(), g)
	if err != nil {
		return nil, err
	}
	var first *namespace.Project
	for _, proj := range holders {
		if rt.kind == kindTarball {
			if _, err := h.Packages.File(ctx, proj.ID, packages.NPM, rt.Name.String(), rt.Version, rt.Filename); errors.Is(err, packages.ErrNotFound) {
				continue
			} else if err != nil {
				return nil, err
			}
		}
		if first == nil {
			first = proj
		}
		// A filter, not the decision: the dispatcher decides (and audits) once on the result.
		d, err := h.Auth.Authorizer.Authorize(ctx, p, access.Resource{Project: proj}, act)
		if err != nil {
			return nil, err
		}
		if d.Allow {
			return proj, nil
		}
	}
	if first == nil {
		return nil, packages.ErrNotFound
	}
	return first, nil
}

// handlePublish stores an `npm publish`: the document is parsed and its tarball verified before
// anything is stored; the version, its file and its dist-tags are recorded together.
func (h *Handler) handlePublish(w http.ResponseWriter, r *http.Request, rt Route, g grant) {
	lim := DefaultLimits(h.Packages.MaxFileSize(packages.NPM))
	if r.ContentLength > lim.MaxBody() {
		h.writeError(w, r, packages.ErrTooLarge)
		return
	}
	pub, err := ParsePublish(r.Body, rt.Name, lim)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	_, err = h.Packages.AddFile(r.Context(), packages.Upload{ProjectID: g.project.ID, Format: packages.NPM,
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
func (h *Handler) handlePackument(w http.ResponseWriter, r *http.Request, rt Route, g grant) {
	ctx := r.Context()
	pkg, err := h.Packages.Package(ctx, g.project.ID, packages.NPM, rt.Name.String())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	versions, err := h.Packages.Versions(ctx, pkg, false)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	tags, err := h.Packages.Tags(ctx, pkg)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if len(versions) == 0 {
		h.writeError(w, r, packages.ErrNotFound)
		return
	}
	abbreviated := strings.Contains(r.Header.Get("Accept"), abbreviatedType)
	doc := packument(pkg, versions, tags, h.ExternalURL+rt.Prefix, abbreviated)
	ct := "application/json"
	if abbreviated {
		ct = abbreviatedType
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(doc)
}

// handleTarball streams a version's tarball.
func (h *Handler) handleTarball(w http.ResponseWriter, r *http.Request, rt Route, g grant) {
	ctx := r.Context()
	f, err := h.Packages.File(ctx, g.project.ID, packages.NPM, rt.Name.String(), rt.Version, rt.Filename)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	rc, err := h.Packages.Open(ctx, f, 0)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(f.Size, 10))
	w.Header().Set("ETag", `"`+f.SHA256+`"`)
	if _, err := io.Copy(w, rc); err != nil && h.Log != nil {
		h.Log.WarnContext(ctx, "npm tarball download interrupted", "request_id", httpx.RequestID(ctx), "err", err.Error())
	}
}

// handleDistTags lists the package's dist-tags.
func (h *Handler) handleDistTags(w http.ResponseWriter, r *http.Request, rt Route, g grant) {
	ctx := r.Context()
	pkg, err := h.Packages.Package(ctx, g.project.ID, packages.NPM, rt.Name.String())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	tags, err := h.Packages.Tags(ctx, pkg)
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
func (h *Handler) handleSetDistTag(w http.ResponseWriter, r *http.Request, rt Route, g grant) {
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
	pkg, err := h.Packages.Package(ctx, g.project.ID, packages.NPM, rt.Name.String())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.Packages.SetTag(ctx, pkg, rt.Tag, version); err != nil {
		h.writeError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// handleDeleteDistTag removes a dist-tag.
func (h *Handler) handleDeleteDistTag(w http.ResponseWriter, r *http.Request, rt Route, g grant) {
	ctx := r.Context()
	pkg, err := h.Packages.Package(ctx, g.project.ID, packages.NPM, rt.Name.String())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if rt.Tag == "latest" {
		h.writeError(w, r, invalid("dist-tag", "latest cannot be removed; point it at another version instead"))
		return
	}
	if err := h.Packages.DeleteTag(ctx, pkg, rt.Tag); err != nil {
		h.writeError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"ok": true})
}

func writeNPMError(w http.ResponseWriter, status int, msg string) {
	httpx.WriteJSON(w, status, map[string]string{"error": msg})
}

// writeError is the format's one error writer: kinds → status + npm's {"error": …}. npm shows
// the text after the status line ("403 Forbidden - PUT … - <error>"). Unknown errors are logged
// with the request ID and answered with a generic 500.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var de *packages.DeniedError
	var ve *packages.ValidationError
	var ce *conflictError
	switch {
	case errors.Is(err, authn.ErrInvalidCredentials):
		w.Header().Set("WWW-Authenticate", `Basic realm="Gatehouse"`)
		writeNPMError(w, http.StatusUnauthorized, "unauthorized: the credentials are not valid")
	case errors.Is(err, packages.ErrUnauthorized):
		w.Header().Set("WWW-Authenticate", `Basic realm="Gatehouse"`)
		msg := "unauthorized: authentication required"
		if errors.As(err, &de) {
			msg = "unauthorized: " + de.Reason
		}
		writeNPMError(w, http.StatusUnauthorized, msg)
	case errors.Is(err, packages.ErrForbidden):
		msg := "forbidden"
		if errors.As(err, &de) {
			msg = "forbidden: " + de.Reason
		}
		writeNPMError(w, http.StatusForbidden, msg)
	case errors.As(err, &ce):
		// npm's registry answers a re-publish with 403, and npm prints the reason.
		writeNPMError(w, http.StatusForbidden, ce.Error())
	case errors.Is(err, packages.ErrNotFound):
		writeNPMError(w, http.StatusNotFound, "not_found: package, version or file not found")
	case errors.As(err, &ve):
		writeNPMError(w, http.StatusBadRequest, "bad request: "+ve.Error())
	case errors.Is(err, packages.ErrInvalid):
		writeNPMError(w, http.StatusBadRequest, "bad request")
	case errors.Is(err, packages.ErrTooLarge):
		writeNPMError(w, http.StatusRequestEntityTooLarge, "the package is larger than this registry's npm limit")
	case errors.Is(err, packages.ErrConflict):
		writeNPMError(w, http.StatusConflict, "conflict: already exists")
	case errors.Is(err, errMethod):
		writeNPMError(w, http.StatusMethodNotAllowed, "method not allowed")
	default:
		if h.Log != nil {
			httpx.Internal(r.Context(), h.Log, err)
		}
		writeNPMError(w, http.StatusInternalServerError, "internal server error")
	}
}
