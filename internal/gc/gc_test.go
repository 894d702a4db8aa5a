package gc_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/blob/fsblob"
	"github.com/gatehouse-dev/gatehouse/internal/blob/s3blob"
	"github.com/gatehouse-dev/gatehouse/internal/gc"
	"github.com/gatehouse-dev/gatehouse/internal/registry"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

var _ registry.BlobFence = (*gc.Fence)(nil)

var quiet = slog.New(slog.DiscardHandler)

// refSet is a gc.Referencer over an in-memory set; with check it is also a Checker.
type refSet struct {
	mu    sync.Mutex
	set   map[string]bool
	fail  error
	scans atomic.Int32
}

func (r *refSet) add(d blob.Digest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.set[string(d)] = true
}

func (r *refSet) ReferencedBlobs(ctx context.Context, fn func(string) error) error {
	r.scans.Add(1)
	r.mu.Lock()
	ds := make([]string, 0, len(r.set))
	for d := range r.set {
		ds = append(ds, d)
	}
	err := r.fail
	r.mu.Unlock()
	if err != nil {
		return err
	}
	for _, d := range ds {
		if err := fn(d); err != nil {
			return err
		}
	}
	return nil
}

type checkingRefSet struct{ *refSet }

func (r checkingRefSet) ReferencedAmong(_ context.Context, ds []string) (map[string]bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]bool{}
	for _, d := range ds {
		if r.set[d] {
			out[d] = true
		}
	}
	return out, nil
}

// clock is a settable clock.
type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// env is one collector over a real metadata store and a real blob store.
type env struct {
	t     *testing.T
	ctx   context.Context
	store *sqlstore.Stores
	blobs blob.Store
	refs  *refSet
	clock *clock
	c     *gc.Collector
	fence *gc.Fence
}

const (
	testGrace = time.Hour
	testTTL   = time.Hour
)

func newEnv(t *testing.T, blobs blob.Store, checker bool) *env {
	t.Helper()
	db, err := sqlstore.Open(t.Context(), filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	store := sqlstore.New(db)
	t.Cleanup(func() { store.Close() })
	if _, err := store.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: t.Context(), store: store, blobs: blobs, refs: &refSet{set: map[string]bool{}}, clock: &clock{}}
	e.clock.set(time.Now())
	var r gc.Referencer = e.refs
	if checker {
		r = checkingRefSet{e.refs}
	}
	e.c, err = gc.New(gc.Config{Blobs: blobs, Store: store.GC, Referencers: map[string]gc.Referencer{"test": r},
		Grace: testGrace, UploadTTL: testTTL, Holder: "node-a", Now: e.clock.Now, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	e.fence = &gc.Fence{Deletions: store.GC, Blobs: blobs, Now: e.clock.Now, Poll: 10 * time.Millisecond}
	return e
}

// put stores random bytes as a blob.
func (e *env) put() blob.Info {
	e.t.Helper()
	b := make([]byte, 1000)
	_, _ = rand.Read(b)
	d := blob.FromBytes(blob.SHA256, b)
	w, err := e.blobs.Create(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		e.t.Fatal(err)
	}
	info, err := w.Commit(e.ctx, d)
	if err != nil {
		e.t.Fatal(err)
	}
	return info
}

// upload starts an upload with some bytes and suspends it.
func (e *env) upload() string {
	e.t.Helper()
	w, err := e.blobs.Create(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := w.Write(bytes.Repeat([]byte("u"), 100)); err != nil {
		e.t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		e.t.Fatal(err)
	}
	return w.ID()
}

func (e *env) stored(d blob.Digest) bool {
	e.t.Helper()
	_, err := e.blobs.Stat(e.ctx, d)
	if err != nil && !errors.Is(err, blob.ErrNotFound) {
		e.t.Fatal(err)
	}
	return err == nil
}

// uploadExists reports whether an upload can be resumed (which touches it).
func (e *env) uploadExists(id string) bool {
	e.t.Helper()
	w, err := e.blobs.Resume(e.ctx, id)
	if errors.Is(err, blob.ErrNotFound) {
		return false
	}
	if err != nil {
		e.t.Fatal(err)
	}
	_ = w.Close()
	return true
}

func (e *env) run(opts gc.RunOptions) gc.Report {
	e.t.Helper()
	rep, err := e.c.Run(e.ctx, opts)
	if err != nil {
		e.t.Fatalf("run: %v", err)
	}
	return rep
}

// ageAll makes everything stored so far older than the grace period and the upload TTL: it
// waits for the next whole second (S3 times have second precision) and sets the clock so that
// the cutoffs fall on it. Whatever is stored afterwards is fresh.
func (e *env) ageAll() {
	e.t.Helper()
	boundary := time.Now().Truncate(time.Second).Add(time.Second)
	time.Sleep(time.Until(boundary) + 10*time.Millisecond)
	e.clock.set(boundary.Add(testGrace))
}

func digests(infos []blob.Info) []blob.Digest {
	var out []blob.Digest
	for _, i := range infos {
		out = append(out, i.Digest)
	}
	slices.Sort(out)
	return out
}

func TestCollectorFS(t *testing.T) {
	runCollectorSuite(t, func(t *testing.T) blob.Store {
		s, err := fsblob.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestCollectorS3(t *testing.T) {
	endpoint, user, pass := testenv.StartMinio(t)
	runCollectorSuite(t, func(t *testing.T) blob.Store {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		cfg := s3blob.Config{Endpoint: endpoint, Bucket: "gc-" + hex.EncodeToString(b), AccessKey: user, SecretKey: pass}
		if err := s3blob.EnsureBucket(t.Context(), cfg); err != nil {
			t.Fatal(err)
		}
		s, err := s3blob.New(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func runCollectorSuite(t *testing.T, newBlobs func(t *testing.T) blob.Store) {
	t.Run("ok/sweep", func(t *testing.T) { testSweep(t, newEnv(t, newBlobs(t), true)) })
	t.Run("ok/re-check without a Checker", func(t *testing.T) { testRecheckByScan(t, newEnv(t, newBlobs(t), false)) })
	t.Run("ok/reference written after the batch was recorded", func(t *testing.T) { testFenceBeforeRecheck(t, newEnv(t, newBlobs(t), true)) })
	t.Run("ok/reference written during the deletion", func(t *testing.T) { testFenceDuringDelete(t, newEnv(t, newBlobs(t), true)) })
	t.Run("ok/deadline defers", func(t *testing.T) { testDeadline(t, newEnv(t, newBlobs(t), true)) })
	t.Run("fail/referencer error deletes nothing", func(t *testing.T) { testReferencerError(t, newEnv(t, newBlobs(t), true)) })
	t.Run("ok/one collector at a time", func(t *testing.T) { testLeaseExclusive(t, newEnv(t, newBlobs(t), true)) })
}

func testSweep(t *testing.T, e *env) {
	referenced, garbage := e.put(), e.put()
	e.refs.add(referenced.Digest)
	abandoned := e.upload()
	e.ageAll()
	fresh := e.put()
	active := e.upload()

	dry := e.run(gc.RunOptions{DryRun: true})
	if got := digests(dry.Deleted); !slices.Equal(got, []blob.Digest{garbage.Digest}) {
		t.Fatalf("dry run would delete %v, want only the old unreferenced blob %s", got, garbage.Digest)
	}
	if !e.stored(garbage.Digest) {
		t.Fatal("the dry run deleted something")
	}

	rep := e.run(gc.RunOptions{})
	if got := digests(rep.Deleted); !slices.Equal(got, []blob.Digest{garbage.Digest}) {
		t.Fatalf("deleted %v, want only %s", got, garbage.Digest)
	}
	if rep.DeletedBytes != garbage.Size || rep.Scanned != 3 || rep.KeptFresh != 1 || rep.Referenced != 1 || rep.UploadsPurged != 1 || rep.Skipped {
		t.Fatalf("report %+v", rep)
	}
	if e.stored(garbage.Digest) {
		t.Fatal("fail/old unreferenced blob still stored")
	}
	if !e.stored(referenced.Digest) {
		t.Fatal("ok/referenced blob deleted")
	}
	if !e.stored(fresh.Digest) {
		t.Fatal("ok/unreferenced blob within the grace period deleted")
	}
	if e.uploadExists(abandoned) {
		t.Fatal("fail/abandoned upload not purged")
	}
	if !e.uploadExists(active) {
		t.Fatal("ok/recent upload purged")
	}
	// The deletion is on record for writers: ended, so the fence checks the bytes.
	if _, ended, ok, err := e.store.GC.BlobDeletion(e.ctx, string(garbage.Digest)); err != nil || !ok || ended.IsZero() {
		t.Fatalf("deletion record: ended %v ok %v err %v", ended, ok, err)
	}
	if ok, err := e.fence.Survived(e.ctx, garbage.Digest); err != nil || ok {
		t.Fatalf("fence says the deleted blob survived: %v %v", ok, err)
	}
	if ok, err := e.fence.Survived(e.ctx, referenced.Digest); err != nil || !ok {
		t.Fatalf("fence says a kept blob is gone: %v %v", ok, err)
	}
	last, err := e.store.Leases.LastRun(e.ctx, gc.LeaseName)
	if err != nil || !last.Equal(e.clock.Now()) {
		t.Fatalf("last run %v %v, want %v", last, err, e.clock.Now())
	}
	// With the last run recent, the periodic job skips.
	if rep := e.run(gc.RunOptions{MinInterval: time.Hour}); !rep.Skipped {
		t.Fatal("a run within MinInterval of the last one was not skipped")
	}
	// Records older than a day are pruned.
	e.clock.advance(25 * time.Hour)
	e.run(gc.RunOptions{})
	if _, _, ok, _ := e.store.GC.BlobDeletion(e.ctx, string(garbage.Digest)); ok {
		t.Fatal("a day-old deletion record was not pruned")
	}
}

func testRecheckByScan(t *testing.T, e *env) {
	referenced, garbage := e.put(), e.put()
	e.refs.add(referenced.Digest)
	e.ageAll()
	before := e.refs.scans.Load()
	rep := e.run(gc.RunOptions{})
	if got := digests(rep.Deleted); !slices.Equal(got, []blob.Digest{garbage.Digest}) {
		t.Fatalf("deleted %v, want %s", got, garbage.Digest)
	}
	if n := e.refs.scans.Load() - before; n != 2 {
		t.Fatalf("%d scans, want 2 (mark, then the batch's re-check)", n)
	}
	if !e.stored(referenced.Digest) || e.stored(garbage.Digest) {
		t.Fatal("wrong blob deleted")
	}
}

// testFenceBeforeRecheck: a push links an old unreferenced blob after the mark, once the
// batch is recorded: the re-check sees it and the blob stays.
func testFenceBeforeRecheck(t *testing.T, e *env) {
	reused, garbage := e.put(), e.put()
	e.ageAll()
	gc.SetAfterBegin(e.c, func(ds []string) {
		if !slices.Contains(ds, string(reused.Digest)) {
			t.Errorf("batch %v lacks %s", ds, reused.Digest)
		}
		e.refs.add(reused.Digest)
	})
	rep := e.run(gc.RunOptions{})
	if got := digests(rep.Deleted); !slices.Equal(got, []blob.Digest{garbage.Digest}) || rep.KeptReferenced != 1 {
		t.Fatalf("deleted %v kept %d, want only %s deleted and one kept", got, rep.KeptReferenced, garbage.Digest)
	}
	if !e.stored(reused.Digest) {
		t.Fatal("a blob referenced during the sweep was deleted")
	}
	if _, _, ok, _ := e.store.GC.BlobDeletion(e.ctx, string(reused.Digest)); ok {
		t.Fatal("the kept blob is still recorded as being deleted")
	}
	if ok, err := e.fence.Survived(e.ctx, reused.Digest); err != nil || !ok {
		t.Fatalf("fence: %v %v", ok, err)
	}
}

// testFenceDuringDelete: a push links the blob after the re-check, just before the deletion.
// Its fence check must wait for the deletion to end and then report the bytes gone.
func testFenceDuringDelete(t *testing.T, e *env) {
	victim := e.put()
	e.ageAll()
	result := make(chan bool, 1)
	gc.SetBeforeDelete(e.c, func(d blob.Digest) {
		e.refs.add(d) // the push's link, too late for the re-check
		go func() {
			ok, err := e.fence.Survived(e.ctx, d)
			if err != nil {
				t.Error(err)
			}
			result <- ok
		}()
		select {
		case ok := <-result:
			t.Errorf("the fence answered %v while the deletion was in progress", ok)
		case <-time.After(300 * time.Millisecond):
		}
	})
	rep := e.run(gc.RunOptions{})
	if len(rep.Deleted) != 1 || rep.Deleted[0].Digest != victim.Digest || e.stored(victim.Digest) {
		t.Fatalf("deleted %v, want %s", rep.Deleted, victim.Digest)
	}
	select {
	case ok := <-result:
		if ok {
			t.Fatal("the fence said the blob survived its deletion")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the fence still waits after the deletion ended")
	}
	// A deletion whose collector died is presumed over after FenceTimeout: the bytes decide.
	other := e.put()
	if err := e.store.GC.BeginBlobDeletions(e.ctx, []string{string(other.Digest)}, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.clock.advance(gc.FenceTimeout)
	if ok, err := e.fence.Survived(e.ctx, other.Digest); err != nil || !ok {
		t.Fatalf("stale record: %v %v, want survived", ok, err)
	}
}

func testDeadline(t *testing.T, e *env) {
	slow := e.put()
	e.ageAll()
	gc.SetAfterBegin(e.c, func([]string) { e.clock.advance(gc.FenceTimeout / 2) })
	rep := e.run(gc.RunOptions{})
	if len(rep.Deleted) != 0 || rep.Deferred != 1 {
		t.Fatalf("deleted %v deferred %d, want nothing deleted and one deferred", rep.Deleted, rep.Deferred)
	}
	if !e.stored(slow.Digest) {
		t.Fatal("deleted after the batch's time ran out")
	}
	if _, _, ok, _ := e.store.GC.BlobDeletion(e.ctx, string(slow.Digest)); ok {
		t.Fatal("a deferred blob is still recorded as being deleted")
	}
	gc.SetAfterBegin(e.c, nil)
	if rep := e.run(gc.RunOptions{}); len(rep.Deleted) != 1 {
		t.Fatalf("the next run deleted %v", rep.Deleted)
	}
}

func testReferencerError(t *testing.T, e *env) {
	garbage := e.put()
	e.ageAll()
	e.refs.fail = errors.New("database down")
	if _, err := e.c.Run(e.ctx, gc.RunOptions{}); err == nil {
		t.Fatal("run succeeded with a failing referencer")
	}
	if !e.stored(garbage.Digest) {
		t.Fatal("deleted with an incomplete mark")
	}
	// The failed run released the lease without recording a completed run.
	if last, err := e.store.Leases.LastRun(e.ctx, gc.LeaseName); err != nil || !last.IsZero() {
		t.Fatalf("last run %v %v", last, err)
	}
	e.refs.fail = nil
	if rep := e.run(gc.RunOptions{}); len(rep.Deleted) != 1 {
		t.Fatalf("after recovery deleted %v", rep.Deleted)
	}
}

func testLeaseExclusive(t *testing.T, e *env) {
	garbage := e.put()
	e.ageAll()
	other, err := gc.New(gc.Config{Blobs: e.blobs, Store: e.store.GC, Referencers: map[string]gc.Referencer{"test": e.refs},
		Grace: testGrace, UploadTTL: testTTL, Holder: "node-b", Now: e.clock.Now, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	var otherRep gc.Report
	gc.SetBeforeDelete(e.c, func(blob.Digest) {
		var err error
		if otherRep, err = other.Run(e.ctx, gc.RunOptions{}); err != nil {
			t.Error(err)
		}
	})
	rep := e.run(gc.RunOptions{})
	if !otherRep.Skipped || len(otherRep.Deleted) != 0 {
		t.Fatalf("a second node ran during the first: %+v", otherRep)
	}
	if len(rep.Deleted) != 1 || e.stored(garbage.Digest) {
		t.Fatalf("first node deleted %v", rep.Deleted)
	}
	// The lease is free again, and a dry run never needs it.
	gc.SetBeforeDelete(e.c, nil)
	if rep, err := other.Run(e.ctx, gc.RunOptions{}); err != nil || rep.Skipped {
		t.Fatalf("after release: %+v %v", rep, err)
	}
}

func TestLoop(t *testing.T) {
	s, err := fsblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, s, true)
	garbage := e.put()
	e.ageAll()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.c.Loop(ctx, 20*time.Millisecond)
	}()
	if !testenv.Eventually(10*time.Second, func() bool { return !e.stored(garbage.Digest) }) {
		t.Fatal("the periodic job did not collect the garbage")
	}
	cancel()
	<-done
}

func TestNewRefuses(t *testing.T) {
	s, err := fsblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	refs := map[string]gc.Referencer{"test": &refSet{set: map[string]bool{}}}
	for name, cfg := range map[string]gc.Config{
		"fail/no referencers": {Blobs: s, Grace: time.Hour, UploadTTL: time.Hour},
		"fail/no grace":       {Blobs: s, Referencers: refs, UploadTTL: time.Hour},
		"fail/not a walker":   {Blobs: struct{ blob.Store }{s}, Referencers: refs, Grace: time.Hour, UploadTTL: time.Hour},
	} {
		if _, err := gc.New(cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

// Observe hears every run: one that collected, and one skipped while another node holds the
// lease.
func TestObserveHearsEveryRun(t *testing.T) {
	s, err := fsblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, s, false)
	type heard struct {
		skipped bool
		err     error
		took    time.Duration
	}
	var runs []heard
	observe := func(rep gc.Report, err error, took time.Duration) { runs = append(runs, heard{rep.Skipped, err, took}) }
	mk := func(holder string) *gc.Collector {
		c, err := gc.New(gc.Config{Blobs: s, Store: e.store.GC, Referencers: map[string]gc.Referencer{"test": e.refs},
			Grace: testGrace, UploadTTL: testTTL, Holder: holder, Now: e.clock.Now, Log: quiet, Observe: observe})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := mk("node-a"), mk("node-b")
	e.put()
	e.ageAll()
	gc.SetBeforeDelete(a, func(blob.Digest) { _, _ = b.Run(e.ctx, gc.RunOptions{}) })
	if _, err := a.Run(e.ctx, gc.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || !runs[0].skipped || runs[1].skipped || runs[1].err != nil || runs[1].took <= 0 {
		t.Fatalf("observed %+v, want node-b's skipped run, then node-a's run", runs)
	}
}
