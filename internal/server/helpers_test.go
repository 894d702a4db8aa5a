package server_test

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// runGit runs the real git client with a clean environment (no credential helpers, no prompts)
// and returns its combined output.
func runGit(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(testenv.Binary(t, "git"), args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "GIT_TERMINAL_PROMPT=0",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "LANG=C"}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := runGit(t, dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// pushInitial commits a README naming the project and pushes it with the given credentials.
func pushInitial(t *testing.T, ts *testenv.TestServer, fullPath, user, secret string) {
	t.Helper()
	work := t.TempDir()
	mustGit(t, work, "init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(work, "README.md"), []byte("hello from "+fullPath+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustGit(t, work, "add", ".")
	mustGit(t, work, "commit", "-q", "-m", "initial")
	mustGit(t, work, "push", "-q", ts.GitURL(fullPath, user, secret), "main")
}

// clone runs a real `git clone` into a fresh directory and returns that directory and git's output.
func clone(t *testing.T, url string) (string, string, error) {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "clone")
	out, err := runGit(t, "", "clone", "-q", url, dst)
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
	req, err := http.NewRequest(http.MethodGet, ts.URL+"/"+fullPath+".git/info/refs?service=git-upload-pack", nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" || secret != "" {
		req.SetBasicAuth(user, secret)
	}
	return do(t, "info/refs "+fullPath, req)
}
