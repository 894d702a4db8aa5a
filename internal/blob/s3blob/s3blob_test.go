package s3blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/blob/blobtest"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testbin"
)

// minioServer is a MinIO started for one test.
type minioServer struct {
	endpoint, user, pass string
	admin                *minio.Client
}

// startServer starts MinIO for the test (stopped when it ends).
func startServer(tb testing.TB) *minioServer {
	tb.Helper()
	m := &minioServer{}
	m.endpoint, m.user, m.pass = testbin.StartMinio(tb)
	c, err := minio.New(m.endpoint, &minio.Options{Creds: credentials.NewStaticV4(m.user, m.pass, "")})
	if err != nil {
		tb.Fatal(err)
	}
	m.admin = c
	return m
}

// bucket makes a fresh bucket and returns a config for it.
func (m *minioServer) bucket(tb testing.TB) Config {
	tb.Helper()
	name := "t-" + randomHex(6)
	if err := m.admin.MakeBucket(context.Background(), name, minio.MakeBucketOptions{}); err != nil {
		tb.Fatalf("make bucket: %v", err)
	}
	return Config{Endpoint: m.endpoint, Bucket: name, AccessKey: m.user, SecretKey: m.pass}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func mustNew(t testing.TB, cfg Config) blob.Store {
	t.Helper()
	s, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	cfg := startServer(t).bucket(t)
	cfg.Redirect = true
	cfg.PartSize = MinPartSize // more part boundaries for the same data
	blobtest.Run(t, func(t *testing.T) blob.Store {
		c := cfg
		c.Prefix = "gh-" + randomHex(4) // a prefix per subtest keeps them apart in one bucket
		return mustNew(t, c)
	})
}

// TestConformanceDefaults runs the suite with the default part size, no prefix and no
// redirects, each subtest in its own bucket.
func TestConformanceDefaults(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	m := startServer(t)
	blobtest.Run(t, func(t *testing.T) blob.Store {
		s := mustNew(t, m.bucket(t))
		if _, ok := s.(blob.Redirector); ok {
			t.Fatalf("a store without Redirect implements blob.Redirector")
		}
		return s
	})
}

func TestLayout(t *testing.T) {
	m := startServer(t)
	cfg := m.bucket(t)
	cfg.Prefix = "some/where" // gets a trailing slash
	s := mustNew(t, cfg)
	ctx := t.Context()
	data := bytes.Repeat([]byte("x"), MinPartSize+DefaultPartSize+10)
	d := blob.FromBytes(blob.SHA256, data)
	w, err := s.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	keys := listKeys(t, m, cfg.Bucket, "")
	want := []string{
		"some/where/uploads/" + w.ID() + "/part-000000",
		"some/where/uploads/" + w.ID() + "/part-000001",
		"some/where/uploads/" + w.ID() + "/state",
	}
	if strings.Join(keys, "\n") != strings.Join(want, "\n") {
		t.Fatalf("keys after Close:\n%s\nwant:\n%s", strings.Join(keys, "\n"), strings.Join(want, "\n"))
	}
	w, err = s.Resume(ctx, w.ID())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(ctx, d); err != nil {
		t.Fatal(err)
	}
	keys = listKeys(t, m, cfg.Bucket, "")
	if len(keys) != 1 || keys[0] != "some/where/blobs/sha256/"+d.Hex() {
		t.Fatalf("keys after Commit: %v", keys)
	}

	// Objects outside the prefix are not blobs of this store.
	other := mustNew(t, Config{Endpoint: cfg.Endpoint, Bucket: cfg.Bucket, AccessKey: cfg.AccessKey, SecretKey: cfg.SecretKey, Prefix: "elsewhere/"})
	n := 0
	if err := other.(blob.Walker).Walk(ctx, func(blob.Info) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("Walk of another prefix: %d blobs, %v", n, err)
	}
	if _, err := other.Stat(ctx, d); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat under another prefix: %v", err)
	}
}

func listKeys(t *testing.T, m *minioServer, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	for oi := range m.admin.ListObjects(t.Context(), bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if oi.Err != nil {
			t.Fatal(oi.Err)
		}
		keys = append(keys, oi.Key)
	}
	return keys
}

// TestManySmallChunks is a chunked upload of many small requests: parts stay full-sized,
// so Commit can copy them server-side.
func TestManySmallChunks(t *testing.T) {
	m := startServer(t)
	cfg := m.bucket(t)
	cfg.PartSize = MinPartSize
	s := mustNew(t, cfg)
	ctx := t.Context()
	data := make([]byte, 3*MinPartSize+12345)
	rand.Read(data)
	d := blob.FromBytes(blob.SHA256, data)
	w, err := s.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const chunk = 700 << 10
	for off := 0; off < len(data); off += chunk {
		if off > 0 {
			if w, err = s.Resume(ctx, w.ID()); err != nil {
				t.Fatal(err)
			}
		}
		w.Write(data[off:min(off+chunk, len(data))])
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	parts := listKeys(t, m, cfg.Bucket, "uploads/"+w.ID()+"/part-")
	if len(parts) != 4 {
		t.Fatalf("parts after the last Close: %v, want 4", parts)
	}
	for _, k := range parts {
		oi, err := m.admin.StatObject(ctx, cfg.Bucket, k, minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(k, "part-000003") && oi.Size != MinPartSize {
			t.Errorf("%s has %d bytes, want a full part", k, oi.Size)
		}
	}
	if w, err = s.Resume(ctx, w.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(ctx, d); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Open(ctx, d, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var got bytes.Buffer
	got.ReadFrom(rc)
	if !bytes.Equal(got.Bytes(), data) {
		t.Fatal("committed blob differs")
	}
}

func TestConfig(t *testing.T) {
	cfg := Config{Endpoint: "example.com:9000", Bucket: "b", AccessKey: "AK", SecretKey: "very-secret-value"}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "s3", cfg)
	for _, out := range []string{cfg.String(), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg),
		fmt.Sprint(cfg), fmt.Sprint(&cfg), logged.String()} {
		if strings.Contains(out, cfg.SecretKey) {
			t.Errorf("secret key printed: %s", out)
		}
		if !strings.Contains(out, "example.com:9000") {
			t.Errorf("config printed without its endpoint: %s", out)
		}
	}

	for name, bad := range map[string]Config{
		"fail/no endpoint":     {Bucket: "b"},
		"fail/scheme":          {Endpoint: "http://x:9000", Bucket: "b"},
		"fail/no bucket":       {Endpoint: "x:9000"},
		"fail/small part size": {Endpoint: "x:9000", Bucket: "b", PartSize: 1 << 20},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := New(t.Context(), bad); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
	m := startServer(t)
	t.Run("fail/missing bucket", func(t *testing.T) {
		cfg := m.bucket(t)
		cfg.Bucket = "does-not-exist"
		_, err := New(t.Context(), cfg)
		if err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Fatalf("New with a missing bucket: %v", err)
		}
	})
	t.Run("fail/wrong secret", func(t *testing.T) {
		cfg := m.bucket(t)
		cfg.SecretKey = "wrong-" + cfg.SecretKey
		_, err := New(t.Context(), cfg)
		if err == nil {
			t.Fatal("New with a wrong secret key succeeded")
		}
		if strings.Contains(err.Error(), cfg.SecretKey) {
			t.Fatalf("error shows the secret: %v", err)
		}
	})
}

func BenchmarkWrite256MiB(b *testing.B) {
	blobtest.BenchmarkWrite(b, mustNew(b, startServer(b).bucket(b)), 256<<20)
}

func BenchmarkRead(b *testing.B) {
	blobtest.BenchmarkRead(b, mustNew(b, startServer(b).bucket(b)), 256<<20)
}

// TestPurgeAbortsDeadCommits: a Commit that died between starting and completing its multipart
// upload leaves an invisible incomplete upload on the blob's key, which PurgeUploads aborts.
func TestPurgeAbortsDeadCommits(t *testing.T) {
	m := startServer(t)
	cfg := m.bucket(t)
	s := mustNew(t, cfg)
	ctx := t.Context()
	data := bytes.Repeat([]byte("dead commit "), 1<<20)
	d := blob.FromBytes(blob.SHA256, data)
	bw, err := s.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bw.Write(data)
	w := bw.(*writer)
	if err := w.settle(); err != nil {
		t.Fatal(err)
	}
	key := w.s.blobKey(d)
	// What Commit does first; then the process dies.
	if _, err := w.beginMultipart(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, d); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("an incomplete multipart upload is visible: %v", err)
	}
	incomplete := func() int {
		n := 0
		for mu := range m.admin.ListIncompleteUploads(ctx, cfg.Bucket, key, true) {
			if mu.Err != nil {
				t.Fatal(mu.Err)
			}
			n++
		}
		return n
	}
	if n := incomplete(); n != 1 {
		t.Fatalf("%d incomplete uploads before purge, want 1", n)
	}
	wk := s.(blob.Walker)
	if n, err := wk.PurgeUploads(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("PurgeUploads(an hour ago) = %d, %v", n, err)
	}
	if n := incomplete(); n != 1 {
		t.Fatalf("a purge of older uploads aborted a recent one: %d left", n)
	}
	if n, err := wk.PurgeUploads(ctx, time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("PurgeUploads(in an hour) = %d, %v; want 1", n, err)
	}
	if n := incomplete(); n != 0 {
		t.Fatalf("%d incomplete uploads after purge, want 0", n)
	}
	if keys := listKeys(t, m, cfg.Bucket, ""); len(keys) != 0 {
		t.Fatalf("objects left after purge: %v", keys)
	}
}
