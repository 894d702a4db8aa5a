package sqlstore_test

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/gc"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore"
)

// Garbage collection's consumer interfaces are implemented by the store.
var (
	_ gc.Store      = (*sqlstore.GCStore)(nil)
	_ gc.Referencer = sqlstore.RegistryReferences{}
	_ gc.Checker    = sqlstore.RegistryReferences{}
)

func TestGCStoreSQLite(t *testing.T) {
	runGCSuite(t, func(t *testing.T) *sqlstore.Stores {
		s := openSQLite(t, filepath.Join(t.TempDir(), "gatehouse.db"))
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestGCStorePostgres(t *testing.T) {
	runGCSuite(t, func(t *testing.T) *sqlstore.Stores {
		s := openPostgres(t)
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func runGCSuite(t *testing.T, open func(t *testing.T) *sqlstore.Stores) {
	setup := func(t *testing.T) *sqlstore.Stores {
		s := open(t)
		if _, err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s
	}
	t.Run("lease", func(t *testing.T) { testLease(t, setup(t)) })
	t.Run("blob_deletions", func(t *testing.T) { testBlobDeletions(t, setup(t)) })
	t.Run("registry_references", func(t *testing.T) { testRegistryReferences(t, setup(t)) })
}

func testLease(t *testing.T, s *sqlstore.Stores) {
	ctx := context.Background()
	t0 := time.Date(2031, 3, 14, 15, 9, 26, 0, time.UTC)
	acquire := func(holder string, now, ranBefore time.Time) bool {
		t.Helper()
		ok, err := s.Leases.AcquireLease(ctx, "gc", holder, now, now.Add(5*time.Minute), ranBefore)
		mustDo(t, err)
		return ok
	}
	if !acquire("a", t0, t0) {
		t.Fatal("ok/a free lease: not acquired")
	}
	if acquire("b", t0.Add(time.Minute), t0.Add(time.Minute)) {
		t.Fatal("fail/b acquired a lease a holds")
	}
	if acquire("a", t0.Add(time.Minute), t0.Add(time.Minute)) {
		t.Fatal("fail/a acquired its own lease twice")
	}
	if ok, err := s.Leases.RenewLease(ctx, "gc", "b", t0.Add(time.Hour)); err != nil || ok {
		t.Fatalf("fail/b renewed a's lease: %v %v", ok, err)
	}
	if ok, err := s.Leases.RenewLease(ctx, "gc", "a", t0.Add(10*time.Minute)); err != nil || !ok {
		t.Fatalf("ok/a renews: %v %v", ok, err)
	}
	if acquire("b", t0.Add(6*time.Minute), t0.Add(6*time.Minute)) {
		t.Fatal("fail/b acquired a renewed lease")
	}
	// An expired lease is free.
	if !acquire("b", t0.Add(11*time.Minute), t0.Add(11*time.Minute)) {
		t.Fatal("ok/b takes an expired lease: not acquired")
	}
	if ok, err := s.Leases.RenewLease(ctx, "gc", "a", t0.Add(time.Hour)); err != nil || ok {
		t.Fatalf("fail/a renewed a lease it lost: %v %v", ok, err)
	}
	// a's late release does not free b's lease.
	mustDo(t, s.Leases.ReleaseLease(ctx, "gc", "a", t0.Add(12*time.Minute), true))
	if acquire("c", t0.Add(12*time.Minute), t0.Add(12*time.Minute)) {
		t.Fatal("fail/a released b's lease")
	}
	if last, err := s.Leases.LastRun(ctx, "gc"); err != nil || !last.IsZero() {
		t.Fatalf("no run completed yet, last run = %v %v", last, err)
	}
	done := t0.Add(13 * time.Minute)
	mustDo(t, s.Leases.ReleaseLease(ctx, "gc", "b", done, true))
	if last, err := s.Leases.LastRun(ctx, "gc"); err != nil || !last.Equal(done) {
		t.Fatalf("last run = %v %v, want %v", last, err, done)
	}
	// Released, but the last run is more recent than the caller's interval.
	if acquire("c", done.Add(time.Hour), done.Add(-time.Minute)) {
		t.Fatal("fail/c ran although the last run is within its interval")
	}
	if !acquire("c", done.Add(time.Hour), done) {
		t.Fatal("ok/c: the last run is old enough, not acquired")
	}
	// An incomplete run keeps the previous last-run time.
	mustDo(t, s.Leases.ReleaseLease(ctx, "gc", "c", done.Add(2*time.Hour), false))
	if last, err := s.Leases.LastRun(ctx, "gc"); err != nil || !last.Equal(done) {
		t.Fatalf("after an incomplete run, last run = %v %v, want %v", last, err, done)
	}
	// Another lease name is independent.
	if ok, err := s.Leases.AcquireLease(ctx, "other", "a", t0, t0.Add(time.Minute), t0); err != nil || !ok {
		t.Fatalf("ok/another lease: %v %v", ok, err)
	}
}

func testBlobDeletions(t *testing.T, s *sqlstore.Stores) {
	ctx := context.Background()
	t0 := time.Date(2031, 3, 14, 15, 9, 26, 0, time.UTC)
	a, b, c := digest("a"), digest("b"), digest("c")
	if _, _, ok, err := s.GC.BlobDeletion(ctx, a); err != nil || ok {
		t.Fatalf("no record yet: %v %v", ok, err)
	}
	mustDo(t, s.GC.BeginBlobDeletions(ctx, []string{a, b, c}, t0))
	began, ended, ok, err := s.GC.BlobDeletion(ctx, a)
	if err != nil || !ok || !began.Equal(t0) || !ended.IsZero() {
		t.Fatalf("in progress: %v %v %v %v", began, ended, ok, err)
	}
	t1 := t0.Add(time.Second)
	mustDo(t, s.GC.EndBlobDeletions(ctx, []string{a, b}, []string{c}, t1))
	if began, ended, ok, err := s.GC.BlobDeletion(ctx, a); err != nil || !ok || !began.Equal(t0) || !ended.Equal(t1) {
		t.Fatalf("ended: %v %v %v %v", began, ended, ok, err)
	}
	if _, _, ok, err := s.GC.BlobDeletion(ctx, c); err != nil || ok {
		t.Fatalf("kept blob still recorded: %v %v", ok, err)
	}
	// A new deletion of the same digest replaces the record.
	t2 := t0.Add(time.Hour)
	mustDo(t, s.GC.BeginBlobDeletions(ctx, []string{a}, t2))
	if began, ended, ok, err := s.GC.BlobDeletion(ctx, a); err != nil || !ok || !began.Equal(t2) || !ended.IsZero() {
		t.Fatalf("begun again: %v %v %v %v", began, ended, ok, err)
	}
	n, err := s.GC.PruneBlobDeletions(ctx, t0.Add(time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("prune removed %d (%v), want 1 (b)", n, err)
	}
	if _, _, ok, _ := s.GC.BlobDeletion(ctx, b); ok {
		t.Fatal("pruned record of b still there")
	}
	if _, _, ok, _ := s.GC.BlobDeletion(ctx, a); !ok {
		t.Fatal("recent record of a pruned")
	}
	// Batches larger than one statement's placeholders.
	many := make([]string, 1200)
	for i := range many {
		many[i] = digest("many" + strconv.Itoa(i))
	}
	mustDo(t, s.GC.BeginBlobDeletions(ctx, many, t2))
	mustDo(t, s.GC.EndBlobDeletions(ctx, many[:700], many[700:], t2))
	if _, ended, ok, _ := s.GC.BlobDeletion(ctx, many[699]); !ok || ended.IsZero() {
		t.Fatal("a deleted digest of a large batch is not marked ended")
	}
	if _, _, ok, _ := s.GC.BlobDeletion(ctx, many[1199]); ok {
		t.Fatal("a kept digest of a large batch is still recorded")
	}
}

func testRegistryReferences(t *testing.T, s *sqlstore.Stores) {
	ctx := context.Background()
	t0 := time.Date(2031, 3, 14, 15, 9, 26, 0, time.UTC)
	g := &namespace.Group{Name: "G", Path: "g", CreatedAt: t0}
	mustDo(t, s.Namespaces.CreateGroup(ctx, g))
	p := &namespace.Project{Name: "p", Path: "p", GroupID: g.ID, Visibility: namespace.Private, CreatedAt: t0}
	mustDo(t, s.Namespaces.CreateProject(ctx, p))
	repo := oci.Repository{ProjectID: p.ID, Name: "g/p"}
	layer, config, unlinked, manifest, unknown := digest("layer"), digest("config"), digest("unlinked"), digest("manifest"), digest("unknown")
	for _, d := range []string{layer, config, unlinked} {
		mustDo(t, s.Registry.LinkBlob(ctx, repo, oci.BlobLink{Digest: d, Size: 1, CreatedAt: t0}))
	}
	mustDo(t, s.Registry.PutManifest(ctx, repo, oci.ManifestRecord{Digest: manifest, MediaType: "application/vnd.oci.image.manifest.v1+json",
		Size: 1, Blobs: []string{config, layer}, CreatedAt: t0}, []string{"v1"}))
	// The layer's link goes, but the manifest still references it.
	mustDo(t, s.Registry.UnlinkBlob(ctx, repo, layer))
	mustDo(t, s.Registry.UnlinkBlob(ctx, repo, unlinked))

	refs := s.Registry.References()
	var all []string
	mustDo(t, refs.ReferencedBlobs(ctx, func(d string) error {
		if !slices.Contains(all, d) {
			all = append(all, d)
		}
		return nil
	}))
	slices.Sort(all)
	want := []string{layer, config, manifest}
	slices.Sort(want)
	if !slices.Equal(all, want) {
		t.Fatalf("referenced %v, want %v (links, manifests, manifest references)", all, want)
	}
	among, err := refs.ReferencedAmong(ctx, []string{layer, config, unlinked, manifest, unknown})
	mustDo(t, err)
	if !among[layer] || !among[config] || !among[manifest] || among[unlinked] || among[unknown] {
		t.Fatalf("referenced among = %v", among)
	}
	// Deleting the manifest drops its references too.
	mustDo(t, s.Registry.DeleteManifest(ctx, repo, manifest))
	among, err = refs.ReferencedAmong(ctx, []string{layer, config, manifest})
	mustDo(t, err)
	if among[layer] || among[manifest] || !among[config] {
		t.Fatalf("after deleting the manifest, referenced among = %v", among)
	}
}
