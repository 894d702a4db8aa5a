package goproxy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/zip"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/packages/pkghttp"
)

// RepoDirs locates a project's bare Git repository; *git.Repos implements it.
type RepoDirs interface {
	Dir(projectID int64) string
}

// Config is what the Go module proxy needs from the composition root.
type Config struct {
	Packages *packages.Service
	Auth     *authn.Authenticator
	Gate     *gate.Gate
	Log      *slog.Logger
	// ExternalURL is the server's public base URL: its host name (without the port) and path
	// start every module path.
	ExternalURL string
	Repos       RepoDirs
	// GitBin is the git binary (gitexec.DefaultBinary when empty).
	GitBin string
	// TempDir holds module zips while they are built (os.TempDir when empty).
	TempDir string
	// MaxConcurrentZips bounds the zips built at once (4 when zero); more requests wait.
	MaxConcurrentZips int
}

// Handler serves the Go module proxy of every project, from its Git repository. Create it with New.
type Handler struct {
	cfg   Config
	slots chan struct{}
}

// New returns the handler for cfg.
func New(cfg Config) *Handler {
	n := cfg.MaxConcurrentZips
	if n <= 0 {
		n = 4
	}
	return &Handler{cfg: cfg, slots: make(chan struct{}, n)}
}

// Patterns are the ServeMux patterns the handler serves.
func (h *Handler) Patterns() []string {
	return []string{"/api/v4/projects/{id}/packages/go/"}
}

// endpoint is one route: the access it needs and the handler that serves it.
type endpoint struct {
	action access.Action
	serve  func(h *Handler, w http.ResponseWriter, r *http.Request, s *session, rt Route, g pkghttp.Grant)
}

// routes is the route table: kind → endpoint, each served for every one of methods;
// route_test.go checks.
var routes = map[Kind]endpoint{
	List:   {access.ReadPackage, (*Handler).handleList},
	Info:   {access.ReadPackage, (*Handler).handleInfo},
	Mod:    {access.ReadPackage, (*Handler).handleMod},
	Zip:    {access.ReadPackage, (*Handler).handleZip},
	Latest: {access.ReadPackage, (*Handler).handleLatest},
}

// methods are the methods of every route: the GOPROXY protocol only reads.
var methods = []string{http.MethodGet, http.MethodHead}

// paths are the route patterns of the kinds, after the project level's prefix, for Routes (the
// gate walk in internal/server sends each, filled in).
var paths = map[Kind]string{
	List:   "/{module}/@v/list",
	Info:   "/{module}/@v/{version}.info",
	Mod:    "/{module}/@v/{version}.mod",
	Zip:    "/{module}/@v/{version}.zip",
	Latest: "/{module}/@latest",
}

// Routes lists the route table with how each route is gated: its action, decided at the gate on
// the project {id} names (docs/architecture.md §3.3).
func Routes() []gate.Route {
	var out []gate.Route
	for k, ep := range routes {
		for _, m := range methods {
			out = append(out, gate.Route{Method: m, Pattern: pkghttp.ProjectLevel.Pattern("go", paths[k]),
				Rule: pkghttp.ProjectLevel.Decide(ep.action)})
		}
	}
	pkghttp.SortRoutes(out)
	return out
}

// ServeHTTP is the dispatcher: parse the path, look up the route's access, authenticate,
// resolve the project, authorize once, match the module path to the project, then serve.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, err := ParsePath(r.URL.EscapedPath())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if !slices.Contains(methods, r.Method) {
		w.Header().Set("Allow", strings.Join(methods, ", "))
		h.writeError(w, r, pkghttp.ErrMethod)
		return
	}
	ep, ok := routes[rt.Kind]
	if !ok {
		h.writeError(w, r, packages.ErrNotFound)
		return
	}
	g, err := pkghttp.Authorize(r, h.cfg.Auth, h.cfg.Gate, h.cfg.Packages, pkghttp.Target{Ref: rt.Project}, ep.action)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	mod, ok := splitModule(rt.Module, h.moduleBase(g.Project()))
	if !ok {
		h.writeError(w, r, packages.ErrNotFound)
		return
	}
	dir := h.cfg.Repos.Dir(g.Project().ID)
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err != nil {
		h.writeError(w, r, packages.ErrNotFound)
		return
	}
	rp := &repo{bin: h.cfg.GitBin, dir: dir}
	s, err := rp.session(r.Context(), mod)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	defer s.Close()
	ep.serve(h, w, r, s, rt, g)
}

// moduleBase is the module path of the project's repository root: the external URL's host
// name (Go module paths have no port) and path, then the project's full path.
func (h *Handler) moduleBase(p *namespace.Project) string {
	host, root := "localhost", ""
	if u, err := url.Parse(h.cfg.ExternalURL); err == nil && u.Hostname() != "" {
		host, root = strings.ToLower(u.Hostname()), strings.Trim(u.Path, "/")
	}
	if root != "" {
		host += "/" + root
	}
	return host + "/" + p.FullPath
}

// handleList answers the tagged versions, one a line.
func (h *Handler) handleList(w http.ResponseWriter, r *http.Request, s *session, _ Route, _ pkghttp.Grant) {
	vs, err := s.list(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var b strings.Builder
	for _, v := range vs {
		b.WriteString(v.Version)
		b.WriteByte('\n')
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	_, _ = io.WriteString(w, b.String())
}

// infoJSON is the .info document.
type infoJSON struct {
	Version string
	Time    time.Time
}

func (h *Handler) writeInfo(w http.ResponseWriter, v *resolved) {
	body, _ := json.Marshal(infoJSON{Version: v.Version, Time: v.Time.UTC()})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

func (h *Handler) handleInfo(w http.ResponseWriter, r *http.Request, s *session, rt Route, _ pkghttp.Grant) {
	v, err := s.resolve(r.Context(), rt.Version)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeInfo(w, v)
}

func (h *Handler) handleLatest(w http.ResponseWriter, r *http.Request, s *session, _ Route, _ pkghttp.Grant) {
	v, err := s.latest(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeInfo(w, v)
}

func (h *Handler) handleMod(w http.ResponseWriter, r *http.Request, s *session, rt Route, _ pkghttp.Grant) {
	v, err := s.resolve(r.Context(), rt.Version)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(v.GoMod)))
	_, _ = w.Write(v.GoMod)
}

// handleZip builds the module zip into a temporary file (nothing is cached: the repository is
// the truth, and a moved tag must not serve stale bytes), then sends it.
func (h *Handler) handleZip(w http.ResponseWriter, r *http.Request, s *session, rt Route, _ pkghttp.Grant) {
	ctx := r.Context()
	v, err := s.resolve(ctx, rt.Version)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.acquire(ctx); err != nil {
		h.writeError(w, r, err)
		return
	}
	limit := h.maxZip()
	// The zip holds at most limit bytes of content; its headers and a few compressed-size
	// overheads stay well within another limit.
	f, err := tempZip(h.cfg.TempDir, func(dst io.Writer) error { return s.writeZip(ctx, dst, v, limit) }, 2*limit+(1<<20))
	h.release()
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	st, err := f.Stat()
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Length", strconv.FormatInt(st.Size(), 10))
	if r.Method == http.MethodHead {
		return
	}
	if _, err := io.Copy(w, f); err != nil && h.cfg.Log != nil {
		h.cfg.Log.WarnContext(ctx, "go module zip download interrupted", "request_id", httpx.RequestID(ctx), "err", err.Error())
	}
}

// maxZip is the size limit of a module's content: the format's configured limit
// (packages.max_file_size.golang), never above the Go module zip limit.
func (h *Handler) maxZip() int64 {
	limit := int64(zip.MaxZipFile)
	if h.cfg.Packages != nil {
		if l := h.cfg.Packages.MaxFileSize(packages.GoProxy); l > 0 && l < limit {
			limit = l
		}
	}
	return limit
}

func (h *Handler) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Handler) release() { <-h.slots }

// writeError is the format's one error writer: the shared kinds → status (pkghttp.Classify) and
// a plain-text message, which the go command shows its user ("server response: …"). Unknown
// errors are logged with the request ID and answered with a generic 500.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	for _, k := range []string{"Content-Type", "Content-Length"} {
		w.Header().Del(k)
	}
	p := pkghttp.Classify(err)
	switch {
	case p.Status == http.StatusBadRequest:
		p.Title = "Bad request" // GitLab's API spelling
	case p.Status == http.StatusInternalServerError && errors.Is(err, errBadModule):
		// As proxy.golang.org: the version exists but is not a valid module.
		pkghttp.WriteText(w, http.StatusNotFound, "not found: "+err.Error())
		return
	case p.Status == http.StatusInternalServerError && errors.Is(err, context.Canceled):
		// The client went away.
		p.Status, p.Title = http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable)
	}
	p.WriteText(w, r, h.cfg.Log)
}
