// Package blob is Gatehouse's content-addressed blob storage interface, shared by the container
// registry, the dependency proxy and the package registries. Implementations live beside it
// (fsblob: local disk; s3blob: S3-compatible object storage) and all pass blobtest.Run.
//
// Uploads are invisible until committed: a Writer writes to a staging location, and Commit
// verifies the digest of what was written before making the blob visible under that digest.
package blob

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
)

// Errors. ErrNotFound and ErrInvalidDigest are of errkind's kinds (errors.Is(err,
// errkind.ErrNotFound) holds for a missing blob); each is its own sentinel too, since callers
// must tell a missing blob from a missing metadata row.
var (
	// ErrNotFound: no blob with that digest, or no upload with that id.
	ErrNotFound = fmt.Errorf("blob %w", errkind.ErrNotFound)
	// ErrDigestMismatch: Commit's expected digest is not the digest of the bytes written. It
	// has no kind: whether that is the client's fault (an upload) or the server's (corruption)
	// is the caller's to say.
	ErrDigestMismatch = errors.New("digest mismatch")
	// ErrInvalidDigest: a string that is not "<algorithm>:<hex>" for a supported algorithm.
	ErrInvalidDigest = fmt.Errorf("%w digest", errkind.ErrInvalid)
)

// Algorithm is a digest algorithm Gatehouse supports.
type Algorithm string

// Supported algorithms (OCI image spec: sha256 required, sha512 optional).
const (
	SHA256 Algorithm = "sha256"
	SHA512 Algorithm = "sha512"
)

// hexLen is the length of each algorithm's lower-case hex encoding.
var hexLen = map[Algorithm]int{SHA256: 64, SHA512: 128}

// New returns a fresh hash for a.
func (a Algorithm) New() hash.Hash {
	if a == SHA512 {
		return sha512.New()
	}
	return sha256.New()
}

// Digest is a validated "<algorithm>:<lower-case hex>" content address.
type Digest string

// ParseDigest validates s. Only sha256 and sha512 with lower-case hex of the right length pass.
func ParseDigest(s string) (Digest, error) {
	alg, hx, ok := strings.Cut(s, ":")
	n, known := hexLen[Algorithm(alg)]
	if !ok || !known || len(hx) != n {
		return "", fmt.Errorf("%w: %q", ErrInvalidDigest, truncate(s))
	}
	for i := 0; i < len(hx); i++ {
		c := hx[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", fmt.Errorf("%w: %q", ErrInvalidDigest, truncate(s))
		}
	}
	return Digest(s), nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// Algorithm returns the digest's algorithm.
func (d Digest) Algorithm() Algorithm {
	a, _, _ := strings.Cut(string(d), ":")
	return Algorithm(a)
}

// Hex returns the digest's hex part.
func (d Digest) Hex() string {
	_, h, _ := strings.Cut(string(d), ":")
	return h
}

// String returns the digest as text.
func (d Digest) String() string { return string(d) }

// FromHash builds the digest of a finished hash.
func FromHash(a Algorithm, h hash.Hash) Digest {
	return Digest(string(a) + ":" + hex.EncodeToString(h.Sum(nil)))
}

// FromBytes is the digest of b under a.
func FromBytes(a Algorithm, b []byte) Digest {
	h := a.New()
	h.Write(b)
	return FromHash(a, h)
}

// Info describes a stored blob.
type Info struct {
	Digest  Digest
	Size    int64
	ModTime time.Time
}

// Store is the required core of blob storage. Every method takes ctx first.
type Store interface {
	// Stat returns the blob's size, or ErrNotFound.
	Stat(ctx context.Context, d Digest) (Info, error)
	// Open returns a reader positioned at offset, or ErrNotFound. Implementations fetch lazily,
	// so a range read does not transfer the whole blob.
	Open(ctx context.Context, d Digest, offset int64) (io.ReadCloser, error)
	// Create starts a new upload.
	Create(ctx context.Context) (Writer, error)
	// Resume reopens an upload by id to append to it, or ErrNotFound.
	Resume(ctx context.Context, id string) (Writer, error)
	// Delete removes a blob; ErrNotFound if absent.
	Delete(ctx context.Context, d Digest) error
}

// Writer is an upload in progress. It is invisible until Commit succeeds. A Writer is used by
// one goroutine at a time.
//
// After a successful Commit, or after Close or Cancel, the Writer is finished: Write and Commit
// fail, and further Close and Cancel calls do nothing and return nil, so `defer w.Cancel(ctx)`
// is safe on every path (it does not discard an upload that Close suspended).
type Writer interface {
	io.Writer
	// ID names the upload for Resume.
	ID() string
	// Size is the number of bytes written so far (across resumes).
	Size() int64
	// Commit verifies that the bytes written have digest expected and makes them visible under
	// it (ErrDigestMismatch otherwise, and nothing becomes visible). The upload is then gone.
	// An expected digest that is not valid gives ErrInvalidDigest. Committing a digest that is
	// already stored succeeds and keeps the stored copy. A failed Commit leaves the upload as it
	// was and the Writer open, for the caller to Cancel (or Close).
	Commit(ctx context.Context, expected Digest) (Info, error)
	// Close suspends the upload, keeping what was written for Resume. Bytes written by a Writer
	// that is never closed (a crashed request) may be lost: a resumed Writer's Size tells where
	// the client must continue.
	Close() error
	// Cancel discards the upload.
	Cancel(ctx context.Context) error
}

// Walker is an optional capability used by garbage collection: it lists stored blobs and
// uploads not touched since before.
type Walker interface {
	// Walk calls fn for every stored blob.
	Walk(ctx context.Context, fn func(Info) error) error
	// PurgeUploads removes uploads last written before before, returning how many it removed.
	PurgeUploads(ctx context.Context, before time.Time) (int, error)
}

// Pinger is an optional capability used by readiness (GET /-/ready): Ping answers nil when the
// backing storage answers, cheaply (no blob is read or written).
type Pinger interface {
	Ping(ctx context.Context) error
}

// Redirector is an optional capability: a time-limited URL where the client can GET the blob
// directly (S3 presigned URLs).
type Redirector interface {
	RedirectURL(ctx context.Context, d Digest, ttl time.Duration) (string, error)
}
