// Package gitexec is the one place that runs the git binary for the server: it builds the
// command (binary, arguments, working directory), gives git a sanitized environment, bounds what
// is read from it and kills it when its context ends or its time is up. internal/git (smart
// HTTP), internal/packages/goproxy (reading modules out of repositories) and internal/api (the
// repository reads of read.go) all run git through it, so they cannot drift apart again;
// internal/archtest lets no other server package import os/exec.
package gitexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// DefaultBinary is the git run when no binary is configured (looked up on PATH).
const DefaultBinary = "git"

// waitDelay bounds how long Wait waits for git's output pipes after git has exited or been
// killed: a child git left behind (a pack-objects, a hook) cannot keep a request waiting.
const waitDelay = 5 * time.Second

// stderrHead is how much of git's standard error an error from Output quotes.
const stderrHead = 4096

// ErrOutputTooLarge is returned by Output when git writes more than the limit.
var ErrOutputTooLarge = errors.New("git output exceeds its bound")

// Env is git's environment: PATH (to find git's own helpers) and nothing else inherited, so no
// GIT_* variable, credential or proxy setting of the server's process reaches git; no system or
// user configuration; never a terminal prompt; pathspecs taken literally (a path is never a
// pattern); messages in the C locale. extra (for example GIT_PROTOCOL, already validated by the
// caller) is appended.
func Env(extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=/nonexistent", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_LITERAL_PATHSPECS=1", "GIT_TERMINAL_PROMPT=0", "LANG=C"}
	return append(env, extra...)
}

// Git is how to run git: which binary, where, with what extra environment.
type Git struct {
	// Bin is the git binary; DefaultBinary when empty.
	Bin string
	// Dir is the working directory; the server's when empty.
	Dir string
	// Env is appended to Env()'s sanitized base (for example GIT_PROTOCOL=version=2).
	Env []string
	// Timeout bounds a run by Output or Run; 0 leaves it to the context alone. A command from
	// Command lives as long as its context (a clone takes as long as it takes).
	Timeout time.Duration
}

// Command returns git with args, ready for the caller to attach pipes, Start and Wait: the
// sanitized environment, killed when ctx ends, and Wait returning at most waitDelay later even if
// a child of git holds its pipes.
func (g Git) Command(ctx context.Context, args ...string) *exec.Cmd {
	bin := g.Bin
	if bin == "" {
		bin = DefaultBinary
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = Env(g.Env...)
	cmd.Dir = g.Dir
	cmd.WaitDelay = waitDelay
	return cmd
}

// Output runs git to its end and returns its standard output. More than limit bytes is
// ErrOutputTooLarge (git is killed at once); a failed run is an error wrapping *exec.ExitError and
// quoting the start of git's standard error; Timeout and ctx bound the run.
func (g Git) Output(ctx context.Context, limit int64, args ...string) ([]byte, error) {
	var cancel context.CancelFunc
	if g.Timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, g.Timeout)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	defer cancel()
	cmd := g.Command(ctx, args...)
	stdout := &bounded{limit: limit, over: cancel}
	stderr := &Head{N: stderrHead}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	name := "git"
	if len(args) > 0 {
		name += " " + args[0]
	}
	switch {
	case stdout.exceeded:
		return nil, fmt.Errorf("%s: %w", name, ErrOutputTooLarge)
	case err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return nil, fmt.Errorf("%s: %w (%w)", name, context.DeadlineExceeded, err)
	case err != nil && strings.TrimSpace(stderr.String()) == "":
		return nil, fmt.Errorf("%s: %w", name, err)
	case err != nil:
		return nil, fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.buf.Bytes(), nil
}

// Run runs git to its end, discarding its output (at most 64 KiB is read before git is killed).
// Errors are Output's.
func (g Git) Run(ctx context.Context, args ...string) error {
	_, err := g.Output(ctx, 64<<10, args...)
	return err
}

// ExitCode is the exit status of the git run err came from, or -1 when err is not one (nil, a
// start failure, a kill).
func ExitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// bounded keeps up to limit bytes; the first write beyond it marks the run as too large and
// calls over (which kills git), so an endless output costs limit bytes, not memory.
type bounded struct {
	buf      bytes.Buffer
	limit    int64
	exceeded bool
	over     func()
}

func (b *bounded) Write(p []byte) (int, error) {
	if b.exceeded {
		return 0, ErrOutputTooLarge
	}
	if int64(b.buf.Len())+int64(len(p)) > b.limit {
		b.exceeded = true
		b.over()
		return 0, ErrOutputTooLarge
	}
	return b.buf.Write(p)
}

// Head keeps the first N bytes written to it and discards the rest (never failing the writer),
// for quoting git's standard error without holding all of it.
type Head struct {
	N   int
	buf bytes.Buffer
}

func (h *Head) Write(p []byte) (int, error) {
	if room := h.N - h.buf.Len(); room > 0 {
		h.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// String is what was kept.
func (h *Head) String() string { return h.buf.String() }
