package gitexec_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/gitexec"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testbin"
)

// leakyEnv sets, in the test process, variables that would change what git does or carry secrets
// if they reached it, and a HOME whose configuration names a leak.
func leakyEnv(t *testing.T) {
	t.Helper()
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, ".gitconfig"), []byte("[user]\n\tname = leaked-from-home\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"HOME":                    home,
		"XDG_CONFIG_HOME":         home,
		"GIT_DIR":                 "/leaked/git-dir",
		"GIT_CONFIG_PARAMETERS":   "'user.email'='leaked@example.test'",
		"GIT_CONFIG_COUNT":        "1",
		"GIT_CONFIG_KEY_0":        "user.signingkey",
		"GIT_CONFIG_VALUE_0":      "leaked-key",
		"GIT_ASKPASS":             "/leaked/askpass",
		"GIT_SSH_COMMAND":         "leaked-ssh",
		"GIT_TERMINAL_PROMPT":     "1",
		"AWS_SECRET_ACCESS_KEY":   "leaked-secret",
		"GATEHOUSE_ROOT_PASSWORD": "leaked-password",
		"HTTPS_PROXY":             "http://leaked.example.test",
	} {
		t.Setenv(k, v)
	}
}

func TestEnv(t *testing.T) {
	leakyEnv(t)
	env := gitexec.Env("GIT_PROTOCOL=version=2")
	for _, want := range []string{"GIT_TERMINAL_PROMPT=0", "GIT_LITERAL_PATHSPECS=1", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null", "HOME=/nonexistent", "PATH=" + os.Getenv("PATH"), "GIT_PROTOCOL=version=2"} {
		if !slices.Contains(env, want) {
			t.Errorf("Env lacks %s: %q", want, env)
		}
	}

	t.Run("ok/the process sees only the sanitized environment", func(t *testing.T) {
		out, err := gitexec.Git{Bin: testbin.Binary(t, "env"), Env: []string{"GIT_PROTOCOL=version=2"}}.Output(context.Background(), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Split(strings.TrimSpace(string(out)), "\n")
		slices.Sort(got)
		want := slices.Sorted(slices.Values(env))
		if !slices.Equal(got, want) {
			t.Fatalf("process environment\n%q\nwant exactly\n%q", got, want)
		}
		if strings.Contains(string(out), "leaked") {
			t.Fatalf("a variable of the server's process reached git: %s", out)
		}
	})

	t.Run("ok/real git reads no inherited or user configuration", func(t *testing.T) {
		git := gitexec.Git{Bin: testbin.Binary(t, "git"), Dir: t.TempDir()}
		if err := git.Run(context.Background(), "init", "-q", "--bare", "."); err != nil {
			t.Fatal(err)
		}
		out, err := git.Output(context.Background(), 1<<20, "config", "--list", "--show-origin")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), "leaked") || strings.Contains(string(out), "command line") {
			t.Fatalf("git read configuration from the server's environment or home:\n%s", out)
		}
	})

	t.Run("ok/real git takes pathspecs literally", func(t *testing.T) {
		dir := t.TempDir()
		git := gitexec.Git{Bin: testbin.Binary(t, "git"), Dir: dir, Env: []string{"GIT_AUTHOR_NAME=t",
			"GIT_AUTHOR_EMAIL=t@example.test", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.test"}}
		if err := os.WriteFile(filepath.Join(dir, "a.go"), []byte("package a\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"init", "-q"}, {"add", "a.go"}, {"commit", "-q", "-m", "a"}} {
			if err := git.Run(context.Background(), args...); err != nil {
				t.Fatal(err)
			}
		}
		out, err := git.Output(context.Background(), 1<<20, "ls-tree", "-r", "--name-only", "HEAD", "--", "*.go")
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 0 {
			t.Fatalf("the pathspec *.go matched %q as a pattern", out)
		}
	})
}

func TestOutput(t *testing.T) {
	sh := testbin.Binary(t, "sh")
	ctx := context.Background()

	t.Run("ok/output up to the limit", func(t *testing.T) {
		out, err := gitexec.Git{Bin: sh}.Output(ctx, 10, "-c", "printf 0123456789")
		if err != nil || string(out) != "0123456789" {
			t.Fatalf("Output = %q, %v", out, err)
		}
	})
	t.Run("fail/one byte over the limit", func(t *testing.T) {
		if _, err := (gitexec.Git{Bin: sh}).Output(ctx, 9, "-c", "printf 0123456789"); !errors.Is(err, gitexec.ErrOutputTooLarge) {
			t.Fatalf("err = %v, want ErrOutputTooLarge", err)
		}
	})
	t.Run("fail/endless output is cut and git killed", func(t *testing.T) {
		start := time.Now()
		_, err := gitexec.Git{Bin: testbin.Binary(t, "yes")}.Output(ctx, 1<<20)
		if !errors.Is(err, gitexec.ErrOutputTooLarge) {
			t.Fatalf("err = %v, want ErrOutputTooLarge", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("took %v", d)
		}
	})
	t.Run("fail/exit status and the start of stderr", func(t *testing.T) {
		err := gitexec.Git{Bin: sh}.Run(ctx, "-c", "printf 'fatal: no such ref' >&2; head -c 100000 /dev/zero >&2; exit 3")
		if gitexec.ExitCode(err) != 3 || !strings.Contains(err.Error(), "fatal: no such ref") {
			t.Fatalf("err = %v (exit code %d), want exit 3 quoting stderr", err, gitexec.ExitCode(err))
		}
		if len(err.Error()) > 8<<10 {
			t.Fatalf("error quotes %d bytes of stderr", len(err.Error()))
		}
	})
	t.Run("ok/exit code of no run", func(t *testing.T) {
		if c := gitexec.ExitCode(nil); c != -1 {
			t.Fatalf("ExitCode(nil) = %d", c)
		}
	})
}

func TestTimeout(t *testing.T) {
	ctx := context.Background()
	t.Run("fail/timeout kills git", func(t *testing.T) {
		start := time.Now()
		err := gitexec.Git{Bin: testbin.Binary(t, "sleep"), Timeout: 100 * time.Millisecond}.Run(ctx, "30")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want a deadline error", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("took %v", d)
		}
	})
	t.Run("fail/a child holding git's output does not hold the caller", func(t *testing.T) {
		start := time.Now()
		err := gitexec.Git{Bin: testbin.Binary(t, "sh"), Timeout: 100 * time.Millisecond}.Run(ctx, "-c", "sleep 30 & sleep 30")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want a deadline error", err)
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Fatalf("took %v", d)
		}
	})
	t.Run("fail/a streaming command dies with its context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cmd := gitexec.Git{Bin: testbin.Binary(t, "sleep")}.Command(cctx, "30")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		cancel()
		if err := cmd.Wait(); err == nil {
			t.Fatal("Wait = nil after the context ended, want the kill")
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("took %v", d)
		}
	})
}

func TestHead(t *testing.T) {
	h := &gitexec.Head{N: 4}
	for _, s := range []string{"ab", "cdef", "gh"} {
		if n, err := h.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if h.String() != "abcd" {
		t.Fatalf("kept %q, want abcd", h.String())
	}
}
