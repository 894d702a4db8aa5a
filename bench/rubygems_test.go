package bench

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// BenchmarkRubyGemsIndex measures the server side of gem install's metadata requests (the
// dependency API and specs.4.8.gz, both Marshal built per request) through the whole handler
// stack: with a group deploy token in basic auth (as gem sends the source URL's user info) on
// a private project, and without credentials on a public project. The goal is deploy-token ≥
// 0.9× public.
func BenchmarkRubyGemsIndex(b *testing.B) {
	ts, group := startBenchServer(b)
	private := createBenchProject(b, ts, group, "app", "")
	public := createBenchProject(b, ts, group, "pub", "public")
	dt := ts.CreateDeployToken(b, fmt.Sprintf("groups/%d", group), []string{"read_package_registry", "write_package_registry"}, nil)
	gem, err := os.ReadFile("../internal/packages/rubygems/testdata/hello-1.0.0.gem")
	if err != nil {
		b.Fatal(err)
	}
	h := ts.Server.Handler()
	base := func(project int64) string { return fmt.Sprintf("/api/v4/projects/%d/packages/rubygems", project) }
	for _, id := range []int64{private, public} {
		req := httptest.NewRequest(http.MethodPost, base(id)+"/api/v1/gems", bytes.NewReader(gem))
		req.Header.Set("Authorization", dt.Token) // gem push's form
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			b.Fatalf("push to project %d: %d %s", id, rec.Code, rec.Body)
		}
	}
	get := func(b *testing.B, path string, auth bool) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if auth {
			req.SetBasicAuth(dt.Username, dt.Token)
		}
		b.ReportAllocs()
		c0 := testenv.CPUTime()
		for b.Loop() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK || rec.Body.Len() < 8 {
				b.Fatalf("GET %s: %d, %d bytes", path, rec.Code, rec.Body.Len())
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		b.ReportMetric(float64(testenv.CPUTime()-c0)/float64(b.N), "cpu-ns/op")
	}
	for _, doc := range []struct{ name, path string }{{"dependencies", "/api/v1/dependencies?gems=hello"}, {"specs", "/specs.4.8.gz"}} {
		b.Run(doc.name+"/deploy-token", func(b *testing.B) { get(b, base(private)+doc.path, true) })
		b.Run(doc.name+"/public", func(b *testing.B) { get(b, base(public)+doc.path, false) })
	}
}
