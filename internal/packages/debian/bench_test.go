package debian_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/packages/debian"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// BenchmarkIndex measures what apt-get update asks for, through the whole handler stack without
// the network: InRelease (the Release of every index, clear-signed) and one Packages index of a
// distribution of 50 packages, with a group deploy token on a private project and without
// credentials on a public one (the ratio of the two is the cost of the token; goal ≥ 0.9×).
func BenchmarkIndex(b *testing.B) {
	ts := testenv.StartServer(b, func(c *config.Config) { c.LogLevel = "info" })
	var g struct {
		ID int64 `json:"id"`
	}
	ts.MustAPI(b, http.StatusCreated, http.MethodPost, "/groups", map[string]any{"name": "bench", "path": "bench", "visibility": "public"}, &g)
	e := &env{ts: ts, f: testenv.Fixture{GroupID: g.ID, Projects: map[string]testenv.Project{}}}
	for _, p := range []struct{ path, visibility string }{{"top", "private"}, {"pub", "public"}} {
		var proj testenv.Project
		ts.MustAPI(b, http.StatusCreated, "POST", "/projects", map[string]any{"name": p.path, "path": p.path,
			"namespace_id": g.ID, "visibility": p.visibility}, &proj)
		e.f.Projects[p.path] = proj
	}
	dt := ts.CreateDeployToken(b, fmt.Sprintf("groups/%d", g.ID), rw, nil)
	h := ts.Server.Handler()
	for _, p := range []string{"top", "pub"} {
		e.createDistribution(b, e.projectOwner(p), "stable", dt)
		for i := range 50 {
			name := fmt.Sprintf("pkg%02d", i)
			deb := debian.BuildDeb(b, name, "1.0-1", "amd64", map[string]string{"Depends": "libc6 (>= 2.36)"})
			if status, body := e.upload(b, p, "stable", "main", deb, name+"_1.0-1_amd64.deb", dt); status != http.StatusCreated {
				b.Fatalf("upload: %d %s", status, body)
			}
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
			if rec.Code != http.StatusOK {
				b.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		b.ReportMetric(float64(testenv.CPUTime()-c0)/float64(b.N), "cpu-ns/op")
	}
	for _, doc := range []string{"InRelease", "main/binary-amd64/Packages"} {
		path := func(p string) string {
			return fmt.Sprintf("/api/v4/projects/%d/packages/debian/dists/stable/%s", e.f.Projects[p].ID, doc)
		}
		b.Run(doc+"/deploy-token", func(b *testing.B) { get(b, path("top"), true) })
		b.Run(doc+"/public", func(b *testing.B) { get(b, path("pub"), false) })
	}
}

// BenchmarkAptInstallManyDependencies is a whole apt-get update and apt-get install
// --download-only of a package with 50 dependencies from a project distribution with a deploy
// token, against the same distribution copied to a local directory (a file: source, the
// client's offline baseline).
func BenchmarkAptInstallManyDependencies(b *testing.B) {
	ts, f := testenv.StartWithFixture(b, func(c *config.Config) { c.LogLevel = "info" })
	e := &env{ts: ts, f: f}
	dt := ts.CreateDeployToken(b, e.projectOwner("top"), rw, nil)
	key := e.createDistribution(b, e.projectOwner("top"), "stable", dt)
	var deps []string
	for i := range 50 {
		name := fmt.Sprintf("dep%02d", i)
		deps = append(deps, name)
		deb := debian.BuildDeb(b, name, "1.0", "amd64", map[string]string{"@data": strings.Repeat(name, 4096)})
		if status, body := e.upload(b, "top", "stable", "main", deb, name+"_1.0_amd64.deb", dt); status != http.StatusCreated {
			b.Fatalf("upload: %d %s", status, body)
		}
	}
	meta := debian.BuildDeb(b, "meta", "1.0", "all", map[string]string{"Depends": strings.Join(deps, ", ")})
	if status, body := e.upload(b, "top", "stable", "main", meta, "meta_1.0_all.deb", dt); status != http.StatusCreated {
		b.Fatalf("upload: %d %s", status, body)
	}
	// The local copy: the Release, the index and every file it names, as Gatehouse serves them.
	local := b.TempDir()
	fetch := func(rel string) []byte {
		status, body := do(b, http.MethodGet, e.repo("top")+"/"+rel, dt, nil)
		if status != http.StatusOK {
			b.Fatalf("GET %s: %d", rel, status)
		}
		p := filepath.Join(local, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			b.Fatal(err)
		}
		return body
	}
	fetch("dists/stable/Release")
	for _, line := range strings.Split(string(fetch("dists/stable/main/binary-amd64/Packages")), "\n") {
		if file, ok := strings.CutPrefix(line, "Filename: "); ok {
			u, _ := url.PathUnescape(file)
			fetch(u)
		}
	}
	fetch("dists/stable/main/binary-arm64/Packages")
	fetch("dists/stable/contrib/binary-amd64/Packages")
	fetch("dists/stable/contrib/binary-arm64/Packages")

	run := func(b *testing.B, a *apt) {
		for b.Loop() {
			for _, d := range []string{"var/lib/apt/lists", "var/cache/apt/archives"} {
				_ = os.RemoveAll(filepath.Join(a.root, d))
				_ = os.MkdirAll(filepath.Join(a.root, d, "partial"), 0o755)
			}
			if out, code := a.run("update"); code != 0 {
				b.Fatalf("update: %s", out)
			}
			if out, code := a.run("install", "--download-only", "-y", "meta"); code != 0 || !strings.Contains(out, "51 newly installed") {
				b.Fatalf("install: %s", out)
			}
		}
	}
	b.Run("gatehouse", func(b *testing.B) {
		a := newApt(b)
		a.source(e.repo("top"), "stable", key, dt)
		run(b, a)
	})
	b.Run("local", func(b *testing.B) {
		a := newApt(b)
		a.write("etc/apt/sources.list", "deb [trusted=yes] file:"+local+" stable main\n")
		run(b, a)
	})
}
