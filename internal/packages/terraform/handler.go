// Package terraform serves the Terraform module registry as GitLab does, for `tofu init` and
// `terraform init` (docs/terraform.md):
//
//	GET /.well-known/terraform.json                              service discovery (public)
//	PUT /api/v4/projects/:id/packages/terraform/modules/:name/:system/:version/file    upload
//	GET /api/v4/packages/terraform/modules/v1/:namespace/:name/:system/versions
//	GET …/v1/:namespace/:name/:system/download                   302 to the latest version's
//	GET …/v1/:namespace/:name/:system/:version/download          204, X-Terraform-Get: …/file
//	GET …/v1/:namespace/:name/:system/:version/file              the .tgz archive
//
// The module namespace is a top-level group: reads are served from the one project below it
// that holds the module, and a second holder there is a 409 naming them, never the newer copy
// (anyone who may publish to one project of the group could otherwise plant a higher version).
// The client fetches the archive without its registry credentials, so, as GitLab does, the
// download answer's X-Terraform-Get URL carries a short-lived token: the credentials the
// download was authorized with, sealed to that one archive for five minutes, and decided again
// at the gate when the archive is fetched. Errors are GitLab's {"message": "..."}.
package terraform

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/packages/pkghttp"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// Config is what the module registry needs from the composition root.
type Config struct {
	Packages *packages.Service
	Auth     *authn.Authenticator
	Gate     *gate.Gate
	Log      *slog.Logger
	// Sealer seals the download links' credentials; every node must use the same key.
	Sealer *token.Sealer
	// Now is the clock of the download links (time.Now when nil).
	Now func() time.Time
	// TempDir holds uploads while they are checked; "" is the system's.
	TempDir string
}

// Handler serves the module registry. Create it with New.
type Handler struct {
	cfg Config
}

// New returns the handler for cfg.
func New(cfg Config) *Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Handler{cfg: cfg}
}

// DiscoveryPath is the service discovery document's path (the module registry protocol's).
const DiscoveryPath = "/.well-known/terraform.json"

// Patterns are the ServeMux patterns the handler serves.
func (h *Handler) Patterns() []string {
	return []string{"/api/v4/projects/{id}/packages/terraform/modules/", instancePrefix, DiscoveryPath}
}

type endpoint struct {
	action access.Action
	serve  func(h *Handler, w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant)
}

func read(f func(*Handler, http.ResponseWriter, *http.Request, Route, pkghttp.Grant)) endpoint {
	return endpoint{action: access.ReadPackage, serve: f}
}

// routes is the route table: level → kind → method → endpoint (route_test.go checks it).
// Anything else is 405.
var routes = map[level]map[kind]map[string]endpoint{
	levelProject: {
		kindUpload: {http.MethodPut: {action: access.WritePackage, serve: (*Handler).handleUpload}},
	},
	levelInstance: {
		kindVersions:       {http.MethodGet: read((*Handler).handleVersions)},
		kindDownloadLatest: {http.MethodGet: read((*Handler).handleDownloadLatest)},
		kindDownload:       {http.MethodGet: read((*Handler).handleDownload)},
		kindFile:           {http.MethodGet: read((*Handler).handleFile), http.MethodHead: read((*Handler).handleFile)},
	},
}

// paths are the route patterns of the kinds, after the level's prefix, for Routes (the gate
// walk in internal/server sends each, filled in).
var paths = map[kind]string{
	kindUpload:         "/modules/{name}/{system}/{version}/file",
	kindVersions:       "/modules/v1/{namespace}/{name}/{system}/versions",
	kindDownloadLatest: "/modules/v1/{namespace}/{name}/{system}/download",
	kindDownload:       "/modules/v1/{namespace}/{name}/{system}/{version}/download",
	kindFile:           "/modules/v1/{namespace}/{name}/{system}/{version}/file",
}

// at is the level as pkghttp names it.
func (l level) at() pkghttp.Level {
	return [...]pkghttp.Level{levelProject: pkghttp.ProjectLevel, levelInstance: pkghttp.InstanceLevel}[l]
}

const discoveryPublic = "service discovery is the same for everyone and holds no data; clients read it before they send credentials"

// Routes lists the route table with how each route is gated: its action, decided at the gate on
// the project {id} names, or on the one holder of the module in the top-level group {namespace}
// names (docs/architecture.md §3.3); and the public discovery document.
func Routes() []gate.Route {
	rs := pkghttp.Routes("terraform", routes, level.at, paths, func(lv pkghttp.Level, ep endpoint) gate.Rule { return lv.Decide(ep.action) })
	rs = append(rs, gate.Route{Method: http.MethodGet, Pattern: DiscoveryPath, Rule: gate.Public(discoveryPublic)})
	pkghttp.SortRoutes(rs)
	return rs
}

// ServeHTTP is the dispatcher: parse, look up the route's access, authenticate (for an archive,
// with the download link's sealed credentials when it carries them), resolve the project,
// authorize once, then serve.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == DiscoveryPath {
		h.handleDiscovery(w, r)
		return
	}
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
	if rt.kind == kindFile {
		if r, err = h.linkCredentials(r, rt); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	g, err := pkghttp.Authorize(r, h.cfg.Auth, h.cfg.Gate, h.cfg.Packages, target(rt), ep.action)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ep.serve(h, w, r, rt, g)
}

// target is what a request acts on: the project, or the one project holding the module among
// those of the top-level group the namespace names (GitLab's rule).
func target(rt Route) pkghttp.Target {
	if rt.level == levelProject {
		return pkghttp.Target{Ref: rt.Ref}
	}
	return pkghttp.Target{Level: pkghttp.InstanceLevel, Scoped: true, Ref: rt.Ref, Format: packages.Terraform, Name: rt.Package()}
}

func (h *Handler) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.writeError(w, r, pkghttp.ErrMethod)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"modules.v1": instancePrefix})
}

// handleUpload stores a module archive: the body is spooled to a temporary file (bounded by the
// format's limit) and checked as a .tgz before anything is stored.
func (h *Handler) handleUpload(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	limit := h.cfg.Packages.MaxFileSize(packages.Terraform)
	if r.ContentLength > limit {
		h.writeError(w, r, tooLarge(limit))
		return
	}
	tmp, err := os.CreateTemp(h.cfg.TempDir, "gatehouse-terraform-*")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	n, err := io.Copy(tmp, io.LimitReader(r.Body, limit+1))
	switch {
	case err != nil:
		h.writeError(w, r, invalid("file", "upload was interrupted"))
		return
	case n > limit:
		h.writeError(w, r, tooLarge(limit))
		return
	}
	if err := CheckArchive(io.NewSectionReader(tmp, 0, n), DefaultLimits(limit)); err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.checkNamespace(r.Context(), g.Project(), rt); err != nil {
		h.writeError(w, r, err)
		return
	}
	_, err = h.cfg.Packages.AddFile(r.Context(), packages.Upload{ProjectID: g.Project().ID, Format: packages.Terraform,
		Name: rt.Package(), Version: rt.Version, Filename: rt.Filename(), Size: n, Body: io.NewSectionReader(tmp, 0, n),
		Expected: pkghttp.ExpectedChecksums(r)})
	if errors.Is(err, packages.ErrConflict) {
		err = errExists
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, map[string]string{"message": "201 Created"})
}

// checkNamespace is GitLab's rule that a module name belongs to one project of its namespace
// (the top-level group): a copy uploaded to another project of the group is refused, so it can
// never shadow the module at the namespace's endpoints (which refuse two holders anyway). The
// text does not name the holder, which the uploader may not be allowed to see.
func (h *Handler) checkNamespace(ctx context.Context, p *namespace.Project, rt Route) error {
	top, _, _ := strings.Cut(p.FullPath, "/")
	grp, err := h.cfg.Packages.Group(ctx, top)
	if errors.Is(err, packages.ErrNotFound) {
		return nil // a personal namespace: no namespace endpoint serves it
	}
	if err != nil {
		return err
	}
	holders, err := h.cfg.Packages.ProjectsHolding(ctx, packages.Terraform, rt.Package(), grp)
	if err != nil {
		return err
	}
	for _, hp := range holders {
		if hp.ID != p.ID {
			return errTaken
		}
	}
	return nil
}

// versions returns the module's listed versions in the grant's project.
func (h *Handler) versions(r *http.Request, rt Route, g pkghttp.Grant) ([]string, error) {
	pkg, err := h.cfg.Packages.Package(r.Context(), g.Project().ID, packages.Terraform, rt.Package())
	if err != nil {
		return nil, err
	}
	vs, err := h.cfg.Packages.Versions(r.Context(), pkg, false)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.Version)
	}
	return out, nil
}

type versionJSON struct {
	Version    string   `json:"version"`
	Submodules []string `json:"submodules"`
	Root       rootJSON `json:"root"`
}

type rootJSON struct {
	Dependencies []string `json:"dependencies"`
	Providers    []string `json:"providers"`
}

// handleVersions answers the module registry protocol's version list.
func (h *Handler) handleVersions(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	vs, err := h.versions(r, rt, g)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	list := make([]versionJSON, 0, len(vs))
	for _, v := range vs {
		list = append(list, versionJSON{Version: v, Submodules: []string{}, Root: rootJSON{Dependencies: []string{}, Providers: []string{}}})
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"modules": []map[string]any{{"versions": list}}})
}

// modulePath is the escaped path of the module's version under the instance prefix.
func modulePath(rt Route, version string) string {
	return instancePrefix + url.PathEscape(rt.Ref) + "/" + rt.Name + "/" + rt.System + "/" + version
}

// handleDownloadLatest redirects to the download of the highest version (releases first).
func (h *Handler) handleDownloadLatest(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	vs, err := h.versions(r, rt, g)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	latest := Latest(vs)
	if latest == "" {
		h.writeError(w, r, packages.ErrNotFound)
		return
	}
	w.Header().Set("Location", modulePath(rt, latest)+"/download")
	w.WriteHeader(http.StatusFound)
}

// handleDownload answers 204 with the archive's URL in X-Terraform-Get (hidden versions too:
// hiding keeps them out of the list only). The URL carries the sealed credentials of this
// request, if any, and archive=tgz, which tells the client how to unpack it.
func (h *Handler) handleDownload(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	if _, err := h.cfg.Packages.File(r.Context(), g.Project().ID, packages.Terraform, rt.Package(), rt.Version, rt.Filename()); err != nil {
		h.writeError(w, r, err)
		return
	}
	q := url.Values{"archive": {"tgz"}}
	link, err := h.sealLink(r, rt)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if link != "" {
		q.Set("token", link)
	}
	w.Header().Set("X-Terraform-Get", modulePath(rt, rt.Version)+"/file?"+q.Encode())
	w.WriteHeader(http.StatusNoContent)
}

// handleFile serves the module archive.
func (h *Handler) handleFile(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	f, err := h.cfg.Packages.File(r.Context(), g.Project().ID, packages.Terraform, rt.Package(), rt.Version, rt.Filename())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	err = pkghttp.SendFile(w, r, h.cfg.Packages, h.cfg.Log, f, "terraform module download", func(hdr http.Header) {
		hdr.Set("Content-Type", "application/octet-stream")
		hdr.Set("Content-Disposition", `attachment; filename="`+f.Filename+`"`)
	})
	if err != nil {
		h.writeError(w, r, err)
	}
}

// Download links. The client fetches X-Terraform-Get without its registry credentials (as
// GitLab's documentation notes), so the link carries them: sealed (AES-GCM under a key derived
// from the instance's signing key), bound to the one archive, and valid for linkTTL. The fetch
// is then authenticated and decided exactly as a request with those credentials would be: a
// token revoked in between is refused.

// linkTTL is how long a download link works: `tofu init` fetches it at once.
const linkTTL = 5 * time.Minute

type sealedLink struct {
	Expires int64             `json:"e"`
	Headers map[string]string `json:"h"`
}

// linkAAD binds a link to the archive it was made for.
func linkAAD(rt Route) []byte {
	return []byte("terraform-module-file\x00" + rt.Ref + "\x00" + packages.NormalizeName(packages.Terraform, rt.Package()) + "\x00" + rt.Version)
}

// sealLink seals r's credentials for rt's archive; "" when r has none (an anonymous download of
// a public module needs no link token).
func (h *Handler) sealLink(r *http.Request, rt Route) (string, error) {
	l := sealedLink{Expires: h.cfg.Now().Add(linkTTL).Unix(), Headers: authn.PackageCredentials(r)}
	if len(l.Headers) == 0 || h.cfg.Sealer == nil {
		return "", nil
	}
	b, err := json.Marshal(l)
	if err != nil {
		return "", err
	}
	sealed, err := h.cfg.Sealer.Seal(b, linkAAD(rt))
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

// maxLinkToken bounds the token parameter before it is decoded.
const maxLinkToken = 8 << 10

// linkCredentials returns r with the credentials its link token carries in place of its own,
// or r itself when it has no token. A link that is malformed, made for another archive or
// expired is errLink (401).
func (h *Handler) linkCredentials(r *http.Request, rt Route) (*http.Request, error) {
	tok := r.URL.Query().Get("token")
	if tok == "" {
		return r, nil
	}
	if len(tok) > maxLinkToken || h.cfg.Sealer == nil {
		return r, errLink
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return r, errLink
	}
	b, err := h.cfg.Sealer.Open(raw, linkAAD(rt))
	if err != nil {
		return r, errLink
	}
	var l sealedLink
	if json.Unmarshal(b, &l) != nil || h.cfg.Now().Unix() > l.Expires {
		return r, errLink
	}
	return authn.WithPackageCredentials(r, l.Headers), nil
}

// linkError is a download link that cannot be used.
type linkError struct{}

func (linkError) Error() string {
	return "the download link is not valid or has expired; run init again"
}

func (linkError) Unwrap() error { return errkind.ErrUnauthorized }

var errLink error = linkError{}

// existsError is a refused re-upload of a version (GitLab answers 403).
type existsError struct{}

func (existsError) Error() string { return "this module version already exists" }

func (existsError) Unwrap() error { return errkind.ErrForbidden }

var errExists error = existsError{}

// takenError refuses a module name that another project of the namespace holds (GitLab: 403).
type takenError struct{}

func (takenError) Error() string {
	return "a module with this name already exists in another project of the namespace"
}

func (takenError) Unwrap() error { return errkind.ErrForbidden }

var errTaken error = takenError{}

func tooLarge(limit int64) error { return &tooLargeError{limit: limit} }

type tooLargeError struct{ limit int64 }

func (e *tooLargeError) Error() string {
	return "the module is larger than this registry's Terraform module limit of " + strconv.FormatInt(e.limit, 10) + " bytes"
}

func (e *tooLargeError) Unwrap() error { return packages.ErrTooLarge }

// writeError is the format's one error writer: the shared kinds → status (pkghttp.Classify) in
// GitLab's {"message": "<status> <text>[ - <detail>]"}. Unknown errors are logged with the
// request ID and answered with a generic 500.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p := pkghttp.Classify(err)
	switch {
	case errors.Is(err, errLink), errors.Is(err, errExists), errors.Is(err, errTaken):
		p.Detail = err.Error()
	case p.Status == http.StatusBadRequest:
		p.Title = "Bad request" // GitLab's API spelling
	}
	p.Prepare(w, r, h.cfg.Log)
	httpx.WriteJSON(w, p.Status, map[string]string{"message": p.Line()})
}
