package registry_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// clientEnv is a server with the fixture tree and the credentials the client tests use.
type clientEnv struct {
	ts   *testenv.TestServer
	f    testenv.Fixture
	host string
	// rw and ro are deploy tokens of group/top; other is one of other/sibling; group is a
	// read-only token of the top-level group "group".
	rw, ro, other, group testenv.DeployToken
}

func newClientEnv(t *testing.T) *clientEnv {
	t.Helper()
	ts, f, host := startRegistry(t)
	e := &clientEnv{ts: ts, f: f, host: host}
	top := "projects/" + itoa(f.Projects["top"].ID)
	e.rw = ts.CreateDeployToken(t, top, []string{"read_registry", "write_registry"}, nil)
	e.ro = ts.CreateDeployToken(t, top, []string{"read_registry"}, nil)
	e.other = ts.CreateDeployToken(t, "projects/"+itoa(f.Projects["sibling"].ID), []string{"read_registry", "write_registry"}, nil)
	e.group = ts.CreateDeployToken(t, "groups/"+itoa(f.GroupID), []string{"read_registry"}, nil)
	return e
}

// pushApp logs crane in with the read-write token (in a fresh home) and pushes a one-layer
// group/top/app:v1; it returns the crane binary, that home and the image reference.
func (e *clientEnv) pushApp(t *testing.T) (crane, home, image string) {
	t.Helper()
	crane, home, image = testenv.GoTool(t, "crane"), t.TempDir(), e.host+"/group/top/app:v1"
	testenv.MustRun(t, home, crane, "auth", "login", e.host, "-u", e.rw.Username, "-p", e.rw.Token)
	testenv.MustRun(t, home, crane, "append", "--new_layer", testenv.RandomFile(t, home, "l.bin", 1000), "-t", image)
	return crane, home, image
}

func TestCrane(t *testing.T) {
	e := newClientEnv(t)
	crane := testenv.GoTool(t, "crane")
	image := e.host + "/group/top/app:v1"

	rw := t.TempDir()
	testenv.MustRun(t, rw, crane, "auth", "login", e.host, "-u", e.rw.Username, "-p", e.rw.Token)
	layer := testenv.RandomFile(t, rw, "layer.bin", 300<<10)
	testenv.MustRun(t, rw, crane, "append", "--new_layer", layer, "-t", image)
	digest := strings.TrimSpace(testenv.MustRun(t, rw, crane, "digest", image))
	testenv.MustRun(t, rw, crane, "pull", image, filepath.Join(rw, "app.tar"))
	// A copy inside the project mounts the layers instead of uploading them again.
	testenv.MustRun(t, rw, crane, "copy", image, e.host+"/group/top/app/copy:v1")
	if got := strings.TrimSpace(testenv.MustRun(t, rw, crane, "digest", e.host+"/group/top/app/copy:v1")); got != digest {
		t.Fatalf("copied digest %s, want %s", got, digest)
	}
	if ls := testenv.MustRun(t, rw, crane, "ls", e.host+"/group/top/app"); strings.TrimSpace(ls) != "v1" {
		t.Fatalf("crane ls: %q", ls)
	}
	// Deploy tokens never delete images.
	testenv.MustFail(t, rw, []string{"DENIED", "403"}, crane, "delete", e.host+"/group/top/app@"+digest)

	t.Run("fail/read-only token cannot push", func(t *testing.T) {
		home := t.TempDir()
		testenv.MustRun(t, home, crane, "auth", "login", e.host, "-u", e.ro.Username, "-p", e.ro.Token)
		testenv.MustRun(t, home, crane, "pull", image, filepath.Join(home, "app.tar"))
		layer := testenv.RandomFile(t, home, "layer.bin", 1000)
		testenv.MustFail(t, home, []string{"DENIED", "403"}, crane, "append", "--new_layer", layer, "-t", e.host+"/group/top/app:ro")
	})
	t.Run("fail/token of another project cannot pull", func(t *testing.T) {
		home := t.TempDir()
		testenv.MustRun(t, home, crane, "auth", "login", e.host, "-u", e.other.Username, "-p", e.other.Token)
		testenv.MustFail(t, home, []string{"DENIED", "403"}, crane, "pull", image, filepath.Join(home, "app.tar"))
		testenv.MustFail(t, home, []string{"DENIED", "403"}, crane, "ls", e.host+"/group/top/app")
	})
	t.Run("fail/anonymous cannot pull a private project", func(t *testing.T) {
		testenv.MustFail(t, t.TempDir(), []string{"UNAUTHORIZED", "401"}, crane, "manifest", image)
	})
	t.Run("ok/group token pulls from a subgroup project", func(t *testing.T) {
		// Push into group/sub/child as root, then pull it with the group's token.
		root := t.TempDir()
		testenv.MustRun(t, root, crane, "auth", "login", e.host, "-u", "root", "-p", e.ts.RootToken)
		child := e.host + "/group/sub/child/img:v1"
		testenv.MustRun(t, root, crane, "append", "--new_layer", testenv.RandomFile(t, root, "l.bin", 2000), "-t", child)
		home := t.TempDir()
		testenv.MustRun(t, home, crane, "auth", "login", e.host, "-u", e.group.Username, "-p", e.group.Token)
		testenv.MustRun(t, home, crane, "pull", child, filepath.Join(home, "child.tar"))
		testenv.MustFail(t, home, []string{"DENIED", "403"}, crane, "append", "--new_layer", testenv.RandomFile(t, home, "l.bin", 10), "-t", e.host+"/group/sub/child/img:v2")
		testenv.MustFail(t, home, []string{"DENIED", "403"}, crane, "ls", e.host+"/other/sibling/img")
	})
}

func TestOras(t *testing.T) {
	e := newClientEnv(t)
	oras := testenv.GoTool(t, "oras")
	home := t.TempDir()
	ref := e.host + "/group/top/artifact:v1"
	testenv.MustRun(t, home, oras, "login", "--plain-http", "-u", e.rw.Username, "-p", e.rw.Token, e.host)
	testenv.RandomFile(t, home, "payload.bin", 100<<10)
	testenv.MustRun(t, home, oras, "push", "--plain-http", "--artifact-type", "application/vnd.gatehouse.test", ref, "payload.bin")
	testenv.RandomFile(t, home, "sig.bin", 64)
	testenv.MustRun(t, home, oras, "attach", "--plain-http", "--artifact-type", "application/vnd.gatehouse.sig", ref, "sig.bin")
	disc := testenv.MustRun(t, home, oras, "discover", "--plain-http", "--format", "json", ref)
	if !strings.Contains(disc, "application/vnd.gatehouse.sig") {
		t.Fatalf("oras discover does not list the attached signature:\n%s", disc)
	}
	out := filepath.Join(home, "out")
	testenv.MustRun(t, home, oras, "pull", "--plain-http", "-o", out, ref)
	want, _ := os.ReadFile(filepath.Join(home, "payload.bin"))
	got, err := os.ReadFile(filepath.Join(out, "payload.bin"))
	if err != nil || string(got) != string(want) {
		t.Fatalf("oras pull returned different bytes (err %v)", err)
	}

	t.Run("fail/read-only token cannot push", func(t *testing.T) {
		home := t.TempDir()
		testenv.MustRun(t, home, oras, "login", "--plain-http", "-u", e.ro.Username, "-p", e.ro.Token, e.host)
		testenv.MustRun(t, home, oras, "pull", "--plain-http", "-o", filepath.Join(home, "o"), ref)
		testenv.RandomFile(t, home, "x.bin", 10)
		testenv.MustFail(t, home, []string{"denied", "403"}, oras, "push", "--plain-http", e.host+"/group/top/artifact:ro", "x.bin")
	})
	t.Run("fail/token of another project cannot pull", func(t *testing.T) {
		home := t.TempDir()
		testenv.MustRun(t, home, oras, "login", "--plain-http", "-u", e.other.Username, "-p", e.other.Token, e.host)
		testenv.MustFail(t, home, []string{"denied", "403"}, oras, "pull", "--plain-http", "-o", filepath.Join(home, "o"), ref)
	})
}

func TestRegctl(t *testing.T) {
	e := newClientEnv(t)
	regctl := testenv.GoTool(t, "regctl")
	crane := testenv.GoTool(t, "crane")
	home := t.TempDir()
	src := e.host + "/group/top/app:v1"
	testenv.MustRun(t, home, crane, "auth", "login", e.host, "-u", e.rw.Username, "-p", e.rw.Token)
	testenv.MustRun(t, home, crane, "append", "--new_layer", testenv.RandomFile(t, home, "l.bin", 50<<10), "-t", src)

	testenv.MustRun(t, home, regctl, "registry", "set", e.host, "--tls", "disabled")
	testenv.MustRun(t, home, regctl, "registry", "login", e.host, "-u", e.rw.Username, "-p", e.rw.Token)
	testenv.MustRun(t, home, regctl, "image", "copy", src, e.host+"/group/top/regctl-copy:v2")
	if tags := testenv.MustRun(t, home, regctl, "tag", "ls", e.host+"/group/top/regctl-copy"); !hasLine(tags, "v2") {
		t.Fatalf("regctl tag ls: %q", tags)
	}
	testenv.MustRun(t, home, regctl, "manifest", "get", e.host+"/group/top/regctl-copy:v2")
	testenv.MustRun(t, home, regctl, "image", "export", src, filepath.Join(home, "app.tar"))

	t.Run("fail/read-only token cannot push", func(t *testing.T) {
		home := t.TempDir()
		testenv.MustRun(t, home, regctl, "registry", "set", e.host, "--tls", "disabled")
		testenv.MustRun(t, home, regctl, "registry", "login", e.host, "-u", e.ro.Username, "-p", e.ro.Token)
		testenv.MustRun(t, home, regctl, "manifest", "get", src)
		testenv.MustFail(t, home, []string{"denied", "403", "unauthorized"}, regctl, "image", "copy", src, e.host+"/group/top/ro:v1")
	})
	t.Run("fail/token of another project cannot pull", func(t *testing.T) {
		home := t.TempDir()
		testenv.MustRun(t, home, regctl, "registry", "set", e.host, "--tls", "disabled")
		testenv.MustRun(t, home, regctl, "registry", "login", e.host, "-u", e.other.Username, "-p", e.other.Token)
		testenv.MustFail(t, home, []string{"denied", "403", "unauthorized"}, regctl, "manifest", "get", src)
	})
}

func TestSkopeo(t *testing.T) {
	skopeo := testenv.Binary(t, "skopeo")
	e := newClientEnv(t)
	crane := testenv.GoTool(t, "crane")
	home := t.TempDir()
	src := e.host + "/group/top/app:v1"
	testenv.MustRun(t, home, crane, "auth", "login", e.host, "-u", e.rw.Username, "-p", e.rw.Token)
	testenv.MustRun(t, home, crane, "append", "--new_layer", testenv.RandomFile(t, home, "l.bin", 50<<10), "-t", src)

	// skopeo logs in (REGISTRY_AUTH_FILE is in the private home).
	testenv.MustRun(t, home, skopeo, "login", "--tls-verify=false", "-u", e.rw.Username, "-p", e.rw.Token, e.host)
	// A copy between two repositories asks for both scopes in one token request, with the scope
	// parameter repeated (docs/design.md §6.3).
	testenv.MustRun(t, home, skopeo, "--insecure-policy", "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
		"docker://"+src, "docker://"+e.host+"/group/top/skopeo:v1")
	testenv.MustRun(t, home, skopeo, "inspect", "--tls-verify=false", "docker://"+e.host+"/group/top/skopeo:v1")
	if tags := testenv.MustRun(t, home, skopeo, "list-tags", "--tls-verify=false", "docker://"+e.host+"/group/top/skopeo"); !strings.Contains(tags, `"v1"`) {
		t.Fatalf("skopeo list-tags: %s", tags)
	}
	testenv.MustRun(t, home, skopeo, "--insecure-policy", "copy", "--src-tls-verify=false", "docker://"+src, "dir:"+filepath.Join(home, "dir"))
	testenv.MustRun(t, home, skopeo, "--insecure-policy", "copy", "--dest-tls-verify=false", "dir:"+filepath.Join(home, "dir"),
		"docker://"+e.host+"/group/top/skopeo:from-dir")

	t.Run("fail/read-only token cannot push", func(t *testing.T) {
		ro := e.ro.Username + ":" + e.ro.Token
		testenv.MustFail(t, t.TempDir(), []string{"denied", "403", "unauthorized"}, skopeo, "--insecure-policy", "copy",
			"--src-tls-verify=false", "--dest-tls-verify=false", "--src-creds", ro, "--dest-creds", ro,
			"docker://"+src, "docker://"+e.host+"/group/top/skopeo:ro")
	})
	t.Run("fail/token of another project cannot pull", func(t *testing.T) {
		testenv.MustFail(t, t.TempDir(), []string{"denied", "403", "unauthorized"}, skopeo, "inspect", "--tls-verify=false",
			"--creds", e.other.Username+":"+e.other.Token, "docker://"+src)
	})
}

// TestRevokedTokenRefusedAtOnce: a JWT issued to a deploy token stops working on the next request
// after the token is revoked, although the JWT itself has minutes left; and the token can no
// longer log in.
func TestRevokedTokenRefusedAtOnce(t *testing.T) {
	e := newClientEnv(t)
	crane, home, image := e.pushApp(t)

	status, jwt := tokenFor(t, e.ts.URL, e.rw.Username, e.rw.Token, "repository:group/top/app:pull")
	if status != http.StatusOK {
		t.Fatalf("token: %d", status)
	}
	get := func() *http.Response {
		req, _ := http.NewRequest(http.MethodHead, e.ts.URL+"/v2/group/top/app/manifests/v1", nil)
		req.Header.Set("Authorization", "Bearer "+jwt)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := get(); resp.StatusCode != http.StatusOK {
		t.Fatalf("before revocation: %d", resp.StatusCode)
	}
	e.ts.MustAPI(t, http.StatusNoContent, "DELETE", "/projects/"+itoa(e.f.Projects["top"].ID)+"/deploy_tokens/"+itoa(e.rw.ID), nil, nil)
	resp := get()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("after revocation: %d %q, want 401 with error=invalid_token", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	testenv.MustFail(t, home, []string{"UNAUTHORIZED", "401"}, crane, "manifest", image)
}

// hasLine reports whether out has a line equal to want (clients mix logs into their output).
func hasLine(out, want string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) == want {
			return true
		}
	}
	return false
}
