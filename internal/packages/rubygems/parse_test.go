package rubygems

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// TestRouteTable: every route maps to an access action and a handler; reads (GET, HEAD) need
// ReadPackage and push WritePackage; every kind is routed and nothing else is.
func TestRouteTable(t *testing.T) {
	for k, methods := range routes[onlyLevel{}] {
		for m, ep := range methods {
			if ep.action == "" || ep.serve == nil {
				t.Errorf("%s %s: no access action or handler", k, m)
			}
			want := access.ReadPackage
			if m == http.MethodPost {
				want = access.WritePackage
			} else if m != http.MethodGet && m != http.MethodHead {
				t.Errorf("%s routes %s", k, m)
			}
			if ep.action != want {
				t.Errorf("%s %s needs %q, want %q", k, m, ep.action, want)
			}
		}
		if paths[k] == "" {
			t.Errorf("%s has no path pattern", k)
		}
	}
	for k := kindPush; k <= kindGem; k++ {
		if len(routes[onlyLevel{}][k]) == 0 {
			t.Errorf("%s is not routed", k)
		}
	}
	if len(routes) != 1 || len(routes[onlyLevel{}][kindPush]) != 1 {
		t.Error("the table routes more than the project level, or the push URL more than POST")
	}
}

func TestParsePath(t *testing.T) {
	const p = "/api/v4/projects/7/packages/rubygems"
	cases := []struct {
		path string
		want Route
		kind error
	}{
		{p + "/api/v1/gems", Route{kind: kindPush, Ref: "7"}, nil},
		{"/api/v4/projects/group%2Fsub%2Fproj/packages/rubygems/api/v1/gems", Route{kind: kindPush, Ref: "group/sub/proj"}, nil},
		{p + "/api/v1/dependencies", Route{kind: kindDependencies, Ref: "7"}, nil},
		{p + "/specs.4.8.gz", Route{kind: kindSpecs, Ref: "7"}, nil},
		{p + "/latest_specs.4.8.gz", Route{kind: kindLatestSpecs, Ref: "7"}, nil},
		{p + "/prerelease_specs.4.8.gz", Route{kind: kindPrerelease, Ref: "7"}, nil},
		{p + "/quick/Marshal.4.8/hello-1.0.0.gemspec.rz", Route{kind: kindQuickSpec, Ref: "7", Filename: "hello-1.0.0.gem"}, nil},
		{p + "/quick/Marshal.4.8/nokogiri-1.16.0-x86_64-linux.gemspec.rz", Route{kind: kindQuickSpec, Ref: "7", Filename: "nokogiri-1.16.0-x86_64-linux.gem"}, nil},
		{p + "/gems/my_gem-2.0.0.pre.1.gem", Route{kind: kindGem, Ref: "7", Filename: "my_gem-2.0.0.pre.1.gem"}, nil},

		{p, Route{}, packages.ErrNotFound},
		{p + "/", Route{}, packages.ErrNotFound},
		{p + "/api/v1/gems/", Route{}, packages.ErrNotFound},
		{p + "/api/v1/gems/x/yank", Route{}, packages.ErrNotFound},
		{p + "/specs.4.8", Route{}, packages.ErrNotFound},
		{p + "/gems/a/b-1.gem", Route{}, packages.ErrNotFound},
		{p + "/quick/Marshal.4.8/a/b-1.gemspec.rz", Route{}, packages.ErrNotFound},
		{"/api/v4/groups/7/-/packages/rubygems/specs.4.8.gz", Route{}, packages.ErrNotFound},
		{"/api/v4/packages/rubygems/specs.4.8.gz", Route{}, packages.ErrNotFound},
		{"/api/v4/projects//packages/rubygems/specs.4.8.gz", Route{}, packages.ErrNotFound},
		{"/api/v4/projects/%zz/packages/rubygems/specs.4.8.gz", Route{}, packages.ErrNotFound},
		{"/api/v4/projects/7/packages/rubygemsx/specs.4.8.gz", Route{}, packages.ErrNotFound},
		{p + "/gems/" + strings.Repeat("a", 5000) + ".gem", Route{}, packages.ErrNotFound},

		{p + "/gems/..%2f..%2fetc%2fpasswd.gem", Route{}, packages.ErrInvalid},
		{p + "/gems/%2e%2e.gem", Route{}, packages.ErrInvalid},
		{p + "/gems/a-1..gem", Route{}, packages.ErrInvalid},
		{p + "/gems/a%5c..%5cb-1.gem", Route{}, packages.ErrInvalid},
		{p + "/gems/a-1%00.gem", Route{}, packages.ErrInvalid},
		{p + "/gems/a-1%0a.gem", Route{}, packages.ErrInvalid},
		{p + "/gems/a-1.tar", Route{}, packages.ErrInvalid},
		{p + "/gems/.gem", Route{}, packages.ErrInvalid},
		{p + "/gems/-a-1.gem", Route{}, packages.ErrInvalid},
		{p + "/gems/nodash.gem", Route{}, packages.ErrInvalid},
		{p + "/gems/%zz.gem", Route{}, packages.ErrInvalid},
		{p + "/gems/" + strings.Repeat("a", 300) + "-1.gem", Route{}, packages.ErrInvalid},
		{p + "/quick/Marshal.4.8/a-1.gem", Route{}, packages.ErrInvalid},
		{p + "/quick/Marshal.4.8/..%2fa-1.gemspec.rz", Route{}, packages.ErrInvalid},
	}
	for _, c := range cases {
		name := "ok/"
		if c.kind != nil {
			name = "fail/"
		}
		t.Run(name+c.path[min(len(c.path), 16):min(len(c.path), 90)], func(t *testing.T) {
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

func TestValidate(t *testing.T) {
	for _, s := range []string{"a", "rails", "my_gem", "my-gem", "net.http", "A1", "0x"} {
		if err := ValidateName(s); err != nil {
			t.Errorf("name %q: %v", s, err)
		}
	}
	for _, s := range []string{"", "-a", "_a", ".a", "a..b", "a/b", "a\\b", "a b", "ä", strings.Repeat("a", 256)} {
		if err := ValidateName(s); !errors.Is(err, packages.ErrInvalid) {
			t.Errorf("name %q: %v, want ErrInvalid", s, err)
		}
	}
	for _, s := range []string{"0", "1.0.0", "1.0.0.pre", "1.1.0.beta1", "2.0.0-rc.1", "1.a"} {
		if err := ValidateVersion(s); err != nil {
			t.Errorf("version %q: %v", s, err)
		}
	}
	for _, s := range []string{"", "v1", "1..0", "1.0/..", "1.0 ", "1.0\x00", ".1", "1.", "1.0+x"} {
		if err := ValidateVersion(s); !errors.Is(err, packages.ErrInvalid) {
			t.Errorf("version %q: %v, want ErrInvalid", s, err)
		}
	}
	if got := FilenameGems("my-gem-1.0-x86_64-linux.gem"); strings.Join(got, ",") != "my,my-gem,my-gem-1.0,my-gem-1.0-x86_64" {
		t.Errorf("FilenameGems = %v", got)
	}
}

func TestCompareVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"1.0", "1.0.0", 0}, {"1.0", "1.1", -1}, {"1.10", "1.9", 1}, {"1.0.a", "1.0", -1}, {"1.0.beta1", "1.0.alpha2", 1},
		{"2.0.0-rc1", "2.0.0", -1}, {"01.2", "1.2", 0}, {"100000000000000000001", "100000000000000000000", 1},
	} {
		if got := CompareVersions(c.a, c.b); got != c.want {
			t.Errorf("CompareVersions(%s, %s) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// realGem is testdata/hello-1.0.0.gem, built by Debian's gem 3.3.15 (`gem build`).
func realGem(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/hello-1.0.0.gem")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// gemEntry is one tar entry of a gem built by makeGem.
type gemEntry struct {
	name string
	data []byte
	typ  byte
}

// makeGem writes entries as a .gem's tar.
func makeGem(entries ...gemEntry) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		_ = tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o444, Size: int64(len(e.data)), Typeflag: typ})
		_, _ = tw.Write(e.data)
	}
	_ = tw.Close()
	return b.Bytes()
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return out.Bytes()
}

// specYAML is a minimal gemspec of name and version.
func specYAML(name, version string) []byte {
	return []byte("--- !ruby/object:Gem::Specification\nname: " + name + "\nversion: !ruby/object:Gem::Version\n  version: " +
		version + "\nplatform: ruby\nsummary: s\nauthors:\n- T\ndependencies: []\n")
}

// checksumsYAML declares the SHA-256 and SHA-512 of metadata.gz and data.tar.gz.
func checksumsYAML(meta, data []byte) []byte {
	s := func(b []byte) (string, string) {
		a, c := sha256.Sum256(b), sha512.Sum512(b)
		return hex.EncodeToString(a[:]), hex.EncodeToString(c[:])
	}
	m256, m512 := s(meta)
	d256, d512 := s(data)
	return []byte("---\nSHA256:\n  metadata.gz: " + m256 + "\n  data.tar.gz: " + d256 + "\nSHA512:\n  metadata.gz: " + m512 + "\n  data.tar.gz: " + d512 + "\n")
}

// buildGem is a valid gem of name and version, with checksums.
func buildGem(name, version string) []byte {
	meta, data := gz(specYAML(name, version)), gz([]byte("data"))
	return makeGem(gemEntry{name: "metadata.gz", data: meta}, gemEntry{name: "data.tar.gz", data: data},
		gemEntry{name: "checksums.yaml.gz", data: gz(checksumsYAML(meta, data))})
}

// readGem parses b and reads its content to the end, as the service does.
func readGem(b []byte, lim Limits) (*Gem, []byte, error) {
	g, err := ParseGem(bytes.NewReader(b), lim)
	if err != nil {
		return nil, nil, err
	}
	out, err := io.ReadAll(g.Content)
	return g, out, err
}

func TestParseGem(t *testing.T) {
	t.Run("ok/gem build's output", func(t *testing.T) {
		b := realGem(t)
		g, out, err := readGem(b, DefaultLimits())
		if err != nil || !bytes.Equal(out, b) || g.Err() != nil {
			t.Fatalf("ParseGem: %v, %v; content equal: %v", err, g.Err(), bytes.Equal(out, b))
		}
		s := g.Spec
		if s.Filename() != "hello-1.0.0.gem" || s.Summary != "A test gem" || strings.Join(s.Email, ",") != "dev@example.com" ||
			s.RequiredRuby.String() != ">= 2.7" || len(s.Dependencies) != 2 || s.Dependencies[0].Requirement.String() != "~> 1.0, >= 1.0.2" ||
			s.Dependencies[1].Type != "development" || s.Date != "2023-11-14" || s.Metadata["source_code_uri"] != "https://example.com/hello" {
			t.Fatalf("spec = %+v", s)
		}
	})
	t.Run("ok/built here", func(t *testing.T) {
		if _, _, err := readGem(buildGem("x", "1.0"), DefaultLimits()); err != nil {
			t.Fatal(err)
		}
	})
	meta, data := gz(specYAML("x", "1.0")), gz([]byte("data"))
	sums := gz(checksumsYAML(meta, data))
	bad := gz(checksumsYAML(meta, gz([]byte("other"))))
	small := DefaultLimits()
	small.MaxMetadata = 64
	for name, c := range map[string]struct {
		gem  []byte
		lim  Limits
		want error
	}{
		"not a tar":              {[]byte("hello"), DefaultLimits(), packages.ErrInvalid},
		"empty":                  {nil, DefaultLimits(), packages.ErrInvalid},
		"no metadata":            {makeGem(gemEntry{name: "data.tar.gz", data: data}), DefaultLimits(), packages.ErrInvalid},
		"no data":                {makeGem(gemEntry{name: "metadata.gz", data: meta}), DefaultLimits(), packages.ErrInvalid},
		"checksum mismatch":      {makeGem(gemEntry{name: "metadata.gz", data: meta}, gemEntry{name: "data.tar.gz", data: data}, gemEntry{name: "checksums.yaml.gz", data: bad}), DefaultLimits(), packages.ErrInvalid},
		"traversal entry":        {makeGem(gemEntry{name: "../metadata.gz", data: meta}), DefaultLimits(), packages.ErrInvalid},
		"symlink":                {makeGem(gemEntry{name: "metadata.gz", typ: tar.TypeSymlink}), DefaultLimits(), packages.ErrInvalid},
		"entry twice":            {makeGem(gemEntry{name: "metadata.gz", data: meta}, gemEntry{name: "metadata.gz", data: meta}), DefaultLimits(), packages.ErrInvalid},
		"metadata not gzip":      {makeGem(gemEntry{name: "metadata.gz", data: specYAML("x", "1")}), DefaultLimits(), packages.ErrInvalid},
		"metadata bomb":          {makeGem(gemEntry{name: "metadata.gz", data: meta}), small, packages.ErrTooLarge},
		"name traversal":         {makeGem(gemEntry{name: "metadata.gz", data: gz(specYAML("../x", "1.0"))}), DefaultLimits(), packages.ErrInvalid},
		"version traversal":      {makeGem(gemEntry{name: "metadata.gz", data: gz(specYAML("x", "1.0/../../a"))}), DefaultLimits(), packages.ErrInvalid},
		"not a spec":             {makeGem(gemEntry{name: "metadata.gz", data: gz([]byte("--- {}\n"))}), DefaultLimits(), packages.ErrInvalid},
		"yaml error":             {makeGem(gemEntry{name: "metadata.gz", data: gz([]byte("--- !ruby/object:Gem::Specification\nname: [\n"))}), DefaultLimits(), packages.ErrInvalid},
		"garbage after the tar":  {append(makeGem(gemEntry{name: "metadata.gz", data: meta}, gemEntry{name: "data.tar.gz", data: data}, gemEntry{name: "checksums.yaml.gz", data: sums}), "junk"...), DefaultLimits(), packages.ErrInvalid},
		"truncated":              {buildGem("x", "1.0")[:1200], DefaultLimits(), packages.ErrInvalid},
		"bad dependency version": {makeGem(gemEntry{name: "metadata.gz", data: gz([]byte(string(specYAML("x", "1.0")) + "dependencies:\n- !ruby/object:Gem::Dependency\n  name: y\n  requirement: !ruby/object:Gem::Requirement\n    requirements:\n    - - \">=\"\n      - !ruby/object:Gem::Version\n        version: ../1\n"))}), DefaultLimits(), packages.ErrInvalid},
	} {
		t.Run("fail/"+name, func(t *testing.T) {
			_, _, err := readGem(c.gem, c.lim)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"/api/v4/projects/7/packages/rubygems/api/v1/gems", "/api/v4/projects/a%2Fb/packages/rubygems/gems/a-1.gem",
		"/api/v4/projects/7/packages/rubygems/quick/Marshal.4.8/a-1-java.gemspec.rz", "/api/v4/projects/7/packages/rubygems/gems/%2e%2e.gem"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rt, err := ParsePath(s)
		if err != nil {
			if !errors.Is(err, packages.ErrNotFound) && !errors.Is(err, packages.ErrInvalid) {
				t.Fatalf("error of another kind: %v", err)
			}
			return
		}
		if rt.Filename != "" {
			if err := packages.ValidateFilename(rt.Filename); err != nil {
				t.Fatalf("ParsePath took a file name the core refuses: %q: %v", rt.Filename, err)
			}
			for _, n := range FilenameGems(rt.Filename) {
				if ValidateName(n) == nil && packages.ValidateName(n) != nil {
					t.Fatalf("candidate name %q passes here, not in the core", n)
				}
			}
		}
	})
}

func FuzzParseGem(f *testing.F) {
	f.Add(realGem(f))
	f.Add(buildGem("x", "1.0"))
	f.Add(makeGem(gemEntry{name: "metadata.gz", data: gz(specYAML("x", "1.0"))}))
	lim := Limits{MaxPrefix: 1 << 16, MaxMetadata: 1 << 16, MaxSmall: 1 << 12, MaxEntries: 8}
	f.Fuzz(func(t *testing.T, b []byte) {
		g, out, err := readGem(b, lim)
		if err != nil {
			if !errors.Is(err, packages.ErrInvalid) && !errors.Is(err, packages.ErrTooLarge) {
				t.Fatalf("error of another kind: %v", err)
			}
			return
		}
		if !bytes.Equal(out, b) {
			t.Fatal("the content read is not the gem sent")
		}
		s := g.Spec
		if packages.ValidateName(s.Name) != nil || packages.ValidateVersion(s.Version) != nil || packages.ValidateFilename(s.Filename()) != nil {
			t.Fatalf("ParseGem took a spec the core refuses: %+v", s)
		}
		if _, err := s.QuickSpec(); err != nil {
			t.Fatalf("QuickSpec: %v", err)
		}
	})
}

func FuzzParseSpec(f *testing.F) {
	f.Add(specYAML("x", "1.0"))
	zr, _ := gzip.NewReader(bytes.NewReader(func() []byte {
		tr := tar.NewReader(bytes.NewReader(realGem(f)))
		_, _ = tr.Next()
		b, _ := io.ReadAll(tr)
		return b
	}()))
	real, _ := io.ReadAll(zr)
	f.Add(real)
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSpec(b)
		if err != nil {
			if !errors.Is(err, packages.ErrInvalid) {
				t.Fatalf("error of another kind: %v", err)
			}
			return
		}
		if ValidateName(s.Name) != nil || ValidateVersion(s.Version) != nil || ValidatePlatform(s.Platform) != nil ||
			ValidateFilename(s.Filename(), ".gem") != nil || packages.ValidateFilename(s.Filename()) != nil {
			t.Fatalf("ParseSpec took %+v", s)
		}
		if _, err := s.QuickSpec(); err != nil {
			t.Fatalf("QuickSpec: %v", err)
		}
	})
}
