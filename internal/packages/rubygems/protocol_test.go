package rubygems_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/packages/rubygems"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// do sends one request with header set, and returns the status and body.
func do(t *testing.T, method, u string, header map[string]string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// pushRaw posts a gem as gem push does: the token alone in Authorization.
func pushRaw(t *testing.T, host, key string, gem []byte) (int, string) {
	t.Helper()
	return do(t, http.MethodPost, host+"/api/v1/gems", map[string]string{"Authorization": key, "Content-Type": "application/octet-stream"}, gem)
}

func basicAuth(user, secret string) map[string]string {
	req, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
	req.SetBasicAuth(user, secret)
	return map[string]string{"Authorization": req.Header.Get("Authorization")}
}

// TestIndexes lists the project's gems with the real gem client, which reads specs.4.8.gz,
// latest_specs.4.8.gz and prerelease_specs.4.8.gz, and fetches a quick-index gemspec.
func TestIndexes(t *testing.T) {
	e := start(t)
	tok := e.token(t, e.projectOwner("top"), rw...)
	host := e.projectURL("top")
	for _, v := range []string{"1.0.0", "1.10.0", "1.9.0", "2.0.0.rc1"} {
		e.mustPush(t, host, tok.Token, e.buildGem(t, "lister", v, v))
	}
	src := withAuth(host, tok.Username, tok.Token)
	c := newClient(t)
	for _, tc := range []struct{ args, want []string }{
		{[]string{"--all"}, []string{"lister (1.10.0, 1.9.0, 1.0.0)"}},
		{[]string{"--all", "--prerelease"}, []string{"lister (2.0.0.rc1, 1.10.0, 1.9.0, 1.0.0)"}},
		{nil, []string{"lister (1.10.0)"}},
		{[]string{"--prerelease"}, []string{"lister (2.0.0.rc1)"}},
	} {
		args := append([]string{"list", "--remote", "--clear-sources", "--source", src}, tc.args...)
		out, code := c.run(t, "", e.gem, args...)
		for _, w := range tc.want {
			if code != 0 || !strings.Contains(out, w) {
				t.Fatalf("gem %v: exit %d, want %q\n%s", args, code, w, out)
			}
		}
	}
	// gem specification --remote reads the quick index.
	out, code := c.run(t, "", e.gem, "specification", "--remote", "--clear-sources", "--source", src, "lister", "-v", "1.9.0", "name")
	if code != 0 || !strings.Contains(out, "lister") {
		t.Fatalf("gem specification --remote: exit %d\n%s", code, out)
	}
}

func TestDeployTokenRules(t *testing.T) {
	e := start(t)
	host := e.projectURL("grandchild")
	e.mustPush(t, host, e.ts.RootToken, e.buildGem(t, "deep", "3.0.0", "deep"))
	group := e.token(t, fmt.Sprintf("groups/%d", e.f.GroupID), rw...)
	t.Run("ok/a group token pushes to and installs from a subgroup's project", func(t *testing.T) {
		e.mustPush(t, host, group.Token, e.buildGem(t, "deeper", "1.0.0", "deeper"))
		c := newClient(t)
		if out, code := e.install(t, c, withAuth(host, group.Username, group.Token), "deep", "deeper"); code != 0 {
			t.Fatalf("gem install: exit %d\n%s", code, out)
		}
		if got := e.greeting(t, c, "deep", "Deep::GREETING"); got != "deep" {
			t.Fatalf("installed deep prints %q", got)
		}
	})
	t.Run("fail/another group's and another project's tokens find nothing", func(t *testing.T) {
		other := e.token(t, fmt.Sprintf("groups/%d", e.f.OtherGroupID), rw...)
		top := e.token(t, e.projectOwner("top"), rw...)
		for name, tok := range map[string]testenv.DeployToken{"other group": other, "other project": top} {
			for _, p := range []string{"/gems/deep-3.0.0.gem", "/specs.4.8.gz", "/api/v1/dependencies?gems=deep"} {
				if st, _ := do(t, http.MethodGet, host+p, basicAuth(tok.Username, tok.Token), nil); st != 404 {
					t.Fatalf("%s GET %s: %d", name, p, st)
				}
			}
			if out, code := e.push(t, host, tok.Token, e.buildGem(t, "deep", "9.0.0", "x")); code == 0 || !strings.Contains(out, "404") {
				t.Fatalf("%s push: exit %d\n%s", name, code, out)
			}
		}
	})
	t.Run("fail/a wrong key is 401", func(t *testing.T) {
		if st, body := pushRaw(t, host, "gldt-"+strings.Repeat("x", 20), rubygems.BuildGem("w", "1.0")); st != 401 || !strings.Contains(body, "401") {
			t.Fatalf("wrong key: %d %s", st, body)
		}
		if st, _ := do(t, http.MethodGet, host+"/specs.4.8.gz", nil, nil); st != 401 {
			t.Fatalf("anonymous: %d", st)
		}
	})
}

func TestRevokedAndExpiredTokens(t *testing.T) {
	e := start(t)
	owner, host := e.projectOwner("top"), e.projectURL("top")
	e.mustPush(t, host, e.ts.RootToken, e.buildGem(t, "life", "1.0.0", "alive"))
	revoked := e.token(t, owner, rw...)
	tomorrow := e.ts.Clock.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")
	expiring := e.ts.CreateDeployToken(t, owner, rw, map[string]any{"expires_at": tomorrow})
	for _, tok := range []testenv.DeployToken{revoked, expiring} {
		if out, code := e.install(t, newClient(t), withAuth(host, tok.Username, tok.Token), "life"); code != 0 {
			t.Fatalf("before: exit %d\n%s", code, out)
		}
	}
	if err := e.ts.Server.Deploy.Revoke(context.Background(), revoked.ID); err != nil {
		t.Fatal(err)
	}
	e.ts.Clock.Advance(49 * time.Hour)
	for name, tok := range map[string]testenv.DeployToken{"revoked": revoked, "expired": expiring} {
		out, code := e.install(t, newClient(t), withAuth(host, tok.Username, tok.Token), "life")
		if code == 0 || strings.Contains(out, "Successfully installed") {
			t.Fatalf("%s token install: exit %d\n%s", name, code, out)
		}
		if st, body := do(t, http.MethodGet, host+"/gems/life-1.0.0.gem", basicAuth(tok.Username, tok.Token), nil); st != 401 || !strings.Contains(body, name) {
			t.Fatalf("%s token download: %d %s", name, st, body)
		}
		pout, code := e.push(t, host, tok.Token, e.buildGem(t, "life", "1.1.0", "x"))
		if code == 0 || !strings.Contains(pout, "401") || !strings.Contains(pout, name) {
			t.Fatalf("%s token push: exit %d\n%s", name, code, pout)
		}
		if strings.Contains(e.ts.Logs(), tok.Token) || strings.Contains(out, tok.Token) || strings.Contains(pout, tok.Token) {
			t.Fatalf("the %s token's secret is in the server's logs or a client's output", name)
		}
	}
	if !strings.Contains(e.ts.Logs(), "/packages/rubygems/") {
		t.Fatal("the logs recorded no rubygems request: the secret check proves nothing")
	}
}

func TestExternalAuthorization(t *testing.T) {
	e := start(t, func(c *config.Config) { c.ExternalAuthorization = true })
	tok := e.token(t, e.projectOwner("top"), rw...)
	host := e.projectURL("top")
	out, code := e.push(t, host, tok.Token, e.buildGem(t, "ext", "1.0.0", "x"))
	if code == 0 || !strings.Contains(out, "403 Forbidden") || !strings.Contains(out, "external authorization") {
		t.Fatalf("deploy token push under external authorization: exit %d\n%s", code, out)
	}
	e.ts.AssertNoPackages(t, e.f, packages.RubyGems)
	// People still push and install with personal access tokens; deploy tokens cannot read.
	e.mustPush(t, host, e.ts.RootToken, e.buildGem(t, "ext", "1.0.0", "people"))
	c := newClient(t)
	if out, code := e.install(t, c, withAuth(host, "root", e.ts.RootToken), "ext"); code != 0 {
		t.Fatalf("PAT install: exit %d\n%s", code, out)
	}
	if st, body := do(t, http.MethodGet, host+"/specs.4.8.gz", basicAuth(tok.Username, tok.Token), nil); st != 403 || !strings.Contains(body, "external authorization") {
		t.Fatalf("deploy token read: %d %s", st, body)
	}
}

func TestPostgresPushInstall(t *testing.T) {
	e := start(t, testenv.WithPostgres(t))
	tok := e.token(t, fmt.Sprintf("groups/%d", e.f.GroupID), rw...)
	host := e.projectURL("child")
	e.mustPush(t, host, tok.Token, e.buildGem(t, "pg-gem", "0.1.0", "postgres"))
	c := newClient(t)
	if out, code := e.install(t, c, withAuth(host, tok.Username, tok.Token), "pg-gem"); code != 0 {
		t.Fatalf("gem install: exit %d\n%s", code, out)
	}
	if got := e.greeting(t, c, "pg-gem", "Pg_gem::GREETING"); got != "postgres" {
		t.Fatalf("installed gem prints %q", got)
	}
}

func TestHostileInput(t *testing.T) {
	const limit = 8 << 10
	e := start(t, testenv.MaxFileSize(packages.RubyGems, limit))
	tok := e.token(t, e.projectOwner("top"), rw...)
	host := e.projectURL("top")
	meta, data := rubygems.Gz(rubygems.SpecYAML("h", "1.0")), rubygems.Gz([]byte("data"))
	gem := func(meta, data, sums []byte) []byte {
		return rubygems.MakeGem(rubygems.NewGemEntry("metadata.gz", meta), rubygems.NewGemEntry("data.tar.gz", data),
			rubygems.NewGemEntry("checksums.yaml.gz", sums))
	}
	noise := make([]byte, 2*limit)
	if _, err := rand.Read(noise); err != nil { // incompressible
		t.Fatal(err)
	}
	big := rubygems.Gz(noise)
	for _, tc := range []struct {
		name   string
		body   []byte
		status int
		why    string
	}{
		{"fail/not a gem", []byte("PK\x03\x04 not a tar"), 400, "tar"},
		{"fail/checksum mismatch", gem(meta, data, rubygems.Gz(rubygems.ChecksumsYAML(meta, rubygems.Gz([]byte("other"))))), 400, "does not match"},
		{"fail/traversal in the name", gem(rubygems.Gz(rubygems.SpecYAML("../../etc", "1.0")), data, rubygems.Gz(rubygems.ChecksumsYAML(meta, data))), 400, "gem name"},
		{"fail/traversal in the version", gem(rubygems.Gz(rubygems.SpecYAML("h", "1.0/../../x")), data, rubygems.Gz(rubygems.ChecksumsYAML(meta, data))), 400, "version"},
		{"fail/traversal in an entry", rubygems.MakeGem(rubygems.NewGemEntry("../../metadata.gz", meta)), 400, "entry"},
		{"fail/oversized", gem(meta, big, rubygems.Gz(rubygems.ChecksumsYAML(meta, big))), 413, "limit"},
		{"fail/a metadata gzip bomb", rubygems.MakeGem(rubygems.NewGemEntry("metadata.gz", rubygems.Gz(make([]byte, 3<<20)))), 413, "decompresses"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body := pushRaw(t, host, tok.Token, tc.body)
			if st != tc.status || !strings.Contains(body, tc.why) {
				t.Fatalf("status %d body %q; want %d mentioning %q", st, body, tc.status, tc.why)
			}
			e.ts.AssertNoPackages(t, e.f, packages.RubyGems)
		})
	}
	t.Run("fail/gem push itself shows the size refusal", func(t *testing.T) {
		// gem push checks a gem's checksums itself before sending it: a gem too large is what
		// it sends and the server refuses.
		file := filepath.Join(t.TempDir(), "h-1.0.gem")
		if err := os.WriteFile(file, gem(meta, big, rubygems.Gz(rubygems.ChecksumsYAML(meta, big))), 0o644); err != nil {
			t.Fatal(err)
		}
		out, code := e.push(t, host, tok.Token, file)
		if code == 0 || !strings.Contains(out, "413") || !strings.Contains(out, "limit") {
			t.Fatalf("gem push: exit %d\n%s", code, out)
		}
		e.ts.AssertNoPackages(t, e.f, packages.RubyGems)
	})
	t.Run("fail/hostile paths", func(t *testing.T) {
		prefix := fmt.Sprintf("/api/v4/projects/%d/packages/rubygems", e.f.Projects["top"].ID)
		for _, p := range []string{"/gems/..%2f..%2fetc%2fpasswd.gem", "/gems/%2e%2e.gem", "/gems/h-1.0%00.gem",
			"/quick/Marshal.4.8/..%2fh-1.0.gemspec.rz", "/gems/h-1.0%5c..%5cx.gem"} {
			if st, body := testenv.RawRequest(t, e.ts.URL, http.MethodGet, prefix+p, tok.Token, nil); st != 400 || !strings.HasPrefix(body, "400 Bad Request") {
				t.Fatalf("%s: %d %s", p, st, body)
			}
		}
		if st, _ := testenv.RawRequest(t, e.ts.URL, http.MethodGet, prefix+"/gems/../../../etc/passwd", tok.Token, nil); st != 404 && st != 400 {
			t.Fatalf("unnormalised traversal: %d", st)
		}
	})
	t.Run("ok/a valid gem after all that", func(t *testing.T) {
		if st, body := pushRaw(t, host, tok.Token, gem(meta, data, rubygems.Gz(rubygems.ChecksumsYAML(meta, data)))); st != 201 {
			t.Fatalf("push: %d %s", st, body)
		}
	})
}

// TestPackagesAPI: the REST API lists a pushed gem as package_type rubygems and deletes it; its
// blob is referenced (garbage collection keeps it) until then, and the indexes and downloads
// follow the delete.
func TestPackagesAPI(t *testing.T) {
	e := start(t)
	host, id := e.projectURL("top"), e.f.Projects["top"].ID
	gem := rubygems.BuildGem("listed", "1.0.0")
	if st, body := pushRaw(t, host, e.ts.RootToken, gem); st != 201 {
		t.Fatalf("push: %d %s", st, body)
	}
	sum := sha256.Sum256(gem)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	referenced := func() bool {
		found, err := e.ts.Server.Store.Packages.References().ReferencedAmong(t.Context(), []string{digest})
		if err != nil {
			t.Fatal(err)
		}
		return len(found) == 1
	}
	if !referenced() {
		t.Fatal("the gem's blob is not referenced: garbage collection would remove it")
	}
	var list []struct {
		ID          int64  `json:"id"`
		Name        string `json:"name"`
		Version     string `json:"version"`
		PackageType string `json:"package_type"`
	}
	e.ts.MustAPI(t, http.StatusOK, http.MethodGet, fmt.Sprintf("/projects/%d/packages?package_type=rubygems", id), nil, &list)
	if len(list) != 1 || list[0].Name != "listed" || list[0].Version != "1.0.0" || list[0].PackageType != "rubygems" {
		t.Fatalf("packages = %+v", list)
	}
	e.ts.MustAPI(t, http.StatusNoContent, http.MethodDelete, fmt.Sprintf("/projects/%d/packages/%d", id, list[0].ID), nil, nil)
	root := map[string]string{"Private-Token": e.ts.RootToken}
	if st, _ := do(t, http.MethodGet, host+"/gems/listed-1.0.0.gem", root, nil); st != 404 {
		t.Fatalf("download after delete: %d", st)
	}
	if st, body := do(t, http.MethodGet, host+"/api/v1/dependencies?gems=listed", root, nil); st != 200 || body != "\x04\x08[\x00" {
		t.Fatalf("dependencies after delete: %d %q", st, body)
	}
	if referenced() {
		t.Fatal("the deleted gem's blob is still referenced")
	}
}
