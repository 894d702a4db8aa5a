package server

import (
	"net/http/httptest"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/metrics"
)

// Each request is labelled with the surface that serves it, by path prefix; the package formats'
// surfaces come from the patterns mounted.
func TestSurfaceOf(t *testing.T) {
	patterns := []string{"/api/v4/projects/{id}/packages/generic/", "/api/v4/projects/{id}/packages/npm/",
		"/api/v4/groups/{id}/-/packages/npm/", "/api/v4/packages/npm/", "/api/v4/packages/maven/",
		"/api/v4/projects/{id}/packages/nuget", "/api/v4/projects/{id}/packages/go/",
		"/api/v4/group/{id}/-/packages/composer/"}
	sf := newSurfaces(metrics.New(), patterns)
	for path, want := range map[string]string{
		"/group/project.git/info/refs":                                "git",
		"/group/project.git/git-upload-pack":                          "git",
		"/group/project/info/refs?service=git-upload-pack":            "git",
		"/group/project/info/refs":                                    "web",
		"/v2/":                                                        "registry",
		"/v2/group/project/manifests/latest":                          "registry",
		"/v2/group/dependency_proxy/containers/alpine/manifests/3.20": "dependency_proxy",
		"/jwt/auth": "jwt_auth",
		"/api/v4/projects/5/packages/generic/tool/1.0.0/tool.bin":   "packages_generic",
		"/api/v4/projects/group/packages/app/packages/npm/@s/a":     "packages_npm",
		"/api/v4/groups/3/-/packages/npm/@scope/pkg":                "packages_npm",
		"/api/v4/packages/npm/@scope/pkg":                           "packages_npm",
		"/api/v4/packages/maven/com/example/app/maven-metadata.xml": "packages_maven",
		"/api/v4/projects/5/packages/nuget":                         "packages_nuget",
		"/api/v4/projects/5/packages/go/example.com/m/@v/list":      "packages_go",
		"/api/v4/group/3/-/packages/composer/p2/acme/tools.json":    "packages_composer",
		"/api/v4/projects/5/packages":                               "api",
		"/api/v4/projects/5/packages/12/package_files":              "api",
		"/api/v4/projects/5/deploy_tokens":                          "api",
		"/-/metrics":                                                "ops",
		"/-/health":                                                 "ops",
		"/users/sign_in":                                            "web",
		"/group/project/-/settings/repository":                      "web",
	} {
		if got := sf.of(httptest.NewRequest("GET", path, nil)).Name(); got != want {
			t.Errorf("%s: surface %s, want %s", path, got, want)
		}
	}
}

// Labelling a request allocates nothing: it runs on every request.
func TestSurfaceOfAllocatesNothing(t *testing.T) {
	sf := newSurfaces(metrics.New(), []string{"/api/v4/projects/{id}/packages/generic/"})
	r := httptest.NewRequest("GET", "/api/v4/projects/5/packages/generic/tool/1.0.0/tool.bin", nil)
	if n := testing.AllocsPerRun(100, func() { sf.observe(r, 200, 0, 4096, 1000) }); n != 0 {
		t.Fatalf("%v allocations per request, want 0", n)
	}
}

// BenchmarkObserve is what the metrics add to one request: its surface, its counters and
// histogram, and its decision.
func BenchmarkObserve(b *testing.B) {
	m := metrics.New()
	sf := newSurfaces(m, []string{"/api/v4/projects/{id}/packages/generic/"})
	decided := observeDecision(m)
	r := httptest.NewRequest("GET", "/api/v4/projects/5/packages/generic/tool/1.0.0/tool.bin", nil)
	p := access.Principal{Kind: access.DeployTokenPrincipal}
	d := access.Decision{Denial: access.Allowed, Cause: access.CauseScope}
	b.ReportAllocs()
	for b.Loop() {
		sf.observe(r, 200, 0, 4096, 1000)
		decided(p, d)
	}
}
