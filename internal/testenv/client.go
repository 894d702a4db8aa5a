package testenv

import (
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ClientEnv is the environment a real client runs in from home: the test's own environment
// (PATH, CA bundles), with home as HOME and as the place of every client's configuration and
// credentials (Docker, containers, XDG, git), so a login never touches the user's; and no colour,
// no prompts and a fixed git author.
func ClientEnv(home string) []string {
	return append(os.Environ(), "HOME="+home, "DOCKER_CONFIG="+filepath.Join(home, ".docker"),
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "XDG_RUNTIME_DIR="+filepath.Join(home, "run"),
		"REGISTRY_AUTH_FILE="+filepath.Join(home, "auth.json"), "NO_COLOR=1",
		"GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
}

// Run runs a real client, argv[0] with the arguments argv[1:], in home with ClientEnv(home), and
// returns its combined output and error (an *exec.ExitError when it ran and failed).
func Run(tb testing.TB, home string, argv ...string) (string, error) {
	tb.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = home, ClientEnv(home)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// MustRun is Run that fails the test when the client fails; it returns the combined output.
func MustRun(tb testing.TB, home string, argv ...string) string {
	tb.Helper()
	out, err := Run(tb, home, argv...)
	if err != nil {
		tb.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return out
}

// MustFail runs a client that must fail with output containing one of wants (a refusal, not
// some other failure), and fails the test otherwise.
func MustFail(tb testing.TB, home string, wants []string, argv ...string) {
	tb.Helper()
	out, err := Run(tb, home, argv...)
	if err == nil {
		tb.Fatalf("%s succeeded, want a refusal:\n%s", strings.Join(argv, " "), out)
	}
	for _, w := range wants {
		if strings.Contains(out, w) {
			if len(out) > 300 {
				out = "…" + out[len(out)-300:]
			}
			tb.Logf("refused as expected: %s", out)
			return
		}
	}
	tb.Fatalf("%s failed without any of %q:\n%s", strings.Join(argv, " "), wants, out)
}

// RandomFile writes n random bytes to dir/name and returns its path: content no earlier test
// pushed, so every push uploads new blobs.
func RandomFile(tb testing.TB, dir, name string, n int) string {
	tb.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}
