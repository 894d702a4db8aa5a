package web_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/oci"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// The project pages (docs/design.md §6.9.1): the repository browser, the container registry and
// the package registry, over HTTP against a real server.

// pushBrowserRepo pushes, as root, a main branch with a README whose text is markup, a file
// named <script>.txt holding a script, Go source, a binary file and a file too large to
// highlight; a branch feature/x with one more file; and a tag v1.0.
func pushBrowserRepo(t *testing.T, ts *testenv.TestServer, fullPath string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, content []byte) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Git(t, dir, "init", "-q", "-b", "main")
	write("README.md", []byte("# Hello\n\n<b>bold</b> & welcome\n"))
	write("<script>.txt", []byte("<script>alert('x')</script>\n"))
	write("src/main.go", []byte("package main\n\nfunc main() {\n\tprintln(\"hi\")\n}\n"))
	write("bin.dat", []byte{0, 1, 2, 3, 0, 'x'})
	write("big.txt", bytes.Repeat([]byte("a line of text that is not highlighted\n"), 8000))
	testenv.Git(t, dir, "add", "-A")
	testenv.Git(t, dir, "commit", "-q", "-m", "first <commit>")
	testenv.Git(t, dir, "tag", "v1.0")
	testenv.Git(t, dir, "checkout", "-q", "-b", "feature/x")
	write("feature.txt", []byte("only on feature/x\n"))
	testenv.Git(t, dir, "add", "-A")
	testenv.Git(t, dir, "commit", "-q", "-m", "feature")
	testenv.Git(t, dir, "push", "-q", ts.GitURL(fullPath, "root", ts.RootToken), "main", "feature/x", "v1.0")
}

func TestRepositoryBrowser(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	top := f.Projects["top"]
	pushBrowserRepo(t, ts, top.FullPath)
	const pw = "password-1234"
	guestID := createUser(t, ts, "guest", pw)
	addMember(t, ts, fmt.Sprintf("projects/%d", top.ID), guestID, 10)
	createUser(t, ts, "outsider", pw)
	root, _ := signIn(t, ts, "root", rootPassword(ts))
	base := "/" + top.FullPath

	t.Run("ok/overview", func(t *testing.T) {
		r := root.get(base)
		if r.status != http.StatusOK {
			t.Fatalf("%d", r.status)
		}
		mustContain(t, "overview", r.body, `value="git clone `+ts.URL+"/"+top.FullPath+`.git"`, "credential.helper=",
			`&lt;b&gt;bold&lt;/b&gt; &amp; welcome`, `href="`+base+`/-/tree/main"`, `href="`+base+`/-/blob/main/README.md"`,
			`href="`+base+`/-/archive/main/top-main.zip"`, `Container registry <span class="muted">`, `Packages <span class="muted">`)
		if strings.Contains(r.body, "<b>bold</b>") || strings.Contains(r.body, "@"+strings.TrimPrefix(ts.URL, "http://")) {
			t.Fatal("the README is not escaped, or credentials are put in a clone URL")
		}
	})

	t.Run("ok/tree", func(t *testing.T) {
		r := root.get(base + "/-/tree/main")
		if r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.body)
		}
		mustContain(t, "tree", r.body, `href="`+base+`/-/tree/main/src">src/</a>`, `href="`+base+`/-/blob/main/%3Cscript%3E.txt">&lt;script&gt;.txt</a>`,
			`href="`+base+`/-/tree/feature/x"`, `href="`+base+`/-/tree/v1.0"`, "first &lt;commit&gt;")
		if strings.Index(r.body, ">src/<") > strings.Index(r.body, ">README.md<") {
			t.Error("directories are not listed first")
		}
		sub := root.get(base + "/-/tree/main/src")
		mustContain(t, "subdirectory", sub.body, `href="`+base+`/-/blob/main/src/main.go"`, `href="`+base+`/-/tree/main"`)
	})

	t.Run("ok/ref with slashes", func(t *testing.T) {
		r := root.get(base + "/-/tree/feature/x")
		mustContain(t, "feature tree", r.body, `href="`+base+`/-/blob/feature/x/feature.txt"`, "<strong>feature/x</strong>")
		b := root.get(base + "/-/blob/feature/x/feature.txt")
		mustContain(t, "feature file", b.body, "only on feature/x")
		if m := root.get(base + "/-/blob/main/feature.txt"); m.status != http.StatusNotFound {
			t.Errorf("feature.txt on main: %d", m.status)
		}
		if tag := root.get(base + "/-/tree/v1.0/src"); tag.status != http.StatusOK {
			t.Errorf("tag tree: %d", tag.status)
		}
	})

	t.Run("ok/file escaped and highlighted", func(t *testing.T) {
		r := root.get(base + "/-/blob/main/%3Cscript%3E.txt")
		if r.status != http.StatusOK {
			t.Fatalf("%d", r.status)
		}
		mustContain(t, "script file", r.body, "&lt;script&gt;alert(", `href="`+base+`/-/raw/main/%3Cscript%3E.txt"`)
		if strings.Contains(r.body, "<script>alert") {
			t.Fatal("file content is not escaped")
		}
		g := root.get(base + "/-/blob/main/src/main.go")
		mustContain(t, "go file", g.body, `class="chroma"`, `<span class="kd">func</span>`, `/assets/chroma.css`)
		mustContain(t, "binary file", root.get(base+"/-/blob/main/bin.dat").body, "This is a binary file")
		big := root.get(base + "/-/blob/main/big.txt")
		mustContain(t, "large file", big.body, "too large to highlight", "a line of text")
		if strings.Contains(big.body, `class="chroma"`) {
			t.Error("a large file was highlighted")
		}
		css := root.get("/assets/chroma.css")
		if css.status != http.StatusOK || !strings.Contains(css.body, ".chroma .kd") {
			t.Errorf("chroma.css: %d", css.status)
		}
	})

	t.Run("ok/raw and archive", func(t *testing.T) {
		r := root.get(base + "/-/raw/main/%3Cscript%3E.txt")
		if r.status != http.StatusOK || r.body != "<script>alert('x')</script>\n" || r.header.Get("Content-Type") != "text/plain; charset=utf-8" ||
			r.header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(r.header.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Fatalf("raw: %d %q %v", r.status, r.body, r.header)
		}
		if b := root.get(base + "/-/raw/main/bin.dat"); b.header.Get("Content-Type") != "application/octet-stream" || len(b.body) != 6 {
			t.Errorf("binary raw: %v %q", b.header, b.body)
		}
		z := root.get(base + "/-/archive/feature/x/top-feature-x.zip")
		if z.status != http.StatusOK || !strings.HasPrefix(z.body, "PK") || !strings.Contains(z.header.Get("Content-Disposition"), `filename="top-feature-x.zip"`) {
			t.Fatalf("archive: %d %v", z.status, z.header)
		}
		if tgz := root.get(base + "/-/archive/v1.0/top-v1.0.tar.gz"); tgz.status != http.StatusOK || !strings.HasPrefix(tgz.body, "\x1f\x8b") {
			t.Errorf("tar.gz: %d", tgz.status)
		}
	})

	t.Run("fail/not found", func(t *testing.T) {
		for _, p := range []string{"/-/tree/nope", "/-/tree/main/nope", "/-/blob/main/src", "/-/blob/main/nope.txt", "/-/raw/nope/README.md",
			"/-/archive/main/top-main.rar", "/-/archive/nope/top-nope.zip", "/-/tree/-x", "/-/blob/main%5Efoo/README.md"} {
			if r := root.get(base + p); r.status != http.StatusNotFound {
				t.Errorf("%s: %d", p, r.status)
			}
		}
		empty := root.get("/" + f.Projects["child"].FullPath + "/-/tree/main")
		if empty.status != http.StatusNotFound {
			t.Errorf("empty repository's tree: %d", empty.status)
		}
		mustContain(t, "empty overview", root.get("/"+f.Projects["child"].FullPath).body, "The repository for this project is empty")
	})

	t.Run("fail/outsider and guest get 404", func(t *testing.T) {
		outsider, _ := signIn(t, ts, "outsider", pw)
		guest, _ := signIn(t, ts, "guest", pw)
		for _, p := range []string{"/-/tree/main", "/-/blob/main/README.md", "/-/raw/main/README.md", "/-/archive/main/top-main.zip"} {
			if r := outsider.get(base + p); r.status != http.StatusNotFound {
				t.Errorf("outsider %s: %d", p, r.status)
			}
			// A guest of a private project may not read its code (GitLab's read_code).
			if r := guest.get(base + p); r.status != http.StatusNotFound {
				t.Errorf("guest %s: %d", p, r.status)
			}
		}
		g := guest.get(base)
		if g.status != http.StatusOK || strings.Contains(g.body, "Browse files") || strings.Contains(g.body, "bold") {
			t.Errorf("guest overview shows the repository: %d", g.status)
		}
	})
}

func TestRegistryAndPackagePages(t *testing.T) {
	ts := testenv.StartServer(t, testenv.Localhost)
	f := ts.MakeFixture(t)
	top, sibling := f.Projects["top"], f.Projects["sibling"]
	ctx := context.Background()
	reg := ts.Server.Store.Registry
	now := time.Now()
	cfg, layer := "sha256:"+strings.Repeat("c", 64), "sha256:"+strings.Repeat("1", 64)
	repo := oci.Repository{ProjectID: top.ID, Name: oci.Name(top.FullPath + "/app")}
	for _, l := range []oci.BlobLink{{Digest: cfg, Size: 1000, CreatedAt: now}, {Digest: layer, Size: 2 << 20, CreatedAt: now}} {
		if err := reg.LinkBlob(ctx, repo, l); err != nil {
			t.Fatal(err)
		}
	}
	manifest := "sha256:" + strings.Repeat("a", 64)
	if err := reg.PutManifest(ctx, repo, oci.ManifestRecord{Digest: manifest, MediaType: oci.MediaTypeOCIManifest, Size: 500,
		Blobs: []string{cfg, layer}, CreatedAt: now}, []string{"v1", "latest"}); err != nil {
		t.Fatal(err)
	}
	rec, err := ts.Server.Packages.AddFile(ctx, packages.Upload{ProjectID: top.ID, Format: packages.Generic, Name: "my-tool",
		Version: "1.2.3", Filename: "tool.tar.gz", Size: -1, Body: strings.NewReader("tool bytes")})
	if err != nil {
		t.Fatal(err)
	}
	other, err := ts.Server.Packages.AddFile(ctx, packages.Upload{ProjectID: sibling.ID, Format: packages.Generic, Name: "theirs",
		Version: "1", Filename: "x.bin", Size: -1, Body: strings.NewReader("x")})
	if err != nil {
		t.Fatal(err)
	}
	// A hidden version (as Maven's maven-metadata.xml holder is) is bookkeeping, not a package.
	hidden, err := ts.Server.Packages.AddFile(ctx, packages.Upload{ProjectID: top.ID, Format: packages.Generic, Name: "bookkeeping",
		Version: "0.0.1", Filename: "state.json", Size: -1, Body: strings.NewReader("{}"), Status: packages.StatusHidden})
	if err != nil {
		t.Fatal(err)
	}
	const pw = "password-1234"
	reporterID := createUser(t, ts, "reporter", pw)
	addMember(t, ts, fmt.Sprintf("projects/%d", top.ID), reporterID, 20)
	createUser(t, ts, "outsider", pw)
	root, rootCSRF := signIn(t, ts, "root", rootPassword(ts))
	reporter, reporterCSRF := signIn(t, ts, "reporter", pw)
	outsider, _ := signIn(t, ts, "outsider", pw)
	base := "/" + top.FullPath
	host := strings.TrimPrefix(ts.URL, "http://")

	t.Run("ok/registry page", func(t *testing.T) {
		r := reporter.get(base + "/-/container_registry")
		if r.status != http.StatusOK {
			t.Fatalf("%d", r.status)
		}
		mustContain(t, "registry", r.body, "<h2 id=\"repository-1\">group/top/app</h2>", manifest, "2.0 MiB",
			`value="docker pull `+host+`/group/top/app:v1"`, `value="docker pull `+host+`/group/top/app:latest"`)
		if strings.Contains(r.body, "Delete tag") {
			t.Error("a reporter is offered the delete button")
		}
		mustContain(t, "root's registry", root.get(base+"/-/container_registry").body, "Delete tag")
		mustContain(t, "overview storage", root.get(base).body, `Container registry <span class="muted">2.0 MiB</span>`,
			`Packages <span class="muted">12 B</span>`, `class="chart-registry"`) // the hidden version's file is stored too
	})

	t.Run("fail/delete refused", func(t *testing.T) {
		form := url.Values{"authenticity_token": {reporterCSRF}, "repository": {"group/top/app"}, "tag": {"v1"}}
		if r := reporter.post(base+"/-/container_registry", form); r.status != http.StatusForbidden {
			t.Errorf("reporter deletes: %d", r.status)
		}
		if r := root.post(base+"/-/container_registry", url.Values{"repository": {"group/top/app"}, "tag": {"v1"}}); r.status != http.StatusForbidden {
			t.Errorf("without CSRF: %d", r.status)
		}
		if r := root.post(base+"/-/container_registry", url.Values{"authenticity_token": {rootCSRF}, "repository": {"group/top/app"},
			"tag": {"nope"}}); r.status != http.StatusNotFound {
			t.Errorf("unknown tag: %d", r.status)
		}
		if tags, _ := reg.Tags(ctx, repo, "", 10); len(tags) != 2 {
			t.Fatalf("tags after refusals: %v", tags)
		}
	})

	t.Run("ok/maintainer deletes a tag", func(t *testing.T) {
		r := root.post(base+"/-/container_registry", url.Values{"authenticity_token": {rootCSRF}, "repository": {"group/top/app"}, "tag": {"v1"}})
		if r.status != http.StatusOK {
			t.Fatalf("%d", r.status)
		}
		mustContain(t, "after delete", r.body, "Tag v1 of group/top/app was deleted.")
		if tags, _ := reg.Tags(ctx, repo, "", 10); len(tags) != 1 || tags[0] != "latest" {
			t.Fatalf("tags after delete: %v", tags)
		}
	})

	t.Run("ok/packages", func(t *testing.T) {
		list := reporter.get(base + "/-/packages")
		detail := fmt.Sprintf("%s/-/packages/%d", base, rec.Version.ID)
		mustContain(t, "packages", list.body, `href="`+detail+`">my-tool</a>`, "1.2.3", "generic")
		if strings.Contains(list.body, "theirs") {
			t.Error("another project's package is listed")
		}
		if strings.Contains(list.body, "bookkeeping") {
			t.Error("a hidden version is listed")
		}
		if r := reporter.get(fmt.Sprintf("%s/-/packages/%d", base, hidden.Version.ID)); r.status != http.StatusNotFound {
			t.Errorf("a hidden version's page: %d", r.status)
		}
		d := reporter.get(detail)
		mustContain(t, "package", d.body, "tool.tar.gz", "10 B", rec.File.SHA256, "Installation",
			`curl --header &#34;Deploy-Token: &lt;deploy-token&gt;&#34; --output tool.tar.gz &#34;`+ts.URL+
				fmt.Sprintf("/api/v4/projects/%d/packages/generic/my-tool/1.2.3/tool.tar.gz", top.ID))
		if r := reporter.get(fmt.Sprintf("%s/-/packages/%d", base, other.Version.ID)); r.status != http.StatusNotFound {
			t.Errorf("another project's package through this one: %d", r.status)
		}
		empty := root.get("/" + f.Projects["child"].FullPath + "/-/packages")
		mustContain(t, "no packages", empty.body, "There are no packages yet")
		mustContain(t, "no images", root.get("/"+f.Projects["child"].FullPath+"/-/container_registry").body,
			"There are no container images stored for this project")
	})

	t.Run("fail/outsider gets 404", func(t *testing.T) {
		for _, p := range []string{"/-/container_registry", "/-/packages", fmt.Sprintf("/-/packages/%d", rec.Version.ID)} {
			if r := outsider.get(base + p); r.status != http.StatusNotFound {
				t.Errorf("%s: %d", p, r.status)
			}
		}
	})
}
