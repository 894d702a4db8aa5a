package server_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/server"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// syncBuffer is a goroutine-safe writer for the server's stdout and logs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// instance is a server booted by hand, so a test can reuse its data dir across restarts and tell
// what went to stdout from what went to the log.
type instance struct {
	URL    string
	Srv    *server.Server
	Stdout *syncBuffer
	Logs   *syncBuffer
	stop   func()
}

// Stop shuts the server down; it is safe to call twice.
func (in *instance) Stop() { in.stop() }

// bootConfig is a configuration on dataDir with no root password or token.
func bootConfig(dataDir string) config.Config {
	cfg := config.Default()
	cfg.DataDir = dataDir
	cfg.DatabaseURL = filepath.Join(dataDir, "gatehouse.db")
	cfg.LogLevel = "debug"
	return cfg
}

// boot starts a server with cfg on a fresh loopback port.
func boot(t *testing.T, cfg config.Config) *instance {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = l.Addr().String()
	cfg.ExternalURL = "http://" + l.Addr().String()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	in := &instance{URL: cfg.ExternalURL, Stdout: &syncBuffer{}, Logs: &syncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, server.Options{Log: server.NewLogger(in.Logs, "debug"), Stdout: in.Stdout})
	if err != nil {
		cancel()
		l.Close()
		t.Fatalf("boot: %v", err)
	}
	in.Srv = srv
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ctx, l)
	}()
	var once sync.Once
	in.stop = func() {
		once.Do(func() {
			cancel()
			<-done
			srv.Close()
		})
	}
	t.Cleanup(in.stop)
	return in
}

// count runs a COUNT(*) query on the server's database.
func count(t *testing.T, srv *server.Server, table string) int {
	t.Helper()
	var n int
	if err := srv.Store.SQL().QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// apiUser answers GET /api/v4/user with a PRIVATE-TOKEN.
func apiUser(t *testing.T, baseURL, pat string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, baseURL+"/api/v4/user", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("PRIVATE-TOKEN", pat)
	r := do(t, "GET /api/v4/user", req)
	return r.status, r.body
}

// gitURL embeds credentials in a clone URL of base.
func gitURL(base, fullPath, user, secret string) string {
	return strings.Replace(base, "http://", "http://"+user+":"+secret+"@", 1) + "/" + fullPath + ".git"
}

var initialPassword = regexp.MustCompile(`Initial password \(shown once\): (\S+)\n`)

func TestRootBootstrap(t *testing.T) {
	ctx := context.Background()
	dataDir := filepath.Join(t.TempDir(), "data") // not yet created: the server creates it
	keyPath := filepath.Join(dataDir, "secret.key")

	// First boot without GATEHOUSE_ROOT_PASSWORD: a generated password, printed once to stdout.
	first := boot(t, bootConfig(dataDir))
	m := initialPassword.FindAllStringSubmatch(first.Stdout.String(), -1)
	if len(m) != 1 || len(m[0][1]) < 16 {
		t.Fatalf("stdout %q: want the initial password printed exactly once", first.Stdout.String())
	}
	password := m[0][1]
	if strings.Count(first.Stdout.String(), "\n") != 1 {
		t.Fatalf("stdout has more than the password line: %q", first.Stdout.String())
	}
	if strings.Contains(first.Logs.String(), password) {
		t.Fatal("the initial password went to the log")
	}
	root, err := first.Srv.Namespaces.CheckPassword(ctx, "root", password)
	if err != nil || !root.Admin {
		t.Fatalf("printed password does not log root in as an admin: %v", err)
	}

	// It works for basic auth on git: push and clone a project as root.
	g, err := first.Srv.Namespaces.CreateGroup(ctx, namespace.CreateGroupInput{Name: "ops", Path: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := first.Srv.Namespaces.CreateProject(ctx, namespace.CreateProjectInput{Name: "infra", Path: "infra", GroupID: g.ID})
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	testenv.Git(t, work, "init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(work, "README.md"), []byte("bootstrap\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Git(t, work, "add", ".")
	testenv.Git(t, work, "commit", "-q", "-m", "initial")
	testenv.Git(t, work, "push", "-q", gitURL(first.URL, p.FullPath, "root", password), "main")
	if _, out, err := clone(t, gitURL(first.URL, p.FullPath, "root", password+"x")); err == nil || !strings.Contains(out, "Authentication failed") {
		t.Fatalf("a wrong root password cloned: err=%v\n%s", err, out)
	}
	// A deploy token made now must still work after a restart: the instance key is reused.
	_, deploySecret, err := first.Srv.Deploy.Create(ctx, token.CreateDeployInput{Name: "ci", Username: "ci-bot",
		Scopes: []string{"read_repository"}, Owner: token.Owner{ProjectID: p.ID}, CreatorID: root.ID})
	if err != nil {
		t.Fatal(err)
	}

	st, err := os.Stat(keyPath)
	if err != nil {
		t.Fatalf("instance key file: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("secret.key mode %v, want 0600", st.Mode().Perm())
	}
	key1, err := os.ReadFile(keyPath)
	if err != nil || len(strings.TrimSpace(string(key1))) < 64 {
		t.Fatalf("secret.key holds %d bytes (%v), want at least 256 bits in hex", len(key1), err)
	}
	if strings.Contains(first.Logs.String(), strings.TrimSpace(string(key1))) || strings.Contains(first.Stdout.String(), strings.TrimSpace(string(key1))) {
		t.Fatal("the instance key was logged or printed")
	}
	users, pats := count(t, first.Srv, "users"), count(t, first.Srv, "personal_tokens")
	if users != 1 || pats != 0 {
		t.Fatalf("after the first boot: %d users, %d personal tokens; want 1 and 0", users, pats)
	}
	first.Stop()

	// Second boot on the same data dir: prints nothing, creates nothing, reuses the key.
	second := boot(t, bootConfig(dataDir))
	if out := second.Stdout.String(); out != "" {
		t.Fatalf("second boot printed %q", out)
	}
	if u, pt := count(t, second.Srv, "users"), count(t, second.Srv, "personal_tokens"); u != users || pt != pats {
		t.Fatalf("second boot created rows: %d users, %d personal tokens", u, pt)
	}
	if key2, err := os.ReadFile(keyPath); err != nil || !bytes.Equal(key1, key2) {
		t.Fatalf("secret.key changed across restarts (%v)", err)
	}
	if _, out, err := clone(t, gitURL(second.URL, p.FullPath, "root", password)); err != nil {
		t.Fatalf("root password after restart: %v\n%s", err, out)
	}
	if _, out, err := clone(t, gitURL(second.URL, p.FullPath, "ci-bot", deploySecret.Reveal())); err != nil {
		t.Fatalf("deploy token from before the restart: %v\n%s", err, out)
	}
	second.Stop()

	// GATEHOUSE_ROOT_TOKEN: a personal access token for root, created once, usable as PRIVATE-TOKEN.
	rootToken := "glpat-bootstrap-0123456789abcdef"
	for i := 0; i < 2; i++ {
		cfg := bootConfig(dataDir)
		cfg.RootToken = config.Secret(rootToken)
		in := boot(t, cfg)
		if out := in.Stdout.String(); out != "" {
			t.Fatalf("boot %d with GATEHOUSE_ROOT_TOKEN printed %q", i+3, out)
		}
		if st, body := apiUser(t, in.URL, rootToken); st != http.StatusOK || !strings.Contains(body, `"username":"root"`) {
			t.Fatalf("boot %d: GET /user with the root token: %d %s", i+3, st, body)
		}
		if st, _ := apiUser(t, in.URL, rootToken+"x"); st != http.StatusUnauthorized {
			t.Fatalf("boot %d: a wrong root token got %d, want 401", i+3, st)
		}
		if n := count(t, in.Srv, "personal_tokens"); n != 1 {
			t.Fatalf("boot %d: %d personal tokens, want exactly 1 (idempotent)", i+3, n)
		}
		if n := count(t, in.Srv, "users"); n != 1 {
			t.Fatalf("boot %d: %d users, want 1", i+3, n)
		}
		if strings.Contains(in.Logs.String(), rootToken) {
			t.Fatal("the root token was logged")
		}
		in.Stop()
	}
}

func TestRootPasswordFromEnvironment(t *testing.T) {
	cfg := bootConfig(t.TempDir())
	cfg.RootPassword = "chosen-by-the-operator"
	in := boot(t, cfg)
	if out := in.Stdout.String(); out != "" {
		t.Fatalf("printed %q although GATEHOUSE_ROOT_PASSWORD was set", out)
	}
	if _, err := in.Srv.Namespaces.CheckPassword(context.Background(), "root", "chosen-by-the-operator"); err != nil {
		t.Fatalf("GATEHOUSE_ROOT_PASSWORD does not log root in: %v", err)
	}
}

func TestInstanceKey(t *testing.T) {
	t.Run("ok/GATEHOUSE_SECRET_KEY means no key file", func(t *testing.T) {
		cfg := bootConfig(t.TempDir())
		cfg.SecretKey = "an-operator-managed-instance-key-0123456789"
		boot(t, cfg).Stop()
		if _, err := os.Stat(filepath.Join(cfg.DataDir, "secret.key")); !os.IsNotExist(err) {
			t.Fatalf("secret.key written although GATEHOUSE_SECRET_KEY is set (%v)", err)
		}
	})
	t.Run("fail/an empty key file is refused", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "secret.key"), []byte("\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		srv, err := server.New(context.Background(), bootConfig(dir), server.Options{Log: server.NewLogger(&syncBuffer{}, "info"), Stdout: &syncBuffer{}})
		if err == nil {
			srv.Close()
			t.Fatal("booted with an empty instance key")
		}
		if !strings.Contains(err.Error(), "secret.key") {
			t.Fatalf("error %q does not name the key file", err)
		}
	})
}
