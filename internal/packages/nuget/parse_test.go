package nuget

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"os"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

func TestParseVersion(t *testing.T) {
	for in, want := range map[string][2]string{ // normalised, key
		"1.0.0":              {"1.0.0", "1.0.0"},
		"1":                  {"1.0.0", "1.0.0"},
		"1.2":                {"1.2.0", "1.2.0"},
		"01.002.0003":        {"1.2.3", "1.2.3"},
		"1.0.0.0":            {"1.0.0", "1.0.0"},
		"1.0.0.4":            {"1.0.0.4", "1.0.0.4"},
		"1.02.0.0-Beta":      {"1.2.0-Beta", "1.2.0-beta"},
		"1.0.0-rc.1+sha.abc": {"1.0.0-rc.1", "1.0.0-rc.1"},
		"2.0.0+build.5":      {"2.0.0", "2.0.0"},
		"1.0.0-alpha-2":      {"1.0.0-alpha-2", "1.0.0-alpha-2"},
	} {
		v, err := ParseVersion(in)
		if err != nil || v.Normalized() != want[0] || v.Key() != want[1] {
			t.Errorf("%q: %q %q %v; want %q", in, v.Normalized(), v.Key(), err, want)
		}
	}
	for _, in := range []string{"", "v1.0", "1.0.0.0.0", "1..0", "1.0-", "1.0.0-beta..1", "1.0.0+", "1.0.0-b_c",
		"99999999999.0", "1.0.0-é", "../1.0", "1.0/2", " 1.0", strings.Repeat("1", 200)} {
		if _, err := ParseVersion(in); !errors.Is(err, packages.ErrInvalid) {
			t.Errorf("%q: err = %v, want ErrInvalid", in, err)
		}
	}
	ordered := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
		"1.0.0-rc.1", "1.0.0", "1.0.0.1", "1.0.1", "1.10.0", "2.0.0"}
	for i := 1; i < len(ordered); i++ {
		a, _ := ParseVersion(ordered[i-1])
		b, _ := ParseVersion(ordered[i])
		if Compare(a, b) >= 0 || Compare(b, a) <= 0 {
			t.Errorf("%s should sort before %s", ordered[i-1], ordered[i])
		}
	}
	a, _ := ParseVersion("1.0.0-BETA+x")
	b, _ := ParseVersion("1.0.0-beta")
	if Compare(a, b) != 0 {
		t.Error("case and metadata should not order versions")
	}
}

func TestValidateID(t *testing.T) {
	for _, ok := range []string{"A", "Newtonsoft.Json", "my-pkg_2", "x.y-z.w"} {
		if err := ValidateID(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".a", "a.", "a..b", "a.-b", "a b", "a/b", "..", "a\\b", "é", strings.Repeat("a", 101)} {
		if err := ValidateID(bad); !errors.Is(err, packages.ErrInvalid) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

// nuspecXML is a manifest as nuget pack writes it.
func nuspecXML(id, version, extra string) string {
	return `<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2012/06/nuspec.xsd">
  <metadata>
    <id>` + id + `</id>
    <version>` + version + `</version>
    <authors>A, B</authors>
    <description>desc</description>` + extra + `
  </metadata>
</package>`
}

func zipBytes(t testing.TB, entries ...[2]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.Create(e[0])
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, e[1])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bomb is a zip whose one content entry inflates to size bytes of zeros.
func bomb(t testing.TB, size int, nuspecName string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create(nuspecName)
	zeros := make([]byte, 1<<20)
	for n := 0; n < size; n += len(zeros) {
		w.Write(zeros)
	}
	zw.Close()
	return buf.Bytes()
}

func TestParseNupkg(t *testing.T) {
	good := nuspecXML("My.Pkg", "1.02.0-Beta+meta", `
    <projectUrl>javascript:alert(1)</projectUrl>
    <licenseUrl>https://example.com/license</licenseUrl>
    <license type="expression">MIT</license>
    <dependencies>
      <dependency id="Flat.Dep" version="1.0" />
      <group targetFramework="net6.0"><dependency id="Other" version="[1.0,2.0)" /></group>
      <group targetFramework="netstandard2.0" />
    </dependencies>`)
	demo, err := os.ReadFile("testdata/demo.pkg.nuget287.nupkg")
	must(t, err)
	t.Run("ok/nuget pack 2.8.7 output", func(t *testing.T) {
		n, err := ParseNupkg(bytes.NewReader(demo), int64(len(demo)), DefaultLimits())
		if err != nil || n.ID != "Demo.Pkg" || n.Version != "1.2.0-Beta" || n.ParsedVersion().Key() != "1.2.0-beta" ||
			len(n.DependencyGroups) != 1 || n.DependencyGroups[0].TargetFramework != ".NETFramework4.5" || n.DependencyGroups[0].Dependencies[0].Range != "[1.0, 2.0)" {
			t.Fatalf("%+v, %v", n, err)
		}
	})
	t.Run("ok/fields", func(t *testing.T) {
		b := zipBytes(t, [2]string{"My.Pkg.nuspec", good}, [2]string{"lib/net6.0/My.Pkg.dll", "x"})
		n, err := ParseNupkg(bytes.NewReader(b), int64(len(b)), DefaultLimits())
		must(t, err)
		if n.Version != "1.2.0-Beta" || n.FullVersion != "1.2.0-Beta+meta" || n.ProjectURL != "" || n.LicenseURL != "https://example.com/license" ||
			n.License != "MIT" || len(n.DependencyGroups) != 3 || n.DependencyGroups[0].TargetFramework != "" || n.Authors != "A, B" {
			t.Fatalf("%+v", n)
		}
	})
	lim := DefaultLimits()
	cases := []struct {
		name string
		pkg  []byte
		why  string
	}{
		{"fail/not a zip", []byte("#!/bin/sh\nrm -rf /\n"), "zip"},
		{"fail/no nuspec", zipBytes(t, [2]string{"readme.txt", "x"}), "no .nuspec"},
		{"fail/nuspec not at the root", zipBytes(t, [2]string{"sub/My.Pkg.nuspec", good}), "no .nuspec"},
		{"fail/two nuspecs", zipBytes(t, [2]string{"a.nuspec", good}, [2]string{"b.nuspec", good}), "more than one"},
		{"fail/traversal entry", zipBytes(t, [2]string{"My.Pkg.nuspec", good}, [2]string{"../../etc/cron.d/x", "x"}), "entry name"},
		{"fail/absolute entry", zipBytes(t, [2]string{"My.Pkg.nuspec", good}, [2]string{"/etc/passwd", "x"}), "entry name"},
		{"fail/backslash entry", zipBytes(t, [2]string{"My.Pkg.nuspec", good}, [2]string{"..\\..\\x.dll", "x"}), "entry name"},
		{"fail/drive entry", zipBytes(t, [2]string{"My.Pkg.nuspec", good}, [2]string{"C:/x.dll", "x"}), "entry name"},
		{"fail/duplicate entry", zipBytes(t, [2]string{"My.Pkg.nuspec", good}, [2]string{"a.txt", "x"}, [2]string{"A.txt", "y"}), "same name"},
		{"fail/bad xml", zipBytes(t, [2]string{"My.Pkg.nuspec", "<package><metadata><id>x</id>"}), "XML"},
		{"fail/wrong root", zipBytes(t, [2]string{"My.Pkg.nuspec", "<project/>"}), "XML"},
		{"fail/utf-16 declared", zipBytes(t, [2]string{"My.Pkg.nuspec", `<?xml version="1.0" encoding="utf-16"?><package/>`}), "XML"},
		{"fail/bad id", zipBytes(t, [2]string{"x.nuspec", nuspecXML("../evil", "1.0.0", "")}), "package id"},
		{"fail/bad version", zipBytes(t, [2]string{"x.nuspec", nuspecXML("ok", "1.0/../2", "")}), "version"},
		{"fail/bad dependency", zipBytes(t, [2]string{"x.nuspec", nuspecXML("ok", "1.0.0", `<dependencies><dependency id="a b" version="1"/></dependencies>`)}), "dependency id"},
		{"fail/bad range", zipBytes(t, [2]string{"x.nuspec", nuspecXML("ok", "1.0.0", `<dependencies><dependency id="a" version="1;rm"/></dependencies>`)}), "version range"},
		{"fail/symbol package", zipBytes(t, [2]string{"x.nuspec", nuspecXML("ok", "1.0.0", `<packageTypes><packageType name="SymbolsPackage"/></packageTypes>`)}), "symbol"},
		{"fail/huge nuspec", zipBytes(t, [2]string{"x.nuspec", nuspecXML("ok", "1.0.0", "<summary>"+strings.Repeat("a", 300<<10)+"</summary>")}), "too large"},
		{"fail/nuspec bomb", bomb(t, 64<<20, "x.nuspec"), "zip bomb"},
		{"fail/content bomb", append([]byte{}, bomb(t, 64<<20, "lib/x.dll")...), "zip bomb"},
		{"fail/entity expansion", zipBytes(t, [2]string{"x.nuspec", `<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><package><metadata><id>ok</id><version>1.0.0</version><description>&b;</description></metadata></package>`}), "XML"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseNupkg(bytes.NewReader(c.pkg), int64(len(c.pkg)), lim)
			var ve *packages.ValidationError
			if !errors.As(err, &ve) || !strings.Contains(ve.Error(), c.why) {
				t.Fatalf("err = %v, want a ValidationError mentioning %q", err, c.why)
			}
		})
	}
}

func TestLocatePackage(t *testing.T) {
	recorded, err := os.ReadFile("testdata/push-nuget287.multipart")
	must(t, err)
	demo, err := os.ReadFile("testdata/demo.pkg.nuget287.nupkg")
	must(t, err)
	t.Run("ok/nuget.exe 2.8.7 (bare LF before the closing delimiter)", func(t *testing.T) {
		off, n, err := LocatePackage(bytes.NewReader(recorded), int64(len(recorded)), "multipart/form-data; boundary=---------------------------8df4ad60dd28f8c")
		must(t, err)
		if !bytes.Equal(recorded[off:off+n], demo) {
			t.Fatalf("located %d bytes at %d, not the package", n, off)
		}
	})
	t.Run("ok/Go's writer with another field first", func(t *testing.T) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.WriteField("comment", "x")
		w, _ := mw.CreateFormFile("package", "package.nupkg")
		w.Write(demo)
		mw.Close()
		b := buf.Bytes()
		off, n, err := LocatePackage(bytes.NewReader(b), int64(len(b)), mw.FormDataContentType())
		must(t, err)
		if !bytes.Equal(b[off:off+n], demo) {
			t.Fatal("not the package")
		}
	})
	for name, c := range map[string]struct{ body, ct string }{
		"fail/not multipart":     {string(recorded), "application/octet-stream"},
		"fail/no boundary":       {string(recorded), "multipart/form-data"},
		"fail/other boundary":    {string(recorded), "multipart/form-data; boundary=zzz"},
		"fail/unterminated":      {string(recorded[:len(recorded)-60]), "multipart/form-data; boundary=---------------------------8df4ad60dd28f8c"},
		"fail/no file part":      {"--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nv\r\n--b--\r\n", "multipart/form-data; boundary=b"},
		"fail/empty package":     {"--b\r\nContent-Disposition: form-data; name=\"package\"\r\n\r\n\r\n--b--\r\n", "multipart/form-data; boundary=b"},
		"fail/endless headers":   {"--b\r\n" + strings.Repeat("X: y\r\n", 5000), "multipart/form-data; boundary=b"},
		"fail/empty body":        {"", "multipart/form-data; boundary=b"},
		"fail/boundary too long": {"", "multipart/form-data; boundary=" + strings.Repeat("b", 71)},
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := LocatePackage(strings.NewReader(c.body), int64(len(c.body)), c.ct); !errors.Is(err, packages.ErrInvalid) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func FuzzParseNupkg(f *testing.F) {
	demo, err := os.ReadFile("testdata/demo.pkg.nuget287.nupkg")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(demo)
	f.Add(zipBytes(f, [2]string{"x.nuspec", nuspecXML("ok", "1.0.0", `<dependencies><group targetFramework="net6.0"><dependency id="a" version="[1,2)"/></group></dependencies>`)}))
	f.Add(zipBytes(f, [2]string{"../x.nuspec", "<package/>"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		lim := DefaultLimits()
		lim.MaxNuspec = 64 << 10
		n, err := ParseNupkg(bytes.NewReader(b), int64(len(b)), lim)
		if err != nil {
			if !errors.Is(err, packages.ErrInvalid) {
				t.Fatalf("error of an unknown kind: %v", err)
			}
			return
		}
		checkNuspec(t, n)
	})
}

func FuzzParseNuspec(f *testing.F) {
	demo, err := os.ReadFile("testdata/demo.pkg.nuget287.nupkg")
	if err != nil {
		f.Fatal(err)
	}
	zr, _ := zip.NewReader(bytes.NewReader(demo), int64(len(demo)))
	for _, e := range zr.File {
		if strings.HasSuffix(e.Name, ".nuspec") {
			rc, _ := e.Open()
			b, _ := io.ReadAll(rc)
			f.Add(b)
		}
	}
	f.Add([]byte(nuspecXML("A.B", "1.0.0-rc.1+x", `<dependencies><dependency id="c" version="1.0"/></dependencies>`)))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := ParseNuspec(b)
		if err != nil {
			if !errors.Is(err, packages.ErrInvalid) {
				t.Fatalf("error of an unknown kind: %v", err)
			}
			return
		}
		checkNuspec(t, n)
	})
}

// checkNuspec asserts what the handler relies on: whatever parses passes the core's checks.
func checkNuspec(t *testing.T, n *Nuspec) {
	t.Helper()
	key := n.ParsedVersion().Key()
	if packages.ValidateName(n.ID) != nil || packages.ValidateVersion(key) != nil ||
		packages.ValidateFilename(strings.ToLower(n.ID)+"."+key+".nupkg") != nil {
		t.Fatalf("parsed %q %q fails the core's validation", n.ID, key)
	}
	meta, err := marshalMetadata(n)
	if err != nil || len(meta) > packages.MaxMetadataSize {
		t.Fatalf("metadata: %d bytes, %v", len(meta), err)
	}
	again, err := ParseVersion(n.FullVersion)
	if err != nil || again.Key() != key {
		t.Fatalf("version %q does not round-trip: %v", n.FullVersion, err)
	}
}

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"1.0.0", "1.02.0.0-Beta", "1.0.0-rc.1+sha.5", "4.0.0.1", "1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err != nil {
			return
		}
		again, err := ParseVersion(v.Full())
		if err != nil || Compare(v, again) != 0 || again.Full() != v.Full() {
			t.Fatalf("%q → %q does not round-trip", s, v.Full())
		}
		if packages.ValidateVersion(v.Key()) != nil {
			t.Fatalf("%q: key %q fails the core's validation", s, v.Key())
		}
	})
}

func FuzzLocatePackage(f *testing.F) {
	recorded, err := os.ReadFile("testdata/push-nuget287.multipart")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(recorded, "---------------------------8df4ad60dd28f8c")
	f.Add([]byte("--b\nContent-Disposition: form-data; name=\"package\"\n\nPK\n--b--"), "b")
	f.Fuzz(func(t *testing.T, body []byte, boundary string) {
		off, n, err := LocatePackage(bytes.NewReader(body), int64(len(body)), fmt.Sprintf("multipart/form-data; boundary=%q", boundary))
		if err != nil {
			if !errors.Is(err, packages.ErrInvalid) {
				t.Fatalf("error of an unknown kind: %v", err)
			}
			return
		}
		if off < 0 || n <= 0 || off+n > int64(len(body)) {
			t.Fatalf("located [%d, +%d) in %d bytes", off, n, len(body))
		}
	})
}
