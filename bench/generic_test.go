package bench

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// BenchmarkGenericGet measures the server side of a 4 KiB generic-package download through the
// whole handler stack (middleware, routing, the access decision, the file) without the network,
// one request at a time: with a group deploy token in basic auth on a private project, without
// credentials on a public project, and, as the baseline, Go's http.FileServer serving the same
// bytes from a directory. bench/run's generic section compares the same three over HTTP.
func BenchmarkGenericGet(b *testing.B) {
	ts, group := startBenchServer(b)
	private := createBenchProject(b, ts, group, "app", "")
	public := createBenchProject(b, ts, group, "pub", "public")
	dt := ts.CreateDeployToken(b, fmt.Sprintf("groups/%d", group), []string{"read_package_registry", "write_package_registry"}, nil)
	content := bytes.Repeat([]byte("gatehouse-bench\n"), 256) // 4 KiB
	h := ts.Server.Handler()
	fileURL := func(project int64) string {
		return fmt.Sprintf("/api/v4/projects/%d/packages/generic/app/1.0.0/app.bin", project)
	}
	for _, id := range []int64{private, public} {
		req := httptest.NewRequest(http.MethodPut, fileURL(id), bytes.NewReader(content))
		req.SetBasicAuth(dt.Username, dt.Token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			b.Fatalf("upload to project %d: %d %s", id, rec.Code, rec.Body)
		}
	}
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.bin"), content, 0o644); err != nil {
		b.Fatal(err)
	}
	get := func(b *testing.B, h http.Handler, path string, auth bool) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if auth {
			req.SetBasicAuth(dt.Username, dt.Token)
		}
		b.ReportAllocs()
		c0 := testenv.CPUTime()
		for b.Loop() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK || rec.Body.Len() != len(content) {
				b.Fatalf("GET %s: %d, %d bytes", path, rec.Code, rec.Body.Len())
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		b.ReportMetric(float64(testenv.CPUTime()-c0)/float64(b.N), "cpu-ns/op")
	}
	b.Run("deploy-token", func(b *testing.B) { get(b, h, fileURL(private), true) })
	b.Run("public", func(b *testing.B) { get(b, h, fileURL(public), false) })
	b.Run("fileserver", func(b *testing.B) { get(b, http.FileServer(http.Dir(dir)), "/app.bin", false) })
}
