package debian_test

import (
	"bytes"
	"encoding/json"
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

	"github.com/gatehouse-dev/gatehouse/internal/packages/debian"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// env is a booted server with the fixture tree (group/top, group/sub/child,
// group/sub/subsub/grandchild, other/sibling).
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

var rw = []string{"read_package_registry", "write_package_registry"}

func (e *env) token(t *testing.T, owner string, scopes ...string) testenv.DeployToken {
	t.Helper()
	return e.ts.CreateDeployToken(t, owner, scopes, nil)
}

func (e *env) projectOwner(name string) string {
	return fmt.Sprintf("projects/%d", e.f.Projects[name].ID)
}

// repo is a project's Debian repository URL (apt's sources line), without a trailing slash.
func (e *env) repo(project string) string {
	return fmt.Sprintf("%s/api/v4/projects/%d/packages/debian", e.ts.URL, e.f.Projects[project].ID)
}

func (e *env) groupRepo(id int64) string {
	return fmt.Sprintf("%s/api/v4/groups/%d/-/packages/debian", e.ts.URL, id)
}

// do sends a request with the deploy token as apt and curl send it (basic auth, its username).
func do(t testing.TB, method, u string, tok testenv.DeployToken, body io.Reader, header ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Token != "" {
		req.SetBasicAuth(tok.Username, tok.Token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// createDistribution creates codename in the project or group (owner "projects/<id>" or
// "groups/<id>/-") as GitLab's docs show, and returns its armored public key.
func (e *env) createDistribution(t testing.TB, owner, codename string, tok testenv.DeployToken) string {
	t.Helper()
	form := url.Values{"codename": {codename}, "components[]": {"main", "contrib"}, "architectures[]": {"amd64", "arm64"}}
	status, body := do(t, http.MethodPost, e.ts.URL+"/api/v4/"+owner+"/debian_distributions", tok,
		strings.NewReader(form.Encode()), "Content-Type", "application/x-www-form-urlencoded")
	if status != http.StatusCreated {
		t.Fatalf("create distribution: %d %s", status, body)
	}
	var d struct {
		Codename      string   `json:"codename"`
		Suite         *string  `json:"suite"`
		Components    []string `json:"components"`
		Architectures []string `json:"architectures"`
	}
	if err := json.Unmarshal(body, &d); err != nil || d.Codename != codename || d.Suite != nil ||
		strings.Join(d.Components, ",") != "main,contrib" || strings.Join(d.Architectures, ",") != "all,amd64,arm64" {
		t.Fatalf("created %s (%v)", body, err)
	}
	status, key := do(t, http.MethodGet, e.ts.URL+"/api/v4/"+owner+"/debian_distributions/"+codename+"/key.asc", tok, nil)
	if status != http.StatusOK || !bytes.HasPrefix(key, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----")) {
		t.Fatalf("key.asc: %d %s", status, key)
	}
	return string(key)
}

// upload PUTs a .deb as GitLab's docs show (curl --upload-file … ?distribution=&component=).
func (e *env) upload(t testing.TB, project, codename, component string, deb []byte, filename string, tok testenv.DeployToken) (int, string) {
	t.Helper()
	status, body := do(t, http.MethodPut, e.repo(project)+"/"+filename+"?distribution="+codename+"&component="+component, tok, bytes.NewReader(deb))
	return status, string(body)
}

// apt is a throw-away apt root: its own configuration, sources, auth.conf.d, lists, cache and
// dpkg status, so the machine's apt is never touched.
type apt struct {
	t     testing.TB
	bin   string
	root  string
	env   []string
	token string
}

func newApt(t testing.TB) *apt {
	t.Helper()
	bin := testenv.Binary(t, "apt-get")
	testenv.Binary(t, "gpgv")
	root := t.TempDir()
	for _, d := range []string{"etc/apt/apt.conf.d", "etc/apt/preferences.d", "etc/apt/sources.list.d", "etc/apt/auth.conf.d",
		"etc/apt/trusted.gpg.d", "etc/apt/keyrings", "var/lib/apt/lists/partial", "var/cache/apt/archives/partial", "var/lib/dpkg", "var/log/apt", "download"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`Dir "%[1]s/";
Dir::State::status "%[1]s/var/lib/dpkg/status";
Debug::NoLocking "true";
APT::Sandbox::User "root";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
Acquire::Languages "none";
Acquire::Retries "0";
Acquire::http::Proxy "DIRECT";
`, root)
	a := &apt{t: t, bin: bin, root: root, env: []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + root,
		"APT_CONFIG=" + filepath.Join(root, "apt.conf"), "LC_ALL=C"}}
	a.write("apt.conf", conf)
	a.write("var/lib/dpkg/status", "")
	return a
}

func (a *apt) write(name, content string) string {
	a.t.Helper()
	p := filepath.Join(a.root, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		a.t.Fatal(err)
	}
	return p
}

// source points apt at repo (codename, main) with the key, and the deploy token in
// auth.conf.d (apt sends auth.conf credentials over http only to machines written with http://).
func (a *apt) source(repo, codename, key string, tok testenv.DeployToken) {
	a.t.Helper()
	keyPath := a.write("etc/apt/keyrings/gatehouse-"+codename+".asc", key)
	a.write("etc/apt/sources.list", fmt.Sprintf("deb [signed-by=%s] %s %s main\n", keyPath, repo, codename))
	a.token = tok.Token
	a.write("etc/apt/auth.conf.d/gatehouse.conf", fmt.Sprintf("machine %s\nlogin %s\npassword %s\n",
		repo, tok.Username, tok.Token))
}

// run runs apt-get; its output must never show the token it was given.
func (a *apt) run(args ...string) (string, int) {
	a.t.Helper()
	out, code := testenv.RunClient(a.t, 2*time.Minute, filepath.Join(a.root, "download"), a.env, a.bin, args...)
	if a.token != "" && strings.Contains(out, a.token) {
		a.t.Fatalf("apt-get %v shows the deploy token", args)
	}
	return out, code
}

// TestAptInstallsWithDeployToken: a project's distribution is created and a .deb uploaded with
// a write token; apt-get update (verifying InRelease with the distribution's key) and apt-get
// download with a read-only token fetch the very file; a Release that does not match its
// signature, and a key of another distribution, make apt-get update fail.
func TestAptInstallsWithDeployToken(t *testing.T) {
	e := start(t)
	a := newApt(t)
	writer := e.token(t, e.projectOwner("top"), rw...)
	reader := e.token(t, e.projectOwner("top"), "read_package_registry")
	key := e.createDistribution(t, e.projectOwner("top"), "gatehouse", writer)

	deb, err := os.ReadFile("testdata/gatehouse-hello_1.0-1_all.deb")
	if err != nil {
		t.Fatal(err)
	}
	if status, body := e.upload(t, "top", "gatehouse", "main", deb, "gatehouse-hello_1.0-1_all.deb", writer); status != http.StatusCreated {
		t.Fatalf("upload: %d %s", status, body)
	}
	amd := debian.BuildDeb(t, "libgreet", "2:1.5~rc1-2", "amd64", map[string]string{"Depends": "gatehouse-hello (>= 1.0)"})
	if status, body := e.upload(t, "top", "gatehouse", "main", amd, "libgreet_1.5~rc1-2_amd64.deb", writer); status != http.StatusCreated {
		t.Fatalf("upload: %d %s", status, body)
	}

	a.source(e.repo("top"), "gatehouse", key, reader)
	if out, code := a.run("update"); code != 0 || strings.Contains(out, "W:") || strings.Contains(out, "E:") {
		t.Fatalf("apt-get update: exit %d\n%s", code, out)
	}
	for _, name := range []string{"gatehouse-hello", "libgreet"} {
		if out, code := a.run("download", name); code != 0 {
			t.Fatalf("apt-get download %s: exit %d\n%s", name, code, out)
		}
	}
	got, _ := filepath.Glob(filepath.Join(a.root, "download", "*.deb"))
	if len(got) != 2 {
		t.Fatalf("downloaded %v", got)
	}
	for _, p := range got {
		b, _ := os.ReadFile(p)
		if !bytes.Equal(b, deb) && !bytes.Equal(b, amd) {
			t.Fatalf("%s differs from what was uploaded", p)
		}
	}
	out, code := a.run("install", "--simulate", "libgreet")
	if code != 0 || !strings.Contains(out, "Inst gatehouse-hello") || !strings.Contains(out, "Inst libgreet (2:1.5~rc1-2") {
		t.Fatalf("apt-get install --simulate: exit %d\n%s", code, out)
	}

	if logs := e.ts.Logs(); strings.Contains(logs, reader.Token) || strings.Contains(logs, writer.Token) {
		t.Fatal("a deploy token is in the server's logs")
	}

	t.Run("tampered Release fails", func(t *testing.T) {
		target, _ := url.Parse(e.ts.URL)
		proxy := httputil.NewSingleHostReverseProxy(target)
		proxy.ModifyResponse = func(r *http.Response) error {
			if !strings.HasSuffix(r.Request.URL.Path, "Release") && !strings.HasSuffix(r.Request.URL.Path, "Release.gpg") {
				return nil
			}
			b, err := io.ReadAll(r.Body)
			if err != nil {
				return err
			}
			b = bytes.Replace(b, []byte("Codename: gatehouse"), []byte("Codename: gatehousf"), 1)
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
			r.Header.Set("Content-Length", fmt.Sprint(len(b)))
			return nil
		}
		front := httptest.NewServer(proxy)
		defer front.Close()
		b := newApt(t)
		b.source(strings.Replace(e.repo("top"), e.ts.URL, front.URL, 1), "gatehouse", key, reader)
		if out, code := b.run("update"); code == 0 || !strings.Contains(out, "BADSIG") && !strings.Contains(out, "not signed") {
			t.Fatalf("apt-get update through a tampering proxy: exit %d\n%s", code, out)
		}
	})

	t.Run("another key fails", func(t *testing.T) {
		other := e.createDistribution(t, e.projectOwner("top"), "other", writer)
		b := newApt(t)
		b.source(e.repo("top"), "gatehouse", other, reader)
		if out, code := b.run("update"); code == 0 || !strings.Contains(out, "NO_PUBKEY") {
			t.Fatalf("apt-get update with another distribution's key: exit %d\n%s", code, out)
		}
	})
}
