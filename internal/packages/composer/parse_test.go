package composer

import (
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// TestRouteTable: every route is either the public packages.json (GET, no data) or names an
// access action and a handler; reads need ReadPackage, the publish WritePackage; groups are
// read-only; nothing else is routed.
func TestRouteTable(t *testing.T) {
	for lv, kinds := range routes {
		for k, methods := range kinds {
			for m, ep := range methods {
				if ep.serve == nil {
					t.Errorf("%d/%d %s: no handler", lv, k, m)
				}
				switch {
				case ep.public != "":
					if m != http.MethodGet || k != kindPackages || ep.action != "" {
						t.Errorf("%d/%d %s: public route that is not the GET of packages.json", lv, k, m)
					}
				case m == http.MethodGet:
					if ep.action != access.ReadPackage {
						t.Errorf("%d/%d GET needs %q, want read", lv, k, ep.action)
					}
				case m == http.MethodPost:
					if ep.action != access.WritePackage || lv != levelProject || k != kindPublish {
						t.Errorf("%d/%d POST needs %q", lv, k, ep.action)
					}
				default:
					t.Errorf("%d/%d: %s is routed", lv, k, m)
				}
			}
		}
	}
	if len(routes[levelGroup]) != 2 || len(routes[levelProject]) != 2 {
		t.Fatalf("routes: %d group kinds, %d project kinds", len(routes[levelGroup]), len(routes[levelProject]))
	}
	for _, rt := range Routes() {
		path := strings.NewReplacer("{id}", "7", "{name}", "acme/tools").Replace(rt.Pattern)
		if _, err := ParsePath(path); err != nil {
			t.Errorf("route %s %s: the parser does not take %s: %v", rt.Method, rt.Pattern, path, err)
		}
	}
}

func TestParsePath(t *testing.T) {
	const p = "/api/v4/projects/7/packages/composer"
	const g = "/api/v4/group/group%2Fsub/-/packages/composer"
	cases := []struct {
		name, path string
		want       Route
		kind       error
	}{
		{"ok/publish", p, Route{level: levelProject, kind: kindPublish, Ref: "7", Prefix: p}, nil},
		{"ok/archive", p + "/archives/acme/tools.zip", Route{level: levelProject, kind: kindArchive, Ref: "7", Prefix: p, Name: "acme/tools"}, nil},
		{"ok/archive escaped", "/api/v4/projects/group%2Ftop/packages/composer/archives/acme/my-tools.zip",
			Route{level: levelProject, kind: kindArchive, Ref: "group/top", Prefix: "/api/v4/projects/group%2Ftop/packages/composer", Name: "acme/my-tools"}, nil},
		{"ok/packages.json", g + "/packages.json", Route{level: levelGroup, kind: kindPackages, Ref: "group/sub", Prefix: g}, nil},
		{"ok/p2", g + "/p2/acme/tools.json", Route{level: levelGroup, kind: kindMetadata, Ref: "group/sub", Prefix: g, Name: "acme/tools"}, nil},
		{"ok/p2 dev", g + "/p2/acme/tools~dev.json", Route{level: levelGroup, kind: kindMetadata, Ref: "group/sub", Prefix: g, Name: "acme/tools", Dev: true}, nil},
		{"ok/p2 dots and dashes", g + "/p2/a.b/c--d_e.json", Route{level: levelGroup, kind: kindMetadata, Ref: "group/sub", Prefix: g, Name: "a.b/c--d_e"}, nil},
		{"ok/publish slash", p + "/", Route{level: levelProject, kind: kindPublish, Ref: "7", Prefix: p}, nil},
		{"fail/group publish", g, Route{}, packages.ErrNotFound},
		{"fail/project p2", p + "/p2/acme/tools.json", Route{}, packages.ErrNotFound},
		{"fail/group archive", g + "/archives/acme/tools.zip", Route{}, packages.ErrNotFound},
		{"fail/groups plural", "/api/v4/groups/1/-/packages/composer/packages.json", Route{}, packages.ErrNotFound},
		{"fail/no vendor", g + "/p2/tools.json", Route{}, packages.ErrNotFound},
		{"fail/deep name", g + "/p2/a/b/c.json", Route{}, packages.ErrNotFound},
		{"fail/upper case", g + "/p2/Acme/Tools.json", Route{}, packages.ErrInvalid},
		{"fail/dot dot", g + "/p2/../tools.json", Route{}, packages.ErrInvalid},
		{"fail/encoded dot dot", p + "/archives/%2e%2e/tools.zip", Route{}, packages.ErrInvalid},
		{"fail/encoded slash", p + "/archives/acme%2f..%2f..%2fetc/passwd.zip", Route{}, packages.ErrInvalid},
		{"fail/backslash", p + "/archives/acme/..%5ctools.zip", Route{}, packages.ErrInvalid},
		{"fail/nul", g + "/p2/acme/tools%00.json", Route{}, packages.ErrInvalid},
		{"fail/newline", g + "/p2/acme/to%0aols.json", Route{}, packages.ErrInvalid},
		{"fail/bad escape", g + "/p2/acme/to%zzols.json", Route{}, packages.ErrInvalid},
		{"fail/empty id", "/api/v4/projects//packages/composer", Route{}, packages.ErrNotFound},
		{"fail/long name", g + "/p2/acme/" + strings.Repeat("a", 300) + ".json", Route{}, packages.ErrInvalid},
		{"fail/absurd length", g + "/p2/acme/" + strings.Repeat("a", 3000) + ".json", Route{}, packages.ErrNotFound},
		{"fail/other format", "/api/v4/projects/7/packages/npm/x", Route{}, packages.ErrNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParsePath(c.path)
			if c.kind != nil {
				if !errors.Is(err, c.kind) {
					t.Fatalf("ParsePath(%q) = %+v, %v; want %v", c.path, got, err, c.kind)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("ParsePath(%q) = %+v, %v; want %+v", c.path, got, err, c.want)
			}
		})
	}
}

func TestParsePublish(t *testing.T) {
	cases := []struct {
		name, tag, branch string
		want              Source
	}{
		{"ok/tag with v", "v1.0.0", "", Source{Tag: true, Ref: "v1.0.0", Version: "1.0.0"}},
		{"ok/tag without v", "2.3.4", "", Source{Tag: true, Ref: "2.3.4", Version: "2.3.4"}},
		{"ok/tag with a suffix", "v1.0.0-beta.1", "", Source{Tag: true, Ref: "v1.0.0-beta.1", Version: "1.0.0-beta.1"}},
		{"ok/tag RC", "v1.0.0-RC2", "", Source{Tag: true, Ref: "v1.0.0-RC2", Version: "1.0.0-RC2"}},
		{"ok/branch", "", "main", Source{Ref: "main", Version: "dev-main"}},
		{"ok/version line branch", "", "1.x", Source{Ref: "1.x", Version: "1.x-dev"}},
		{"ok/numbered branch", "", "2.1", Source{Ref: "2.1", Version: "2.1.x-dev"}},
		{"fail/both", "v1.0.0", "main", Source{}},
		{"fail/neither", "", "", Source{}},
		{"fail/tag that is no version", "release", "", Source{}},
		{"fail/tag traversal", "../v1.0.0", "", Source{}},
		{"fail/tag revision syntax", "v1.0.0^{tree}", "", Source{}},
		{"fail/tag option", "-v1.0.0", "", Source{}},
		{"fail/branch with a slash", "", "feature/x", Source{}},
		{"fail/branch option", "", "--output=x", Source{}},
		{"fail/branch nul", "", "ma\x00in", Source{}},
		{"fail/branch long", "", strings.Repeat("b", 200), Source{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParsePublish(c.tag, c.branch)
			if strings.HasPrefix(c.name, "fail/") {
				if !errors.Is(err, packages.ErrInvalid) {
					t.Fatalf("ParsePublish(%q, %q) = %+v, %v; want invalid", c.tag, c.branch, got, err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("ParsePublish(%q, %q) = %+v, %v; want %+v", c.tag, c.branch, got, err, c.want)
			}
		})
	}
}

func TestParseManifest(t *testing.T) {
	real, err := os.ReadFile("testdata/thrift-composer.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseManifest(strings.NewReader(string(real)), MaxManifestSize)
	if err != nil || m.Name != "apache/thrift" || m.JSON["autoload"] == nil {
		t.Fatalf("real composer.json: %+v, %v", m.Name, err)
	}
	for name, doc := range map[string]string{
		"fail/not JSON": "{", "fail/array": "[]", "fail/null": "null", "fail/trailing": `{"name":"a/b"} {}`,
		"fail/no name": `{}`, "fail/name not a string": `{"name": 1}`, "fail/traversal": `{"name": "../etc"}`,
		"fail/upper case": `{"name": "Acme/Tools"}`, "fail/no vendor": `{"name": "tools"}`,
		"fail/long": `{"name": "a/` + strings.Repeat("b", 300) + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseManifest(strings.NewReader(doc), MaxManifestSize); !errors.Is(err, packages.ErrInvalid) {
				t.Fatalf("%s: %v, want invalid", doc, err)
			}
		})
	}
	t.Run("fail/too large", func(t *testing.T) {
		if _, err := ParseManifest(strings.NewReader(`{"name": "a/b", "x": "`+strings.Repeat("x", 100)+`"}`), 64); !errors.Is(err, packages.ErrTooLarge) {
			t.Fatalf("%v, want too large", err)
		}
	})
	t.Run("ok/the version field is dropped", func(t *testing.T) {
		m, err := ParseManifest(strings.NewReader(`{"name": "a/b", "version": "9.9.9"}`), MaxManifestSize)
		if err != nil || m.JSON["version"] != nil {
			t.Fatalf("%+v, %v", m, err)
		}
	})
}

// checkStored fails unless what parsed also passes the core's validators.
func checkStored(t *testing.T, name, version string) {
	t.Helper()
	if err := packages.ValidateName(name); err != nil {
		t.Fatalf("name %q parsed but the core refuses it: %v", name, err)
	}
	if version == "" {
		return
	}
	if err := packages.ValidateVersion(version); err != nil {
		t.Fatalf("version %q parsed but the core refuses it: %v", version, err)
	}
	if err := packages.ValidateFilename(archiveName(name, version)); err != nil {
		t.Fatalf("file %q parsed but the core refuses it: %v", archiveName(name, version), err)
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"/api/v4/projects/7/packages/composer", "/api/v4/projects/7/packages/composer/archives/acme/tools.zip",
		"/api/v4/group/3/-/packages/composer/packages.json", "/api/v4/group/group%2Fsub/-/packages/composer/p2/acme/tools~dev.json",
		"/api/v4/group/3/-/packages/composer/p2/%2e%2e/x.json"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rt, err := ParsePath(s)
		if err != nil {
			if !errors.Is(err, packages.ErrNotFound) && !errors.Is(err, packages.ErrInvalid) {
				t.Fatalf("error of an unknown kind: %v", err)
			}
			return
		}
		if rt.Name != "" {
			checkStored(t, rt.Name, "")
		}
	})
}

func FuzzParsePublish(f *testing.F) {
	f.Add("v1.0.0", "")
	f.Add("", "main")
	f.Add("", "1.x")
	f.Add("v1.0.0-beta.1", "")
	f.Fuzz(func(t *testing.T, tag, branch string) {
		src, err := ParsePublish(tag, branch)
		if err != nil {
			if !errors.Is(err, packages.ErrInvalid) {
				t.Fatalf("error of an unknown kind: %v", err)
			}
			return
		}
		checkStored(t, "acme/tools", src.Version)
		if isDev(src.Version) == src.Tag {
			t.Fatalf("%+v: a tag's version must be stable and a branch's dev", src)
		}
	})
}

func FuzzParseManifest(f *testing.F) {
	real, err := os.ReadFile("testdata/thrift-composer.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(real)
	f.Add([]byte(`{"name": "acme/tools", "version": "1.0.0"}`))
	f.Add([]byte(`{"name": "../x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest(strings.NewReader(string(b)), 64<<10)
		if err != nil {
			if !errors.Is(err, packages.ErrInvalid) && !errors.Is(err, packages.ErrTooLarge) {
				t.Fatalf("error of an unknown kind: %v", err)
			}
			return
		}
		checkStored(t, m.Name, "")
		if m.JSON == nil || m.JSON["version"] != nil {
			t.Fatalf("manifest %+v", m.JSON)
		}
	})
}
