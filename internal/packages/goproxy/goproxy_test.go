package goproxy_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	"golang.org/x/mod/zip"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// env is a booted server with the fixture tree (group/top, group/sub/child,
// group/sub/subsub/grandchild, other/sibling), the real go and git, and a TLS front: the go
// command sends GOPROXY credentials (userinfo in the URL, or .netrc through GOAUTH=netrc, its
// default) only over HTTPS, even to 127.0.0.1.
type env struct {
	ts       *testenv.TestServer
	f        testenv.Fixture
	goBin    string
	front    string // host:port of the TLS front
	certFile string
}

// modHost is the host part of every module path: the external URL's host name, without the
// port (Go module paths have none).
const modHost = "127.0.0.1"

func start(t *testing.T, opts ...testenv.ServerOption) *env {
	t.Helper()
	e := &env{goBin: testenv.Binary(t, "go")}
	e.ts, e.f = testenv.StartWithFixture(t, opts...)
	target, err := url.Parse(e.ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(target))
	front.StartTLS()
	t.Cleanup(front.Close)
	e.front = strings.TrimPrefix(front.URL, "https://")
	e.certFile = filepath.Join(t.TempDir(), "cert.pem")
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: front.Certificate().Raw})
	if err := os.WriteFile(e.certFile, cert, 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) module(project string) string { return modHost + "/" + e.f.Projects[project].FullPath }

// proxyURL is the project's GOPROXY URL on the TLS front, with userinfo when user is set.
func (e *env) proxyURL(project, user, secret string) string {
	cred := ""
	if user != "" {
		cred = url.UserPassword(user, secret).String() + "@"
	}
	return fmt.Sprintf("https://%s%s/api/v4/projects/%d/packages/go", cred, e.front, e.f.Projects[project].ID)
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// pushModule pushes, as root over Gatehouse's smart HTTP, a module with tags v1.0.0 and
// v1.1.0 and a sub-module "tool" with tag tool/v0.1.0, and returns the module path.
func (e *env) pushModule(t *testing.T, project string) string {
	t.Helper()
	mod := e.module(project)
	work := t.TempDir()
	testenv.Git(t, work, "init", "-q", "-b", "main")
	writeFiles(t, work, map[string]string{"go.mod": "module " + mod + "\n\ngo 1.22\n", "LICENSE": "MIT\n",
		"hello.go": "package child\n\nfunc Hello() string { return \"v1.0.0\" }\n"})
	testenv.Git(t, work, "add", ".")
	testenv.Git(t, work, "commit", "-q", "-m", "v1.0.0")
	testenv.Git(t, work, "tag", "v1.0.0")
	writeFiles(t, work, map[string]string{"hello.go": "package child\n\nfunc Hello() string { return \"v1.1.0\" }\n",
		"tool/go.mod": "module " + mod + "/tool\n\ngo 1.22\n", "tool/tool.go": "package tool\n\nconst Name = \"tool\"\n"})
	testenv.Git(t, work, "add", ".")
	testenv.Git(t, work, "commit", "-q", "-m", "v1.1.0")
	testenv.Git(t, work, "tag", "-a", "-m", "release", "v1.1.0")
	testenv.Git(t, work, "tag", "tool/v0.1.0")
	testenv.Git(t, work, "push", "-q", e.ts.GitURL(e.f.Projects[project].FullPath, "root", e.ts.RootToken), "main", "--tags")
	return mod
}

// goClient is one go user: private GOPATH, module cache, HOME and .netrc; nothing reaches the
// internet (no checksum database, no direct fallback).
type goClient struct {
	e     *env
	dir   string
	proxy string
}

// newClient returns a client of GOPROXY proxy; with a token, a .netrc entry for the front's
// host and port (the go command's default GOAUTH=netrc reads NETRC).
func (e *env) newClient(t *testing.T, proxy, token string) *goClient {
	t.Helper()
	c := &goClient{e: e, dir: t.TempDir(), proxy: proxy}
	host, port, _ := strings.Cut(e.front, ":")
	netrc := ""
	if token != "" {
		netrc = fmt.Sprintf("machine %s:%s login deploy password %s\n", host, port, token)
	}
	if err := os.WriteFile(filepath.Join(c.dir, "netrc"), []byte(netrc), 0o600); err != nil {
		t.Fatal(err)
	}
	// Telemetry is switched off by its mode file (GOTELEMETRY is read-only): otherwise the go
	// command leaves a child process writing under $HOME/.config while the test removes c.dir.
	telemetry := filepath.Join(c.dir, ".config", "go", "telemetry")
	if err := os.MkdirAll(telemetry, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(telemetry, "mode"), []byte("off"), 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *goClient) env() []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + c.dir,
		"GOENV=off",
		"GOPATH=" + filepath.Join(c.dir, "gopath"),
		"GOMODCACHE=" + filepath.Join(c.dir, "modcache"),
		"GOCACHE=" + filepath.Join(c.dir, "cache"),
		"GOPROXY=" + c.proxy,
		"GOSUMDB=off",
		"GONOSUMDB=" + modHost,
		"GOPRIVATE=",
		"GONOPROXY=",
		"GOFLAGS=-mod=mod",
		"GOTOOLCHAIN=local",
		"GOAUTH=netrc",
		"NETRC=" + filepath.Join(c.dir, "netrc"),
		"SSL_CERT_FILE=" + c.e.certFile,
		"CGO_ENABLED=0",
	}
}

// run runs go in dir (a fresh directory when empty) and returns its combined output and exit
// code.
func (c *goClient) run(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	return testenv.RunClient(t, 2*time.Minute, dir, c.env(), c.e.goBin, args...)
}

func (c *goClient) mustRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, code := c.run(t, dir, args...)
	if code != 0 {
		t.Fatalf("go %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// downloaded is `go mod download -json` output.
type downloaded struct {
	Path, Version, Error, Info, GoMod, Zip, Sum, GoModSum string
}

// download runs `go mod download -json spec` and checks the zip against the module zip rules
// and its go.sum hash.
func (c *goClient) download(t *testing.T, spec string) downloaded {
	t.Helper()
	out := c.mustRun(t, "", "mod", "download", "-json", spec)
	var d downloaded
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("go mod download output %q: %v", out, err)
	}
	if d.Error != "" || d.Zip == "" || d.Sum == "" {
		t.Fatalf("go mod download: %+v", d)
	}
	if _, err := zip.CheckZip(module.Version{Path: d.Path, Version: d.Version}, d.Zip); err != nil {
		t.Fatalf("CheckZip %s@%s: %v", d.Path, d.Version, err)
	}
	if h, err := dirhash.HashZip(d.Zip, dirhash.Hash1); err != nil || h != d.Sum {
		t.Fatalf("zip hash %q (%v), go reports %q", h, err, d.Sum)
	}
	return d
}

// fails runs go and expects it to fail with all of wants in its output.
func (c *goClient) fails(t *testing.T, wants []string, args ...string) string {
	t.Helper()
	out, code := c.run(t, "", args...)
	if code == 0 {
		t.Fatalf("go %s succeeded\n%s", strings.Join(args, " "), out)
	}
	t.Logf("go %s (exit %d):\n%s", strings.Join(args, " "), code, out)
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Fatalf("go %s: output lacks %q\n%s", strings.Join(args, " "), w, out)
		}
	}
	return out
}

func (e *env) token(t *testing.T, owner string, scopes ...string) testenv.DeployToken {
	t.Helper()
	return e.ts.CreateDeployToken(t, owner, scopes, nil)
}

func project(e *env, name string) string { return fmt.Sprintf("projects/%d", e.f.Projects[name].ID) }

// TestGoModDownload: the go command downloads and gets a module, its sub-module and @latest
// from a project's repository with deploy tokens, by .netrc and by userinfo in GOPROXY.
func TestGoModDownload(t *testing.T) {
	e := start(t)
	mod := e.pushModule(t, "child")
	tok := e.token(t, project(e, "child"), "read_package_registry")

	t.Run("ok/project token in .netrc downloads", func(t *testing.T) {
		c := e.newClient(t, e.proxyURL("child", "", ""), tok.Token)
		d := c.download(t, mod+"@v1.1.0")
		if d.Version != "v1.1.0" {
			t.Fatalf("downloaded %+v", d)
		}
		gm, err := os.ReadFile(d.GoMod)
		if err != nil || string(gm) != "module "+mod+"\n\ngo 1.22\n" {
			t.Fatalf("go.mod %q, %v", gm, err)
		}
		var info struct {
			Version string
			Time    time.Time
		}
		raw, _ := os.ReadFile(d.Info)
		if err := json.Unmarshal(raw, &info); err != nil || info.Version != "v1.1.0" || info.Time.IsZero() {
			t.Fatalf(".info %s: %v", raw, err)
		}
		sub := c.download(t, mod+"/tool@v0.1.0")
		if sub.Path != mod+"/tool" {
			t.Fatalf("sub-module %+v", sub)
		}
		out := c.mustRun(t, "", "list", "-m", "-versions", mod)
		if strings.TrimSpace(out) != mod+" v1.0.0 v1.1.0" {
			t.Fatalf("go list -versions: %q", out)
		}
	})

	t.Run("ok/token as userinfo in GOPROXY, go get and go.sum", func(t *testing.T) {
		c := e.newClient(t, e.proxyURL("child", "anything", tok.Token), "")
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{"go.mod": "module example.com/consumer\n\ngo 1.22\n",
			"main.go": "package main\n\nimport (\n\tchild \"" + mod + "\"\n\t\"" + mod + "/tool\"\n)\n\nfunc main() { println(child.Hello(), tool.Name) }\n"})
		c.mustRun(t, dir, "get", mod+"@latest", mod+"/tool@v0.1.0")
		gomod, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
		if !strings.Contains(string(gomod), mod+" v1.1.0") || !strings.Contains(string(gomod), mod+"/tool v0.1.0") {
			t.Fatalf("go get wrote:\n%s", gomod)
		}
		d := c.download(t, mod+"@v1.1.0")
		sum, _ := os.ReadFile(filepath.Join(dir, "go.sum"))
		for _, line := range []string{mod + " v1.1.0 " + d.Sum, mod + " v1.1.0/go.mod " + d.GoModSum} {
			if !strings.Contains(string(sum), line+"\n") {
				t.Fatalf("go.sum lacks %q:\n%s", line, sum)
			}
		}
		c.mustRun(t, dir, "mod", "verify")
	})

	t.Run("ok/group token reaches a subgroup project", func(t *testing.T) {
		g := e.token(t, fmt.Sprintf("groups/%d", e.f.GroupID), "read_package_registry")
		c := e.newClient(t, e.proxyURL("child", "", ""), g.Token)
		c.download(t, mod+"@v1.0.0")
	})

	t.Run("fail/wrong token", func(t *testing.T) {
		c := e.newClient(t, e.proxyURL("child", "", ""), "gldt-wrongwrongwrongwrongwrong")
		c.fails(t, []string{"401 Unauthorized"}, "mod", "download", "-json", mod+"@v1.1.0")
	})

	t.Run("fail/go sends no credentials over plain HTTP", func(t *testing.T) {
		plain := fmt.Sprintf("http://deploy:%s@%s/api/v4/projects/%d/packages/go", tok.Token,
			strings.TrimPrefix(e.ts.URL, "http://"), e.f.Projects["child"].ID)
		out := e.newClient(t, plain, "").fails(t, []string{"refusing to pass credentials to insecure URL"},
			"mod", "download", "-json", mod+"@v1.1.0")
		if strings.Contains(out, tok.Token) {
			t.Fatal("go printed the token")
		}
	})

	t.Run("fail/no credentials", func(t *testing.T) {
		c := e.newClient(t, e.proxyURL("child", "", ""), "")
		c.fails(t, []string{"401 Unauthorized"}, "mod", "download", "-json", mod+"@v1.1.0")
	})

	t.Run("fail/token of another project or group", func(t *testing.T) {
		for _, owner := range []string{project(e, "sibling"), project(e, "top"), fmt.Sprintf("groups/%d", e.f.OtherGroupID)} {
			other := e.token(t, owner, "read_package_registry")
			c := e.newClient(t, e.proxyURL("child", "", ""), other.Token)
			c.fails(t, []string{"404 Not Found"}, "mod", "download", "-json", mod+"@v1.1.0")
		}
	})

	t.Run("fail/token without the scope", func(t *testing.T) {
		// read_repository reads the same Git repository, but the proxy is the package registry.
		noScope := e.token(t, project(e, "child"), "read_repository", "write_registry")
		c := e.newClient(t, e.proxyURL("child", "", ""), noScope.Token)
		c.fails(t, []string{"403 Forbidden", "lacks the read_package_registry scope"}, "mod", "download", "-json", mod+"@v1.1.0")
	})

	t.Run("fail/unknown version and module", func(t *testing.T) {
		c := e.newClient(t, e.proxyURL("child", "", ""), tok.Token)
		c.fails(t, []string{"404 Not Found"}, "mod", "download", "-json", mod+"@v1.9.0")
		c.fails(t, []string{"404 Not Found"}, "mod", "download", "-json", mod+"/nothing@v1.0.0")
		// A module of another project, asked through this project's proxy.
		c.fails(t, []string{"404 Not Found"}, "mod", "download", "-json", e.module("top")+"@v1.0.0")
	})

	t.Run("fail/hostile paths", func(t *testing.T) {
		base := fmt.Sprintf("%s/api/v4/projects/%d/packages/go/", e.ts.URL, e.f.Projects["child"].ID)
		for path, want := range map[string]int{
			mod + "/@v/list":                           200,
			mod + "/../../../etc/@v/list":              404, // cleaned by the mux, then a module of no project
			mod + "/%2e%2e/%2e%2e/etc/@v/list":         400,
			"127.0.0.1%2f..%2f..%2fetc/@v/list":        400,
			mod + "/@v/..%2f..%2f..%2fconfig.info":     400,
			mod + "/@v/v1.0.0%00.zip":                  400,
			mod + "/@v/HEAD.info":                      400,
			mod + "/@v/v1.0.0.zip/../../v1.0.0.mod":    404,
			mod + "/-c/@v/list":                        200, // a directory with no versions: empty list
			"--upload-pack=touch/@v/list":              400,
			mod + "/@v/v0.0.0-20240101000000-zzzz.zip": 404, // a valid pre-release, no such tag
			modHost + ":1/group/@v/list":               400,
		} {
			req, _ := http.NewRequest(http.MethodGet, base+path, nil)
			req.Header.Set("Deploy-Token", tok.Token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("GET %s: %d %q, want %d", path, resp.StatusCode, body, want)
			}
		}
	})

	if logs := e.ts.Logs(); strings.Contains(logs, tok.Token) {
		t.Fatal("a deploy token's secret is in the server's logs")
	}
	if !strings.Contains(e.ts.Logs(), "/packages/go/") {
		t.Fatal("the logs recorded no Go proxy request: the secret check proves nothing")
	}
}

// TestRevokedAndExpiredTokens: revoked and expired deploy tokens are 401 with the reason.
func TestRevokedAndExpiredTokens(t *testing.T) {
	e := start(t)
	mod := e.pushModule(t, "top")
	owner := project(e, "top")
	revoked := e.token(t, owner, "read_package_registry")
	tomorrow := e.ts.Clock.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")
	expiring := e.ts.CreateDeployToken(t, owner, []string{"read_package_registry"}, map[string]any{"expires_at": tomorrow})
	for _, tok := range []testenv.DeployToken{revoked, expiring} {
		e.newClient(t, e.proxyURL("top", "", ""), tok.Token).download(t, mod+"@v1.0.0")
	}
	if err := e.ts.Server.Deploy.Revoke(context.Background(), revoked.ID); err != nil {
		t.Fatal(err)
	}
	e.ts.Clock.Advance(49 * time.Hour)
	for name, tok := range map[string]testenv.DeployToken{"revoked": revoked, "expired": expiring} {
		c := e.newClient(t, e.proxyURL("top", "", ""), tok.Token)
		out := c.fails(t, []string{"401 Unauthorized", name}, "mod", "download", "-json", mod+"@v1.1.0")
		if strings.Contains(out, tok.Token) || strings.Contains(e.ts.Logs(), tok.Token) {
			t.Fatalf("the %s token's secret is in go's output or the server's logs", name)
		}
	}
}

// TestExternalAuthorization: while external authorization is on, deploy tokens get a 403 that
// says why; a person's personal access token still works.
func TestExternalAuthorization(t *testing.T) {
	e := start(t, func(c *config.Config) { c.ExternalAuthorization = true })
	mod := e.pushModule(t, "top")
	tok := e.token(t, project(e, "top"), "read_package_registry")
	c := e.newClient(t, e.proxyURL("top", "", ""), tok.Token)
	c.fails(t, []string{"403 Forbidden", "external authorization"}, "mod", "download", "-json", mod+"@v1.1.0")
	e.newClient(t, e.proxyURL("top", "root", e.ts.RootToken), "").download(t, mod+"@v1.1.0")
}

// TestModuleSizeLimit: a module whose files exceed the format's limit (here a blob of zeros
// that Git stores in a few kilobytes) is refused with the limit, not unpacked.
func TestModuleSizeLimit(t *testing.T) {
	e := start(t, func(c *config.Config) { c.Packages.MaxFileSize = map[string]int64{"golang": 256 << 10} })
	mod := e.module("top")
	work := t.TempDir()
	testenv.Git(t, work, "init", "-q", "-b", "main")
	writeFiles(t, work, map[string]string{"go.mod": "module " + mod + "\n", "small.go": "package top\n"})
	testenv.Git(t, work, "add", ".")
	testenv.Git(t, work, "commit", "-q", "-m", "small")
	testenv.Git(t, work, "tag", "v1.0.0")
	writeFiles(t, work, map[string]string{"blob.bin": strings.Repeat("\x00", 4<<20)})
	testenv.Git(t, work, "add", ".")
	testenv.Git(t, work, "commit", "-q", "-m", "bomb")
	testenv.Git(t, work, "tag", "v1.1.0")
	testenv.Git(t, work, "push", "-q", e.ts.GitURL(e.f.Projects["top"].FullPath, "root", e.ts.RootToken), "main", "--tags")

	tok := e.token(t, project(e, "top"), "read_package_registry")
	c := e.newClient(t, e.proxyURL("top", "", ""), tok.Token)
	c.download(t, mod+"@v1.0.0")
	c.fails(t, []string{"413", "exceeds the limit of 262144 bytes"}, "mod", "download", "-json", mod+"@v1.1.0")
}

// TestPostgres: a group token downloads a subgroup project's module on PostgreSQL.
func TestPostgres(t *testing.T) {
	e := start(t, testenv.WithPostgres(t))
	mod := e.pushModule(t, "grandchild")
	tok := e.token(t, fmt.Sprintf("groups/%d", e.f.SubID), "read_package_registry")
	c := e.newClient(t, e.proxyURL("grandchild", "", ""), tok.Token)
	if d := c.download(t, mod+"@latest"); d.Version != "v1.1.0" {
		t.Fatalf("@latest = %s", d.Version)
	}
}
