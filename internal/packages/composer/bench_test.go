package composer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
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

// BenchmarkInstallManyDeps has the real composer install acme/app, which requires 50 other
// packages (each in its own project of the group), into a fresh project with an empty cache each
// time: through the group's repository with a group deploy token ("gatehouse"), and from a local
// file:// repository holding the same metadata and archives ("local", the client's own offline
// install). Run it with -benchtime=3x; the ratio of the two is what Gatehouse adds to an install.
func BenchmarkInstallManyDeps(b *testing.B) {
	const deps = 50
	e := &env{}
	e.ts, e.f = testenv.StartWithFixture(b, func(c *config.Config) { c.LogLevel = "info" })
	tok := e.ts.CreateDeployToken(b, fmt.Sprintf("groups/%d", e.f.GroupID), []string{"read_package_registry", "write_package_registry"}, nil)
	require := map[string]string{}
	for i := range deps {
		name := fmt.Sprintf("acme/dep%02d", i)
		benchPublish(b, e, tok, name, nil)
		require[name] = "^1.0"
	}
	benchPublish(b, e, tok, "acme/app", require)

	// The local repository: the same documents, with the archives downloaded to disk.
	local := b.TempDir()
	all := map[string]any{}
	for _, name := range append(slices.Collect(maps.Keys(require)), "acme/app") {
		st, body := e.do(b, http.MethodGet, e.p2(e.f.GroupID, name), tok.Username, tok.Token, nil)
		var doc struct{ Packages map[string][]map[string]any }
		if st != http.StatusOK || json.Unmarshal([]byte(body), &doc) != nil || len(doc.Packages[name]) != 1 {
			b.Fatalf("p2 %s: %d %s", name, st, body)
		}
		v := doc.Packages[name][0]
		dist := v["dist"].(map[string]any)
		zip := filepath.Join(local, strings.ReplaceAll(name, "/", "-")+".zip")
		req, _ := http.NewRequest(http.MethodGet, dist["url"].(string), nil)
		req.SetBasicAuth(tok.Username, tok.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err := os.WriteFile(zip, data, 0o644); err != nil {
			b.Fatal(err)
		}
		dist["url"] = zip
		all[name] = map[string]any{v["version"].(string): v}
	}
	doc, _ := json.Marshal(map[string]any{"packages": all})
	if err := os.WriteFile(filepath.Join(local, "packages.json"), doc, 0o644); err != nil {
		b.Fatal(err)
	}
	install := func(b *testing.B, repo, user string) {
		for b.Loop() {
			b.StopTimer()
			c := e.clientFor(b, repo, user, tok.Token)
			b.StartTimer()
			out, code := c.run(b, "require", "acme/app:1.0.0")
			if code != 0 || c.installed("acme/dep19") == "" {
				b.Fatalf("composer require: exit %d\n%s", code, out)
			}
		}
	}
	b.Run("gatehouse", func(b *testing.B) { install(b, e.groupRepo(e.f.GroupID), tok.Username) })
	b.Run("local", func(b *testing.B) { install(b, "file://"+filepath.Join(local, "packages.json"), "") })
}

// benchPublish creates a project of the group holding the package name (requiring require),
// pushes it with tag v1.0.0 and publishes that tag.
func benchPublish(b *testing.B, e *env, tok testenv.DeployToken, name string, require map[string]string) {
	path := strings.ReplaceAll(name, "/", "-")
	var p testenv.Project
	e.ts.MustAPI(b, http.StatusCreated, http.MethodPost, "/projects", map[string]any{"name": path, "path": path, "namespace_id": e.f.GroupID}, &p)
	manifest, _ := json.Marshal(map[string]any{"name": name, "type": "library", "require": require,
		"autoload": map[string]any{"psr-4": map[string]string{"Acme\\": "src/"}}})
	if require == nil {
		manifest, _ = json.Marshal(map[string]any{"name": name, "type": "library", "autoload": map[string]any{"psr-4": map[string]string{"Acme\\": "src/"}}})
	}
	e.pushFiles(b, p.FullPath, "v1.0.0", map[string]string{"composer.json": string(manifest),
		"src/Hello.php": "<?php\nnamespace Acme;\nclass Hello { const WHO = '" + name + "'; }\n"})
	if st, body := e.publishTo(b, p.ID, tok.Username, tok.Token, url.Values{"tag": {"v1.0.0"}}); st != http.StatusCreated {
		b.Fatalf("publish %s: %d %s", name, st, body)
	}
}
