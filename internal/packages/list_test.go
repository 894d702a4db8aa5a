package packages_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// TestListVersions: the service's rules over the store's filter: status (a versionless
// package counts as default) and versionless packages only when asked for and no version is.
func TestListVersions(t *testing.T) {
	e := newEnv(t, packages.Options{})
	add := func(f packages.Format, name, version, file string, status packages.Status) int64 {
		t.Helper()
		u := e.upload(name, version, file, name+version+file)
		u.Format, u.Status = f, status
		rec, err := e.svc.AddFile(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		return rec.Version.ID
	}
	v1 := add(packages.Generic, "tool", "1.0.0", "a", "")
	hidden := add(packages.Generic, "tool", "2.0.0", "a", packages.StatusHidden)
	jar := add(packages.Maven, "com/example/app", "1.0", "app-1.0.jar", "")
	// Maven's artifact-level metadata, stored as its handler does (maven.MetadataVersion).
	meta := add(packages.Maven, "com/example/app", "@maven-metadata", "maven-metadata.xml", packages.StatusHidden)

	p := []int64{e.project.ID}
	for _, c := range []struct {
		name string
		q    packages.VersionQuery
		want []int64
	}{
		{"ok/every status, no versionless", packages.VersionQuery{VersionFilter: packages.VersionFilter{ProjectIDs: p}}, []int64{v1, hidden, jar}},
		{"ok/default only", packages.VersionQuery{VersionFilter: packages.VersionFilter{ProjectIDs: p}, Status: packages.StatusDefault}, []int64{v1, jar}},
		{"ok/hidden only", packages.VersionQuery{VersionFilter: packages.VersionFilter{ProjectIDs: p}, Status: packages.StatusHidden}, []int64{hidden}},
		{"ok/versionless counts as default", packages.VersionQuery{VersionFilter: packages.VersionFilter{ProjectIDs: p},
			Status: packages.StatusDefault, IncludeVersionless: true}, []int64{v1, jar, meta}},
		{"ok/versionless is never hidden", packages.VersionQuery{VersionFilter: packages.VersionFilter{ProjectIDs: p},
			Status: packages.StatusHidden, IncludeVersionless: true}, []int64{hidden}},
		{"ok/a version filter leaves versionless out", packages.VersionQuery{VersionFilter: packages.VersionFilter{ProjectIDs: p,
			Version: "@maven-metadata"}, IncludeVersionless: true}, []int64{}},
		{"ok/format and name", packages.VersionQuery{VersionFilter: packages.VersionFilter{ProjectIDs: p, Format: packages.Maven,
			NameContains: "EXAMPLE"}, IncludeVersionless: true}, []int64{jar, meta}},
		{"ok/no projects", packages.VersionQuery{}, []int64{}},
		{"ok/another project", packages.VersionQuery{VersionFilter: packages.VersionFilter{ProjectIDs: []int64{e.other.ID}}}, []int64{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := e.svc.ListVersions(ctx, c.q)
			if err != nil {
				t.Fatal(err)
			}
			ids := []int64{}
			for _, lv := range got {
				ids = append(ids, lv.Version.ID)
				if lv.Version.Versionless() && lv.Version.Status != packages.StatusDefault {
					t.Errorf("versionless %d reported %s", lv.Version.ID, lv.Version.Status)
				}
			}
			if !slices.Equal(ids, c.want) {
				t.Fatalf("versions = %v, want %v", ids, c.want)
			}
		})
	}
}

// TestVersionByIDAndDeleteFile: a version is found by id in its own project only; deleting its
// files one by one takes the version and then the package.
func TestVersionByIDAndDeleteFile(t *testing.T) {
	e := newEnv(t, packages.Options{})
	var id int64
	for _, file := range []string{"a", "b"} {
		rec, err := e.svc.AddFile(ctx, e.upload("tool", "1.0.0", file, file))
		if err != nil {
			t.Fatal(err)
		}
		id = rec.Version.ID
	}
	pkg, v, err := e.svc.VersionByID(ctx, e.project.ID, id)
	if err != nil || pkg.Name != "tool" || v.Version != "1.0.0" || len(v.Files) != 2 {
		t.Fatalf("by id = %+v %+v, %v", pkg, v, err)
	}
	if _, _, err := e.svc.VersionByID(ctx, e.other.ID, id); !errors.Is(err, packages.ErrNotFound) {
		t.Fatalf("another project's version: %v", err)
	}
	if _, _, err := e.svc.VersionByID(ctx, e.project.ID, id+1000); !errors.Is(err, packages.ErrNotFound) {
		t.Fatalf("missing version: %v", err)
	}
	if err := e.svc.DeleteFile(ctx, v, v.Files[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteFile(ctx, v, v.Files[0].ID); !errors.Is(err, packages.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, v2, err := e.svc.VersionByID(ctx, e.project.ID, id); err != nil || len(v2.Files) != 1 || v2.Files[0].Filename != "b" {
		t.Fatalf("after one delete = %+v, %v", v2, err)
	}
	if err := e.svc.DeleteFile(ctx, v, v.Files[1].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Package(ctx, e.project.ID, packages.Generic, "tool"); !errors.Is(err, packages.ErrNotFound) {
		t.Fatalf("package after its last file: %v", err)
	}
}
