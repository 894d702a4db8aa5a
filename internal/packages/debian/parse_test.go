package debian

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// TestRouteTable: every route names an access action and a handler; reads (GET) need
// ReadPackage, writes (PUT, POST, DELETE) WritePackage; uploads are project-level only; nothing
// else is routed.
func TestRouteTable(t *testing.T) {
	n := 0
	for lv, kinds := range routes {
		for k, methods := range kinds {
			for m, ep := range methods {
				n++
				if ep.serve == nil {
					t.Errorf("%d/%d %s: no handler", lv, k, m)
				}
				switch m {
				case http.MethodGet:
					if ep.action != access.ReadPackage {
						t.Errorf("%d/%d GET needs %q, want read", lv, k, ep.action)
					}
				case http.MethodPut, http.MethodPost, http.MethodDelete:
					if ep.action != access.WritePackage || (k == kindUpload && lv != levelProject) {
						t.Errorf("%d/%d %s needs %q", lv, k, m, ep.action)
					}
				default:
					t.Errorf("%d/%d: %s is routed", lv, k, m)
				}
			}
		}
	}
	if _, ok := routes[levelGroup][kindUpload]; ok || n != 23 || len(Routes()) != n {
		t.Fatalf("%d routes, %d gate routes; group upload routed: %v", n, len(Routes()), ok)
	}
	// Every gate route's pattern, filled in, parses to its own kind.
	fill := strings.NewReplacer("{id}", "7", "{file}", "ab_1.0_amd64.deb", "{codename}", "stable", "{component}", "main",
		"{arch}", "amd64", "{letter}", "a", "{name}", "ab", "{version}", "1.0", "{project_id}", "3")
	for _, rt := range Routes() {
		if _, err := ParsePath(fill.Replace(rt.Pattern)); err != nil {
			t.Errorf("%s %s: %v", rt.Method, rt.Pattern, err)
		}
	}
}

func TestParsePath(t *testing.T) {
	const p = "/api/v4/projects/7/packages/debian/"
	const g = "/api/v4/groups/group%2Fsub/-/packages/debian/"
	cases := []struct {
		name, path string
		want       Route
		kind       error
	}{
		{"ok/upload", p + "hello_1.0-1_amd64.deb", Route{level: levelProject, kind: kindUpload, Ref: "7", Filename: "hello_1.0-1_amd64.deb"}, nil},
		{"ok/release", p + "dists/stable/Release", Route{level: levelProject, kind: kindRelease, Ref: "7", Codename: "stable"}, nil},
		{"ok/inrelease", p + "dists/stable/InRelease", Route{level: levelProject, kind: kindInRelease, Ref: "7", Codename: "stable"}, nil},
		{"ok/release.gpg", p + "dists/stable/Release.gpg", Route{level: levelProject, kind: kindReleaseGPG, Ref: "7", Codename: "stable"}, nil},
		{"ok/packages", p + "dists/stable/main/binary-amd64/Packages",
			Route{level: levelProject, kind: kindPackages, Ref: "7", Codename: "stable", Component: "main", Arch: "amd64"}, nil},
		{"ok/pool", p + "pool/stable/h/hello/1:1.0-1/hello_1.0-1_amd64.deb",
			Route{level: levelProject, kind: kindPool, Ref: "7", Codename: "stable", Name: "hello", Version: "1:1.0-1", Filename: "hello_1.0-1_amd64.deb"}, nil},
		{"ok/pool escaped epoch", p + "pool/stable/libf/libfoo/1%3a1.0/libfoo_1.0_amd64.deb",
			Route{level: levelProject, kind: kindPool, Ref: "7", Codename: "stable", Name: "libfoo", Version: "1:1.0", Filename: "libfoo_1.0_amd64.deb"}, nil},
		{"ok/group release", g + "dists/stable/Release", Route{level: levelGroup, kind: kindRelease, Ref: "group/sub", Codename: "stable"}, nil},
		{"ok/group pool", g + "pool/stable/12/h/hello/1.0/hello_1.0_all.deb",
			Route{level: levelGroup, kind: kindPool, Ref: "group/sub", Codename: "stable", ProjectID: 12, Name: "hello", Version: "1.0", Filename: "hello_1.0_all.deb"}, nil},
		{"ok/distributions", "/api/v4/projects/a%2Fb/debian_distributions", Route{level: levelProject, kind: kindDistributions, Ref: "a/b"}, nil},
		{"ok/distribution", "/api/v4/projects/7/debian_distributions/sid", Route{level: levelProject, kind: kindDistribution, Ref: "7", Codename: "sid"}, nil},
		{"ok/key", "/api/v4/groups/5/-/debian_distributions/sid/key.asc", Route{level: levelGroup, kind: kindDistributionKey, Ref: "5", Codename: "sid"}, nil},
		{"fail/group upload", g + "hello_1.0_all.deb", Route{}, packages.ErrNotFound},
		{"fail/pool wrong letter", p + "pool/stable/x/hello/1.0/hello_1.0_all.deb", Route{}, packages.ErrNotFound},
		{"fail/group pool no project", g + "pool/stable/h/hello/1.0/hello_1.0_all.deb", Route{}, packages.ErrNotFound},
		{"fail/group pool bad project", g + "pool/stable/012/h/hello/1.0/hello_1.0_all.deb", Route{}, packages.ErrNotFound},
		{"fail/traversal codename", p + "dists/%2e%2e/Release", Route{}, packages.ErrInvalid},
		{"fail/traversal slash", p + "dists/a%2fb/Release", Route{}, packages.ErrInvalid},
		{"fail/backslash", p + "pool/stable/h/hello/1.0/hello%5c_1.0_all.deb", Route{}, packages.ErrInvalid},
		{"fail/nul", p + "hello_1.0_all%00.deb", Route{}, packages.ErrInvalid},
		{"fail/newline", p + "dists/st%0aable/Release", Route{}, packages.ErrInvalid},
		{"fail/dotdot version", p + "pool/stable/h/hello/1..0/hello_1..0_all.deb", Route{}, packages.ErrInvalid},
		{"fail/not deb", p + "hello.tar.gz", Route{}, packages.ErrInvalid},
		{"fail/upload epoch in file", p + "hello_1:1.0_all.deb", Route{}, packages.ErrInvalid},
		{"fail/upper case name", p + "Hello_1.0_all.deb", Route{}, packages.ErrInvalid},
		{"fail/component", p + "dists/stable/Main/binary-amd64/Packages", Route{}, packages.ErrInvalid},
		{"fail/unknown dists file", p + "dists/stable/Contents", Route{}, packages.ErrNotFound},
		{"fail/long", p + "dists/" + strings.Repeat("a", 3000) + "/Release", Route{}, packages.ErrNotFound},
		{"fail/long codename", p + "dists/" + strings.Repeat("a", 200) + "/Release", Route{}, packages.ErrInvalid},
		{"fail/other format", "/api/v4/projects/7/packages/npm/x", Route{}, packages.ErrNotFound},
		{"fail/distribution extra", "/api/v4/projects/7/debian_distributions/sid/x", Route{}, packages.ErrNotFound},
		{"fail/distribution glued", "/api/v4/projects/7/debian_distributionsx", Route{}, packages.ErrNotFound},
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
				t.Fatalf("got %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
}

func TestParseDeb(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := BuildDeb(t, "hello", "1:2.0-1", "amd64", nil)
	// The dpkg-deb package again, its control.tar.xz's LZMA2 dictionary set to 1.5 GiB (the
	// header's CRC no longer matches; the size must be refused before anything is allocated).
	xzDeb := read("gatehouse-hello_1.0-1_all.deb")
	member := xzDeb[8+60+4+60:]
	n, _ := strconv.Atoi(strings.TrimSpace(string(xzDeb[8+60+4+48 : 8+60+4+58])))
	control := bytes.Clone(member[:n])
	i := bytes.Index(control[12:], []byte{0x21, 0x01})
	if i < 0 || string(xzDeb[8+60+4:8+60+4+14]) != "control.tar.xz" {
		t.Fatal("testdata: no LZMA2 filter in the control member")
	}
	control[12+i+2] = 40
	hugeDict := BuildAr(t, [2]string{"debian-binary", "2.0\n"}, [2]string{"control.tar.xz", string(control)})
	cases := []struct {
		name string
		deb  []byte
		want string // package_version_arch, or ""
		kind error
	}{
		{"ok/dpkg-deb xz", read("gatehouse-hello_1.0-1_all.deb"), "gatehouse-hello_1.0-1_all", nil},
		{"ok/dpkg-deb zstd", read("gatehouse-hello_1.0-1_all.zst.deb"), "gatehouse-hello_1.0-1_all", nil},
		{"ok/gzip", good, "hello_1:2.0-1_amd64", nil},
		{"fail/not ar", []byte("PK\x03\x04 not a deb"), "", packages.ErrInvalid},
		{"fail/truncated", good[:100], "", packages.ErrInvalid},
		{"fail/no control", BuildAr(t, [2]string{"debian-binary", "2.0\n"}, [2]string{"data.tar.gz", "x"}), "", packages.ErrInvalid},
		{"fail/bad binary", BuildAr(t, [2]string{"debian-binary", "3.0\n"}), "", packages.ErrInvalid},
		{"fail/bad name", BuildDeb(t, "../x", "1.0", "amd64", nil), "", packages.ErrInvalid},
		{"fail/bad version", BuildDeb(t, "hello", "one", "amd64", nil), "", packages.ErrInvalid},
		{"fail/sets Filename", BuildDeb(t, "hello", "1.0", "amd64", map[string]string{"Filename": "pool/x.deb"}), "", packages.ErrInvalid},
		{"fail/two paragraphs", BuildDeb(t, "hello", "1.0", "amd64", map[string]string{"@extra": "\nPackage: other\n"}), "", packages.ErrInvalid},
		{"fail/xz dictionary of 1.5 GiB", hugeDict, "", packages.ErrInvalid},
		{"fail/bomb", BuildDeb(t, "hello", "1.0", "amd64", map[string]string{"@pad": strings.Repeat("x", 20<<20)}), "", packages.ErrTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseDeb(bytes.NewReader(c.deb), int64(len(c.deb)), DefaultLimits())
			if c.kind != nil {
				if !errors.Is(err, c.kind) {
					t.Fatalf("err = %v, want %v", err, c.kind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := got.Package + "_" + got.Version + "_" + got.Architecture; s != c.want {
				t.Fatalf("got %s, want %s", s, c.want)
			}
			if !strings.HasPrefix(got.Paragraph(), "Package: ") || !strings.Contains(got.Paragraph(), "\nDescription: ") {
				t.Fatalf("paragraph %q", got.Paragraph())
			}
		})
	}
}

// checkParsed: whatever the parsers accept passes the core's validators.
func checkParsed(t *testing.T, name, version, filename string) {
	t.Helper()
	if name != "" {
		if err := packages.ValidateName(name); err != nil {
			t.Fatalf("name %q: %v", name, err)
		}
	}
	if version != "" {
		if err := packages.ValidateVersion(version); err != nil {
			t.Fatalf("version %q: %v", version, err)
		}
	}
	if filename != "" {
		if err := packages.ValidateFilename(filename); err != nil {
			t.Fatalf("filename %q: %v", filename, err)
		}
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"/api/v4/projects/7/packages/debian/hello_1.0-1_amd64.deb",
		"/api/v4/projects/7/packages/debian/pool/stable/libf/libfoo/1%3a1.0/libfoo_1.0_amd64.deb",
		"/api/v4/groups/g/-/packages/debian/pool/stable/3/h/hello/1.0/hello_1.0_all.deb",
		"/api/v4/groups/g/-/packages/debian/dists/stable/main/binary-amd64/Packages",
		"/api/v4/projects/7/debian_distributions/sid/key.asc"} {
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
		checkParsed(t, rt.Name, rt.Version, rt.Filename)
		for _, s := range []string{rt.Codename, rt.Component, rt.Arch} {
			if strings.Contains(s, "..") || strings.ContainsAny(s, "/\\\x00\n") {
				t.Fatalf("unsafe segment %q", s)
			}
		}
	})
}

func FuzzParseDeb(f *testing.F) {
	for _, name := range []string{"gatehouse-hello_1.0-1_all.deb", "gatehouse-hello_1.0-1_all.zst.deb"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(BuildDeb(f, "hello", "1:2.0-1", "amd64", nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		lim := DefaultLimits()
		lim.ControlTar = 1 << 20
		c, err := ParseDeb(bytes.NewReader(b), int64(len(b)), lim)
		if err != nil {
			if !errors.Is(err, packages.ErrInvalid) && !errors.Is(err, packages.ErrTooLarge) {
				t.Fatalf("error of an unknown kind: %v", err)
			}
			return
		}
		checkParsed(t, c.Package, c.Version, DebFilename(c.Package, c.Version, c.Architecture))
	})
}

func FuzzParseControl(f *testing.F) {
	f.Add([]byte("Package: hello\nVersion: 1.0\nArchitecture: all\nDescription: hi\n more\n .\n"))
	f.Add([]byte("Package: hello\nVersion: 1:1.0~rc1+b2-3\nArchitecture: amd64\nDepends: libc6 (>= 2.36)\nDescription: x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseControl(b)
		if err != nil {
			if !errors.Is(err, packages.ErrInvalid) {
				t.Fatalf("error of an unknown kind: %v", err)
			}
			return
		}
		checkParsed(t, c.Package, c.Version, DebFilename(c.Package, c.Version, c.Architecture))
		// The paragraph it renders is one paragraph that parses the same.
		again, err := ParseControl([]byte(c.Paragraph()))
		if err != nil || again.Paragraph() != c.Paragraph() {
			t.Fatalf("rendered paragraph %q does not parse back: %v", c.Paragraph(), err)
		}
	})
}

func FuzzParseDistributionParams(f *testing.F) {
	f.Add("codename=stable&components[]=main&architectures[]=amd64", "application/x-www-form-urlencoded", "")
	f.Add("", "application/json", `{"codename":"sid","suite":"unstable","components":["main","contrib"],"valid_time_duration_seconds":86400}`)
	f.Fuzz(func(t *testing.T, query, contentType, body string) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		p, err := parseDistributionParams(q, contentType, strings.NewReader(body))
		if err != nil {
			if !errors.Is(err, packages.ErrInvalid) && !errors.Is(err, packages.ErrTooLarge) {
				t.Fatalf("error of an unknown kind: %v", err)
			}
			return
		}
		d := &packages.Distribution{Codename: "x"}
		p.apply(d)
		for _, c := range d.Components {
			if checkComponent(c) != nil {
				t.Fatalf("component %q", c)
			}
		}
		for _, a := range d.Architectures {
			if checkArch(a) != nil {
				t.Fatalf("architecture %q", a)
			}
		}
		if p.Codename != nil && checkCodename(*p.Codename) != nil {
			t.Fatalf("codename %q", *p.Codename)
		}
	})
}
