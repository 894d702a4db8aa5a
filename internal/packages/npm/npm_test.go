package npm_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// env is a booted server with the fixture tree (group/top, group/sub/child,
// group/sub/subsub/grandchild, other/sibling) and the real npm and node.
type env struct {
	ts        *testenv.TestServer
	f         testenv.Fixture
	npm, node string
	host      string
}

func start(t *testing.T, opts ...testenv.ServerOption) *env {
	t.Helper()
	e := &env{npm: testenv.Binary(t, "npm"), node: testenv.Binary(t, "node")}
	e.ts, e.f = testenv.StartWithFixture(t, opts...)
	e.host = e.ts.Host()
	return e
}

func (e *env) projectRegistry(project string) string {
	return fmt.Sprintf("http://%s/api/v4/projects/%d/packages/npm/", e.host, e.f.Projects[project].ID)
}

func (e *env) instanceRegistry() string { return "http://" + e.host + "/api/v4/packages/npm/" }

func (e *env) groupRegistry(id int64) string {
	return fmt.Sprintf("http://%s/api/v4/groups/%d/-/packages/npm/", e.host, id)
}

// client is one npm user: its own HOME, userconfig and cache, pointed only at 127.0.0.1 (the
// default registry is a closed port, so nothing ever reaches the internet).
type client struct {
	e   *env
	dir string
	env []string
}

// newClient writes an .npmrc mapping @group to registry with token (as _authToken on the
// registry's path, as GitLab documents).
func (e *env) newClient(t *testing.T, registry, token string) *client {
	t.Helper()
	dir := t.TempDir()
	nerf := strings.TrimPrefix(registry, "http:")
	rc := "@group:registry=" + registry + "\n"
	if token != "" {
		rc += nerf + ":_authToken=" + token + "\n"
	}
	for name, content := range map[string]string{"npmrc": rc, "globalnpmrc": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return &client{e: e, dir: dir, env: []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"npm_config_userconfig=" + filepath.Join(dir, "npmrc"),
		"npm_config_globalconfig=" + filepath.Join(dir, "globalnpmrc"),
		"npm_config_cache=" + filepath.Join(dir, "cache"),
		"npm_config_registry=http://127.0.0.1:9/",
		"npm_config_audit=false",
		"npm_config_fund=false",
		"npm_config_update_notifier=false",
		"npm_config_fetch_retries=0",
		"npm_config_loglevel=notice",
	}}
}

// npm runs npm in dir and returns its combined output and exit code.
func (c *client) npm(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	return testenv.RunClient(t, 2*time.Minute, dir, c.env, c.e.npm, args...)
}

func (c *client) mustNPM(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, code := c.npm(t, dir, args...)
	if code != 0 {
		t.Fatalf("npm %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// pkgDir writes a package to publish.
func pkgDir(t *testing.T, name, version, greeting string) string {
	t.Helper()
	dir := t.TempDir()
	pj := fmt.Sprintf(`{"name":%q,"version":%q,"main":"index.js","license":"MIT","description":"test package"}`, name, version)
	for file, content := range map[string]string{"package.json": pj, "index.js": fmt.Sprintf("module.exports = %q;\n", greeting),
		"README.md": "# " + name + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// install installs spec into a fresh consumer project and returns what requiring it prints.
func (c *client) install(t *testing.T, spec, module string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"name":"consumer","version":"1.0.0","private":true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c.mustNPM(t, dir, "install", spec)
	cmd := exec.Command(c.e.node, "-e", fmt.Sprintf("console.log(require(%q))", module))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

func (e *env) token(t *testing.T, owner string, scopes ...string) testenv.DeployToken {
	t.Helper()
	return e.ts.CreateDeployToken(t, owner, scopes, nil)
}

var rw = []string{"read_package_registry", "write_package_registry"}

func TestPublishInstallDistTags(t *testing.T) {
	e := start(t)
	tok := e.token(t, fmt.Sprintf("projects/%d", e.f.Projects["top"].ID), rw...)
	c := e.newClient(t, e.projectRegistry("top"), tok.Token)

	out := c.mustNPM(t, pkgDir(t, "@group/hello", "1.0.0", "hello from gatehouse"), "publish")
	if !strings.Contains(out, "+ @group/hello@1.0.0") {
		t.Fatalf("npm publish output:\n%s", out)
	}
	if got := c.install(t, "@group/hello", "@group/hello"); got != "hello from gatehouse" {
		t.Fatalf("installed module prints %q", got)
	}

	// A version is immutable. npm 11 reads the packument first and refuses by itself; the
	// registry refuses too, for clients that do not look first (403, as npm's registry does).
	again := pkgDir(t, "@group/hello", "1.0.0", "overwritten")
	out, code := c.npm(t, again, "publish")
	if code == 0 || !strings.Contains(out, "previously published version") {
		t.Fatalf("re-publish: exit %d\n%s", code, out)
	}
	status, body := e.do(t, http.MethodPut, e.projectRegistry("top")+"@group%2fhello", tok.Token,
		publishBody(t, "@group/hello", "1.0.0", c.packTarball(t, again), nil))
	if status != http.StatusForbidden || !strings.Contains(body, `"error":"cannot publish over the previously published version 1.0.0"`) {
		t.Fatalf("raw re-publish: %d %s", status, body)
	}
	if got := c.install(t, "@group/hello@1.0.0", "@group/hello"); got != "hello from gatehouse" {
		t.Fatalf("after refused re-publishes the module prints %q", got)
	}

	c.mustNPM(t, pkgDir(t, "@group/hello", "1.1.0-rc.1", "release candidate"), "publish", "--tag", "next")
	tags := c.mustNPM(t, t.TempDir(), "dist-tag", "ls", "@group/hello")
	if !strings.Contains(tags, "latest: 1.0.0") || !strings.Contains(tags, "next: 1.1.0-rc.1") {
		t.Fatalf("dist-tag ls:\n%s", tags)
	}
	c.mustNPM(t, t.TempDir(), "dist-tag", "add", "@group/hello@1.1.0-rc.1", "stable")
	if tags := c.mustNPM(t, t.TempDir(), "dist-tag", "ls", "@group/hello"); !strings.Contains(tags, "stable: 1.1.0-rc.1") {
		t.Fatalf("after dist-tag add:\n%s", tags)
	}
	c.mustNPM(t, t.TempDir(), "dist-tag", "rm", "@group/hello", "stable")
	if tags := c.mustNPM(t, t.TempDir(), "dist-tag", "ls", "@group/hello"); strings.Contains(tags, "stable") {
		t.Fatalf("after dist-tag rm:\n%s", tags)
	}
	if got := c.install(t, "@group/hello@next", "@group/hello"); got != "release candidate" {
		t.Fatalf("@next prints %q", got)
	}
	// npm view reads the full document.
	var versions []string
	if err := json.Unmarshal([]byte(c.mustNPM(t, t.TempDir(), "view", "@group/hello", "versions", "--json")), &versions); err != nil ||
		strings.Join(versions, ",") != "1.0.0,1.1.0-rc.1" {
		t.Fatalf("npm view versions: %v, %v", versions, err)
	}
}

func TestReadOnlyTokenCannotPublish(t *testing.T) {
	e := start(t)
	tok := e.token(t, fmt.Sprintf("projects/%d", e.f.Projects["top"].ID), "read_package_registry")
	c := e.newClient(t, e.projectRegistry("top"), tok.Token)
	out, code := c.npm(t, pkgDir(t, "@group/ro", "1.0.0", "x"), "publish")
	if code != 1 || !strings.Contains(out, "E403") || !strings.Contains(out, "403 Forbidden") ||
		!strings.Contains(out, "lacks the write_package_registry scope") {
		t.Fatalf("read-only publish: exit %d\n%s", code, out)
	}
	if strings.Contains(out, tok.Token) {
		t.Fatal("npm's error output contains the token")
	}
	e.assertNoNPMPackages(t)
}

// TestGroupTokenReachesSubgroupPackages: a package in group/sub/subsub/grandchild, installed with
// a read-only group deploy token through the instance-level endpoint (@group is the top-level
// group), the group-level endpoint and the project-level one.
func TestGroupTokenReachesSubgroupPackages(t *testing.T) {
	e := start(t)
	publisher := e.newClient(t, e.projectRegistry("grandchild"), e.ts.RootToken)
	publisher.mustNPM(t, pkgDir(t, "@group/deep", "2.0.0", "from the depths"), "publish")

	groupTok := e.token(t, fmt.Sprintf("groups/%d", e.f.GroupID), "read_package_registry")
	for name, registry := range map[string]string{
		"instance": e.instanceRegistry(),
		"group":    e.groupRegistry(e.f.SubID),
		"project":  e.projectRegistry("grandchild"),
	} {
		t.Run("ok/"+name+" level", func(t *testing.T) {
			c := e.newClient(t, registry, groupTok.Token)
			if got := c.install(t, "@group/deep@2.0.0", "@group/deep"); got != "from the depths" {
				t.Fatalf("installed module prints %q", got)
			}
		})
	}
	t.Run("fail/a group token of another group", func(t *testing.T) {
		otherTok := e.token(t, fmt.Sprintf("groups/%d", e.f.OtherGroupID), "read_package_registry")
		c := e.newClient(t, e.instanceRegistry(), otherTok.Token)
		out, code := c.npm(t, t.TempDir(), "view", "@group/deep")
		if code == 0 || !strings.Contains(out, "E404") {
			t.Fatalf("other group's token: exit %d\n%s", code, out)
		}
	})
	t.Run("fail/another project's token", func(t *testing.T) {
		topTok := e.token(t, fmt.Sprintf("projects/%d", e.f.Projects["top"].ID), rw...)
		c := e.newClient(t, e.projectRegistry("grandchild"), topTok.Token)
		out, code := c.npm(t, t.TempDir(), "view", "@group/deep")
		if code == 0 || !strings.Contains(out, "E404") {
			t.Fatalf("another project's token: exit %d\n%s", code, out)
		}
		// Through the instance level the package is equally invisible to it.
		c = e.newClient(t, e.instanceRegistry(), topTok.Token)
		if out, code := c.npm(t, t.TempDir(), "view", "@group/deep"); code == 0 || !strings.Contains(out, "E404") {
			t.Fatalf("another project's token, instance level: exit %d\n%s", code, out)
		}
	})
}

func TestRevokedAndExpiredTokens(t *testing.T) {
	e := start(t)
	owner := fmt.Sprintf("projects/%d", e.f.Projects["top"].ID)
	publisher := e.newClient(t, e.projectRegistry("top"), e.ts.RootToken)
	publisher.mustNPM(t, pkgDir(t, "@group/life", "1.0.0", "x"), "publish")

	revoked := e.token(t, owner, rw...)
	tomorrow := e.ts.Clock.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")
	expiring := e.ts.CreateDeployToken(t, owner, rw, map[string]any{"expires_at": tomorrow})
	for _, tok := range []testenv.DeployToken{revoked, expiring} {
		c := e.newClient(t, e.projectRegistry("top"), tok.Token)
		c.mustNPM(t, t.TempDir(), "view", "@group/life")
	}
	if err := e.ts.Server.Deploy.Revoke(context.Background(), revoked.ID); err != nil {
		t.Fatal(err)
	}
	e.ts.Clock.Advance(49 * time.Hour)
	for name, tok := range map[string]testenv.DeployToken{"revoked": revoked, "expired": expiring} {
		c := e.newClient(t, e.projectRegistry("top"), tok.Token)
		out, code := c.npm(t, t.TempDir(), "view", "@group/life")
		if code == 0 || !strings.Contains(out, "E401") {
			t.Fatalf("%s token: exit %d\n%s", name, code, out)
		}
		out, code = c.npm(t, pkgDir(t, "@group/life", "1.0.1", "x"), "publish")
		if code == 0 || !strings.Contains(out, "E401") {
			t.Fatalf("%s token publishing: exit %d\n%s", name, code, out)
		}
		// The reason reaches the client.
		status, body := e.do(t, http.MethodGet, e.projectRegistry("top")+"@group%2flife", tok.Token, nil)
		if status != http.StatusUnauthorized || !strings.Contains(body, name) {
			t.Fatalf("%s token: %d %s", name, status, body)
		}
		if strings.Contains(e.ts.Logs(), tok.Token) || strings.Contains(out, tok.Token) {
			t.Fatalf("the %s token's secret is in the server's logs or npm's output", name)
		}
	}
	if !strings.Contains(e.ts.Logs(), "/packages/npm/") {
		t.Fatal("the logs recorded no npm request: the secret check proves nothing")
	}
}

func TestExternalAuthorization(t *testing.T) {
	e := start(t, func(c *config.Config) { c.ExternalAuthorization = true })
	tok := e.token(t, fmt.Sprintf("projects/%d", e.f.Projects["top"].ID), rw...)
	c := e.newClient(t, e.projectRegistry("top"), tok.Token)
	out, code := c.npm(t, pkgDir(t, "@group/ext", "1.0.0", "x"), "publish")
	if code == 0 || !strings.Contains(out, "E403") || !strings.Contains(out, "external authorization") {
		t.Fatalf("deploy token publish under external authorization: exit %d\n%s", code, out)
	}
	// People still publish; deploy tokens cannot read either.
	e.newClient(t, e.projectRegistry("top"), e.ts.RootToken).mustNPM(t, pkgDir(t, "@group/ext", "1.0.0", "x"), "publish")
	if out, code := c.npm(t, t.TempDir(), "view", "@group/ext"); code == 0 || !strings.Contains(out, "external authorization") {
		t.Fatalf("deploy token read under external authorization: exit %d\n%s", code, out)
	}
}

func TestPostgresPublishInstall(t *testing.T) {
	e := start(t, testenv.WithPostgres(t))
	tok := e.token(t, fmt.Sprintf("groups/%d", e.f.GroupID), rw...)
	c := e.newClient(t, e.projectRegistry("child"), tok.Token)
	c.mustNPM(t, pkgDir(t, "@group/pg", "0.1.0", "postgres"), "publish")
	if got := c.install(t, "@group/pg", "@group/pg"); got != "postgres" {
		t.Fatalf("installed module prints %q", got)
	}
}

// do sends one request as npm would (Bearer _authToken) and returns the status and body.
func (e *env) do(t *testing.T, method, u, token string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("npm-command", "publish")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// assertNoNPMPackages fails unless no project holds an npm package and the blob store holds no
// blob and no upload.
func (e *env) assertNoNPMPackages(t *testing.T) {
	t.Helper()
	e.ts.AssertNoPackages(t, e.f, packages.NPM)
}

// publishBody builds `npm publish`'s document around tgz, as npm 11 sends it.
func publishBody(t *testing.T, name, version string, tgz []byte, mod func(m map[string]any)) []byte {
	t.Helper()
	s1, s512 := sha1.Sum(tgz), sha512.Sum512(tgz)
	v := map[string]any{"name": name, "version": version, "_id": name + "@" + version,
		"dist": map[string]any{"shasum": hex.EncodeToString(s1[:]), "integrity": "sha512-" + base64.StdEncoding.EncodeToString(s512[:])}}
	d := map[string]any{"_id": name, "name": name, "dist-tags": map[string]any{"latest": version},
		"versions": map[string]any{version: v},
		"_attachments": map[string]any{name + "-" + version + ".tgz": map[string]any{"content_type": "application/octet-stream",
			"data": base64.StdEncoding.EncodeToString(tgz), "length": len(tgz)}}}
	if mod != nil {
		mod(d)
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// packTarball runs `npm pack` on a package directory and returns the .tgz.
func (c *client) packTarball(t *testing.T, dir string) []byte {
	t.Helper()
	out := strings.TrimSpace(c.mustNPM(t, dir, "pack", "--silent"))
	lines := strings.Split(out, "\n")
	b, err := os.ReadFile(filepath.Join(dir, strings.TrimSpace(lines[len(lines)-1])))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHostilePublishes(t *testing.T) {
	const limit = 4 << 10
	e := start(t, func(c *config.Config) { c.Packages.MaxFileSize = map[string]int64{"npm": limit} })
	tok := e.token(t, fmt.Sprintf("projects/%d", e.f.Projects["top"].ID), rw...)
	c := e.newClient(t, e.projectRegistry("top"), tok.Token)
	good := c.packTarball(t, pkgDir(t, "@group/h", "1.0.0", "x"))
	other := c.packTarball(t, pkgDir(t, "@group/other", "1.0.0", "x"))
	big := pkgDir(t, "@group/h", "1.0.0", "x")
	noise := make([]byte, 3*limit)
	if _, err := rand.Read(noise); err != nil { // incompressible
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(big, "noise.bin"), noise, 0o600); err != nil {
		t.Fatal(err)
	}
	bigTgz := c.packTarball(t, big)
	if len(bigTgz) <= limit {
		t.Fatalf("the big tarball is only %d bytes", len(bigTgz))
	}
	u := e.projectRegistry("top") + "@group%2fh"
	cases := []struct {
		name   string
		url    string
		body   []byte
		status int
		why    string
	}{
		{"fail/not a tarball", u, publishBody(t, "@group/h", "1.0.0", []byte("#!/bin/sh\nrm -rf /\n"), nil), 400, "gzip"},
		{"fail/truncated tarball", u, publishBody(t, "@group/h", "1.0.0", good[:len(good)/2], nil), 400, "tarball"},
		{"fail/tarball of another package", u, publishBody(t, "@group/h", "1.0.0", other, nil), 400, "does not match"},
		{"fail/bad shasum", u, publishBody(t, "@group/h", "1.0.0", good, func(d map[string]any) {
			d["versions"].(map[string]any)["1.0.0"].(map[string]any)["dist"].(map[string]any)["shasum"] = strings.Repeat("a", 40)
		}), 400, "shasum"},
		{"fail/bad integrity", u, publishBody(t, "@group/h", "1.0.0", good, func(d map[string]any) {
			d["versions"].(map[string]any)["1.0.0"].(map[string]any)["dist"].(map[string]any)["integrity"] = "sha512-" + base64.StdEncoding.EncodeToString(make([]byte, 64))
		}), 400, "integrity"},
		{"fail/oversized tarball", u, publishBody(t, "@group/h", "1.0.0", bigTgz, nil), 413, "limit"},
		{"fail/traversal in the name", e.projectRegistry("top") + "@group%2f..%2f..%2fetc", publishBody(t, "@group/../../etc", "1.0.0", good, nil), 400, "package name"},
		{"fail/traversal in the version", u, publishBody(t, "@group/h", "../../1.0.0", good, nil), 400, "semantic version"},
		{"fail/traversal in the attachment name", u, publishBody(t, "@group/h", "1.0.0", good, func(d map[string]any) {
			d["_attachments"] = map[string]any{"../../../h-1.0.0.tgz": d["_attachments"].(map[string]any)["@group/h-1.0.0.tgz"]}
		}), 400, "<name>-<version>.tgz"},
		{"fail/name differs from the URL", e.projectRegistry("top") + "@group%2fother", publishBody(t, "@group/h", "1.0.0", good, nil), 400, "does not match the URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.do(t, http.MethodPut, tc.url, tok.Token, tc.body)
			var m struct {
				Error string `json:"error"`
			}
			if status != tc.status || json.Unmarshal([]byte(body), &m) != nil || !strings.Contains(m.Error, tc.why) {
				t.Fatalf("status %d body %s; want %d with an npm error mentioning %q", status, body, tc.status, tc.why)
			}
			e.assertNoNPMPackages(t)
		})
	}
	t.Run("fail/npm itself shows the size refusal", func(t *testing.T) {
		out, code := c.npm(t, big, "publish")
		if code == 0 || !strings.Contains(out, "413") {
			t.Fatalf("oversized npm publish: exit %d\n%s", code, out)
		}
		e.assertNoNPMPackages(t)
	})
	t.Run("ok/the good tarball after all that", func(t *testing.T) {
		if status, body := e.do(t, http.MethodPut, u, tok.Token, publishBody(t, "@group/h", "1.0.0", good, nil)); status != http.StatusOK {
			t.Fatalf("good publish: %d %s", status, body)
		}
	})
}

// TestPackumentShapes checks the documents npm reads, beyond what the client tests exercise.
func TestPackumentShapes(t *testing.T) {
	e := start(t)
	c := e.newClient(t, e.projectRegistry("top"), e.ts.RootToken)
	c.mustNPM(t, pkgDir(t, "@group/shape", "1.0.0", "x"), "publish")
	base := e.projectRegistry("top")

	get := func(accept string) (http.Header, map[string]any) {
		req, _ := http.NewRequest(http.MethodGet, base+"@group%2fshape", nil)
		req.Header.Set("Authorization", "Bearer "+e.ts.RootToken)
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var doc map[string]any
		if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&doc) != nil {
			t.Fatalf("GET packument: %d", resp.StatusCode)
		}
		return resp.Header, doc
	}
	h, full := get("application/json")
	v := full["versions"].(map[string]any)["1.0.0"].(map[string]any)
	dist := v["dist"].(map[string]any)
	if h.Get("Content-Type") != "application/json" || full["_id"] != "@group/shape" || v["description"] != "test package" ||
		full["dist-tags"].(map[string]any)["latest"] != "1.0.0" || full["time"].(map[string]any)["1.0.0"] == nil ||
		dist["tarball"] != base+"@group/shape/-/shape-1.0.0.tgz" || !strings.HasPrefix(dist["integrity"].(string), "sha512-") || len(dist["shasum"].(string)) != 40 {
		t.Fatalf("full packument: %v", full)
	}
	if _, ok := v["readme"]; ok {
		t.Fatal("the stored manifest kept the readme")
	}
	h, abbr := get("application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*")
	av := abbr["versions"].(map[string]any)["1.0.0"].(map[string]any)
	if h.Get("Content-Type") != "application/vnd.npm.install-v1+json" || abbr["modified"] == nil || av["description"] != nil || av["dist"] == nil || abbr["time"] != nil {
		t.Fatalf("abbreviated packument: %v", abbr)
	}
	// The tarball URL serves the published bytes; GitLab's spelling of it too.
	for _, tu := range []string{dist["tarball"].(string), base + "@group/shape/-/@group/shape-1.0.0.tgz"} {
		status, body := e.do(t, http.MethodGet, tu, e.ts.RootToken, nil)
		s1 := sha1.Sum([]byte(body))
		if status != 200 || hex.EncodeToString(s1[:]) != dist["shasum"] {
			t.Fatalf("GET %s: %d", tu, status)
		}
	}
	// Errors are npm's shape.
	for _, tc := range []struct {
		method, url string
		status      int
	}{
		{http.MethodGet, base + "@group%2fnope", 404},
		{http.MethodGet, base + "@group/shape/-/shape-9.9.9.tgz", 404},
		{http.MethodDelete, base + "@group%2fshape", 405},
		{http.MethodPut, e.instanceRegistry() + "@group%2fshape", 405},
		{http.MethodGet, e.instanceRegistry() + "unscoped", 404},
		{http.MethodGet, e.instanceRegistry() + "@sub%2fshape", 404}, // not a top-level group
	} {
		status, body := e.do(t, tc.method, tc.url, e.ts.RootToken, nil)
		var m struct {
			Error string `json:"error"`
		}
		if status != tc.status || json.Unmarshal([]byte(body), &m) != nil || m.Error == "" {
			t.Fatalf("%s %s: %d %s", tc.method, tc.url, status, body)
		}
	}
	status, _ := e.do(t, http.MethodGet, base+"@group%2fshape", "", nil)
	if status != http.StatusUnauthorized {
		t.Fatalf("anonymous: %d", status)
	}
}
