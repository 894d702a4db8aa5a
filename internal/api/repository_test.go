package api_test

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// repoContent is what pushRepo commits on main.
var repoContent = map[string]string{
	"README.md":              "hello gatehouse\n",
	"dir/sub/file.txt":       "deep\n",
	"dir/top.txt":            "top\n",
	"bin.dat":                "\x00\x01\x02binary\xff",
	"run.sh":                 "#!/bin/sh\necho hi\n",
	"with space & plus+.txt": "odd name\n",
}

// pushedRepo is what pushRepo made, by commit.
type pushedRepo struct {
	first, main, feature string // commit ids: main's first commit, main's tip, feature/x's tip
}

// pushRepo pushes, with real git as root, main (two commits), merged-one (main's first commit,
// so merged), feature/x (one commit past main), a lightweight tag v1 and v10 and an annotated
// v2.0.
func pushRepo(t *testing.T, ts *testenv.TestServer, fullPath string) pushedRepo {
	t.Helper()
	work := t.TempDir()
	testenv.Git(t, work, "init", "-q", "-b", "main")
	write := func(name, content string, mode os.FileMode) {
		p := filepath.Join(work, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("README.md", "first\n", 0o644)
	testenv.Git(t, work, "add", ".")
	testenv.Git(t, work, "commit", "-q", "-m", "first commit")
	var r pushedRepo
	r.first = strings.TrimSpace(testenv.Git(t, work, "rev-parse", "HEAD"))
	testenv.Git(t, work, "branch", "merged-one")
	for name, content := range repoContent {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		write(name, content, mode)
	}
	testenv.Git(t, work, "add", ".")
	testenv.Git(t, work, "commit", "-q", "-m", "content\n\nwith a body")
	r.main = strings.TrimSpace(testenv.Git(t, work, "rev-parse", "HEAD"))
	testenv.Git(t, work, "tag", "v1", r.first)
	testenv.Git(t, work, "tag", "v10")
	testenv.Git(t, work, "tag", "-a", "v2.0", "-m", "release two")
	testenv.Git(t, work, "checkout", "-q", "-b", "feature/x")
	write("README.md", "feature\n", 0o644)
	testenv.Git(t, work, "commit", "-q", "-am", "feature work")
	r.feature = strings.TrimSpace(testenv.Git(t, work, "rev-parse", "HEAD"))
	testenv.Git(t, work, "push", "-q", ts.GitURL(fullPath, "root", ts.RootToken), "main", "merged-one", "feature/x", "--tags")
	return r
}

type branchView struct {
	Name    string `json:"name"`
	Merged  bool   `json:"merged"`
	Default bool   `json:"default"`
	CanPush bool   `json:"can_push"`
	WebURL  string `json:"web_url"`
	Commit  struct {
		ID          string   `json:"id"`
		ShortID     string   `json:"short_id"`
		Title       string   `json:"title"`
		Message     string   `json:"message"`
		ParentIDs   []string `json:"parent_ids"`
		AuthorEmail string   `json:"author_email"`
		CreatedAt   string   `json:"created_at"`
	} `json:"commit"`
}

type tagView struct {
	Name      string  `json:"name"`
	Message   string  `json:"message"`
	Target    string  `json:"target"`
	CreatedAt *string `json:"created_at"`
	Commit    struct {
		ID string `json:"id"`
	} `json:"commit"`
}

type treeView struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
	Path string `json:"path"`
	Mode string `json:"mode"`
}

type fileView struct {
	FileName        string `json:"file_name"`
	FilePath        string `json:"file_path"`
	Size            int64  `json:"size"`
	Encoding        string `json:"encoding"`
	ContentSHA256   string `json:"content_sha256"`
	Ref             string `json:"ref"`
	BlobID          string `json:"blob_id"`
	CommitID        string `json:"commit_id"`
	LastCommitID    string `json:"last_commit_id"`
	ExecuteFilemode bool   `json:"execute_filemode"`
	Content         string `json:"content"`
}

func TestRepositoryReads(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	p := f.Projects["child"]
	repo := pushRepo(t, ts, p.FullPath)
	base := fmt.Sprintf("/projects/%d/repository", p.ID)
	get := func(t *testing.T, path string, out any) result {
		t.Helper()
		r := asPAT(t, ts, ts.RootToken, "GET", path, nil)
		if out != nil && r.status == http.StatusOK {
			r.json(t, out)
		}
		return r
	}
	esc := url.PathEscape

	t.Run("ok/branches", func(t *testing.T) {
		var bs []branchView
		mustStatus(t, get(t, base+"/branches", &bs), http.StatusOK, "branches")
		var names []string
		for _, b := range bs {
			names = append(names, b.Name)
		}
		if !slices.Equal(names, []string{"feature/x", "main", "merged-one"}) {
			t.Fatalf("branches = %v", names)
		}
		byName := map[string]branchView{}
		for _, b := range bs {
			byName[b.Name] = b
		}
		m := byName["main"]
		if !m.Default || m.Merged || !m.CanPush || m.Commit.ID != repo.main || m.Commit.ShortID != repo.main[:8] ||
			m.Commit.Title != "content" || m.Commit.Message != "content\n\nwith a body\n" ||
			!slices.Equal(m.Commit.ParentIDs, []string{repo.first}) || m.Commit.AuthorEmail != "t@example.com" ||
			!strings.HasSuffix(m.WebURL, "/"+p.FullPath+"/-/tree/main") {
			t.Errorf("main = %+v", m)
		}
		if !byName["merged-one"].Merged || byName["feature/x"].Merged || byName["feature/x"].Default {
			t.Errorf("merged flags: %+v", byName)
		}
	})
	t.Run("ok/branch search and regex", func(t *testing.T) {
		for q, want := range map[string][]string{
			"search=FEAT": {"feature/x"}, "search=%5Em": {"main", "merged-one"}, "search=one%24": {"merged-one"},
			"regex=%5Em.*n%24": {"main"}, "search=none": nil,
		} {
			var bs []branchView
			mustStatus(t, get(t, base+"/branches?"+q, &bs), http.StatusOK, q)
			var names []string
			for _, b := range bs {
				names = append(names, b.Name)
			}
			if !slices.Equal(names, want) {
				t.Errorf("%s: %v, want %v", q, names, want)
			}
		}
		mustStatus(t, get(t, base+"/branches?regex=%28", nil), http.StatusBadRequest, "bad regex")
		mustStatus(t, get(t, base+"/branches?sort=sideways", nil), http.StatusBadRequest, "bad sort")
		mustStatus(t, get(t, base+"/branches?pagination=keyset&sort=updated_desc", nil), http.StatusBadRequest, "keyset by date")
		mustStatus(t, get(t, base+"/branches?pagination=cursor", nil), http.StatusBadRequest, "unknown pagination")
		mustStatus(t, get(t, base+"/branches?page_token=main", nil), http.StatusBadRequest, "page_token without keyset")
	})
	t.Run("ok/keyset pagination follows Link to the end", func(t *testing.T) {
		// follow walks the Link rel="next" chain from first, returning key(item) of every item.
		follow := func(t *testing.T, first string, key func(map[string]any) string) []string {
			t.Helper()
			var got []string
			next := first
			for range 20 {
				var page []map[string]any
				r := get(t, next, &page)
				mustStatus(t, r, http.StatusOK, next)
				if len(page) > 1 {
					t.Fatalf("per_page=1 gave %d items", len(page))
				}
				for _, it := range page {
					got = append(got, key(it))
				}
				link := r.header.Get("Link")
				if link == "" {
					return got
				}
				u, _, _ := strings.Cut(strings.TrimPrefix(link, "<"), ">")
				if strings.Contains(u, "private_token") || !strings.Contains(link, `rel="next"`) {
					t.Fatalf("Link %q", link)
				}
				next = strings.TrimPrefix(u, ts.URL+"/api/v4")
			}
			t.Fatal("the Link chain does not end")
			return nil
		}
		name := func(m map[string]any) string { return m["name"].(string) }
		if got := follow(t, base+"/branches?pagination=keyset&per_page=1", name); !slices.Equal(got, []string{"feature/x", "main", "merged-one"}) {
			t.Errorf("branches by keyset = %v", got)
		}
		if got := follow(t, base+"/tags?pagination=keyset&per_page=1&order_by=name&sort=asc", name); !slices.Equal(got, []string{"v1", "v10", "v2.0"}) {
			t.Errorf("tags by keyset = %v", got)
		}
		path := func(m map[string]any) string { return m["path"].(string) }
		if got := follow(t, base+"/tree?pagination=keyset&per_page=1&recursive=true", path); len(got) != 8 || got[0] != "dir" || got[1] != "dir/sub" {
			t.Errorf("tree by keyset = %v", got)
		}
		mustStatus(t, get(t, base+"/tree?pagination=keyset&page_token=nope", nil), http.StatusBadRequest, "unknown tree token")
		var all []treeView
		r := get(t, base+"/tree?pagination=none&recursive=true&per_page=1", &all)
		if r.status != http.StatusOK || len(all) != 8 || r.header.Get("Link") != "" {
			t.Errorf("pagination=none: %d, %d entries, Link %q", r.status, len(all), r.header.Get("Link"))
		}
		mustStatus(t, get(t, base+"/tree?pagination=none", nil), http.StatusBadRequest, "none without recursive")
		mustStatus(t, get(t, base+"/tree?pagination=legacy&per_page=2", &all), http.StatusOK, "legacy")
		mustStatus(t, get(t, base+"/tags?pagination=keyset", nil), http.StatusBadRequest, "tags keyset by date")
	})
	t.Run("ok/one branch, its name URL-encoded", func(t *testing.T) {
		var b branchView
		mustStatus(t, get(t, base+"/branches/"+esc("feature/x"), &b), http.StatusOK, "feature/x")
		if b.Name != "feature/x" || b.Commit.ID != repo.feature || b.Merged || b.Default {
			t.Fatalf("branch = %+v", b)
		}
		mustStatus(t, get(t, base+"/branches/merged-one", &b), http.StatusOK, "merged-one")
		if !b.Merged || b.Default || b.Commit.ID != repo.first {
			t.Fatalf("merged-one = %+v", b)
		}
	})
	t.Run("fail/missing or malformed branch", func(t *testing.T) {
		for _, name := range []string{"nope", "-x", "--output=x", "a..b", "main~1", "main^", "@{-1}", "HEAD:README.md", ".hidden"} {
			r := get(t, base+"/branches/"+esc(name), nil)
			if r.status != http.StatusNotFound || r.message(t) != "404 Branch Not Found" {
				t.Errorf("%q: %d %s", name, r.status, r.body)
			}
		}
	})
	t.Run("ok/tags", func(t *testing.T) {
		var tags []tagView
		mustStatus(t, get(t, base+"/tags?order_by=name&sort=asc", &tags), http.StatusOK, "tags")
		var names []string
		for _, x := range tags {
			names = append(names, x.Name)
		}
		if !slices.Equal(names, []string{"v1", "v10", "v2.0"}) {
			t.Fatalf("tags by name = %v", names)
		}
		mustStatus(t, get(t, base+"/tags?order_by=version&sort=asc", &tags), http.StatusOK, "tags")
		names = nil
		for _, x := range tags {
			names = append(names, x.Name)
		}
		if !slices.Equal(names, []string{"v1", "v2.0", "v10"}) {
			t.Fatalf("tags by version = %v", names)
		}
		var a tagView
		mustStatus(t, get(t, base+"/tags/v2.0", &a), http.StatusOK, "v2.0")
		if a.Message != "release two" || a.Commit.ID != repo.main || a.Target == repo.main || a.CreatedAt == nil {
			t.Errorf("annotated tag = %+v", a)
		}
		var l tagView
		mustStatus(t, get(t, base+"/tags/v1", &l), http.StatusOK, "v1")
		if l.Message != "" || l.Commit.ID != repo.first || l.Target != repo.first || l.CreatedAt != nil {
			t.Errorf("lightweight tag = %+v", l)
		}
		if r := get(t, base+"/tags/nope", nil); r.status != http.StatusNotFound || r.message(t) != "404 Tag Not Found" {
			t.Errorf("missing tag: %d %s", r.status, r.body)
		}
		mustStatus(t, get(t, base+"/tags?order_by=size", nil), http.StatusBadRequest, "bad order_by")
	})
	t.Run("ok/tree", func(t *testing.T) {
		var tree []treeView
		mustStatus(t, get(t, base+"/tree", &tree), http.StatusOK, "tree")
		var got []string
		for _, e := range tree {
			got = append(got, e.Type+" "+e.Path+" "+e.Mode)
		}
		want := []string{"tree dir 040000", "blob README.md 100644", "blob bin.dat 100644", "blob run.sh 100755",
			"blob with space & plus+.txt 100644"}
		if !slices.Equal(got, want) {
			t.Fatalf("root tree = %q\nwant %q", got, want)
		}
		mustStatus(t, get(t, base+"/tree?path=dir&recursive=true", &tree), http.StatusOK, "tree")
		got = nil
		for _, e := range tree {
			got = append(got, e.Type+" "+e.Path+" "+e.Name)
		}
		want = []string{"tree dir/sub sub", "blob dir/sub/file.txt file.txt", "blob dir/top.txt top.txt"}
		if !slices.Equal(got, want) {
			t.Fatalf("recursive dir = %q\nwant %q", got, want)
		}
		mustStatus(t, get(t, base+"/tree?ref=merged-one", &tree), http.StatusOK, "tree at merged-one")
		if len(tree) != 1 || tree[0].Name != "README.md" {
			t.Fatalf("tree at merged-one = %+v", tree)
		}
		r := get(t, base+"/tree?per_page=2&page=2", &tree)
		mustStatus(t, r, http.StatusOK, "page 2")
		if len(tree) != 2 || tree[0].Name != "bin.dat" || r.header.Get("X-Total") != "5" {
			t.Fatalf("page 2 = %+v, X-Total %s", tree, r.header.Get("X-Total"))
		}
		for _, q := range []string{"path=nope", "path=..%2F..", "path=dir%2F..%2F..", "ref=nope", "ref=--output%3D%2Ftmp%2Fx", "path=README.md"} {
			if r := get(t, base+"/tree?"+q, nil); r.status != http.StatusNotFound || r.message(t) != "404 Tree Not Found" {
				t.Errorf("%s: %d %s", q, r.status, r.body)
			}
		}
	})
	t.Run("ok/files", func(t *testing.T) {
		for name, content := range repoContent {
			var fv fileView
			r := get(t, base+"/files/"+esc(name)+"?ref=main", &fv)
			mustStatus(t, r, http.StatusOK, name)
			raw, err := base64.StdEncoding.DecodeString(fv.Content)
			if err != nil || string(raw) != content {
				t.Errorf("%s: content %q (%v)", name, raw, err)
			}
			sum := sha256.Sum256([]byte(content))
			if fv.FilePath != name || fv.FileName != filepath.Base(name) || fv.Size != int64(len(content)) || fv.Encoding != "base64" ||
				fv.ContentSHA256 != hex.EncodeToString(sum[:]) || fv.Ref != "main" || fv.CommitID != repo.main ||
				fv.LastCommitID != repo.main || len(fv.BlobID) != 40 || fv.ExecuteFilemode != strings.HasSuffix(name, ".sh") {
				t.Errorf("%s: %+v", name, fv)
			}
			if r.header.Get("X-Gitlab-Blob-Id") != fv.BlobID || r.header.Get("X-Gitlab-File-Path") != name {
				t.Errorf("%s: headers %v", name, r.header)
			}
		}
		var fv fileView
		mustStatus(t, get(t, base+"/files/README.md?ref=v1", &fv), http.StatusOK, "at a tag")
		if fv.CommitID != repo.first || fv.LastCommitID != repo.first {
			t.Errorf("README at v1 = %+v", fv)
		}
		mustStatus(t, get(t, base+"/files/README.md?ref="+repo.feature[:12], &fv), http.StatusOK, "at a short sha")
		if fv.CommitID != repo.feature {
			t.Errorf("README at a short sha = %+v", fv)
		}
	})
	t.Run("fail/files", func(t *testing.T) {
		r := get(t, base+"/files/README.md", nil)
		if r.status != http.StatusBadRequest || strings.TrimSpace(string(r.body)) != `{"error":"ref is missing"}` {
			t.Errorf("no ref: %d %s", r.status, r.body)
		}
		for path, want := range map[string]string{
			"/files/nope?ref=main":                            "404 File Not Found",
			"/files/dir?ref=main":                             "404 File Not Found",
			"/files/" + esc("../../etc/passwd") + "?ref=main": "404 File Not Found",
			"/files/" + esc("dir/../README.md") + "?ref=main": "404 File Not Found",
			"/files/README.md?ref=nope":                       "404 Commit Not Found",
			"/files/README.md?ref=" + esc("--upload-pack=x"):  "404 Commit Not Found",
			"/files/README.md?ref=" + esc("main:README.md"):   "404 Commit Not Found",
			"/files/" + esc("/etc/passwd") + "/raw?ref=main":  "404 File Not Found",
			"/files/" + esc("dir/sub/../../x") + "/raw":       "404 File Not Found",
		} {
			if r := get(t, base+path, nil); r.status != http.StatusNotFound || r.message(t) != want {
				t.Errorf("%s: %d %s, want %s", path, r.status, r.body, want)
			}
		}
		mustStatus(t, get(t, base+"/files/README.md/raw?lfs=true", nil), http.StatusBadRequest, "lfs")
		for _, path := range []string{"/files/README.md?ref=", "/files/README.md/raw?ref="} {
			if r := get(t, base+path, nil); r.status != http.StatusBadRequest || strings.TrimSpace(string(r.body)) != `{"error":"ref is empty"}` {
				t.Errorf("%s: %d %s", path, r.status, r.body)
			}
		}
	})
	t.Run("ok/HEAD on a file", func(t *testing.T) {
		r := do(t, ts, call{method: "HEAD", path: base + "/files/" + esc("dir/sub/file.txt") + "?ref=feature%2Fx",
			headers: map[string]string{"PRIVATE-TOKEN": ts.RootToken}})
		mustStatus(t, r, http.StatusOK, "HEAD")
		if len(r.body) != 0 || r.header.Get("X-Gitlab-Commit-Id") != repo.feature || r.header.Get("X-Gitlab-Ref") != "feature/x" ||
			r.header.Get("X-Gitlab-Size") != "5" || r.header.Get("X-Gitlab-Last-Commit-Id") != repo.main ||
			r.header.Get("X-Gitlab-File-Name") != "file.txt" || r.header.Get("X-Gitlab-Execute-Filemode") != "false" {
			t.Fatalf("HEAD headers %v body %q", r.header, r.body)
		}
	})
	t.Run("ok/raw", func(t *testing.T) {
		r := get(t, base+"/files/README.md/raw", nil)
		mustStatus(t, r, http.StatusOK, "raw on the default branch")
		if string(r.body) != repoContent["README.md"] || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
			t.Errorf("raw = %q %v", r.body, r.header)
		}
		r = get(t, base+"/files/README.md/raw?ref=feature%2Fx", nil)
		if string(r.body) != "feature\n" {
			t.Errorf("raw at feature/x = %q", r.body)
		}
		r = get(t, base+"/files/bin.dat/raw?ref=main", nil)
		if string(r.body) != repoContent["bin.dat"] || r.header.Get("Content-Type") != "application/octet-stream" ||
			r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("binary raw = %q %v", r.body, r.header)
		}
	})
	t.Run("ok/archives", func(t *testing.T) {
		r := get(t, base+"/archive.zip?sha=main", nil)
		mustStatus(t, r, http.StatusOK, "zip")
		prefix := "child-main-" + repo.main
		if cd := r.header.Get("Content-Disposition"); cd != `attachment; filename="`+prefix+`.zip"` {
			t.Errorf("Content-Disposition = %q", cd)
		}
		zr, err := zip.NewReader(bytes.NewReader(r.body), int64(len(r.body)))
		if err != nil {
			t.Fatal(err)
		}
		files := map[string]bool{}
		for _, zf := range zr.File {
			files[zf.Name] = true
		}
		for name := range repoContent {
			if !files[prefix+"/"+name] {
				t.Errorf("zip lacks %s: %v", name, files)
			}
		}
		r = get(t, base+"/archive", nil)
		if r.status != http.StatusOK || !bytes.HasPrefix(r.body, []byte{0x1f, 0x8b}) ||
			!strings.Contains(r.header.Get("Content-Disposition"), prefix+".tar.gz") {
			t.Errorf("default archive: %d %v", r.status, r.header)
		}
		r = get(t, base+"/archive.tar.bz2?sha=v1", nil)
		if r.status != http.StatusOK || !bytes.HasPrefix(r.body, []byte("BZh")) ||
			!strings.Contains(r.header.Get("Content-Disposition"), "child-v1-"+repo.first+".tar.bz2") {
			t.Errorf("bz2 archive: %d %v", r.status, r.header)
		}
		r = get(t, base+"/archive.tar?sha="+repo.first+"&path=dir", nil)
		if r.status != http.StatusNotFound {
			t.Errorf("archive of a path missing at that commit: %d", r.status)
		}
		r = get(t, base+"/archive.tar?path=dir%2Fsub", nil)
		if r.status != http.StatusOK || !bytes.Contains(r.body, []byte("child-main-"+repo.main+"-dir-sub/dir/sub/file.txt")) {
			t.Errorf("archive of a path: %d %q", r.status, r.header.Get("Content-Disposition"))
		}
		mustStatus(t, get(t, base+"/archive.rar", nil), http.StatusNotFound, "unknown format")
		mustStatus(t, get(t, base+"/archive?sha=--output%3D%2Ftmp%2Fx", nil), http.StatusNotFound, "option as sha")
		mustStatus(t, get(t, base+"/archive?exclude_paths=dir", nil), http.StatusBadRequest, "exclude_paths")
	})
	t.Run("ok/who may read", func(t *testing.T) {
		reporter := newUser(t, ts, "repo-reporter", "read_api")
		addMember(t, ts, fmt.Sprintf("projects/%d", p.ID), reporter, 20)
		guest := newUser(t, ts, "repo-guest", "api")
		addMember(t, ts, fmt.Sprintf("projects/%d", p.ID), guest, 10)
		readRepo := newUser(t, ts, "repo-readrepo", "read_repository")
		addMember(t, ts, fmt.Sprintf("projects/%d", p.ID), readRepo, 30)
		outsider := newUser(t, ts, "repo-outsider", "api")
		tok := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", p.ID), []string{"read_repository"}, nil)
		cases := []struct {
			who, pat, path string
			want           int
		}{
			{"reporter read_api branches", reporter.PAT, "/branches", http.StatusOK},
			{"reporter read_api file", reporter.PAT, "/files/README.md?ref=main", http.StatusOK},
			{"reporter read_api archive", reporter.PAT, "/archive.zip", http.StatusOK},
			{"read_repository file (as GitLab)", readRepo.PAT, "/files/README.md?ref=main", http.StatusOK},
			{"read_repository raw", readRepo.PAT, "/files/README.md/raw", http.StatusOK},
			{"read_repository branches (not the API)", readRepo.PAT, "/branches", http.StatusForbidden},
			{"read_repository tree", readRepo.PAT, "/tree", http.StatusForbidden},
			{"guest", guest.PAT, "/tree", http.StatusForbidden},
			{"outsider", outsider.PAT, "/branches", http.StatusNotFound},
			{"anonymous", "", "/branches", http.StatusUnauthorized},
		}
		for _, c := range cases {
			if r := asPAT(t, ts, c.pat, "GET", base+c.path, nil); r.status != c.want {
				t.Errorf("%s: %d, want %d: %s", c.who, r.status, c.want, r.body)
			}
		}
		r := do(t, ts, call{method: "GET", path: base + "/files/README.md?ref=main", headers: map[string]string{"PRIVATE-TOKEN": tok.Token}})
		mustStatus(t, r, http.StatusUnauthorized, "deploy token")
	})
	t.Run("ok/an empty repository", func(t *testing.T) {
		empty := fmt.Sprintf("/projects/%d/repository", f.Projects["sibling"].ID)
		var bs []branchView
		mustStatus(t, get(t, empty+"/branches", &bs), http.StatusOK, "branches of an empty repository")
		if len(bs) != 0 {
			t.Fatalf("branches = %+v", bs)
		}
		mustStatus(t, get(t, empty+"/tree", nil), http.StatusNotFound, "tree of an empty repository")
		mustStatus(t, get(t, empty+"/files/README.md/raw", nil), http.StatusNotFound, "raw of an empty repository")
	})
	t.Run("ok/a repository missing on disk reads as empty, never a 500", func(t *testing.T) {
		gone := f.Projects["grandchild"]
		if err := ts.Server.Repos.Remove(t.Context(), gone.ID); err != nil {
			t.Fatal(err)
		}
		b := fmt.Sprintf("/projects/%d/repository", gone.ID)
		var bs []branchView
		mustStatus(t, get(t, b+"/branches", &bs), http.StatusOK, "branches")
		for _, path := range []string{"/branches/main", "/tags/v1", "/tree", "/files/README.md?ref=main", "/files/README.md/raw", "/archive.zip"} {
			if r := get(t, b+path, nil); r.status != http.StatusNotFound {
				t.Errorf("%s: %d %s", path, r.status, r.body)
			}
		}
	})
}

// TestRepositoryLargeFile reads a file past the JSON bound: /raw streams it whole, the JSON
// answer refuses it with 413 rather than holding it in memory.
func TestRepositoryLargeFile(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	p := f.Projects["top"]
	work := t.TempDir()
	testenv.Git(t, work, "init", "-q", "-b", "main")
	big := bytes.Repeat([]byte("0123456789abcdef"), (33<<20)/16) // 33 MiB, past the 32 MiB bound
	if err := os.WriteFile(filepath.Join(work, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Git(t, work, "add", ".")
	testenv.Git(t, work, "commit", "-q", "-m", "big")
	testenv.Git(t, work, "push", "-q", ts.GitURL(p.FullPath, "root", ts.RootToken), "main")
	base := fmt.Sprintf("/projects/%d/repository/files/big.bin", p.ID)

	r := asPAT(t, ts, ts.RootToken, "GET", base+"/raw?ref=main", nil)
	mustStatus(t, r, http.StatusOK, "raw")
	if !bytes.Equal(r.body, big) || r.header.Get("Content-Length") != fmt.Sprint(len(big)) ||
		r.header.Get("Content-Type") != "application/octet-stream" || r.header.Get("X-Gitlab-Size") != fmt.Sprint(len(big)) {
		t.Fatalf("raw: %d bytes, headers %v", len(r.body), r.header)
	}
	mustStatus(t, asPAT(t, ts, ts.RootToken, "GET", base+"?ref=main", nil), http.StatusRequestEntityTooLarge, "JSON")
}

// TestRepositoryPublicProject: anyone may read a public project's repository, as on GitLab,
// and a signed-in outsider too; a private one stays hidden.
func TestRepositoryPublicProject(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	var pub testenv.Project
	// A project is no more visible than its group (GitLab's rule).
	ts.MustAPI(t, http.StatusOK, "PUT", fmt.Sprintf("/groups/%d", f.GroupID), map[string]any{"visibility": "public"}, nil)
	ts.MustAPI(t, http.StatusCreated, "POST", "/projects", map[string]any{"name": "open", "path": "open",
		"namespace_id": f.GroupID, "visibility": "public"}, &pub)
	repo := pushRepo(t, ts, pub.FullPath)
	outsider := newUser(t, ts, "pub-outsider", "read_api")
	for _, pat := range []string{"", outsider.PAT} {
		var bs []branchView
		r := asPAT(t, ts, pat, "GET", fmt.Sprintf("/projects/%d/repository/branches", pub.ID), nil)
		mustStatus(t, r, http.StatusOK, "public branches")
		if r.json(t, &bs); len(bs) != 3 {
			t.Errorf("public branches (pat %v) = %d", pat != "", len(bs))
		}
		r = asPAT(t, ts, pat, "GET", fmt.Sprintf("/projects/%d/repository/files/README.md/raw", pub.ID), nil)
		if r.status != http.StatusOK || string(r.body) != repoContent["README.md"] {
			t.Errorf("public raw (pat %v): %d %q", pat != "", r.status, r.body)
		}
		var b branchView
		asPAT(t, ts, pat, "GET", fmt.Sprintf("/projects/%d/repository/branches/main", pub.ID), nil).json(t, &b)
		if b.Commit.ID != repo.main || b.CanPush {
			t.Errorf("public branch (pat %v) = %+v, want main without can_push", pat != "", b)
		}
	}
}
