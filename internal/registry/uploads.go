package registry

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
	"github.com/gatehouse-dev/gatehouse/internal/ocihttp"
)

// UploadLocks serialise the requests on one upload session across every node of a cluster
// (docs/architecture.md §4.5): a chunk appended on one node while another appends the same range
// would mix their bytes under one hash state. A client never sends two at once, but nothing
// stops a broken one.
type UploadLocks interface {
	// Lock waits until it holds key and returns the function that releases it; ctx ending
	// stops the wait with ctx's error.
	Lock(ctx context.Context, key string) (unlock func(), err error)
}

// localUploadLocks serialise the requests on one upload session within this process: enough for
// one node (SQLite), used when Config.UploadLocks is nil.
type localUploadLocks [64]sync.Mutex

func (l *localUploadLocks) Lock(_ context.Context, id string) (func(), error) {
	f := fnv.New32a()
	f.Write([]byte(id))
	m := &l[f.Sum32()%uint32(len(l))]
	m.Lock()
	return m.Unlock, nil
}

// lockUpload takes the lock of upload id, or answers the error and returns nil.
func (h *Handler) lockUpload(w http.ResponseWriter, r *http.Request, id string) func() {
	unlock, err := h.cfg.UploadLocks.Lock(r.Context(), "registry-upload:"+id)
	if err != nil {
		h.writeError(w, r, err)
		return nil
	}
	return unlock
}

// uploadLocation is the URL of an upload session: the store's upload id plus a MAC binding it to
// the repository.
func (h *Handler) uploadLocation(name oci.Name, id string) string {
	return "/v2/" + name.String() + "/blobs/uploads/" + id + "?_state=" + h.uploadMAC(name, id)
}

// rangeValue is the Range header of an upload holding size bytes ("0-0" when empty, as
// Distribution answers).
func rangeValue(size int64) string {
	if size <= 0 {
		return "0-0"
	}
	return "0-" + strconv.FormatInt(size-1, 10)
}

func (h *Handler) uploadAccepted(w http.ResponseWriter, name oci.Name, id string, size int64, status int) {
	w.Header().Set("Location", h.uploadLocation(name, id))
	w.Header().Set("Range", rangeValue(size))
	w.Header().Set("Docker-Upload-UUID", id)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
}

func blobCreated(w http.ResponseWriter, name oci.Name, d blob.Digest) {
	w.Header().Set("Location", "/v2/"+name.String()+"/blobs/"+string(d))
	w.Header().Set("Docker-Content-Digest", string(d))
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

// serveStartUpload answers POST /v2/<name>/blobs/uploads/: a cross-repository mount (201), a
// monolithic upload with ?digest= (201), or a new session (202).
func (h *Handler) serveStartUpload(w http.ResponseWriter, r *http.Request, rt route, g grant) {
	ctx := r.Context()
	q := r.URL.Query()
	repo := g.repo(rt)
	if m := q.Get("mount"); m != "" {
		if d, err := blob.ParseDigest(m); err == nil {
			mounted, err := h.mount(r, repo, g, d, q.Get("from") == "")
			if err != nil {
				h.writeError(w, r, err)
				return
			}
			if mounted {
				blobCreated(w, rt.Name, d)
				return
			}
		}
	}
	if ds := q.Get("digest"); ds != "" {
		d, err := blob.ParseDigest(ds)
		if err != nil {
			h.writeError(w, r, ocihttp.Fail(ocihttp.CodeDigestInvalid, "invalid digest"))
			return
		}
		wr, err := h.cfg.Blobs.Create(ctx)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if err := h.finishUpload(r, repo, wr, d, -1); err != nil {
			h.writeError(w, r, err)
			return
		}
		blobCreated(w, rt.Name, d)
		return
	}
	if alg := q.Get("digest-algorithm"); alg != "" && alg != string(blob.SHA256) && alg != string(blob.SHA512) {
		h.writeError(w, r, ocihttp.Fail(ocihttp.CodeDigestInvalid, "unsupported digest algorithm"))
		return
	}
	wr, err := h.cfg.Blobs.Create(ctx)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := wr.Close(); err != nil {
		h.writeError(w, r, err)
		return
	}
	h.uploadAccepted(w, rt.Name, wr.ID(), 0, http.StatusAccepted)
}

// mount links digest into repo from the granted source repository, or (anyRepo, no "from") from
// any repository of the same project. It reports false when there is nothing it may mount.
func (h *Handler) mount(r *http.Request, repo oci.Repository, g grant, d blob.Digest, anyRepo bool) (bool, error) {
	ctx := r.Context()
	var link oci.BlobLink
	var err error
	switch {
	case g.mount.Name != "":
		link, err = h.cfg.Store.BlobLink(ctx, g.mount, string(d))
	case anyRepo:
		link, err = h.cfg.Store.ProjectBlobLink(ctx, repo.ProjectID, string(d))
	default:
		return false, nil
	}
	if errors.Is(err, oci.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if _, err := h.cfg.Blobs.Stat(ctx, d); err != nil {
		if errors.Is(err, blob.ErrNotFound) {
			return false, nil
		}
		return false, err
	}
	link.CreatedAt = h.cfg.Now()
	if err := h.cfg.Store.LinkBlob(ctx, repo, link); err != nil {
		return false, err
	}
	return true, h.fenceLink(ctx, repo, d)
}

// finishUpload appends the request body (of want bytes, or any length when want < 0) to wr,
// commits it under d and links it into repo. The writer is cancelled on every failure.
func (h *Handler) finishUpload(r *http.Request, repo oci.Repository, wr blob.Writer, d blob.Digest, want int64) error {
	ctx := r.Context()
	committed := false
	defer func() {
		if !committed {
			_ = wr.Cancel(ctx)
		}
	}()
	if err := appendBody(r, wr, want); err != nil {
		return err
	}
	info, err := wr.Commit(ctx, d)
	if errors.Is(err, blob.ErrDigestMismatch) {
		return ocihttp.Fail(ocihttp.CodeDigestInvalid, "the uploaded content does not have digest %s", d)
	}
	if err != nil {
		return err
	}
	committed = true
	if err := h.cfg.Store.LinkBlob(ctx, repo, oci.BlobLink{Digest: string(d), Size: info.Size, CreatedAt: h.cfg.Now()}); err != nil {
		return err
	}
	return h.fenceLink(ctx, repo, d)
}

// errCollected: garbage collection deleted a blob while a push was making it reachable (it
// re-used bytes that were unreferenced and old). The push must start over.
var errCollected = ocihttp.Fail(ocihttp.CodeUnavailable, "garbage collection removed the blob during the push; push it again")

// fenceLink checks, after d was linked into repo, that garbage collection has not deleted its
// bytes meanwhile; if it has, the link goes and the push fails.
func (h *Handler) fenceLink(ctx context.Context, repo oci.Repository, d blob.Digest) error {
	if h.cfg.Fence == nil {
		return nil
	}
	ok, err := h.cfg.Fence.Survived(ctx, d)
	if err != nil || ok {
		return err
	}
	if err := h.cfg.Store.UnlinkBlob(context.WithoutCancel(ctx), repo, string(d)); err != nil && !errors.Is(err, oci.ErrNotFound) {
		h.cfg.Log.WarnContext(ctx, "unlink a blob garbage collection removed", "digest", string(d), "err", err.Error())
	}
	return errCollected
}

// appendBody copies the request body into wr. want >= 0 is the exact length the Content-Range
// announced: exactly that many bytes are appended, and a shorter or longer body is an error.
// Otherwise net/http holds the body to its Content-Length, when there is one.
func appendBody(r *http.Request, wr blob.Writer, want int64) error {
	src := io.Reader(r.Body)
	if want >= 0 {
		src = io.LimitReader(r.Body, want)
	}
	n, err := copier.Copy(wr, src)
	if err != nil {
		if r.Context().Err() != nil {
			return r.Context().Err()
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return ocihttp.Fail(ocihttp.CodeSizeInvalid, "the body ended early")
		}
		return fmt.Errorf("receive blob data: %w", err)
	}
	if want >= 0 {
		var extra [1]byte
		if m, _ := io.ReadFull(r.Body, extra[:]); n != want || m > 0 {
			return ocihttp.Fail(ocihttp.CodeSizeInvalid, "the chunk does not have the %d bytes its Content-Range announced", want)
		}
	}
	return nil
}

// parseContentRange parses a chunk's "<start>-<end>" (also "bytes <start>-<end>[/<total>]").
func parseContentRange(s string) (start, end int64, ok bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "bytes ")
	s = strings.TrimPrefix(s, "bytes=")
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	a, b, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, false
	}
	return start, end, true
}

// resume reopens the session of an upload route after checking its MAC. On success the caller
// must Close, Commit or Cancel the writer.
func (h *Handler) resume(r *http.Request, rt route) (blob.Writer, error) {
	if !h.checkUploadMAC(rt.Name, rt.Upload, r.URL.Query().Get("_state")) {
		return nil, ocihttp.Fail(ocihttp.CodeBlobUploadUnknown, "")
	}
	wr, err := h.cfg.Blobs.Resume(r.Context(), rt.Upload)
	if errors.Is(err, blob.ErrNotFound) {
		return nil, ocihttp.Fail(ocihttp.CodeBlobUploadUnknown, "")
	}
	return wr, err
}

// chunkRange checks a request's Content-Range against the session: it must start where the
// upload ends. It returns the chunk length, or -1 when the request has no Content-Range.
func chunkRange(r *http.Request, wr blob.Writer) (int64, error) {
	cr := r.Header.Get("Content-Range")
	if cr == "" {
		return -1, nil
	}
	start, end, ok := parseContentRange(cr)
	if !ok || start != wr.Size() {
		return 0, ocihttp.Fail(ocihttp.CodeRangeInvalid, "the upload holds %d bytes", wr.Size())
	}
	n := end - start + 1
	if r.ContentLength >= 0 && r.ContentLength != n {
		return 0, ocihttp.Fail(ocihttp.CodeSizeInvalid, "Content-Length does not match Content-Range")
	}
	return n, nil
}

// servePatchUpload answers PATCH <upload location>: append one chunk (in order, else 416) or
// stream the whole blob.
func (h *Handler) servePatchUpload(w http.ResponseWriter, r *http.Request, rt route, _ grant) {
	unlock := h.lockUpload(w, r, rt.Upload)
	if unlock == nil {
		return
	}
	defer unlock()
	wr, err := h.resume(r, rt)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	n, err := chunkRange(r, wr)
	if err == nil {
		err = appendBody(r, wr, n)
	}
	size := wr.Size()
	if cerr := wr.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		h.rangeHeaders(w, rt, size, err)
		h.writeError(w, r, err)
		return
	}
	h.uploadAccepted(w, rt.Name, rt.Upload, size, http.StatusAccepted)
}

// rangeHeaders adds Location and Range to a 416 answer so the client can resume.
func (h *Handler) rangeHeaders(w http.ResponseWriter, rt route, size int64, err error) {
	var e *ocihttp.Error
	if errors.As(err, &e) && e.Code == ocihttp.CodeRangeInvalid {
		w.Header().Set("Location", h.uploadLocation(rt.Name, rt.Upload))
		w.Header().Set("Range", rangeValue(size))
		w.Header().Set("Docker-Upload-UUID", rt.Upload)
	}
}

// servePutUpload answers PUT <upload location>?digest=: append the optional last chunk, verify
// the digest, commit (making the blob visible) and link it into the repository.
func (h *Handler) servePutUpload(w http.ResponseWriter, r *http.Request, rt route, g grant) {
	unlock := h.lockUpload(w, r, rt.Upload)
	if unlock == nil {
		return
	}
	defer unlock()
	d, err := blob.ParseDigest(r.URL.Query().Get("digest"))
	if err != nil {
		h.writeError(w, r, ocihttp.Fail(ocihttp.CodeDigestInvalid, "a valid ?digest= is required"))
		return
	}
	wr, err := h.resume(r, rt)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	n, err := chunkRange(r, wr)
	if err != nil {
		size := wr.Size()
		_ = wr.Close()
		h.rangeHeaders(w, rt, size, err)
		h.writeError(w, r, err)
		return
	}
	if err := h.finishUpload(r, g.repo(rt), wr, d, n); err != nil {
		h.writeError(w, r, err)
		return
	}
	blobCreated(w, rt.Name, d)
}

// serveUploadStatus answers GET <upload location>: 204 with the range received so far.
func (h *Handler) serveUploadStatus(w http.ResponseWriter, r *http.Request, rt route, _ grant) {
	unlock := h.lockUpload(w, r, rt.Upload)
	if unlock == nil {
		return
	}
	defer unlock()
	wr, err := h.resume(r, rt)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	size := wr.Size()
	if err := wr.Close(); err != nil {
		h.writeError(w, r, err)
		return
	}
	h.uploadAccepted(w, rt.Name, rt.Upload, size, http.StatusNoContent)
}

// serveCancelUpload answers DELETE <upload location>: the session and its data are discarded.
func (h *Handler) serveCancelUpload(w http.ResponseWriter, r *http.Request, rt route, _ grant) {
	unlock := h.lockUpload(w, r, rt.Upload)
	if unlock == nil {
		return
	}
	defer unlock()
	wr, err := h.resume(r, rt)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := wr.Cancel(r.Context()); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
}
