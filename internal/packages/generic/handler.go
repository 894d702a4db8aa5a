package generic

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/packages/pkghttp"
)

// Config is what the generic registry needs from the composition root.
type Config struct {
	Packages *packages.Service
	Auth     *authn.Authenticator
	Gate     *gate.Gate
	Log      *slog.Logger
}

// Handler serves the generic package registry. Create it with New.
type Handler struct {
	cfg Config
}

// New returns the handler for cfg.
func New(cfg Config) *Handler { return &Handler{cfg: cfg} }

// Patterns are the ServeMux patterns the handler serves: the file's own shape, which ServeMux
// matches exactly in one walk of its tree, and the prefix, for every other path under it
// (answered with the format's errors). A path that only the prefix matches costs ServeMux a
// second walk, to see whether the path with a slash added would match exactly; a download
// paid that on every request (bench/run's generic GET).
func (h *Handler) Patterns() []string {
	return []string{"/api/v4/projects/{id}/packages/generic/{name}/{version}/{file}", "/api/v4/projects/{id}/packages/generic/"}
}

// endpoint is one route: the access it needs and the handler that serves it.
type endpoint struct {
	action access.Action
	serve  func(h *Handler, w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant)
}

// routes is the route table: method → endpoint for the one path shape. Every route names its
// access action (route_test.go checks).
var routes = map[string]endpoint{
	http.MethodGet:  {access.ReadPackage, (*Handler).handleGetFile},
	http.MethodHead: {access.ReadPackage, (*Handler).handleGetFile},
	http.MethodPut:  {access.WritePackage, (*Handler).handlePutFile},
}

// Routes lists the route table with how each route is gated: its action, decided at the gate
// on the project {id} names (docs/architecture.md §3.3).
func Routes() []gate.Route {
	var out []gate.Route
	for m, ep := range routes {
		out = append(out, gate.Route{Method: m, Pattern: pkghttp.ProjectLevel.Pattern("generic", "/{name}/{version}/{file}"),
			Rule: pkghttp.ProjectLevel.Decide(ep.action)})
	}
	pkghttp.SortRoutes(out)
	return out
}

// ServeHTTP is the dispatcher: parse the path, look up the route's access, authenticate,
// resolve the project, authorize once, then serve.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, err := ParsePath(r.URL.EscapedPath())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ep, ok := routes[r.Method]
	if !ok {
		w.Header().Set("Allow", "GET, HEAD, PUT")
		h.writeError(w, r, pkghttp.ErrMethod)
		return
	}
	g, err := pkghttp.Authorize(r, h.cfg.Auth, h.cfg.Gate, h.cfg.Packages, pkghttp.Target{Ref: rt.Project}, ep.action)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ep.serve(h, w, r, rt, g)
}

// handlePutFile stores the request body as the file (one streaming pass; nothing is visible
// until it is stored and verified).
func (h *Handler) handlePutFile(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	q, err := ParseQuery(r.URL.Query())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	rec, err := h.cfg.Packages.AddFile(r.Context(), packages.Upload{ProjectID: g.Project().ID, Format: packages.Generic,
		Name: rt.Name, Version: rt.Version, Filename: rt.File, Status: q.Status, Expected: pkghttp.ExpectedChecksums(r),
		Size: r.ContentLength, Body: r.Body})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if q.SelectFile {
		httpx.WriteJSON(w, http.StatusOK, fileView(rec))
		return
	}
	writeMessage(w, http.StatusCreated, "201 Created")
}

// fileJSON is GitLab's package file entity (select=package_file), plus file_sha512.
type fileJSON struct {
	ID         int64  `json:"id"`
	PackageID  int64  `json:"package_id"`
	CreatedAt  string `json:"created_at"`
	UpdatedAt  string `json:"updated_at"`
	Size       int64  `json:"size"`
	FileStore  int    `json:"file_store"`
	FileMD5    string `json:"file_md5"`
	FileSHA1   string `json:"file_sha1"`
	FileSHA256 string `json:"file_sha256"`
	FileSHA512 string `json:"file_sha512"`
	FileName   string `json:"file_name"`
	Status     string `json:"status"`
}

func fileView(rec *packages.Recorded) fileJSON {
	at := rec.File.CreatedAt.UTC().Format(time.RFC3339Nano)
	return fileJSON{ID: rec.File.ID, PackageID: rec.Package.ID, CreatedAt: at, UpdatedAt: at, Size: rec.File.Size,
		FileStore: 1, FileMD5: rec.File.MD5, FileSHA1: rec.File.SHA1, FileSHA256: rec.File.SHA256,
		FileSHA512: rec.File.SHA512, FileName: rec.File.Filename, Status: string(rec.Version.Status)}
}

// handleGetFile streams a file (hidden versions too: hiding only keeps them out of listings).
func (h *Handler) handleGetFile(w http.ResponseWriter, r *http.Request, rt Route, g pkghttp.Grant) {
	f, err := h.cfg.Packages.File(r.Context(), g.Project().ID, packages.Generic, rt.Name, rt.Version, rt.File)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	err = pkghttp.SendFile(w, r, h.cfg.Packages, h.cfg.Log, f, "generic package download", func(hdr http.Header) {
		// The SHA-256 for clients to verify what they fetched (the ETag carries it too). GitLab
		// sends no checksum header; SHA-1, SHA-512 and MD5 are left out, since every header is
		// copied, sorted and written on every download (bench/run's profiles: about 4% of a
		// cached 4 KiB download's CPU for the nine it had). The values share one backing array,
		// and the keys are already canonical. The filename passed ValidateFilename: no quote,
		// backslash or control character to escape.
		v := [...]string{"application/octet-stream", `attachment; filename="` + f.Filename + `"`, f.SHA256}
		for i, k := range [...]string{"Content-Type", "Content-Disposition", "X-Checksum-Sha256"} {
			hdr[k] = v[i : i+1 : i+1]
		}
	})
	if err != nil {
		h.writeError(w, r, err)
	}
}

func writeMessage(w http.ResponseWriter, status int, msg string) {
	httpx.WriteJSON(w, status, map[string]string{"message": msg})
}

// writeError is the format's one error writer: the shared kinds → status (pkghttp.Classify) in
// GitLab's {"message": "<status> <text>[ - <detail>]"}. Unknown errors are logged with the
// request ID and answered with a generic 500.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p := pkghttp.Classify(err)
	switch p.Status {
	case http.StatusBadRequest:
		p.Title = "Bad request" // GitLab's API spelling
	case http.StatusConflict:
		p.Detail = "this file already exists"
	}
	p.Prepare(w, r, h.cfg.Log)
	writeMessage(w, p.Status, p.Line())
}
