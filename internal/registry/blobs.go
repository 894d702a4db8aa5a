package registry

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
	"github.com/gatehouse-dev/gatehouse/internal/ocihttp"
)

// copier streams blobs in and out with 1 MiB buffers.
var copier = ocihttp.NewCopier(1 << 20)

// serveBlob answers GET and HEAD /v2/<name>/blobs/<digest>: only blobs linked into the
// repository, streamed from the blob store, with Range support (RFC 9110 §14).
func (h *Handler) serveBlob(w http.ResponseWriter, r *http.Request, rt route, g grant) {
	ctx := r.Context()
	link, err := h.cfg.Store.BlobLink(ctx, g.repo(rt), string(rt.Digest))
	if errors.Is(err, oci.ErrNotFound) {
		h.writeError(w, r, ocihttp.Fail(ocihttp.CodeBlobUnknown, ""))
		return
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ocihttp.SetStoredBlobHeaders(w, rt.Digest)
	if ocihttp.NotModified(w, r, string(rt.Digest)) {
		return
	}
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Length", strconv.FormatInt(link.Size, 10))
		w.WriteHeader(http.StatusOK)
		return
	}
	if h.cfg.RedirectBlobs {
		done, err := ocihttp.Redirect(w, r, h.cfg.Blobs, rt.Digest)
		if done {
			return
		}
		if err != nil {
			h.cfg.Log.WarnContext(ctx, "blob redirect failed; serving directly", "digest", string(rt.Digest), "err", err.Error())
		}
	}
	if r.Header.Get("Range") == "" {
		rc, err := h.cfg.Blobs.Open(ctx, rt.Digest, 0)
		if err != nil {
			h.blobOpenError(w, r, err)
			return
		}
		defer rc.Close()
		w.Header().Set("Content-Length", strconv.FormatInt(link.Size, 10))
		w.WriteHeader(http.StatusOK)
		_, _ = copier.Copy(w, rc)
		return
	}
	if start, n, ok := singleRange(r, link.Size); ok {
		if n < 0 {
			w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(link.Size, 10))
			h.writeError(w, r, ocihttp.Fail(ocihttp.CodeRangeNotSatisfiable, ""))
			return
		}
		rc, err := h.cfg.Blobs.Open(ctx, rt.Digest, start)
		if err != nil {
			h.blobOpenError(w, r, err)
			return
		}
		defer rc.Close()
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, start+n-1, link.Size))
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		w.WriteHeader(http.StatusPartialContent)
		_, _ = copier.Copy(w, io.LimitReader(rc, n))
		return
	}
	// Multiple ranges and conditional ranges: net/http's implementation.
	if err := ocihttp.ServeRanges(w, r, h.cfg.Blobs, rt.Digest, link.Size); err != nil {
		h.cfg.Log.WarnContext(ctx, "blob read failed", "digest", string(rt.Digest), "err", err.Error())
	}
}

func (h *Handler) blobOpenError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, blob.ErrNotFound) {
		// Linked but gone from storage: answer as unknown rather than fail.
		h.cfg.Log.WarnContext(r.Context(), "linked blob missing from storage", "err", err.Error())
		h.writeError(w, r, ocihttp.Fail(ocihttp.CodeBlobUnknown, ""))
		return
	}
	h.writeError(w, r, err)
}

// serveDeleteBlob answers DELETE /v2/<name>/blobs/<digest>: the repository's link goes at once
// (202); the bytes stay for garbage collection, since other repositories may link them.
func (h *Handler) serveDeleteBlob(w http.ResponseWriter, r *http.Request, rt route, g grant) {
	err := h.cfg.Store.UnlinkBlob(r.Context(), g.repo(rt), string(rt.Digest))
	ocihttp.Deleted(w, r, err, ocihttp.CodeBlobUnknown, h.writeError)
}

// singleRange interprets a Range header of one byte range (RFC 9110 §14) over size bytes. ok
// is false when the header is not a single plain byte range (multiple ranges, If-Range): the
// caller falls back to http.ServeContent. n < 0 means the range is unsatisfiable (416).
func singleRange(r *http.Request, size int64) (start, n int64, ok bool) {
	spec, found := strings.CutPrefix(r.Header.Get("Range"), "bytes=")
	if !found || strings.Contains(spec, ",") || r.Header.Get("If-Range") != "" {
		return 0, 0, false
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, -1, true
	}
	if first == "" { // suffix: the last <last> bytes
		k, err := strconv.ParseInt(last, 10, 64)
		if err != nil || k <= 0 || size == 0 {
			return 0, -1, true
		}
		k = min(k, size)
		return size - k, k, true
	}
	a, err := strconv.ParseInt(first, 10, 64)
	if err != nil || a < 0 || a >= size {
		return 0, -1, true
	}
	b := size - 1
	if last != "" {
		if b, err = strconv.ParseInt(last, 10, 64); err != nil || b < a {
			return 0, -1, true
		}
		b = min(b, size-1)
	}
	return a, b - a + 1, true
}
