package ocihttp

import (
	"context"
	"errors"
	"io"
	"net/http"

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

// NewBlobReader returns a reader over the size bytes of blob d in store.
func NewBlobReader(ctx context.Context, store blob.Store, d blob.Digest, size int64) *BlobReader {
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
