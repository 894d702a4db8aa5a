package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/gitexec"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// evilOverview is a project overview whose every shown field is evil (TestTemplatesEscape).
func evilOverview(evil string) *projectOverview {
	return &projectOverview{CanReadCode: true, DefaultBranch: evil, TreeHref: "/" + evil, Archives: []archiveLink{{Format: evil, Href: "/" + evil}},
		ReadmeName: evil, ReadmeHref: "/" + evil, Readme: evil, Credential: evil, CanRegistry: true, RegistryHref: "/" + evil,
		CanPackages: true, PackagesHref: "/" + evil, Storage: StorageUsage{Registry: 1, Packages: 2}, ShowStorage: true}
}

// projectPagesEvil are the project pages with every user-provided field evil.
func projectPagesEvil(evil string, user *namespace.User) map[string]*page {
	proj := &namespace.Project{Name: evil, Path: evil, FullPath: "a/" + evil}
	bd := browserData{Project: proj, Ref: evil, Commit: evil, Path: evil, Last: &gitexec.Commit{ID: evil, Title: evil, AuthorName: evil},
		Branches: []refLink{{Name: evil, Href: "/" + evil, Current: true}}, Tags: []refLink{{Name: evil, Href: "/" + evil}},
		Crumbs: []pathCrumb{{Label: evil, Href: "/" + evil}}, Archives: []archiveLink{{Format: evil, Href: "/" + evil}}}
	pkg := &packages.Package{Name: evil, Format: packages.Generic}
	ver := &packages.Version{ID: 1, Version: evil}
	return map[string]*page{
		"tree": {Title: evil, User: user, Data: browserPage{Tree: &treeData{browserData: bd, Rows: []treeRow{{Name: evil, Href: "/" + evil, Kind: "file"}}, Parent: "/" + evil}}},
		"container_registry": {Title: evil, User: user, Data: registryData{Project: proj, Host: evil, CanDelete: true, Login: evil, Push: evil,
			Repos: []registryRepo{{Name: evil, Anchor: "r1", Tags: []registryTag{{TagDetail: oci.TagDetail{Name: evil, Digest: evil}, Size: evil, Pull: evil, FormID: "p1"}}}}}},
		"packages": {Title: evil, User: user, Data: packagesData{Project: proj, APIBase: evil,
			Packages: []packageRow{{ID: 1, Name: evil, Version: evil, Format: packages.Format(evil), Published: evil, Href: "/" + evil}}}},
		"package": {Title: evil, User: user, Data: packageData{Project: proj, Package: pkg, Version: ver,
			Files: []packageFile{{Name: evil, Size: evil, SHA256: evil}}, Installation: []snippet{{ID: "i1", Label: evil, Text: evil, Lines: 1}}}},
	}
}

// TestBlobViewEscapes renders the file view of the "tree" page (the map above has its directory
// view) with evil fields and content highlighted by chroma.
func TestBlobViewEscapes(t *testing.T) {
	evil := `<script>alert(1)</script>`
	user := &namespace.User{Username: evil}
	bd := browserData{Project: &namespace.Project{Name: evil, FullPath: "a/" + evil}, Ref: evil, Commit: evil, Path: evil,
		Crumbs: []pathCrumb{{Label: evil, Href: "/" + evil}}}
	for _, name := range []string{evil + ".txt", "x.go", "x.html"} {
		hl, _, err := highlight(name, evil+"\n"+`"><b>x`)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range []blobData{{browserData: bd, Name: evil, Size: evil, RawHref: "/" + evil, Highlighted: hl, Language: evil},
			{browserData: bd, Name: evil, Plain: evil + `"><b>x`}} {
			rec := httptest.NewRecorder()
			New(Config{}).render(rec, httptest.NewRequest(http.MethodGet, "/", nil), http.StatusOK, "tree",
				&page{Title: evil, User: user, Data: browserPage{Blob: &d}})
			body := rec.Body.String()
			if rec.Code != http.StatusOK || strings.Contains(body, "<script>alert") || strings.Contains(body, `"><b>x`) ||
				!strings.Contains(body, "&lt;script&gt;") {
				t.Fatalf("%s: %d, unescaped or missing text:\n%s", name, rec.Code, body)
			}
		}
	}
}

// TestChromaCSS keeps assets/chroma.css the stylesheet of the highlighter's classes; run with
// GATEHOUSE_WRITE_CHROMA_CSS=1 to rewrite it after a chroma upgrade.
func TestChromaCSS(t *testing.T) {
	want, err := chromaCSS()
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("GATEHOUSE_WRITE_CHROMA_CSS") == "1" {
		if err := os.WriteFile("assets/chroma.css", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := fs.ReadFile(files, "assets/chroma.css")
	if err != nil || string(got) != want {
		t.Fatalf("assets/chroma.css is not chroma's stylesheet (%v): run GATEHOUSE_WRITE_CHROMA_CSS=1 go test -run TestChromaCSS", err)
	}
}

func TestParseProjectPage(t *testing.T) {
	for _, c := range []struct {
		path, action, rest string
		id                 int64
		ok                 bool
	}{
		{"/g/p/-/tree/main", actTree, "main", 0, true},
		{"/g/p/-/tree/feature/x/dir/sub", actTree, "feature/x/dir/sub", 0, true},
		{"/g/p/-/blob/main/<script>.txt", actBlob, "main/<script>.txt", 0, true},
		{"/g/p/-/raw/v1.0/a/b.go", actRaw, "v1.0/a/b.go", 0, true},
		{"/g/p/-/archive/main/p-main.zip", actArchive, "main/p-main.zip", 0, true},
		{"/g/p/-/container_registry", actRegistry, "", 0, true},
		{"/g/p/-/packages", actPackages, "", 0, true},
		{"/g/p/-/packages/12", actPackage, "", 12, true},
		{"/g/p/-/packages/012", "", "", 0, false},
		{"/g/p/-/tree", "", "", 0, false},
		{"/g/p/-/tree/", "", "", 0, false},
		{"/g/p/-/archive/main", "", "", 0, false},
		{"/g/p/-/archive/main/", "", "", 0, false},
		{"/groups/g/-/tree/main", "", "", 0, false},
		{"/groups/g/-/container_registry", "", "", 0, false},
	} {
		rt, ok := parseRoute(c.path)
		if ok != c.ok || (ok && (rt.action != c.action || rt.rest != c.rest || rt.tokenID != c.id || rt.path != "g/p")) {
			t.Errorf("parseRoute(%q) = %+v %v, want %s %q %d %v", c.path, rt, ok, c.action, c.rest, c.id, c.ok)
		}
	}
}

// TestInstallation checks each format's Installation snippets: the project's API URL, the
// package's name and version, and the deploy-token placeholders (never a real credential).
func TestInstallation(t *testing.T) {
	h := New(Config{ExternalURL: "https://gh.example:8443/"})
	p := &namespace.Project{ID: 7, FullPath: "g/p"}
	api := "https://gh.example:8443/api/v4/projects/7/packages/"
	for _, c := range []struct {
		format packages.Format
		name   string
		wants  []string
	}{
		{packages.Generic, "tool", []string{`curl --header "Deploy-Token: <deploy-token>" --output 'a b.bin' "` + api + `generic/tool/1.0/a%20b.bin"`}},
		{packages.NPM, "@scope/pkg", []string{"npm i @scope/pkg@1.0", "@scope:registry=" + api + "npm/",
			"//gh.example:8443/api/v4/projects/7/packages/npm/:_authToken=<deploy-token>"}},
		{packages.NPM, "plain", []string{"registry=" + api + "npm/\n"}},
		{packages.Maven, "com/example/app", []string{"<groupId>com.example</groupId>", "<artifactId>app</artifactId>", "<version>1.0</version>",
			"<url>" + api + "maven</url>", "<name>Deploy-Token</name>", "<value><deploy-token></value>"}},
		{packages.PyPI, "my-lib", []string{"pip install my-lib==1.0 --index-url https://<deploy-token-username>:<deploy-token>@gh.example:8443/api/v4/projects/7/packages/pypi/simple"}},
		{packages.NuGet, "My.Lib", []string{`dotnet nuget add source "` + api + `nuget/index.json" --name gatehouse --username <deploy-token-username> --password <deploy-token>`,
			"dotnet add package My.Lib --version 1.0"}},
		{packages.Debian, "hello", []string{"deb [signed-by=/etc/apt/keyrings/gatehouse.asc] " + api + "debian <codename> <component>",
			"https://gh.example:8443/api/v4/projects/7/debian_distributions/<codename>/key.asc", "machine " + api + "debian\nlogin <deploy-token-username>\npassword <deploy-token>",
			"apt-get install hello=1.0"}},
		{packages.Helm, "my-chart", []string{"helm repo add --username <deploy-token-username> --password <deploy-token> gatehouse " + api + "helm/stable",
			"helm install my-release gatehouse/my-chart --version 1.0"}},
		{packages.Composer, "acme/tools", []string{"composer config repositories.gatehouse composer https://gh.example:8443/api/v4/group/g/-/packages/composer/packages.json",
			"composer config http-basic.gh.example:8443 <deploy-token-username> <deploy-token>", "composer require acme/tools:1.0"}},
		{packages.RubyGems, "my_gem", []string{"gem install my_gem -v 1.0 --clear-sources --source https://<deploy-token-username>:<deploy-token>@gh.example:8443/api/v4/projects/7/packages/rubygems/",
			"---\n" + api + "rubygems: '<deploy-token>'"}},
		{packages.GoProxy, "example.com/mod", []string{"machine gh.example login <deploy-token-username> password <deploy-token>",
			"GOPROXY=" + api + "go,https://proxy.golang.org,direct GONOSUMDB=example.com/mod go get example.com/mod@1.0"}},
		{packages.Terraform, "vpc/aws", []string{"module \"vpc\" {\n  source  = \"gh.example:8443/g/vpc/aws\"\n  version = \"1.0\"",
			"credentials \"gh.example:8443\" {\n  token = \"<deploy-token>\"\n}"}},
	} {
		v := &packages.Version{Version: "1.0", Files: []packages.File{{Filename: "a b.bin"}}}
		var all []string
		for _, s := range h.installation(p, &packages.Package{Name: c.name, Format: c.format}, v) {
			all = append(all, s.Text)
		}
		text := strings.Join(all, "\n")
		for _, w := range c.wants {
			if !strings.Contains(text, w) {
				t.Errorf("%s %s: missing %q in:\n%s", c.format, c.name, w, text)
			}
		}
	}
}
