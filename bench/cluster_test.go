package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// benchRedis, when set (redis://…), carries the cluster benchmark's invalidations over Redis.
var benchRedis = flag.String("bench.redis", "", "Redis URL for BenchmarkClusterPropagation (default: PostgreSQL LISTEN/NOTIFY)")

// BenchmarkClusterPropagation measures how long a change made through one node takes to reach
// another (docs/architecture.md §4.5): two nodes share one PostgreSQL database; each iteration
// revokes a deploy token through A and polls B until it refuses the token, then turns external
// authorization (a cached setting that refuses deploy tokens) on through A and polls B the same
// way, and off again. It reports the p50 and p99 of both delays; -bench.redis=redis://… carries the
// invalidations over Redis instead of LISTEN/NOTIFY.
func BenchmarkClusterPropagation(b *testing.B) {
	db, dir := testenv.PostgresURL(b), b.TempDir()
	shared := func(c *config.Config) {
		c.DatabaseURL, c.DataDir = db, dir
		if *benchRedis != "" {
			c.RedisURL = *benchRedis
		}
	}
	a, other := testenv.StartServer(b, shared), testenv.StartServer(b, shared)
	var p testenv.Project
	a.MustAPI(b, http.StatusCreated, "POST", "/projects", map[string]any{"name": "app", "path": "app"}, &p)
	ctx := context.Background()
	var revokes, settings []time.Duration
	refused := func(tok testenv.DeployToken) time.Duration {
		start := time.Now()
		for {
			if r := other.InfoRefs(b, p.FullPath, tok.Username, tok.Token); r.Status != http.StatusOK {
				return time.Since(start)
			}
			if time.Since(start) > 5*time.Second {
				b.Fatal("B still accepts the token after 5 s")
			}
		}
	}
	b.ResetTimer()
	for range b.N {
		tok := a.CreateDeployToken(b, fmt.Sprintf("projects/%d", p.ID), []string{"read_repository"}, nil)
		if r := other.InfoRefs(b, p.FullPath, tok.Username, tok.Token); r.Status != http.StatusOK {
			b.Fatalf("B refuses a new token: %d", r.Status)
		}
		a.MustAPI(b, http.StatusNoContent, "DELETE", fmt.Sprintf("/projects/%d/deploy_tokens/%d", p.ID, tok.ID), nil, nil)
		revokes = append(revokes, refused(tok))

		tok = a.CreateDeployToken(b, fmt.Sprintf("projects/%d", p.ID), []string{"read_repository"}, nil)
		set := access.ExternalSettings{Enabled: true, ServiceURL: "http://127.0.0.1:1/authorize", Timeout: access.DefaultExternalTimeout}
		if err := a.Server.ExternalAuthorization.SaveSettings(ctx, set); err != nil {
			b.Fatal(err)
		}
		settings = append(settings, refused(tok))
		set.Enabled = false
		if err := a.Server.ExternalAuthorization.SaveSettings(ctx, set); err != nil {
			b.Fatal(err)
		}
		// Turning it off propagates the same way; wait for it before the next iteration.
		if !testenv.Eventually(5*time.Second, func() bool {
			return other.InfoRefs(b, p.FullPath, tok.Username, tok.Token).Status == http.StatusOK
		}) {
			b.Fatal("B still refuses 5 s after external authorization was turned off")
		}
	}
	b.StopTimer()
	for _, m := range []struct {
		name string
		ds   []time.Duration
	}{{"revoke", revokes}, {"setting", settings}} {
		slices.Sort(m.ds)
		b.ReportMetric(float64(m.ds[len(m.ds)/2].Microseconds())/1000, m.name+"-p50-ms")
		b.ReportMetric(float64(m.ds[min(len(m.ds)-1, len(m.ds)*99/100)].Microseconds())/1000, m.name+"-p99-ms")
	}
}

// BenchmarkClusterCPU measures the CPU time per request of one node and of a three-node cluster
// on one PostgreSQL database (docs/architecture.md §4.5: the bus, the shared ban, the token
// cache), requests spread round-robin over the nodes by concurrent clients: HEAD of a manifest
// with a bearer JWT, a 4 KiB generic-package GET with a deploy token in basic auth, and
// /jwt/auth with the same token. The nodes and the clients share this process, so cpu-ns/op is
// everything but PostgreSQL; bench/run prints each cluster/single ratio (goal <= 1.15).
func BenchmarkClusterCPU(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			db, dir := testenv.PostgresURL(b), b.TempDir()
			nodes := make([]*testenv.TestServer, n)
			for i := range nodes {
				nodes[i] = testenv.StartServer(b, func(c *config.Config) {
					c.DatabaseURL, c.DataDir, c.SecretKey, c.LogLevel = db, dir, benchKey, "info"
				})
			}
			a := nodes[0]
			var g testenv.Project
			a.MustAPI(b, http.StatusCreated, http.MethodPost, "/groups", map[string]any{"name": "bench", "path": "bench"}, &g)
			project := createBenchProject(b, a, g.ID, "app", "")
			dt := a.CreateDeployToken(b, fmt.Sprintf("projects/%d", project),
				[]string{"read_registry", "write_registry", "read_package_registry", "write_package_registry"}, nil)
			client := &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, DisableCompression: true}}
			b.Cleanup(client.CloseIdleConnections)

			content := bytes.Repeat([]byte("gatehouse-bench\n"), 256) // 4 KiB
			filePath := fmt.Sprintf("/api/v4/projects/%d/packages/generic/app/1.0.0/app.bin", project)
			put, _ := http.NewRequest(http.MethodPut, a.URL+filePath, bytes.NewReader(content))
			put.SetBasicAuth(dt.Username, dt.Token)
			mustStatus(b, client, put, http.StatusCreated)
			const repo = "bench/app"
			_, pushToken, _ := testenv.RegistryToken(b, a.URL, "container_registry", dt.Username, dt.Token, "repository:"+repo+":push,pull")
			pushSmallImage(b, client, a.URL, repo, pushToken)
			_, pullToken, _ := testenv.RegistryToken(b, a.URL, "container_registry", dt.Username, dt.Token, "repository:"+repo+":pull")

			requests := map[string]func(base string) *http.Request{
				"head-manifest": func(base string) *http.Request {
					r, _ := http.NewRequest(http.MethodHead, base+"/v2/"+repo+"/manifests/latest", nil)
					r.Header.Set("Authorization", "Bearer "+pullToken)
					r.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
					return r
				},
				"generic-get": func(base string) *http.Request {
					r, _ := http.NewRequest(http.MethodGet, base+filePath, nil)
					r.SetBasicAuth(dt.Username, dt.Token)
					return r
				},
				"jwt-auth": func(base string) *http.Request {
					r, _ := http.NewRequest(http.MethodGet, base+"/jwt/auth?service=container_registry&scope=repository:"+repo+":push,pull", nil)
					r.SetBasicAuth(dt.Username, dt.Token)
					return r
				},
			}
			for _, name := range []string{"head-manifest", "generic-get", "jwt-auth"} {
				newReq := requests[name]
				for _, node := range nodes {
					mustStatus(b, client, newReq(node.URL), http.StatusOK)
				}
				b.Run(name, func(b *testing.B) {
					var next atomic.Uint64
					c0 := testenv.CPUTime()
					b.SetParallelism(clientsPerCPU)
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							resp, err := client.Do(newReq(nodes[next.Add(1)%uint64(len(nodes))].URL))
							if err != nil {
								b.Error(err)
								return
							}
							_, _ = io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
							if resp.StatusCode != http.StatusOK {
								b.Errorf("%s: status %d", name, resp.StatusCode)
								return
							}
						}
					})
					b.StopTimer()
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
					b.ReportMetric(float64(testenv.CPUTime()-c0)/float64(b.N), "cpu-ns/op")
				})
			}
		})
	}
}

// mustStatus sends req and fails unless it answers want.
func mustStatus(b *testing.B, client *http.Client, req *http.Request, want int) {
	b.Helper()
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		b.Fatalf("%s %s: %d %s, want %d", req.Method, req.URL.Path, resp.StatusCode, body, want)
	}
}

// pushSmallImage pushes a config blob and an OCI manifest tagged latest to repo (monolithic
// upload: POST, then PUT with the digest).
func pushSmallImage(b *testing.B, client *http.Client, base, repo, bearer string) {
	b.Helper()
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	sum := sha256.Sum256(config)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	post, _ := http.NewRequest(http.MethodPost, base+"/v2/"+repo+"/blobs/uploads/", nil)
	post.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := client.Do(post)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || resp.StatusCode != http.StatusAccepted {
		b.Fatalf("start upload: %d %v", resp.StatusCode, err)
	}
	q := loc.Query()
	q.Set("digest", digest)
	loc.RawQuery = q.Encode()
	putBlob, _ := http.NewRequest(http.MethodPut, loc.String(), bytes.NewReader(config))
	putBlob.Header.Set("Authorization", "Bearer "+bearer)
	putBlob.Header.Set("Content-Type", "application/octet-stream")
	mustStatus(b, client, putBlob, http.StatusCreated)
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[]}`, digest, len(config))
	putManifest, _ := http.NewRequest(http.MethodPut, base+"/v2/"+repo+"/manifests/latest", strings.NewReader(manifest))
	putManifest.Header.Set("Authorization", "Bearer "+bearer)
	putManifest.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	mustStatus(b, client, putManifest, http.StatusCreated)
}
