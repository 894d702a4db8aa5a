package composer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// env is a booted server with the fixture tree (group/top, group/sub/child,
// group/sub/subsub/grandchild, other/sibling) and the real git.
type env struct {
	ts *testenv.TestServer
	f  testenv.Fixture
}

func start(t *testing.T, opts ...testenv.ServerOption) *env {
	t.Helper()
	e := &env{}
	e.ts, e.f = testenv.StartWithFixture(t, opts...)
	return e
}

var (
	rw = []string{"read_package_registry", "write_package_registry"}
	ro = []string{"read_package_registry"}
)

func (e *env) token(t testing.TB, owner string, scopes ...string) testenv.DeployToken {
	t.Helper()
	return e.ts.CreateDeployToken(t, owner, scopes, nil)
}

func (e *env) projectOwner(name string) string {
	return fmt.Sprintf("projects/%d", e.f.Projects[name].ID)
}

// pushPackage pushes a repository whose composer.json names name to the project (as root, with
// the real git), with the tag and the main branch; body is the content of src/Hello.php.
func (e *env) pushPackage(t testing.TB, project, name, tag, body string) {
	t.Helper()
	manifest := fmt.Sprintf(`{"name": %q, "description": "test package", "type": "library", "version": "9.9.9",
  "license": "MIT", "autoload": {"psr-4": {"Acme\\": "src/"}}}`, name)
	e.pushFiles(t, e.f.Projects[project].FullPath, tag, map[string]string{"composer.json": manifest,
		"src/Hello.php": "<?php\nnamespace Acme;\nclass Hello { const WHO = '" + body + "'; }\n"})
}

// pushFiles pushes a repository of files to the project fullPath (as root, with the real git),
// with the tag and the main branch.
func (e *env) pushFiles(t testing.TB, fullPath, tag string, files map[string]string) {
	t.Helper()
	work := t.TempDir()
	for p, c := range files {
		full := filepath.Join(work, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Git(t, work, "init", "-q", "-b", "main")
	testenv.Git(t, work, "add", ".")
	testenv.Git(t, work, "commit", "-q", "-m", "package")
	testenv.Git(t, work, "tag", tag)
	testenv.Git(t, work, "push", "-q", e.ts.GitURL(fullPath, "root", e.ts.RootToken), "main", tag)
}

// publish asks Gatehouse to build the package from the project's tag or branch, as GitLab's
// docs do with curl (--data tag=v1.0.0), with the deploy token in basic auth.
func (e *env) publish(t testing.TB, project, user, secret string, form url.Values) (int, string) {
	t.Helper()
	return e.publishTo(t, e.f.Projects[project].ID, user, secret, form)
}

func (e *env) publishTo(t testing.TB, projectID int64, user, secret string, form url.Values) (int, string) {
	t.Helper()
	u := fmt.Sprintf("%s/api/v4/projects/%d/packages/composer", e.ts.URL, projectID)
	return e.do(t, http.MethodPost, u, user, secret, form)
}

func (e *env) do(t testing.TB, method, u, user, secret string, form url.Values) (int, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if user != "" || secret != "" {
		req.SetBasicAuth(user, secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *env) groupRepo(groupID int64) string {
	return fmt.Sprintf("%s/api/v4/group/%d/-/packages/composer/packages.json", e.ts.URL, groupID)
}

func (e *env) p2(groupID int64, name string) string {
	return fmt.Sprintf("%s/api/v4/group/%d/-/packages/composer/p2/%s.json", e.ts.URL, groupID, name)
}

// client is the real composer in a fresh project directory with its own COMPOSER_HOME,
// configured as docs/composer.md says: the group's repository, secure-http off (loopback) and
// the deploy token in http-basic. Packagist is off, so nothing leaves the machine.
type client struct {
	bin, dir string
	env      []string
}

func (e *env) newClient(t testing.TB, groupID int64, user, secret string) *client {
	t.Helper()
	return e.clientFor(t, e.groupRepo(groupID), user, secret)
}

// clientFor is newClient with any repository URL, and no http-basic when user is "".
func (e *env) clientFor(t testing.TB, repo, user, secret string) *client {
	t.Helper()
	c := &client{bin: testenv.Binary(t, "composer"), dir: t.TempDir()}
	home := t.TempDir()
	c.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "COMPOSER_HOME=" + filepath.Join(home, "composer"),
		"COMPOSER_CACHE_DIR=" + filepath.Join(home, "cache"), "COMPOSER_NO_INTERACTION=1", "COMPOSER_ALLOW_SUPERUSER=1",
		"COMPOSER_DISABLE_XDEBUG_WARN=1", "LANG=C"}
	if err := os.WriteFile(filepath.Join(c.dir, "composer.json"), []byte(`{"name": "test/app", "require": {}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c.must(t, "config", "repositories.packagist.org", "false")
	c.must(t, "config", "repositories.gh", "composer", repo)
	c.must(t, "config", "secure-http", "false")
	if user != "" {
		c.must(t, "config", "http-basic."+e.ts.Host(), user, secret)
	}
	return c
}

func (c *client) run(t testing.TB, args ...string) (string, int) {
	t.Helper()
	return testenv.RunClient(t, 3*time.Minute, c.dir, c.env, c.bin, append(args, "--no-ansi")...)
}

func (c *client) must(t testing.TB, args ...string) string {
	t.Helper()
	out, code := c.run(t, args...)
	if code != 0 {
		t.Fatalf("composer %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// installed is src/Hello.php of the installed package, or "".
func (c *client) installed(name string) string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "vendor", name, "src", "Hello.php"))
	return string(b)
}

// TestPublishAndRequire pushes a repository with real git, publishes its tag v1.0.0 with a
// project deploy token, and has the real composer require it through the group's repository
// with a group deploy token that reaches the subgroup's project.
func TestPublishAndRequire(t *testing.T) {
	e := start(t)
	e.pushPackage(t, "child", "acme/tools", "v1.0.0", "genuine")
	pub := e.token(t, e.projectOwner("child"), rw...)
	if st, body := e.publish(t, "child", pub.Username, pub.Token, url.Values{"tag": {"v1.0.0"}}); st != http.StatusCreated {
		t.Fatalf("publish: %d %s", st, body)
	}
	if st, body := e.publish(t, "child", pub.Username, pub.Token, url.Values{"branch": {"main"}}); st != http.StatusCreated {
		t.Fatalf("publish branch: %d %s", st, body)
	}
	reader := e.token(t, fmt.Sprintf("groups/%d", e.f.GroupID), ro...)
	c := e.newClient(t, e.f.GroupID, reader.Username, reader.Token)
	out := c.must(t, "require", "acme/tools:1.0.0")
	if got := c.installed("acme/tools"); !strings.Contains(got, "genuine") {
		t.Fatalf("installed Hello.php %q\n%s", got, out)
	}
	if strings.Contains(out, reader.Token) || strings.Contains(e.ts.Logs(), reader.Token) || strings.Contains(e.ts.Logs(), pub.Token) {
		t.Fatal("a token's secret is in composer's output or the server's logs")
	}

	t.Run("ok/the branch is dev-main in p2 ~dev", func(t *testing.T) {
		st, body := e.do(t, http.MethodGet, e.p2(e.f.GroupID, "acme/tools~dev"), reader.Username, reader.Token, nil)
		if st != http.StatusOK || !strings.Contains(body, `"version":"dev-main"`) || strings.Contains(body, `"1.0.0"`) {
			t.Fatalf("~dev: %d %s", st, body)
		}
	})
	t.Run("ok/the version comes from the tag, not composer.json", func(t *testing.T) {
		var doc struct {
			Packages map[string][]struct {
				Version string
				Dist    struct{ URL, Reference, Shasum string }
			}
		}
		st, body := e.do(t, http.MethodGet, e.p2(e.f.GroupID, "acme/tools"), reader.Username, reader.Token, nil)
		if st != http.StatusOK || json.Unmarshal([]byte(body), &doc) != nil {
			t.Fatalf("p2: %d %s", st, body)
		}
		vs := doc.Packages["acme/tools"]
		if len(vs) != 1 || vs[0].Version != "1.0.0" || vs[0].Dist.Shasum == "" || !strings.Contains(vs[0].Dist.URL, "sha="+vs[0].Dist.Reference) {
			t.Fatalf("p2 versions %+v", vs)
		}
	})
	t.Run("ok/composer requires the branch as dev-main", func(t *testing.T) {
		c := e.newClient(t, e.f.GroupID, reader.Username, reader.Token)
		out := c.must(t, "require", "acme/tools:dev-main")
		if got := c.installed("acme/tools"); !strings.Contains(got, "genuine") || !strings.Contains(out, "dev-main") {
			t.Fatalf("installed Hello.php %q\n%s", got, out)
		}
	})
	t.Run("ok/the Packages API lists and deletes them", func(t *testing.T) {
		var list []struct {
			ID          int64
			Name        string
			Version     string
			PackageType string `json:"package_type"`
		}
		child := e.f.Projects["child"].ID
		e.ts.MustAPI(t, 200, "GET", fmt.Sprintf("/projects/%d/packages?package_type=composer", child), nil, &list)
		if len(list) != 2 || list[0].PackageType != "composer" || list[0].Name != "acme/tools" {
			t.Fatalf("listed %+v", list)
		}
		for _, p := range list {
			if p.Version == "dev-main" {
				e.ts.MustAPI(t, 204, "DELETE", fmt.Sprintf("/projects/%d/packages/%d", child, p.ID), nil, nil)
			}
		}
		st, body := e.do(t, http.MethodGet, e.p2(e.f.GroupID, "acme/tools~dev"), reader.Username, reader.Token, nil)
		if st != http.StatusOK || strings.Contains(body, "dev-main") {
			t.Fatalf("~dev after the delete: %d %s", st, body)
		}
	})
	t.Run("fail/a tag is published once", func(t *testing.T) {
		st, body := e.publish(t, "child", pub.Username, pub.Token, url.Values{"tag": {"v1.0.0"}})
		if st != http.StatusConflict || !strings.Contains(body, "published before") {
			t.Fatalf("re-publish: %d %s", st, body)
		}
	})
	t.Run("fail/a read-only token cannot publish", func(t *testing.T) {
		st, body := e.publish(t, "child", reader.Username, reader.Token, url.Values{"branch": {"main"}})
		if st != http.StatusForbidden || !strings.Contains(body, "write_package_registry") {
			t.Fatalf("read-only publish: %d %s", st, body)
		}
	})
	t.Run("fail/another group's token and another project's token are not found", func(t *testing.T) {
		other := e.token(t, fmt.Sprintf("groups/%d", e.f.OtherGroupID), ro...)
		sibling := e.token(t, e.projectOwner("top"), ro...)
		for name, tok := range map[string]testenv.DeployToken{"other group": other, "other project": sibling} {
			c := e.newClient(t, e.f.GroupID, tok.Username, tok.Token)
			if out, code := c.run(t, "require", "acme/tools:1.0.0"); code == 0 || c.installed("acme/tools") != "" {
				t.Fatalf("%s: exit %d\n%s", name, code, out)
			}
			if st, body := e.do(t, http.MethodGet, e.p2(e.f.GroupID, "acme/tools"), tok.Username, tok.Token, nil); st != http.StatusNotFound {
				t.Fatalf("%s: p2 %d %s", name, st, body)
			}
		}
	})
}

// TestDependencyConfusion plants a copy of the package (same name, higher version) in another
// project of the group, as someone who may publish only there: the group's p2 answers 409
// naming both holders, so composer installs neither; the subgroup that holds one copy still
// serves it.
func TestDependencyConfusion(t *testing.T) {
	e := start(t)
	e.pushPackage(t, "child", "acme/tools", "v1.0.0", "genuine")
	e.pushPackage(t, "top", "acme/tools", "v1.0.1", "planted")
	for project, tag := range map[string]string{"child": "v1.0.0", "top": "v1.0.1"} {
		tok := e.token(t, e.projectOwner(project), rw...)
		if st, body := e.publish(t, project, tok.Username, tok.Token, url.Values{"tag": {tag}}); st != http.StatusCreated {
			t.Fatalf("publish %s: %d %s", project, st, body)
		}
	}
	reader := e.token(t, fmt.Sprintf("groups/%d", e.f.GroupID), ro...)
	t.Run("fail/group p2: two holders are a 409 naming them", func(t *testing.T) {
		st, body := e.do(t, http.MethodGet, e.p2(e.f.GroupID, "acme/tools"), reader.Username, reader.Token, nil)
		if st != http.StatusConflict || !strings.Contains(body, "group/sub/child") || !strings.Contains(body, "group/top") {
			t.Fatalf("group p2: %d %s", st, body)
		}
		c := e.newClient(t, e.f.GroupID, reader.Username, reader.Token)
		if out, code := c.run(t, "require", "acme/tools"); code == 0 || !strings.Contains(out, "409") || c.installed("acme/tools") != "" {
			t.Fatalf("composer require through the group: exit %d\n%s", code, out)
		}
	})
	t.Run("ok/the subgroup serves its one copy", func(t *testing.T) {
		c := e.newClient(t, e.f.SubID, reader.Username, reader.Token)
		c.must(t, "require", "acme/tools")
		if got := c.installed("acme/tools"); !strings.Contains(got, "genuine") {
			t.Fatalf("installed %q", got)
		}
	})
}

// TestHostileInput: refs and manifests that break the rules are a 400 with the reason, and
// leave nothing stored.
func TestHostileInput(t *testing.T) {
	e := start(t)
	work := t.TempDir()
	write := func(p, c string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(work, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Git(t, work, "init", "-q", "-b", "main")
	write("README", "no composer.json here\n")
	testenv.Git(t, work, "add", ".")
	testenv.Git(t, work, "commit", "-q", "-m", "none")
	testenv.Git(t, work, "tag", "v0.1.0")
	for tag, manifest := range map[string]string{"v0.2.0": `{"name": "../../etc"}`, "v0.3.0": `{"name": "Acme/Tools"}`,
		"v0.4.0": `[1, 2]`, "v0.5.0": `{"name": "acme/tools"} trailing`, "v0.6.0": `{"description": "no name"}`} {
		write("composer.json", manifest)
		testenv.Git(t, work, "add", ".")
		testenv.Git(t, work, "commit", "-q", "-m", tag)
		testenv.Git(t, work, "tag", tag)
	}
	testenv.Git(t, work, "push", "-q", "--tags", e.ts.GitURL(e.f.Projects["top"].FullPath, "root", e.ts.RootToken), "main")
	tok := e.token(t, e.projectOwner("top"), rw...)
	cases := map[string]struct {
		form url.Values
		want int
	}{
		"fail/no composer.json":        {url.Values{"tag": {"v0.1.0"}}, 400},
		"fail/traversal in the name":   {url.Values{"tag": {"v0.2.0"}}, 400},
		"fail/upper case name":         {url.Values{"tag": {"v0.3.0"}}, 400},
		"fail/not an object":           {url.Values{"tag": {"v0.4.0"}}, 400},
		"fail/trailing data":           {url.Values{"tag": {"v0.5.0"}}, 400},
		"fail/no name":                 {url.Values{"tag": {"v0.6.0"}}, 400},
		"fail/no such tag":             {url.Values{"tag": {"v9.0.0"}}, 404},
		"fail/traversal in the tag":    {url.Values{"tag": {"../v0.1.0"}}, 400},
		"fail/revision syntax":         {url.Values{"tag": {"v0.1.0^{tree}"}}, 400},
		"fail/an option as the branch": {url.Values{"branch": {"--output=/tmp/x"}}, 400},
		"fail/tag and branch":          {url.Values{"tag": {"v0.1.0"}, "branch": {"main"}}, 400},
		"fail/neither":                 {url.Values{}, 400},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if st, body := e.publish(t, "top", tok.Username, tok.Token, c.form); st != c.want || !strings.Contains(body, `"message"`) {
				t.Fatalf("%d %s, want %d", st, body, c.want)
			}
		})
	}
	for _, p := range []string{"/archives/..%2f..%2fetc/passwd.zip?sha=" + strings.Repeat("a", 40), "/archives/acme/tools.zip?sha=../x"} {
		if st, body := testenv.RawRequest(t, e.ts.URL, http.MethodGet, fmt.Sprintf("/api/v4/projects/%d/packages/composer%s", e.f.Projects["top"].ID, p), tok.Token, nil); st != 400 {
			t.Fatalf("GET %s: %d %s", p, st, body)
		}
	}
	e.ts.AssertNoPackages(t, e.f, packages.Composer)
}

// TestRevokedExpiredAndExternalAuthorization: revoked and expired deploy tokens are 401 on the
// next request, with the reason.
func TestRevokedAndExpiredTokens(t *testing.T) {
	e := start(t)
	e.pushPackage(t, "top", "acme/life", "v1.0.0", "x")
	owner := e.projectOwner("top")
	revoked := e.token(t, owner, rw...)
	tomorrow := e.ts.Clock.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")
	expiring := e.ts.CreateDeployToken(t, owner, rw, map[string]any{"expires_at": tomorrow})
	if st, body := e.publish(t, "top", revoked.Username, revoked.Token, url.Values{"tag": {"v1.0.0"}}); st != 201 {
		t.Fatalf("publish: %d %s", st, body)
	}
	if err := e.ts.Server.Deploy.Revoke(context.Background(), revoked.ID); err != nil {
		t.Fatal(err)
	}
	e.ts.Clock.Advance(49 * time.Hour)
	for name, tok := range map[string]testenv.DeployToken{"revoked": revoked, "expired": expiring} {
		if st, body := e.do(t, http.MethodGet, e.p2(e.f.GroupID, "acme/life"), tok.Username, tok.Token, nil); st != 401 || !strings.Contains(body, name) {
			t.Fatalf("%s token reading: %d %s", name, st, body)
		}
		if st, body := e.publish(t, "top", tok.Username, tok.Token, url.Values{"branch": {"main"}}); st != 401 {
			t.Fatalf("%s token publishing: %d %s", name, st, body)
		}
		c := e.newClient(t, e.f.GroupID, tok.Username, tok.Token)
		if out, code := c.run(t, "require", "acme/life:1.0.0"); code == 0 || strings.Contains(out, tok.Token) {
			t.Fatalf("%s token with composer: exit %d\n%s", name, code, out)
		}
	}
}

func TestExternalAuthorization(t *testing.T) {
	e := start(t, func(c *config.Config) { c.ExternalAuthorization = true })
	e.pushPackage(t, "top", "acme/ext", "v1.0.0", "x")
	tok := e.token(t, e.projectOwner("top"), rw...)
	if st, body := e.publish(t, "top", tok.Username, tok.Token, url.Values{"tag": {"v1.0.0"}}); st != 403 || !strings.Contains(body, "external authorization") {
		t.Fatalf("deploy token publish: %d %s", st, body)
	}
	// People still publish and read.
	if st, body := e.publish(t, "top", "root", e.ts.RootToken, url.Values{"tag": {"v1.0.0"}}); st != 201 {
		t.Fatalf("root publish: %d %s", st, body)
	}
	if st, body := e.do(t, http.MethodGet, e.p2(e.f.GroupID, "acme/ext"), tok.Username, tok.Token, nil); st != 403 || !strings.Contains(body, "external authorization") {
		t.Fatalf("deploy token read: %d %s", st, body)
	}
}

func TestPostgresPublishAndRequire(t *testing.T) {
	e := start(t, testenv.WithPostgres(t))
	e.pushPackage(t, "grandchild", "acme/pg", "v0.1.0", "postgres")
	tok := e.token(t, fmt.Sprintf("groups/%d", e.f.GroupID), rw...)
	if st, body := e.publish(t, "grandchild", tok.Username, tok.Token, url.Values{"tag": {"v0.1.0"}}); st != 201 {
		t.Fatalf("publish: %d %s", st, body)
	}
	c := e.newClient(t, e.f.GroupID, tok.Username, tok.Token)
	c.must(t, "require", "acme/pg:0.1.0")
	if got := c.installed("acme/pg"); !strings.Contains(got, "postgres") {
		t.Fatalf("installed %q", got)
	}
}

// TestOversizedArchive: an archive past the format's limit is a 413 and leaves nothing stored
// (no package, no blob, no upload, no temporary file left behind by git archive).
func TestOversizedArchive(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	e := start(t, testenv.MaxFileSize(packages.Composer, 200))
	e.pushPackage(t, "top", "acme/big", "v1.0.0", strings.Repeat("big ", 200))
	tok := e.token(t, e.projectOwner("top"), rw...)
	if st, body := e.publish(t, "top", tok.Username, tok.Token, url.Values{"tag": {"v1.0.0"}}); st != http.StatusRequestEntityTooLarge || !strings.Contains(body, "413") {
		t.Fatalf("publish: %d %s", st, body)
	}
	e.ts.AssertNoPackages(t, e.f, packages.Composer)
	if left, _ := filepath.Glob(filepath.Join(tmp, "composer-*.zip")); len(left) != 0 {
		t.Fatalf("temporary archives left behind: %v", left)
	}
}
