package sqlstore_test

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// testProjectPages covers the UI's project-page reads: repositories with tag counts, tags with
// digest and size (manifest plus linked blobs), and the registry's and packages' bytes.
func testProjectPages(t *testing.T, f *regFixture) {
	if got, err := f.s.Registry.ProjectRepositories(f.ctx, f.p.ID); err != nil || len(got) != 0 {
		t.Fatalf("no repositories yet: %v %v", got, err)
	}
	cfg, layer := digest("config"), digest("layer")
	for _, repo := range []oci.Repository{f.repoA, f.repoB} {
		mustDo(t, f.s.Registry.LinkBlob(f.ctx, repo, oci.BlobLink{Digest: cfg, Size: 100, CreatedAt: f.t0}))
		mustDo(t, f.s.Registry.LinkBlob(f.ctx, repo, oci.BlobLink{Digest: layer, Size: 1000, CreatedAt: f.t0}))
	}
	img := manifestRec(f, "image", []string{cfg, layer}, nil) // size 5
	mustDo(t, f.s.Registry.PutManifest(f.ctx, f.repoA, img, []string{"v1", "latest"}))
	mustDo(t, f.s.Registry.PutManifest(f.ctx, f.repoB, img, nil))
	repos, err := f.s.Registry.ProjectRepositories(f.ctx, f.p.ID)
	if err != nil || len(repos) != 2 || repos[0].Name != f.repoA.Name || repos[0].TagCount != 2 || repos[1].TagCount != 0 {
		t.Fatalf("ProjectRepositories = %+v %v", repos, err)
	}
	if other, _ := f.s.Registry.ProjectRepositories(f.ctx, f.other.ID); len(other) != 0 {
		t.Fatalf("another project's repositories: %+v", other)
	}
	tags, err := f.s.Registry.TagDetails(f.ctx, f.repoA)
	if err != nil || len(tags) != 2 || tags[0].Name != "latest" || tags[1].Name != "v1" {
		t.Fatalf("TagDetails = %+v %v", tags, err)
	}
	if td := tags[0]; td.Digest != img.Digest || td.Size != 1105 || td.MediaType != oci.MediaTypeOCIManifest || !td.UpdatedAt.Equal(f.t0) {
		t.Fatalf("tag = %+v, want digest %s size 1105", td, img.Digest)
	}
	_, err = f.s.Registry.TagDetails(f.ctx, oci.Repository{ProjectID: f.other.ID, Name: f.repoA.Name})
	wantKind(t, err, oci.ErrNotFound)
	// The layer and config are linked in both repositories: counted once, plus two manifests.
	if n, err := f.s.Registry.ProjectRegistryBytes(f.ctx, f.p.ID); err != nil || n != 1110 {
		t.Fatalf("ProjectRegistryBytes = %d %v, want 1110", n, err)
	}
	if n, err := f.s.Registry.ProjectRegistryBytes(f.ctx, f.other.ID); err != nil || n != 0 {
		t.Fatalf("empty project's registry bytes = %d %v", n, err)
	}

	if n, err := f.s.Packages.ProjectPackageBytes(f.ctx, f.p.ID); err != nil || n != 0 {
		t.Fatalf("no packages: %d %v", n, err)
	}
	for i, name := range []string{"a.bin", "b.bin"} {
		_, err := f.s.Packages.PutPackageFile(f.ctx, &packages.NewFile{ProjectID: f.p.ID, Format: packages.Generic, Name: "pkg",
			NormalizedName: "pkg", Version: "1.0.0", Status: packages.StatusDefault, Filename: name, Size: int64(10 * (i + 1)),
			Blob: blob.Digest(digest(name)), Now: f.t0})
		mustDo(t, err)
	}
	if n, err := f.s.Packages.ProjectPackageBytes(f.ctx, f.p.ID); err != nil || n != 30 {
		t.Fatalf("ProjectPackageBytes = %d %v, want 30", n, err)
	}
}
