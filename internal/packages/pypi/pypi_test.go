package pypi_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
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

// python is Debian's interpreter, whose pip (python3-pip) and venv (python3-venv) the tests use.
const python = "/usr/bin/python3"

// env is a booted server with the fixture tree (group/top, group/sub/child,
// group/sub/subsub/grandchild, other/sibling) and the real twine and pip.
type env struct {
	ts    *testenv.TestServer
	f     testenv.Fixture
	twine string
	host  string
}

func start(t *testing.T, opts ...testenv.ServerOption) *env {
	t.Helper()
	e := &env{twine: testenv.Binary(t, "twine")}
	if _, err := os.Stat(python); err != nil {
		testenv.Missing(t, "%s not installed (Debian python3)", python)
	}
	if out, err := exec.Command(python, "-c", "import pip, venv").CombinedOutput(); err != nil {
		testenv.Missing(t, "python3-pip and python3-venv are needed: %v\n%s", err, out)
	}
	e.ts, e.f = testenv.StartWithFixture(t, opts...)
	e.host = e.ts.Host()
	return e
}

// projectURL is a project's repository URL (twine's --repository-url); + "/simple" is pip's index.
func (e *env) projectURL(project string) string {
	return fmt.Sprintf("http://%s/api/v4/projects/%d/packages/pypi", e.host, e.f.Projects[project].ID)
}

func (e *env) groupURL(id int64) string {
	return fmt.Sprintf("http://%s/api/v4/groups/%d/-/packages/pypi", e.host, id)
}

// withAuth puts basic-auth credentials into an index URL, as GitLab documents for pip.
func withAuth(u, user, secret string) string {
	return strings.Replace(u, "http://", "http://"+url.PathEscape(user)+":"+url.PathEscape(secret)+"@", 1)
}

func (e *env) token(t *testing.T, owner string, scopes ...string) testenv.DeployToken {
	t.Helper()
	return e.ts.CreateDeployToken(t, owner, scopes, nil)
}

func (e *env) projectOwner(name string) string {
	return fmt.Sprintf("projects/%d", e.f.Projects[name].ID)
}

var rw = []string{"read_package_registry", "write_package_registry"}

// clientEnv is a private HOME and configuration for twine and pip: no config files, no keyring,
// no cache, no prompts, and any default index a closed local port.
func clientEnv(t *testing.T) []string {
	dir := t.TempDir()
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"XDG_CACHE_HOME=" + filepath.Join(dir, "cache"), "PIP_CONFIG_FILE=/dev/null", "PIP_NO_CACHE_DIR=1",
		"PIP_DISABLE_PIP_VERSION_CHECK=1", "PIP_NO_INPUT=1", "PIP_RETRIES=0", "PIP_TIMEOUT=60",
		"PIP_INDEX_URL=http://127.0.0.1:9/simple", "PIP_KEYRING_PROVIDER=disabled",
		"PYTHON_KEYRING_BACKEND=keyring.backends.null.Keyring", "PYTHONDONTWRITEBYTECODE=1",
		"TWINE_NON_INTERACTIVE=1", "NO_COLOR=1", "TERM=dumb", "COLUMNS=1000"}
}

// run runs a client and returns its combined output and exit code.
func run(t *testing.T, environ []string, name string, args ...string) (string, int) {
	t.Helper()
	return testenv.RunClient(t, 3*time.Minute, t.TempDir(), environ, name, args...)
}

// upload runs `twine upload --verbose` of files to a repository URL with user and secret.
func (e *env) upload(t *testing.T, repo, user, secret string, files ...string) (string, int) {
	t.Helper()
	args := append([]string{"upload", "--non-interactive", "--disable-progress-bar", "--verbose",
		"--repository-url", repo, "-u", user, "-p", secret}, files...)
	return run(t, clientEnv(t), e.twine, args...)
}

func (e *env) mustUpload(t *testing.T, repo, user, secret string, files ...string) {
	t.Helper()
	if out, code := e.upload(t, repo, user, secret, files...); code != 0 {
		t.Fatalf("twine upload: exit %d\n%s", code, out)
	}
}

// venv is a fresh virtual environment (without pip of its own: Debian's pip installs into it).
type venv struct {
	dir string
	env []string
}

func newVenv(t *testing.T) *venv {
	t.Helper()
	v := &venv{dir: filepath.Join(t.TempDir(), "venv"), env: clientEnv(t)}
	if out, code := run(t, v.env, python, "-m", "venv", "--without-pip", v.dir); code != 0 {
		t.Fatalf("python3 -m venv: exit %d\n%s", code, out)
	}
	return v
}

// pip runs `pip install -vv --no-deps` of spec from index into the venv (pip shows why an index
// page failed, such as a 401, only at its debug level).
func (v *venv) pip(t *testing.T, index, spec string) (string, int) {
	t.Helper()
	return run(t, v.env, python, "-m", "pip", "--python", filepath.Join(v.dir, "bin", "python"), "install",
		"-vv", "--no-deps", "--no-build-isolation", "--only-binary", ":all:", "--index-url", index, spec)
}

// install installs spec and returns what importing module's GREETING prints.
func (v *venv) install(t *testing.T, index, spec, module string) string {
	t.Helper()
	if out, code := v.pip(t, index, spec); code != 0 {
		t.Fatalf("pip install %s: exit %d\n%s", spec, code, out)
	}
	out, code := run(t, v.env, filepath.Join(v.dir, "bin", "python"), "-c", "import "+module+"; print("+module+".GREETING)")
	if code != 0 {
		t.Fatalf("import %s: exit %d\n%s", module, code, out)
	}
	return strings.TrimSpace(out)
}

// dist is a built distribution file.
type dist struct {
	path string
	name string
	data []byte
}

func (d dist) sha256() string {
	s := sha256.Sum256(d.data)
	return hex.EncodeToString(s[:])
}

// wheel builds a pure-Python wheel of project name at version whose module's GREETING is
// greeting (a wheel is a zip with the module, METADATA, WHEEL and RECORD).
func wheel(t *testing.T, name, version, greeting, requiresPython string) dist {
	t.Helper()
	mod := strings.ReplaceAll(strings.ToLower(name), "-", "_")
	info := mod + "-" + version + ".dist-info/"
	meta := "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\nSummary: A test package\n"
	if requiresPython != "" {
		meta += "Requires-Python: " + requiresPython + "\n"
	}
	files := [][2]string{
		{mod + "/__init__.py", fmt.Sprintf("GREETING = %q\n", greeting)},
		{info + "METADATA", meta + "\n"},
		{info + "WHEEL", "Wheel-Version: 1.0\nGenerator: gatehouse-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
	}
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	var record strings.Builder
	for _, f := range files {
		w, err := zw.Create(f[0])
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(w, f[1])
		s := sha256.Sum256([]byte(f[1]))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f[0], base64.RawURLEncoding.EncodeToString(s[:]), len(f[1]))
	}
	record.WriteString(info + "RECORD,,\n")
	w, _ := zw.Create(info + "RECORD")
	_, _ = io.WriteString(w, record.String())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return save(t, mod+"-"+version+"-py3-none-any.whl", b.Bytes())
}

// sdist builds a source distribution holding only PKG-INFO (enough for twine and the index).
func sdist(t *testing.T, name, version string, extra []byte) dist {
	t.Helper()
	base := strings.ReplaceAll(strings.ToLower(name), "-", "_") + "-" + version
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	tw := tar.NewWriter(gz)
	for _, f := range [][2]string{{base + "/PKG-INFO", "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\n\n"}, {base + "/noise.bin", string(extra)}} {
		if err := tw.WriteHeader(&tar.Header{Name: f[0], Mode: 0o644, Size: int64(len(f[1]))}); err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(tw, f[1])
	}
	_ = tw.Close()
	_ = gz.Close()
	return save(t, base+".tar.gz", b.Bytes())
}

func save(t *testing.T, filename string, data []byte) dist {
	t.Helper()
	p := filepath.Join(t.TempDir(), filename)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return dist{path: p, name: filename, data: data}
}

// get sends one request with optional headers and returns the response and its body.
func get(t *testing.T, u string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func basic(user, secret string) map[string]string {
	return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+secret))}
}

func TestUploadInstall(t *testing.T) {
	e := start(t)
	writer := e.token(t, e.projectOwner("top"), "write_package_registry")
	reader := e.token(t, e.projectOwner("top"), "read_package_registry")
	repo := e.projectURL("top")
	whl := wheel(t, "Hello-Gatehouse", "1.0.0", "hello from gatehouse", ">=3.7,<4")
	src := sdist(t, "Hello-Gatehouse", "1.0.0", nil)

	out, code := e.upload(t, repo, writer.Username, writer.Token, whl.path, src.path)
	if code != 0 || !strings.Contains(out, "201 Created") {
		t.Fatalf("twine upload: exit %d\n%s", code, out)
	}
	index := withAuth(repo+"/simple", reader.Username, reader.Token)
	v := newVenv(t)
	if got := v.install(t, index, "hello-gatehouse==1.0.0", "hello_gatehouse"); got != "hello from gatehouse" {
		t.Fatalf("installed module prints %q", got)
	}

	t.Run("fail/a filename is uploaded once", func(t *testing.T) {
		again := wheel(t, "Hello-Gatehouse", "1.0.0", "overwritten", "")
		out, code := e.upload(t, repo, writer.Username, writer.Token, again.path)
		if flat := strings.Join(strings.Fields(out), " "); code == 0 || !strings.Contains(flat, "409 Conflict - File already exists: "+again.name) {
			t.Fatalf("re-upload: exit %d\n%s", code, out)
		}
		// --skip-existing understands the 409.
		out, code = run(t, clientEnv(t), e.twine, "upload", "--non-interactive", "--disable-progress-bar", "--skip-existing",
			"--repository-url", repo, "-u", writer.Username, "-p", writer.Token, again.path)
		if code != 0 || !strings.Contains(out, "Skipping") {
			t.Fatalf("--skip-existing: exit %d\n%s", code, out)
		}
	})
	t.Run("ok/a new version, pip picks the newest its Python allows", func(t *testing.T) {
		e.mustUpload(t, repo, writer.Username, writer.Token, wheel(t, "Hello-Gatehouse", "1.1.0", "one point one", ">=3.7").path)
		e.mustUpload(t, repo, writer.Username, writer.Token, wheel(t, "Hello-Gatehouse", "2.0.0", "from the future", ">=4").path)
		if got := newVenv(t).install(t, index, "Hello_Gatehouse", "hello_gatehouse"); got != "one point one" {
			t.Fatalf("installed module prints %q", got)
		}
	})

	t.Run("ok/PEP 503 HTML page", func(t *testing.T) {
		resp, body := get(t, repo+"/simple/hello-gatehouse/", basic(reader.Username, reader.Token))
		link := fmt.Sprintf(`<a href="%s/files/%s/%s#sha256=%s" data-requires-python="&gt;=3.7,&lt;4">%s</a>`, repo, whl.sha256(), whl.name, whl.sha256(), whl.name)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, link) ||
			!strings.Contains(body, src.name+"</a>") || !strings.Contains(body, `data-requires-python="&gt;=4"`) {
			t.Fatalf("%d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	})
	t.Run("ok/PEP 691 JSON page", func(t *testing.T) {
		resp, body := get(t, repo+"/simple/hello-gatehouse/", map[string]string{"Deploy-Token": reader.Token,
			"Accept": "application/vnd.pypi.simple.v1+json, text/html;q=0.01"})
		var doc struct {
			Meta     map[string]string `json:"meta"`
			Name     string            `json:"name"`
			Versions []string          `json:"versions"`
			Files    []struct {
				Filename       string            `json:"filename"`
				URL            string            `json:"url"`
				Hashes         map[string]string `json:"hashes"`
				RequiresPython string            `json:"requires-python"`
				Size           int64             `json:"size"`
			} `json:"files"`
		}
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.pypi.simple.v1+json" ||
			json.Unmarshal([]byte(body), &doc) != nil || doc.Name != "hello-gatehouse" || doc.Meta["api-version"] == "" ||
			strings.Join(doc.Versions, ",") != "1.0.0,1.1.0,2.0.0" || len(doc.Files) != 4 {
			t.Fatalf("%d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		f := doc.Files[0]
		if f.Filename != src.name && f.Filename != whl.name {
			f = doc.Files[1]
		}
		if f.Hashes["sha256"] == "" || f.RequiresPython != ">=3.7,<4" || !strings.HasPrefix(f.URL, repo+"/files/") {
			t.Fatalf("file %+v", f)
		}
	})
	t.Run("ok/project list and redirects to the normal form", func(t *testing.T) {
		resp, body := get(t, repo+"/simple/", map[string]string{"Private-Token": e.ts.RootToken})
		if resp.StatusCode != 200 || !strings.Contains(body, `<a href="hello-gatehouse/">Hello-Gatehouse</a>`) {
			t.Fatalf("%d\n%s", resp.StatusCode, body)
		}
		for from, to := range map[string]string{"/simple/Hello_Gatehouse/": "/simple/hello-gatehouse/",
			"/simple/hello-gatehouse": "/simple/hello-gatehouse/", "/simple": "/simple/"} {
			resp, _ := get(t, repo+from, basic("anything", reader.Token))
			if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != repo+to {
				t.Fatalf("%s: %d → %s", from, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
	})
	t.Run("ok/file download", func(t *testing.T) {
		resp, body := get(t, repo+"/files/"+whl.sha256()+"/"+whl.name, basic("x", reader.Token))
		if resp.StatusCode != 200 || body != string(whl.data) {
			t.Fatalf("download: %d, %d bytes", resp.StatusCode, len(body))
		}
		for _, u := range []string{repo + "/files/" + src.sha256() + "/" + whl.name, repo + "/files/" + whl.sha256() + "/other-1.0-py3-none-any.whl"} {
			if resp, _ := get(t, u, basic("x", reader.Token)); resp.StatusCode != 404 {
				t.Fatalf("%s: %d", u, resp.StatusCode)
			}
		}
	})
	if strings.Contains(e.ts.Logs(), writer.Token) || strings.Contains(e.ts.Logs(), reader.Token) {
		t.Fatal("a token's secret is in the server's logs")
	}
}

func TestWrongTokenIs401(t *testing.T) {
	e := start(t)
	tok := e.token(t, e.projectOwner("top"), rw...)
	e.mustUpload(t, e.projectURL("top"), tok.Username, tok.Token, wheel(t, "secret-pkg", "1.0", "x", "").path)
	wrong := "gldt-" + strings.Repeat("x", 20)
	for name, index := range map[string]string{
		"wrong token": withAuth(e.projectURL("top")+"/simple", tok.Username, wrong),
		"no token":    e.projectURL("top") + "/simple",
	} {
		t.Run("fail/"+name, func(t *testing.T) {
			out, code := newVenv(t).pip(t, index, "secret-pkg")
			if code == 0 || !strings.Contains(out, "401") || strings.Contains(out, wrong) {
				t.Fatalf("pip: exit %d\n%s", code, out)
			}
		})
	}
	// pip learns from the challenge that it should send credentials.
	resp, body := get(t, e.projectURL("top")+"/simple/secret-pkg/", nil)
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Basic realm="Gatehouse"` || !strings.Contains(body, "401 Unauthorized") {
		t.Fatalf("anonymous: %d %q %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
	}
	if out, code := e.upload(t, e.projectURL("top"), "x", wrong, wheel(t, "secret-pkg", "1.1", "x", "").path); code == 0 || !strings.Contains(out, "401") {
		t.Fatalf("twine with a wrong token: exit %d\n%s", code, out)
	}
}

func TestReadOnlyTokenCannotUpload(t *testing.T) {
	e := start(t)
	tok := e.token(t, e.projectOwner("top"), "read_package_registry")
	out, code := e.upload(t, e.projectURL("top"), tok.Username, tok.Token, wheel(t, "ro", "1.0", "x", "").path)
	if code != 1 || !strings.Contains(out, "403 Forbidden") || !strings.Contains(out, "lacks the write_package_registry scope") {
		t.Fatalf("read-only upload: exit %d\n%s", code, out)
	}
	if strings.Contains(out, tok.Token) {
		t.Fatal("twine's output contains the token")
	}
	e.assertNoPyPIPackages(t)
}

// TestGroupToken: packages in group/sub/child and group/sub/subsub/grandchild, read with a
// group deploy token through the group-level index and the project-level one; other
// credentials see only what they reach.
func TestGroupToken(t *testing.T) {
	e := start(t)
	e.mustUpload(t, e.projectURL("grandchild"), "root", e.ts.RootToken, wheel(t, "deep", "2.0.0", "from the depths", "").path)
	// The child holds a package of its own: two holders of "deep" in the group would be a 409
	// (TestDependencyConfusion), not an index merged from both.
	e.mustUpload(t, e.projectURL("child"), "root", e.ts.RootToken, wheel(t, "shallow", "1.0.0", "from the child", "").path)
	e.mustUpload(t, e.projectURL("sibling"), "root", e.ts.RootToken, wheel(t, "deep", "3.0.0", "from the sibling", "").path)

	groupTok := e.token(t, fmt.Sprintf("groups/%d", e.f.GroupID), "read_package_registry")
	for name, index := range map[string]string{
		"group level (subgroup)":  e.groupURL(e.f.SubID) + "/simple",
		"group level (top group)": e.groupURL(e.f.GroupID) + "/simple",
		"project level":           e.projectURL("grandchild") + "/simple",
	} {
		t.Run("ok/"+name, func(t *testing.T) {
			if got := newVenv(t).install(t, withAuth(index, groupTok.Username, groupTok.Token), "deep", "deep"); got != "from the depths" {
				t.Fatalf("installed module prints %q", got)
			}
		})
	}
	t.Run("ok/group page lists what the credential reads", func(t *testing.T) {
		_, all := get(t, e.groupURL(e.f.GroupID)+"/simple/deep/", basic("x", groupTok.Token))
		childTok := e.token(t, e.projectOwner("child"), "read_package_registry")
		resp, _ := get(t, e.groupURL(e.f.GroupID)+"/simple/deep/", basic("x", childTok.Token))
		if !strings.Contains(all, "deep-2.0.0-") || strings.Contains(all, "deep-3.0.0-") ||
			resp.StatusCode != http.StatusNotFound || !strings.Contains(all, e.groupURL(e.f.GroupID)+"/files/") {
			t.Fatalf("group token sees:\n%s\nchild token: %d", all, resp.StatusCode)
		}
		// and pip installs the child's package through the group with the child's token.
		if got := newVenv(t).install(t, withAuth(e.groupURL(e.f.GroupID)+"/simple", "x", childTok.Token), "shallow", "shallow"); got != "from the child" {
			t.Fatalf("child token installs %q", got)
		}
	})
	t.Run("fail/a group token of another group", func(t *testing.T) {
		otherTok := e.token(t, fmt.Sprintf("groups/%d", e.f.OtherGroupID), "read_package_registry")
		for _, index := range []string{e.groupURL(e.f.GroupID) + "/simple", e.projectURL("grandchild") + "/simple"} {
			out, code := newVenv(t).pip(t, withAuth(index, "x", otherTok.Token), "deep")
			if code == 0 || !strings.Contains(out, "No matching distribution") {
				t.Fatalf("other group's token: exit %d\n%s", code, out)
			}
		}
	})
	t.Run("fail/another project's token", func(t *testing.T) {
		topTok := e.token(t, e.projectOwner("top"), rw...)
		out, code := newVenv(t).pip(t, withAuth(e.projectURL("grandchild")+"/simple", "x", topTok.Token), "deep")
		if code == 0 || !strings.Contains(out, "No matching distribution") {
			t.Fatalf("another project's token: exit %d\n%s", code, out)
		}
		if resp, _ := get(t, e.groupURL(e.f.SubID)+"/simple/deep/", basic("x", topTok.Token)); resp.StatusCode != 404 {
			t.Fatalf("another project's token, group level: %d", resp.StatusCode)
		}
		// and it cannot upload there.
		if out, code := e.upload(t, e.projectURL("grandchild"), "x", topTok.Token, wheel(t, "deep", "9.0", "x", "").path); code == 0 || !strings.Contains(out, "404") {
			t.Fatalf("upload with another project's token: exit %d\n%s", code, out)
		}
	})
}

func TestRevokedAndExpiredTokens(t *testing.T) {
	e := start(t)
	owner := e.projectOwner("top")
	e.mustUpload(t, e.projectURL("top"), "root", e.ts.RootToken, wheel(t, "life", "1.0", "alive", "").path)
	revoked := e.token(t, owner, rw...)
	tomorrow := e.ts.Clock.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")
	expiring := e.ts.CreateDeployToken(t, owner, rw, map[string]any{"expires_at": tomorrow})
	index := func(tok testenv.DeployToken) string {
		return withAuth(e.projectURL("top")+"/simple", tok.Username, tok.Token)
	}
	for _, tok := range []testenv.DeployToken{revoked, expiring} {
		if got := newVenv(t).install(t, index(tok), "life", "life"); got != "alive" {
			t.Fatalf("before: %q", got)
		}
	}
	if err := e.ts.Server.Deploy.Revoke(context.Background(), revoked.ID); err != nil {
		t.Fatal(err)
	}
	e.ts.Clock.Advance(49 * time.Hour)
	for name, tok := range map[string]testenv.DeployToken{"revoked": revoked, "expired": expiring} {
		out, code := newVenv(t).pip(t, index(tok), "life")
		if code == 0 || !strings.Contains(out, "401") {
			t.Fatalf("%s token: exit %d\n%s", name, code, out)
		}
		tout, code := e.upload(t, e.projectURL("top"), tok.Username, tok.Token, wheel(t, "life", "1.1", "x", "").path)
		if code == 0 || !strings.Contains(tout, "401") || !strings.Contains(tout, name) {
			t.Fatalf("%s token uploading: exit %d\n%s", name, code, tout)
		}
		if strings.Contains(e.ts.Logs(), tok.Token) || strings.Contains(out, tok.Token) || strings.Contains(tout, tok.Token) {
			t.Fatalf("the %s token's secret is in the server's logs or a client's output", name)
		}
	}
	if !strings.Contains(e.ts.Logs(), "/packages/pypi/") {
		t.Fatal("the logs recorded no pypi request: the secret check proves nothing")
	}
}

func TestExternalAuthorization(t *testing.T) {
	e := start(t, func(c *config.Config) { c.ExternalAuthorization = true })
	tok := e.token(t, e.projectOwner("top"), rw...)
	out, code := e.upload(t, e.projectURL("top"), tok.Username, tok.Token, wheel(t, "ext", "1.0", "x", "").path)
	if code == 0 || !strings.Contains(out, "403 Forbidden") || !strings.Contains(out, "external authorization") {
		t.Fatalf("deploy token upload under external authorization: exit %d\n%s", code, out)
	}
	e.assertNoPyPIPackages(t)
	// People still upload and install; deploy tokens cannot read either.
	e.mustUpload(t, e.projectURL("top"), "root", e.ts.RootToken, wheel(t, "ext", "1.0", "people", "").path)
	if got := newVenv(t).install(t, withAuth(e.projectURL("top")+"/simple", "root", e.ts.RootToken), "ext", "ext"); got != "people" {
		t.Fatalf("PAT install: %q", got)
	}
	if out, code := newVenv(t).pip(t, withAuth(e.projectURL("top")+"/simple", "x", tok.Token), "ext"); code == 0 || !strings.Contains(out, "403") {
		t.Fatalf("deploy token read under external authorization: exit %d\n%s", code, out)
	}
	if resp, body := get(t, e.projectURL("top")+"/simple/ext/", basic("x", tok.Token)); resp.StatusCode != 403 || !strings.Contains(body, "external authorization") {
		t.Fatalf("deploy token read: %d %s", resp.StatusCode, body)
	}
}

func TestPostgresUploadInstall(t *testing.T) {
	e := start(t, testenv.WithPostgres(t))
	tok := e.token(t, fmt.Sprintf("groups/%d", e.f.GroupID), rw...)
	e.mustUpload(t, e.projectURL("child"), tok.Username, tok.Token, wheel(t, "pg-pkg", "0.1.0", "postgres", ">=3").path, sdist(t, "pg-pkg", "0.1.0", nil).path)
	if got := newVenv(t).install(t, withAuth(e.groupURL(e.f.GroupID)+"/simple", tok.Username, tok.Token), "pg_pkg", "pg_pkg"); got != "postgres" {
		t.Fatalf("installed module prints %q", got)
	}
}

// assertNoPyPIPackages fails unless no project holds a PyPI package and the blob store holds no
// blob and no upload.
func (e *env) assertNoPyPIPackages(t *testing.T) {
	t.Helper()
	e.ts.AssertNoPackages(t, e.f, packages.PyPI)
}

// post sends a hand-built upload form, as a hostile client would.
func post(t *testing.T, u, secret string, fields [][2]string, filename string, content []byte) (int, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, f := range fields {
		_ = mw.WriteField(f[0], f[1])
	}
	// Written by hand: mime/multipart would escape the filename.
	w, _ := mw.CreatePart(map[string][]string{"Content-Disposition": {`form-data; name="content"; filename="` + filename + `"`},
		"Content-Type": {"application/octet-stream"}})
	_, _ = w.Write(content)
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, u, &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.SetBasicAuth("__token__", secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestHostileUploads(t *testing.T) {
	const limit = 4 << 10
	e := start(t, func(c *config.Config) { c.Packages.MaxFileSize = map[string]int64{"pypi": limit} })
	tok := e.token(t, e.projectOwner("top"), rw...)
	repo := e.projectURL("top")
	good := wheel(t, "h", "1.0", "x", "")
	noise := make([]byte, 3*limit)
	if _, err := rand.Read(noise); err != nil { // incompressible
		t.Fatal(err)
	}
	big := sdist(t, "h", "1.0", noise)
	fields := func(mod func(map[string]string)) [][2]string {
		s := sha256.Sum256(good.data)
		m := map[string]string{":action": "file_upload", "protocol_version": "1", "name": "h", "version": "1.0",
			"sha256_digest": hex.EncodeToString(s[:]), "md5_digest": ""}
		if mod != nil {
			mod(m)
		}
		var out [][2]string
		for _, k := range []string{":action", "protocol_version", "name", "version", "sha256_digest", "md5_digest"} {
			out = append(out, [2]string{k, m[k]})
		}
		return out
	}
	cases := []struct {
		name     string
		fields   [][2]string
		filename string
		content  []byte
		status   int
		why      string
	}{
		{"fail/traversal in the filename", fields(nil), "../../h-1.0-py3-none-any.whl", good.data, 400, "file name"},
		{"fail/encoded traversal in the filename", fields(nil), "..%2f..%2fh-1.0-py3-none-any.whl", good.data, 400, "file name"},
		{"fail/absolute filename", fields(nil), "/etc/h-1.0.tar.gz", good.data, 400, "file name"},
		{"fail/traversal in the name", fields(func(m map[string]string) { m["name"] = "../../etc" }), good.name, good.data, 400, "package name"},
		{"fail/traversal in the version", fields(func(m map[string]string) { m["version"] = "../../1.0" }), good.name, good.data, 400, "PEP 440"},
		{"fail/filename of another package", fields(nil), "other-1.0-py3-none-any.whl", good.data, 400, "file name"},
		{"fail/bad sha256", fields(func(m map[string]string) { m["sha256_digest"] = strings.Repeat("ab", 32) }), good.name, good.data, 400, "sha256 checksum does not match"},
		{"fail/bad md5", fields(func(m map[string]string) { m["md5_digest"] = strings.Repeat("ab", 16) }), good.name, good.data, 400, "md5 checksum does not match"},
		{"fail/malformed sha256", fields(func(m map[string]string) { m["sha256_digest"] = "nope" }), good.name, good.data, 400, "sha256 must be hex"},
		{"fail/oversized", fields(func(m map[string]string) { m["sha256_digest"] = big.sha256() }), big.name, big.data, 413, "limit"},
		{"fail/other action", fields(func(m map[string]string) { m[":action"] = "remove_pkg" }), good.name, good.data, 400, ":action"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, repo, tok.Token, tc.fields, tc.filename, tc.content)
			if status != tc.status || !strings.Contains(body, tc.why) {
				t.Fatalf("status %d body %q; want %d mentioning %q", status, body, tc.status, tc.why)
			}
			e.assertNoPyPIPackages(t)
		})
	}
	t.Run("fail/twine itself shows the size refusal", func(t *testing.T) {
		out, code := e.upload(t, repo, tok.Username, tok.Token, big.path)
		if code == 0 || !strings.Contains(out, "413") {
			t.Fatalf("oversized twine upload: exit %d\n%s", code, out)
		}
		e.assertNoPyPIPackages(t)
	})
	t.Run("ok/the good wheel after all that", func(t *testing.T) {
		if status, body := post(t, repo, tok.Token, fields(nil), good.name, good.data); status != http.StatusCreated {
			t.Fatalf("good upload: %d %s", status, body)
		}
	})
	t.Run("fail/hostile downloads", func(t *testing.T) {
		for _, p := range []string{"/files/" + good.sha256() + "/..%2f..%2fetc%2fpasswd", "/files/" + good.sha256() + "/%2e%2e",
			"/simple/..%2f..%2f/", "/simple/a%00b/"} {
			resp, body := get(t, repo+p, basic("x", tok.Token))
			if resp.StatusCode != 400 || !strings.HasPrefix(body, "400 Bad Request") {
				t.Fatalf("%s: %d %s", p, resp.StatusCode, body)
			}
		}
	})
}
