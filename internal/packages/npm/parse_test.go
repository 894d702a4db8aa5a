package npm

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// TestRouteTable: every route has an access action and a handler; reads need ReadPackage and
// writes WritePackage; group level is read-only; every kind the parser produces is routed at
// the project level.
func TestRouteTable(t *testing.T) {
	for lv, kinds := range routes {
		for k, methods := range kinds {
			for m, ep := range methods {
				if ep.action == "" || ep.serve == nil {
					t.Errorf("%s %s %s: no access action or handler", lv, k, m)
				}
				want := access.ReadPackage
				if m != http.MethodGet {
					want = access.WritePackage
				}
				if ep.action != want {
					t.Errorf("%s %s %s needs %q, want %q", lv, k, m, ep.action, want)
				}
				if lv == levelGroup && ep.action != access.ReadPackage {
					t.Errorf("group level %s %s writes", k, m)
				}
			}
		}
	}
	for _, k := range []kind{kindPackage, kindTarball, kindDistTags, kindDistTag} {
		if len(routes[levelProject][k]) == 0 {
			t.Errorf("project level does not route %s", k)
		}
	}
	if _, ok := routes[levelInstance][kindPackage][http.MethodPut]; ok {
		t.Error("publishing is routed at the instance level; it must name a project")
	}
}

func TestParsePath(t *testing.T) {
	type want struct {
		level     level
		kind      kind
		ref, name string
		file, ver string
		tag       string
		prefix    string
	}
	pp := "/api/v4/projects/7/packages/npm"
	cases := []struct {
		path string
		want *want // nil: an error of kind err
		err  error
	}{
		{pp + "/@scope%2fpkg", &want{levelProject, kindPackage, "7", "@scope/pkg", "", "", "", pp}, nil},
		{pp + "/@scope%2Fpkg", &want{levelProject, kindPackage, "7", "@scope/pkg", "", "", "", pp}, nil},
		{pp + "/@scope/pkg", &want{levelProject, kindPackage, "7", "@scope/pkg", "", "", "", pp}, nil},
		{pp + "/plain", &want{levelProject, kindPackage, "7", "plain", "", "", "", pp}, nil},
		{"/api/v4/projects/group%2Fsub%2Fp/packages/npm/x", &want{levelProject, kindPackage, "group/sub/p", "x", "", "", "", "/api/v4/projects/group%2Fsub%2Fp/packages/npm"}, nil},
		{pp + "/@scope/pkg/-/pkg-1.0.0.tgz", &want{levelProject, kindTarball, "7", "@scope/pkg", "pkg-1.0.0.tgz", "1.0.0", "", pp}, nil},
		{pp + "/@scope%2fpkg/-/pkg-1.0.0-rc.1+b.2.tgz", &want{levelProject, kindTarball, "7", "@scope/pkg", "pkg-1.0.0-rc.1+b.2.tgz", "1.0.0-rc.1+b.2", "", pp}, nil},
		{pp + "/@scope/pkg/-/@scope/pkg-1.0.0.tgz", &want{levelProject, kindTarball, "7", "@scope/pkg", "pkg-1.0.0.tgz", "1.0.0", "", pp}, nil},
		{pp + "/@scope/pkg/-/@scope%2fpkg-1.0.0.tgz", &want{levelProject, kindTarball, "7", "@scope/pkg", "pkg-1.0.0.tgz", "1.0.0", "", pp}, nil},
		{pp + "/-/package/@scope%2fpkg/dist-tags", &want{levelProject, kindDistTags, "7", "@scope/pkg", "", "", "", pp}, nil},
		{pp + "/-/package/@scope/pkg/dist-tags/beta", &want{levelProject, kindDistTag, "7", "@scope/pkg", "", "", "beta", pp}, nil},
		{"/api/v4/groups/group%2Fsub/-/packages/npm/@s%2fp", &want{levelGroup, kindPackage, "group/sub", "@s/p", "", "", "", "/api/v4/groups/group%2Fsub/-/packages/npm"}, nil},
		{"/api/v4/packages/npm/@s%2fp", &want{levelInstance, kindPackage, "", "@s/p", "", "", "", "/api/v4/packages/npm"}, nil},
		{"/api/v4/packages/npm/-/package/@s%2fp/dist-tags/next", &want{levelInstance, kindDistTag, "", "@s/p", "", "", "next", "/api/v4/packages/npm"}, nil},

		{pp + "/", nil, packages.ErrInvalid},
		{pp + "/a/b/c", nil, packages.ErrNotFound},
		{pp + "/@scope", nil, packages.ErrInvalid},
		{pp + "/%2e%2e", nil, packages.ErrInvalid},
		{pp + "/@scope%2f..", nil, packages.ErrInvalid},
		{pp + "/@..%2fx", nil, packages.ErrInvalid},
		{pp + "/a%00b", nil, packages.ErrInvalid},
		{pp + "/a%0ab", nil, packages.ErrInvalid},
		{pp + "/" + strings.Repeat("a", 215), nil, packages.ErrInvalid},
		{pp + "/pkg/-/..%2f..%2fpkg-1.0.0.tgz", nil, packages.ErrNotFound},
		{pp + "/pkg/-/pkg-1.0.0.tgz/extra", nil, packages.ErrNotFound},
		{pp + "/pkg/-/other-1.0.0.tgz", nil, packages.ErrNotFound},
		{pp + "/pkg/-/pkg-..%2f1.tgz", nil, packages.ErrNotFound},
		{pp + "/pkg/-/pkg-1.0.tgz", nil, packages.ErrNotFound},
		{pp + "/-/package/pkg/dist-tags/1.0.0", nil, packages.ErrInvalid},
		{pp + "/-/package/pkg/dist-tags/..", nil, packages.ErrInvalid},
		{pp + "/-/package/pkg/other", nil, packages.ErrNotFound},
		{"/api/v4/projects/7/packages/pypi/x", nil, packages.ErrNotFound},
		{"/api/v4/groups/1/packages/npm/x", nil, packages.ErrNotFound},
		{"/api/v4/projects//packages/npm/x", nil, packages.ErrNotFound},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			rt, err := ParsePath(c.path)
			if c.want == nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err = %v, want %v", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := want{rt.level, rt.kind, rt.Ref, rt.Name.String(), rt.Filename, rt.Version, rt.Tag, rt.Prefix}
			if got != *c.want {
				t.Fatalf("got %+v, want %+v", got, *c.want)
			}
		})
	}
}

func TestParseNameAndVersion(t *testing.T) {
	for _, s := range []string{"a", "@scope/name", "@my-org/my.pkg_2", "lodash.merge", "~tilde", "Legacy-Caps", "@a_b/c+d"} {
		if n, err := ParseName(s); err != nil || n.String() != s {
			t.Errorf("ParseName(%q) = %+v, %v", s, n, err)
		}
	}
	for _, s := range []string{"", "@scope", "@/x", "@scope/", "@sc/ope/x", ".hidden", "_under", "-dash", "a b", "a/b", "@-x/y",
		"@x./y", "node_modules", "ünicode", strings.Repeat("a", 215), "@scope/..", "a%2fb"} {
		if _, err := ParseName(s); !errors.Is(err, packages.ErrInvalid) {
			t.Errorf("ParseName(%q) = %v, want ErrInvalid", s, err)
		}
	}
	for _, v := range []string{"0.0.0", "1.2.3", "10.20.30", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-0.3.7", "1.0.0-x.7.z.92", "1.0.0+20130313144700", "1.0.0-beta+exp.sha.5114f85", "1.0.0-rc.1+build.1-2"} {
		if !ValidVersion(v) {
			t.Errorf("ValidVersion(%q) = false", v)
		}
	}
	for _, v := range []string{"", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "v1.2.3", "1.2.3-", "1.2.3-01", "1.2.3-a..b", "1.2.3+", "1.2.3 ", "1.2.3-a/b", "../1.2.3", strings.Repeat("1", 300) + ".0.0"} {
		if ValidVersion(v) {
			t.Errorf("ValidVersion(%q) = true", v)
		}
	}
	for _, tag := range []string{"latest", "next", "beta-2", "v2.x", "rc_1"} {
		if err := ValidateTag(tag); err != nil {
			t.Errorf("ValidateTag(%q): %v", tag, err)
		}
	}
	for _, tag := range []string{"", "1.0.0", "v1.0.0", "-x", "a/b", "a b", strings.Repeat("t", 129)} {
		if err := ValidateTag(tag); !errors.Is(err, packages.ErrInvalid) {
			t.Errorf("ValidateTag(%q) = %v", tag, err)
		}
	}
}

// tarball builds a gzip'd tar of files (name → content), in order.
func tarball(t testing.TB, files ...[2]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f[0], Mode: 0o644, Size: int64(len(f[1])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func pkgJSON(name, version string) [2]string {
	return [2]string{"package/package.json", `{"name":"` + name + `","version":"` + version + `"}`}
}

// doc builds a publish document as npm 11 does, then applies mods to its decoded form.
func doc(t testing.TB, name, version string, tgz []byte, mods ...func(map[string]any)) []byte {
	t.Helper()
	s1 := sha1.Sum(tgz)
	s512 := sha512.Sum512(tgz)
	d := map[string]any{
		"_id": name, "name": name, "description": "d", "dist-tags": map[string]any{"latest": version},
		"versions": map[string]any{version: map[string]any{
			"name": name, "version": version, "main": "index.js", "readme": "# big readme", "_id": name + "@" + version,
			"dependencies": map[string]any{"left-pad": "^1.0.0"},
			"dist": map[string]any{"integrity": "sha512-" + base64.StdEncoding.EncodeToString(s512[:]), "shasum": hex.EncodeToString(s1[:]),
				"tarball": "http://x/" + name + "/-/" + name + "-" + version + ".tgz"},
		}},
		"access": nil,
		"_attachments": map[string]any{name + "-" + version + ".tgz": map[string]any{
			"content_type": "application/octet-stream", "data": base64.StdEncoding.EncodeToString(tgz), "length": len(tgz)}},
	}
	for _, m := range mods {
		m(d)
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func version0(d map[string]any) map[string]any {
	for _, v := range d["versions"].(map[string]any) {
		return v.(map[string]any)
	}
	return nil
}

func attachment0(d map[string]any) map[string]any {
	for _, a := range d["_attachments"].(map[string]any) {
		return a.(map[string]any)
	}
	return nil
}

var testLimits = Limits{MaxTarball: 64 << 10, MaxUnpacked: 256 << 10, MaxPackageJSON: 4 << 10}

func TestParsePublishRealClient(t *testing.T) {
	raw, err := os.ReadFile("testdata/publish-npm11.json")
	if err != nil {
		t.Fatal(err)
	}
	name, _ := ParseName("@fuzz/seed")
	p, err := ParsePublish(bytes.NewReader(raw), name, testLimits)
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != "1.0.0" || p.Filename != "seed-1.0.0.tgz" || len(p.Tags) != 1 || p.Tags[0] != "latest" ||
		p.Expected.SHA1 != "da110e6bf8643d1427b66465699ca19c35bc52bf" || len(p.Expected.SHA512) != 128 || len(p.Tarball) != 221 {
		t.Fatalf("publish = %+v", p)
	}
	var m map[string]any
	if err := json.Unmarshal(p.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	if m["main"] != "index.js" || m["readme"] != nil || m["dist"] != nil {
		t.Fatalf("manifest = %v (readme and dist must be stripped, the rest kept)", m)
	}
}

func TestParsePublish(t *testing.T) {
	name, _ := ParseName("@s/p")
	good := tarball(t, [2]string{"package/index.js", "x"}, pkgJSON("@s/p", "1.0.0"))
	cases := []struct {
		name string
		body []byte
		kind error
		why  string
	}{
		{"ok/npm-shaped document", doc(t, "@s/p", "1.0.0", good), nil, ""},
		{"ok/only integrity", doc(t, "@s/p", "1.0.0", good, func(d map[string]any) { delete(version0(d)["dist"].(map[string]any), "shasum") }), nil, ""},
		{"ok/no dist-tags means latest", doc(t, "@s/p", "1.0.0", good, func(d map[string]any) { delete(d, "dist-tags") }), nil, ""},
		{"fail/not JSON", []byte("{"), packages.ErrInvalid, "JSON"},
		{"fail/name differs from URL", doc(t, "@s/q", "1.0.0", good), packages.ErrInvalid, "does not match the URL"},
		{"fail/two versions", doc(t, "@s/p", "1.0.0", good, func(d map[string]any) {
			d["versions"].(map[string]any)["2.0.0"] = map[string]any{"name": "@s/p", "version": "2.0.0"}
		}), packages.ErrInvalid, "exactly one version"},
		{"fail/version not semver", doc(t, "@s/p", "1.0", good), packages.ErrInvalid, "semantic version"},
		{"fail/version traversal", doc(t, "@s/p", "../../1.0.0", good), packages.ErrInvalid, "semantic version"},
		{"fail/manifest version differs", doc(t, "@s/p", "1.0.0", good, func(d map[string]any) { version0(d)["version"] = "1.0.1" }), packages.ErrInvalid, "do not match"},
		{"fail/manifest not an object", doc(t, "@s/p", "1.0.0", good, func(d map[string]any) { d["versions"] = map[string]any{"1.0.0": 5} }), packages.ErrInvalid, "package.json object"},
		{"fail/dist-tag elsewhere", doc(t, "@s/p", "1.0.0", good, func(d map[string]any) { d["dist-tags"] = map[string]any{"latest": "0.9.0"} }), packages.ErrInvalid, "dist-tags"},
		{"fail/dist-tag is a version", doc(t, "@s/p", "1.0.0", good, func(d map[string]any) { d["dist-tags"] = map[string]any{"2.0.0": "1.0.0"} }), packages.ErrInvalid, "dist-tag"},
		{"fail/no attachment", doc(t, "@s/p", "1.0.0", good, func(d map[string]any) { delete(d, "_attachments") }), packages.ErrInvalid, "exactly one tarball"},
		{"fail/attachment traversal name", doc(t, "@s/p", "1.0.0", good, func(d map[string]any) {
			d["_attachments"] = map[string]any{"../../etc/passwd": attachment0(d)}
		}), packages.ErrInvalid, "<name>-<version>.tgz"},
		{"fail/attachment not base64", doc(t, "@s/p", "1.0.0", good, func(d map[string]any) { attachment0(d)["data"] = "!!!" }), packages.ErrInvalid, "base64"},
		{"fail/attachment length lies", doc(t, "@s/p", "1.0.0", good, func(d map[string]any) { attachment0(d)["length"] = 3 }), packages.ErrInvalid, "length"},
		{"fail/bad shasum", doc(t, "@s/p", "1.0.0", good, func(d map[string]any) {
			version0(d)["dist"].(map[string]any)["shasum"] = strings.Repeat("0", 40)
		}), packages.ErrInvalid, "shasum"},
		{"fail/bad integrity", doc(t, "@s/p", "1.0.0", good, func(d map[string]any) {
			version0(d)["dist"].(map[string]any)["integrity"] = "sha512-" + base64.StdEncoding.EncodeToString(make([]byte, 64))
		}), packages.ErrInvalid, "integrity"},
		{"fail/no checksum at all", doc(t, "@s/p", "1.0.0", good, func(d map[string]any) { delete(version0(d), "dist") }), packages.ErrInvalid, "shasum or integrity"},
		{"fail/only an unknown SRI algorithm", doc(t, "@s/p", "1.0.0", good, func(d map[string]any) {
			version0(d)["dist"] = map[string]any{"integrity": "sha384-AAAA"}
		}), packages.ErrInvalid, "shasum or integrity"},
		{"fail/tarball not gzip", doc(t, "@s/p", "1.0.0", []byte("plain text, not a tarball")), packages.ErrInvalid, "gzip"},
		{"fail/gzip but not tar", doc(t, "@s/p", "1.0.0", gzipped(t, strings.Repeat("x", 1000))), packages.ErrInvalid, "tar"},
		{"fail/truncated tarball", doc(t, "@s/p", "1.0.0", good[:len(good)-12]), packages.ErrInvalid, "tarball"},
		{"fail/no package.json", doc(t, "@s/p", "1.0.0", tarball(t, [2]string{"package/index.js", "x"})), packages.ErrInvalid, "no package/package.json"},
		{"fail/package.json elsewhere", doc(t, "@s/p", "1.0.0", tarball(t, [2]string{"other/package.json", `{"name":"@s/p","version":"1.0.0"}`})), packages.ErrInvalid, "no package/package.json"},
		{"fail/package.json of another package", doc(t, "@s/p", "1.0.0", tarball(t, pkgJSON("@s/evil", "1.0.0"))), packages.ErrInvalid, "does not match"},
		{"fail/package.json of another version", doc(t, "@s/p", "1.0.0", tarball(t, pkgJSON("@s/p", "6.6.6"))), packages.ErrInvalid, "does not match"},
		{"fail/package.json twice", doc(t, "@s/p", "1.0.0", tarball(t, pkgJSON("@s/p", "1.0.0"), pkgJSON("@s/p", "1.0.0"))), packages.ErrInvalid, "twice"},
		{"fail/package.json not JSON", doc(t, "@s/p", "1.0.0", tarball(t, [2]string{"package/package.json", "{"})), packages.ErrInvalid, "not JSON"},
		{"fail/entry escapes", doc(t, "@s/p", "1.0.0", tarball(t, pkgJSON("@s/p", "1.0.0"), [2]string{"package/../../evil", "x"})), packages.ErrInvalid, "outside"},
		{"fail/absolute entry", doc(t, "@s/p", "1.0.0", tarball(t, pkgJSON("@s/p", "1.0.0"), [2]string{"/etc/passwd", "x"})), packages.ErrInvalid, "outside"},
		{"fail/huge package.json", doc(t, "@s/p", "1.0.0", tarball(t, [2]string{"package/package.json", strings.Repeat(" ", 5<<10)})), packages.ErrInvalid, "too large"},
		{"fail/gzip bomb", doc(t, "@s/p", "1.0.0", tarball(t, pkgJSON("@s/p", "1.0.0"), [2]string{"package/zeros", strings.Repeat("\x00", 300<<10)})), packages.ErrInvalid, "unpacks to more"},
		{"fail/oversized tarball", doc(t, "@s/p", "1.0.0", tarball(t, pkgJSON("@s/p", "1.0.0"), [2]string{"package/noise", string(noise(t, 70<<10))})), packages.ErrTooLarge, "limit"},
		{"fail/oversized document", append([]byte(`{"pad":"`), append(bytes.Repeat([]byte("x"), int(testLimits.MaxBody())), '"', '}')...), packages.ErrTooLarge, "limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParsePublish(bytes.NewReader(c.body), name, testLimits)
			if c.kind == nil {
				if err != nil {
					t.Fatal(err)
				}
				if p.Version != "1.0.0" || p.Filename != "p-1.0.0.tgz" || !bytes.Equal(p.Tarball, good) || len(p.Tags) != 1 || p.Tags[0] != "latest" {
					t.Fatalf("publish = %+v", p)
				}
				return
			}
			if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.why) {
				t.Fatalf("err = %v, want %v mentioning %q", err, c.kind, c.why)
			}
		})
	}
}

func gzipped(t testing.TB, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	_, _ = gz.Write([]byte(s))
	_ = gz.Close()
	return buf.Bytes()
}

// noise is incompressible bytes (a deterministic stream, so the test is stable).
func noise(t testing.TB, n int) []byte {
	t.Helper()
	out := make([]byte, 0, n)
	seed := sha512.Sum512([]byte("noise"))
	for len(out) < n {
		out = append(out, seed[:]...)
		seed = sha512.Sum512(seed[:])
	}
	return out[:n]
}

func FuzzParsePublish(f *testing.F) {
	real, err := os.ReadFile("testdata/publish-npm11.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add("@fuzz/seed", real)
	good := tarball(f, pkgJSON("@s/p", "1.0.0"), [2]string{"package/index.js", "module.exports = 1"})
	f.Add("@s/p", doc(f, "@s/p", "1.0.0", good))
	f.Add("@s/p", doc(f, "@s/p", "1.0.0", good[:40]))
	f.Add("plain", doc(f, "plain", "1.0.0-rc.1", tarball(f, pkgJSON("plain", "1.0.0-rc.1"))))
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		n, err := ParseName(name)
		if err != nil {
			return
		}
		p, err := ParsePublish(bytes.NewReader(body), n, testLimits)
		if err != nil {
			if !errors.Is(err, packages.ErrInvalid) && !errors.Is(err, packages.ErrTooLarge) {
				t.Fatalf("error of an unknown kind: %v", err)
			}
			return
		}
		// What parses is consistent and safe to store.
		if p.Name != n || !ValidVersion(p.Version) || p.Filename != n.Filename(p.Version) || int64(len(p.Tarball)) > testLimits.MaxTarball {
			t.Fatalf("inconsistent publish %+v", p)
		}
		if packages.ValidateFilename(p.Filename) != nil || packages.ValidateName(n.String()) != nil || packages.ValidateVersion(p.Version) != nil {
			t.Fatalf("publish %+v fails the core's validation", p)
		}
		sums := packages.SumsOf(p.Tarball)
		if (p.Expected.SHA1 != "" && p.Expected.SHA1 != sums.SHA1) || (p.Expected.SHA512 != "" && p.Expected.SHA512 != sums.SHA512) {
			t.Fatal("verified checksums do not match the tarball")
		}
		if !json.Valid(p.Manifest) || len(p.Manifest) > packages.MaxMetadataSize {
			t.Fatal("manifest is not storable JSON")
		}
		for _, tag := range p.Tags {
			if ValidateTag(tag) != nil {
				t.Fatalf("tag %q passed", tag)
			}
		}
	})
}

func FuzzParseNPMPath(f *testing.F) {
	for _, s := range []string{"/api/v4/projects/7/packages/npm/@s%2fp", "/api/v4/projects/7/packages/npm/@s/p/-/p-1.0.0.tgz",
		"/api/v4/packages/npm/-/package/@s%2fp/dist-tags/beta", "/api/v4/groups/g%2Fs/-/packages/npm/x"} {
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
		if _, err := ParseName(rt.Name.String()); err != nil || packages.ValidateName(rt.Name.String()) != nil {
			t.Fatalf("parsed name %q is not valid", rt.Name)
		}
		if rt.kind == kindTarball && (packages.ValidateFilename(rt.Filename) != nil || rt.Filename != rt.Name.Filename(rt.Version)) {
			t.Fatalf("parsed tarball %q unsafe", rt.Filename)
		}
		if rt.kind == kindDistTag && ValidateTag(rt.Tag) != nil {
			t.Fatalf("parsed tag %q invalid", rt.Tag)
		}
	})
}

// FuzzCheckTarball fuzzes the gzip/tar layer directly (mutations rarely survive the base64 and
// JSON around it in FuzzParsePublish), seeded with the tarball real npm 11 published.
func FuzzCheckTarball(f *testing.F) {
	raw, err := os.ReadFile("testdata/publish-npm11.json")
	if err != nil {
		f.Fatal(err)
	}
	var d publishDoc
	if err := json.Unmarshal(raw, &d); err != nil {
		f.Fatal(err)
	}
	tgz, err := base64.StdEncoding.DecodeString(d.Attachments["@fuzz/seed-1.0.0.tgz"].Data)
	if err != nil || checkTarball(tgz, "@fuzz/seed", "1.0.0", testLimits) != nil {
		f.Fatalf("the real tarball does not check: %v", err)
	}
	f.Add(tgz)
	f.Add(tarball(f, [2]string{"package/../x", "x"}, pkgJSON("@fuzz/seed", "1.0.0")))
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := checkTarball(data, "@fuzz/seed", "1.0.0", testLimits); err != nil && !errors.Is(err, packages.ErrInvalid) {
			t.Fatalf("error of an unknown kind: %v", err)
		}
	})
}
