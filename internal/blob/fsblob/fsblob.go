// Package fsblob stores blobs on a local disk.
//
// Layout under the root directory:
//
//	blobs/<alg>/<first 2 hex>/<hex>   committed blobs, named by digest
//	uploads/<id>/data                 the bytes of an upload in progress
//	uploads/<id>/state                its size and serialized SHA-256 state, saved by Close
//
// Commit fsyncs the data, verifies the digest and renames the file into place, so a blob is
// either absent or complete, also after a crash. Several processes may share a root: every
// change is a create of a fresh random name or a rename.
//
// SHA-256 is hashed as bytes arrive and its state saved with the upload; a Commit under another
// algorithm (sha512, rare) reads the data back to hash it.
package fsblob

import (
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
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
)

const (
	blobsDir   = "blobs"
	uploadsDir = "uploads"
	dataFile   = "data"
	stateFile  = "state"

	dirPerm  = 0o700
	filePerm = 0o600

	idBytes = 16 // upload ids: 128 random bits, hex-encoded
)

var (
	_ blob.Store  = (*Store)(nil)
	_ blob.Walker = (*Store)(nil)
	_ blob.Pinger = (*Store)(nil)
	_ blob.Writer = (*writer)(nil)
)

// errFinished is returned by Write and Commit on a writer that was committed, closed or
// cancelled.
var errFinished = errors.New("fsblob: upload writer already finished")

// Store is a blob.Store (and blob.Walker) on a local directory. It is safe for concurrent use,
// also by several processes sharing the directory.
type Store struct {
	root string
}

// New opens (creating if needed) a store rooted at dir.
func New(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("fsblob: %w", err)
	}
	for _, d := range []string{filepath.Join(abs, blobsDir), filepath.Join(abs, uploadsDir)} {
		if err := os.MkdirAll(d, dirPerm); err != nil {
			return nil, fmt.Errorf("fsblob: create %s: %w", d, err)
		}
	}
	return &Store{root: abs}, nil
}

// Ping checks that the store's directory is there (blob.Pinger): a shared filesystem that
// went away fails the stat.
func (s *Store) Ping(context.Context) error {
	if _, err := os.Stat(filepath.Join(s.root, blobsDir)); err != nil {
		return fmt.Errorf("fsblob: %w", err)
	}
	return nil
}

// blobPath is where d lives. d must be valid (parsed).
func (s *Store) blobPath(d blob.Digest) string {
	hx := d.Hex()
	return filepath.Join(s.root, blobsDir, string(d.Algorithm()), hx[:2], hx)
}

func (s *Store) uploadDir(id string) string { return filepath.Join(s.root, uploadsDir, id) }

// Stat returns the blob's size and modification time, or blob.ErrNotFound.
func (s *Store) Stat(_ context.Context, d blob.Digest) (blob.Info, error) {
	if _, err := blob.ParseDigest(string(d)); err != nil {
		return blob.Info{}, err
	}
	fi, err := os.Stat(s.blobPath(d))
	if err != nil {
		return blob.Info{}, notFound(err, d)
	}
	return blob.Info{Digest: d, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Open returns the blob's file seeked to offset, or blob.ErrNotFound.
func (s *Store) Open(_ context.Context, d blob.Digest, offset int64) (io.ReadCloser, error) {
	if _, err := blob.ParseDigest(string(d)); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("fsblob: open %s: negative offset %d", d, offset)
	}
	f, err := os.Open(s.blobPath(d))
	if err != nil {
		return nil, notFound(err, d)
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("fsblob: open %s at %d: %w", d, offset, err)
	}
	return f, nil
}

// Delete removes the blob, or returns blob.ErrNotFound.
func (s *Store) Delete(_ context.Context, d blob.Digest) error {
	if _, err := blob.ParseDigest(string(d)); err != nil {
		return err
	}
	if err := os.Remove(s.blobPath(d)); err != nil {
		return notFound(err, d)
	}
	return nil
}

func notFound(err error, d blob.Digest) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", blob.ErrNotFound, d)
	}
	return fmt.Errorf("fsblob: %s: %w", d, err)
}

// Create starts a new upload under a random id.
func (s *Store) Create(_ context.Context) (blob.Writer, error) {
	id, dir, err := s.mkUploadDir()
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, dataFile), os.O_RDWR|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("fsblob: create upload: %w", err)
	}
	w := &writer{s: s, id: id, dir: dir, f: f, h: sha256.New()}
	// Persist the empty state at once, so the upload can be resumed even if it is never closed.
	if err := w.saveState(); err != nil {
		f.Close()
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return w, nil
}

func (s *Store) mkUploadDir() (id, dir string, err error) {
	for range 3 {
		b := make([]byte, idBytes)
		_, _ = rand.Read(b) // crypto/rand.Read never fails
		id = hex.EncodeToString(b)
		dir = s.uploadDir(id)
		err = os.Mkdir(dir, dirPerm)
		if err == nil {
			return id, dir, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	return "", "", fmt.Errorf("fsblob: create upload: %w", err)
}

// validID reports whether id has the form Create gives, so it is safe as a path element.
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

// state is what Close persists: everything needed to append without re-reading the data.
type state struct {
	Size   int64  `json:"size"`
	SHA256 []byte `json:"sha256"` // crypto/sha256 state (encoding.BinaryMarshaler)
}

// Resume reopens an upload. Bytes written after its last Close by a writer that was never
// closed are dropped, so Size is what the last Close persisted. Unknown (or malformed) ids
// give blob.ErrNotFound.
func (s *Store) Resume(_ context.Context, id string) (blob.Writer, error) {
	if !validID(id) {
		return nil, fmt.Errorf("%w: upload %q", blob.ErrNotFound, id)
	}
	dir := s.uploadDir(id)
	raw, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, uploadNotFound(err, id)
	}
	var st state
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("fsblob: upload %s: bad state: %w", id, err)
	}
	h := sha256.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(st.SHA256); err != nil {
		return nil, fmt.Errorf("fsblob: upload %s: bad hash state: %w", id, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, dataFile), os.O_RDWR, 0)
	if err != nil {
		return nil, uploadNotFound(err, id)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("fsblob: upload %s: %w", id, err)
	}
	switch {
	case fi.Size() < st.Size:
		// Close fsyncs before saving the state, so this is damage, not a crash; the client
		// must start over.
		f.Close()
		return nil, fmt.Errorf("%w: upload %s is damaged (%d bytes on disk, %d recorded)",
			blob.ErrNotFound, id, fi.Size(), st.Size)
	case fi.Size() > st.Size:
		if err := f.Truncate(st.Size); err != nil {
			f.Close()
			return nil, fmt.Errorf("fsblob: upload %s: %w", id, err)
		}
	}
	if _, err := f.Seek(st.Size, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("fsblob: upload %s: %w", id, err)
	}
	return &writer{s: s, id: id, dir: dir, f: f, h: h, size: st.Size}, nil
}

func uploadNotFound(err error, id string) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: upload %s", blob.ErrNotFound, id)
	}
	return fmt.Errorf("fsblob: upload %s: %w", id, err)
}

// writer is an upload in progress. It is not safe for concurrent use.
type writer struct {
	s    *Store
	id   string
	dir  string
	f    *os.File
	h    hash.Hash // SHA-256 of everything written; other algorithms re-read on Commit
	size int64
	done bool
}

func (w *writer) ID() string  { return w.id }
func (w *writer) Size() int64 { return w.size }

func (w *writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, errFinished
	}
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.size += int64(n)
	if err != nil {
		return n, fmt.Errorf("fsblob: upload %s: %w", w.id, err)
	}
	return n, nil
}

// saveState writes the state atomically (temp file, fsync, rename).
func (w *writer) saveState() error {
	hs, err := w.h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return fmt.Errorf("fsblob: upload %s: marshal hash: %w", w.id, err)
	}
	raw, err := json.Marshal(state{Size: w.size, SHA256: hs})
	if err != nil {
		return fmt.Errorf("fsblob: upload %s: %w", w.id, err)
	}
	tmp, err := os.CreateTemp(w.dir, stateFile+"-*.tmp")
	if err != nil {
		return uploadNotFound(err, w.id)
	}
	_, err = tmp.Write(raw)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(w.dir, stateFile))
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("fsblob: upload %s: save state: %w", w.id, err)
	}
	return nil
}

// Close suspends the upload: the data is fsynced and the size and hash state saved for Resume.
func (w *writer) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	err := w.f.Sync()
	if err == nil {
		err = w.saveState()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsblob: suspend upload %s: %w", w.id, err)
	}
	return nil
}

// Cancel discards the upload. On a finished writer it does nothing.
func (w *writer) Cancel(_ context.Context) error {
	if w.done {
		return nil
	}
	w.done = true
	w.f.Close()
	if err := os.RemoveAll(w.dir); err != nil {
		return fmt.Errorf("fsblob: cancel upload %s: %w", w.id, err)
	}
	return nil
}

// Commit verifies the digest and renames the data into place. If the blob already exists the
// stored copy is kept and the upload dropped. On failure the upload is left as it was.
func (w *writer) Commit(ctx context.Context, expected blob.Digest) (blob.Info, error) {
	if w.done {
		return blob.Info{}, errFinished
	}
	if _, err := blob.ParseDigest(string(expected)); err != nil {
		return blob.Info{}, err
	}
	if err := w.f.Sync(); err != nil {
		return blob.Info{}, fmt.Errorf("fsblob: commit upload %s: %w", w.id, err)
	}
	actual, err := w.digest(ctx, expected.Algorithm())
	if err != nil {
		return blob.Info{}, err
	}
	if actual != expected {
		return blob.Info{}, fmt.Errorf("%w: upload %s has %s, expected %s", blob.ErrDigestMismatch, w.id, actual, expected)
	}

	dst := w.s.blobPath(expected)
	// One Stat decides: a stored copy is kept; without one (none yet, or garbage collection
	// deleted it a moment ago) the upload becomes the blob.
	fi, err := os.Stat(dst)
	if errors.Is(err, fs.ErrNotExist) {
		if err := ensureDir(filepath.Dir(dst)); err != nil {
			return blob.Info{}, fmt.Errorf("fsblob: commit %s: %w", expected, err)
		}
		// The blob's time is its commit time, not the upload's last write.
		now := time.Now()
		_ = os.Chtimes(filepath.Join(w.dir, dataFile), now, now)
		// If another upload of the same digest won the race, this replaces identical bytes.
		if err := os.Rename(filepath.Join(w.dir, dataFile), dst); err != nil {
			return blob.Info{}, fmt.Errorf("fsblob: commit %s: %w", expected, err)
		}
		if err := syncDir(filepath.Dir(dst)); err != nil {
			return blob.Info{}, fmt.Errorf("fsblob: commit %s: %w", expected, err)
		}
		// The renamed file is ours until the caller links it; its descriptor still reads it.
		fi, err = w.f.Stat()
	}
	if err != nil {
		return blob.Info{}, fmt.Errorf("fsblob: commit %s: %w", expected, err)
	}
	w.done = true
	w.f.Close()
	_ = os.RemoveAll(w.dir)
	return blob.Info{Digest: expected, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// digest returns the digest of the upload under alg: SHA-256 from the running hash, others
// by re-reading the data (rare: OCI clients use SHA-256).
func (w *writer) digest(ctx context.Context, alg blob.Algorithm) (blob.Digest, error) {
	if alg == blob.SHA256 {
		return blob.FromHash(alg, w.h), nil
	}
	h := alg.New()
	if _, err := io.Copy(h, &ctxReader{ctx: ctx, r: io.NewSectionReader(w.f, 0, w.size)}); err != nil {
		return "", fmt.Errorf("fsblob: hash upload %s: %w", w.id, err)
	}
	return blob.FromHash(alg, h), nil
}

// ctxReader stops a long read when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// ensureDir creates dir (and its parent) if needed and fsyncs the parents of what it created,
// so the new directory entries survive a crash.
func ensureDir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	parent := filepath.Dir(dir)
	if _, err := os.Stat(parent); err != nil {
		if err := os.MkdirAll(parent, dirPerm); err != nil {
			return err
		}
		if err := syncDir(filepath.Dir(parent)); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, dirPerm); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(parent)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Walk calls fn for every stored blob, in digest order within each algorithm. It stops at the
// first error from fn or ctx and returns it.
func (s *Store) Walk(ctx context.Context, fn func(blob.Info) error) error {
	for _, alg := range []blob.Algorithm{blob.SHA256, blob.SHA512} {
		algDir := filepath.Join(s.root, blobsDir, string(alg))
		shards, err := os.ReadDir(algDir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("fsblob: walk: %w", err)
		}
		for _, shard := range shards {
			if !shard.IsDir() || len(shard.Name()) != 2 {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			entries, err := os.ReadDir(filepath.Join(algDir, shard.Name()))
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return fmt.Errorf("fsblob: walk: %w", err)
			}
			for _, e := range entries {
				d, err := blob.ParseDigest(string(alg) + ":" + e.Name())
				if err != nil || !e.Type().IsRegular() || d.Hex()[:2] != shard.Name() {
					continue // not a blob (a stray file)
				}
				fi, err := e.Info()
				if err != nil {
					if errors.Is(err, fs.ErrNotExist) {
						continue // deleted meanwhile
					}
					return fmt.Errorf("fsblob: walk: %w", err)
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := fn(blob.Info{Digest: d, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// PurgeUploads removes uploads whose last write (or Close) was before before, and returns how
// many it removed.
func (s *Store) PurgeUploads(ctx context.Context, before time.Time) (int, error) {
	entries, err := os.ReadDir(filepath.Join(s.root, uploadsDir))
	if err != nil {
		return 0, fmt.Errorf("fsblob: purge uploads: %w", err)
	}
	n := 0
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if !e.IsDir() || !validID(e.Name()) {
			continue
		}
		dir := s.uploadDir(e.Name())
		last, err := lastWrite(dir)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // committed or cancelled meanwhile
			}
			return n, fmt.Errorf("fsblob: purge uploads: %w", err)
		}
		if !last.Before(before) {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			return n, fmt.Errorf("fsblob: purge upload %s: %w", e.Name(), err)
		}
		n++
	}
	return n, nil
}

// lastWrite is the latest modification time of an upload directory and its files.
func lastWrite(dir string) (time.Time, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return time.Time{}, err
	}
	last := fi.ModTime()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return time.Time{}, err
	}
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && fi.ModTime().After(last) {
			last = fi.ModTime()
		}
	}
	return last, nil
}
