package goproxy

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/mod/module"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// TestRouteTable: every endpoint has an access action and a handler, and every one is a read.
func TestRouteTable(t *testing.T) {
	for _, k := range []Kind{List, Info, Mod, Zip, Latest} {
		ep, ok := routes[k]
		if !ok || ep.serve == nil {
			t.Errorf("%v: not routed or without handler", k)
			continue
		}
		if ep.action != access.ReadPackage {
			t.Errorf("%v needs %q, want %q", k, ep.action, access.ReadPackage)
		}
	}
	if len(routes) != 5 {
		t.Errorf("routes has %d entries, want 5", len(routes))
	}
}

const pfx = "/api/v4/projects/7/packages/go/"

func TestParsePath(t *testing.T) {
	mod := "127.0.0.1/group/sub/child"
	cases := []struct {
		name, path string
		want       Route
		kind       error
	}{
		{"ok/list", pfx + mod + "/@v/list", Route{Project: "7", Module: mod, Kind: List}, nil},
		{"ok/latest", pfx + mod + "/@latest", Route{Project: "7", Module: mod, Kind: Latest}, nil},
		{"ok/info", pfx + mod + "/@v/v1.1.0.info", Route{Project: "7", Module: mod, Kind: Info, Version: "v1.1.0"}, nil},
		{"ok/mod", pfx + mod + "/@v/v1.1.0.mod", Route{Project: "7", Module: mod, Kind: Mod, Version: "v1.1.0"}, nil},
		{"ok/zip", pfx + mod + "/@v/v1.1.0.zip", Route{Project: "7", Module: mod, Kind: Zip, Version: "v1.1.0"}, nil},
		{"ok/escaped project path", "/api/v4/projects/group%2Fsub%2Fchild/packages/go/" + mod + "/@v/list",
			Route{Project: "group/sub/child", Module: mod, Kind: List}, nil},
		{"ok/case-encoded module", pfx + "127.0.0.1/!group/!my!tool/@v/v0.1.0-!r!c.1.info",
			Route{Project: "7", Module: "127.0.0.1/Group/MyTool", Kind: Info, Version: "v0.1.0-RC.1"}, nil},
		{"ok/sub-module and major version", pfx + mod + "/tool/v2/@v/v2.3.4.zip",
			Route{Project: "7", Module: mod + "/tool/v2", Kind: Zip, Version: "v2.3.4"}, nil},
		{"ok/incompatible", pfx + mod + "/@v/v3.0.0+incompatible.mod",
			Route{Project: "7", Module: mod, Kind: Mod, Version: "v3.0.0+incompatible"}, nil},
		{"ok/pseudo-version", pfx + mod + "/@v/v0.0.0-20240506070809-0123456789ab.info",
			Route{Project: "7", Module: mod, Kind: Info, Version: "v0.0.0-20240506070809-0123456789ab"}, nil},
		{"fail/other format", "/api/v4/projects/7/packages/npm/" + mod + "/@v/list", Route{}, packages.ErrNotFound},
		{"fail/no endpoint", pfx + mod, Route{}, packages.ErrNotFound},
		{"fail/unknown endpoint", pfx + mod + "/@v/v1.0.0.tar", Route{}, packages.ErrNotFound},
		{"fail/unknown at", pfx + mod + "/@x/list", Route{}, packages.ErrNotFound},
		{"fail/empty id", "/api/v4/projects//packages/go/" + mod + "/@v/list", Route{}, packages.ErrNotFound},
		{"fail/bad escape in id", "/api/v4/projects/%zz/packages/go/" + mod + "/@v/list", Route{}, packages.ErrNotFound},
		{"fail/absurd path", pfx + strings.Repeat("a/", 3000) + "@v/list", Route{}, packages.ErrNotFound},
		{"fail/upper case unescaped", pfx + "127.0.0.1/Group/x/@v/list", Route{}, packages.ErrInvalid},
		{"fail/dot-dot", pfx + "127.0.0.1/group/../etc/@v/list", Route{}, packages.ErrInvalid},
		{"fail/encoded dot-dot", pfx + "127.0.0.1/group/%2e%2e/%2e%2e/etc/@v/list", Route{}, packages.ErrInvalid},
		{"fail/encoded slash traversal", pfx + "127.0.0.1/group%2f..%2f..%2fetc/@v/list", Route{}, packages.ErrInvalid},
		{"fail/backslash", pfx + "127.0.0.1/group/..%5cetc/@v/list", Route{}, packages.ErrInvalid},
		{"fail/NUL", pfx + "127.0.0.1/group/a%00b/@v/list", Route{}, packages.ErrInvalid},
		{"fail/newline", pfx + "127.0.0.1/group/a%0ab/@v/list", Route{}, packages.ErrInvalid},
		{"fail/leading dash option", pfx + "-upload-pack=x/@v/list", Route{}, packages.ErrInvalid},
		{"fail/double slash", pfx + "127.0.0.1//group/@v/list", Route{}, packages.ErrInvalid},
		{"fail/trailing slash", pfx + "127.0.0.1/group//@v/list", Route{}, packages.ErrInvalid},
		{"fail/no dot in host", pfx + "localhost/group/@v/list", Route{}, packages.ErrInvalid},
		{"fail/module with port", pfx + "127.0.0.1:8080/group/@v/list", Route{}, packages.ErrInvalid},
		{"fail/empty module", pfx + "@v/list", Route{}, packages.ErrNotFound},
		{"fail/absurd module", pfx + "a.b/" + strings.Repeat("c", 600) + "/@v/list", Route{}, packages.ErrInvalid},
		{"fail/version traversal", pfx + mod + "/@v/..%2f..%2fconfig.info", Route{}, packages.ErrInvalid},
		{"fail/version dot-dot", pfx + mod + "/@v/...zip", Route{}, packages.ErrInvalid},
		{"fail/version empty", pfx + mod + "/@v/.zip", Route{}, packages.ErrInvalid},
		{"fail/version branch name", pfx + mod + "/@v/main.info", Route{}, packages.ErrInvalid},
		{"fail/version not canonical", pfx + mod + "/@v/v1.0.info", Route{}, packages.ErrInvalid},
		{"fail/version with build", pfx + mod + "/@v/v1.0.0+meta.info", Route{}, packages.ErrInvalid},
		{"fail/version upper case unescaped", pfx + mod + "/@v/v1.0.0-RC.info", Route{}, packages.ErrInvalid},
		{"fail/version major mismatch", pfx + mod + "/v2/@v/v1.0.0.info", Route{}, packages.ErrInvalid},
		{"fail/v2 without suffix", pfx + mod + "/@v/v2.0.0.info", Route{}, packages.ErrInvalid},
		{"fail/version absurd", pfx + mod + "/@v/v1.0.0-" + strings.Repeat("a", 300) + ".info", Route{}, packages.ErrInvalid},
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

// FuzzParsePath: whatever parses is a module path and version the go command accepts, and
// that the core's validators accept as a name and version.
func FuzzParsePath(f *testing.F) {
	// Requests the go command sent in TestGoModDownload.
	for _, s := range []string{
		"127.0.0.1/group/sub/child/@v/list",
		"127.0.0.1/group/sub/child/@v/v1.1.0.info",
		"127.0.0.1/group/sub/child/@v/v1.1.0.mod",
		"127.0.0.1/group/sub/child/@v/v1.1.0.zip",
		"127.0.0.1/group/sub/child/tool/@v/v0.1.0.zip",
		"127.0.0.1/group/sub/child/@latest",
		"127.0.0.1/!group/x/v2/@v/v2.0.0-!r!c.zip",
		"127.0.0.1/group/x/@v/v3.0.0+incompatible.info",
		"127.0.0.1/group/x/@v/v0.0.0-20240506070809-0123456789ab.mod",
		"127.0.0.1/group/%2e%2e/@v/list",
	} {
		f.Add(pfx + s)
	}
	f.Add("/api/v4/projects/group%2Fsub/packages/go/a.b/c/@latest")
	f.Fuzz(func(t *testing.T, p string) {
		rt, err := ParsePath(p)
		if err != nil {
			if !errors.Is(err, packages.ErrNotFound) && !errors.Is(err, packages.ErrInvalid) {
				t.Fatalf("error of no known kind: %v", err)
			}
			return
		}
		if rt.Project == "" || rt.Kind < List || rt.Kind > Latest {
			t.Fatalf("parsed %+v", rt)
		}
		if err := module.CheckPath(rt.Module); err != nil {
			t.Fatalf("module %q: %v", rt.Module, err)
		}
		if !utf8.ValidString(rt.Module) || strings.ContainsAny(rt.Module, "\\\x00\n:@") {
			t.Fatalf("module %q slipped through", rt.Module)
		}
		if strings.HasPrefix(rt.Module, "-") {
			t.Fatalf("module %q could pass for an option", rt.Module)
		}
		for _, elem := range strings.Split(rt.Module, "/") {
			if elem == "" || elem == "." || elem == ".." {
				t.Fatalf("module %q has element %q", rt.Module, elem)
			}
		}
		if err := packages.ValidateName(rt.Module); err != nil {
			t.Fatalf("core rejects module %q: %v", rt.Module, err)
		}
		switch rt.Kind {
		case Info, Mod, Zip:
			if err := module.Check(rt.Module, rt.Version); err != nil {
				t.Fatalf("version %q: %v", rt.Version, err)
			}
			if err := packages.ValidateVersion(rt.Version); err != nil {
				t.Fatalf("core rejects version %q: %v", rt.Version, err)
			}
		default:
			if rt.Version != "" {
				t.Fatalf("version %q on %v", rt.Version, rt.Kind)
			}
		}
	})
}
