package helm

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/packages/pkghttp"
)

// Config is what the Helm repository needs from the composition root.
type Config struct {
	Packages *packages.Service
	Auth     *authn.Authenticator
	Gate     *gate.Gate
	Log      *slog.Logger
	// Now stamps the index's "generated"; nil means time.Now.
	Now func() time.Time
	// TempDir holds uploaded charts while they are checked; "" is the system's.
	TempDir string
}

// Handler serves the Helm chart repositories. Create it with New.
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

// Patterns are the ServeMux patterns the handler serves: the index and the chart downloads by
// their own shape (matched in one walk), and the prefix for the upload and every other path
// (answered with the format's errors). The upload's own shape would conflict with the
// download's ("api/charts/charts" matches both) and is rare.
func (h *Handler) Patterns() []string {
	return []string{"/api/v4/projects/{id}/packages/helm/{channel}/index.yaml",
		"/api/v4/projects/{id}/packages/helm/{channel}/charts/{file}",
		"/api/v4/projects/{id}/packages/helm/"}
}

// endpoint is one route: the access it needs and the handler that serves it.
type endpoint struct {
	action access.Action
	serve  func(h *Handler, w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant)
}

// routes is the route table: kind → method → endpoint (project level only, as GitLab).
var routes = map[kind]map[string]endpoint{
	kindIndex: {http.MethodGet: {access.ReadPackage, (*Handler).handleIndex},
		http.MethodHead: {access.ReadPackage, (*Handler).handleIndex}},
	kindChart: {http.MethodGet: {access.ReadPackage, (*Handler).handleChart},
		http.MethodHead: {access.ReadPackage, (*Handler).handleChart}},
	kindUpload: {http.MethodPost: {access.WritePackage, (*Handler).handleUpload}},
}

// paths are the kinds' patterns after the level's prefix.
var paths = map[kind]string{
	kindIndex:  "/{channel}/index.yaml",
	kindChart:  "/{channel}/charts/{file}",
	kindUpload: "/api/{channel}/charts",
}

// Routes lists the route table with how each route is gated: its action, decided at the gate
// on the project {id} names (docs/architecture.md §3.3).
func Routes() []gate.Route {
	return pkghttp.Routes("helm", map[pkghttp.Level]map[kind]map[string]endpoint{pkghttp.ProjectLevel: routes},
		func(l pkghttp.Level) pkghttp.Level { return l }, paths,
		func(l pkghttp.Level, ep endpoint) gate.Rule { return l.Decide(ep.action) })
}

// ServeHTTP is the dispatcher: parse the path, look up the route's access, authenticate,
// resolve the project, authorize once, then serve.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, err := ParsePath(r.URL.EscapedPath())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ep, ok := routes[rt.kind][r.Method]
	if !ok {
		if rt.kind == kindUpload {
			w.Header().Set("Allow", "POST")
		} else {
			w.Header().Set("Allow", "GET, HEAD")
		}
		h.writeError(w, r, pkghttp.ErrMethod)
		return
	}
	g, err := pkghttp.Authorize(r, h.cfg.Auth, h.cfg.Gate, h.cfg.Packages, pkghttp.Target{Ref: rt.Ref}, ep.action)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ep.serve(h, w, r, rt, g)
}

// multipartOverhead is what a multipart envelope (and a provenance file) may add to the chart.
const multipartOverhead = 128 << 10

// handleUpload stores an uploaded chart: the form's chart part is spooled to a temporary file
// (bounded by the format's limit), read to its end and its Chart.yaml checked, and only then
// stored as the chart's version in the channel.
func (h *Handler) handleUpload(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	ctx := r.Context()
	limit := h.cfg.Packages.MaxFileSize(packages.Helm)
	if r.ContentLength > limit+multipartOverhead {
		h.writeError(w, r, tooLarge(limit))
		return
	}
	up, err := ParseUpload(r.Body, r.Header.Get("Content-Type"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	tmp, err := os.CreateTemp(h.cfg.TempDir, "gatehouse-helm-*")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	n, err := io.Copy(tmp, io.LimitReader(up.Chart, limit+1))
	switch {
	case err != nil:
		h.writeError(w, r, invalid("chart", "upload was interrupted"))
		return
	case n > limit:
		h.writeError(w, r, tooLarge(limit))
		return
	}
	chart, err := ParseChart(io.NewSectionReader(tmp, 0, n), DefaultLimits())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	meta, err := h.mergeMetadata(r, g.Project().ID, rt.Channel, chart)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	_, err = h.cfg.Packages.AddFile(ctx, packages.Upload{ProjectID: g.Project().ID, Format: packages.Helm, Name: chart.Name,
		Version: chart.Version, Filename: storedFilename(rt.Channel, chart.Name, chart.Version), Metadata: meta,
		Size: n, Body: io.NewSectionReader(tmp, 0, n)})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, map[string]string{"message": "201 Created"})
}

// metadata is a version's stored document: each channel's Chart.yaml (a version's copies in
// several channels may differ, as their files may).
type metadata struct {
	Channels map[string]*Chart `json:"channels"`
}

// mergeMetadata returns the version's metadata with channel's Chart.yaml set to c. Two uploads
// of one version racing into different channels may keep only one's entry; the index then
// falls back to another channel's (index.go).
func (h *Handler) mergeMetadata(r *http.Request, projectID int64, channel string, c *Chart) ([]byte, error) {
	ctx := r.Context()
	m := metadata{Channels: map[string]*Chart{}}
	pkg, err := h.cfg.Packages.Package(ctx, projectID, packages.Helm, c.Name)
	if err == nil {
		v, err := h.cfg.Packages.Version(ctx, pkg, c.Version)
		if err == nil {
			_ = json.Unmarshal(v.Metadata, &m) // stored by this handler
		} else if !errors.Is(err, packages.ErrNotFound) {
			return nil, err
		}
	} else if !errors.Is(err, packages.ErrNotFound) {
		return nil, err
	}
	if m.Channels == nil {
		m.Channels = map[string]*Chart{}
	}
	m.Channels[channel] = c
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if len(b) > packages.MaxMetadataSize {
		return nil, invalid("chart", "is in too many channels")
	}
	return b, nil
}

// handleIndex answers the channel's index.yaml.
func (h *Handler) handleIndex(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	idx, err := h.index(r.Context(), g.Project().ID, rt)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	b, err := yaml.Marshal(idx)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-yaml")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

// handleChart streams a chart file of the channel (hidden versions too: hiding only keeps them
// out of the index).
func (h *Handler) handleChart(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	var f *packages.File
	var err error
	for _, c := range rt.Candidates {
		f, err = h.cfg.Packages.File(r.Context(), g.Project().ID, packages.Helm, c.Name, c.Version,
			storedFilename(rt.Channel, c.Name, c.Version))
		if !errors.Is(err, packages.ErrNotFound) {
			break
		}
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	err = pkghttp.SendFile(w, r, h.cfg.Packages, h.cfg.Log, f, "helm chart download", func(hdr http.Header) {
		// GitLab's content type; the file name is the one the URL asked for.
		hdr.Set("Content-Type", "application/octet-stream")
		hdr.Set("Content-Disposition", `attachment; filename="`+rt.File+`"`)
	})
	if err != nil {
		h.writeError(w, r, err)
	}
}

func tooLarge(limit int64) error {
	return fmt.Errorf("%w: the helm limit is %d bytes", packages.ErrTooLarge, limit)
}

// writeError is the format's one error writer: the shared kinds → status (pkghttp.Classify) in
// GitLab's {"message": "<status> <text>[ - <detail>]"}, which helm prints when a request fails.
// Unknown errors are logged with the request ID and answered with a generic 500.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p := pkghttp.Classify(err)
	if p.Status == http.StatusBadRequest {
		p.Title = "Bad request" // GitLab's API spelling
	}
	p.Prepare(w, r, h.cfg.Log)
	httpx.WriteJSON(w, p.Status, map[string]string{"message": p.Line()})
}
