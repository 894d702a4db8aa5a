package terraform

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// TestRouteTable: every route names an access action and a handler; reads (GET, HEAD) need
// ReadPackage and are at the instance level, the upload WritePackage at the project level;
// nothing else is routed.
func TestRouteTable(t *testing.T) {
	n := 0
	for lv, kinds := range routes {
		for k, methods := range kinds {
			if _, ok := paths[k]; !ok {
				t.Errorf("%d/%d: no path pattern", lv, k)
			}
			for m, ep := range methods {
				n++
				if ep.serve == nil {
					t.Errorf("%d/%d %s: no handler", lv, k, m)
				}
				switch m {
				case http.MethodGet, http.MethodHead:
					if ep.action != access.ReadPackage || lv != levelInstance {
						t.Errorf("%d/%d %s needs %q", lv, k, m, ep.action)
					}
				case http.MethodPut:
					if ep.action != access.WritePackage || lv != levelProject || k != kindUpload {
						t.Errorf("%d/%d PUT needs %q", lv, k, ep.action)
					}
				default:
					t.Errorf("%d/%d: %s is routed", lv, k, m)
				}
			}
		}
	}
	if n != 6 || len(Routes()) != 7 {
		t.Fatalf("%d routes in the table, %d listed", n, len(Routes()))
	}
}

func TestParsePath(t *testing.T) {
	const p = "/api/v4/projects/7/packages/terraform/modules/"
	const i = "/api/v4/packages/terraform/modules/v1/"
	cases := []struct {
		name, path string
		want       Route
		kind       error
	}{
		{"ok/upload", p + "vpc/aws/1.0.0/file", Route{level: levelProject, kind: kindUpload, Ref: "7", Name: "vpc", System: "aws", Version: "1.0.0"}, nil},
		{"ok/upload escaped project path", "/api/v4/projects/group%2Fsub%2Fchild/packages/terraform/modules/my-mod/local/0.1.0-rc.1+b.2/file",
			Route{level: levelProject, kind: kindUpload, Ref: "group/sub/child", Name: "my-mod", System: "local", Version: "0.1.0-rc.1+b.2"}, nil},
		{"ok/versions", i + "group/vpc/aws/versions", Route{level: levelInstance, kind: kindVersions, Ref: "group", Name: "vpc", System: "aws"}, nil},
		{"ok/latest", i + "my.group/vpc/aws/download", Route{level: levelInstance, kind: kindDownloadLatest, Ref: "my.group", Name: "vpc", System: "aws"}, nil},
		{"ok/download", i + "group/vpc/aws/1.2.3/download", Route{level: levelInstance, kind: kindDownload, Ref: "group", Name: "vpc", System: "aws", Version: "1.2.3"}, nil},
		{"ok/file", i + "group/Vpc_1/aws/1.2.3/file", Route{level: levelInstance, kind: kindFile, Ref: "group", Name: "Vpc_1", System: "aws", Version: "1.2.3"}, nil},
		{"fail/other format", "/api/v4/projects/7/packages/npm/vpc", Route{}, packages.ErrNotFound},
		{"fail/upload without file", p + "vpc/aws/1.0.0", Route{}, packages.ErrNotFound},
		{"fail/upload extra segment", p + "vpc/aws/1.0.0/file/x", Route{}, packages.ErrNotFound},
		{"fail/empty id", "/api/v4/projects//packages/terraform/modules/vpc/aws/1.0.0/file", Route{}, packages.ErrNotFound},
		{"fail/unknown instance kind", i + "group/vpc/aws/1.0.0/source", Route{}, packages.ErrNotFound},
		{"fail/short", i + "group/vpc", Route{}, packages.ErrNotFound},
		{"fail/namespace subgroup", i + "group%2Fsub/vpc/aws/versions", Route{}, packages.ErrInvalid},
		{"fail/namespace dot-dot", i + "%2e%2e/vpc/aws/versions", Route{}, packages.ErrInvalid},
		{"fail/name dot-dot", p + "%2e%2e/aws/1.0.0/file", Route{}, packages.ErrInvalid},
		{"fail/name encoded slash", p + "a%2f..%2fb/aws/1.0.0/file", Route{}, packages.ErrInvalid},
		{"fail/name backslash", p + "..%5cetc/aws/1.0.0/file", Route{}, packages.ErrInvalid},
		{"fail/name NUL", p + "a%00b/aws/1.0.0/file", Route{}, packages.ErrInvalid},
		{"fail/name newline", p + "a%0ab/aws/1.0.0/file", Route{}, packages.ErrInvalid},
		{"fail/name leading dash", p + "-a/aws/1.0.0/file", Route{}, packages.ErrInvalid},
		{"fail/name absurd", p + strings.Repeat("a", 65) + "/aws/1.0.0/file", Route{}, packages.ErrInvalid},
		{"fail/version traversal", i + "group/vpc/aws/..%2f..%2f1.0.0/file", Route{}, packages.ErrInvalid},
		{"fail/version with v", i + "group/vpc/aws/v1.0.0/download", Route{}, packages.ErrInvalid},
		{"fail/version short", i + "group/vpc/aws/1.0/download", Route{}, packages.ErrInvalid},
		{"fail/version leading zero", i + "group/vpc/aws/01.0.0/download", Route{}, packages.ErrInvalid},
		{"fail/bad escape", i + "group/%zz/aws/versions", Route{}, packages.ErrInvalid},
		{"fail/absurd path", i + "group/" + strings.Repeat("a/", 2000), Route{}, packages.ErrNotFound},
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

func TestLatest(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
	}{
		{[]string{"1.0.0", "1.10.0", "1.9.0", "2.0.0-rc.1"}, "1.10.0"},
		{[]string{"2.0.0-rc.1", "2.0.0-beta"}, "2.0.0-rc.1"},
		{nil, ""},
	} {
		if got := Latest(c.in); got != c.want {
			t.Errorf("Latest(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

// tgz is a small module archive: what `tar czf` makes of a module directory.
func tgz(t testing.TB, names ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, n := range names {
		body := "# " + n + "\n"
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write([]byte(body))
	}
	_ = tw.Close()
	_ = gz.Close()
	return buf.Bytes()
}

func TestCheckArchive(t *testing.T) {
	lim := DefaultLimits(1 << 20)
	if err := CheckArchive(bytes.NewReader(tgz(t, "main.tf", "./modules/sub/main.tf")), lim); err != nil {
		t.Fatalf("ok/module: %v", err)
	}
	for name, b := range map[string][]byte{
		"empty":     tgz(t),
		"traversal": tgz(t, "main.tf", "a/../../x.tf"),
		"absolute":  tgz(t, "/main.tf"),
		"not gzip":  []byte("main.tf"),
	} {
		if err := CheckArchive(bytes.NewReader(b), lim); !errors.Is(err, packages.ErrInvalid) {
			t.Errorf("fail/%s: %v", name, err)
		}
	}
}

// FuzzParsePath: nothing panics, and whatever parses passes the core's validators.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{
		"/api/v4/projects/7/packages/terraform/modules/vpc/aws/1.0.0/file",
		"/api/v4/projects/group%2Fproject/packages/terraform/modules/vpc/aws/1.0.0-rc.1/file",
		"/api/v4/packages/terraform/modules/v1/group/vpc/aws/versions",
		"/api/v4/packages/terraform/modules/v1/group/vpc/aws/download",
		"/api/v4/packages/terraform/modules/v1/group/vpc/aws/1.0.0/download",
		"/api/v4/packages/terraform/modules/v1/group/vpc/aws/1.0.0/file",
		"/api/v4/packages/terraform/modules/v1/%2e%2e/vpc/aws/1.0.0/file",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rt, err := ParsePath(s)
		if err != nil {
			if !errors.Is(err, packages.ErrNotFound) && !errors.Is(err, packages.ErrInvalid) {
				t.Fatalf("error kind: %v", err)
			}
			return
		}
		if err := packages.ValidateName(rt.Package()); err != nil {
			t.Fatalf("name %q: %v", rt.Package(), err)
		}
		if rt.Version != "" {
			if err := packages.ValidateVersion(rt.Version); err != nil {
				t.Fatalf("version %q: %v", rt.Version, err)
			}
			if err := packages.ValidateFilename(rt.Filename()); err != nil {
				t.Fatalf("filename %q: %v", rt.Filename(), err)
			}
		}
		if rt.level == levelInstance && !ValidNamespace(rt.Ref) {
			t.Fatalf("namespace %q", rt.Ref)
		}
	})
}

// FuzzParseArchive: CheckArchive never panics and fails only with ErrInvalid.
func FuzzParseArchive(f *testing.F) {
	f.Add(tgz(f, "main.tf", "variables.tf", "modules/a/main.tf"))
	f.Add(tgz(f, "../x"))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		err := CheckArchive(bytes.NewReader(b), Limits{MaxUnpacked: 1 << 20, MaxEntries: 100})
		if err != nil && !errors.Is(err, packages.ErrInvalid) {
			t.Fatalf("error kind: %v", err)
		}
	})
}
