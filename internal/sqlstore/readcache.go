package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// readCache keeps the rows that every authenticated package, registry and Git request reads
// (a deploy token by digest, a project, a package and its version) between two changes to the
// database, and drops all of them at the first change. bench/run's CPU profiles showed these
// reads to be most of the cost of a small package download.
//
// A change is any commit by any connection or process (the server's own pool, `gatehouse
// token revoke`, a hand-run sqlite3). SQLite announces every commit in WAL mode in the
// wal-index header at the start of the database's "-shm" file, which all connections map
// (https://sqlite.org/walformat.html): the commit rewrites both copies of the header, and its
// iChange counter moves. Every cached read compares the header with the one its entries were
// loaded under, so a read never returns a row older than the last commit before it began: a
// revoked token is refused on its next request, as without the cache. Time-dependent rules
// (expiry, rotation grace) are decided by the callers on every request from the cached row,
// never cached themselves.
//
// Only SQLite uses it. PostgreSQL may be shared by several Gatehouse processes, and learning of
// another process's commit would cost a round trip, which is what the cached query costs.
type readCache struct {
	// hold keeps one connection open for the store's life: SQLite removes the -shm file when
	// its last connection closes, and a new one would not be the file mapped here.
	hold *sql.DB
	shm  *walIndex // nil when the -shm file could not be opened
	// off: the wal-index is not usable, and every read goes to the database.
	off bool
	// check: every hit checks that no caller changed the shared value (checkShared).
	check bool

	mu      sync.Mutex
	version walHeader // header the entries were loaded under
	entries map[cacheKey]any
}

// walHeader is the 48-byte wal-index header, read as words.
type walHeader [6]uint64

// maxCacheEntries bounds the cache; at the bound it is emptied and refilled (only rows that
// exist are cached, so the bound is reached by real data, never by guessed keys).
const maxCacheEntries = 16384

// cacheKey names one cached read: the query kind and its arguments (two strings, so that no
// key is put together by concatenation on a read).
type cacheKey struct {
	kind        string
	id          int64
	text, text2 string
}

// openReadCache maps the wal-index of the SQLite database at path, through a connection
// opened with dsn. The cache is off (every read goes to the database) where the wal-index
// cannot be mapped or is not proven to be the one SQLite updates.
func openReadCache(ctx context.Context, dsn, path string) (*readCache, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	c := &readCache{hold: db, off: true, check: checkShared(), entries: map[cacheKey]any{}}
	// A read creates the -wal and -shm files if this is the first connection.
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		db.Close()
		return nil, fmt.Errorf("open the read cache: %w", err)
	}
	if mode != "wal" {
		return c, nil
	}
	// SQLite names the -shm file after the database's path with symbolic links resolved.
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	c.shm, err = mapWALIndex(path + "-shm")
	c.off = err != nil || !c.verify(ctx)
	return c, nil
}

// verify proves that the mapped header is the one SQLite updates: it commits a change (writing
// user_version, which Gatehouse does not use, back unchanged) and checks that the header moved.
func (c *readCache) verify(ctx context.Context) bool {
	before, ok := c.current()
	if !ok {
		return false
	}
	var v int64
	if err := c.hold.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return false
	}
	if _, err := c.hold.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, v)); err != nil {
		return false
	}
	after, ok := c.current()
	return ok && after != before
}

// close closes the held connection, then the mapping. The store closes its pool first: the
// mapping's file descriptor must outlive every SQLite connection of the process, because
// closing a descriptor drops the process's POSIX locks on that file, SQLite's among them.
func (c *readCache) close() error {
	if c == nil {
		return nil
	}
	err := c.hold.Close()
	if c.shm != nil {
		err = errors.Join(err, c.shm.close())
	}
	return err
}

// current returns the wal-index header now, or ok=false when no consistent header could be
// read (a commit rewriting it each time; the caller then reads the database directly). It
// reads the two copies in the order SQLite's readers do; a writer writes them in the other
// order, so equal copies are a header no commit is halfway through.
func (c *readCache) current() (walHeader, bool) {
	for range 4 {
		var a, b walHeader
		for i := range a {
			a[i] = c.shm.word(i)
		}
		for i := range b {
			b[i] = c.shm.word(len(a) + i)
		}
		if a == b {
			// isInit, byte 12 of the header: zero until a connection has built the wal-index.
			return a, (*[48]byte)(unsafe.Pointer(&a))[12] != 0
		}
	}
	return walHeader{}, false
}

// cached returns the value cached under key if the database has not changed since it was
// loaded; otherwise it calls load and caches what load returns without error.
//
// The value is shared, not copied: every caller until the next change gets the same pointer, so
// callers must treat it, and everything it points to, as read-only (the stores' methods that
// read through the cache say so). Copies of the four cached kinds were nine of the allocations
// of every authenticated package download. Under go test, clone keeps a private copy of each
// value cached and every hit first checks that the shared value still equals it (checkShared):
// a caller that writes to a cached value fails the next test that reads it again.
func cached[T any](c *readCache, key cacheKey, clone func(*T) *T, load func() (*T, error)) (*T, error) {
	if c == nil || c.off {
		return load()
	}
	v, ok := c.current()
	if !ok {
		return load()
	}
	c.mu.Lock()
	if v != c.version {
		clear(c.entries)
		c.version = v
	}
	e, hit := c.entries[key]
	c.mu.Unlock()
	if hit {
		if c.check {
			return e.(checkedEntry[T]).verify(key)
		}
		return e.(*T), nil
	}
	// Loaded after v was read, so the row is at least as new as v: caching it under v is safe.
	// A commit in between changes the header, and the next read drops it.
	val, err := load()
	if err != nil {
		return nil, err
	}
	var entry any = val
	if c.check {
		entry = checkedEntry[T]{shared: val, original: clone(val)}
	}
	c.mu.Lock()
	if c.version == v {
		if len(c.entries) >= maxCacheEntries {
			clear(c.entries)
		}
		c.entries[key] = entry
	}
	c.mu.Unlock()
	return val, nil
}

// checkShared reports whether a read cache opened now checks, on every hit, that no caller
// changed a shared value: under go test, but not in a benchmark run (-test.bench), whose
// figures the check would distort.
func checkShared() bool {
	if !testing.Testing() {
		return false
	}
	f := flag.Lookup("test.bench")
	return f == nil || f.Value.String() == ""
}

// checkedEntry is a cached value with the copy it must still equal (checkShared).
type checkedEntry[T any] struct {
	shared, original *T
}

// verify returns the shared value, or panics if a caller has changed it: a bug that would make
// other requests see that caller's change.
func (e checkedEntry[T]) verify(key cacheKey) (*T, error) {
	if !reflect.DeepEqual(e.shared, e.original) {
		// The values are not printed: a token's carries its digests.
		panic(fmt.Sprintf("sqlstore: a caller changed the cached %s it was given (cached values are read-only)", key.kind))
	}
	return e.shared, nil
}

// The clones are deep copies, for checkShared's private copy.

func cloneTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

func cloneDeployToken(t *token.DeployToken) *token.DeployToken {
	c := *t
	c.Scopes = slices.Clone(t.Scopes)
	c.ExpiresAt, c.LastUsedAt, c.PreviousValidUntil = cloneTime(t.ExpiresAt), cloneTime(t.LastUsedAt), cloneTime(t.PreviousValidUntil)
	c.Digest, c.SealedSecret, c.PreviousDigest = slices.Clone(t.Digest), slices.Clone(t.SealedSecret), slices.Clone(t.PreviousDigest)
	c.AllowedIPs = slices.Clone(t.AllowedIPs)
	return &c
}

func cloneProject(p *namespace.Project) *namespace.Project {
	c := *p
	c.GroupAncestry = slices.Clone(p.GroupAncestry)
	return &c
}

func clonePackage(p *packages.Package) *packages.Package {
	c := *p
	return &c
}

func cloneVersion(v *packages.Version) *packages.Version {
	c := *v
	c.Metadata = slices.Clone(v.Metadata)
	c.Files = slices.Clone(v.Files)
	return &c
}
