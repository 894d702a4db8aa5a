package nuget

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// TestRouteTable: every route is either a public service document (GET only, no data) or names
// an access action and a handler; reads need ReadPackage, writes WritePackage; groups are
// read-only; nothing else is routed.
func TestRouteTable(t *testing.T) {
	publicKinds := map[kind]bool{kindServiceIndex: true, kindV2Metadata: true}
	for lv, kinds := range routes {
		for k, methods := range kinds {
			for m, ep := range methods {
				if ep.serve == nil {
					t.Errorf("%d/%d %s: no handler", lv, k, m)
				}
				switch {
				case ep.public != "":
					if m != http.MethodGet || !publicKinds[k] || ep.action != "" {
						t.Errorf("%d/%d %s: public route that is not a GET of a service document", lv, k, m)
					}
				case m == http.MethodGet:
					if ep.action != access.ReadPackage {
						t.Errorf("%d/%d GET needs %q, want read", lv, k, ep.action)
					}
				case m == http.MethodPut:
					if ep.action != access.WritePackage || lv != levelProject || (k != kindPublish && k != kindV2Service) {
						t.Errorf("%d/%d PUT needs %q", lv, k, ep.action)
					}
				default:
					t.Errorf("%d/%d: %s is routed", lv, k, m)
				}
			}
		}
	}
	if len(routes[levelGroup]) != 6 || len(routes[levelProject]) != 12 {
		t.Fatalf("routes: %d group kinds, %d project kinds", len(routes[levelGroup]), len(routes[levelProject]))
	}
}

func TestParsePath(t *testing.T) {
	const p = "/api/v4/projects/7/packages/nuget"
	const g = "/api/v4/groups/group%2Fsub/-/packages/nuget"
	v := func(s string) Version { x, err := ParseVersion(s); must(t, err); return x }
	cases := []struct {
		name, path string
		want       Route
		kind       error
	}{
		{"ok/publish", p, Route{level: levelProject, kind: kindPublish, Ref: "7", Prefix: p}, nil},
		{"ok/publish slash", p + "/", Route{level: levelProject, kind: kindPublish, Ref: "7", Prefix: p}, nil},
		{"ok/index", p + "/index.json", Route{level: levelProject, kind: kindServiceIndex, Ref: "7", Prefix: p}, nil},
		{"ok/query", p + "/query", Route{level: levelProject, kind: kindSearch, Ref: "7", Prefix: p}, nil},
		{"ok/versions", p + "/download/My.Pkg/index.json", Route{level: levelProject, kind: kindVersions, Ref: "7", Prefix: p, ID: "My.Pkg"}, nil},
		{"ok/content", p + "/download/my.pkg/1.2.0-beta/my.pkg.1.2.0-beta.nupkg",
			Route{level: levelProject, kind: kindContent, Ref: "7", Prefix: p, ID: "my.pkg", Version: v("1.2.0-beta")}, nil},
		{"ok/content unnormalised", p + "/download/my.pkg/1.02.0.0/My.Pkg.1.02.0.0.nupkg",
			Route{level: levelProject, kind: kindContent, Ref: "7", Prefix: p, ID: "my.pkg", Version: v("1.02.0.0")}, nil},
		{"ok/registration", p + "/metadata/my.pkg/index.json", Route{level: levelProject, kind: kindRegistration, Ref: "7", Prefix: p, ID: "my.pkg"}, nil},
		{"ok/leaf", p + "/metadata/my.pkg/1.0.0.json", Route{level: levelProject, kind: kindRegistrationLeaf, Ref: "7", Prefix: p, ID: "my.pkg", Version: v("1.0.0")}, nil},
		{"ok/v2", p + "/v2", Route{level: levelProject, kind: kindV2Service, Ref: "7", Prefix: p}, nil},
		{"ok/v2 slash", p + "/v2/", Route{level: levelProject, kind: kindV2Service, Ref: "7", Prefix: p}, nil},
		{"ok/v2 metadata", p + "/v2/$metadata", Route{level: levelProject, kind: kindV2Metadata, Ref: "7", Prefix: p}, nil},
		{"ok/v2 find", p + "/v2/FindPackagesById()", Route{level: levelProject, kind: kindV2FindByID, Ref: "7", Prefix: p}, nil},
		{"ok/v2 entry", p + "/v2/Packages(Id='My.Pkg',Version='1.0.0')",
			Route{level: levelProject, kind: kindV2Entry, Ref: "7", Prefix: p, ID: "My.Pkg", Version: v("1.0.0")}, nil},
		{"ok/v2 entry escaped", p + "/v2/Packages(Id=%27My.Pkg%27,Version=%271.0.0%27)",
			Route{level: levelProject, kind: kindV2Entry, Ref: "7", Prefix: p, ID: "My.Pkg", Version: v("1.0.0")}, nil},
		{"ok/v2 download", p + "/v2/download/my.pkg/1.0.0", Route{level: levelProject, kind: kindV2Download, Ref: "7", Prefix: p, ID: "my.pkg", Version: v("1.0.0")}, nil},
		{"ok/group index", g + "/index.json", Route{level: levelGroup, kind: kindServiceIndex, Ref: "group/sub", Prefix: g}, nil},
		{"ok/group query", g + "/query", Route{level: levelGroup, kind: kindSearch, Ref: "group/sub", Prefix: g}, nil},
		{"ok/escaped project path", "/api/v4/projects/group%2Fsub%2Fchild/packages/nuget/index.json",
			Route{level: levelProject, kind: kindServiceIndex, Ref: "group/sub/child", Prefix: "/api/v4/projects/group%2Fsub%2Fchild/packages/nuget"}, nil},
		{"fail/other format", "/api/v4/projects/7/packages/npm/index.json", Route{}, packages.ErrNotFound},
		{"fail/nugetx", "/api/v4/projects/7/packages/nugetx/index.json", Route{}, packages.ErrNotFound},
		{"fail/group v2", g + "/v2", Route{}, packages.ErrNotFound},
		{"fail/unknown", p + "/symbolpackage", Route{}, packages.ErrNotFound},
		{"fail/empty id", "/api/v4/projects//packages/nuget/index.json", Route{}, packages.ErrNotFound},
		{"fail/content name mismatch", p + "/download/my.pkg/1.0.0/other.1.0.0.nupkg", Route{}, packages.ErrNotFound},
		{"fail/content snupkg", p + "/download/my.pkg/1.0.0/my.pkg.1.0.0.snupkg", Route{}, packages.ErrNotFound},
		{"fail/id dot-dot", p + "/download/../index.json", Route{}, packages.ErrInvalid},
		{"fail/id encoded dot-dot", p + "/metadata/%2e%2e/index.json", Route{}, packages.ErrInvalid},
		{"fail/id encoded slash", p + "/metadata/a%2f..%2fb/index.json", Route{}, packages.ErrInvalid},
		{"fail/id backslash", p + "/metadata/..%5cetc/index.json", Route{}, packages.ErrInvalid},
		{"fail/id NUL", p + "/metadata/a%00b/index.json", Route{}, packages.ErrInvalid},
		{"fail/id newline", p + "/metadata/a%0ab/index.json", Route{}, packages.ErrInvalid},
		{"fail/id absurd", p + "/metadata/" + strings.Repeat("a", 200) + "/index.json", Route{}, packages.ErrInvalid},
		{"fail/version traversal", p + "/download/a/..%2f..%2f1/a.1.nupkg", Route{}, packages.ErrInvalid},
		{"fail/version words", p + "/metadata/a/latest.json", Route{}, packages.ErrInvalid},
		{"fail/bad escape", p + "/metadata/%zz/index.json", Route{}, packages.ErrInvalid},
		{"fail/v2 entry malformed", p + "/v2/Packages(Id=My.Pkg)", Route{}, packages.ErrNotFound},
		{"fail/absurd path", p + "/" + strings.Repeat("a/", 2000), Route{}, packages.ErrNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParsePath(c.path)
			if c.kind != nil {
				if !errors.Is(err, c.kind) {
					t.Fatalf("err = %v, want %v", err, c.kind)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("ParsePath = %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func FuzzParseNuGetPath(f *testing.F) {
	// Seeds: the paths nuget.exe 2.8 and dotnet nuget request, and hostile variants.
	for _, s := range []string{
		"/api/v4/projects/24/packages/nuget/index.json",
		"/api/v4/projects/24/packages/nuget/v2/",
		"/api/v4/projects/24/packages/nuget/v2/Packages(Id='Gatehouse.Hello',Version='1.0.0')",
		"/api/v4/projects/24/packages/nuget/v2/FindPackagesById()",
		"/api/v4/projects/24/packages/nuget/download/gatehouse.hello/1.0.0/gatehouse.hello.1.0.0.nupkg",
		"/api/v4/projects/group%2Fproject/packages/nuget/metadata/gatehouse.hello/index.json",
		"/api/v4/groups/3/-/packages/nuget/query",
		"/api/v4/projects/24/packages/nuget/metadata/%2e%2e/1.0.0.json",
		"/api/v4/projects/24/packages/nuget/download/a/1.0.0/..%2f..%2fa.1.0.0.nupkg",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		rt, err := ParsePath(p)
		if err != nil {
			if !errors.Is(err, packages.ErrNotFound) && !errors.Is(err, packages.ErrInvalid) {
				t.Fatalf("error of an unknown kind: %v", err)
			}
			return
		}
		if rt.ID != "" {
			if packages.ValidateName(rt.ID) != nil || packages.ValidateFilename(rt.ID+"."+rt.Version.Key()+".nupkg") != nil ||
				packages.ValidateVersion(rt.Version.Key()) != nil {
				t.Fatalf("parsed %+v fails the core's validation", rt)
			}
		}
		if _, err := url.PathUnescape(rt.Prefix); err != nil {
			t.Fatalf("prefix %q does not unescape", rt.Prefix)
		}
	})
}
