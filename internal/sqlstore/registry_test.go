package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/jwtauth"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
	"github.com/gatehouse-dev/gatehouse/internal/registry"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// The registry's consumer interfaces are implemented by the store.
var (
	_ registry.Store      = (*sqlstore.RegistryStore)(nil)
	_ registry.Principals = sqlstore.Credentials{}
	_ jwtauth.Projects    = (*sqlstore.NamespaceStore)(nil)
	_ jwtauth.Settings    = (*sqlstore.SettingsStore)(nil)
)

func TestRegistryStoreSQLite(t *testing.T) {
	runRegistrySuite(t, func(t *testing.T) *sqlstore.Stores {
		s := openSQLite(t, filepath.Join(t.TempDir(), "gatehouse.db"))
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestRegistryStorePostgres(t *testing.T) {
	runRegistrySuite(t, func(t *testing.T) *sqlstore.Stores {
		s := openPostgres(t)
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

// regFixture is a migrated store with group "g" holding projects "g/p", "g/sub/q" (in a
// subgroup) and "g/other".
type regFixture struct {
	s            *sqlstore.Stores
	p, q, other  *namespace.Project
	ctx          context.Context
	t0           time.Time
	repoA, repoB oci.Repository
}

func digest(label string) string {
	return "sha256:" + fmt.Sprintf("%064x", []byte(label))[:64]
}

func runRegistrySuite(t *testing.T, open func(t *testing.T) *sqlstore.Stores) {
	setup := func(t *testing.T) *regFixture {
		s := open(t)
		ctx := context.Background()
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		t0 := time.Date(2031, 3, 14, 15, 9, 26, 0, time.UTC)
		g := &namespace.Group{Name: "G", Path: "g", CreatedAt: t0}
		if err := s.Namespaces.CreateGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
		proj := func(path string, group int64) *namespace.Project {
			p := &namespace.Project{Name: path, Path: path, GroupID: group, Visibility: namespace.Private, CreatedAt: t0}
			if err := s.Namespaces.CreateProject(ctx, p); err != nil {
				t.Fatal(err)
			}
			return p
		}
		f := &regFixture{s: s, ctx: ctx, t0: t0, p: proj("p", g.ID), other: proj("other", g.ID)}
		sub := &namespace.Group{Name: "Sub", Path: "sub", ParentID: g.ID, CreatedAt: t0}
		if err := s.Namespaces.CreateGroup(ctx, sub); err != nil {
			t.Fatal(err)
		}
		f.q = proj("q", sub.ID)
		f.repoA = oci.Repository{ProjectID: f.p.ID, Name: "g/p/a"}
		f.repoB = oci.Repository{ProjectID: f.p.ID, Name: "g/p/b"}
		return f
	}
	t.Run("project_by_longest_path", func(t *testing.T) { testProjectByLongestPath(t, setup(t)) })
	t.Run("personal_token_by_id", func(t *testing.T) { testPersonalTokenByID(t, setup(t)) })
	t.Run("blob_links", func(t *testing.T) { testBlobLinks(t, setup(t)) })
	t.Run("manifests", func(t *testing.T) { testManifests(t, setup(t)) })
	t.Run("tags", func(t *testing.T) { testTags(t, setup(t)) })
	t.Run("referrers", func(t *testing.T) { testReferrers(t, setup(t)) })
	t.Run("catalog", func(t *testing.T) { testCatalog(t, setup(t)) })
	t.Run("repositories_by_project", func(t *testing.T) { testRepositoriesByProject(t, setup(t)) })
	t.Run("project_pages", func(t *testing.T) { testProjectPages(t, setup(t)) })
}

func wantKind(t *testing.T, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error = %v, want %v", err, kind)
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testProjectByLongestPath(t *testing.T, f *regFixture) {
	for _, c := range []struct {
		name string
		want int64
	}{
		{"g/p", f.p.ID}, {"g/p/img", f.p.ID}, {"g/sub/q", f.q.ID}, {"g/sub/q/img/x", f.q.ID}, {"G/SUB/Q/img", f.q.ID}, {"g/other/a/b", f.other.ID},
	} {
		p, err := f.s.Namespaces.ProjectByLongestPath(f.ctx, oci.Name(c.name).ProjectPaths())
		if err != nil || p.ID != c.want || len(p.GroupAncestry) == 0 {
			t.Errorf("ok/%s: %+v %v, want project %d", c.name, p, err, c.want)
		}
	}
	for _, name := range []string{"g", "nope/p", "g/pp", "g/sub", "g/sub/img"} {
		_, err := f.s.Namespaces.ProjectByLongestPath(f.ctx, oci.Name(name).ProjectPaths())
		if !errors.Is(err, errkind.ErrNotFound) {
			t.Errorf("fail/%s: %v", name, err)
		}
	}
}

func testPersonalTokenByID(t *testing.T, f *regFixture) {
	u := &namespace.User{Username: "u", Email: "u@example.com", Name: "U", PasswordHash: "x", CreatedAt: f.t0}
	mustDo(t, f.s.Namespaces.CreateUser(f.ctx, u))
	pt := &token.PersonalToken{UserID: u.ID, Name: "t", Scopes: token.Scopes{token.ReadRegistry}, CreatedAt: f.t0, Digest: []byte("digest-of-pat")}
	mustDo(t, f.s.Tokens.CreatePersonalToken(f.ctx, pt))
	got, err := f.s.Tokens.PersonalToken(f.ctx, pt.ID)
	if err != nil || got.UserID != u.ID || !got.Scopes.Has(token.ReadRegistry) {
		t.Fatalf("PersonalToken: %+v %v", got, err)
	}
	_, err = f.s.Tokens.PersonalToken(f.ctx, pt.ID+100)
	wantKind(t, err, errkind.ErrNotFound)
}

func testBlobLinks(t *testing.T, f *regFixture) {
	d := digest("layer")
	_, err := f.s.Registry.BlobLink(f.ctx, f.repoA, d)
	wantKind(t, err, oci.ErrNotFound)
	mustDo(t, f.s.Registry.LinkBlob(f.ctx, f.repoA, oci.BlobLink{Digest: d, Size: 42, CreatedAt: f.t0}))
	mustDo(t, f.s.Registry.LinkBlob(f.ctx, f.repoA, oci.BlobLink{Digest: d, Size: 42, CreatedAt: f.t0.Add(time.Hour)})) // idempotent
	l, err := f.s.Registry.BlobLink(f.ctx, f.repoA, d)
	if err != nil || l.Size != 42 || !l.CreatedAt.Equal(f.t0) {
		t.Fatalf("BlobLink: %+v %v", l, err)
	}
	// A blob is reachable only from repositories that link it.
	_, err = f.s.Registry.BlobLink(f.ctx, f.repoB, d)
	wantKind(t, err, oci.ErrNotFound)
	if l, err := f.s.Registry.ProjectBlobLink(f.ctx, f.p.ID, d); err != nil || l.Size != 42 {
		t.Fatalf("ProjectBlobLink: %+v %v", l, err)
	}
	_, err = f.s.Registry.ProjectBlobLink(f.ctx, f.other.ID, d)
	wantKind(t, err, oci.ErrNotFound)
	mustDo(t, f.s.Registry.LinkBlob(f.ctx, f.repoB, oci.BlobLink{Digest: d, Size: 42, CreatedAt: f.t0}))
	mustDo(t, f.s.Registry.UnlinkBlob(f.ctx, f.repoA, d))
	wantKind(t, f.s.Registry.UnlinkBlob(f.ctx, f.repoA, d), oci.ErrNotFound)
	wantKind(t, f.s.Registry.UnlinkBlob(f.ctx, oci.Repository{ProjectID: f.p.ID, Name: "g/p/none"}, d), oci.ErrNotFound)
	if _, err := f.s.Registry.BlobLink(f.ctx, f.repoB, d); err != nil {
		t.Fatalf("unlinking from one repository unlinked it from another: %v", err)
	}
}

func manifestRec(f *regFixture, label string, blobs, children []string) oci.ManifestRecord {
	return oci.ManifestRecord{Digest: digest(label), MediaType: oci.MediaTypeOCIManifest, Size: int64(len(label)),
		ArtifactType: "application/vnd.test", Blobs: blobs, Children: children, CreatedAt: f.t0}
}

func testManifests(t *testing.T, f *regFixture) {
	cfg, layer := digest("config"), digest("layer")
	img := manifestRec(f, "image", []string{cfg, layer, layer}, nil)
	var me *oci.MissingError
	err := f.s.Registry.PutManifest(f.ctx, f.repoA, img, []string{"v1"})
	if !errors.As(err, &me) || len(me.Digests) != 2 || !errors.Is(err, oci.ErrMissingReference) {
		t.Fatalf("fail/missing blobs: %v", err)
	}
	_, err = f.s.Registry.Manifest(f.ctx, f.repoA, img.Digest)
	wantKind(t, err, oci.ErrNotFound)
	_, err = f.s.Registry.Manifest(f.ctx, f.repoA, "v1")
	wantKind(t, err, oci.ErrNotFound)

	for _, d := range []string{cfg, layer} {
		mustDo(t, f.s.Registry.LinkBlob(f.ctx, f.repoA, oci.BlobLink{Digest: d, Size: 1, CreatedAt: f.t0}))
	}
	mustDo(t, f.s.Registry.PutManifest(f.ctx, f.repoA, img, []string{"v1", "latest"}))
	mustDo(t, f.s.Registry.PutManifest(f.ctx, f.repoA, img, nil)) // pushing again is fine
	for _, ref := range []string{img.Digest, "v1", "latest"} {
		m, err := f.s.Registry.Manifest(f.ctx, f.repoA, ref)
		if err != nil || m.Digest != img.Digest || m.MediaType != img.MediaType || m.Size != img.Size || m.ArtifactType != img.ArtifactType {
			t.Fatalf("Manifest(%s) = %+v %v", ref, m, err)
		}
	}
	// Another repository of the project has neither the blobs nor the manifest.
	wantKind(t, errOf(f.s.Registry.Manifest(f.ctx, f.repoB, img.Digest)), oci.ErrNotFound)
	if err := f.s.Registry.PutManifest(f.ctx, f.repoB, img, nil); !errors.Is(err, oci.ErrMissingReference) {
		t.Fatalf("fail/blobs of another repository: %v", err)
	}
	// An index needs its children in the same repository.
	idx := manifestRec(f, "index", nil, []string{img.Digest, digest("missing")})
	idx.MediaType = oci.MediaTypeOCIIndex
	if err := f.s.Registry.PutManifest(f.ctx, f.repoA, idx, nil); !errors.As(err, &me) || len(me.Digests) != 1 || me.Digests[0] != digest("missing") {
		t.Fatalf("fail/missing child: %v", err)
	}
	idx.Children = []string{img.Digest}
	mustDo(t, f.s.Registry.PutManifest(f.ctx, f.repoA, idx, []string{"multi"}))
	// Moving a tag.
	mustDo(t, f.s.Registry.PutManifest(f.ctx, f.repoA, idx, []string{"latest"}))
	if m, _ := f.s.Registry.Manifest(f.ctx, f.repoA, "latest"); m.Digest != idx.Digest {
		t.Fatalf("latest still at %s", m.Digest)
	}
	// Deleting a manifest deletes its tags.
	mustDo(t, f.s.Registry.DeleteManifest(f.ctx, f.repoA, img.Digest))
	wantKind(t, f.s.Registry.DeleteManifest(f.ctx, f.repoA, img.Digest), oci.ErrNotFound)
	wantKind(t, errOf(f.s.Registry.Manifest(f.ctx, f.repoA, "v1")), oci.ErrNotFound)
	if tags, _ := f.s.Registry.Tags(f.ctx, f.repoA, "", 10); !slices.Equal(tags, []string{"latest", "multi"}) {
		t.Fatalf("tags after delete: %v", tags)
	}
	mustDo(t, f.s.Registry.DeleteTag(f.ctx, f.repoA, "multi"))
	wantKind(t, f.s.Registry.DeleteTag(f.ctx, f.repoA, "multi"), oci.ErrNotFound)
	if _, err := f.s.Registry.Manifest(f.ctx, f.repoA, idx.Digest); err != nil {
		t.Fatalf("deleting a tag deleted the manifest: %v", err)
	}
	// sha512 digests work as any other.
	big := manifestRec(f, "sha512", nil, nil)
	big.Digest = "sha512:" + strings.Repeat("ab", 64)
	mustDo(t, f.s.Registry.PutManifest(f.ctx, f.repoA, big, nil))
	if m, err := f.s.Registry.Manifest(f.ctx, f.repoA, big.Digest); err != nil || m.Digest != big.Digest {
		t.Fatalf("sha512: %+v %v", m, err)
	}
	// Many references in one manifest (more than one IN-list chunk).
	var many []string
	for i := range 1200 {
		d := digest(fmt.Sprintf("many-%d", i))
		many = append(many, d)
		mustDo(t, f.s.Registry.LinkBlob(f.ctx, f.repoB, oci.BlobLink{Digest: d, Size: 1, CreatedAt: f.t0}))
	}
	mustDo(t, f.s.Registry.PutManifest(f.ctx, f.repoB, manifestRec(f, "many", many, nil), nil))
}

func errOf[T any](_ T, err error) error { return err }

func testTags(t *testing.T, f *regFixture) {
	_, err := f.s.Registry.Tags(f.ctx, f.repoA, "", 10)
	wantKind(t, err, oci.ErrNotFound)
	m := manifestRec(f, "m", nil, nil)
	tags := []string{"b", "a", "B", "v1.10", "v1.9", "_x", "A-1"}
	mustDo(t, f.s.Registry.PutManifest(f.ctx, f.repoA, m, tags))
	want := slices.Clone(tags)
	slices.Sort(want) // byte order: upper case before lower case
	got, err := f.s.Registry.Tags(f.ctx, f.repoA, "", 100)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("Tags = %v %v, want %v", got, err, want)
	}
	page, _ := f.s.Registry.Tags(f.ctx, f.repoA, "", 3)
	next, _ := f.s.Registry.Tags(f.ctx, f.repoA, page[2], 100)
	if !slices.Equal(append(page, next...), want) {
		t.Fatalf("paging: %v + %v", page, next)
	}
	if got, _ := f.s.Registry.Tags(f.ctx, f.repoA, "zzz", 10); len(got) != 0 {
		t.Fatalf("after the last tag: %v", got)
	}
}

func testReferrers(t *testing.T, f *regFixture) {
	subject := digest("subject") // need not exist
	sig := manifestRec(f, "sig", nil, nil)
	sig.Subject, sig.ArtifactType, sig.Annotations = subject, "application/vnd.sig", map[string]string{"k": "v"}
	sbom := manifestRec(f, "sbom", nil, nil)
	sbom.Subject, sbom.ArtifactType = subject, "application/vnd.sbom"
	idx := manifestRec(f, "idx", nil, nil)
	idx.MediaType, idx.ArtifactType, idx.Subject = oci.MediaTypeOCIIndex, "", subject
	for _, m := range []oci.ManifestRecord{sig, sbom, idx, manifestRec(f, "unrelated", nil, nil)} {
		mustDo(t, f.s.Registry.PutManifest(f.ctx, f.repoA, m, nil))
	}
	mustDo(t, f.s.Registry.PutManifest(f.ctx, f.repoB, sig, nil))
	all, err := f.s.Registry.Referrers(f.ctx, f.repoA, subject, "", "", 100)
	if err != nil || len(all) != 3 {
		t.Fatalf("Referrers = %+v %v", all, err)
	}
	if !slices.IsSortedFunc(all, func(a, b oci.Descriptor) int { return strings.Compare(a.Digest, b.Digest) }) {
		t.Fatalf("not in digest order: %+v", all)
	}
	for _, d := range all {
		switch d.Digest {
		case sig.Digest:
			if d.ArtifactType != "application/vnd.sig" || d.Annotations["k"] != "v" || d.MediaType != oci.MediaTypeOCIManifest || d.Size != sig.Size {
				t.Fatalf("sig descriptor %+v", d)
			}
		case idx.Digest:
			if d.ArtifactType != "" || d.MediaType != oci.MediaTypeOCIIndex {
				t.Fatalf("index descriptor %+v", d)
			}
		}
	}
	only, _ := f.s.Registry.Referrers(f.ctx, f.repoA, subject, "application/vnd.sbom", "", 100)
	if len(only) != 1 || only[0].Digest != sbom.Digest {
		t.Fatalf("filtered: %+v", only)
	}
	page, _ := f.s.Registry.Referrers(f.ctx, f.repoA, subject, "", "", 2)
	rest, _ := f.s.Registry.Referrers(f.ctx, f.repoA, subject, "", page[1].Digest, 2)
	if len(page) != 2 || len(rest) != 1 {
		t.Fatalf("paging %d + %d", len(page), len(rest))
	}
	if none, err := f.s.Registry.Referrers(f.ctx, oci.Repository{ProjectID: f.p.ID, Name: "g/p/none"}, subject, "", "", 10); err != nil || len(none) != 0 {
		t.Fatalf("unknown repository: %+v %v", none, err)
	}
}

func testCatalog(t *testing.T, f *regFixture) {
	for _, r := range []oci.Repository{f.repoB, f.repoA, {ProjectID: f.other.ID, Name: "g/other"}} {
		mustDo(t, f.s.Registry.LinkBlob(f.ctx, r, oci.BlobLink{Digest: digest("x"), Size: 1, CreatedAt: f.t0}))
	}
	got, err := f.s.Registry.Repositories(f.ctx, "", 10)
	if err != nil || !slices.Equal(got, []string{"g/other", "g/p/a", "g/p/b"}) {
		t.Fatalf("Repositories = %v %v", got, err)
	}
	if got, _ := f.s.Registry.Repositories(f.ctx, "g/other", 1); !slices.Equal(got, []string{"g/p/a"}) {
		t.Fatalf("page: %v", got)
	}
}

// testRepositoriesByProject: a repository is found by its project and name together, so a
// project never sees (nor writes into) another project's repository that has the same name.
func testRepositoriesByProject(t *testing.T, f *regFixture) {
	theirs := oci.Repository{ProjectID: f.other.ID, Name: f.repoA.Name}
	d, d2 := digest("layer"), digest("other-layer")
	mustDo(t, f.s.Registry.LinkBlob(f.ctx, f.repoA, oci.BlobLink{Digest: d, Size: 1, CreatedAt: f.t0}))
	img := manifestRec(f, "img", []string{d}, nil)
	mustDo(t, f.s.Registry.PutManifest(f.ctx, f.repoA, img, []string{"v1"}))

	wantKind(t, errOf(f.s.Registry.BlobLink(f.ctx, theirs, d)), oci.ErrNotFound)
	wantKind(t, errOf(f.s.Registry.Manifest(f.ctx, theirs, "v1")), oci.ErrNotFound)
	wantKind(t, errOf(f.s.Registry.Manifest(f.ctx, theirs, img.Digest)), oci.ErrNotFound)
	wantKind(t, errOf(f.s.Registry.Tags(f.ctx, theirs, "", 10)), oci.ErrNotFound)
	wantKind(t, f.s.Registry.DeleteTag(f.ctx, theirs, "v1"), oci.ErrNotFound)
	wantKind(t, f.s.Registry.DeleteManifest(f.ctx, theirs, img.Digest), oci.ErrNotFound)
	wantKind(t, f.s.Registry.UnlinkBlob(f.ctx, theirs, d), oci.ErrNotFound)
	if err := f.s.Registry.PutManifest(f.ctx, theirs, img, []string{"v1"}); !errors.Is(err, oci.ErrMissingReference) {
		t.Fatalf("a manifest over the other project's blob: %v, want ErrMissingReference", err)
	}
	// Writing under the same name in another project makes a repository of its own.
	mustDo(t, f.s.Registry.LinkBlob(f.ctx, theirs, oci.BlobLink{Digest: d2, Size: 1, CreatedAt: f.t0}))
	wantKind(t, errOf(f.s.Registry.BlobLink(f.ctx, f.repoA, d2)), oci.ErrNotFound)
	if _, err := f.s.Registry.BlobLink(f.ctx, theirs, d2); err != nil {
		t.Fatal(err)
	}
	if m, err := f.s.Registry.Manifest(f.ctx, f.repoA, "v1"); err != nil || m.Digest != img.Digest {
		t.Fatalf("the owner's tag after the other project's writes: %+v, %v", m, err)
	}
	if got, _ := f.s.Registry.Repositories(f.ctx, "", 10); !slices.Equal(got, []string{string(f.repoA.Name)}) {
		t.Fatalf("catalog = %v, want the name once", got)
	}
}
