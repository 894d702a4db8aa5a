package helm

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"mime/multipart"
	"os"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// entry is one tar entry of a test archive.
type entry struct {
	name string
	body string
	typ  byte // tar.TypeReg when 0
}

func tgz(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: e.typ}
		if e.typ == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
			h.Linkname = e.body
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
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

const chartYAML = `apiVersion: v2
name: app
description: A test chart
type: application
version: 0.1.0
appVersion: "1.16.0"
keywords: [web, test]
maintainers:
  - name: Someone
    email: someone@example.com
dependencies:
  - name: sub
    version: 1.x.x
    repository: file://charts/sub
annotations:
  category: test
`

func chart(t testing.TB, yaml string) []byte {
	return tgz(t, entry{name: "app/Chart.yaml", body: yaml}, entry{name: "app/values.yaml", body: "replicas: 1\n"},
		entry{name: "app/templates/cm.yaml", body: "kind: ConfigMap\n"})
}

// realChart is `helm create mychart && helm package mychart` by helm v4.3.2.
func realChart(t testing.TB) []byte {
	b, err := os.ReadFile("testdata/helm-create-mychart-0.1.0.tgz")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseChart(t *testing.T) {
	real, err := ParseChart(bytes.NewReader(realChart(t)), DefaultLimits())
	if err != nil || real.Name != "mychart" || real.Version != "0.1.0" || real.AppVersion != "1.16.0" {
		t.Fatalf("helm's own chart: %+v, %v", real, err)
	}
	c, err := ParseChart(bytes.NewReader(chart(t, chartYAML)), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "app" || c.Version != "0.1.0" || c.AppVersion != "1.16.0" || c.APIVersion != "v2" ||
		len(c.Maintainers) != 1 || len(c.Dependencies) != 1 || c.Annotations["category"] != "test" {
		t.Fatalf("parsed %+v", c)
	}

	big := DefaultLimits()
	big.MaxUnpacked = 4096
	fail := []struct {
		name string
		data []byte
		lim  Limits
	}{
		{"fail/not gzip", []byte("PK\x03\x04 a zip"), DefaultLimits()},
		{"fail/truncated", chart(t, chartYAML)[:60], DefaultLimits()},
		{"fail/corrupt crc", func() []byte {
			b := chart(t, chartYAML)
			b[len(b)-6] ^= 0xff
			return b
		}(), DefaultLimits()},
		{"fail/gzip of garbage", func() []byte {
			var buf bytes.Buffer
			gz := gzip.NewWriter(&buf)
			gz.Write(bytes.Repeat([]byte("x"), 2000))
			gz.Close()
			return buf.Bytes()
		}(), DefaultLimits()},
		{"fail/no Chart.yaml", tgz(t, entry{name: "app/values.yaml", body: "a: 1\n"}), DefaultLimits()},
		{"fail/Chart.yaml only in a subchart", tgz(t, entry{name: "app/charts/sub/Chart.yaml", body: chartYAML}), DefaultLimits()},
		{"fail/Chart.yaml twice", tgz(t, entry{name: "app/Chart.yaml", body: chartYAML}, entry{name: "./app/Chart.yaml", body: chartYAML}), DefaultLimits()},
		{"fail/traversal", tgz(t, entry{name: "app/Chart.yaml", body: chartYAML}, entry{name: "app/../../etc/passwd", body: "x"}), DefaultLimits()},
		{"fail/absolute", tgz(t, entry{name: "/app/Chart.yaml", body: chartYAML}), DefaultLimits()},
		{"fail/two top directories", tgz(t, entry{name: "app/Chart.yaml", body: chartYAML}, entry{name: "other/x", body: "x"}), DefaultLimits()},
		{"fail/symlink", tgz(t, entry{name: "app/Chart.yaml", body: chartYAML}, entry{name: "app/link", body: "/etc/passwd", typ: tar.TypeSymlink}), DefaultLimits()},
		{"fail/hard link", tgz(t, entry{name: "app/Chart.yaml", body: chartYAML}, entry{name: "app/link", body: "app/Chart.yaml", typ: tar.TypeLink}), DefaultLimits()},
		{"fail/bomb", tgz(t, entry{name: "app/Chart.yaml", body: chartYAML}, entry{name: "app/zeros", body: strings.Repeat("\x00", 8192)}), big},
		{"fail/Chart.yaml too large", chart(t, chartYAML+"# "+strings.Repeat("x", 70<<10)+"\n"), DefaultLimits()},
		{"fail/Chart.yaml not yaml", chart(t, "apiVersion: [v2\n"), DefaultLimits()},
		{"fail/Chart.yaml wrong types", chart(t, "apiVersion: v2\nname: app\nversion: 0.1.0\nkeywords: {a: b}\n"), DefaultLimits()},
		{"fail/Chart.yaml without apiVersion", chart(t, "name: app\nversion: 0.1.0\n"), DefaultLimits()},
		{"fail/traversal name", chart(t, "apiVersion: v2\nname: ../../x\nversion: 0.1.0\n"), DefaultLimits()},
		{"fail/bad version", chart(t, "apiVersion: v2\nname: app\nversion: ../0.1.0\n"), DefaultLimits()},
		{"fail/no version", chart(t, "apiVersion: v2\nname: app\n"), DefaultLimits()},
		{"fail/alias bomb", chart(t, "apiVersion: v2\nname: app\nversion: 0.1.0\na: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"+
			"c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"+
			"f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nkeywords: *g\n"), DefaultLimits()},
	}
	for _, c := range fail {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseChart(bytes.NewReader(c.data), c.lim)
			var ve *packages.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want a validation error", err)
			}
		})
	}
}

func uploadForm(t testing.TB, field string, chart []byte, before ...string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range before {
		mw.WriteField(f, "x")
	}
	w, err := mw.CreateFormFile(field, "app-0.1.0.tgz")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(chart)
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

func TestParseUpload(t *testing.T) {
	ct, body := uploadForm(t, "chart", []byte("bytes"), "prov")
	up, err := ParseUpload(bytes.NewReader(body), ct)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	got.ReadFrom(up.Chart)
	if got.String() != "bytes" {
		t.Fatalf("chart part = %q", got.String())
	}
	fields := make([]string, maxFields+1)
	for i := range fields {
		fields[i] = "f"
	}
	for name, c := range map[string]struct{ ct, body string }{
		"fail/not multipart": {"application/octet-stream", "x"},
		"fail/no chart": func() struct{ ct, body string } {
			ct, b := uploadForm(t, "file", nil)
			return struct{ ct, body string }{ct, string(b)}
		}(),
		"fail/too many fields": func() struct{ ct, body string } {
			ct, b := uploadForm(t, "chart", nil, fields...)
			return struct{ ct, body string }{ct, string(b)}
		}(),
		"fail/broken form": {"multipart/form-data; boundary=xyz", "--xyz\r\nbroken"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseUpload(strings.NewReader(c.body), c.ct); !errors.Is(err, packages.ErrInvalid) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// FuzzParseChart: whatever parses has a name and version the core accepts, and a stored file
// name that is one safe path component.
func FuzzParseChart(f *testing.F) {
	f.Add(realChart(f))
	f.Add(chart(f, chartYAML))
	f.Add(chart(f, "apiVersion: v1\nname: a-b\nversion: v1.0.0-rc.1+b\n"))
	f.Add(tgz(f, entry{name: "app/Chart.yaml", body: chartYAML}, entry{name: "app/l", body: "x", typ: tar.TypeSymlink}))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := DefaultLimits()
		lim.MaxUnpacked = 1 << 20
		c, err := ParseChart(bytes.NewReader(data), lim)
		if err != nil {
			if !errors.Is(err, packages.ErrInvalid) {
				t.Fatalf("error of another kind: %v", err)
			}
			return
		}
		checkStored(t, "stable", c.Name, c.Version)
	})
}

// FuzzParsePath: whatever parses names a channel and candidates the core accepts.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"/api/v4/projects/42/packages/helm/stable/index.yaml", "/api/v4/projects/g%2Fp/packages/helm/api/stable/charts",
		"/api/v4/projects/42/packages/helm/stable/charts/a-1-2.0.0.tgz", "/api/v4/projects/42/packages/helm/%2e%2e/charts/%2e.tgz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		rt, err := ParsePath(path)
		if err != nil {
			if !errors.Is(err, packages.ErrInvalid) && !errors.Is(err, packages.ErrNotFound) {
				t.Fatalf("error of another kind: %v", err)
			}
			return
		}
		if rt.kind == kindChart && len(rt.Candidates) == 0 {
			t.Fatal("a chart route without candidates")
		}
		for _, c := range rt.Candidates {
			checkStored(t, rt.Channel, c.Name, c.Version)
			if Filename(c.Name, c.Version) != rt.File {
				t.Fatalf("candidate %+v does not make %q", c, rt.File)
			}
		}
	})
}

func checkStored(t *testing.T, channel, name, version string) {
	t.Helper()
	if err := packages.ValidateName(name); err != nil {
		t.Fatalf("name %q: %v", name, err)
	}
	if err := packages.ValidateVersion(version); err != nil {
		t.Fatalf("version %q: %v", version, err)
	}
	if err := packages.ValidateFilename(storedFilename(channel, name, version)); err != nil {
		t.Fatalf("stored file name %q: %v", storedFilename(channel, name, version), err)
	}
}
