package extauthz_test

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// e2e is a server with the fixture tree, a real external authorization service, a pushed
// repository, a generic package and an image in project "top", and two people: alice and bob,
// developers of the group, each with a personal access token.
type e2e struct {
	ts         *testenv.TestServer
	f          testenv.Fixture
	svc        *classifier
	host       string
	top        testenv.Project
	tok        testenv.DeployToken
	alice, bob string // personal access tokens
	pkgURL     string
	image      string
}

func localhost(c *config.Config) {
	c.ExternalURL = strings.Replace(c.ExternalURL, "://127.0.0.1:", "://localhost:", 1)
}

func startE2E(t *testing.T) *e2e {
	t.Helper()
	e := &e2e{svc: newClassifier(t)}
	e.ts = testenv.StartServer(t, localhost)
	e.f = e.ts.MakeFixture(t)
	u, _ := url.Parse(e.ts.URL)
	e.host = u.Host
	e.top = e.f.Projects["top"]
	git := testenv.Binary(t, "git")

	// A commit in group/top, pushed by root.
	work := t.TempDir()
	testenv.MustRun(t, work, git, "init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(work, "README.md"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.MustRun(t, work, git, "add", ".")
	testenv.MustRun(t, work, git, "commit", "-q", "-m", "initial")
	testenv.MustRun(t, work, git, "push", "-q", e.ts.GitURL(e.top.FullPath, "root", e.ts.RootToken), "main")

	// A generic package, uploaded by root.
	e.pkgURL = fmt.Sprintf("%s/api/v4/projects/%d/packages/generic/tool/1.0/tool.bin", e.ts.URL, e.top.ID)
	if code := e.curl(t, "PRIVATE-TOKEN: "+e.ts.RootToken, "--upload-file", writeFile(t, work, "tool.bin", 100), e.pkgURL); code != http.StatusCreated {
		t.Fatalf("upload package: %d", code)
	}

	// An image, pushed by root.
	e.image = e.host + "/" + e.top.FullPath + "/app:v1"
	home := t.TempDir()
	c := testenv.GoTool(t, "crane")
	testenv.MustRun(t, home, c, "auth", "login", e.host, "-u", "root", "-p", e.ts.RootToken)
	testenv.MustRun(t, home, c, "append", "--new_layer", writeFile(t, home, "layer.bin", 2000), "-t", e.image)

	e.tok = e.ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", e.top.ID),
		[]string{"read_repository", "read_registry", "read_package_registry"}, nil)
	e.alice = e.person(t, "alice")
	e.bob = e.person(t, "bob")
	return e
}

// person creates a developer of the fixture's group with a personal access token.
func (e *e2e) person(t *testing.T, name string) string {
	t.Helper()
	var u struct {
		ID int64 `json:"id"`
	}
	e.ts.MustAPI(t, 201, "POST", "/users", map[string]any{"username": name, "email": name + "@example.com",
		"name": name, "password": "password-" + name + "-1234"}, &u)
	e.ts.MustAPI(t, 201, "POST", fmt.Sprintf("/groups/%d/members", e.f.GroupID), map[string]any{"user_id": u.ID, "access_level": 30}, nil)
	var pat struct {
		Token string `json:"token"`
	}
	e.ts.MustAPI(t, 201, "POST", fmt.Sprintf("/users/%d/personal_access_tokens", u.ID),
		map[string]any{"name": "t", "scopes": []string{"api"}}, &pat)
	return pat.Token
}

func writeFile(t *testing.T, dir, name string, size int) string {
	t.Helper()
	b := make([]byte, size)
	_, _ = rand.Read(b)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// curl runs curl with one header and returns the status.
func (e *e2e) curl(t *testing.T, header string, args ...string) int {
	t.Helper()
	out, err := exec.Command(testenv.Binary(t, "curl"), append([]string{"-sS", "-o", os.DevNull, "-w", "%{http_code}",
		"--header", header}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	var code int
	_, _ = fmt.Sscanf(string(out), "%d", &code)
	return code
}

// curlBody is curl returning the status and body of a GET.
func (e *e2e) curlBody(t *testing.T, header, u string) (int, string) {
	t.Helper()
	body := filepath.Join(t.TempDir(), "body")
	out, err := exec.Command(testenv.Binary(t, "curl"), "-sS", "-o", body, "-w", "%{http_code}", "--header", header, u).CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	var code int
	_, _ = fmt.Sscanf(string(out), "%d", &code)
	b, _ := os.ReadFile(body)
	return code, string(b)
}

func (e *e2e) clone(t *testing.T, user, secret string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	return testenv.Run(t, dir, testenv.Binary(t, "git"), "clone", "-q", e.ts.GitURL(e.top.FullPath, user, secret), filepath.Join(dir, "c"))
}

func (e *e2e) pull(t *testing.T, user, secret string) (string, error) {
	t.Helper()
	home := t.TempDir()
	c := testenv.GoTool(t, "crane")
	if out, err := testenv.Run(t, home, c, "auth", "login", e.host, "-u", user, "-p", secret); err != nil {
		return out, err
	}
	return testenv.Run(t, home, c, "pull", e.image, filepath.Join(home, "img.tar"))
}

// setExternal turns the service on (at the classifier, default label "internal") or off.
func (e *e2e) setExternal(t *testing.T, on bool) {
	t.Helper()
	body := map[string]any{"external_authorization_service_enabled": on}
	if on {
		body["external_authorization_service_url"] = e.svc.srv.URL
		body["external_authorization_service_default_label"] = "internal"
		body["external_authorization_service_timeout"] = 0.5
	}
	e.ts.MustAPI(t, 200, "PUT", "/application/settings", body, nil)
}

func TestExternalAuthorizationEndToEnd(t *testing.T) {
	e := startE2E(t)
	// The service clears alice for "internal" only; bob for nothing.
	e.svc.set(func(c *classifier) { c.allow["internal"] = map[string]bool{"alice@example.com": true} })

	allWork := func(t *testing.T) {
		t.Helper()
		if out, err := e.clone(t, e.tok.Username, e.tok.Token); err != nil {
			t.Fatalf("deploy token clone: %v\n%s", err, out)
		}
		if code := e.curl(t, "Deploy-Token: "+e.tok.Token, e.pkgURL); code != http.StatusOK {
			t.Fatalf("deploy token package download: %d", code)
		}
		if out, err := e.pull(t, e.tok.Username, e.tok.Token); err != nil {
			t.Fatalf("deploy token pull: %v\n%s", err, out)
		}
		for _, pat := range []string{e.alice, e.bob} {
			if out, err := e.clone(t, "someone", pat); err != nil {
				t.Fatalf("person's clone: %v\n%s", err, out)
			}
		}
	}
	t.Run("ok/off: everything works", allWork)

	e.setExternal(t, true)
	t.Run("fail/on: deploy token git clone refused with the reason", func(t *testing.T) {
		out, err := e.clone(t, e.tok.Username, e.tok.Token)
		if err == nil || !strings.Contains(out, "external authorization is enabled: deploy tokens cannot be used for Git") {
			t.Fatalf("clone = %v\n%s", err, out)
		}
	})
	t.Run("fail/on: deploy token package download refused", func(t *testing.T) {
		code, body := e.curlBody(t, "Deploy-Token: "+e.tok.Token, e.pkgURL)
		if code != http.StatusForbidden || !strings.Contains(body, "external authorization is enabled: deploy tokens cannot be used for the package registry") {
			t.Fatalf("download = %d %s", code, body)
		}
	})
	t.Run("ok/on: deploy token registry pull still works", func(t *testing.T) {
		if out, err := e.pull(t, e.tok.Username, e.tok.Token); err != nil {
			t.Fatalf("pull: %v\n%s", err, out)
		}
	})
	t.Run("ok/on: a person the service allows clones and downloads", func(t *testing.T) {
		if out, err := e.clone(t, "alice", e.alice); err != nil {
			t.Fatalf("clone: %v\n%s", err, out)
		}
		if code := e.curl(t, "PRIVATE-TOKEN: "+e.alice, e.pkgURL); code != http.StatusOK {
			t.Fatalf("download: %d", code)
		}
	})
	t.Run("fail/on: a person the service denies is refused with its reason", func(t *testing.T) {
		out, err := e.clone(t, "bob", e.bob)
		if err == nil || !strings.Contains(out, "not cleared for this label") {
			t.Fatalf("clone = %v\n%s", err, out)
		}
		if code := e.curl(t, "PRIVATE-TOKEN: "+e.bob, e.pkgURL); code != http.StatusForbidden {
			t.Fatalf("download: %d", code)
		}
		if code := e.ts.APIAs(t, e.bob, "GET", fmt.Sprintf("/projects/%d", e.top.ID), nil, nil); code != http.StatusForbidden {
			t.Fatalf("API project view: %d", code)
		}
	})
	t.Run("ok/on: answers are cached", func(t *testing.T) {
		before := e.svc.hits.Load()
		for range 3 {
			if out, err := e.clone(t, "alice", e.alice); err != nil {
				t.Fatalf("clone: %v\n%s", err, out)
			}
		}
		if got := e.svc.hits.Load() - before; got != 0 {
			t.Fatalf("service asked %d times for cached answers", got)
		}
	})
	t.Run("ok/on: the project's own label is asked about", func(t *testing.T) {
		var p map[string]any
		e.ts.MustAPI(t, 200, "PUT", fmt.Sprintf("/projects/%d", e.top.ID),
			map[string]any{"external_authorization_classification_label": "restricted"}, &p)
		if p["external_authorization_classification_label"] != "restricted" {
			t.Fatalf("project JSON: %v", p)
		}
		if out, err := e.clone(t, "alice", e.alice); err == nil || !strings.Contains(out, "not cleared") {
			t.Fatalf("alice cloned a restricted project: %v\n%s", err, out)
		}
		e.svc.set(func(c *classifier) { c.allow["restricted"] = map[string]bool{"alice@example.com": true} })
		e.ts.MustAPI(t, 200, "PUT", "/application/settings", map[string]any{"external_authorization_service_timeout": 0.5}, nil) // forgets cached answers
		if out, err := e.clone(t, "alice", e.alice); err != nil {
			t.Fatalf("clone: %v\n%s", err, out)
		}
		e.ts.MustAPI(t, 200, "PUT", fmt.Sprintf("/projects/%d", e.top.ID), map[string]any{"external_authorization_classification_label": ""}, nil)
	})
	t.Run("ok/on: root (an administrator) is not checked", func(t *testing.T) {
		if out, err := e.clone(t, "root", e.ts.RootToken); err != nil {
			t.Fatalf("clone: %v\n%s", err, out)
		}
	})
	t.Run("fail/on: a slow service denies", func(t *testing.T) {
		e.svc.set(func(c *classifier) { c.delay = 2 * 1e9 })
		defer e.svc.set(func(c *classifier) { c.delay = 0 })
		e.ts.MustAPI(t, 200, "PUT", "/application/settings", map[string]any{"external_authorization_service_timeout": 0.5}, nil)
		out, err := e.clone(t, "alice", e.alice)
		if err == nil || !strings.Contains(out, "did not answer") {
			t.Fatalf("clone with a slow service = %v\n%s", err, out)
		}
	})

	e.setExternal(t, false)
	t.Run("ok/off again: everything works", allWork)
}

func TestApplicationSettingsAPI(t *testing.T) {
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	top := f.Projects["top"]
	tok := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", top.ID), []string{"read_repository", "read_package_registry"}, nil)

	var got map[string]any
	ts.MustAPI(t, 200, "GET", "/application/settings", nil, &got)
	if got["external_authorization_service_enabled"] != false || got["external_authorization_service_timeout"] != 0.5 ||
		got["external_authorization_service_url"] != nil {
		t.Fatalf("defaults: %v", got)
	}
	ts.MustAPI(t, 200, "PUT", "/application/settings", map[string]any{"external_authorization_service_enabled": true,
		"external_authorization_service_url": "http://127.0.0.1:1/authz", "external_authorization_service_timeout": 2.5,
		"external_authorization_service_default_label": "internal"}, &got)
	if got["external_authorization_service_enabled"] != true || got["external_authorization_service_timeout"] != 2.5 ||
		got["external_authorization_service_url"] != "http://127.0.0.1:1/authz" || got["external_authorization_service_default_label"] != "internal" {
		t.Fatalf("after PUT: %v", got)
	}

	// A developer (not an administrator) with an api token.
	var dev struct {
		ID int64 `json:"id"`
	}
	ts.MustAPI(t, 201, "POST", "/users", map[string]any{"username": "dev", "email": "dev@example.com", "name": "dev", "password": "password-dev-1234"}, &dev)
	ts.MustAPI(t, 201, "POST", fmt.Sprintf("/projects/%d/members", top.ID), map[string]any{"user_id": dev.ID, "access_level": 40}, nil)
	var pat struct {
		Token string `json:"token"`
	}
	ts.MustAPI(t, 201, "POST", fmt.Sprintf("/users/%d/personal_access_tokens", dev.ID), map[string]any{"name": "t", "scopes": []string{"api"}}, &pat)

	cases := []struct {
		name      string
		as        string
		method    string
		path      string
		body      any
		want      int
		useHeader string
	}{
		{"fail/invalid timeout", ts.RootToken, "PUT", "/application/settings", map[string]any{"external_authorization_service_timeout": 20}, 400, ""},
		{"fail/enabled without URL", ts.RootToken, "PUT", "/application/settings", map[string]any{"external_authorization_service_url": ""}, 400, ""},
		{"fail/URL not http", ts.RootToken, "PUT", "/application/settings", map[string]any{"external_authorization_service_url": "file:///etc/passwd"}, 400, ""},
		{"fail/non-admin reads", pat.Token, "GET", "/application/settings", nil, 403, ""},
		{"fail/non-admin writes", pat.Token, "PUT", "/application/settings", map[string]any{"external_authorization_service_enabled": false}, 403, ""},
		{"fail/anonymous", "", "GET", "/application/settings", nil, 401, ""},
		{"fail/maintainer sets a label", pat.Token, "PUT", fmt.Sprintf("/projects/%d", top.ID), map[string]any{"external_authorization_classification_label": "x"}, 403, ""},
		{"fail/unsupported project attribute", ts.RootToken, "PUT", fmt.Sprintf("/projects/%d", top.ID), map[string]any{"topics": "x"}, 400, ""},
		{"ok/admin sets a label", ts.RootToken, "PUT", fmt.Sprintf("/projects/%d", top.ID), map[string]any{"external_authorization_classification_label": "secret"}, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if code := ts.APIAs(t, tc.as, tc.method, tc.path, tc.body, nil); code != tc.want {
				t.Fatalf("%s %s = %d, want %d", tc.method, tc.path, code, tc.want)
			}
		})
	}
	t.Run("fail/deploy token", func(t *testing.T) {
		for _, h := range []string{"PRIVATE-TOKEN", "Deploy-Token"} {
			req, _ := http.NewRequest("GET", ts.URL+"/api/v4/application/settings", nil)
			req.Header.Set(h, tok.Token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%s: deploy token got %d, want 401", h, resp.StatusCode)
			}
		}
	})
	t.Run("ok/label shown in project JSON", func(t *testing.T) {
		var p map[string]any
		ts.MustAPI(t, 200, "GET", fmt.Sprintf("/projects/%d", top.ID), nil, &p)
		if p["external_authorization_classification_label"] != "secret" {
			t.Fatalf("project JSON: %v", p)
		}
	})
	t.Run("ok/settings unchanged by refused requests", func(t *testing.T) {
		ts.MustAPI(t, 200, "GET", "/application/settings", nil, &got)
		if got["external_authorization_service_enabled"] != true || got["external_authorization_service_timeout"] != 2.5 {
			t.Fatalf("settings: %v", got)
		}
	})
}

func TestConfigFlagBootstrap(t *testing.T) {
	ts := testenv.StartServer(t, func(c *config.Config) { c.ExternalAuthorization = true })
	var got map[string]any
	ts.MustAPI(t, 200, "GET", "/application/settings", nil, &got)
	if got["external_authorization_service_enabled"] != true {
		t.Fatalf("flag not shown as enabled: %v", got)
	}
	if code := ts.API(t, "PUT", "/application/settings", map[string]any{"external_authorization_service_enabled": false}, nil); code != 400 {
		t.Fatalf("turning off a forced setting: %d, want 400", code)
	}
}
