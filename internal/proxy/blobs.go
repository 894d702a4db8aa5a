package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
	"github.com/gatehouse-dev/gatehouse/internal/ocihttp"
)

// clientWriteTimeout is how long the first client of a blob may take to accept one chunk of the
// tee before it is dropped (the copy into the cache goes on without it).
const clientWriteTimeout = 30 * time.Second

// copier streams blobs with 256 KiB buffers.
var copier = ocihttp.NewCopier(256 << 10)

// errCollected: garbage collection deleted a blob while the proxy was recording it.
var errCollected = ocihttp.Fail(ocihttp.CodeUnavailable, "garbage collection removed the blob while it was being cached; pull again")

// serveBlob answers GET and HEAD …/blobs/<digest>: from the group's cache, else from the
// upstream. A GET miss is fetched once however many clients ask; the first one gets the bytes
// as they arrive (teed into the cache), the others from the cache once it is committed. A HEAD
// miss only asks the upstream.
func (h *Handler) serveBlob(w http.ResponseWriter, r *http.Request, rt route, g grant) {
	ctx := r.Context()
	cached, err := h.cfg.Store.ProxyBlob(ctx, g.group.ID, string(rt.Digest))
	switch {
	case err == nil:
		if h.sendStored(w, r, rt.Digest, cached.Size) {
			return
		}
		h.cfg.Log.WarnContext(ctx, "cached blob missing from storage; fetching it again", "digest", string(rt.Digest))
	case !errors.Is(err, oci.ErrNotFound):
		h.writeError(w, r, err)
		return
	}
	image := h.cfg.Upstream.ImagePath(rt.Name.Image)
	if r.Method == http.MethodHead {
		size, err := h.cfg.Upstream.headBlob(ctx, image, rt.Digest)
		if err != nil {
			h.writeError(w, r, upstreamFailure(err, ocihttp.CodeBlobUnknown))
			return
		}
		ocihttp.SetBlobHeaders(w, rt.Digest)
		if size >= 0 {
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	sink := &clientSink{w: w, rc: http.NewResponseController(w), digest: rt.Digest}
	// Once this returns, the flight (which may outlive the request) no longer touches w.
	defer sink.abandon()
	info, err := h.fillBlob(ctx, image, rt.Digest, g.group, sink)
	switch started, done := sink.state(); {
	case done:
		if err != nil {
			h.cfg.Log.WarnContext(ctx, "blob served but not cached", "digest", string(rt.Digest), "err", err.Error())
		}
		return
	case started:
		// The client has part of a blob that failed (or whose digest is wrong), or it went
		// away: cut the connection so it cannot take the part for the whole.
		if ctx.Err() == nil {
			h.cfg.Log.WarnContext(ctx, "blob fetch failed mid-stream", "digest", string(rt.Digest), "err", errString(err))
		}
		sink.abandon()
		panic(http.ErrAbortHandler)
	case err != nil:
		h.writeError(w, r, upstreamFailure(err, ocihttp.CodeBlobUnknown))
	case !h.sendStored(w, r, rt.Digest, info.Size):
		h.writeError(w, r, ocihttp.Fail(ocihttp.CodeBlobUnknown, ""))
	}
}

func errString(err error) string {
	if err == nil {
		return "aborted"
	}
	return err.Error()
}

// fillBlob brings blob d of the upstream image into the cache of group (see shared), teeing it
// to sink when this request is the one that fetches it.
func (h *Handler) fillBlob(ctx context.Context, image string, d blob.Digest, group *namespace.Group, sink *clientSink) (blob.Info, error) {
	v, err := h.shared(ctx, "blob\x00"+image+"\x00"+string(d),
		func(ctx context.Context) (any, error) { return h.fetchBlob(ctx, image, d, sink) },
		func(ctx context.Context, v any) error { return h.keepBlob(ctx, group.ID, v.(blob.Info)) })
	if err != nil {
		return blob.Info{}, err
	}
	return v.(blob.Info), nil
}

// upstreamReader marks read errors as the upstream's (write errors are the blob store's).
type upstreamReader struct{ r io.Reader }

func (u upstreamReader) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	if err != nil && err != io.EOF {
		err = &upstreamError{cause: err}
	}
	return n, err
}

// fetchBlob copies blob d from the upstream into the blob store and, at the same time, to
// sink; it commits only a full copy with digest d (Commit verifies it) and only then lets sink
// send its last chunk. With FetchLocks, one node at a time runs it for d. Bytes the store already has (for another group, or the registry) are
// not fetched again: the upstream need only confirm it serves d for this image.
func (h *Handler) fetchBlob(ctx context.Context, image string, d blob.Digest, sink *clientSink) (blob.Info, error) {
	if h.cfg.FetchLocks != nil {
		// Another node fetching d holds this until it has committed (or failed): the Stat
		// below then finds the bytes.
		unlock, err := h.cfg.FetchLocks.Lock(ctx, "proxy-blob:"+string(d))
		if err != nil {
			return blob.Info{}, err
		}
		defer unlock()
	}
	if info, err := h.cfg.Blobs.Stat(ctx, d); err == nil {
		if _, err := h.cfg.Upstream.headBlob(ctx, image, d); err != nil {
			return blob.Info{}, err
		}
		return info, nil
	} else if !errors.Is(err, blob.ErrNotFound) {
		return blob.Info{}, err
	}
	resp, err := h.cfg.Upstream.getBlob(ctx, image, d)
	if err != nil {
		return blob.Info{}, err
	}
	defer resp.Body.Close()
	wr, err := h.cfg.Blobs.Create(ctx)
	if err != nil {
		return blob.Info{}, err
	}
	defer blob.CancelDetached(ctx, wr) // nothing after a successful Commit
	sink.start(resp.ContentLength)
	n, err := copier.Copy(io.MultiWriter(wr, sink), upstreamReader{resp.Body})
	if err != nil {
		return blob.Info{}, err
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return blob.Info{}, &upstreamError{cause: fmt.Errorf("blob body of %d bytes, announced %d", n, resp.ContentLength)}
	}
	info, err := wr.Commit(ctx, d)
	if errors.Is(err, blob.ErrDigestMismatch) {
		h.cfg.Log.WarnContext(ctx, "upstream blob does not match its digest; not cached", "digest", string(d), "image", image)
		return blob.Info{}, errCorrupt
	}
	if err != nil {
		return blob.Info{}, err
	}
	sink.finish()
	return info, nil
}

// keepBlob records a committed blob in the group's cache, then checks it survived garbage
// collection (undoing the record if not).
func (h *Handler) keepBlob(ctx context.Context, groupID int64, info blob.Info) error {
	d := string(info.Digest)
	if err := h.cfg.Store.PutProxyBlob(ctx, groupID, oci.CachedBlob{Digest: d, Size: info.Size, CreatedAt: h.cfg.Now()}); err != nil {
		return err
	}
	if h.cfg.Fence == nil {
		return nil
	}
	ok, err := h.cfg.Fence.Survived(ctx, info.Digest)
	if err != nil || ok {
		return err
	}
	if err := h.cfg.Store.DeleteProxyBlob(context.WithoutCancel(ctx), groupID, d); err != nil && !errors.Is(err, oci.ErrNotFound) {
		h.cfg.Log.WarnContext(ctx, "delete a cached blob garbage collection removed", "digest", d, "err", err.Error())
	}
	return errCollected
}

// sendStored answers from the blob store: headers, HEAD, If-None-Match, a redirect when the
// store can presign, Range requests. It returns false, having written nothing, when the bytes
// are not in the store.
func (h *Handler) sendStored(w http.ResponseWriter, r *http.Request, d blob.Digest, size int64) bool {
	ctx := r.Context()
	if r.Method == http.MethodHead {
		if _, err := h.cfg.Blobs.Stat(ctx, d); errors.Is(err, blob.ErrNotFound) {
			return false
		}
	}
	ocihttp.SetStoredBlobHeaders(w, d)
	if ocihttp.NotModified(w, r, string(d)) {
		return true
	}
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		w.WriteHeader(http.StatusOK)
		return true
	}
	if h.cfg.RedirectBlobs {
		if done, _ := ocihttp.Redirect(w, r, h.cfg.Blobs, d); done {
			return true
		}
	}
	rc, err := h.cfg.Blobs.Open(ctx, d, 0)
	if errors.Is(err, blob.ErrNotFound) {
		w.Header().Del("Accept-Ranges")
		w.Header().Del("Cache-Control")
		return false
	}
	if err != nil {
		h.writeError(w, r, err)
		return true
	}
	if r.Header.Get("Range") != "" {
		rc.Close()
		_ = ocihttp.ServeRanges(w, r, h.cfg.Blobs, d, size)
		return true
	}
	defer rc.Close()
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
	_, _ = copier.Copy(w, rc)
	return true
}

// clientSink is the fetching request's side of the tee. Writes reach the client while it keeps
// up; a client that fails or stalls for clientWriteTimeout is dropped without stopping the copy
// into the cache. The last chunk is held back until finish, which the fetch calls only once the
// copy is committed under its verified digest, so the client never receives a whole blob whose
// digest is wrong. After abandon (the request is over) nothing touches the ResponseWriter.
type clientSink struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	digest blob.Digest

	mu                          sync.Mutex
	started, done, failed, gone bool
	pending                     []byte
}

// start sends the response headers (size < 0: unknown length).
func (s *clientSink) start(size int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone || s.started {
		return
	}
	ocihttp.SetBlobHeaders(s.w, s.digest)
	if size >= 0 {
		s.w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	}
	s.w.WriteHeader(http.StatusOK)
	s.started = true
}

// Write sends the chunk held back so far and holds back p. It never fails: the cache copy must
// not stop for the client.
func (s *clientSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone || s.failed || !s.started {
		return len(p), nil
	}
	if len(s.pending) > 0 {
		s.send(s.pending)
	}
	s.pending = append(s.pending[:0], p...)
	return len(p), nil
}

func (s *clientSink) send(b []byte) {
	_ = s.rc.SetWriteDeadline(time.Now().Add(clientWriteTimeout))
	if _, err := s.w.Write(b); err != nil {
		s.failed = true
	}
}

// finish sends the last chunk: the copy is verified.
func (s *clientSink) finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone || s.failed || !s.started {
		return
	}
	if len(s.pending) > 0 {
		s.send(s.pending)
	}
	_ = s.rc.SetWriteDeadline(time.Time{})
	s.pending, s.done = nil, !s.failed
}

// abandon ends the sink's use of the ResponseWriter.
func (s *clientSink) abandon() {
	s.mu.Lock()
	s.gone, s.pending = true, nil
	s.mu.Unlock()
}

// state reports whether a response was started, and whether it was completed.
func (s *clientSink) state() (started, done bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started, s.done
}

// serveDeleteBlob answers DELETE …/blobs/<digest>: the group's record goes at once (202); the
// bytes stay for garbage collection, since others may use them.
func (h *Handler) serveDeleteBlob(w http.ResponseWriter, r *http.Request, rt route, g grant) {
	err := h.cfg.Store.DeleteProxyBlob(r.Context(), g.group.ID, string(rt.Digest))
	ocihttp.Deleted(w, r, err, ocihttp.CodeBlobUnknown, h.writeError)
}
