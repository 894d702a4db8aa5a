package ocihttp

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
)

// SetDigestHeaders sets what every manifest and blob answer carries: the digest, also as the
// ETag.
func SetDigestHeaders(w http.ResponseWriter, d string) {
	w.Header().Set("Docker-Content-Digest", d)
	w.Header().Set("ETag", `"`+d+`"`)
}

// NotModified answers 304 and reports true when r's If-None-Match names digest d (as its ETag,
// or bare).
func NotModified(w http.ResponseWriter, r *http.Request, d string) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" && (inm == `"`+d+`"` || inm == d) {
		w.WriteHeader(http.StatusNotModified)
		return true
	}
	return false
}

// SetBlobHeaders sets what every blob answer carries: the digest headers and the content type.
func SetBlobHeaders(w http.ResponseWriter, d blob.Digest) {
	SetDigestHeaders(w, string(d))
	w.Header().Set("Content-Type", "application/octet-stream")
}

// SetStoredBlobHeaders sets what a blob answer from the blob store carries: the blob headers,
// byte ranges, and a year of caching (the content is addressed by its digest).
func SetStoredBlobHeaders(w http.ResponseWriter, d blob.Digest) {
	SetBlobHeaders(w, d)
	w.Header().Set("Accept-Ranges", "bytes")
	w.Header().Set("Cache-Control", "max-age=31536000")
}

// redirectTTL is how long a presigned blob URL is valid.
const redirectTTL = 20 * time.Minute

// Redirect answers r with a temporary redirect to a presigned URL of blob d when store can make
// one (blob.Redirector), and reports whether it did; err says why a store that presigns could not.
func Redirect(w http.ResponseWriter, r *http.Request, store blob.Store, d blob.Digest) (bool, error) {
	rd, ok := store.(blob.Redirector)
	if !ok {
		return false, nil
	}
	u, err := rd.RedirectURL(r.Context(), d, redirectTTL)
	if err != nil {
		return false, err
	}
	w.Header().Del("Content-Type")
	http.Redirect(w, r, u, http.StatusTemporaryRedirect)
	return true, nil
}

// ServeRanges answers r from the size bytes of blob d in store through http.ServeContent
// (multiple and conditional ranges, which net/http implements). It returns the error reading the
// blob failed with, unless the client went away.
func ServeRanges(w http.ResponseWriter, r *http.Request, store blob.Store, d blob.Digest, size int64) error {
	rs := newBlobReader(r.Context(), store, d, size)
	defer rs.Close()
	http.ServeContent(w, r, "", time.Time{}, rs)
	if err := rs.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// Copier streams blobs in and out with buffers of one size from a pool (fewer syscalls than
// io.Copy's 32 KiB).
type Copier struct{ pool sync.Pool }

// NewCopier returns a copier with buffers of size bytes.
func NewCopier(size int) *Copier {
	return &Copier{pool: sync.Pool{New: func() any { b := make([]byte, size); return &b }}}
}

// Copy copies src to dst (io.CopyBuffer).
func (c *Copier) Copy(dst io.Writer, src io.Reader) (int64, error) {
	bp := c.pool.Get().(*[]byte)
	defer c.pool.Put(bp)
	return io.CopyBuffer(dst, src, *bp)
}

// BlobReader is an io.ReadSeeker over a stored blob for http.ServeContent (multiple and
// conditional ranges): seeking is free, and the blob is opened lazily at the read offset, so a
// range read transfers only the range. Close it when done; Err reports a read failure.
type BlobReader struct {
	ctx    context.Context
	store  blob.Store
	digest blob.Digest
	size   int64
	off    int64
	rc     io.ReadCloser
	err    error
}

// newBlobReader returns a reader over the size bytes of blob d in store.
func newBlobReader(ctx context.Context, store blob.Store, d blob.Digest, size int64) *BlobReader {
	return &BlobReader{ctx: ctx, store: store, digest: d, size: size}
}

// Err is the first error opening or reading the blob failed with (io.EOF is not one), or nil.
func (b *BlobReader) Err() error { return b.err }

func (b *BlobReader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = b.off + offset
	case io.SeekEnd:
		abs = b.size + offset
	default:
		return 0, errors.New("ocihttp.BlobReader: bad whence")
	}
	if abs < 0 {
		return 0, errors.New("ocihttp.BlobReader: negative position")
	}
	if abs != b.off && b.rc != nil {
		b.rc.Close()
		b.rc = nil
	}
	b.off = abs
	return abs, nil
}

func (b *BlobReader) Read(p []byte) (int, error) {
	if b.off >= b.size {
		return 0, io.EOF
	}
	if b.rc == nil {
		rc, err := b.store.Open(b.ctx, b.digest, b.off)
		if err != nil {
			b.err = err
			return 0, err
		}
		b.rc = rc
	}
	n, err := b.rc.Read(p)
	b.off += int64(n)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

func (b *BlobReader) Close() error {
	if b.rc != nil {
		return b.rc.Close()
	}
	return nil
}
