package bench

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// BenchmarkTerraformVersions measures the module registry's index request (GET …/versions, what
// `tofu init` asks first) through the whole handler stack without the network: with a group
// deploy token as tofu sends it (Authorization: Bearer, TF_TOKEN_<host>) for a module of a
// private project, and without credentials for a module of a public project in the same
// namespace. The goal is a deploy-token rate of at least 0.9 of the public one.
func BenchmarkTerraformVersions(b *testing.B) {
	ts, group := startBenchServer(b)
	private := createBenchProject(b, ts, group, "app", "")
	public := createBenchProject(b, ts, group, "pub", "public")
	dt := ts.CreateDeployToken(b, fmt.Sprintf("groups/%d", group), []string{"read_package_registry", "write_package_registry"}, nil)
	h := ts.Server.Handler()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	body := []byte("output \"x\" {\n  value = 1\n}\n")
	_ = tw.WriteHeader(&tar.Header{Name: "main.tf", Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
	_, _ = tw.Write(body)
	_ = tw.Close()
	_ = gz.Close()
	for id, name := range map[int64]string{private: "app", public: "pub"} {
		for _, v := range []string{"1.0.0", "1.1.0", "1.2.0", "2.0.0"} {
			req := httptest.NewRequest(http.MethodPut, fmt.Sprintf("/api/v4/projects/%d/packages/terraform/modules/%s/aws/%s/file", id, name, v), bytes.NewReader(buf.Bytes()))
			req.Header.Set("Authorization", "Bearer "+dt.Token)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusCreated {
				b.Fatalf("upload to project %d: %d %s", id, rec.Code, rec.Body)
			}
		}
	}
	get := func(b *testing.B, path string, auth bool) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if auth {
			req.Header.Set("Authorization", "Bearer "+dt.Token)
		}
		b.ReportAllocs()
		c0 := testenv.CPUTime()
		for b.Loop() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		b.ReportMetric(float64(testenv.CPUTime()-c0)/float64(b.N), "cpu-ns/op")
	}
	b.Run("deploy-token", func(b *testing.B) { get(b, "/api/v4/packages/terraform/modules/v1/bench/app/aws/versions", true) })
	b.Run("public", func(b *testing.B) { get(b, "/api/v4/packages/terraform/modules/v1/bench/pub/aws/versions", false) })
}
