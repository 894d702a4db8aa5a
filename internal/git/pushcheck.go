package git

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/gitexec"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/secretscan"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// Secret push protection (docs/design.md §6.2.2): a push whose new commits add a live Gatehouse
// credential is refused in git's own pre-receive step, with the commit, file and line named and
// the secret never shown, unless the pusher passes -o secret_push_protection.skip_all.
//
// git receive-pack runs the pre-receive hook of core.hooksPath, which Gatehouse points at a
// directory of its own holding one shell script. The script hands the ref updates, the
// quarantine directory (where the pushed objects wait until the hook accepts them) and the push
// options to this process through a named pipe, and ends as the answer on a second pipe says.
// The hook runs on the node that serves the push, so nothing crosses nodes.

// PushProtection is the configuration of secret push protection; a nil one turns it off.
type PushProtection struct {
	// Live reports whether secret is a credential that works now, and what kind it is ("deploy
	// token", "personal access token"). It must not count in the ban or mark the token used.
	Live func(ctx context.Context, secret token.Secret) (kind string, live bool)
	// Record audits a refused push, or one whose credentials were let through by the skip
	// option, with the findings (never the secrets); nil records nothing.
	Record func(ctx context.Context, project *namespace.Project, pusher access.Principal, ip netip.Addr, skipped bool, findings []string)
	// Limit bounds the patch text scanned per push (0: DefaultScanLimit) and Timeout the scan's
	// time (0: DefaultScanTimeout). A push beyond either is let through with a warning.
	Limit   int64
	Timeout time.Duration
}

// DefaultScanLimit and DefaultScanTimeout bound one push's scan.
const (
	DefaultScanLimit   = 1 << 30
	DefaultScanTimeout = 60 * time.Second
)

// SkipOption is the push option that lets live credentials through, as GitLab names it.
const SkipOption = "secret_push_protection.skip_all"

// maxReported is how many findings a refusal lists.
const maxReported = 20

// preReceiveScript is the hook. Its lines to the server: "quarantine <dir>", one "option <o>"
// per push option, git's "<old> <new> <ref>" lines, then "end". The server's lines back are
// shown to the pusher, except "accept", which makes the hook succeed.
const preReceiveScript = `#!/bin/sh
# Gatehouse's pre-receive hook (docs/design.md §6.2.2): hands the push to the server and ends as
# it answers.
[ -n "$GATEHOUSE_HOOK_IN" ] || exit 0
{
	printf 'quarantine %s\n' "$GIT_QUARANTINE_PATH"
	i=0
	while [ "$i" -lt "${GIT_PUSH_OPTION_COUNT:-0}" ]; do
		eval "printf 'option %s\n' \"\$GIT_PUSH_OPTION_$i\""
		i=$((i + 1))
	done
	cat
	printf 'end\n'
} >"$GATEHOUSE_HOOK_IN" || exit 1
status=1
while IFS= read -r line; do
	case $line in
	accept) status=0 ;;
	*) printf '%s\n' "$line" >&2 ;;
	esac
done <"$GATEHOUSE_HOOK_OUT"
exit $status
`

// hooksDir is the directory core.hooksPath names, made once per process and made again if it
// goes (a temporary-file cleaner): without its script git would run no hook, and every push would
// pass unchecked.
type hooksDir struct {
	mu  sync.Mutex
	dir string
}

func (d *hooksDir) get() (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dir != "" {
		if _, err := os.Stat(filepath.Join(d.dir, "pre-receive")); err == nil {
			return d.dir, nil
		}
		_ = os.RemoveAll(d.dir)
		d.dir = ""
	}
	dir, err := os.MkdirTemp("", "gatehouse-hooks-")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "pre-receive"), []byte(preReceiveScript), 0o755); err != nil {
		_ = os.RemoveAll(dir)
		return "", err
	}
	d.dir = dir
	return dir, nil
}

// pushHook is one push's pair of named pipes.
type pushHook struct {
	dir     string
	in, out string
	inFile  *os.File
	closed  chan struct{}
	closeMu sync.Once
}

func newPushHook() (*pushHook, error) {
	dir, err := os.MkdirTemp("", "gatehouse-push-")
	if err != nil {
		return nil, err
	}
	h := &pushHook{dir: dir, in: filepath.Join(dir, "in"), out: filepath.Join(dir, "out"), closed: make(chan struct{})}
	for _, p := range []string{h.in, h.out} {
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("push hook pipe: %w", err)
		}
	}
	// Read-write: opening never waits for the hook, and closing ends a read that waits for a
	// hook git never ran (a push that failed before it).
	if h.inFile, err = os.OpenFile(h.in, os.O_RDWR, 0); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return h, nil
}

func (h *pushHook) env() []string {
	return []string{"GATEHOUSE_HOOK_IN=" + h.in, "GATEHOUSE_HOOK_OUT=" + h.out}
}

func (h *pushHook) close() {
	h.closeMu.Do(func() {
		close(h.closed)
		_ = h.inFile.Close()
		_ = os.RemoveAll(h.dir)
	})
}

// pushRequest is what the hook hands over.
type pushRequest struct {
	quarantine string
	options    []string
	updates    []refUpdate
}

type refUpdate struct{ old, new, ref string }

var objectID = regexp.MustCompile(`^(?:[0-9a-f]{40}|[0-9a-f]{64})$`)

// read reads the hook's request, up to "end".
func (h *pushHook) read() (pushRequest, error) {
	var req pushRequest
	sc := bufio.NewScanner(h.inFile)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "end":
			return req, nil
		case strings.HasPrefix(line, "quarantine "):
			req.quarantine = strings.TrimPrefix(line, "quarantine ")
		case strings.HasPrefix(line, "option "):
			req.options = append(req.options, strings.TrimPrefix(line, "option "))
		default:
			f := strings.Fields(line)
			if len(f) != 3 || !objectID.MatchString(f[0]) || !objectID.MatchString(f[1]) {
				return req, fmt.Errorf("push hook: malformed ref update %q", line)
			}
			req.updates = append(req.updates, refUpdate{f[0], f[1], f[2]})
		}
	}
	if err := sc.Err(); err != nil {
		return req, err
	}
	return req, io.ErrUnexpectedEOF
}

// answer writes lines and the verdict to the hook, waiting (until ctx ends) for it to open its
// end of the pipe.
func (h *pushHook) answer(ctx context.Context, accept bool, lines []string) error {
	var f *os.File
	for {
		var err error
		f, err = os.OpenFile(h.out, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.ENXIO) { // ENXIO: the hook has not opened it yet
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-h.closed:
			return errors.New("push hook: git ended first")
		case <-time.After(2 * time.Millisecond):
		}
	}
	defer f.Close()
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(strings.ReplaceAll(l, "\n", " ") + "\n")
	}
	if accept {
		b.WriteString("accept\n")
	}
	_, err := io.WriteString(f, b.String())
	return err
}

// guardPush serves one push's hook: it reads the request, scans, and answers. It returns when
// the hook is answered or the push ends.
func (h *Handler) guardPush(ctx context.Context, hook *pushHook, dir string, project *namespace.Project, pusher access.Principal, ip netip.Addr) {
	req, err := hook.read()
	if err != nil {
		select {
		case <-hook.closed: // git ran no hook
		default:
			h.cfg.Log.WarnContext(ctx, "push hook", "request_id", httpx.RequestID(ctx), "err", err.Error())
		}
		return
	}
	accept, lines := h.checkPush(ctx, dir, project, pusher, ip, req)
	if err := hook.answer(ctx, accept, lines); err != nil {
		h.cfg.Log.WarnContext(ctx, "push hook answer", "request_id", httpx.RequestID(ctx), "err", err.Error())
	}
}

// checkPush scans the pushed commits and decides.
func (h *Handler) checkPush(ctx context.Context, dir string, project *namespace.Project, pusher access.Principal, ip netip.Addr, req pushRequest) (bool, []string) {
	pp := h.cfg.PushProtection
	objects := filepath.Join(dir, "objects")
	if req.quarantine != "" && filepath.Dir(filepath.Clean(req.quarantine)) != objects {
		return false, []string{"GATEHOUSE: the push could not be checked"}
	}
	var tips []string
	for _, u := range req.updates {
		if strings.Trim(u.new, "0") != "" { // a deletion adds nothing
			tips = append(tips, u.new)
		}
	}
	if len(tips) == 0 {
		return true, nil
	}
	limit, timeout := pp.Limit, pp.Timeout
	if limit <= 0 {
		limit = DefaultScanLimit
	}
	if timeout <= 0 {
		timeout = DefaultScanTimeout
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	env := []string{}
	if req.quarantine != "" {
		env = append(env, "GIT_OBJECT_DIRECTORY="+req.quarantine, "GIT_ALTERNATE_OBJECT_DIRECTORIES="+objects,
			"GIT_QUARANTINE_PATH="+req.quarantine)
	}
	args := append(append(append([]string{"--git-dir=" + dir}, secretscan.LogArgs...), tips...), "--not", "--all")
	cmd := gitexec.Git{Bin: h.cfg.Repos.GitBin, Env: env}.Command(sctx, args...)
	stderr := &gitexec.Head{N: 512}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		h.cfg.Log.ErrorContext(ctx, "secret push protection", "request_id", httpx.RequestID(ctx), "err", err.Error())
		return true, []string{"GATEHOUSE: secret push protection could not scan this push"}
	}
	seen := map[string]string{} // secret → kind, "" when not live
	var findings []string
	scanErr := secretscan.Scan(stdout, limit, func(f secretscan.Finding) bool {
		key := f.Secret.Reveal()
		kind, ok := seen[key]
		if !ok {
			if k, live := pp.Live(sctx, f.Secret); live {
				kind = k
			}
			seen[key] = kind
		}
		if kind != "" {
			findings = append(findings, fmt.Sprintf("commit %s, file %s, line %d: a live %s", short(f.Commit), f.Path, f.Line, kind))
		}
		return len(findings) < maxReported
	})
	timedOut := errors.Is(sctx.Err(), context.DeadlineExceeded)
	stoppedEarly := len(findings) >= maxReported
	if stoppedEarly || scanErr != nil {
		// Its output is no longer read: end git. Only then, or Wait would report the
		// cancellation of a git that was about to exit by itself.
		cancel()
	}
	_, _ = io.Copy(io.Discard, stdout)
	waitErr := cmd.Wait()
	var lines []string
	switch {
	case errors.Is(scanErr, secretscan.ErrLimit), timedOut:
		lines = append(lines, "GATEHOUSE: this push is too large for secret push protection to scan whole")
	case !stoppedEarly && (scanErr != nil || waitErr != nil):
		h.cfg.Log.ErrorContext(ctx, "secret push protection", "request_id", httpx.RequestID(ctx),
			"err", fmt.Sprint(scanErr, waitErr), "stderr", stderr.String())
		lines = append(lines, "GATEHOUSE: secret push protection could not scan this push")
	}
	if len(findings) == 0 {
		return true, lines
	}
	skip := false
	for _, o := range req.options {
		skip = skip || o == SkipOption
	}
	if pp.Record != nil {
		pp.Record(ctx, project, pusher, ip, skip, findings)
	}
	if skip {
		return true, append(lines, fmt.Sprintf("GATEHOUSE: secret push protection skipped (%s): %d live credential(s) pushed", SkipOption, len(findings)))
	}
	out := append(lines, "GATEHOUSE: push refused by secret push protection: the new commits add a live Gatehouse credential")
	for _, f := range findings {
		out = append(out, "  "+f)
	}
	return false, append(out,
		"Remove the credential from these commits and revoke it, since it may have been seen.",
		"If it is meant to be there, push again with: git push -o "+SkipOption)
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
