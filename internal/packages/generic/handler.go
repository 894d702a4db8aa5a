package generic

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// Handler serves the generic package registry.
type Handler struct {
	Packages *packages.Service
	Auth     *authn.Authenticator
	Log      *slog.Logger
}

// Patterns are the ServeMux patterns the handler serves.
func (h *Handler) Patterns() []string {
	return []string{"/api/v4/projects/{id}/packages/generic/"}
}

// grant is what the dispatcher hands a handler once the request is authorized; handlers cannot
// be reached without one.
type grant struct {
	principal access.Principal
	project   *namespace.Project
}

// endpoint is one route: the access it needs and the handler that serves it.
type endpoint struct {
	action access.Action
	serve  func(h *Handler, w http.ResponseWriter, r *http.Request, rt Route, g grant)
}

// routes is the route table: method → endpoint for the one path shape. Every route names its
// access action (route_test.go checks).
var routes = map[string]endpoint{
	http.MethodGet:  {access.ReadPackage, (*Handler).handleGetFile},
	http.MethodHead: {access.ReadPackage, (*Handler).handleGetFile},
	http.MethodPut:  {access.WritePackage, (*Handler).handlePutFile},
}

var errMethod = errors.New("method not allowed")

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

func (h *Handler) authorize(r *http.Request, rt Route, act access.Action) (grant, error) {
	ctx := r.Context()
	p, err := h.Auth.Packages(ctx, r)
	if err != nil {
		return grant{}, err
	}
	project, err := h.Packages.Project(ctx, rt.Project)
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

// handlePutFile stores the request body as the file (one streaming pass; nothing is visible
// until it is stored and verified).
func (h *Handler) handlePutFile(w http.ResponseWriter, r *http.Request, rt Route, g grant) {
	q, err := ParseQuery(r.URL.Query())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	rec, err := h.Packages.AddFile(r.Context(), packages.Upload{ProjectID: g.project.ID, Format: packages.Generic,
		Name: rt.Name, Version: rt.Version, Filename: rt.File, Status: q.Status, Expected: expectedChecksums(r),
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

// expectedChecksums reads the optional X-Checksum-* headers (Artifactory's convention, which
// Maven and many scripts send).
func expectedChecksums(r *http.Request) packages.Checksums {
	return packages.Checksums{MD5: r.Header.Get("X-Checksum-Md5"), SHA1: r.Header.Get("X-Checksum-Sha1"),
		SHA256: r.Header.Get("X-Checksum-Sha256"), SHA512: r.Header.Get("X-Checksum-Sha512")}
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
func (h *Handler) handleGetFile(w http.ResponseWriter, r *http.Request, rt Route, g grant) {
	f, err := h.Packages.File(r.Context(), g.project.ID, packages.Generic, rt.Name, rt.Version, rt.File)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/octet-stream")
	// The filename passed ValidateFilename: no quote, backslash or control character to escape.
	hdr.Set("Content-Disposition", `attachment; filename="`+f.Filename+`"`)
	hdr.Set("Content-Length", strconv.FormatInt(f.Size, 10))
	hdr.Set("ETag", `"`+f.SHA256+`"`)
	hdr.Set("X-Checksum-Md5", f.MD5)
	hdr.Set("X-Checksum-Sha1", f.SHA1)
	hdr.Set("X-Checksum-Sha256", f.SHA256)
	hdr.Set("X-Checksum-Sha512", f.SHA512)
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	rc, err := h.Packages.Open(r.Context(), f, 0)
	if err != nil {
		for _, k := range []string{"Content-Disposition", "Content-Length", "ETag", "X-Checksum-Md5", "X-Checksum-Sha1", "X-Checksum-Sha256", "X-Checksum-Sha512"} {
			hdr.Del(k)
		}
		h.writeError(w, r, err)
		return
	}
	defer rc.Close()
	if _, err := io.Copy(w, rc); err != nil && h.Log != nil {
		h.Log.WarnContext(r.Context(), "generic package download interrupted", "request_id", httpx.RequestID(r.Context()), "err", err.Error())
	}
}

func writeMessage(w http.ResponseWriter, status int, msg string) {
	httpx.WriteJSON(w, status, map[string]string{"message": msg})
}

// writeError is the format's one error writer: kinds → status + GitLab's {"message": …}.
// Unknown errors are logged with the request ID and answered with a generic 500.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var de *packages.DeniedError
	var ve *packages.ValidationError
	reason := ""
	if errors.As(err, &de) {
		reason = " - " + de.Reason
	}
	switch {
	case errors.Is(err, authn.ErrInvalidCredentials), errors.Is(err, packages.ErrUnauthorized):
		w.Header().Set("WWW-Authenticate", `Basic realm="Gatehouse"`)
		writeMessage(w, http.StatusUnauthorized, "401 Unauthorized"+reason)
	case errors.Is(err, packages.ErrForbidden):
		writeMessage(w, http.StatusForbidden, "403 Forbidden"+reason)
	case errors.Is(err, packages.ErrNotFound):
		writeMessage(w, http.StatusNotFound, "404 Not Found")
	case errors.As(err, &ve):
		writeMessage(w, http.StatusBadRequest, "400 Bad request - "+ve.Error())
	case errors.Is(err, packages.ErrInvalid):
		writeMessage(w, http.StatusBadRequest, "400 Bad request")
	case errors.Is(err, packages.ErrTooLarge):
		// The kind's text names the limit, never the content.
		writeMessage(w, http.StatusRequestEntityTooLarge, "413 Request Entity Too Large - "+err.Error())
	case errors.Is(err, packages.ErrConflict):
		writeMessage(w, http.StatusConflict, "409 Conflict - this file already exists")
	case errors.Is(err, errMethod):
		writeMessage(w, http.StatusMethodNotAllowed, "405 Method Not Allowed")
	default:
		if h.Log != nil {
			httpx.Internal(r.Context(), h.Log, err)
		}
		writeMessage(w, http.StatusInternalServerError, "500 Internal Server Error")
	}
}
