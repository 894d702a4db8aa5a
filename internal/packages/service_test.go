package packages_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/blob/fsblob"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore/storetest"
)

// env is a Service over real parts: SQLite and a disk blob store.
type env struct {
	svc            *packages.Service
	store          *sqlstore.Stores
	blobs          *fsblob.Store
	blobDir        string
	ns             *namespace.Service
	group, sub     *namespace.Group
	project, other *namespace.Project
}

var ctx = context.Background()

func newEnv(t *testing.T, opts packages.Options) *env {
	t.Helper()
	s := storetest.OpenSQLite(t)
	dir := t.TempDir()
	blobs, err := fsblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	ns := namespace.NewService(s.Namespaces, nil)
	e := &env{store: s, blobs: blobs, blobDir: dir, ns: ns}
	if e.group, err = ns.CreateGroup(ctx, namespace.CreateGroupInput{Name: "G", Path: "g"}); err != nil {
		t.Fatal(err)
	}
	if e.sub, err = ns.CreateGroup(ctx, namespace.CreateGroupInput{Name: "S", Path: "s", ParentID: e.group.ID}); err != nil {
		t.Fatal(err)
	}
	if e.project, err = ns.CreateProject(ctx, namespace.CreateProjectInput{Name: "p", Path: "p", GroupID: e.sub.ID}); err != nil {
		t.Fatal(err)
	}
	other, err := ns.CreateGroup(ctx, namespace.CreateGroupInput{Name: "O", Path: "o"})
	if err != nil {
		t.Fatal(err)
	}
	if e.other, err = ns.CreateProject(ctx, namespace.CreateProjectInput{Name: "q", Path: "q", GroupID: other.ID}); err != nil {
		t.Fatal(err)
	}
	if e.svc, err = packages.NewService(s.Packages, blobs, ns, opts); err != nil {
		t.Fatal(err)
	}
	return e
}

// assertNothingStored fails unless the blob store holds no blob and no upload, and the project
// has no package of format f.
func (e *env) assertNothingStored(t *testing.T, f packages.Format) {
	t.Helper()
	n := 0
	if err := e.blobs.Walk(ctx, func(blob.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	uploads, err := os.ReadDir(filepath.Join(e.blobDir, "uploads"))
	if err != nil {
		t.Fatal(err)
	}
	list, err := e.svc.Packages(ctx, e.project.ID, f)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 || len(uploads) != 0 || len(list) != 0 {
		t.Fatalf("something was stored: %d blobs, %d uploads, %d packages", n, len(uploads), len(list))
	}
}

func (e *env) upload(name, version, filename, body string) packages.Upload {
	return packages.Upload{ProjectID: e.project.ID, Format: packages.Generic, Name: name, Version: version,
		Filename: filename, Size: int64(len(body)), Body: strings.NewReader(body)}
}

func TestAddFileStoresAndReads(t *testing.T) {
	e := newEnv(t, packages.Options{})
	body := "hello, packages\n"
	rec, err := e.svc.AddFile(ctx, e.upload("tool", "1.2.3", "tool.tar.gz", body))
	if err != nil {
		t.Fatal(err)
	}
	want := packages.SumsOf([]byte(body))
	if rec.File.Checksums != want || rec.File.Size != int64(len(body)) || rec.File.Blob != blob.FromBytes(blob.SHA256, []byte(body)) {
		t.Fatalf("file = %+v, want sums %+v", rec.File, want)
	}
	f, err := e.svc.File(ctx, e.project.ID, packages.Generic, "tool", "1.2.3", "tool.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := e.svc.Open(ctx, f, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != body {
		t.Fatalf("read back %q", got)
	}
	if _, err := e.svc.File(ctx, e.project.ID, packages.Generic, "tool", "1.2.3", "other"); !errors.Is(err, packages.ErrNotFound) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := e.svc.File(ctx, e.other.ID, packages.Generic, "tool", "1.2.3", "tool.tar.gz"); !errors.Is(err, packages.ErrNotFound) {
		t.Fatalf("another project's file: %v", err)
	}

	// Hidden versions are downloadable but not listed.
	u := e.upload("tool", "2.0.0", "tool.tar.gz", "v2")
	u.Status = packages.StatusHidden
	if _, err := e.svc.AddFile(ctx, u); err != nil {
		t.Fatal(err)
	}
	pkg, err := e.svc.Package(ctx, e.project.ID, packages.Generic, "tool")
	if err != nil {
		t.Fatal(err)
	}
	listed, err := e.svc.Versions(ctx, pkg, false)
	if err != nil || len(listed) != 1 || listed[0].Version != "1.2.3" {
		t.Fatalf("listed versions = %+v, %v", listed, err)
	}
	all, err := e.svc.Versions(ctx, pkg, true)
	if err != nil || len(all) != 2 {
		t.Fatalf("all versions = %+v, %v", all, err)
	}
	if _, err := e.svc.File(ctx, e.project.ID, packages.Generic, "tool", "2.0.0", "tool.tar.gz"); err != nil {
		t.Fatalf("hidden version's file: %v", err)
	}
}

func TestHasherVectors(t *testing.T) {
	got := packages.SumsOf([]byte("abc"))
	want := packages.Checksums{
		MD5:    "900150983cd24fb0d6963f7d28e17f72",
		SHA1:   "a9993e364706816aba3e25717850c26c9cd0d89d",
		SHA256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		SHA512: "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
	}
	if got != want {
		t.Fatalf("sums(abc) = %+v", got)
	}
	h := packages.NewHasher()
	for _, part := range []string{"a", "", "bc"} {
		h.Write([]byte(part))
	}
	if h.Sums() != want || h.Size() != 3 {
		t.Fatalf("streamed sums = %+v, size %d", h.Sums(), h.Size())
	}
}

// failingReader returns some bytes, then an error, as a client that disconnects.
type failingReader struct{ sent bool }

func (r *failingReader) Read(p []byte) (int, error) {
	if !r.sent {
		r.sent = true
		return copy(p, "partial"), nil
	}
	return 0, errors.New("connection reset by peer")
}

// untouchable fails the test if the body is read: the upload must be refused before.
type untouchable struct{ t *testing.T }

func (u untouchable) Read([]byte) (int, error) {
	u.t.Error("the body was read, but the upload should have been refused first")
	return 0, io.EOF
}

func TestAddFileRefusesAndStoresNothing(t *testing.T) {
	lim := map[string]int64{"generic": 16, "npm": 8}
	body := "0123456789"
	cases := []struct {
		name string
		mod  func(e *env, u *packages.Upload)
		kind error
		// why is a substring of the error.
		why string
	}{
		{"fail/name traversal", func(e *env, u *packages.Upload) { u.Name = "../../etc" }, packages.ErrInvalid, "package name"},
		{"fail/name dot component", func(e *env, u *packages.Upload) { u.Name = "a/./b" }, packages.ErrInvalid, "package name"},
		{"fail/name empty component", func(e *env, u *packages.Upload) { u.Name = "a//b" }, packages.ErrInvalid, "package name"},
		{"fail/name leading slash", func(e *env, u *packages.Upload) { u.Name = "/abs" }, packages.ErrInvalid, "package name"},
		{"fail/name backslash", func(e *env, u *packages.Upload) { u.Name = `a\..\b` }, packages.ErrInvalid, "backslash"},
		{"fail/name NUL", func(e *env, u *packages.Upload) { u.Name = "a\x00b" }, packages.ErrInvalid, "NUL"},
		{"fail/name control", func(e *env, u *packages.Upload) { u.Name = "a\nb" }, packages.ErrInvalid, "control"},
		{"fail/name C1 control", func(e *env, u *packages.Upload) { u.Name = "a\u0085b" }, packages.ErrInvalid, "control"},
		{"fail/name not utf-8", func(e *env, u *packages.Upload) { u.Name = "a\xffb" }, packages.ErrInvalid, "UTF-8"},
		{"fail/name absurd length", func(e *env, u *packages.Upload) { u.Name = strings.Repeat("a", 513) }, packages.ErrInvalid, "too long"},
		{"fail/version traversal", func(e *env, u *packages.Upload) { u.Version = ".." }, packages.ErrInvalid, "version"},
		{"fail/version with slash", func(e *env, u *packages.Upload) { u.Version = "1/../2" }, packages.ErrInvalid, "version"},
		{"fail/version with dot-dot inside", func(e *env, u *packages.Upload) { u.Version = "1..2" }, packages.ErrInvalid, "version"},
		{"fail/version empty", func(e *env, u *packages.Upload) { u.Version = "" }, packages.ErrInvalid, "version"},
		{"fail/version too long", func(e *env, u *packages.Upload) { u.Version = strings.Repeat("1", 256) }, packages.ErrInvalid, "version"},
		{"fail/filename traversal", func(e *env, u *packages.Upload) { u.Filename = "../x" }, packages.ErrInvalid, "file name"},
		{"fail/filename dot-dot", func(e *env, u *packages.Upload) { u.Filename = ".." }, packages.ErrInvalid, "file name"},
		{"fail/filename backslash", func(e *env, u *packages.Upload) { u.Filename = `..\x` }, packages.ErrInvalid, "file name"},
		{"fail/filename NUL", func(e *env, u *packages.Upload) { u.Filename = "x\x00.tgz" }, packages.ErrInvalid, "file name"},
		{"fail/filename quote", func(e *env, u *packages.Upload) { u.Filename = `x".tgz` }, packages.ErrInvalid, "file name"},
		{"fail/bad status", func(e *env, u *packages.Upload) { u.Status = "deleted" }, packages.ErrInvalid, "status"},
		{"fail/metadata not JSON", func(e *env, u *packages.Upload) { u.Metadata = []byte("{") }, packages.ErrInvalid, "metadata"},
		{"fail/bad tag", func(e *env, u *packages.Upload) { u.Tags = []string{"a/b"} }, packages.ErrInvalid, "tag"},
		{"fail/expected checksum not hex", func(e *env, u *packages.Upload) { u.Expected.SHA256 = "zz" }, packages.ErrInvalid, "sha256"},
		{"fail/unknown format", func(e *env, u *packages.Upload) { u.Format = "no-such-format" }, packages.ErrInvalid, "format"},
		{"fail/declared size over the limit", func(e *env, u *packages.Upload) {
			u.Size, u.Body = 17, untouchable{t}
		}, packages.ErrTooLarge, "16 bytes"},
		{"fail/streamed size over the limit", func(e *env, u *packages.Upload) {
			u.Size, u.Body = -1, strings.NewReader(strings.Repeat("x", 17))
		}, packages.ErrTooLarge, "generic limit"},
		{"fail/npm has its own limit", func(e *env, u *packages.Upload) { u.Format = packages.NPM }, packages.ErrTooLarge, "npm limit is 8"},
		{"fail/bad sha256", func(e *env, u *packages.Upload) {
			u.Expected.SHA256 = packages.SumsOf([]byte("other")).SHA256
		}, packages.ErrInvalid, "sha256 checksum does not match"},
		{"fail/bad md5", func(e *env, u *packages.Upload) {
			u.Expected.MD5 = strings.ToUpper(packages.SumsOf([]byte("other")).MD5)
		}, packages.ErrInvalid, "md5 checksum"},
		{"fail/bad sha1", func(e *env, u *packages.Upload) { u.Expected.SHA1 = strings.Repeat("0", 40) }, packages.ErrInvalid, "sha1"},
		{"fail/bad sha512", func(e *env, u *packages.Upload) { u.Expected.SHA512 = strings.Repeat("0", 128) }, packages.ErrInvalid, "sha512"},
		{"fail/interrupted body", func(e *env, u *packages.Upload) {
			u.Size, u.Body = -1, &failingReader{}
		}, packages.ErrInvalid, "interrupted"},
		{"fail/body shorter than declared", func(e *env, u *packages.Upload) { u.Size = 12 }, packages.ErrInvalid, "declared size"},
		{"fail/missing body", func(e *env, u *packages.Upload) { u.Body = nil }, packages.ErrInvalid, "missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, packages.Options{MaxFileSize: lim})
			u := e.upload("tool", "1.0", "tool.bin", body)
			c.mod(e, &u)
			_, err := e.svc.AddFile(ctx, u)
			if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.why) {
				t.Fatalf("err = %v, want %v mentioning %q", err, c.kind, c.why)
			}
			e.assertNothingStored(t, u.Format)
			if c.kind == packages.ErrInvalid && !errors.As(err, new(*packages.ValidationError)) {
				t.Fatalf("err = %v is not a *ValidationError", err)
			}
		})
	}
	t.Run("fail/unknown project", func(t *testing.T) {
		// The dispatcher resolves the project first, so this is a race with a deletion: the rows
		// are refused; the committed blob is left for garbage collection (commit, then record).
		e := newEnv(t, packages.Options{MaxFileSize: lim})
		u := e.upload("tool", "1.0", "tool.bin", body)
		u.ProjectID = 999999
		if _, err := e.svc.AddFile(ctx, u); !errors.Is(err, packages.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
		if ids, err := e.store.Packages.PackageProjects(ctx, packages.Generic, "tool"); err != nil || len(ids) != 0 {
			t.Fatalf("rows for an unknown project: %v, %v", ids, err)
		}
	})
	t.Run("ok/exactly at the limit, with all expected checksums", func(t *testing.T) {
		e := newEnv(t, packages.Options{MaxFileSize: lim})
		full := strings.Repeat("y", 16)
		u := e.upload("tool", "1.0", "tool.bin", full)
		u.Expected = packages.SumsOf([]byte(full))
		u.Expected.SHA1 = strings.ToUpper(u.Expected.SHA1) // clients send either case
		if _, err := e.svc.AddFile(ctx, u); err != nil {
			t.Fatal(err)
		}
	})
}

func TestDuplicatePolicies(t *testing.T) {
	e := newEnv(t, packages.Options{})
	npm := func(version, body string) packages.Upload {
		u := e.upload("@g/x", version, "x-"+version+".tgz", body)
		u.Format, u.Tags = packages.NPM, []string{"latest"}
		return u
	}
	if _, err := e.svc.AddFile(ctx, npm("1.0.0", "one")); err != nil {
		t.Fatal(err)
	}
	// Refused before the body is read, and nothing changes.
	u := npm("1.0.0", "")
	u.Size, u.Body = -1, untouchable{t}
	if _, err := e.svc.AddFile(ctx, u); !errors.Is(err, packages.ErrConflict) {
		t.Fatalf("npm re-publish: %v, want ErrConflict", err)
	}
	pkg, err := e.svc.Package(ctx, e.project.ID, packages.NPM, "@g/x")
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.svc.Version(ctx, pkg, "1.0.0")
	if err != nil || len(v.Files) != 1 || v.Files[0].Checksums != packages.SumsOf([]byte("one")) {
		t.Fatalf("version after refused re-publish: %+v, %v", v, err)
	}

	// Generic replaces.
	for _, b := range []string{"first", "second"} {
		if _, err := e.svc.AddFile(ctx, e.upload("g", "1", "f.bin", b)); err != nil {
			t.Fatal(err)
		}
	}
	f, err := e.svc.File(ctx, e.project.ID, packages.Generic, "g", "1", "f.bin")
	if err != nil || f.Checksums != packages.SumsOf([]byte("second")) {
		t.Fatalf("replaced generic file: %+v, %v", f, err)
	}

	// PyPI: more files per version, each filename once, names normalised.
	py := func(name, file, body string) packages.Upload {
		u := e.upload(name, "1.0", file, body)
		u.Format = packages.PyPI
		return u
	}
	if _, err := e.svc.AddFile(ctx, py("My_Pkg", "my_pkg-1.0.tar.gz", "sdist")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AddFile(ctx, py("my.pkg", "my_pkg-1.0-py3-none-any.whl", "wheel")); err != nil {
		t.Fatal(err)
	}
	u = py("MY-PKG", "my_pkg-1.0.tar.gz", "")
	u.Size, u.Body = -1, untouchable{t}
	if _, err := e.svc.AddFile(ctx, u); !errors.Is(err, packages.ErrConflict) {
		t.Fatalf("pypi re-upload: %v, want ErrConflict", err)
	}

	cases := []struct {
		f                 packages.Format
		version, filename string
		want              packages.DuplicatePolicy
	}{
		{packages.Generic, "1", "a", packages.ReplaceFile},
		{packages.NPM, "1.0.0", "a.tgz", packages.RefuseVersion},
		{packages.NuGet, "1.0.0", "a.nupkg", packages.RefuseVersion},
		{packages.Debian, "1.0-1", "a_1.0-1_amd64.deb", packages.RefuseFile},
		{packages.Helm, "0.1.0", "stable@app-0.1.0.tgz", packages.ReplaceFile},
		{packages.PyPI, "1.0", "a.whl", packages.RefuseFile},
		{packages.Maven, "1.0-SNAPSHOT", "a-1.0-20240101.120000-1.jar", packages.ReplaceFile},
		{packages.Maven, "1.0", "maven-metadata.xml.sha1", packages.ReplaceFile},
		{packages.Maven, "1.0", "a-1.0.jar", packages.RefuseFile},
		{packages.GoProxy, "v1.0.0", "v1.0.0.zip", packages.RefuseFile},
		{packages.Composer, "1.0.0", "pkg-1.0.0.zip", packages.RefuseVersion},
		{packages.Composer, "dev-main", "pkg-dev-main.zip", packages.ReplaceFile},
		{packages.Composer, "1.x-dev", "pkg-1.x-dev.zip", packages.ReplaceFile},
		{packages.Terraform, "1.0.0", "vpc-aws-1.0.0.tgz", packages.RefuseVersion},
		{packages.RubyGems, "1.0.0", "a-1.0.0-x86_64-linux.gem", packages.RefuseFile},
	}
	for _, c := range cases {
		if got := packages.Duplicates(c.f, c.version, c.filename); got != c.want {
			t.Errorf("Duplicates(%s, %s, %s) = %v, want %v", c.f, c.version, c.filename, got, c.want)
		}
	}
}

func TestNormalizeName(t *testing.T) {
	cases := []struct {
		f          packages.Format
		name, want string
	}{
		{packages.PyPI, "Friendly-Bard", "friendly-bard"},
		{packages.PyPI, "FRIENDLY._-BARD", "friendly-bard"},
		{packages.PyPI, "friendly__bard", "friendly-bard"},
		{packages.PyPI, "-lead.", "-lead-"},
		{packages.NuGet, "Newtonsoft.Json", "newtonsoft.json"},
		{packages.Debian, "libfoo-dev", "libfoo-dev"},
		{packages.Helm, "My-Chart", "My-Chart"},
		{packages.NPM, "@Scope/Name", "@Scope/Name"},
		{packages.Generic, "Tool", "Tool"},
		{packages.Composer, "Acme/Tools", "acme/tools"},
		{packages.Terraform, "VPC/aws", "vpc/aws"},
		{packages.RubyGems, "Rails_Ext", "Rails_Ext"},
	}
	for _, c := range cases {
		if got := packages.NormalizeName(c.f, c.name); got != c.want {
			t.Errorf("NormalizeName(%s, %q) = %q, want %q", c.f, c.name, got, c.want)
		}
	}
}

func TestNewServiceLimits(t *testing.T) {
	s := storetest.OpenSQLite(t)
	for name, lim := range map[string]map[string]int64{
		"fail/unknown format": {"no-such-format": 10},
		"fail/zero":           {"npm": 0},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := packages.NewService(s.Packages, nil, nil, packages.Options{MaxFileSize: lim}); err == nil {
				t.Fatal("NewService accepted invalid limits")
			}
		})
	}
	svc, err := packages.NewService(s.Packages, nil, nil, packages.Options{MaxFileSize: map[string]int64{"npm": 5}})
	if err != nil {
		t.Fatal(err)
	}
	if svc.MaxFileSize(packages.NPM) != 5 || svc.MaxFileSize(packages.Generic) != 5<<30 || packages.DefaultMaxFileSize(packages.NPM) != 500<<20 {
		t.Fatalf("limits: npm %d, generic %d", svc.MaxFileSize(packages.NPM), svc.MaxFileSize(packages.Generic))
	}
}

// fence says every blob was collected.
type fence struct{ calls int }

func (f *fence) Survived(context.Context, blob.Digest) (bool, error) { f.calls++; return false, nil }

func TestAddFileUndoneWhenGarbageCollected(t *testing.T) {
	fc := &fence{}
	e := newEnv(t, packages.Options{Fence: fc})
	_, err := e.svc.AddFile(ctx, e.upload("tool", "1", "f", "bytes"))
	if err == nil || !strings.Contains(err.Error(), "garbage collection") || fc.calls != 1 {
		t.Fatalf("err = %v (fence called %d times)", err, fc.calls)
	}
	if _, err := e.svc.Package(ctx, e.project.ID, packages.Generic, "tool"); !errors.Is(err, packages.ErrNotFound) {
		t.Fatalf("the undone upload left its package: %v", err)
	}
}

func TestDeleteAndTags(t *testing.T) {
	e := newEnv(t, packages.Options{})
	for _, v := range []string{"1.0.0", "1.1.0"} {
		u := e.upload("x", v, "x-"+v+".tgz", v)
		u.Format, u.Tags = packages.NPM, []string{"latest"}
		if _, err := e.svc.AddFile(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	pkg, err := e.svc.Package(ctx, e.project.ID, packages.NPM, "x")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SetTag(ctx, pkg, "stable", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SetTag(ctx, pkg, "../x", "1.0.0"); !errors.Is(err, packages.ErrInvalid) {
		t.Fatalf("bad tag: %v", err)
	}
	if err := e.svc.SetTag(ctx, pkg, "nope", "9.9.9"); !errors.Is(err, packages.ErrNotFound) {
		t.Fatalf("tag to a missing version: %v", err)
	}
	tags, err := e.svc.Tags(ctx, pkg)
	if err != nil || len(tags) != 2 || tags[0] != (packages.Tag{Name: "latest", Version: "1.1.0"}) || tags[1] != (packages.Tag{Name: "stable", Version: "1.0.0"}) {
		t.Fatalf("tags = %+v, %v", tags, err)
	}
	if err := e.svc.DeleteTag(ctx, pkg, "stable"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteVersion(ctx, pkg, "1.0.0"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteVersion(ctx, pkg, "1.0.0"); !errors.Is(err, packages.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if err := e.svc.DeletePackage(ctx, pkg); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Package(ctx, e.project.ID, packages.NPM, "x"); !errors.Is(err, packages.ErrNotFound) {
		t.Fatalf("deleted package: %v", err)
	}
}

// TestAfterVersionDeleted: a format's follow-up runs once per committed deletion of that
// format's versions, after the version is gone, with the service's clock; its error is
// returned; failed deletions and other formats do not run it.
func TestAfterVersionDeleted(t *testing.T) {
	at := time.Date(2026, 12, 6, 6, 0, 0, 0, time.UTC)
	var e *env
	var calls []string
	var fail error
	after := func(ctx context.Context, s *packages.Service, pkg *packages.Package, now time.Time) error {
		if s != e.svc || !now.Equal(at) {
			t.Errorf("follow-up called with another service or clock: %v", now)
		}
		if _, err := s.Version(ctx, pkg, "1.0.0"); !errors.Is(err, packages.ErrNotFound) {
			t.Errorf("the follow-up ran before the deletion was committed: %v", err)
		}
		calls = append(calls, pkg.Name)
		return fail
	}
	e = newEnv(t, packages.Options{Now: func() time.Time { return at },
		AfterVersionDeleted: map[packages.Format]packages.VersionDeleted{packages.Maven: after}})
	for _, f := range []packages.Format{packages.Maven, packages.Generic} {
		for _, v := range []string{"1.0.0", "2.0.0"} {
			u := e.upload("com/example/"+string(f), v, string(f)+"-"+v+".jar", v)
			u.Format = f
			if _, err := e.svc.AddFile(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
	}
	pkgOf := func(f packages.Format) *packages.Package {
		pkg, err := e.svc.Package(ctx, e.project.ID, f, "com/example/"+string(f))
		if err != nil {
			t.Fatal(err)
		}
		return pkg
	}
	mvn, gen := pkgOf(packages.Maven), pkgOf(packages.Generic)
	if err := e.svc.DeleteVersion(ctx, gen, "1.0.0"); err != nil || len(calls) != 0 {
		t.Fatalf("generic delete: %v; follow-ups %v", err, calls)
	}
	if err := e.svc.DeleteVersion(ctx, mvn, "1.0.0"); err != nil || !slices.Equal(calls, []string{"com/example/maven"}) {
		t.Fatalf("maven delete: %v; follow-ups %v", err, calls)
	}
	if err := e.svc.DeleteVersion(ctx, mvn, "1.0.0"); !errors.Is(err, packages.ErrNotFound) || len(calls) != 1 {
		t.Fatalf("a second delete: %v; follow-ups %v", err, calls)
	}
	fail = errors.New("metadata store is down")
	if err := e.svc.DeleteVersion(ctx, mvn, "2.0.0"); !errors.Is(err, fail) || len(calls) != 2 {
		t.Fatalf("a failing follow-up: %v; follow-ups %v", err, calls)
	}
}

func TestResolveProjectsAndGroups(t *testing.T) {
	now := time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)
	e := newEnv(t, packages.Options{Now: func() time.Time { return now }})
	for _, ref := range []string{"g/s/p", "G/S/P", itoa(e.project.ID)} {
		p, err := e.svc.Project(ctx, ref)
		if err != nil || p.ID != e.project.ID {
			t.Fatalf("Project(%q) = %+v, %v", ref, p, err)
		}
	}
	for _, ref := range []string{"", "g/s", "999999", "../g/s/p", strings.Repeat("9", 30), strings.Repeat("a/", 400)} {
		if _, err := e.svc.Project(ctx, ref); !errors.Is(err, packages.ErrNotFound) {
			t.Fatalf("Project(%q) = %v, want ErrNotFound", ref, err)
		}
	}
	if g, err := e.svc.Group(ctx, "g/s"); err != nil || g.ID != e.sub.ID {
		t.Fatalf("Group(g/s) = %+v, %v", g, err)
	}
	if g, err := e.svc.Group(ctx, itoa(e.group.ID)); err != nil || g.ID != e.group.ID {
		t.Fatalf("Group(id) = %+v, %v", g, err)
	}
	if _, err := e.svc.Group(ctx, "nope"); !errors.Is(err, packages.ErrNotFound) {
		t.Fatalf("Group(nope) = %v", err)
	}

	// ProjectsHolding filters by group, newest first.
	for _, p := range []*namespace.Project{e.project, e.other} {
		u := e.upload("@g/x", "1.0.0", "x-1.0.0.tgz", "x")
		u.Format, u.ProjectID = packages.NPM, p.ID
		if _, err := e.svc.AddFile(ctx, u); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Second) // distinct updated_at
	}
	in, err := e.svc.ProjectsHolding(ctx, packages.NPM, "@g/x", e.group)
	if err != nil || len(in) != 1 || in[0].ID != e.project.ID {
		t.Fatalf("ProjectsHolding(g) = %+v, %v", in, err)
	}
	none, err := e.svc.ProjectsHolding(ctx, packages.NPM, "@g/y", e.group)
	if err != nil || len(none) != 0 {
		t.Fatalf("ProjectsHolding(unknown) = %+v, %v", none, err)
	}
	// Nothing looks for a package anywhere on the instance.
	if all, err := e.svc.ProjectsHolding(ctx, packages.NPM, "@g/x", nil); err == nil {
		t.Fatalf("ProjectsHolding(nil) = %+v", all)
	}
}

// TestProjectsNamedBy: Maven's instance-level rule finds the project whose full path is the
// package path or begins it, and only when it holds the package; a copy in any other project
// (o/q here) is never found.
func TestProjectsNamedBy(t *testing.T) {
	e := newEnv(t, packages.Options{})
	for _, c := range []struct {
		project *namespace.Project
		name    string
	}{{e.project, "g/s/p/lib"}, {e.project, "g/s/p"}, {e.other, "g/s/p/lib"}, {e.other, "g/s/p/other"}} {
		u := e.upload(c.name, "1.0", "f-1.0.jar", "x")
		u.Format, u.ProjectID = packages.Maven, c.project.ID
		if _, err := e.svc.AddFile(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		want []int64
	}{
		{"g/s/p/lib", []int64{e.project.ID}},
		{"g/s/p", []int64{e.project.ID}},
		{"G/S/P/lib", nil}, // the package name is exact; only project paths ignore case
		{"g/s/p/other", nil},
		{"o/q/lib", nil},
		{"g/s", nil},
		{"lib", nil},
	} {
		got, err := e.svc.ProjectsNamedBy(ctx, packages.Maven, c.name)
		var ids []int64
		for _, p := range got {
			ids = append(ids, p.ID)
		}
		if err != nil || !slices.Equal(ids, c.want) {
			t.Fatalf("ProjectsNamedBy(%q) = %v, %v; want %v", c.name, ids, err, c.want)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestValidators(t *testing.T) {
	ok := map[string]func(string) error{
		"@scope/name":              packages.ValidateName,
		"github.com/a/b/v2":        packages.ValidateName,
		"com/example/app":          packages.ValidateName,
		"naïve-ünïcode":            packages.ValidateName,
		"1.0.0-rc.1+build.5":       packages.ValidateVersion,
		"v0.0.0-20201230-abcdef":   packages.ValidateVersion,
		"tool_1.2.3~rc1_amd64.deb": packages.ValidateFilename,
		"latest":                   packages.ValidateTag,
	}
	for s, fn := range ok {
		if err := fn(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	bad := map[string]func(string) error{
		"a/../b":        packages.ValidateName,
		"a/":            packages.ValidateName,
		" a":            packages.ValidateName,
		"a\u2028b":      packages.ValidateName,
		"1.0/2":         packages.ValidateVersion,
		".":             packages.ValidateVersion,
		"a/b":           packages.ValidateFilename,
		"C:evil":        packages.ValidateFilename,
		"a\tb":          packages.ValidateFilename,
		"":              packages.ValidateTag,
		"..":            packages.ValidateTag,
		"\x7f":          packages.ValidateTag,
		"a\x00":         packages.ValidateVersion,
		"\ufeffversion": packages.ValidateVersion,
	}
	for s, fn := range bad {
		if err := fn(s); !errors.Is(err, packages.ErrInvalid) {
			t.Errorf("%q: err = %v, want ErrInvalid", s, err)
		}
	}
}
