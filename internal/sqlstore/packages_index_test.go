package sqlstore_test

import (
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// versionIDs returns the version ids of a listing.
func versionIDs(list []packages.ListedVersion) []int64 {
	out := []int64{}
	for _, lv := range list {
		out = append(out, lv.Version.ID)
	}
	return out
}

// testPackageIndex: FindPackageVersions filters by projects, format, name (ASCII case
// insensitive, LIKE wildcards literal) and exact version, by version id; PackageVersionByID
// finds a version with its files and package.
func testPackageIndex(t *testing.T, f *pkgFixture) {
	foo1 := f.mustPut(t, f.a, packages.Generic, "My_Foo", "1.0.0", "a.bin", "a", packages.ReplaceFile, 0)
	f.mustPut(t, f.a, packages.Generic, "My_Foo", "1.0.0", "b.bin", "b", packages.ReplaceFile, time.Second)
	foo2 := f.mustPut(t, f.a, packages.Generic, "My_Foo", "2.0.0", "a.bin", "c", packages.ReplaceFile, time.Minute)
	npm := f.mustPut(t, f.a, packages.NPM, "myxfoo", "1.0.0", "x.tgz", "d", packages.RefuseVersion, time.Hour,
		func(nf *packages.NewFile) { nf.Metadata = []byte(`{"k":1}`) })
	hidden := f.mustPut(t, f.a, packages.Generic, "bar%", "1.0.0", "h", "e", packages.ReplaceFile, 2*time.Hour,
		func(nf *packages.NewFile) { nf.Status = packages.StatusHidden })
	other := f.mustPut(t, f.b, packages.Generic, "My_Foo", "1.0.0", "a.bin", "f", packages.ReplaceFile, 0)

	for _, c := range []struct {
		name   string
		filter packages.VersionFilter
		want   []int64
	}{
		{"ok/one project, every format", packages.VersionFilter{ProjectIDs: []int64{f.a.ID}},
			[]int64{foo1.Version.ID, foo2.Version.ID, npm.Version.ID, hidden.Version.ID}},
		{"ok/two projects", packages.VersionFilter{ProjectIDs: []int64{f.b.ID, f.a.ID}, Version: "1.0.0", Format: packages.Generic},
			[]int64{foo1.Version.ID, hidden.Version.ID, other.Version.ID}},
		{"ok/format", packages.VersionFilter{ProjectIDs: []int64{f.a.ID}, Format: packages.NPM}, []int64{npm.Version.ID}},
		{"ok/name ignores ASCII case", packages.VersionFilter{ProjectIDs: []int64{f.a.ID}, NameContains: "MY_f"},
			[]int64{foo1.Version.ID, foo2.Version.ID}},
		{"ok/underscore is literal", packages.VersionFilter{ProjectIDs: []int64{f.a.ID}, NameContains: "y_"},
			[]int64{foo1.Version.ID, foo2.Version.ID}},
		{"ok/percent is literal", packages.VersionFilter{ProjectIDs: []int64{f.a.ID}, NameContains: "r%"}, []int64{hidden.Version.ID}},
		{"ok/version", packages.VersionFilter{ProjectIDs: []int64{f.a.ID}, Version: "2.0.0"}, []int64{foo2.Version.ID}},
		{"ok/no project", packages.VersionFilter{}, []int64{}},
		{"ok/nothing matches", packages.VersionFilter{ProjectIDs: []int64{f.a.ID}, NameContains: "zzz"}, []int64{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := f.s.Packages.FindPackageVersions(pkgCtx, c.filter)
			mustDo(t, err)
			if !slices.Equal(versionIDs(got), c.want) {
				t.Fatalf("versions = %v, want %v", versionIDs(got), c.want)
			}
		})
	}

	// More projects than one IN list holds: b's in the first chunk, a's in the second; still by id.
	many := []int64{f.b.ID}
	for i := int64(0); i < 499; i++ {
		many = append(many, 1_000_000+i)
	}
	many = append(many, f.a.ID)
	got, err := f.s.Packages.FindPackageVersions(pkgCtx, packages.VersionFilter{ProjectIDs: many, Version: "1.0.0", Format: packages.Generic})
	mustDo(t, err)
	if want := []int64{foo1.Version.ID, hidden.Version.ID, other.Version.ID}; !slices.Equal(versionIDs(got), want) {
		t.Fatalf("chunked versions = %v, want %v", versionIDs(got), want)
	}

	list, err := f.s.Packages.FindPackageVersions(pkgCtx, packages.VersionFilter{ProjectIDs: []int64{f.a.ID}, Format: packages.NPM})
	mustDo(t, err)
	lv := list[0]
	if lv.Package.ID != npm.Package.ID || lv.Package.Name != "myxfoo" || lv.Package.Format != packages.NPM ||
		lv.Package.ProjectID != f.a.ID || lv.Version.Version != "1.0.0" || string(lv.Version.Metadata) != `{"k":1}` ||
		lv.Version.Status != packages.StatusDefault || !lv.Version.CreatedAt.Equal(f.t0.Add(time.Hour)) || lv.Version.Files != nil {
		t.Fatalf("listed = %+v", lv)
	}

	pkg, v, err := f.s.Packages.PackageVersionByID(pkgCtx, foo1.Version.ID)
	mustDo(t, err)
	if pkg.ID != foo1.Package.ID || pkg.Name != "My_Foo" || v.Version != "1.0.0" || len(v.Files) != 2 ||
		v.Files[0].Filename != "a.bin" || v.Files[1].Filename != "b.bin" || v.Files[0].SHA256 != foo1.File.SHA256 {
		t.Fatalf("by id = %+v %+v", pkg, v)
	}
	_, v, err = f.s.Packages.PackageVersionByID(pkgCtx, hidden.Version.ID)
	mustDo(t, err)
	if v.Status != packages.StatusHidden {
		t.Fatalf("hidden by id = %+v", v)
	}
	_, _, err = f.s.Packages.PackageVersionByID(pkgCtx, 1<<40)
	wantKind(t, err, packages.ErrNotFound)
}

// testPackageDeleteFile: DeletePackageFile removes one file; the last file takes its version,
// the last version its package; a file of another version, or a gone one, is ErrNotFound.
func testPackageDeleteFile(t *testing.T, f *pkgFixture) {
	a := f.mustPut(t, f.a, packages.Generic, "g", "1", "a", "a", packages.ReplaceFile, 0)
	b := f.mustPut(t, f.a, packages.Generic, "g", "1", "b", "b", packages.ReplaceFile, 0)
	c := f.mustPut(t, f.a, packages.Generic, "g", "2", "c", "c", packages.ReplaceFile, 0)
	wantKind(t, f.s.Packages.DeletePackageFile(pkgCtx, c.Version.ID, a.File.ID), packages.ErrNotFound)
	mustDo(t, f.s.Packages.DeletePackageFile(pkgCtx, a.Version.ID, a.File.ID))
	wantKind(t, f.s.Packages.DeletePackageFile(pkgCtx, a.Version.ID, a.File.ID), packages.ErrNotFound)
	v, err := f.s.Packages.PackageVersion(pkgCtx, a.Package.ID, "1")
	mustDo(t, err)
	if len(v.Files) != 1 || v.Files[0].ID != b.File.ID {
		t.Fatalf("files after delete = %+v", v.Files)
	}
	if refs := referenced(t, f.s); slices.Contains(refs, string(a.File.Blob)) {
		t.Fatalf("deleted file still referenced: %v", refs)
	}
	mustDo(t, f.s.Packages.DeletePackageFile(pkgCtx, b.Version.ID, b.File.ID))
	_, err = f.s.Packages.PackageVersion(pkgCtx, a.Package.ID, "1")
	wantKind(t, err, packages.ErrNotFound)
	mustDo(t, f.s.Packages.DeletePackageFile(pkgCtx, c.Version.ID, c.File.ID))
	_, err = f.s.Packages.Package(pkgCtx, f.a.ID, packages.Generic, "g")
	wantKind(t, err, packages.ErrNotFound)
	if refs := referenced(t, f.s); len(refs) != 0 {
		t.Fatalf("references left: %v", refs)
	}
}
