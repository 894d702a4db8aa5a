package composer_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// BenchmarkMetadata measures the server side of the request composer makes for each package it
// resolves, the group's p2/<name>.json (ten versions), through the whole handler stack without
// the network: with a group deploy token in basic auth for a private project's package, and
// without credentials for a public project's package in the same public group. The goal is
// deploy-token ≥ 0.9× public in req/s.
func BenchmarkMetadata(b *testing.B) {
	ts := testenv.StartServer(b, func(c *config.Config) { c.LogLevel = "info" })
	var g struct {
		ID int64 `json:"id"`
	}
	ts.MustAPI(b, http.StatusCreated, http.MethodPost, "/groups", map[string]any{"name": "bench", "path": "bench", "visibility": "public"}, &g)
	project := func(path, visibility string) int64 {
		var p struct {
			ID int64 `json:"id"`
		}
		ts.MustAPI(b, http.StatusCreated, http.MethodPost, "/projects", map[string]any{"name": path, "path": path, "namespace_id": g.ID, "visibility": visibility}, &p)
		return p.ID
	}
	private, public := project("app", "private"), project("pub", "public")
	for id, name := range map[int64]string{private: "acme/private", public: "acme/public"} {
		for i := range 10 {
			sha := fmt.Sprintf("%040x", i+1)
			meta := fmt.Sprintf(`{"composer_json": {"name": %q, "type": "library", "require": {"php": ">=8.1"}, "autoload": {"psr-4": {"Acme\\": "src/"}}}, "sha": %q, "ref": "v1.0.%d"}`, name, sha, i)
			_, err := ts.Server.Packages.AddFile(context.Background(), packages.Upload{ProjectID: id, Format: packages.Composer, Name: name,
				Version: fmt.Sprintf("1.0.%d", i), Filename: fmt.Sprintf("x-1.0.%d.zip", i), Metadata: []byte(meta), Size: -1, Body: strings.NewReader("zip")})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	dt := ts.CreateDeployToken(b, fmt.Sprintf("groups/%d", g.ID), []string{"read_package_registry"}, nil)
	h := ts.Server.Handler()
	get := func(b *testing.B, name string, auth bool) {
		req := httptest.NewRequest(http.MethodGet, fmt.Sprintf("/api/v4/group/%d/-/packages/composer/p2/%s.json", g.ID, name), nil)
		if auth {
			req.SetBasicAuth(dt.Username, dt.Token)
		}
		b.ReportAllocs()
		c0 := testenv.CPUTime()
		for b.Loop() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"1.0.9"`) {
				b.Fatalf("p2 %s: %d %s", name, rec.Code, rec.Body)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		b.ReportMetric(float64(testenv.CPUTime()-c0)/float64(b.N), "cpu-ns/op")
	}
	b.Run("deploy-token", func(b *testing.B) { get(b, "acme/private", true) })
	b.Run("public", func(b *testing.B) { get(b, "acme/public", false) })
}
