package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/gc"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore"
)

// The package registries' consumer interfaces are implemented by the store.
var (
	_ packages.Store = (*sqlstore.PackageStore)(nil)
	_ gc.Referencer  = sqlstore.PackageReferences{}
	_ gc.Checker     = sqlstore.PackageReferences{}
)

func TestPackageStoreSQLite(t *testing.T) {
	runPackageSuite(t, func(t *testing.T) *sqlstore.Stores {
		s := openSQLite(t, filepath.Join(t.TempDir(), "gatehouse.db"))
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestPackageStorePostgres(t *testing.T) {
	runPackageSuite(t, func(t *testing.T) *sqlstore.Stores {
		s := openPostgres(t)
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

// pkgFixture is a migrated store with projects g/a and g/b.
type pkgFixture struct {
	s    *sqlstore.Stores
	a, b *namespace.Project
	t0   time.Time
}

var pkgCtx = context.Background()

// put records a file as AddFile would, with a digest derived from label.
func (f *pkgFixture) put(t *testing.T, project *namespace.Project, format packages.Format, name, version, file, label string,
	dup packages.DuplicatePolicy, at time.Duration, mods ...func(*packages.NewFile)) (*packages.Recorded, error) {
	t.Helper()
	sums := packages.SumsOf([]byte(label))
	nf := &packages.NewFile{ProjectID: project.ID, Format: format, Name: name, NormalizedName: packages.NormalizeName(format, name),
		Version: version, Status: packages.StatusDefault, Duplicates: dup, Filename: file, Size: int64(len(label)),
		Checksums: sums, Blob: blob.Digest("sha256:" + sums.SHA256), Now: f.t0.Add(at)}
	for _, m := range mods {
		m(nf)
	}
	return f.s.Packages.PutPackageFile(pkgCtx, nf)
}

func (f *pkgFixture) mustPut(t *testing.T, project *namespace.Project, format packages.Format, name, version, file, label string,
	dup packages.DuplicatePolicy, at time.Duration, mods ...func(*packages.NewFile)) *packages.Recorded {
	t.Helper()
	rec, err := f.put(t, project, format, name, version, file, label, dup, at, mods...)
	if err != nil {
		t.Fatalf("put %s %s %s: %v", name, version, file, err)
	}
	return rec
}

func runPackageSuite(t *testing.T, open func(t *testing.T) *sqlstore.Stores) {
	setup := func(t *testing.T) *pkgFixture {
		s := open(t)
		if _, err := s.Migrate(pkgCtx); err != nil {
			t.Fatal(err)
		}
		t0 := time.Date(2031, 3, 14, 15, 9, 26, 0, time.UTC)
		g := &namespace.Group{Name: "G", Path: "g", CreatedAt: t0}
		if err := s.Namespaces.CreateGroup(pkgCtx, g); err != nil {
			t.Fatal(err)
		}
		f := &pkgFixture{s: s, t0: t0}
		for _, p := range []**namespace.Project{&f.a, &f.b} {
			path := "a"
			if p == &f.b {
				path = "b"
			}
			*p = &namespace.Project{Name: path, Path: path, GroupID: g.ID, Visibility: namespace.Private, CreatedAt: t0}
			if err := s.Namespaces.CreateProject(pkgCtx, *p); err != nil {
				t.Fatal(err)
			}
		}
		return f
	}
	t.Run("put_and_read", func(t *testing.T) { testPackagePutAndRead(t, setup(t)) })
	t.Run("refuse_version", func(t *testing.T) { testPackageRefuseVersion(t, setup(t)) })
	t.Run("refuse_file", func(t *testing.T) { testPackageRefuseFile(t, setup(t)) })
	t.Run("replace_file", func(t *testing.T) { testPackageReplaceFile(t, setup(t)) })
	t.Run("tags", func(t *testing.T) { testPackageTags(t, setup(t)) })
	t.Run("projects_and_lists", func(t *testing.T) { testPackageProjects(t, setup(t)) })
	t.Run("delete", func(t *testing.T) { testPackageDelete(t, setup(t)) })
	t.Run("remove_file", func(t *testing.T) { testPackageRemoveFile(t, setup(t)) })
	t.Run("references", func(t *testing.T) { testPackageReferences(t, setup(t)) })
	t.Run("concurrent_publish", func(t *testing.T) { testPackageConcurrentPublish(t, setup(t)) })
	t.Run("index", func(t *testing.T) { testPackageIndex(t, setup(t)) })
	t.Run("delete_file", func(t *testing.T) { testPackageDeleteFile(t, setup(t)) })
}

func testPackagePutAndRead(t *testing.T, f *pkgFixture) {
	meta := []byte(`{"name":"@s/x","version":"1.0.0"}`)
	rec := f.mustPut(t, f.a, packages.NPM, "@s/x", "1.0.0", "x-1.0.0.tgz", "one", packages.RefuseVersion, 0,
		func(nf *packages.NewFile) { nf.Metadata, nf.Tags = meta, []string{"latest"} })
	sums := packages.SumsOf([]byte("one"))
	if rec.Package.ProjectID != f.a.ID || rec.Package.Name != "@s/x" || rec.Package.Format != packages.NPM || rec.Package.ID == 0 {
		t.Fatalf("package = %+v", rec.Package)
	}
	if rec.Version.Version != "1.0.0" || string(rec.Version.Metadata) != string(meta) || rec.Version.Status != packages.StatusDefault {
		t.Fatalf("version = %+v", rec.Version)
	}
	if rec.File.Checksums != sums || rec.File.Size != 3 || rec.File.Blob != blob.Digest("sha256:"+sums.SHA256) ||
		!rec.File.CreatedAt.Equal(f.t0) || rec.File.ID == 0 || rec.File.VersionID != rec.Version.ID {
		t.Fatalf("file = %+v", rec.File)
	}

	pkg, err := f.s.Packages.Package(pkgCtx, f.a.ID, packages.NPM, "@s/x")
	mustDo(t, err)
	if *pkg != rec.Package {
		t.Fatalf("Package = %+v, want %+v", pkg, rec.Package)
	}
	_, err = f.s.Packages.Package(pkgCtx, f.b.ID, packages.NPM, "@s/x")
	wantKind(t, err, packages.ErrNotFound)
	_, err = f.s.Packages.Package(pkgCtx, f.a.ID, packages.Generic, "@s/x")
	wantKind(t, err, packages.ErrNotFound)

	v, err := f.s.Packages.PackageVersion(pkgCtx, pkg.ID, "1.0.0")
	mustDo(t, err)
	if len(v.Files) != 1 || v.Files[0] != rec.File || string(v.Metadata) != string(meta) {
		t.Fatalf("PackageVersion = %+v", v)
	}
	_, err = f.s.Packages.PackageVersion(pkgCtx, pkg.ID, "1.0.1")
	wantKind(t, err, packages.ErrNotFound)
	tags, err := f.s.Packages.PackageTags(pkgCtx, pkg.ID)
	mustDo(t, err)
	if !slices.Equal(tags, []packages.Tag{{Name: "latest", Version: "1.0.0"}}) {
		t.Fatalf("tags = %+v", tags)
	}

	// A second version: files stay with their own version; the package's updated_at moves.
	f.mustPut(t, f.a, packages.NPM, "@s/x", "1.1.0", "x-1.1.0.tgz", "two", packages.RefuseVersion, time.Minute)
	vs, err := f.s.Packages.PackageVersions(pkgCtx, pkg.ID)
	mustDo(t, err)
	if len(vs) != 2 || vs[0].Version != "1.0.0" || vs[1].Version != "1.1.0" || len(vs[0].Files) != 1 || len(vs[1].Files) != 1 ||
		vs[1].Files[0].Filename != "x-1.1.0.tgz" || vs[1].Metadata != nil {
		t.Fatalf("versions = %+v", vs)
	}
	pkg, err = f.s.Packages.Package(pkgCtx, f.a.ID, packages.NPM, "@s/x")
	mustDo(t, err)
	if !pkg.UpdatedAt.Equal(f.t0.Add(time.Minute)) || !pkg.CreatedAt.Equal(f.t0) {
		t.Fatalf("package times = %v, %v", pkg.CreatedAt, pkg.UpdatedAt)
	}

	// Unknown project: not found, nothing stored.
	ghost := &namespace.Project{ID: 999999}
	_, err = f.put(t, ghost, packages.Generic, "g", "1", "f", "x", packages.ReplaceFile, 0)
	wantKind(t, err, packages.ErrNotFound)
}

func testPackageRefuseVersion(t *testing.T, f *pkgFixture) {
	first := f.mustPut(t, f.a, packages.NPM, "x", "1.0.0", "x-1.0.0.tgz", "one", packages.RefuseVersion, 0,
		func(nf *packages.NewFile) { nf.Tags = []string{"latest"} })
	_, err := f.put(t, f.a, packages.NPM, "x", "1.0.0", "x-1.0.0.tgz", "evil", packages.RefuseVersion, time.Minute,
		func(nf *packages.NewFile) { nf.Tags = []string{"latest", "evil"} })
	wantKind(t, err, packages.ErrConflict)
	// Also under another filename: the version itself is immutable.
	_, err = f.put(t, f.a, packages.NPM, "x", "1.0.0", "other.tgz", "evil", packages.RefuseVersion, time.Minute)
	wantKind(t, err, packages.ErrConflict)
	v, err := f.s.Packages.PackageVersion(pkgCtx, first.Package.ID, "1.0.0")
	mustDo(t, err)
	if len(v.Files) != 1 || v.Files[0] != first.File {
		t.Fatalf("after refused re-publish: %+v", v.Files)
	}
	tags, err := f.s.Packages.PackageTags(pkgCtx, first.Package.ID)
	mustDo(t, err)
	if len(tags) != 1 {
		t.Fatalf("refused publish left tags: %+v", tags)
	}
	// The same version in another project is another package.
	f.mustPut(t, f.b, packages.NPM, "x", "1.0.0", "x-1.0.0.tgz", "one", packages.RefuseVersion, 0)
}

func testPackageRefuseFile(t *testing.T, f *pkgFixture) {
	f.mustPut(t, f.a, packages.PyPI, "My.Pkg", "1.0", "my_pkg-1.0.tar.gz", "sdist", packages.RefuseFile, 0)
	// Another file of the same version, under another spelling of the name: one package.
	rec := f.mustPut(t, f.a, packages.PyPI, "my-pkg", "1.0", "my_pkg-1.0-py3-none-any.whl", "wheel", packages.RefuseFile, time.Second)
	if rec.Package.Name != "My.Pkg" || rec.Package.NormalizedName != "my-pkg" {
		t.Fatalf("package = %+v, want the first spelling kept", rec.Package)
	}
	_, err := f.put(t, f.a, packages.PyPI, "my_pkg", "1.0", "my_pkg-1.0.tar.gz", "evil", packages.RefuseFile, time.Minute)
	wantKind(t, err, packages.ErrConflict)
	v, err := f.s.Packages.PackageVersion(pkgCtx, rec.Package.ID, "1.0")
	mustDo(t, err)
	if len(v.Files) != 2 || v.Files[0].Checksums != packages.SumsOf([]byte("sdist")) {
		t.Fatalf("files = %+v", v.Files)
	}
}

func testPackageReplaceFile(t *testing.T, f *pkgFixture) {
	first := f.mustPut(t, f.a, packages.Generic, "tool", "1.0", "tool.bin", "old", packages.ReplaceFile, 0,
		func(nf *packages.NewFile) { nf.Metadata = []byte(`{"k":1}`) })
	second := f.mustPut(t, f.a, packages.Generic, "tool", "1.0", "tool.bin", "new!", packages.ReplaceFile, time.Minute,
		func(nf *packages.NewFile) { nf.Status = packages.StatusHidden })
	if second.File.ID != first.File.ID || second.File.Checksums != packages.SumsOf([]byte("new!")) || second.File.Size != 4 {
		t.Fatalf("replaced file = %+v (first %+v)", second.File, first.File)
	}
	if second.Version.Status != packages.StatusHidden || string(second.Version.Metadata) != `{"k":1}` {
		t.Fatalf("version after replace = %+v (status should follow the upload, metadata stay)", second.Version)
	}
	f.mustPut(t, f.a, packages.Generic, "tool", "1.0", "tool.sig", "sig", packages.ReplaceFile, 2*time.Minute)
	v, err := f.s.Packages.PackageVersion(pkgCtx, first.Package.ID, "1.0")
	mustDo(t, err)
	if len(v.Files) != 2 || v.Files[0].Filename != "tool.bin" || v.Files[0].Blob != second.File.Blob || v.Status != packages.StatusDefault {
		t.Fatalf("version = %+v", v)
	}
}

func testPackageTags(t *testing.T, f *pkgFixture) {
	rec := f.mustPut(t, f.a, packages.NPM, "x", "1.0.0", "x-1.0.0.tgz", "one", packages.RefuseVersion, 0,
		func(nf *packages.NewFile) { nf.Tags = []string{"latest"} })
	f.mustPut(t, f.a, packages.NPM, "x", "2.0.0-rc.1", "x-2.0.0-rc.1.tgz", "two", packages.RefuseVersion, time.Second,
		func(nf *packages.NewFile) { nf.Tags = []string{"next"} })
	id := rec.Package.ID
	mustDo(t, f.s.Packages.SetPackageTag(pkgCtx, id, "beta", "1.0.0", f.t0))
	mustDo(t, f.s.Packages.SetPackageTag(pkgCtx, id, "beta", "2.0.0-rc.1", f.t0)) // moves
	wantKind(t, f.s.Packages.SetPackageTag(pkgCtx, id, "gamma", "9.9.9", f.t0), packages.ErrNotFound)
	tags, err := f.s.Packages.PackageTags(pkgCtx, id)
	mustDo(t, err)
	want := []packages.Tag{{Name: "beta", Version: "2.0.0-rc.1"}, {Name: "latest", Version: "1.0.0"}, {Name: "next", Version: "2.0.0-rc.1"}}
	if !slices.Equal(tags, want) {
		t.Fatalf("tags = %+v, want %+v", tags, want)
	}
	mustDo(t, f.s.Packages.DeletePackageTag(pkgCtx, id, "beta"))
	wantKind(t, f.s.Packages.DeletePackageTag(pkgCtx, id, "beta"), packages.ErrNotFound)
	// Deleting a version drops the tags pointing at it.
	mustDo(t, f.s.Packages.DeletePackageVersion(pkgCtx, id, "2.0.0-rc.1"))
	tags, err = f.s.Packages.PackageTags(pkgCtx, id)
	mustDo(t, err)
	if !slices.Equal(tags, []packages.Tag{{Name: "latest", Version: "1.0.0"}}) {
		t.Fatalf("tags after version delete = %+v", tags)
	}
}

func testPackageProjects(t *testing.T, f *pkgFixture) {
	f.mustPut(t, f.a, packages.NPM, "@g/x", "1.0.0", "x-1.0.0.tgz", "a", packages.RefuseVersion, 0)
	f.mustPut(t, f.b, packages.NPM, "@g/x", "1.0.0", "x-1.0.0.tgz", "b", packages.RefuseVersion, time.Minute)
	f.mustPut(t, f.a, packages.NPM, "@g/y", "1.0.0", "y-1.0.0.tgz", "c", packages.RefuseVersion, 0)
	f.mustPut(t, f.a, packages.Generic, "@g/x", "1", "file", "d", packages.ReplaceFile, 0)
	ids, err := f.s.Packages.PackageProjects(pkgCtx, packages.NPM, "@g/x")
	mustDo(t, err)
	if !slices.Equal(ids, []int64{f.b.ID, f.a.ID}) {
		t.Fatalf("projects = %v, want newest first [%d %d]", ids, f.b.ID, f.a.ID)
	}
	// a's package moves ahead when it gets a new version.
	f.mustPut(t, f.a, packages.NPM, "@g/x", "1.1.0", "x-1.1.0.tgz", "e", packages.RefuseVersion, time.Hour)
	ids, err = f.s.Packages.PackageProjects(pkgCtx, packages.NPM, "@g/x")
	mustDo(t, err)
	if !slices.Equal(ids, []int64{f.a.ID, f.b.ID}) {
		t.Fatalf("projects = %v after update", ids)
	}
	ids, err = f.s.Packages.PackageProjects(pkgCtx, packages.NPM, "@g/none")
	mustDo(t, err)
	if len(ids) != 0 {
		t.Fatalf("projects of an unknown package = %v", ids)
	}
	list, err := f.s.Packages.ListPackages(pkgCtx, f.a.ID, packages.NPM)
	mustDo(t, err)
	if len(list) != 2 || list[0].Name != "@g/x" || list[1].Name != "@g/y" {
		t.Fatalf("list = %+v", list)
	}
	list, err = f.s.Packages.ListPackages(pkgCtx, f.b.ID, packages.Generic)
	mustDo(t, err)
	if len(list) != 0 {
		t.Fatalf("list = %+v, want empty", list)
	}
}

func testPackageDelete(t *testing.T, f *pkgFixture) {
	rec := f.mustPut(t, f.a, packages.NPM, "x", "1.0.0", "x-1.0.0.tgz", "one", packages.RefuseVersion, 0)
	f.mustPut(t, f.a, packages.NPM, "x", "1.1.0", "x-1.1.0.tgz", "two", packages.RefuseVersion, 0)
	id := rec.Package.ID
	mustDo(t, f.s.Packages.DeletePackageVersion(pkgCtx, id, "1.0.0"))
	wantKind(t, f.s.Packages.DeletePackageVersion(pkgCtx, id, "1.0.0"), packages.ErrNotFound)
	// A deleted version may be published again.
	f.mustPut(t, f.a, packages.NPM, "x", "1.0.0", "x-1.0.0.tgz", "three", packages.RefuseVersion, 0)
	vs, err := f.s.Packages.PackageVersions(pkgCtx, id)
	mustDo(t, err)
	if len(vs) != 2 {
		t.Fatalf("versions = %+v", vs)
	}
	mustDo(t, f.s.Packages.DeletePackageVersion(pkgCtx, id, "1.0.0"))
	mustDo(t, f.s.Packages.DeletePackageVersion(pkgCtx, id, "1.1.0"))
	// The last version took the package with it.
	_, err = f.s.Packages.Package(pkgCtx, f.a.ID, packages.NPM, "x")
	wantKind(t, err, packages.ErrNotFound)

	rec = f.mustPut(t, f.a, packages.Generic, "g", "1", "a", "a", packages.ReplaceFile, 0)
	f.mustPut(t, f.a, packages.Generic, "g", "2", "b", "b", packages.ReplaceFile, 0)
	mustDo(t, f.s.Packages.DeletePackage(pkgCtx, rec.Package.ID))
	wantKind(t, f.s.Packages.DeletePackage(pkgCtx, rec.Package.ID), packages.ErrNotFound)
	_, err = f.s.Packages.PackageVersion(pkgCtx, rec.Package.ID, "2")
	wantKind(t, err, packages.ErrNotFound)
	refs := referenced(t, f.s)
	if len(refs) != 0 {
		t.Fatalf("deleted packages still reference %v", refs)
	}
}

func testPackageRemoveFile(t *testing.T, f *pkgFixture) {
	keep := f.mustPut(t, f.a, packages.Generic, "g", "1", "keep", "keep", packages.ReplaceFile, 0)
	gone := f.mustPut(t, f.a, packages.Generic, "g", "2", "gone", "gone", packages.ReplaceFile, 0)
	// A stale digest (the row was replaced meanwhile) removes nothing.
	mustDo(t, f.s.Packages.RemovePackageFile(pkgCtx, gone.File.ID, blob.Digest("sha256:"+packages.SumsOf([]byte("other")).SHA256)))
	if _, err := f.s.Packages.PackageVersion(pkgCtx, gone.Package.ID, "2"); err != nil {
		t.Fatalf("stale remove took the version: %v", err)
	}
	mustDo(t, f.s.Packages.RemovePackageFile(pkgCtx, gone.File.ID, gone.File.Blob))
	_, err := f.s.Packages.PackageVersion(pkgCtx, gone.Package.ID, "2")
	wantKind(t, err, packages.ErrNotFound)
	mustDo(t, f.s.Packages.RemovePackageFile(pkgCtx, gone.File.ID, gone.File.Blob)) // idempotent
	mustDo(t, f.s.Packages.RemovePackageFile(pkgCtx, keep.File.ID, keep.File.Blob))
	_, err = f.s.Packages.Package(pkgCtx, f.a.ID, packages.Generic, "g")
	wantKind(t, err, packages.ErrNotFound)
}

func referenced(t *testing.T, s *sqlstore.Stores) []string {
	t.Helper()
	var out []string
	mustDo(t, s.Packages.References().ReferencedBlobs(pkgCtx, func(d string) error { out = append(out, d); return nil }))
	slices.Sort(out)
	return slices.Compact(out)
}

func testPackageReferences(t *testing.T, f *pkgFixture) {
	one := f.mustPut(t, f.a, packages.Generic, "g", "1", "a", "same", packages.ReplaceFile, 0)
	f.mustPut(t, f.b, packages.Generic, "g", "1", "a", "same", packages.ReplaceFile, 0)
	two := f.mustPut(t, f.a, packages.NPM, "n", "1.0.0", "n-1.0.0.tgz", "other", packages.RefuseVersion, 0)
	want := []string{string(one.File.Blob), string(two.File.Blob)}
	slices.Sort(want)
	if got := referenced(t, f.s); !slices.Equal(got, want) {
		t.Fatalf("referenced = %v, want %v", got, want)
	}
	absent := "sha256:" + packages.SumsOf([]byte("absent")).SHA256
	found, err := f.s.Packages.References().ReferencedAmong(pkgCtx, []string{string(one.File.Blob), absent})
	mustDo(t, err)
	if !found[string(one.File.Blob)] || found[absent] || len(found) != 1 {
		t.Fatalf("ReferencedAmong = %v", found)
	}
	stop := errors.New("stop")
	if err := f.s.Packages.References().ReferencedBlobs(pkgCtx, func(string) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("ReferencedBlobs did not stop at fn's error: %v", err)
	}
}

// testPackageConcurrentPublish races uploads: an immutable version is published exactly once,
// and replacements of one filename leave exactly one row.
func testPackageConcurrentPublish(t *testing.T, f *pkgFixture) {
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.put(t, f.a, packages.NPM, "race", "1.0.0", "race-1.0.0.tgz", fmt.Sprint("v", i), packages.RefuseVersion, 0)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, packages.ErrConflict):
			t.Fatalf("concurrent publish: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent publishes of one version succeeded, want 1", ok)
	}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.put(t, f.a, packages.Generic, "race", "1", "file", fmt.Sprint("v", i), packages.ReplaceFile, 0)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		mustDo(t, err)
	}
	pkg, err := f.s.Packages.Package(pkgCtx, f.a.ID, packages.Generic, "race")
	mustDo(t, err)
	v, err := f.s.Packages.PackageVersion(pkgCtx, pkg.ID, "1")
	mustDo(t, err)
	if len(v.Files) != 1 {
		t.Fatalf("%d rows for one replaced filename", len(v.Files))
	}
}
