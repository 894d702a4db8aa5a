package server_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// outageBound is how long a request may take while a dependency is down: the connect
// timeout and the S3 client's retries, not a hang.
const outageBound = 30 * time.Second

// TestOutagesAnswer503AndRecover: with PostgreSQL cut off, requests on every surface answer
// 503 with a message in the surface's own format, promptly, and the same node serves again
// once it is back; with MinIO cut off, registry and package writes answer 503 and Git keeps
// working (docs/operations.md, "Readiness, shutdown and outages").
func TestOutagesAnswer503AndRecover(t *testing.T) {
	endpoint, user, pass := testenv.StartMinio(t)
	s3 := testenv.StartTCPProxy(t, endpoint)
	pg, dbURL := viaProxy(t, testenv.PostgresURL(t))
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	ts := testenv.StartServer(t, func(c *config.Config) {
		c.DatabaseURL = dbURL
		c.BlobStore = config.BlobStoreS3
		c.S3 = config.S3{Endpoint: s3.Addr, Bucket: "outage-" + hex.EncodeToString(b), AccessKey: user, SecretKey: config.Secret(pass)}
	})
	f := ts.MakeFixture(t)
	top := f.Projects["top"]
	token := registryToken(t, ts)
	apiGet := func() response {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/v4/projects/%d", ts.URL, top.ID), nil)
		req.Header.Set("PRIVATE-TOKEN", ts.RootToken)
		return do(t, "api project", req)
	}
	upload := func() response {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v2/group/top/blobs/uploads/", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		return do(t, "registry upload", req)
	}
	pkgPut := func(name string) response {
		req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/api/v4/projects/%d/packages/generic/tool/1.0.0/%s", ts.URL, top.ID, name),
			bytes.NewReader(bytes.Repeat([]byte("x"), 1<<20)))
		req.Header.Set("PRIVATE-TOKEN", ts.RootToken)
		return do(t, "package upload", req)
	}
	timed := func(t *testing.T, what string, fn func() response) response {
		t.Helper()
		start := time.Now()
		r := fn()
		if d := time.Since(start); d > outageBound {
			t.Fatalf("%s took %v during an outage, want under %v", what, d, outageBound)
		}
		return r
	}
	// A push to the project's repository, for git clone while S3 is down.
	work := t.TempDir()
	gitURL := ts.GitURL(top.FullPath, "root", ts.RootToken)
	testenv.Git(t, work, "init", "-q", "-b", "main", "src")
	if err := os.WriteFile(filepath.Join(work, "src", "a.txt"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Git(t, filepath.Join(work, "src"), "add", ".")
	testenv.Git(t, filepath.Join(work, "src"), "commit", "-q", "-m", "a")
	testenv.Git(t, filepath.Join(work, "src"), "push", "-q", gitURL, "main")

	t.Run("fail/database down: 503 on every surface", func(t *testing.T) {
		pg.Cut()
		defer pg.Restore()
		time.Sleep(1100 * time.Millisecond) // pooled connections are checked after a second idle
		if r := timed(t, "api", apiGet); r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, `"message"`) {
			t.Errorf("api with the database down: %d %q, want 503 with a message", r.status, r.body)
		}
		if r := timed(t, "git", func() response { return infoRefs(t, ts, top.FullPath, "root", ts.RootToken) }); r.status != http.StatusServiceUnavailable ||
			!strings.Contains(r.body, "unavailable") {
			t.Errorf("git with the database down: %d %q, want 503 with a message", r.status, r.body)
		}
		if r := timed(t, "registry", upload); r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "UNAVAILABLE") {
			t.Errorf("registry with the database down: %d %q, want 503 UNAVAILABLE", r.status, r.body)
		}
		if r := timed(t, "packages", func() response { return pkgPut("db.bin") }); r.status != http.StatusServiceUnavailable {
			t.Errorf("package upload with the database down: %d %q, want 503", r.status, r.body)
		}
		if st, _, _ := testenv.RegistryToken(t, ts.URL, "container_registry", "root", ts.RootToken, "repository:"+top.FullPath+":pull"); st != http.StatusServiceUnavailable {
			t.Errorf("/jwt/auth with the database down: %d, want 503", st)
		}
	})
	t.Run("ok/database back: the same node serves again", func(t *testing.T) {
		if !testenv.Eventually(20*time.Second, func() bool { return apiGet().status == http.StatusOK }) {
			t.Fatalf("api after the database came back: %d", apiGet().status)
		}
		if r := upload(); r.status != http.StatusAccepted {
			t.Fatalf("registry after the database came back: %d %q", r.status, r.body)
		}
	})
	t.Run("fail/blob store down: writes 503, git works", func(t *testing.T) {
		s3.Cut()
		defer s3.Restore()
		if r := timed(t, "registry", upload); r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "UNAVAILABLE") {
			t.Errorf("registry upload with S3 down: %d %q, want 503 UNAVAILABLE", r.status, r.body)
		}
		if r := timed(t, "packages", func() response { return pkgPut("s3.bin") }); r.status != http.StatusServiceUnavailable {
			t.Errorf("package upload with S3 down: %d %q, want 503", r.status, r.body)
		}
		testenv.Git(t, work, "clone", "-q", gitURL, "clone")
		if b, err := os.ReadFile(filepath.Join(work, "clone", "a.txt")); err != nil || string(b) != "a" {
			t.Fatalf("clone with S3 down: %q %v", b, err)
		}
	})
	t.Run("ok/blob store back", func(t *testing.T) {
		if r := pkgPut("back.bin"); r.status != http.StatusCreated {
			t.Fatalf("package upload after S3 came back: %d %q", r.status, r.body)
		}
	})
}
