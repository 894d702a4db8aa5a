package server_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// noLoopbackExemption lets the failed-auth ban apply to 127.0.0.1, where the tests run.
// noLoopbackExemption bans loopback like any address. The window is widened from 60 s to 10 min
// so a slow, loaded CI machine cannot spread ten requests past it; the 60 s window itself is
// tested with an injected clock in internal/authn.
func noLoopbackExemption(c *config.Config) {
	c.AuthBan.ExemptLoopback = false
	c.AuthBan.Window = 10 * time.Minute
}

// pushInitial commits a README naming the project and pushes it with the given credentials.
func pushInitial(t *testing.T, ts *testenv.TestServer, fullPath, user, secret string) {
	t.Helper()
	work := t.TempDir()
	testenv.Git(t, work, "init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(work, "README.md"), []byte("hello from "+fullPath+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Git(t, work, "add", ".")
	testenv.Git(t, work, "commit", "-q", "-m", "initial")
	testenv.Git(t, work, "push", "-q", ts.GitURL(fullPath, user, secret), "main")
}

// clone runs a real `git clone` into a fresh directory and returns that directory and git's output.
func clone(t *testing.T, url string) (string, string, error) {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "clone")
	out, err := testenv.RunGit(t, "", "clone", "-q", url, dst)
	return dst, out, err
}

// mustCloneReadme clones and checks the README pushInitial wrote.
func mustCloneReadme(t *testing.T, ts *testenv.TestServer, fullPath, user, secret string) {
	t.Helper()
	dst, out, err := clone(t, ts.GitURL(fullPath, user, secret))
	if err != nil {
		t.Fatalf("clone %s: %v\n%s", fullPath, err, out)
	}
	b, err := os.ReadFile(filepath.Join(dst, "README.md"))
	if err != nil || string(b) != "hello from "+fullPath+"\n" {
		t.Fatalf("cloned README %q, %v", b, err)
	}
}

// response is what a client saw, kept for leak checks.
type response struct {
	what   string
	status int
	header http.Header
	body   string
}

// do sends req and reads the whole answer.
func do(t *testing.T, what string, req *http.Request) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: read body: %v", what, err)
	}
	return response{what: what, status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// infoRefs asks for a project's upload-pack advertisement with basic auth (none when user and
// secret are empty).
func infoRefs(t *testing.T, ts *testenv.TestServer, fullPath, user, secret string) response {
	t.Helper()
	r := ts.InfoRefs(t, fullPath, user, secret)
	return response{what: "info/refs " + fullPath, status: r.Status, header: r.Header, body: r.Body}
}
