package testenv

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// RunGit runs the real git client in dir ("" for the current directory) with a clean
// environment: a fresh HOME, no system config, no prompts, a fixed author and committer and
// LANG=C. It returns git's combined output.
func RunGit(tb testing.TB, dir string, args ...string) (string, error) {
	tb.Helper()
	cmd := exec.Command(Binary(tb, "git"), args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + tb.TempDir(), "GIT_TERMINAL_PROMPT=0",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "LANG=C"}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Git is RunGit that fails the test when git fails; it returns git's combined output.
func Git(tb testing.TB, dir string, args ...string) string {
	tb.Helper()
	out, err := RunGit(tb, dir, args...)
	if err != nil {
		tb.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// Response is what a client saw: status, headers and the whole body.
type Response struct {
	Status int
	Header http.Header
	Body   string
}

// InfoRefs asks for a project's upload-pack advertisement, the entry point of every clone, with
// basic credentials (none when user and secret are both empty). It is 200 when they may read
// the repository.
func (ts *TestServer) InfoRefs(tb testing.TB, fullPath, user, secret string) Response {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.URL+"/"+fullPath+".git/info/refs?service=git-upload-pack", nil)
	if err != nil {
		tb.Fatal(err)
	}
	if user != "" || secret != "" {
		req.SetBasicAuth(user, secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("info/refs %s: %v", fullPath, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("info/refs %s: read body: %v", fullPath, err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}
