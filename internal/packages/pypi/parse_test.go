package pypi

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// TestRouteTable: every route maps to an access action and a handler; reads need ReadPackage,
// the upload WritePackage; the group level only reads; nothing else is routed.
func TestRouteTable(t *testing.T) {
	for lv, kinds := range routes {
		for k, methods := range kinds {
			for m, ep := range methods {
				if ep.action == "" || ep.serve == nil {
					t.Errorf("%s %s %s: no access action or handler", lv, k, m)
				}
				want := access.ReadPackage
				if m == http.MethodPost {
					want = access.WritePackage
				}
				if m != http.MethodGet && m != http.MethodHead && m != http.MethodPost {
					t.Errorf("%s %s routes %s", lv, k, m)
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
	for _, k := range []kind{kindUpload, kindSimpleIndex, kindSimpleProject, kindFile} {
		if len(routes[levelProject][k]) == 0 {
			t.Errorf("project level does not route %s", k)
		}
	}
	if len(routes[levelProject][kindUpload]) != 1 {
		t.Error("the upload URL routes more than POST")
	}
}

const sha = "c3e1b9d1bcebbf96027000a2ee7d8be0c9b79d0e9b41e200e358fab0b7fd81c0"

func TestParsePath(t *testing.T) {
	const p = "/api/v4/projects/7/packages/pypi"
	const g = "/api/v4/groups/group%2Fsub/-/packages/pypi"
	cases := []struct {
		path string
		want Route
		kind error
	}{
		{p, Route{level: levelProject, kind: kindUpload, Ref: "7", Prefix: p}, nil},
		{p + "/", Route{level: levelProject, kind: kindUpload, Ref: "7", Prefix: p}, nil},
		{"/api/v4/projects/group%2Ftop/packages/pypi", Route{level: levelProject, kind: kindUpload, Ref: "group/top", Prefix: "/api/v4/projects/group%2Ftop/packages/pypi"}, nil},
		{p + "/simple", Route{level: levelProject, kind: kindSimpleIndex, Ref: "7", Prefix: p}, nil},
		{p + "/simple/", Route{level: levelProject, kind: kindSimpleIndex, Ref: "7", Prefix: p}, nil},
		{p + "/simple/my-pkg/", Route{level: levelProject, kind: kindSimpleProject, Ref: "7", Prefix: p, Name: "my-pkg", Canonical: true}, nil},
		{p + "/simple/my-pkg", Route{level: levelProject, kind: kindSimpleProject, Ref: "7", Prefix: p, Name: "my-pkg"}, nil},
		{p + "/simple/My_Pkg/", Route{level: levelProject, kind: kindSimpleProject, Ref: "7", Prefix: p, Name: "My_Pkg"}, nil},
		{p + "/files/" + sha + "/my_pkg-1.0-py3-none-any.whl", Route{level: levelProject, kind: kindFile, Ref: "7", Prefix: p, SHA256: sha, Filename: "my_pkg-1.0-py3-none-any.whl"}, nil},
		{g + "/simple/my.pkg/", Route{level: levelGroup, kind: kindSimpleProject, Ref: "group/sub", Prefix: g, Name: "my.pkg"}, nil},
		{g + "/files/" + sha + "/my.pkg-1.0.tar.gz", Route{level: levelGroup, kind: kindFile, Ref: "group/sub", Prefix: g, SHA256: sha, Filename: "my.pkg-1.0.tar.gz"}, nil},

		{g, Route{}, packages.ErrNotFound},
		{g + "/", Route{}, packages.ErrNotFound},
		{g + "/simple/", Route{}, packages.ErrNotFound},
		{"/api/v4/packages/pypi/simple/a/", Route{}, packages.ErrNotFound},
		{"/api/v4/projects/7/packages/pypix", Route{}, packages.ErrNotFound},
		{"/api/v4/projects/7/packages/npm/x", Route{}, packages.ErrNotFound},
		{"/api/v4/projects//packages/pypi", Route{}, packages.ErrNotFound},
		{"/api/v4/projects/%zz/packages/pypi", Route{}, packages.ErrNotFound},
		{p + "/simple/a/b/", Route{}, packages.ErrNotFound},
		{p + "/files/" + sha, Route{}, packages.ErrNotFound},
		{p + "/files/" + sha + "/a/b.whl", Route{}, packages.ErrNotFound},
		{p + "/other", Route{}, packages.ErrNotFound},
		{p + "/" + strings.Repeat("a/", 3000), Route{}, packages.ErrNotFound},

		{p + "/simple/../", Route{}, packages.ErrInvalid},
		{p + "/simple/%2e%2e/", Route{}, packages.ErrInvalid},
		{p + "/simple/a%2f..%2fb/", Route{}, packages.ErrInvalid},
		{p + "/simple/a%5cb/", Route{}, packages.ErrInvalid},
		{p + "/simple/a%00b/", Route{}, packages.ErrInvalid},
		{p + "/simple/a%0ab/", Route{}, packages.ErrInvalid},
		{p + "/simple/-a/", Route{}, packages.ErrInvalid},
		{p + "/simple/%zz/", Route{}, packages.ErrInvalid},
		{p + "/simple/" + strings.Repeat("a", 300) + "/", Route{}, packages.ErrInvalid},
		{p + "/files/" + strings.ToUpper(sha) + "/a-1.whl", Route{}, packages.ErrInvalid},
		{p + "/files/" + sha[:63] + "/a-1.whl", Route{}, packages.ErrInvalid},
		{p + "/files/" + sha + "/..%2f..%2fetc%2fpasswd", Route{}, packages.ErrInvalid},
		{p + "/files/" + sha + "/%2e%2e", Route{}, packages.ErrInvalid},
		{p + "/files/" + sha + "/a-1..whl", Route{}, packages.ErrInvalid},
		{p + "/files/" + sha + "/a%5c..%5cb-1.whl", Route{}, packages.ErrInvalid},
		{p + "/files/" + sha + "/a-1.whl%00.txt", Route{}, packages.ErrInvalid},
		{p + "/files/" + sha + "/a-1.exe", Route{}, packages.ErrInvalid},
		{p + "/files/" + sha + "/.whl", Route{}, packages.ErrInvalid},
		{p + "/files/" + sha + "/", Route{}, packages.ErrInvalid},
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

func TestValidateNameVersionFilename(t *testing.T) {
	for _, s := range []string{"a", "A1", "my-pkg", "my_pkg", "zope.interface", "Django", "a" + strings.Repeat("b", 254)} {
		if err := ValidateName(s); err != nil {
			t.Errorf("name %q: %v", s, err)
		}
	}
	for _, s := range []string{"", "-a", "a-", ".a", "a.", "a b", "a/b", "..", "a\\b", "ä", strings.Repeat("a", 256)} {
		if err := ValidateName(s); !errors.Is(err, packages.ErrInvalid) {
			t.Errorf("name %q: %v, want ErrInvalid", s, err)
		}
	}
	for _, s := range []string{"1", "1.0.0", "v1.0", "1!2.0", "1.0a1", "1.0.rc2", "1.0-1", "1.0.post1", "1.0.dev3", "2.0+cpu", "1.0+ubuntu.1", "1.0RC1"} {
		if err := ValidateVersion(s); err != nil {
			t.Errorf("version %q: %v", s, err)
		}
	}
	for _, s := range []string{"", "1..0", "../1", "1.0/..", "a", "1.0 ", "1.0\x00", "1.post..dev", "1.0+", "1.0+a..b"} {
		if err := ValidateVersion(s); !errors.Is(err, packages.ErrInvalid) {
			t.Errorf("version %q: %v, want ErrInvalid", s, err)
		}
	}
	for _, s := range []string{"a-1.whl", "my_pkg-1.0-py3-none-any.whl", "torch-2.0.0+cpu-cp310-cp310-linux_x86_64.whl", "pkg-1.0.tar.gz", "Pkg-1.0.ZIP", "pkg-1!2.0.tar.bz2", "pkg-1.0-py3.11.egg"} {
		if err := ValidateFilename(s); err != nil {
			t.Errorf("filename %q: %v", s, err)
		}
	}
	for _, s := range []string{"", ".whl", "-a.whl", "a", "a.exe", "../a-1.whl", "a/b-1.whl", "a\\b-1.whl", "a b-1.whl", "a-1..tar.gz", "a-1.whl\x00", "ä-1.whl", strings.Repeat("a", 252) + ".whl"} {
		if err := ValidateFilename(s); !errors.Is(err, packages.ErrInvalid) {
			t.Errorf("filename %q: %v, want ErrInvalid", s, err)
		}
	}
	if got := FilenameProjects("My_Pkg-1.0-py3-none-any.whl"); strings.Join(got, ",") != "my-pkg,my-pkg-1-0,my-pkg-1-0-py3,my-pkg-1-0-py3-none" {
		t.Errorf("FilenameProjects = %v", got)
	}
}

func TestWantsJSON(t *testing.T) {
	for accept, want := range map[string]bool{
		"": false,
		// pip 23's header.
		"application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01": true,
		"application/vnd.pypi.simple.v1+json":     true,
		"application/vnd.pypi.simple.latest+json": true,
		"text/html": false,
		"*/*":       false,
		"application/vnd.pypi.simple.v1+json;q=0, text/html":         false,
		"text/html;q=0.9, application/vnd.pypi.simple.v1+json;q=0.5": false,
		"application/vnd.pypi.simple.v1+json;q=bogus":                false,
		"application/json": false,
	} {
		if got := WantsJSON(accept); got != want {
			t.Errorf("WantsJSON(%q) = %v, want %v", accept, got, want)
		}
	}
}

// twineBody is the request twine 4.0.2 sent for testdata's wheel, with its Content-Type.
func twineBody(t testing.TB) ([]byte, string) {
	t.Helper()
	b, err := os.ReadFile("testdata/upload-twine4.multipart")
	if err != nil {
		t.Fatal(err)
	}
	boundary, _, _ := strings.Cut(string(b), "\r\n")
	return b, "multipart/form-data; boundary=" + strings.TrimPrefix(boundary, "--")
}

func TestParseUploadRealClient(t *testing.T) {
	body, ct := twineBody(t)
	u, err := ParseUpload(bytes.NewReader(body), ct, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	content, err := io.ReadAll(u.Content)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	if u.Name != "hello-gatehouse" || u.Version != "1.0.0" || u.Filename != "hello_gatehouse-1.0.0-py3-none-any.whl" ||
		u.Expected.SHA256 != hex.EncodeToString(sum[:]) || len(u.Expected.MD5) != 32 || u.Metadata.RequiresPython != ">=3.7,<4" ||
		u.Metadata.Summary != "A test package" || u.Metadata.MetadataVersion != "2.1" || !bytes.HasPrefix(content, []byte("PK\x03\x04")) {
		t.Fatalf("parsed %+v with %d bytes", u, len(content))
	}
}

// form builds a multipart upload: fields in order, then the file part (unless filename is "-").
func form(t testing.TB, fields [][2]string, filename string, content []byte) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, f := range fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	if filename != "-" {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="content"; filename="%s"`, filename))
		h.Set("Content-Type", "application/octet-stream")
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(content)
	}
	_ = mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

func sums(b []byte) (string, string) {
	m, s := md5.Sum(b), sha256.Sum256(b)
	return hex.EncodeToString(m[:]), hex.EncodeToString(s[:])
}

func TestParseUpload(t *testing.T) {
	content := []byte("PK\x03\x04 not really a zip")
	md5sum, shasum := sums(content)
	base := func(mod func(map[string]string)) [][2]string {
		m := map[string]string{":action": "file_upload", "protocol_version": "1", "name": "my-pkg", "version": "1.0",
			"md5_digest": md5sum, "sha256_digest": shasum, "requires_python": ">=3.8"}
		if mod != nil {
			mod(m)
		}
		var out [][2]string
		for _, k := range []string{":action", "protocol_version", "name", "version", "md5_digest", "sha256_digest", "requires_python", "description", "extra"} {
			if v, ok := m[k]; ok {
				out = append(out, [2]string{k, v})
			}
		}
		return out
	}
	const file = "my_pkg-1.0-py3-none-any.whl"
	lim := DefaultLimits()
	t.Run("ok/minimal", func(t *testing.T) {
		b, ct := form(t, base(nil), file, content)
		u, err := ParseUpload(bytes.NewReader(b), ct, lim)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(u.Content)
		if !bytes.Equal(got, content) || u.Expected.MD5 != md5sum || u.Metadata.RequiresPython != ">=3.8" {
			t.Fatalf("%+v", u)
		}
	})
	t.Run("ok/legacy sdist name with dashes", func(t *testing.T) {
		b, ct := form(t, base(nil), "my-pkg-1.0.tar.gz", content)
		if _, err := ParseUpload(bytes.NewReader(b), ct, lim); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ok/long description is cut", func(t *testing.T) {
		b, ct := form(t, base(func(m map[string]string) { m["description"] = strings.Repeat("é", 10000) }), file, content)
		u, err := ParseUpload(bytes.NewReader(b), ct, lim)
		if err != nil || len([]rune(u.Metadata.Description)) != maxDescription {
			t.Fatalf("%v, %d runes", err, len([]rune(u.Metadata.Description)))
		}
	})
	cases := []struct {
		name     string
		fields   [][2]string
		filename string
		ct       string
		lim      *Limits
		kind     error
		why      string
	}{
		{"fail/not multipart", base(nil), file, "application/json", nil, packages.ErrInvalid, "multipart"},
		{"fail/no file", base(nil), "-", "", nil, packages.ErrInvalid, "content"},
		{"fail/other action", base(func(m map[string]string) { m[":action"] = "submit" }), file, "", nil, packages.ErrInvalid, ":action"},
		{"fail/other protocol", base(func(m map[string]string) { m["protocol_version"] = "2" }), file, "", nil, packages.ErrInvalid, "protocol_version"},
		{"fail/no name", base(func(m map[string]string) { delete(m, "name") }), file, "", nil, packages.ErrInvalid, "package name"},
		{"fail/traversal in name", base(func(m map[string]string) { m["name"] = "../../etc" }), file, "", nil, packages.ErrInvalid, "package name"},
		{"fail/traversal in version", base(func(m map[string]string) { m["version"] = "../../1.0" }), file, "", nil, packages.ErrInvalid, "version"},
		{"fail/traversal in filename", base(nil), "../../my_pkg-1.0-py3-none-any.whl", "", nil, packages.ErrInvalid, "file name"},
		{"fail/absolute filename", base(nil), "/tmp/my_pkg-1.0.whl", "", nil, packages.ErrInvalid, "file name"},
		{"fail/backslash filename", base(nil), `..\\my_pkg-1.0.whl`, "", nil, packages.ErrInvalid, "file name"},
		{"fail/filename of another package", base(nil), "other-1.0-py3-none-any.whl", "", nil, packages.ErrInvalid, "file name"},
		{"fail/not a distribution", base(nil), "my_pkg-1.0.sh", "", nil, packages.ErrInvalid, "file name"},
		{"fail/bad md5", base(func(m map[string]string) { m["md5_digest"] = "xyz" }), file, "", nil, packages.ErrInvalid, "md5"},
		{"fail/bad sha256", base(func(m map[string]string) { m["sha256_digest"] = strings.Repeat("g", 64) }), file, "", nil, packages.ErrInvalid, "sha256"},
		{"fail/control in requires_python", base(func(m map[string]string) { m["requires_python"] = ">=3\n,<4" }), file, "", nil, packages.ErrInvalid, "requires_python"},
		{"fail/long requires_python", base(func(m map[string]string) { m["requires_python"] = strings.Repeat(">", 256) }), file, "", nil, packages.ErrInvalid, "requires_python"},
		{"fail/name twice", append(base(nil), [2]string{"name", "other"}), file, "", nil, packages.ErrInvalid, "twice"},
		{"fail/too many fields", append(base(nil), [2]string{"a", "1"}, [2]string{"b", "2"}), file, "", &Limits{MaxFields: 5, MaxField: 100, MaxMetadata: 1000}, packages.ErrInvalid, "too many"},
		{"fail/long field", base(func(m map[string]string) { m["description"] = strings.Repeat("x", 101) }), file, "", &Limits{MaxFields: 50, MaxField: 100, MaxMetadata: 1000}, packages.ErrInvalid, "too long"},
		{"fail/too much metadata", base(func(m map[string]string) {
			m["description"] = strings.Repeat("x", 90)
			m["extra"] = strings.Repeat("x", 90)
		}), file, "", &Limits{MaxFields: 50, MaxField: 100, MaxMetadata: 250}, packages.ErrInvalid, "too much"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, ct := form(t, c.fields, c.filename, content)
			if c.ct != "" {
				ct = c.ct
			}
			l := lim
			if c.lim != nil {
				l = *c.lim
			}
			_, err := ParseUpload(bytes.NewReader(b), ct, l)
			if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.why) {
				t.Fatalf("err = %v, want %v mentioning %q", err, c.kind, c.why)
			}
		})
	}
	t.Run("fail/file before the fields", func(t *testing.T) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		w, _ := mw.CreateFormFile("content", file)
		_, _ = w.Write(content)
		for _, f := range base(nil) {
			_ = mw.WriteField(f[0], f[1])
		}
		_ = mw.Close()
		if _, err := ParseUpload(&b, mw.FormDataContentType(), lim); !errors.Is(err, packages.ErrInvalid) {
			t.Fatalf("err = %v", err)
		}
	})
}

func FuzzParseUpload(f *testing.F) {
	body, ct := twineBody(f)
	_, boundary, _ := strings.Cut(ct, "boundary=")
	f.Add(body)
	content := []byte("PK\x03\x04")
	md5sum, shasum := sums(content)
	for _, fn := range []string{"a-1.whl", "../a-1.whl", "a-1.tar.gz%00", "b-1.whl"} {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		_ = mw.SetBoundary(boundary)
		for _, kv := range [][2]string{{"name", "a"}, {"version", "1"}, {"md5_digest", md5sum}, {"sha256_digest", shasum}, {"requires_python", "<4"}} {
			_ = mw.WriteField(kv[0], kv[1])
		}
		w, _ := mw.CreateFormFile("content", fn)
		_, _ = w.Write(content)
		_ = mw.Close()
		f.Add(b.Bytes())
	}
	lim := Limits{MaxFields: 64, MaxField: 4096, MaxMetadata: 16384}
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := ParseUpload(bytes.NewReader(b), ct, lim)
		if err != nil {
			if !errors.Is(err, packages.ErrInvalid) && !errors.Is(err, packages.ErrTooLarge) {
				t.Fatalf("error of an unknown kind: %v", err)
			}
			return
		}
		// Whatever parses is safe for the core.
		if packages.ValidateName(u.Name) != nil || packages.ValidateVersion(u.Version) != nil || packages.ValidateFilename(u.Filename) != nil {
			t.Fatalf("parsed %q %q %q fails the core's validation", u.Name, u.Version, u.Filename)
		}
		if _, err := u.Expected.Validate(); err != nil {
			t.Fatalf("expected checksums: %v", err)
		}
		if !belongs(u.Filename, u.Name) || len(u.Metadata.RequiresPython) > MaxRequiresPythonLength {
			t.Fatalf("parsed %+v", u)
		}
		_, _ = io.Copy(io.Discard, u.Content)
	})
}

func FuzzParsePyPIPath(f *testing.F) {
	for _, s := range []string{
		"/api/v4/projects/24/packages/pypi",
		"/api/v4/projects/group%2Fproject/packages/pypi/simple/",
		"/api/v4/projects/24/packages/pypi/simple/my-package/",
		"/api/v4/projects/24/packages/pypi/files/" + sha + "/my_package-1.0-py3-none-any.whl",
		"/api/v4/groups/7/-/packages/pypi/simple/My.Package",
		"/api/v4/groups/7/-/packages/pypi/files/" + sha + "/..%2f..%2fetc%2fpasswd",
		"/api/v4/projects/24/packages/pypi/simple/%2e%2e/",
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
		if rt.Ref == "" || rt.level == 0 || rt.kind == 0 || !strings.HasPrefix(p, rt.Prefix) {
			t.Fatalf("parsed %+v", rt)
		}
		switch rt.kind {
		case kindSimpleProject:
			if packages.ValidateName(rt.Name) != nil || strings.ContainsAny(rt.Name, "/\\\x00") {
				t.Fatalf("unsafe name in %+v", rt)
			}
			if rt.Canonical && Normalize(rt.Name) != rt.Name {
				t.Fatalf("canonical but not normalised: %+v", rt)
			}
		case kindFile:
			if packages.ValidateFilename(rt.Filename) != nil || len(rt.SHA256) != 64 {
				t.Fatalf("unsafe file in %+v", rt)
			}
			again, err := ParsePath(rt.Prefix + "/files/" + rt.SHA256 + "/" + url.PathEscape(rt.Filename))
			if err != nil || again != rt {
				t.Fatalf("round trip of %+v: %+v, %v", rt, again, err)
			}
		}
	})
}
