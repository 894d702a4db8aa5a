package api_test

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// packageView is the API's package shape.
type packageView struct {
	ID          int64   `json:"id"`
	Name        string  `json:"name"`
	Version     *string `json:"version"`
	PackageType string  `json:"package_type"`
	Status      string  `json:"status"`
	CreatedAt   string  `json:"created_at"`
	Links       struct {
		WebPath       string `json:"web_path"`
		DeleteAPIPath string `json:"delete_api_path"`
	} `json:"_links"`
	ProjectID   int64  `json:"project_id"`
	ProjectPath string `json:"project_path"`
	Versions    []struct {
		ID      int64  `json:"id"`
		Version string `json:"version"`
	} `json:"versions"`
}

type packageFileView struct {
	ID         int64  `json:"id"`
	PackageID  int64  `json:"package_id"`
	FileName   string `json:"file_name"`
	Size       int64  `json:"size"`
	FileMD5    string `json:"file_md5"`
	FileSHA1   string `json:"file_sha1"`
	FileSHA256 string `json:"file_sha256"`
	CreatedAt  string `json:"created_at"`
}

// uploadGeneric publishes body through the generic format's HTTP endpoint as root; query is
// appended as is ("" or "?status=hidden").
func uploadGeneric(tb testing.TB, ts *testenv.TestServer, projectID int64, name, version, file, body, query string) {
	tb.Helper()
	r := do(tb, ts, call{method: "PUT", path: fmt.Sprintf("/projects/%d/packages/generic/%s/%s/%s%s", projectID, name, version, file, query),
		headers: map[string]string{"PRIVATE-TOKEN": ts.RootToken}, body: body})
	mustStatus(tb, r, http.StatusCreated, "generic upload "+name+"/"+version+"/"+file)
}

// listPackages GETs a package list as pat and returns the packages.
func listPackages(tb testing.TB, ts *testenv.TestServer, pat, path string) []packageView {
	tb.Helper()
	r := asPAT(tb, ts, pat, "GET", path, nil)
	mustStatus(tb, r, http.StatusOK, "GET "+path)
	var list []packageView
	r.json(tb, &list)
	return list
}

// names renders a listing as "name@version" strings.
func names(list []packageView) []string {
	out := []string{}
	for _, p := range list {
		v := "<none>"
		if p.Version != nil {
			v = *p.Version
		}
		out = append(out, p.Name+"@"+v)
	}
	return out
}

// findPackage returns the id of name@version in list, failing the test when absent.
func findPackage(tb testing.TB, list []packageView, name, version string) packageView {
	tb.Helper()
	for _, p := range list {
		if p.Name == name && p.Version != nil && *p.Version == version {
			return p
		}
	}
	tb.Fatalf("%s@%s not in %v", name, version, names(list))
	return packageView{}
}

func hexSum(sum []byte) string { return hex.EncodeToString(sum) }

// packagesFixture is a server with generic packages in group/sub/child (tool 1.0.0 with two
// files, tool 2.0.0, Other-Lib 0.1.0, hidden 3.0.0 of tool), group/sub/subsub/grandchild,
// group/top and other/sibling, uploaded a minute apart.
type packagesFixture struct {
	ts *testenv.TestServer
	f  testenv.Fixture
	// all are child's listed packages by "name@version".
	all map[string]packageView
}

func newPackagesFixture(t *testing.T) *packagesFixture {
	t.Helper()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	child := f.Projects["child"].ID
	for _, u := range []struct {
		project                   int64
		name, version, file, body string
		query                     string
	}{
		{child, "tool", "1.0.0", "tool.tar.gz", "tool one", ""},
		{child, "tool", "1.0.0", "README.txt", "readme one", ""},
		{child, "tool", "2.0.0", "tool.tar.gz", "tool two", ""},
		{child, "Other-Lib", "0.1.0", "lib.bin", "lib", ""},
		{child, "tool", "3.0.0", "tool.tar.gz", "tool three (hidden)", "?status=hidden"},
		{f.Projects["grandchild"].ID, "deep", "1.0.0", "deep.bin", "deep", ""},
		{f.Projects["top"].ID, "top-tool", "1.0.0", "top.bin", "top", ""},
		{f.Projects["sibling"].ID, "tool", "9.9.9", "tool.tar.gz", "sibling's", ""},
	} {
		uploadGeneric(t, ts, u.project, u.name, u.version, u.file, u.body, u.query)
		ts.Clock.Advance(time.Minute)
	}
	pf := &packagesFixture{ts: ts, f: f, all: map[string]packageView{}}
	for _, p := range listPackages(t, ts, ts.RootToken, fmt.Sprintf("/projects/%d/packages?status=hidden", child)) {
		pf.all[p.Name+"@"+*p.Version] = p
	}
	for _, p := range listPackages(t, ts, ts.RootToken, fmt.Sprintf("/projects/%d/packages", child)) {
		pf.all[p.Name+"@"+*p.Version] = p
	}
	if len(pf.all) != 4 {
		t.Fatalf("child's packages = %v", pf.all)
	}
	return pf
}

func TestPackagesList(t *testing.T) {
	t.Parallel()
	pf := newPackagesFixture(t)
	ts, child := pf.ts, pf.f.Projects["child"]
	base := fmt.Sprintf("/projects/%d/packages", child.ID)

	t.Run("ok/default lists visible packages oldest first", func(t *testing.T) {
		r := asPAT(t, ts, ts.RootToken, "GET", base, nil)
		mustStatus(t, r, http.StatusOK, "list")
		var list []packageView
		r.json(t, &list)
		if got := names(list); !slices.Equal(got, []string{"tool@1.0.0", "tool@2.0.0", "Other-Lib@0.1.0"}) {
			t.Fatalf("list = %v", got)
		}
		p := list[0]
		if p.ID == 0 || p.PackageType != "generic" || p.Status != "default" || !strings.HasSuffix(p.CreatedAt, "Z") {
			t.Errorf("package = %+v", p)
		}
		if p.Links.WebPath != fmt.Sprintf("/%s/-/packages/%d", child.FullPath, p.ID) ||
			p.Links.DeleteAPIPath != fmt.Sprintf("%s/api/v4/projects/%d/packages/%d", ts.URL, child.ID, p.ID) {
			t.Errorf("_links = %+v", p.Links)
		}
		var raw []map[string]any
		r.json(t, &raw)
		for _, key := range []string{"pipelines", "pipeline", "project_id", "project_path", "versions"} {
			if _, ok := raw[0][key]; ok {
				t.Errorf("project listing has %q", key)
			}
		}
		if v, ok := raw[0]["last_downloaded_at"]; !ok || v != nil {
			t.Errorf("last_downloaded_at = %v, %v; want null", v, ok)
		}
	})
	cases := []struct {
		name  string
		query string
		want  []string
	}{
		{"ok/package_type generic", "?package_type=generic", []string{"tool@1.0.0", "tool@2.0.0", "Other-Lib@0.1.0"}},
		{"ok/package_type npm selects nothing here", "?package_type=npm", []string{}},
		{"ok/a GitLab type Gatehouse does not serve", "?package_type=conan", []string{}},
		{"ok/package_name is a case-insensitive substring", "?package_name=LIB", []string{"Other-Lib@0.1.0"}},
		{"ok/package_name matches several", "?package_name=t", []string{"tool@1.0.0", "tool@2.0.0", "Other-Lib@0.1.0"}},
		{"ok/package_version", "?package_version=2.0.0", []string{"tool@2.0.0"}},
		{"ok/package_name and package_version", "?package_name=tool&package_version=1.0.0", []string{"tool@1.0.0"}},
		{"ok/status hidden", "?status=hidden", []string{"tool@3.0.0"}},
		{"ok/status default", "?status=default", []string{"tool@1.0.0", "tool@2.0.0", "Other-Lib@0.1.0"}},
		{"ok/a GitLab status Gatehouse does not have", "?status=pending_destruction", []string{}},
		{"ok/include_versionless changes nothing without versionless packages", "?include_versionless=true", []string{"tool@1.0.0", "tool@2.0.0", "Other-Lib@0.1.0"}},
		{"ok/created_at desc", "?sort=desc", []string{"Other-Lib@0.1.0", "tool@2.0.0", "tool@1.0.0"}},
		{"ok/order_by name", "?order_by=name", []string{"Other-Lib@0.1.0", "tool@1.0.0", "tool@2.0.0"}},
		{"ok/order_by name desc", "?order_by=name&sort=desc", []string{"tool@2.0.0", "tool@1.0.0", "Other-Lib@0.1.0"}},
		{"ok/order_by version", "?order_by=version", []string{"Other-Lib@0.1.0", "tool@1.0.0", "tool@2.0.0"}},
		{"ok/order_by type", "?order_by=type", []string{"tool@1.0.0", "tool@2.0.0", "Other-Lib@0.1.0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := names(listPackages(t, ts, ts.RootToken, base+c.query)); !slices.Equal(got, c.want) {
				t.Fatalf("list%s = %v, want %v", c.query, got, c.want)
			}
		})
	}
	for _, q := range []string{"?package_type=docker", "?status=gone", "?order_by=size", "?order_by=project_path", "?sort=up"} {
		t.Run("fail/bad filter "+q, func(t *testing.T) {
			r := asPAT(t, ts, ts.RootToken, "GET", base+q, nil)
			mustStatus(t, r, http.StatusBadRequest, q)
			if !strings.Contains(r.message(t), "does not have a valid value") {
				t.Errorf("message = %q", r.message(t))
			}
		})
	}
	t.Run("ok/pagination", func(t *testing.T) {
		r := asPAT(t, ts, ts.RootToken, "GET", base+"?per_page=2", nil)
		mustStatus(t, r, http.StatusOK, "page 1")
		var page1 []packageView
		r.json(t, &page1)
		if got := names(page1); !slices.Equal(got, []string{"tool@1.0.0", "tool@2.0.0"}) {
			t.Fatalf("page 1 = %v", got)
		}
		h := r.header
		if h.Get("X-Total") != "3" || h.Get("X-Total-Pages") != "2" || h.Get("X-Next-Page") != "2" || h.Get("X-Per-Page") != "2" ||
			!strings.Contains(h.Get("Link"), `rel="next"`) || !strings.Contains(h.Get("Link"), "page=2") {
			t.Fatalf("pagination headers = %v", h)
		}
		r = asPAT(t, ts, ts.RootToken, "GET", base+"?per_page=2&page=2", nil)
		var page2 []packageView
		r.json(t, &page2)
		if got := names(page2); !slices.Equal(got, []string{"Other-Lib@0.1.0"}) || r.header.Get("X-Next-Page") != "" {
			t.Fatalf("page 2 = %v, next %q", got, r.header.Get("X-Next-Page"))
		}
	})
	t.Run("ok/by full path", func(t *testing.T) {
		got := names(listPackages(t, ts, ts.RootToken, "/projects/"+strings.ReplaceAll(child.FullPath, "/", "%2F")+"/packages"))
		if len(got) != 3 {
			t.Fatalf("list by path = %v", got)
		}
	})
}

func TestPackagesGetAndFiles(t *testing.T) {
	t.Parallel()
	pf := newPackagesFixture(t)
	ts, child := pf.ts, pf.f.Projects["child"]
	tool1, tool2 := pf.all["tool@1.0.0"], pf.all["tool@2.0.0"]
	base := fmt.Sprintf("/projects/%d/packages", child.ID)

	t.Run("ok/get one", func(t *testing.T) {
		var p packageView
		r := asPAT(t, ts, ts.RootToken, "GET", fmt.Sprintf("%s/%d", base, tool1.ID), nil)
		mustStatus(t, r, http.StatusOK, "get")
		r.json(t, &p)
		if p.ID != tool1.ID || p.Name != "tool" || *p.Version != "1.0.0" || p.PackageType != "generic" || p.CreatedAt != tool1.CreatedAt {
			t.Fatalf("get = %+v", p)
		}
		// The other listed versions of the name; the hidden 3.0.0 is left out, as in listings.
		if len(p.Versions) != 1 || p.Versions[0].ID != tool2.ID || p.Versions[0].Version != "2.0.0" {
			t.Fatalf("versions = %+v", p.Versions)
		}
	})
	t.Run("ok/get a hidden one by id", func(t *testing.T) {
		var p packageView
		r := asPAT(t, ts, ts.RootToken, "GET", fmt.Sprintf("%s/%d", base, pf.all["tool@3.0.0"].ID), nil)
		mustStatus(t, r, http.StatusOK, "get hidden")
		r.json(t, &p)
		if p.Status != "hidden" {
			t.Fatalf("hidden = %+v", p)
		}
	})
	t.Run("ok/files", func(t *testing.T) {
		r := asPAT(t, ts, ts.RootToken, "GET", fmt.Sprintf("%s/%d/package_files", base, tool1.ID), nil)
		mustStatus(t, r, http.StatusOK, "files")
		var files []packageFileView
		r.json(t, &files)
		if len(files) != 2 || files[0].FileName != "tool.tar.gz" || files[1].FileName != "README.txt" {
			t.Fatalf("files = %+v", files)
		}
		body := []byte("tool one")
		md, s1, s256 := md5.Sum(body), sha1.Sum(body), sha256.Sum256(body)
		f := files[0]
		if f.ID == 0 || f.PackageID != tool1.ID || f.Size != int64(len(body)) || f.FileMD5 != hexSum(md[:]) ||
			f.FileSHA1 != hexSum(s1[:]) || f.FileSHA256 != hexSum(s256[:]) || !strings.HasSuffix(f.CreatedAt, "Z") {
			t.Fatalf("file = %+v", f)
		}
		var raw []map[string]any
		r.json(t, &raw)
		for _, key := range []string{"id", "package_id", "file_name", "size", "file_md5", "file_sha1", "file_sha256", "created_at"} {
			if _, ok := raw[0][key]; !ok {
				t.Errorf("file JSON lacks %q: %s", key, r.body)
			}
		}
		r = asPAT(t, ts, ts.RootToken, "GET", fmt.Sprintf("%s/%d/package_files?order_by=file_name", base, tool1.ID), nil)
		r.json(t, &files)
		if files[0].FileName != "README.txt" {
			t.Fatalf("order_by=file_name = %+v", files)
		}
		r = asPAT(t, ts, ts.RootToken, "GET", fmt.Sprintf("%s/%d/package_files?sort=desc&per_page=1", base, tool1.ID), nil)
		r.json(t, &files)
		if len(files) != 1 || files[0].FileName != "README.txt" || r.header.Get("X-Total") != "2" {
			t.Fatalf("sort=desc per_page=1 = %+v, total %s", files, r.header.Get("X-Total"))
		}
	})
	sibling := pf.f.Projects["sibling"]
	siblingPkg := listPackages(t, ts, ts.RootToken, fmt.Sprintf("/projects/%d/packages", sibling.ID))[0]
	for _, c := range []struct {
		name, path string
		status     int
	}{
		{"fail/another project's package", fmt.Sprintf("%s/%d", base, siblingPkg.ID), http.StatusNotFound},
		{"fail/another project's package files", fmt.Sprintf("%s/%d/package_files", base, siblingPkg.ID), http.StatusNotFound},
		{"fail/no such package", fmt.Sprintf("%s/%d", base, 1<<40), http.StatusNotFound},
		{"fail/package_id not a number", base + "/abc", http.StatusBadRequest},
		{"fail/no such project", "/projects/999999/packages", http.StatusNotFound},
		{"fail/bad files order", fmt.Sprintf("%s/%d/package_files?order_by=size", base, tool1.ID), http.StatusBadRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := asPAT(t, ts, ts.RootToken, "GET", c.path, nil)
			mustStatus(t, r, c.status, c.path)
			if r.message(t) == "" {
				t.Errorf("no message")
			}
		})
	}
}

// blobReferenced reports whether a package file still names the blob of content.
func blobReferenced(t *testing.T, ts *testenv.TestServer, content string) bool {
	t.Helper()
	sum := sha256.Sum256([]byte(content))
	found, err := ts.Server.Store.Packages.References().ReferencedAmong(t.Context(), []string{"sha256:" + hexSum(sum[:])})
	if err != nil {
		t.Fatal(err)
	}
	return len(found) == 1
}

func TestPackagesDelete(t *testing.T) {
	t.Parallel()
	pf := newPackagesFixture(t)
	ts, child := pf.ts, pf.f.Projects["child"]
	base := fmt.Sprintf("/projects/%d/packages", child.ID)
	tool1, tool2, lib := pf.all["tool@1.0.0"], pf.all["tool@2.0.0"], pf.all["Other-Lib@0.1.0"]
	maintainer := newUser(t, ts, "maint")
	addMember(t, ts, fmt.Sprintf("projects/%d", child.ID), maintainer, 40)

	var files []packageFileView
	r := asPAT(t, ts, maintainer.PAT, "GET", fmt.Sprintf("%s/%d/package_files", base, tool1.ID), nil)
	mustStatus(t, r, http.StatusOK, "files")
	r.json(t, &files)

	t.Run("ok/maintainer deletes one file", func(t *testing.T) {
		r := asPAT(t, ts, maintainer.PAT, "DELETE", fmt.Sprintf("%s/%d/package_files/%d", base, tool1.ID, files[0].ID), nil)
		mustStatus(t, r, http.StatusNoContent, "delete file")
		if len(r.body) != 0 {
			t.Errorf("204 with a body %q", r.body)
		}
		var left []packageFileView
		asPAT(t, ts, maintainer.PAT, "GET", fmt.Sprintf("%s/%d/package_files", base, tool1.ID), nil).json(t, &left)
		if len(left) != 1 || left[0].FileName != "README.txt" {
			t.Fatalf("files after delete = %+v", left)
		}
		// The generic endpoint no longer serves it, and its blob is left to garbage collection.
		dl := do(t, ts, call{method: "GET", path: fmt.Sprintf("/projects/%d/packages/generic/tool/1.0.0/tool.tar.gz", child.ID),
			headers: map[string]string{"PRIVATE-TOKEN": ts.RootToken}})
		mustStatus(t, dl, http.StatusNotFound, "download of a deleted file")
		if blobReferenced(t, ts, "tool one") {
			t.Errorf("the deleted file's blob is still referenced")
		}
		if !blobReferenced(t, ts, "readme one") {
			t.Errorf("the kept file's blob lost its reference")
		}
		r = asPAT(t, ts, maintainer.PAT, "DELETE", fmt.Sprintf("%s/%d/package_files/%d", base, tool1.ID, files[0].ID), nil)
		mustStatus(t, r, http.StatusNotFound, "delete file again")
	})
	t.Run("fail/file of another package", func(t *testing.T) {
		r := asPAT(t, ts, maintainer.PAT, "DELETE", fmt.Sprintf("%s/%d/package_files/%d", base, tool2.ID, files[1].ID), nil)
		mustStatus(t, r, http.StatusNotFound, "file through another package")
	})
	t.Run("ok/maintainer deletes a package", func(t *testing.T) {
		r := asPAT(t, ts, maintainer.PAT, "DELETE", fmt.Sprintf("%s/%d", base, tool2.ID), nil)
		mustStatus(t, r, http.StatusNoContent, "delete package")
		mustStatus(t, asPAT(t, ts, maintainer.PAT, "GET", fmt.Sprintf("%s/%d", base, tool2.ID), nil), http.StatusNotFound, "get deleted")
		mustStatus(t, asPAT(t, ts, maintainer.PAT, "DELETE", fmt.Sprintf("%s/%d", base, tool2.ID), nil), http.StatusNotFound, "delete again")
		if got := names(listPackages(t, ts, maintainer.PAT, base)); !slices.Equal(got, []string{"tool@1.0.0", "Other-Lib@0.1.0"}) {
			t.Fatalf("list after delete = %v", got)
		}
		if blobReferenced(t, ts, "tool two") {
			t.Errorf("the deleted package's blob is still referenced")
		}
	})
	t.Run("ok/deleting the last file deletes the package", func(t *testing.T) {
		var libFiles []packageFileView
		asPAT(t, ts, maintainer.PAT, "GET", fmt.Sprintf("%s/%d/package_files", base, lib.ID), nil).json(t, &libFiles)
		r := asPAT(t, ts, maintainer.PAT, "DELETE", fmt.Sprintf("%s/%d/package_files/%d", base, lib.ID, libFiles[0].ID), nil)
		mustStatus(t, r, http.StatusNoContent, "delete the last file")
		mustStatus(t, asPAT(t, ts, maintainer.PAT, "GET", fmt.Sprintf("%s/%d", base, lib.ID), nil), http.StatusNotFound, "get emptied package")
	})
	t.Run("ok/the same name and version can be published again", func(t *testing.T) {
		uploadGeneric(t, ts, child.ID, "tool", "2.0.0", "tool.tar.gz", "tool two again", "")
		findPackage(t, listPackages(t, ts, maintainer.PAT, base), "tool", "2.0.0")
	})
	t.Run("fail/package_file_id not a number", func(t *testing.T) {
		r := asPAT(t, ts, maintainer.PAT, "DELETE", fmt.Sprintf("%s/%d/package_files/x", base, tool1.ID), nil)
		mustStatus(t, r, http.StatusBadRequest, "bad file id")
	})
}

func TestPackagesPermissions(t *testing.T) {
	t.Parallel()
	pf := newPackagesFixture(t)
	ts, child := pf.ts, pf.f.Projects["child"]
	base := fmt.Sprintf("/projects/%d/packages", child.ID)
	tool1 := pf.all["tool@1.0.0"]
	var files []packageFileView
	asPAT(t, ts, ts.RootToken, "GET", fmt.Sprintf("%s/%d/package_files", base, tool1.ID), nil).json(t, &files)

	project := fmt.Sprintf("projects/%d", child.ID)
	reporter := newUser(t, ts, "rep")
	addMember(t, ts, project, reporter, 20)
	developer := newUser(t, ts, "dev")
	addMember(t, ts, project, developer, 30)
	guest := newUser(t, ts, "guest")
	addMember(t, ts, project, guest, 10)
	readAPI := newUser(t, ts, "maint-read-api", "read_api")
	addMember(t, ts, project, readAPI, 40)
	outsider := newUser(t, ts, "outsider")
	tok := ts.CreateDeployToken(t, project, []string{"read_package_registry", "write_package_registry"}, nil)

	get := fmt.Sprintf("%s/%d", base, tool1.ID)
	files0 := fmt.Sprintf("%s/%d/package_files", base, tool1.ID)
	delFile := fmt.Sprintf("%s/%d/package_files/%d", base, tool1.ID, files[0].ID)
	type req struct{ method, path string }
	reads := []req{{"GET", base}, {"GET", get}, {"GET", files0}}
	deletes := []req{{"DELETE", delFile}, {"DELETE", get}}

	for _, c := range []struct {
		name    string
		headers map[string]string
		reqs    []req
		status  int
	}{
		{"ok/reporter reads", map[string]string{"PRIVATE-TOKEN": reporter.PAT}, reads, http.StatusOK},
		{"ok/read_api maintainer reads", map[string]string{"PRIVATE-TOKEN": readAPI.PAT}, reads, http.StatusOK},
		{"fail/reporter cannot delete", map[string]string{"PRIVATE-TOKEN": reporter.PAT}, deletes, http.StatusForbidden},
		{"fail/developer cannot delete", map[string]string{"PRIVATE-TOKEN": developer.PAT}, deletes, http.StatusForbidden},
		{"fail/read_api maintainer cannot delete", map[string]string{"PRIVATE-TOKEN": readAPI.PAT}, deletes, http.StatusForbidden},
		{"fail/guest cannot read", map[string]string{"PRIVATE-TOKEN": guest.PAT}, reads, http.StatusForbidden},
		{"fail/non-member reads nothing", map[string]string{"PRIVATE-TOKEN": outsider.PAT}, reads, http.StatusNotFound},
		{"fail/non-member deletes nothing", map[string]string{"PRIVATE-TOKEN": outsider.PAT}, deletes, http.StatusNotFound},
		{"fail/anonymous", nil, append(slices.Clone(reads), deletes...), http.StatusUnauthorized},
		{"fail/deploy token as PRIVATE-TOKEN", map[string]string{"PRIVATE-TOKEN": tok.Token}, append(slices.Clone(reads), deletes...), http.StatusUnauthorized},
		{"fail/deploy token header", map[string]string{"Deploy-Token": tok.Token}, append(slices.Clone(reads), deletes...), http.StatusUnauthorized},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, rq := range c.reqs {
				r := do(t, ts, call{method: rq.method, path: rq.path, headers: c.headers})
				mustStatus(t, r, c.status, rq.method+" "+rq.path)
				if c.status == http.StatusUnauthorized && r.header.Get("WWW-Authenticate") == "" {
					t.Errorf("401 without a challenge")
				}
			}
		})
	}
	t.Run("ok/reporter sees no delete link, maintainer does", func(t *testing.T) {
		for _, p := range listPackages(t, ts, reporter.PAT, base) {
			if p.Links.DeleteAPIPath != "" || p.Links.WebPath == "" {
				t.Fatalf("reporter's _links = %+v", p.Links)
			}
		}
	})
	t.Run("ok/refusals changed nothing", func(t *testing.T) {
		var left []packageFileView
		asPAT(t, ts, ts.RootToken, "GET", files0, nil).json(t, &left)
		if len(left) != 2 || len(listPackages(t, ts, ts.RootToken, base)) != 3 {
			t.Fatalf("after refused deletes: files %+v", left)
		}
		if strings.Contains(ts.Logs(), tok.Token) {
			t.Fatalf("the server logged the deploy token")
		}
	})
}

func TestPackagesGroupList(t *testing.T) {
	t.Parallel()
	pf := newPackagesFixture(t)
	ts, f := pf.ts, pf.f
	subReporter := newUser(t, ts, "subrep")
	addMember(t, ts, fmt.Sprintf("groups/%d", f.SubID), subReporter, 20)
	groupGuest := newUser(t, ts, "gguest")
	addMember(t, ts, fmt.Sprintf("groups/%d", f.GroupID), groupGuest, 10)
	childOnly := newUser(t, ts, "childonly")
	addMember(t, ts, fmt.Sprintf("projects/%d", f.Projects["child"].ID), childOnly, 20)

	t.Run("ok/root sees every descendant project, no sibling", func(t *testing.T) {
		got := names(listPackages(t, ts, ts.RootToken, fmt.Sprintf("/groups/%d/packages", f.GroupID)))
		want := []string{"tool@1.0.0", "tool@2.0.0", "Other-Lib@0.1.0", "deep@1.0.0", "top-tool@1.0.0"}
		if !slices.Equal(got, want) {
			t.Fatalf("group list = %v, want %v", got, want)
		}
	})
	t.Run("ok/project_id and project_path", func(t *testing.T) {
		list := listPackages(t, ts, ts.RootToken, fmt.Sprintf("/groups/%d/packages?order_by=project_path&package_version=1.0.0", f.GroupID))
		if got := names(list); !slices.Equal(got, []string{"tool@1.0.0", "deep@1.0.0", "top-tool@1.0.0"}) {
			t.Fatalf("by project_path = %v", got)
		}
		deep := findPackage(t, list, "deep", "1.0.0")
		gc := f.Projects["grandchild"]
		if deep.ProjectID != gc.ID || deep.ProjectPath != gc.FullPath {
			t.Fatalf("deep = %+v", deep)
		}
	})
	t.Run("ok/exclude_subgroups", func(t *testing.T) {
		got := names(listPackages(t, ts, ts.RootToken, fmt.Sprintf("/groups/%d/packages?exclude_subgroups=true", f.GroupID)))
		if !slices.Equal(got, []string{"top-tool@1.0.0"}) {
			t.Fatalf("exclude_subgroups = %v", got)
		}
	})
	t.Run("ok/filters and pagination", func(t *testing.T) {
		r := asPAT(t, ts, ts.RootToken, "GET", fmt.Sprintf("/groups/%d/packages?package_name=tool&sort=desc&per_page=2", f.GroupID), nil)
		mustStatus(t, r, http.StatusOK, "group page")
		var list []packageView
		r.json(t, &list)
		if got := names(list); !slices.Equal(got, []string{"top-tool@1.0.0", "tool@2.0.0"}) || r.header.Get("X-Total") != "3" {
			t.Fatalf("page = %v, total %s", got, r.header.Get("X-Total"))
		}
	})
	t.Run("ok/subgroup reporter sees the subgroup's projects", func(t *testing.T) {
		got := names(listPackages(t, ts, subReporter.PAT, fmt.Sprintf("/groups/%d/packages", f.SubID)))
		if !slices.Equal(got, []string{"tool@1.0.0", "tool@2.0.0", "Other-Lib@0.1.0", "deep@1.0.0"}) {
			t.Fatalf("sub list = %v", got)
		}
	})
	t.Run("ok/group guest sees the group but no packages", func(t *testing.T) {
		if got := names(listPackages(t, ts, groupGuest.PAT, fmt.Sprintf("/groups/%d/packages", f.GroupID))); len(got) != 0 {
			t.Fatalf("guest list = %v", got)
		}
	})
	for _, c := range []struct {
		name    string
		headers map[string]string
		group   int64
		status  int
	}{
		{"fail/subgroup reporter on the parent", map[string]string{"PRIVATE-TOKEN": subReporter.PAT}, f.GroupID, http.StatusNotFound},
		{"fail/project member only", map[string]string{"PRIVATE-TOKEN": childOnly.PAT}, f.GroupID, http.StatusNotFound},
		{"fail/anonymous", nil, f.GroupID, http.StatusUnauthorized},
		{"fail/no such group", map[string]string{"PRIVATE-TOKEN": ts.RootToken}, 999999, http.StatusNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			mustStatus(t, do(t, ts, call{method: "GET", path: fmt.Sprintf("/groups/%d/packages", c.group), headers: c.headers}), c.status, c.name)
		})
	}
}
