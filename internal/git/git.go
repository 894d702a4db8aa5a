// Package git serves Git smart HTTP (protocol v0/v1 and v2) by running the real git binary:
// info/refs, git-upload-pack, and git-receive-pack. Every request is authorized once, by access,
// before git runs. Deploy tokens may fetch with read_repository and never push.
package git

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/gate"
	"github.com/gatehouse-dev/gatehouse/internal/gitexec"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
)

// Projects resolves a project's full path; *namespace.Service implements it.
type Projects interface {
	ProjectByPath(ctx context.Context, fullPath string) (*namespace.Project, error)
}

// Repos locates and creates bare repositories on disk, by project id.
type Repos struct {
	Root   string // directory holding <id>.git
	GitBin string
}

// Dir is the bare repository directory of project id.
func (r *Repos) Dir(id int64) string {
	return filepath.Join(r.Root, strconv.FormatInt(id, 10)+".git")
}

// Create makes an empty bare repository for project id with HEAD on main. It is made under a
// temporary name in Root and renamed into place, so no node sharing Root (docs/operations.md)
// ever sees half a repository; on failure nothing is left behind.
func (r *Repos) Create(ctx context.Context, id int64) error {
	if err := os.MkdirAll(r.Root, 0o750); err != nil {
		return err
	}
	tmp := filepath.Join(r.Root, tmpPrefix+strconv.FormatInt(id, 10)+"-"+rand.Text())
	if err := (gitexec.Git{Bin: r.GitBin}).Run(ctx, "init", "--bare", "--quiet", "--initial-branch=main", tmp); err != nil {
		_ = os.RemoveAll(tmp)
		return err
	}
	// rename(2) refuses to replace a non-empty directory: an existing repository is never
	// overwritten.
	if err := os.Rename(tmp, r.Dir(id)); err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("create repository of project %d: %w", id, err)
	}
	return nil
}

// Names in Root that are not repositories: one being created, one being deleted.
const (
	tmpPrefix     = ".tmp-"
	deletedPrefix = ".deleted-"
)

// Remove deletes project id's repository. It is first renamed out of the way, so every node
// sharing Root finds no repository at once (a git already running on it works on in the renamed
// directory and fails once it is gone), then removed. A missing repository is not an error.
func (r *Repos) Remove(ctx context.Context, id int64) error {
	trash := filepath.Join(r.Root, deletedPrefix+strconv.FormatInt(id, 10)+"-"+rand.Text())
	if err := os.Rename(r.Dir(id), trash); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("remove repository of project %d: %w", id, err)
	}
	return removeAll(ctx, trash)
}

// removeAll removes dir, again if a git still writing into it made it non-empty meanwhile.
func removeAll(ctx context.Context, dir string) error {
	var err error
	for range 20 {
		if err = os.RemoveAll(dir); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("remove %s: %w", filepath.Base(dir), err)
}

// leftoverAge is how old a temporary or deleted directory must be before Sweep removes it: far
// longer than any repository creation or removal takes, on any node.
const leftoverAge = time.Hour

// Sweep removes what a node that died while creating or deleting a repository left in Root:
// directories under the temporary or deleted names older than an hour.
func (r *Repos) Sweep(ctx context.Context) error {
	entries, err := os.ReadDir(r.Root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tmpPrefix) && !strings.HasPrefix(e.Name(), deletedPrefix) {
			continue
		}
		if info, err := e.Info(); err != nil || time.Since(info.ModTime()) < leftoverAge {
			continue
		}
		if err := removeAll(ctx, filepath.Join(r.Root, e.Name())); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// checkTimeout bounds `git version` at start-up, so a git that hangs is an error, not a hang.
const checkTimeout = 30 * time.Second

// CheckBinary verifies that git runs, for a clear error at start-up.
func CheckBinary(gitBin string) error {
	out, err := gitexec.Git{Bin: gitBin, Timeout: checkTimeout}.Output(context.Background(), 4096, "version")
	if err != nil {
		return fmt.Errorf("git is required (looked for %q): %w", gitBin, err)
	}
	if !bytes.HasPrefix(out, []byte("git version")) {
		return fmt.Errorf("%q does not look like git", gitBin)
	}
	return nil
}

// Config is what Git smart HTTP needs from the composition root.
type Config struct {
	Repos    *Repos
	Projects Projects
	Auth     *authn.Authenticator
	Gate     *gate.Gate
	Log      *slog.Logger
	// Realm is the basic-auth realm in challenges.
	Realm string
	// PushProtection refuses pushes that add live credentials (pushcheck.go); nil turns it off.
	PushProtection *PushProtection
}

// Handler serves /<project path>.git/… requests, and the same without ".git" (Handles).
// Create it with New.
type Handler struct {
	cfg   Config
	hooks hooksDir
}

// New returns the handler for cfg.
func New(cfg Config) *Handler { return &Handler{cfg: cfg} }

// service is one of the two RPCs git serves over HTTP.
type service string

const (
	uploadPack  service = "git-upload-pack"
	receivePack service = "git-receive-pack"
)

func (s service) action() access.Action {
	if s == receivePack {
		return access.WriteRepository
	}
	return access.ReadRepository
}

// Routes lists Git's routes with how each is gated: every one decides the service's action on
// the project its path names (docs/architecture.md §3.3), except the advertisement without
// ".git", which redirects to the ".git" form and so decides nothing itself.
func Routes() []gate.Route {
	var out []gate.Route
	redirect := gate.Public("redirects to the same route with .git, which decides, as GitLab does; " +
		"answered alike for every project path, existing or not, so it reveals nothing")
	for _, svc := range []service{uploadPack, receivePack} {
		out = append(out,
			gate.Route{Method: http.MethodGet, Pattern: "/{path}.git/info/refs?service=" + string(svc), Rule: gate.Decide(svc.action())},
			gate.Route{Method: http.MethodPost, Pattern: "/{path}.git/" + string(svc), Rule: gate.Decide(svc.action())},
			gate.Route{Method: http.MethodGet, Pattern: "/{path}/info/refs?service=" + string(svc), Rule: redirect},
			gate.Route{Method: http.MethodPost, Pattern: "/{path}/" + string(svc), Rule: gate.Decide(svc.action())})
	}
	return out
}

// Handles reports whether r is Git's: a path with a ".git/" segment, or one of Git's routes on a
// clone URL without ".git" (see splitWithoutSuffix). The server routes r here before the web UI.
func Handles(r *http.Request) bool {
	if strings.Contains(r.URL.Path, ".git/") {
		return true
	}
	_, _, ok := splitWithoutSuffix(r)
	return ok
}

// splitWithoutSuffix parses Git's routes on a clone URL without ".git"
// (git clone http://host/group/project), as GitLab serves them: the advertisement
// GET <project>/info/refs?service=git-upload-pack (or git-receive-pack), which redirects to the
// ".git" form so git carries on there, and the POSTs <project>/git-upload-pack and
// <project>/git-receive-pack. Only the exact query git sends qualifies, so a web page is never
// taken: the page of a project "group/info/refs" has no such query, and git, which always
// appends /info/refs to the URL it is given, asks group/info/refs/info/refs for that
// project's repository. The path must be a project path (namespace.IsProjectPath).
func splitWithoutSuffix(r *http.Request) (project, rest string, ok bool) {
	switch {
	case r.Method == http.MethodGet && (r.URL.RawQuery == "service="+string(uploadPack) || r.URL.RawQuery == "service="+string(receivePack)):
		rest = "info/refs"
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/"+string(uploadPack)):
		rest = string(uploadPack)
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/"+string(receivePack)):
		rest = string(receivePack)
	default:
		return "", "", false
	}
	project, found := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/"+rest)
	if !found || !namespace.IsProjectPath(project) {
		return "", "", false
	}
	return project, rest, true
}

// maxRequestBody bounds a POSTed pack negotiation or push (after gzip decoding).
const maxRequestBody = 2 << 30

// ServeHTTP routes, authenticates, authorizes once, then runs git.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	projectPath, rest, ok := namespace.SplitRepoPath(r.URL.Path)
	if !ok {
		if projectPath, rest, ok = splitWithoutSuffix(r); !ok {
			http.NotFound(w, r)
			return
		}
		if rest == "info/refs" {
			// Before any credential is read: git follows this redirect and sends the rest of
			// the clone or push to the ".git" URL, where the one decision is taken.
			w.Header().Set("Location", "/"+projectPath+".git/info/refs?"+r.URL.RawQuery)
			w.WriteHeader(http.StatusMovedPermanently)
			return
		}
	}
	var svc service
	advertise := false
	switch {
	case rest == "info/refs" && r.Method == http.MethodGet:
		svc, advertise = service(r.URL.Query().Get("service")), true
		if svc != uploadPack && svc != receivePack {
			// The dumb protocol is not served.
			http.Error(w, "only the smart HTTP protocol is supported", http.StatusForbidden)
			return
		}
	case (rest == string(uploadPack) || rest == string(receivePack)) && r.Method == http.MethodPost:
		svc = service(rest)
	default:
		http.NotFound(w, r)
		return
	}
	ctx := r.Context()
	principal, err := h.cfg.Auth.Basic(ctx, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	project, err := h.cfg.Projects.ProjectByPath(ctx, projectPath)
	if err != nil {
		if !errors.Is(err, errkind.ErrNotFound) {
			h.writeError(w, r, err) // 503 while the database is down
			return
		}
		// Never reveal whether a project exists: ask anonymous clients for credentials.
		if principal.Kind == access.Anonymous {
			h.challenge(w, "authentication required")
			return
		}
		http.Error(w, "repository not found", http.StatusNotFound)
		return
	}
	d, err := h.cfg.Gate.Authorize(ctx, r, principal, access.Resource{Project: project}, svc.action())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if !d.Allow() {
		switch d.Denial {
		case access.Unauthenticated:
			h.challenge(w, d.Reason)
		case access.NotFound:
			http.Error(w, "repository not found", http.StatusNotFound)
		default:
			http.Error(w, "access denied: "+d.Reason, http.StatusForbidden)
		}
		return
	}
	h.run(w, r, project, principal, svc, advertise)
}

// writeError is git's one error writer: authn's errors and errkind's kinds to a status and a
// line of text (git shows it); anything else is logged and answered with a generic 500.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, authn.ErrBanned):
		http.Error(w, err.Error(), http.StatusForbidden)
	case errors.Is(err, authn.ErrInvalidCredentials), errors.Is(err, authn.ErrDeployTokenNotAllowed):
		h.challenge(w, "HTTP Basic: Access denied. If a password was provided for Git authentication, the password was incorrect or you're required to use a token instead of a password.")
	case errors.Is(err, errkind.ErrUnauthorized):
		h.challenge(w, "authentication required")
	case errors.Is(err, errkind.ErrForbidden):
		http.Error(w, "access denied", http.StatusForbidden)
	case errors.Is(err, errkind.ErrNotFound):
		http.Error(w, "repository not found", http.StatusNotFound)
	case errors.Is(err, errkind.ErrInvalid):
		http.Error(w, "bad request", http.StatusBadRequest)
	case errors.Is(err, errkind.ErrConflict):
		http.Error(w, "conflict", http.StatusConflict)
	case errors.Is(err, errkind.ErrTooLarge):
		http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
	case errors.Is(err, errkind.ErrUnavailable):
		httpx.Internal(r.Context(), h.cfg.Log, err)
		http.Error(w, "service unavailable: storage does not answer, try again", http.StatusServiceUnavailable)
	default:
		h.internal(w, r, err)
	}
}

func (h *Handler) challenge(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Basic realm="`+h.cfg.Realm+`"`)
	http.Error(w, msg, http.StatusUnauthorized)
}

func (h *Handler) internal(w http.ResponseWriter, r *http.Request, err error) {
	httpx.Internal(r.Context(), h.cfg.Log, err)
	http.Error(w, "internal server error", http.StatusInternalServerError)
}

// gitProtocolRE accepts the Git-Protocol header values git sends ("version=2", and
// colon-separated key=value lists), nothing that could smuggle other environment.
var gitProtocolRE = regexp.MustCompile(`^[A-Za-z0-9=:._-]{1,256}$`)

func (h *Handler) run(w http.ResponseWriter, r *http.Request, project *namespace.Project, pusher access.Principal, svc service, advertise bool) {
	ctx := r.Context()
	dir := h.cfg.Repos.Dir(project.ID)
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			h.internal(w, r, fmt.Errorf("repository of project %d: %w", project.ID, err))
			return
		}
		// The project is being created or deleted through another node (its row and its
		// repository change one after the other).
		h.cfg.Log.WarnContext(ctx, "project without a repository", "request_id", httpx.RequestID(ctx), "project_id", project.ID)
		http.Error(w, "repository not found", http.StatusNotFound)
		return
	}
	var extra []string
	v2 := false
	if gp := r.Header.Get("Git-Protocol"); gp != "" && gitProtocolRE.MatchString(gp) {
		extra = append(extra, "GIT_PROTOCOL="+gp)
		v2 = bytes.Contains([]byte(gp), []byte("version=2"))
	}
	var args []string
	if svc == receivePack && h.cfg.PushProtection != nil {
		// Push options carry secret push protection's skip option (pushcheck.go).
		args = append(args, "-c", "receive.advertisePushOptions=true")
		if !advertise {
			hooks, err := h.hooks.get()
			var hook *pushHook
			if err == nil {
				hook, err = newPushHook()
			}
			if err != nil {
				h.internal(w, r, fmt.Errorf("push hook: %w", err))
				return
			}
			args = append(args, "-c", "core.hooksPath="+hooks)
			extra = append(extra, hook.env()...)
			guarded := make(chan struct{})
			defer func() { hook.close(); <-guarded }()
			go func() {
				defer close(guarded)
				h.guardPush(ctx, hook, dir, project, pusher, httpx.ClientIP(r))
			}()
		}
	}
	args = append(args, string(svc)[len("git-"):], "--stateless-rpc")
	if advertise {
		args = append(args, "--advertise-refs")
	}
	args = append(args, dir)
	cmd := gitexec.Git{Bin: h.cfg.Repos.GitBin, Env: extra}.Command(ctx, args...)
	// The first 512 bytes of stderr are logged if git fails.
	stderr := &gitexec.Head{N: 512}
	cmd.Stderr = stderr

	if advertise {
		w.Header().Set("Content-Type", "application/x-"+string(svc)+"-advertisement")
	} else {
		w.Header().Set("Content-Type", "application/x-"+string(svc)+"-result")
		w.Header().Set("Transfer-Encoding", "identity")
		body := io.Reader(r.Body)
		if r.Header.Get("Content-Encoding") == "gzip" {
			gz, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, "malformed gzip request body", http.StatusBadRequest)
				return
			}
			defer gz.Close()
			body = gz
		}
		cmd.Stdin = io.LimitReader(body, maxRequestBody)
	}
	w.Header().Set("Cache-Control", "no-cache, max-age=0, must-revalidate")
	w.Header().Set("Expires", "Fri, 01 Jan 1980 00:00:00 GMT")
	w.Header().Set("Pragma", "no-cache")

	stdout, err := cmd.StdoutPipe()
	if err != nil {
		h.internal(w, r, err)
		return
	}
	if err := cmd.Start(); err != nil {
		h.internal(w, r, fmt.Errorf("start git: %w", err))
		return
	}
	w.WriteHeader(http.StatusOK)
	if advertise && !v2 {
		// Smart HTTP v0/v1 prefixes the advertisement with the service line (git http-backend does
		// the same); protocol v2 does not.
		_, _ = io.WriteString(w, pktLine("# service="+string(svc)+"\n")+"0000")
	}
	// A pack response is not chunked (Transfer-Encoding: identity above: it ends when the
	// connection closes, as git accepts). The bytes still pass through a user-space buffer: Go
	// splices into TCP only from sockets, and sendfile refuses pipes (measured: same CPU as a
	// chunked copy loop).
	_, _ = io.Copy(w, stdout)
	_, _ = io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil && ctx.Err() == nil {
		h.cfg.Log.WarnContext(ctx, "git exited with an error", "request_id", httpx.RequestID(ctx),
			"service", string(svc), "project_id", project.ID, "err", err.Error(), "stderr", stderr.String())
	}
}

func pktLine(s string) string { return fmt.Sprintf("%04x%s", len(s)+4, s) }
