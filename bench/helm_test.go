package bench

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// BenchmarkHelmIndex measures the server side of a Helm channel's index.yaml (what `helm repo
// add` and `helm repo update` fetch) holding 10 charts of 3 versions each, through the whole
// handler stack without the network: with a group deploy token in basic auth on a private
// project, and without credentials on a public project. The ratio of the two is the cost of
// the deploy token.
func BenchmarkHelmIndex(b *testing.B) {
	ts, group := startBenchServer(b)
	private := createBenchProject(b, ts, group, "charts", "")
	public := createBenchProject(b, ts, group, "pubcharts", "public")
	dt := ts.CreateDeployToken(b, fmt.Sprintf("groups/%d", group), []string{"read_package_registry", "write_package_registry"}, nil)
	h := ts.Server.Handler()
	// Both projects' charts are uploaded in turn, so neither's rows sit better in the database.
	for c := range 10 {
		for v := range 3 {
			for _, id := range []int64{private, public} {
				body, ct := helmUpload(b, fmt.Sprintf("chart%d", c), fmt.Sprintf("1.%d.0", v))
				req := httptest.NewRequest(http.MethodPost, fmt.Sprintf("/api/v4/projects/%d/packages/helm/api/stable/charts", id), body)
				req.Header.Set("Content-Type", ct)
				req.SetBasicAuth(dt.Username, dt.Token)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusCreated {
					b.Fatalf("upload to project %d: %d %s", id, rec.Code, rec.Body)
				}
			}
		}
	}
	get := func(b *testing.B, project int64, auth bool) {
		path := fmt.Sprintf("/api/v4/projects/%d/packages/helm/stable/index.yaml", project)
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if auth {
			req.SetBasicAuth(dt.Username, dt.Token)
		}
		b.ReportAllocs()
		c0 := testenv.CPUTime()
		for b.Loop() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK || strings.Count(rec.Body.String(), "digest:") != 30 {
				b.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		b.ReportMetric(float64(testenv.CPUTime()-c0)/float64(b.N), "cpu-ns/op")
	}
	b.Run("deploy-token", func(b *testing.B) { get(b, private, true) })
	b.Run("public", func(b *testing.B) { get(b, public, false) })
	// The deploy token on the public project: what the token alone costs, the project's data
	// held equal.
	b.Run("deploy-token-public-project", func(b *testing.B) { get(b, public, true) })
}

// helmUpload is the multipart form of a minimal chart, as curl --form 'chart=@…' sends it.
func helmUpload(b *testing.B, name, version string) (*bytes.Buffer, string) {
	var tgz bytes.Buffer
	gz := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(gz)
	for file, content := range map[string]string{
		name + "/Chart.yaml":  "apiVersion: v2\nname: " + name + "\nversion: " + version + "\ndescription: bench\n",
		name + "/values.yaml": "replicas: 1\n",
	} {
		if err := tw.WriteHeader(&tar.Header{Name: file, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
			b.Fatal(err)
		}
		tw.Write([]byte(content))
	}
	tw.Close()
	gz.Close()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, err := mw.CreateFormFile("chart", name+"-"+version+".tgz")
	if err != nil {
		b.Fatal(err)
	}
	w.Write(tgz.Bytes())
	mw.Close()
	return &body, mw.FormDataContentType()
}
