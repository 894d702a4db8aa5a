package registry_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/server"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// minioEnv is a MinIO started for one test.
type minioEnv struct {
	endpoint, user, pass string
	admin                *minio.Client
}

func startMinio(t *testing.T) *minioEnv {
	t.Helper()
	m := &minioEnv{}
	m.endpoint, m.user, m.pass = testenv.StartMinio(t)
	c, err := minio.New(m.endpoint, &minio.Options{Creds: credentials.NewStaticV4(m.user, m.pass, "")})
	if err != nil {
		t.Fatal(err)
	}
	m.admin = c
	return m
}

// withS3 stores the server's blobs in a fresh bucket of m (which the server creates) below
// prefix, redirecting blob GETs when redirect is set. The endpoint is named "localhost": crane
// refuses redirects to loopback IP literals (its SSRF guard), and presigned URLs carry the
// endpoint's host.
func (m *minioEnv) withS3(bucket, prefix string, redirect bool) testenv.ServerOption {
	return func(c *config.Config) {
		c.BlobStore = config.BlobStoreS3
		c.S3 = config.S3{Endpoint: m.host(), Bucket: bucket, AccessKey: m.user, SecretKey: config.Secret(m.pass),
			Prefix: prefix, Redirect: redirect}
	}
}

// host is the endpoint as localhost:<port>.
func (m *minioEnv) host() string { return strings.Replace(m.endpoint, "127.0.0.1:", "localhost:", 1) }

// objects lists the keys in bucket.
func (m *minioEnv) objects(t *testing.T, bucket string) []string {
	t.Helper()
	var keys []string
	for oi := range m.admin.ListObjects(t.Context(), bucket, minio.ListObjectsOptions{Recursive: true}) {
		if oi.Err != nil {
			t.Fatal(oi.Err)
		}
		keys = append(keys, oi.Key)
	}
	return keys
}

func randomBucket() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return "gatehouse-" + hex.EncodeToString(b)
}

// TestS3 drives the registry with crane against a server whose blobs live in MinIO, serving
// blob GETs itself and by redirect to presigned URLs.
func TestS3(t *testing.T) {
	m := startMinio(t)
	crane := testenv.GoTool(t, "crane")
	for _, tc := range []struct {
		name     string
		prefix   string
		redirect bool
	}{
		{"ok/served directly", "", false},
		{"ok/redirected to presigned URLs", "gh/", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bucket := randomBucket()
			ts, f, host := startRegistry(t, m.withS3(bucket, tc.prefix, tc.redirect))
			top := "projects/" + itoa(f.Projects["top"].ID)
			rw := ts.CreateDeployToken(t, top, []string{"read_registry", "write_registry"}, nil)
			ro := ts.CreateDeployToken(t, top, []string{"read_registry"}, nil)

			home := t.TempDir()
			image := host + "/group/top/app:v1"
			testenv.MustRun(t, home, crane, "auth", "login", host, "-u", rw.Username, "-p", rw.Token)
			// 7 MiB: more than one S3 part, so the upload is assembled server-side.
			testenv.MustRun(t, home, crane, "append", "--new_layer", testenv.RandomFile(t, home, "big.bin", 7<<20), "-t", image)
			testenv.MustRun(t, home, crane, "append", "--base", image, "--new_layer", testenv.RandomFile(t, home, "small.bin", 3000), "-t", host+"/group/top/app:v2")
			digest := strings.TrimSpace(testenv.MustRun(t, home, crane, "digest", host+"/group/top/app:v2"))
			testenv.MustRun(t, home, crane, "copy", host+"/group/top/app:v2", host+"/group/top/other:v2")

			pull := t.TempDir()
			testenv.MustRun(t, pull, crane, "auth", "login", host, "-u", ro.Username, "-p", ro.Token)
			for _, ref := range []string{host + "/group/top/app:v2", host + "/group/top/other:v2", host + "/group/top/app:v1"} {
				tarball := filepath.Join(pull, "img.tar")
				testenv.MustRun(t, pull, crane, "pull", ref, tarball)
				if st, err := os.Stat(tarball); err != nil || st.Size() < 7<<20 {
					t.Fatalf("pulled %s: %v %v", ref, st, err)
				}
			}
			if got := strings.TrimSpace(testenv.MustRun(t, pull, crane, "digest", host+"/group/top/other:v2")); got != digest {
				t.Fatalf("copied image digest %s, want %s", got, digest)
			}

			// The bytes are in the bucket, below the prefix, and not on the local disk.
			keys := m.objects(t, bucket)
			var blobs int
			for _, k := range keys {
				if !strings.HasPrefix(k, tc.prefix) {
					t.Fatalf("object %q outside the prefix %q", k, tc.prefix)
				}
				if strings.HasPrefix(k, tc.prefix+"blobs/sha256/") {
					blobs++
				}
			}
			if blobs < 5 { // 2 layers + 2 configs + 2 manifests (the copy shares them)
				t.Fatalf("only %d blobs in the bucket: %v", blobs, keys)
			}
			if _, err := os.Stat(filepath.Join(ts.Server.Config.DataDir, "blobs")); !os.IsNotExist(err) {
				t.Fatalf("a local blob directory exists with blob_store s3: %v", err)
			}
			if logs := ts.Logs(); strings.Contains(logs, m.pass) || !strings.Contains(logs, `"bucket":"`+bucket+`"`) {
				t.Fatalf("the logs show the S3 secret key, or not the S3 store:\n%s", tail(logs, 2000))
			}

			// A raw blob GET: a redirect to MinIO, or the bytes themselves.
			c := newOCIClient(ts.URL, ro.Username, ro.Token).repo(t.Context(), "group/top/app")
			var man imageManifest
			raw, _, err := c.get("/v2/group/top/app/manifests/v2", http.Header{"Accept": {"application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json"}})
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &man); err != nil || len(man.Layers) != 2 {
				t.Fatalf("manifest %s: %v", raw, err)
			}
			layer := man.Layers[0]
			noFollow := newOCIClient(ts.URL, ro.Username, ro.Token)
			noFollow.hc = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			nc := noFollow.repo(t.Context(), "group/top/app")
			resp, err := nc.do(http.MethodGet, "/v2/group/top/app/blobs/"+layer.Digest, "pull", nil, nil, http.StatusOK, http.StatusTemporaryRedirect)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !tc.redirect {
				if resp.StatusCode != http.StatusOK || digestOf(body) != layer.Digest {
					t.Fatalf("direct GET: status %d, %d bytes", resp.StatusCode, len(body))
				}
				for _, ref := range []string{"v1", "v2"} {
					if _, err := c.verify(ref); err != nil {
						t.Fatal(err)
					}
				}
				return
			}
			if resp.StatusCode != http.StatusTemporaryRedirect {
				t.Fatalf("GET: status %d, want a redirect", resp.StatusCode)
			}
			loc, err := url.Parse(resp.Header.Get("Location"))
			if err != nil || loc.Host != m.host() || !strings.HasPrefix(loc.Path, "/"+bucket+"/"+tc.prefix+"blobs/") || loc.Query().Get("X-Amz-Signature") == "" {
				t.Fatalf("redirect to %s, want a presigned URL of the bucket at %s", loc, m.endpoint)
			}
			// The presigned URL needs no credentials.
			direct, err := http.Get(loc.String())
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(direct.Body)
			direct.Body.Close()
			if direct.StatusCode != http.StatusOK || digestOf(b) != layer.Digest {
				t.Fatalf("presigned GET: status %d, digest %s, want %s", direct.StatusCode, digestOf(b), layer.Digest)
			}
			// And a client that follows redirects gets every blob whole.
			for _, ref := range []string{"v1", "v2"} {
				if _, err := c.verify(ref); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestS3WrongCredentials: a server configured for S3 with wrong credentials does not
// start, and its error does not show the secret key.
func TestS3WrongCredentials(t *testing.T) {
	m := startMinio(t)
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = filepath.Join(cfg.DataDir, "gatehouse.db")
	cfg.ExternalURL = "http://localhost:1"
	cfg.BlobStore = config.BlobStoreS3
	secret := "wrong-secret-" + hex.EncodeToString([]byte("x1"))
	cfg.S3 = config.S3{Endpoint: m.endpoint, Bucket: randomBucket(), AccessKey: m.user, SecretKey: config.Secret(secret)}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	_, err := server.New(ctx, cfg, server.Options{Log: slog.New(slog.DiscardHandler), Stdout: io.Discard})
	if err == nil {
		t.Fatal("the server started with wrong S3 credentials")
	}
	if strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), cfg.S3.Bucket) {
		t.Fatalf("error %q: want one naming the bucket and not showing the secret key", err)
	}
}
