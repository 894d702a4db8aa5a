package generic

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// TestRouteTable: every route maps to an access action and a handler; reads need ReadPackage,
// writes WritePackage; nothing else is routed.
func TestRouteTable(t *testing.T) {
	want := map[string]access.Action{http.MethodGet: access.ReadPackage, http.MethodHead: access.ReadPackage, http.MethodPut: access.WritePackage}
	if len(routes) != len(want) {
		t.Fatalf("routes has %d methods, want %d", len(routes), len(want))
	}
	for m, ep := range routes {
		if ep.action == "" || ep.serve == nil {
			t.Errorf("%s: route without access action or handler", m)
		}
		if ep.action != want[m] {
			t.Errorf("%s needs %q, want %q", m, ep.action, want[m])
		}
	}
	for _, m := range []string{http.MethodPost, http.MethodDelete, http.MethodPatch, "PROPFIND"} {
		if _, ok := routes[m]; ok {
			t.Errorf("%s is routed", m)
		}
	}
}

func TestParsePath(t *testing.T) {
	cases := []struct {
		name, path string
		want       Route
		kind       error
	}{
		{"ok/numeric id", "/api/v4/projects/7/packages/generic/tool/1.2.3/tool-linux_amd64.tar.gz",
			Route{Project: "7", Name: "tool", Version: "1.2.3", File: "tool-linux_amd64.tar.gz"}, nil},
		{"ok/escaped full path", "/api/v4/projects/group%2Fsub%2Fchild/packages/generic/my.pkg/v1.0-rc+1/a~b.deb",
			Route{Project: "group/sub/child", Name: "my.pkg", Version: "v1.0-rc+1", File: "a~b.deb"}, nil},
		{"fail/too few segments", "/api/v4/projects/7/packages/generic/tool/1.2.3", Route{}, packages.ErrNotFound},
		{"fail/too many segments", "/api/v4/projects/7/packages/generic/tool/1/a/b", Route{}, packages.ErrNotFound},
		{"fail/other format", "/api/v4/projects/7/packages/npm/tool/1/a", Route{}, packages.ErrNotFound},
		{"fail/empty id", "/api/v4/projects//packages/generic/tool/1/a", Route{}, packages.ErrNotFound},
		{"fail/bad escape in id", "/api/v4/projects/%zz/packages/generic/tool/1/a", Route{}, packages.ErrNotFound},
		{"fail/name dot-dot", "/api/v4/projects/7/packages/generic/../1/a", Route{}, packages.ErrInvalid},
		{"fail/name encoded dot-dot", "/api/v4/projects/7/packages/generic/%2e%2e/1/a", Route{}, packages.ErrInvalid},
		{"fail/name encoded slash", "/api/v4/projects/7/packages/generic/a%2f..%2fb/1/a", Route{}, packages.ErrInvalid},
		{"fail/name backslash", "/api/v4/projects/7/packages/generic/..%5cetc/1/a", Route{}, packages.ErrInvalid},
		{"fail/name NUL", "/api/v4/projects/7/packages/generic/a%00b/1/a", Route{}, packages.ErrInvalid},
		{"fail/name newline", "/api/v4/projects/7/packages/generic/a%0ab/1/a", Route{}, packages.ErrInvalid},
		{"fail/name space", "/api/v4/projects/7/packages/generic/a%20b/1/a", Route{}, packages.ErrInvalid},
		{"fail/name absurd length", "/api/v4/projects/7/packages/generic/" + strings.Repeat("a", 600) + "/1/a", Route{}, packages.ErrInvalid},
		{"fail/version dot-dot inside", "/api/v4/projects/7/packages/generic/a/1..2/a", Route{}, packages.ErrInvalid},
		{"fail/version tilde", "/api/v4/projects/7/packages/generic/a/1~2/a", Route{}, packages.ErrInvalid},
		{"fail/file dot", "/api/v4/projects/7/packages/generic/a/1/.", Route{}, packages.ErrInvalid},
		{"fail/file encoded traversal", "/api/v4/projects/7/packages/generic/a/1/..%2f..%2fsecret", Route{}, packages.ErrInvalid},
		{"fail/file bad escape", "/api/v4/projects/7/packages/generic/a/1/%g0", Route{}, packages.ErrInvalid},
		{"fail/empty file", "/api/v4/projects/7/packages/generic/a/1/", Route{}, packages.ErrInvalid},
		{"fail/absurd path", "/api/v4/projects/7/packages/generic/" + strings.Repeat("a/", 3000), Route{}, packages.ErrNotFound},
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

func TestParseQuery(t *testing.T) {
	for q, want := range map[string]Query{
		"":                                   {Status: packages.StatusDefault},
		"status=hidden":                      {Status: packages.StatusHidden},
		"select=package_file&status=default": {Status: packages.StatusDefault, SelectFile: true},
		"unknown=1":                          {Status: packages.StatusDefault},
	} {
		v, _ := url.ParseQuery(q)
		if got, err := ParseQuery(v); err != nil || got != want {
			t.Errorf("%q: %+v, %v", q, got, err)
		}
	}
	for _, q := range []string{"status=deleted", "select=package"} {
		v, _ := url.ParseQuery(q)
		if _, err := ParseQuery(v); !errors.Is(err, packages.ErrInvalid) {
			t.Errorf("%q: err = %v, want ErrInvalid", q, err)
		}
	}
}

func FuzzParseGenericPath(f *testing.F) {
	// Seeds: what curl sends for GitLab's documented examples, and hostile variants.
	for _, s := range []string{
		"/api/v4/projects/24/packages/generic/my_package/0.0.1/file.txt",
		"/api/v4/projects/group%2Fsub%2Fproject/packages/generic/my_package/0.0.1/file.txt",
		"/api/v4/projects/24/packages/generic/my_package/0.0.1/file.txt?select=package_file",
		"/api/v4/projects/24/packages/generic/%2e%2e/0.0.1/file.txt",
		"/api/v4/projects/24/packages/generic/a/1/..%2f..%2fetc%2fpasswd",
		"/api/v4/projects/24/packages/generic/a%00/1/b",
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
		// Whatever parses is safe for the core, and round-trips.
		if packages.ValidateName(rt.Name) != nil || packages.ValidateVersion(rt.Version) != nil || packages.ValidateFilename(rt.File) != nil {
			t.Fatalf("parsed %+v fails the core's validation", rt)
		}
		for _, s := range []string{rt.Name, rt.Version, rt.File} {
			if strings.ContainsAny(s, "/\\\x00") || s == "." || s == ".." {
				t.Fatalf("unsafe component %q in %+v", s, rt)
			}
		}
		again, err := ParsePath("/api/v4/projects/" + url.PathEscape(rt.Project) + "/packages/generic/" + rt.Name + "/" + rt.Version + "/" + rt.File)
		if err != nil || again != rt {
			t.Fatalf("round trip of %+v: %+v, %v", rt, again, err)
		}
	})
}
