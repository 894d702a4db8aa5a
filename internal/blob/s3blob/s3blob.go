// Package s3blob stores blobs in S3-compatible object storage (AWS S3, MinIO, Ceph RGW, …)
// through minio-go.
//
// Object layout in the bucket, below Config.Prefix:
//
//	blobs/<alg>/<hex>            committed blobs, named by digest
//	uploads/<id>/state           an upload's size, part size and SHA-256 state (JSON)
//	uploads/<id>/part-<000000>   its data: part i holds bytes [i·P, (i+1)·P) for part size P
//
// A Writer buffers one part in memory and stores each full part as its own object, in the
// background while the next part fills (so a writer holds at most two parts in memory). Close
// stores the short last part and the state, so Resume can go on without re-reading anything but
// that short part. Every part but the last is P ≥ 5 MiB bytes, which is exactly what S3's
// multipart copy needs: Commit verifies the digest and then assembles the final object
// server-side with a multipart upload whose parts are copies of the part objects
// (UploadPartCopy) and, for the last part when it is still in memory, a direct part upload. A
// blob of at most one part that is still in memory is PUT directly. The final object appears
// atomically when the multipart upload completes, so a blob is either absent or whole.
//
// SHA-256 is hashed as bytes arrive and its state saved with the upload; a Commit under
// another algorithm (sha512, rare) reads the parts back to hash them.
package s3blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
)

const (
	// MinPartSize is S3's smallest part for every multipart part but the last.
	MinPartSize = 5 << 20
	// DefaultPartSize is the part size when Config.PartSize is 0.
	DefaultPartSize = 8 << 20
	// maxPartSize keeps one buffered part reasonable in memory (S3 allows up to 5 GiB).
	maxPartSize = 512 << 20

	idBytes = 16 // upload ids: 128 random bits, hex-encoded

	// maxInflight is how many full parts a writer uploads in the background while it fills the
	// next one.
	maxInflight = 1
	// copyWorkers is how many parts Commit copies at once.
	copyWorkers = 4
	// opTimeout bounds each request a writer makes outside a caller's context (Write, Close).
	opTimeout = 10 * time.Minute
)

// Config says where the blobs live. SecretKey never prints: String, GoString and slog show the
// config without it.
type Config struct {
	// Endpoint is the server's host[:port], without scheme (e.g. "s3.eu-west-1.amazonaws.com").
	Endpoint string
	// Bucket must exist.
	Bucket    string
	AccessKey string
	SecretKey string
	Region    string
	UseTLS    bool
	// Prefix is prepended to every key; a "/" is added if it lacks one.
	Prefix string
	// Redirect makes New return a store that also implements blob.Redirector (presigned GETs).
	Redirect bool
	// PartSize is the staged part size in bytes: 0 means DefaultPartSize; at least MinPartSize.
	// Each writer holds up to two parts in memory.
	PartSize int64
	// WrapTransport, when set, wraps the HTTP transport every request to S3 goes through (the
	// metrics count them).
	WrapTransport func(http.RoundTripper) http.RoundTripper
}

// newClient is the S3 client for cfg.
func newClient(cfg Config) (*minio.Client, error) {
	opts := &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.UseTLS,
		Region: cfg.Region,
	}
	tr, err := minio.DefaultTransport(cfg.UseTLS)
	if err != nil {
		return nil, fmt.Errorf("s3blob: transport: %w", err)
	}
	opts.Transport = unavailableTransport{tr}
	if cfg.WrapTransport != nil {
		opts.Transport = cfg.WrapTransport(opts.Transport)
	}
	client, err := minio.New(cfg.Endpoint, opts)
	if err != nil {
		return nil, fmt.Errorf("s3blob: client for %s: %w", cfg.Endpoint, err)
	}
	return client, nil
}

// unavailableTransport marks a request S3 never answered (refused, reset, timed out) as
// errkind.ErrUnavailable, so each protocol answers 503 while the blob store is down.
type unavailableTransport struct{ http.RoundTripper }

func (t unavailableTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.RoundTripper.RoundTrip(r)
	if err != nil && r.Context().Err() == nil {
		return nil, unavailableError{err}
	}
	return resp, err
}

// unavailableError is errkind.ErrUnavailable with the transport's error as its cause. Its
// text never says "EOF": minio-go replaces an error whose text does by a plain one, which
// would lose the kind.
type unavailableError struct{ err error }

func (e unavailableError) Error() string {
	return "unavailable: blob store: " + strings.ReplaceAll(e.err.Error(), "EOF", "end of stream")
}

func (e unavailableError) Unwrap() []error { return []error{errkind.ErrUnavailable, e.err} }

// String shows the config without the secret key.
func (c Config) String() string {
	return fmt.Sprintf("s3blob.Config{Endpoint:%q Bucket:%q AccessKey:%q SecretKey:[REDACTED] Region:%q UseTLS:%t Prefix:%q Redirect:%t PartSize:%d}",
		c.Endpoint, c.Bucket, c.AccessKey, c.Region, c.UseTLS, c.Prefix, c.Redirect, c.PartSize)
}

// GoString is String, so %#v does not show the secret key either.
func (c Config) GoString() string { return c.String() }

// LogValue logs the config without the secret key.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("endpoint", c.Endpoint), slog.String("bucket", c.Bucket),
		slog.String("prefix", c.Prefix), slog.String("region", c.Region), slog.Bool("tls", c.UseTLS),
		slog.Bool("redirect", c.Redirect))
}

var (
	_ blob.Store      = (*Store)(nil)
	_ blob.Walker     = (*Store)(nil)
	_ blob.Pinger     = (*Store)(nil)
	_ blob.Redirector = (*RedirectStore)(nil)
	_ blob.Writer     = (*writer)(nil)
)

// errFinished is returned by Write and Commit on a writer that was committed, closed or
// cancelled.
var errFinished = errors.New("s3blob: upload writer already finished")

// Store is a blob.Store and blob.Walker on an S3 bucket. It is safe for concurrent use.
type Store struct {
	client   *minio.Client
	core     minio.Core
	bucket   string
	prefix   string
	partSize int64
	bufs     sync.Pool // *[]byte of cap partSize
}

// RedirectStore is a Store that also hands out presigned GET URLs (blob.Redirector).
type RedirectStore struct{ *Store }

// New connects to the bucket, checking that it exists. It returns a *RedirectStore when
// cfg.Redirect is set, else a *Store.
func New(ctx context.Context, cfg Config) (blob.Store, error) {
	s, err := newStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Redirect {
		return &RedirectStore{s}, nil
	}
	return s, nil
}

func newStore(ctx context.Context, cfg Config) (*Store, error) {
	switch {
	case cfg.Endpoint == "" || strings.Contains(cfg.Endpoint, "://"):
		return nil, fmt.Errorf("s3blob: endpoint %q must be host[:port] without a scheme", cfg.Endpoint)
	case cfg.Bucket == "":
		return nil, errors.New("s3blob: no bucket configured")
	case cfg.PartSize != 0 && (cfg.PartSize < MinPartSize || cfg.PartSize > maxPartSize):
		return nil, fmt.Errorf("s3blob: part size %d is outside [%d, %d]", cfg.PartSize, MinPartSize, maxPartSize)
	}
	client, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	ok, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("s3blob: bucket %q at %s: %w", cfg.Bucket, cfg.Endpoint, err)
	}
	if !ok {
		return nil, fmt.Errorf("s3blob: bucket %q does not exist at %s", cfg.Bucket, cfg.Endpoint)
	}
	prefix := cfg.Prefix
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	partSize := cfg.PartSize
	if partSize == 0 {
		partSize = DefaultPartSize
	}
	s := &Store{client: client, core: minio.Core{Client: client}, bucket: cfg.Bucket, prefix: prefix, partSize: partSize}
	s.bufs.New = func() any { b := make([]byte, 0, s.partSize); return &b }
	return s, nil
}

// Ping checks that the bucket answers (blob.Pinger): one HEAD request.
func (s *Store) Ping(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("s3blob: bucket %q: %w", s.bucket, err)
	}
	if !ok {
		return fmt.Errorf("s3blob: bucket %q does not exist", s.bucket)
	}
	return nil
}

// --- keys and errors ---------------------------------------------------------------------------

func (s *Store) blobKey(d blob.Digest) string {
	return s.prefix + "blobs/" + string(d.Algorithm()) + "/" + d.Hex()
}

func (s *Store) uploadPrefix(id string) string { return s.prefix + "uploads/" + id + "/" }
func (s *Store) stateKey(id string) string     { return s.uploadPrefix(id) + "state" }
func (s *Store) partKey(id string, i int64) string {
	return fmt.Sprintf("%spart-%06d", s.uploadPrefix(id), i)
}

// isNotFound reports an S3 "no such key" (or bucket) answer.
func isNotFound(err error) bool {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		if er.Code == minio.NoSuchBucket {
			return false // a configuration error, not a missing blob
		}
		return er.StatusCode == http.StatusNotFound || er.Code == minio.NoSuchKey || er.Code == minio.NoSuchUpload
	}
	return false
}

func isInvalidRange(err error) bool {
	var er minio.ErrorResponse
	return errors.As(err, &er) && (er.Code == minio.InvalidRange || er.StatusCode == http.StatusRequestedRangeNotSatisfiable)
}

func (s *Store) getBuf() []byte { return (*s.bufs.Get().(*[]byte))[:0] }

func (s *Store) putBuf(b []byte) {
	if int64(cap(b)) == s.partSize {
		s.bufs.Put(&b)
	}
}

// --- reading -----------------------------------------------------------------------------------

// Stat returns the blob's size and modification time, or blob.ErrNotFound.
func (s *Store) Stat(ctx context.Context, d blob.Digest) (blob.Info, error) {
	if _, err := blob.ParseDigest(string(d)); err != nil {
		return blob.Info{}, err
	}
	oi, err := s.client.StatObject(ctx, s.bucket, s.blobKey(d), minio.StatObjectOptions{})
	if err != nil {
		if isNotFound(err) {
			return blob.Info{}, fmt.Errorf("%w: %s", blob.ErrNotFound, d)
		}
		return blob.Info{}, fmt.Errorf("s3blob: stat %s: %w", d, err)
	}
	return blob.Info{Digest: d, Size: oi.Size, ModTime: oi.LastModified}, nil
}

// Open starts a ranged GET from offset, or returns blob.ErrNotFound.
func (s *Store) Open(ctx context.Context, d blob.Digest, offset int64) (io.ReadCloser, error) {
	if _, err := blob.ParseDigest(string(d)); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("s3blob: open %s: negative offset %d", d, offset)
	}
	var opts minio.GetObjectOptions
	if offset > 0 {
		if err := opts.SetRange(offset, 0); err != nil {
			return nil, fmt.Errorf("s3blob: open %s: %w", d, err)
		}
	}
	body, _, _, err := s.core.GetObject(ctx, s.bucket, s.blobKey(d), opts)
	switch {
	case err == nil:
		return body, nil
	case isNotFound(err):
		return nil, fmt.Errorf("%w: %s", blob.ErrNotFound, d)
	case isInvalidRange(err):
		// S3 refuses a range that starts at the end; reading from there gives nothing.
		info, serr := s.Stat(ctx, d)
		if serr != nil {
			return nil, serr
		}
		if offset >= info.Size {
			return io.NopCloser(strings.NewReader("")), nil
		}
	}
	return nil, fmt.Errorf("s3blob: open %s at %d: %w", d, offset, err)
}

// Delete removes the blob, or returns blob.ErrNotFound.
func (s *Store) Delete(ctx context.Context, d blob.Digest) error {
	if _, err := s.Stat(ctx, d); err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.bucket, s.blobKey(d), minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("s3blob: delete %s: %w", d, err)
	}
	return nil
}

// RedirectURL returns a presigned GET URL for the blob, valid for ttl. It does not check that
// the blob exists; a URL for a missing blob answers 404.
func (s *RedirectStore) RedirectURL(ctx context.Context, d blob.Digest, ttl time.Duration) (string, error) {
	if _, err := blob.ParseDigest(string(d)); err != nil {
		return "", err
	}
	u, err := s.client.PresignedGetObject(ctx, s.bucket, s.blobKey(d), ttl, url.Values{})
	if err != nil {
		return "", fmt.Errorf("s3blob: presign %s: %w", d, err)
	}
	return u.String(), nil
}

// --- walking -----------------------------------------------------------------------------------

// Walk calls fn for every stored blob, in key order. It stops at the first error from fn or
// ctx and returns it.
func (s *Store) Walk(ctx context.Context, fn func(blob.Info) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing goroutine on an early return
	root := s.prefix + "blobs/"
	for oi := range s.client.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{Prefix: root, Recursive: true}) {
		if oi.Err != nil {
			return fmt.Errorf("s3blob: walk: %w", oi.Err)
		}
		d, err := blob.ParseDigest(strings.Replace(strings.TrimPrefix(oi.Key, root), "/", ":", 1))
		if err != nil {
			continue // not a blob
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(blob.Info{Digest: d, Size: oi.Size, ModTime: oi.LastModified}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// PurgeUploads removes uploads none of whose objects was written at or after before, and
// returns how many it removed. It also aborts the multipart uploads that Commits which died
// half-way left on blob keys (invisible, but they hold storage); those are not counted.
func (s *Store) PurgeUploads(ctx context.Context, before time.Time) (int, error) {
	root := s.prefix + "uploads/"
	last := map[string]time.Time{}
	for oi := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: root, Recursive: true}) {
		if oi.Err != nil {
			return 0, fmt.Errorf("s3blob: purge uploads: %w", oi.Err)
		}
		id, _, ok := strings.Cut(strings.TrimPrefix(oi.Key, root), "/")
		if !ok || !validID(id) {
			continue
		}
		if t, seen := last[id]; !seen || oi.LastModified.After(t) {
			last[id] = oi.LastModified
		}
	}
	n := 0
	for id, t := range last {
		if !t.Before(before) {
			continue
		}
		if err := s.abortRecorded(ctx, id); err != nil {
			return n, fmt.Errorf("s3blob: purge upload %s: abort its commit: %w", id, err)
		}
		if err := s.removePrefix(ctx, s.uploadPrefix(id)); err != nil {
			return n, fmt.Errorf("s3blob: purge upload %s: %w", id, err)
		}
		n++
	}
	// On S3 a listing by prefix also finds multipart uploads begun before their record was
	// written; MinIO lists none this way, and expires stale ones itself.
	for mu := range s.client.ListIncompleteUploads(ctx, s.bucket, s.prefix+"blobs/", true) {
		if mu.Err != nil {
			return n, fmt.Errorf("s3blob: purge uploads: list multipart uploads: %w", mu.Err)
		}
		if mu.Initiated.Before(before) {
			if err := s.core.AbortMultipartUpload(ctx, s.bucket, mu.Key, mu.UploadID); err != nil && !isNotFound(err) {
				return n, fmt.Errorf("s3blob: purge uploads: abort multipart upload: %w", err)
			}
		}
	}
	return n, nil
}

// removePrefix deletes every object under prefix.
func (s *Store) removePrefix(ctx context.Context, prefix string) error {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	keys := make(chan minio.ObjectInfo)
	listErr := make(chan error, 1)
	go func() {
		defer close(keys)
		for oi := range s.client.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
			if oi.Err != nil {
				listErr <- oi.Err
				return
			}
			select {
			case keys <- minio.ObjectInfo{Key: oi.Key}:
			case <-lctx.Done():
				listErr <- lctx.Err()
				return
			}
		}
		listErr <- nil
	}()
	var err error
	for re := range s.client.RemoveObjects(lctx, s.bucket, keys, minio.RemoveObjectsOptions{}) {
		if re.Err != nil && err == nil && !isNotFound(re.Err) {
			err = re.Err
		}
	}
	cancel() // in case RemoveObjects stopped before draining keys
	if lerr := <-listErr; err == nil {
		err = lerr
	}
	return err
}

// --- uploads -----------------------------------------------------------------------------------

// state is what Close persists: everything needed to append without re-reading the data.
type state struct {
	Size     int64  `json:"size"`
	PartSize int64  `json:"part_size"`
	SHA256   []byte `json:"sha256"` // crypto/sha256 state (encoding.BinaryMarshaler)
}

func validID(id string) bool {
	if len(id) != 2*idBytes {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Create starts a new upload under a random id. Its empty state is stored at once, so it can
// be resumed (and purged) even if it is never closed.
func (s *Store) Create(ctx context.Context) (blob.Writer, error) {
	b := make([]byte, idBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	w := s.newWriter(ctx, hex.EncodeToString(b), state{PartSize: s.partSize})
	w.h = sha256.New()
	if err := w.saveState(ctx); err != nil {
		return nil, err
	}
	return w, nil
}

// Resume reopens an upload. Bytes written after its last Close by a writer that was never
// closed are dropped, so Size is what the last Close persisted. Unknown (or malformed) ids give
// blob.ErrNotFound.
func (s *Store) Resume(ctx context.Context, id string) (blob.Writer, error) {
	if !validID(id) {
		return nil, fmt.Errorf("%w: upload %q", blob.ErrNotFound, id)
	}
	raw, err := s.getAll(ctx, s.stateKey(id))
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("%w: upload %s", blob.ErrNotFound, id)
		}
		return nil, fmt.Errorf("s3blob: resume upload %s: %w", id, err)
	}
	var st state
	if err := json.Unmarshal(raw, &st); err != nil || st.PartSize < MinPartSize || st.Size < 0 {
		return nil, fmt.Errorf("s3blob: upload %s: bad state (%v)", id, err)
	}
	w := s.newWriter(ctx, id, st)
	w.h = sha256.New()
	if err := w.h.(encoding.BinaryUnmarshaler).UnmarshalBinary(st.SHA256); err != nil {
		return nil, fmt.Errorf("s3blob: upload %s: bad hash state: %w", id, err)
	}
	// Bring the short last part back into the buffer, so parts stay full-sized.
	if tail := st.Size % st.PartSize; tail > 0 {
		w.buf = w.buf[:tail]
		if err := s.readPrefix(ctx, s.partKey(id, st.Size/st.PartSize), w.buf); err != nil {
			w.release()
			if isNotFound(err) || isInvalidRange(err) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("%w: upload %s is damaged (its last part is missing or short)", blob.ErrNotFound, id)
			}
			return nil, fmt.Errorf("s3blob: resume upload %s: %w", id, err)
		}
		w.bufStored = true
	}
	return w, nil
}

// getAll reads the whole of a small object.
func (s *Store) getAll(ctx context.Context, key string) ([]byte, error) {
	body, _, _, err := s.core.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, err
	}
	defer body.Close()
	return io.ReadAll(body)
}

// readPrefix fills dst with the first len(dst) bytes of key (io.ErrUnexpectedEOF if it is
// shorter).
func (s *Store) readPrefix(ctx context.Context, key string, dst []byte) error {
	if len(dst) == 0 {
		return nil
	}
	var opts minio.GetObjectOptions
	if err := opts.SetRange(0, int64(len(dst))-1); err != nil {
		return err
	}
	body, _, _, err := s.core.GetObject(ctx, s.bucket, key, opts)
	if err != nil {
		return err
	}
	defer body.Close()
	if _, err := io.ReadFull(body, dst); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	return nil
}

func (s *Store) newWriter(ctx context.Context, id string, st state) *writer {
	w := &writer{s: s, id: id, partSize: st.PartSize, size: st.Size, bg: context.WithoutCancel(ctx),
		sem: make(chan struct{}, maxInflight)}
	if st.PartSize == s.partSize {
		w.buf = s.getBuf()
	} else {
		w.buf = make([]byte, 0, st.PartSize)
	}
	return w
}

// writer is an upload in progress. It is not safe for concurrent use.
type writer struct {
	s        *Store
	id       string
	partSize int64
	size     int64     // bytes written, including buf
	h        hash.Hash // SHA-256 of everything written; other algorithms re-read on Commit
	buf      []byte    // the last part's bytes so far: part (size-len(buf))/partSize
	// bufStored: the part object already holds buf (Resume loaded it, or Close stored it).
	bufStored bool
	done      bool

	bg       context.Context // the Create/Resume context without its cancellation
	sem      chan struct{}   // full parts uploading in the background
	wg       sync.WaitGroup
	mu       sync.Mutex
	asyncErr error // first error of a background upload
}

func (w *writer) ID() string  { return w.id }
func (w *writer) Size() int64 { return w.size }

func (w *writer) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.asyncErr
}

func (w *writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, errFinished
	}
	if err := w.failed(); err != nil {
		return 0, err
	}
	written := 0
	for len(p) > 0 {
		k := min(int64(len(p)), w.partSize-int64(len(w.buf)))
		w.buf = append(w.buf, p[:k]...)
		w.h.Write(p[:k])
		w.size += k
		w.bufStored = false
		written += int(k)
		p = p[k:]
		if int64(len(w.buf)) == w.partSize {
			w.uploadFull()
		}
	}
	return written, nil
}

// uploadFull hands the full buffer to a background upload and starts a fresh one. It blocks
// while maxInflight uploads are under way.
func (w *writer) uploadFull() {
	part := (w.size - int64(len(w.buf))) / w.partSize
	data := w.buf
	w.buf = w.s.getBuf()
	if int64(cap(w.buf)) != w.partSize {
		w.buf = make([]byte, 0, w.partSize)
	}
	w.sem <- struct{}{}
	w.wg.Go(func() {
		defer func() { <-w.sem }()
		ctx, cancel := context.WithTimeout(w.bg, opTimeout)
		defer cancel()
		err := w.putPart(ctx, part, data)
		w.s.putBuf(data)
		if err != nil {
			w.mu.Lock()
			if w.asyncErr == nil {
				w.asyncErr = err
			}
			w.mu.Unlock()
		}
	})
}

func (w *writer) putPart(ctx context.Context, part int64, data []byte) error {
	_, err := w.s.client.PutObject(ctx, w.s.bucket, w.s.partKey(w.id, part), bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{DisableMultipart: true, ContentType: "application/octet-stream"})
	if err != nil {
		return fmt.Errorf("s3blob: upload %s: store part %d: %w", w.id, part, err)
	}
	return nil
}

// settle waits for the background uploads and returns the first error.
func (w *writer) settle() error {
	w.wg.Wait()
	return w.failed()
}

// storeTail stores the short last part unless its object already holds it.
func (w *writer) storeTail(ctx context.Context) error {
	if len(w.buf) == 0 || w.bufStored {
		return nil
	}
	if err := w.putPart(ctx, (w.size-int64(len(w.buf)))/w.partSize, w.buf); err != nil {
		return err
	}
	w.bufStored = true
	return nil
}

func (w *writer) saveState(ctx context.Context) error {
	hs, err := w.h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return fmt.Errorf("s3blob: upload %s: marshal hash: %w", w.id, err)
	}
	raw, err := json.Marshal(state{Size: w.size, PartSize: w.partSize, SHA256: hs})
	if err != nil {
		return fmt.Errorf("s3blob: upload %s: %w", w.id, err)
	}
	_, err = w.s.client.PutObject(ctx, w.s.bucket, w.s.stateKey(w.id), bytes.NewReader(raw), int64(len(raw)),
		minio.PutObjectOptions{DisableMultipart: true, ContentType: "application/json"})
	if err != nil {
		return fmt.Errorf("s3blob: upload %s: save state: %w", w.id, err)
	}
	return nil
}

// release returns the buffer to the pool once the writer is finished.
func (w *writer) release() {
	w.s.putBuf(w.buf)
	w.buf = nil
}

// Close suspends the upload: it stores the pending parts and then the state for Resume. If a
// part could not be stored, the state is left as the last Close saved it.
func (w *writer) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	defer w.release()
	if err := w.settle(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(w.bg, opTimeout)
	defer cancel()
	if err := w.storeTail(ctx); err != nil {
		return err
	}
	return w.saveState(ctx)
}

// Cancel discards the upload. On a finished writer it does nothing.
func (w *writer) Cancel(ctx context.Context) error {
	if w.done {
		return nil
	}
	w.done = true
	defer w.release()
	_ = w.settle() // the parts are being discarded anyway
	if err := w.s.removePrefix(ctx, w.s.uploadPrefix(w.id)); err != nil {
		return fmt.Errorf("s3blob: cancel upload %s: %w", w.id, err)
	}
	return nil
}

// parts is the number of parts the upload spans.
func (w *writer) parts() int64 { return (w.size + w.partSize - 1) / w.partSize }

// partLen is the length of part i.
func (w *writer) partLen(i int64) int64 { return min(w.partSize, w.size-i*w.partSize) }

// tailInBuf reports whether the buffer holds the whole last part.
func (w *writer) tailInBuf() bool {
	return len(w.buf) > 0 && int64(len(w.buf)) == w.partLen(w.parts()-1)
}

// Commit verifies the digest and assembles the final object. If the blob already exists the
// stored copy is kept and the upload dropped. On failure the upload is left as it was.
func (w *writer) Commit(ctx context.Context, expected blob.Digest) (blob.Info, error) {
	if w.done {
		return blob.Info{}, errFinished
	}
	if _, err := blob.ParseDigest(string(expected)); err != nil {
		return blob.Info{}, err
	}
	if err := w.settle(); err != nil {
		return blob.Info{}, err
	}
	actual, err := w.digest(ctx, expected.Algorithm())
	if err != nil {
		return blob.Info{}, err
	}
	if actual != expected {
		return blob.Info{}, fmt.Errorf("%w: upload %s has %s, expected %s", blob.ErrDigestMismatch, w.id, actual, expected)
	}

	// A stored copy found by the first Stat may be deleted (by garbage collection) before the
	// second: then the upload, still whole, is assembled after all.
	var info blob.Info
	for assembled := false; ; {
		info, err = w.s.Stat(ctx, expected)
		if err == nil {
			break
		}
		if !errors.Is(err, blob.ErrNotFound) || assembled {
			return blob.Info{}, fmt.Errorf("s3blob: commit %s: %w", expected, err)
		}
		if err := w.assemble(ctx, w.s.blobKey(expected)); err != nil {
			return blob.Info{}, fmt.Errorf("s3blob: commit %s: %w", expected, err)
		}
		assembled = true
	}
	w.done = true
	w.release()
	// The blob is committed; an upload left behind by a failed clean-up is purged later.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	defer cancel()
	_ = w.s.removePrefix(cctx, w.s.uploadPrefix(w.id))
	return info, nil
}

// digest returns the digest of the upload under alg: SHA-256 from the running hash, others
// by reading the parts back (rare: OCI clients use SHA-256).
func (w *writer) digest(ctx context.Context, alg blob.Algorithm) (blob.Digest, error) {
	if alg == blob.SHA256 {
		return blob.FromHash(alg, w.h), nil
	}
	h := alg.New()
	n := w.parts()
	var data []byte
	for i := range n {
		if i == n-1 && w.tailInBuf() {
			h.Write(w.buf)
			break
		}
		if data == nil {
			data = make([]byte, w.partSize)
		}
		part := data[:w.partLen(i)]
		if err := w.s.readPrefix(ctx, w.s.partKey(w.id, i), part); err != nil {
			return "", fmt.Errorf("s3blob: hash upload %s: part %d: %w", w.id, i, err)
		}
		h.Write(part)
	}
	return blob.FromHash(alg, h), nil
}

// assemble writes the upload's bytes to key: one PUT when they are all in memory, else a
// multipart upload of server-side part copies (and the in-memory last part).
func (w *writer) assemble(ctx context.Context, key string) error {
	c := w.s.core
	if w.parts() <= 1 && (w.size == 0 || w.tailInBuf()) {
		_, err := w.s.client.PutObject(ctx, w.s.bucket, key, bytes.NewReader(w.buf), int64(len(w.buf)),
			minio.PutObjectOptions{DisableMultipart: true, ContentType: "application/octet-stream"})
		return err
	}
	uploadID, err := w.beginMultipart(ctx, key)
	if err != nil {
		return err
	}
	parts, err := w.copyParts(ctx, key, uploadID)
	if err == nil {
		_, err = c.CompleteMultipartUpload(ctx, w.s.bucket, key, uploadID, parts, minio.PutObjectOptions{})
	}
	if err != nil {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_ = c.AbortMultipartUpload(actx, w.s.bucket, key, uploadID)
		return err
	}
	return nil
}

// multipart records the multipart upload a Commit is assembling, in the upload's own
// objects, so PurgeUploads can abort it if the process dies before it completes. (S3 can list
// multipart uploads by prefix, but MinIO lists them only by exact key.)
type multipart struct {
	Key      string `json:"key"`
	UploadID string `json:"upload_id"`
}

func (s *Store) multipartKey(id string) string { return s.uploadPrefix(id) + "multipart" }

// beginMultipart starts the multipart upload of key and records it.
func (w *writer) beginMultipart(ctx context.Context, key string) (string, error) {
	uploadID, err := w.s.core.NewMultipartUpload(ctx, w.s.bucket, key, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return "", err
	}
	raw, _ := json.Marshal(multipart{Key: key, UploadID: uploadID})
	_, err = w.s.client.PutObject(ctx, w.s.bucket, w.s.multipartKey(w.id), bytes.NewReader(raw), int64(len(raw)),
		minio.PutObjectOptions{DisableMultipart: true, ContentType: "application/json"})
	if err != nil {
		_ = w.s.core.AbortMultipartUpload(context.WithoutCancel(ctx), w.s.bucket, key, uploadID)
		return "", err
	}
	return uploadID, nil
}

// abortRecorded aborts the multipart upload a dead Commit of upload id left, if any.
func (s *Store) abortRecorded(ctx context.Context, id string) error {
	raw, err := s.getAll(ctx, s.multipartKey(id))
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var mp multipart
	if json.Unmarshal(raw, &mp) != nil || !strings.HasPrefix(mp.Key, s.prefix+"blobs/") {
		return nil // not ours to abort
	}
	if err := s.core.AbortMultipartUpload(ctx, s.bucket, mp.Key, mp.UploadID); err != nil && !isNotFound(err) {
		return err
	}
	return nil
}

// copyParts fills multipart upload uploadID with the upload's parts, copyWorkers at a time.
func (w *writer) copyParts(ctx context.Context, key, uploadID string) ([]minio.CompletePart, error) {
	n := w.parts()
	out := make([]minio.CompletePart, n)
	errs := make([]error, n)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int64)
	var wg sync.WaitGroup
	for range min(copyWorkers, n) {
		wg.Go(func() {
			for i := range next {
				partNum := int(i + 1)
				if i == n-1 && w.tailInBuf() {
					p, err := w.s.core.PutObjectPart(ctx, w.s.bucket, key, uploadID, partNum,
						bytes.NewReader(w.buf), int64(len(w.buf)), minio.PutObjectPartOptions{})
					out[i], errs[i] = minio.CompletePart{PartNumber: partNum, ETag: p.ETag}, err
				} else {
					out[i], errs[i] = w.s.core.CopyObjectPart(ctx, w.s.bucket, w.s.partKey(w.id, i), w.s.bucket, key,
						uploadID, partNum, 0, w.partLen(i), nil)
				}
				if errs[i] != nil {
					cancel()
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
