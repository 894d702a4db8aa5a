package sqlstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/gc"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
	"github.com/gatehouse-dev/gatehouse/internal/proxy"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore"
)

// The dependency proxy's consumer interfaces are implemented by the store.
var (
	_ proxy.Store         = (*sqlstore.ProxyStore)(nil)
	_ proxy.SettingsStore = (*sqlstore.ProxyStore)(nil)
	_ proxy.Principals    = sqlstore.Credentials{}
	_ gc.Referencer       = sqlstore.ProxyReferences{}
	_ gc.Checker          = sqlstore.ProxyReferences{}
)

func TestProxyStoreSQLite(t *testing.T) {
	runProxySuite(t, func(t *testing.T) *sqlstore.Stores {
		s := openSQLite(t, filepath.Join(t.TempDir(), "gatehouse.db"))
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestProxyStorePostgres(t *testing.T) {
	runProxySuite(t, func(t *testing.T) *sqlstore.Stores {
		s := openPostgres(t)
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

// proxyFixture is a migrated store with groups "g" and "h".
type proxyFixture struct {
	s    *sqlstore.Stores
	ctx  context.Context
	t0   time.Time
	g, h int64
}

func runProxySuite(t *testing.T, open func(t *testing.T) *sqlstore.Stores) {
	setup := func(t *testing.T) *proxyFixture {
		s := open(t)
		ctx := context.Background()
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		t0 := time.Date(2031, 3, 14, 15, 9, 26, 0, time.UTC)
		f := &proxyFixture{s: s, ctx: ctx, t0: t0}
		for _, p := range []struct {
			path string
			id   *int64
		}{{"g", &f.g}, {"h", &f.h}} {
			grp := &namespace.Group{Name: p.path, Path: p.path, CreatedAt: t0}
			if err := s.Namespaces.CreateGroup(ctx, grp); err != nil {
				t.Fatal(err)
			}
			*p.id = grp.ID
		}
		return f
	}
	t.Run("settings", func(t *testing.T) { testProxySettings(t, setup(t)) })
	t.Run("manifests", func(t *testing.T) { testProxyManifests(t, setup(t)) })
	t.Run("blobs", func(t *testing.T) { testProxyBlobs(t, setup(t)) })
	t.Run("purge_and_references", func(t *testing.T) { testProxyPurgeAndReferences(t, setup(t)) })
}

func testProxySettings(t *testing.T, f *proxyFixture) {
	on, err := f.s.Proxy.DependencyProxyEnabled(f.ctx, f.g)
	if err != nil || !on {
		t.Fatalf("ok/enabled by default: %v %v", on, err)
	}
	mustDo(t, f.s.Proxy.SetDependencyProxyEnabled(f.ctx, f.g, false, f.t0))
	if on, err := f.s.Proxy.DependencyProxyEnabled(f.ctx, f.g); err != nil || on {
		t.Fatalf("ok/turned off: %v %v", on, err)
	}
	if on, err := f.s.Proxy.DependencyProxyEnabled(f.ctx, f.h); err != nil || !on {
		t.Fatalf("ok/other group untouched: %v %v", on, err)
	}
	mustDo(t, f.s.Proxy.SetDependencyProxyEnabled(f.ctx, f.g, true, f.t0.Add(time.Minute)))
	if on, err := f.s.Proxy.DependencyProxyEnabled(f.ctx, f.g); err != nil || !on {
		t.Fatalf("ok/turned on again: %v %v", on, err)
	}
	if err := f.s.Proxy.SetDependencyProxyEnabled(f.ctx, 99999, false, f.t0); err == nil {
		t.Fatal("fail/setting for a group that does not exist was stored")
	}
}

func testProxyManifests(t *testing.T, f *proxyFixture) {
	a, b := digest("manifest-a"), digest("manifest-b")
	ma := oci.CachedManifest{Digest: a, MediaType: oci.MediaTypeOCIManifest, Size: 123, CreatedAt: f.t0, CheckedAt: f.t0}
	if _, err := f.s.Proxy.ProxyManifest(f.ctx, f.g, "library/alpine", "latest"); !errors.Is(err, oci.ErrNotFound) {
		t.Fatalf("fail/empty cache: %v", err)
	}
	mustDo(t, f.s.Proxy.PutProxyManifest(f.ctx, f.g, "library/alpine", ma, "latest"))
	got, err := f.s.Proxy.ProxyManifest(f.ctx, f.g, "library/alpine", "latest")
	if err != nil || got.Digest != a || got.MediaType != oci.MediaTypeOCIManifest || got.Size != 123 ||
		!got.CreatedAt.Equal(f.t0) || !got.CheckedAt.Equal(f.t0) {
		t.Fatalf("ok/by tag: %+v %v", got, err)
	}
	if got, err := f.s.Proxy.ProxyManifest(f.ctx, f.g, "library/alpine", a); err != nil || got.Digest != a || !got.CheckedAt.IsZero() {
		t.Fatalf("ok/by digest: %+v %v", got, err)
	}
	// Per group and per image.
	for _, c := range []struct {
		group int64
		image string
	}{{f.h, "library/alpine"}, {f.g, "library/busybox"}} {
		if _, err := f.s.Proxy.ProxyManifest(f.ctx, c.group, c.image, "latest"); !errors.Is(err, oci.ErrNotFound) {
			t.Fatalf("fail/%d %s sees another's cache: %v", c.group, c.image, err)
		}
		if _, err := f.s.Proxy.ProxyManifest(f.ctx, c.group, c.image, a); !errors.Is(err, oci.ErrNotFound) {
			t.Fatalf("fail/%d %s sees another's manifest: %v", c.group, c.image, err)
		}
	}

	// Touch only moves checked_at forward, and only while the tag still names the digest.
	t1 := f.t0.Add(25 * time.Hour)
	mustDo(t, f.s.Proxy.TouchProxyTag(f.ctx, f.g, "library/alpine", "latest", a, t1))
	mustDo(t, f.s.Proxy.TouchProxyTag(f.ctx, f.g, "library/alpine", "latest", a, f.t0.Add(time.Hour)))
	mustDo(t, f.s.Proxy.TouchProxyTag(f.ctx, f.g, "library/alpine", "latest", b, t1.Add(time.Hour)))
	if got, _ := f.s.Proxy.ProxyManifest(f.ctx, f.g, "library/alpine", "latest"); !got.CheckedAt.Equal(t1) {
		t.Fatalf("ok/touched: checked at %v, want %v", got.CheckedAt, t1)
	}

	// The tag moves to a new manifest; the old one stays by digest. Putting the same manifest
	// again keeps its first record.
	mb := oci.CachedManifest{Digest: b, MediaType: oci.MediaTypeDockerManifestList, Size: 77, CreatedAt: t1, CheckedAt: t1}
	mustDo(t, f.s.Proxy.PutProxyManifest(f.ctx, f.g, "library/alpine", mb, "latest"))
	mustDo(t, f.s.Proxy.PutProxyManifest(f.ctx, f.g, "library/alpine", oci.CachedManifest{Digest: a, MediaType: "x", Size: 1, CreatedAt: t1}, ""))
	if got, _ := f.s.Proxy.ProxyManifest(f.ctx, f.g, "library/alpine", "latest"); got.Digest != b || got.MediaType != oci.MediaTypeDockerManifestList {
		t.Fatalf("ok/tag moved: %+v", got)
	}
	if got, _ := f.s.Proxy.ProxyManifest(f.ctx, f.g, "library/alpine", a); got.Size != 123 || !got.CreatedAt.Equal(f.t0) {
		t.Fatalf("ok/first record kept: %+v", got)
	}

	// Deleting a manifest takes its tags; deleting a tag keeps the manifest.
	mustDo(t, f.s.Proxy.PutProxyManifest(f.ctx, f.g, "library/alpine", ma, "3.20"))
	mustDo(t, f.s.Proxy.DeleteProxyTag(f.ctx, f.g, "library/alpine", "3.20"))
	if _, err := f.s.Proxy.ProxyManifest(f.ctx, f.g, "library/alpine", a); err != nil {
		t.Fatalf("ok/manifest stays after its tag: %v", err)
	}
	if err := f.s.Proxy.DeleteProxyTag(f.ctx, f.g, "library/alpine", "3.20"); !errors.Is(err, oci.ErrNotFound) {
		t.Fatalf("fail/tag deleted twice: %v", err)
	}
	mustDo(t, f.s.Proxy.DeleteProxyManifest(f.ctx, f.g, "library/alpine", b))
	if _, err := f.s.Proxy.ProxyManifest(f.ctx, f.g, "library/alpine", "latest"); !errors.Is(err, oci.ErrNotFound) {
		t.Fatalf("fail/tag of a deleted manifest: %v", err)
	}
	if err := f.s.Proxy.DeleteProxyManifest(f.ctx, f.g, "library/alpine", b); !errors.Is(err, oci.ErrNotFound) {
		t.Fatalf("fail/manifest deleted twice: %v", err)
	}
	if err := f.s.Proxy.PutProxyManifest(f.ctx, 99999, "x", ma, "t"); err == nil {
		t.Fatal("fail/manifest cached for a group that does not exist")
	}
}

func testProxyBlobs(t *testing.T, f *proxyFixture) {
	d := digest("layer")
	if _, err := f.s.Proxy.ProxyBlob(f.ctx, f.g, d); !errors.Is(err, oci.ErrNotFound) {
		t.Fatalf("fail/empty cache: %v", err)
	}
	mustDo(t, f.s.Proxy.PutProxyBlob(f.ctx, f.g, oci.CachedBlob{Digest: d, Size: 1 << 20, CreatedAt: f.t0}))
	mustDo(t, f.s.Proxy.PutProxyBlob(f.ctx, f.g, oci.CachedBlob{Digest: d, Size: 1, CreatedAt: f.t0.Add(time.Hour)}))
	got, err := f.s.Proxy.ProxyBlob(f.ctx, f.g, d)
	if err != nil || got.Size != 1<<20 || !got.CreatedAt.Equal(f.t0) {
		t.Fatalf("ok/cached once: %+v %v", got, err)
	}
	if _, err := f.s.Proxy.ProxyBlob(f.ctx, f.h, d); !errors.Is(err, oci.ErrNotFound) {
		t.Fatalf("fail/another group's blob: %v", err)
	}
	mustDo(t, f.s.Proxy.DeleteProxyBlob(f.ctx, f.g, d))
	if err := f.s.Proxy.DeleteProxyBlob(f.ctx, f.g, d); !errors.Is(err, oci.ErrNotFound) {
		t.Fatalf("fail/deleted twice: %v", err)
	}
}

func testProxyPurgeAndReferences(t *testing.T, f *proxyFixture) {
	m, l, other := digest("m"), digest("l"), digest("other-group-layer")
	mustDo(t, f.s.Proxy.PutProxyManifest(f.ctx, f.g, "app", oci.CachedManifest{Digest: m, MediaType: oci.MediaTypeOCIManifest, Size: 5,
		CreatedAt: f.t0, CheckedAt: f.t0}, "v1"))
	mustDo(t, f.s.Proxy.PutProxyBlob(f.ctx, f.g, oci.CachedBlob{Digest: l, Size: 9, CreatedAt: f.t0}))
	mustDo(t, f.s.Proxy.PutProxyBlob(f.ctx, f.h, oci.CachedBlob{Digest: other, Size: 9, CreatedAt: f.t0}))
	refs := f.s.Proxy.References()
	var all []string
	mustDo(t, refs.ReferencedBlobs(f.ctx, func(d string) error { all = append(all, d); return nil }))
	slices.Sort(all)
	want := []string{l, m, other}
	slices.Sort(want)
	if !slices.Equal(slices.Compact(all), want) {
		t.Fatalf("ok/references %v, want %v", all, want)
	}
	among, err := refs.ReferencedAmong(f.ctx, []string{m, digest("unknown"), other})
	if err != nil || !among[m] || !among[other] || len(among) != 2 {
		t.Fatalf("ok/referenced among: %v %v", among, err)
	}
	mustDo(t, f.s.Proxy.PurgeDependencyProxy(f.ctx, f.g))
	if _, err := f.s.Proxy.ProxyManifest(f.ctx, f.g, "app", "v1"); !errors.Is(err, oci.ErrNotFound) {
		t.Fatalf("fail/tag after purge: %v", err)
	}
	if _, err := f.s.Proxy.ProxyBlob(f.ctx, f.g, l); !errors.Is(err, oci.ErrNotFound) {
		t.Fatalf("fail/blob after purge: %v", err)
	}
	if _, err := f.s.Proxy.ProxyBlob(f.ctx, f.h, other); err != nil {
		t.Fatalf("ok/purge leaves other groups: %v", err)
	}
	among, err = refs.ReferencedAmong(f.ctx, []string{m, l, other})
	if err != nil || len(among) != 1 || !among[other] {
		t.Fatalf("ok/references after purge: %v %v", among, err)
	}
}
