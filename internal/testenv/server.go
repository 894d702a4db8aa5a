package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/server"
)

// Clock is a movable clock for tests; its zero value reads the real time plus Offset.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now returns the real time moved by the offset.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// SetTo moves the clock so that Now returns about t.
func (c *Clock) SetTo(t time.Time) {
	c.mu.Lock()
	c.offset = time.Until(t)
	c.mu.Unlock()
}

// syncBuffer is a goroutine-safe log sink. With a limit it keeps only about the last limit
// bytes, so a benchmark's millions of access-log lines neither grow memory nor time the growth.
type syncBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	limit int
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limit > 0 && s.b.Len()+len(p) > s.limit {
		s.b.Next(s.b.Len() / 2) // drop the older half; Write then reuses the space
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServer is a Gatehouse booted on a loopback port for one test.
type TestServer struct {
	URL       string
	Server    *server.Server
	Clock     *Clock
	RootToken string
	// Client makes the API helpers' requests; nil means http.DefaultClient. A TLS server's
	// tests set it to a client trusting their CA.
	Client *http.Client
	logs   *syncBuffer
	stdout *syncBuffer
}

// Logs returns everything the server logged and printed so far.
func (ts *TestServer) Logs() string { return ts.logs.String() + ts.stdout.String() }

// ServerOption adjusts the configuration before boot.
type ServerOption func(*config.Config)

// WithPostgres boots the server on a fresh PostgreSQL schema instead of SQLite.
func WithPostgres(tb testing.TB) ServerOption {
	url := PostgresURL(tb)
	return func(c *config.Config) { c.DatabaseURL = url }
}

// StartServer boots Gatehouse on 127.0.0.1:0 with a temporary data dir and a root personal
// access token (ts.RootToken), and stops it when the test ends.
func StartServer(tb testing.TB, opts ...ServerOption) *TestServer {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	cfg := config.Default()
	cfg.Listen = l.Addr().String()
	cfg.DataDir = tb.TempDir()
	cfg.ExternalURL = "http://" + l.Addr().String()
	cfg.RootPassword = config.Secret("root-password-" + randomHex(4))
	cfg.RootToken = config.Secret("glpat-test-root-" + randomHex(16))
	cfg.LogLevel = "debug"
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = cfg.DataDir + "/gatehouse.db"
	}
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	clock := &Clock{}
	logs, stdout := &syncBuffer{}, &syncBuffer{}
	// Tests log everything for their failure messages; benchmarks log at the configured level,
	// as a deployment would, into a bounded buffer.
	level := "debug"
	if _, bench := tb.(*testing.B); bench {
		level, logs.limit = cfg.LogLevel, 1<<20
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, server.Options{Log: server.NewLogger(logs, level), Stdout: stdout, Now: clock.Now,
		CertCheckEvery: 50 * time.Millisecond})
	if err != nil {
		cancel()
		l.Close()
		tb.Fatalf("start server: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ctx, l)
	}()
	tb.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	return &TestServer{URL: cfg.ExternalURL, Server: srv, Clock: clock, RootToken: cfg.RootToken.Reveal(), logs: logs, stdout: stdout}
}

// API calls the REST API as root (or with the given personal token) and decodes the JSON answer
// into out (if non-nil). It returns the status code.
func (ts *TestServer) API(tb testing.TB, method, path string, body any, out any) int {
	tb.Helper()
	return ts.APIAs(tb, ts.RootToken, method, path, body, out)
}

// APIAs is API with an explicit PRIVATE-TOKEN ("" sends none).
func (ts *TestServer) APIAs(tb testing.TB, pat, method, path string, body any, out any) int {
	tb.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, ts.URL+"/api/v4"+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if pat != "" {
		req.Header.Set("PRIVATE-TOKEN", pat)
	}
	c := ts.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			tb.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode
}

// MustAPI is API that fails the test unless the status is want.
func (ts *TestServer) MustAPI(tb testing.TB, want int, method, path string, body any, out any) {
	tb.Helper()
	var raw json.RawMessage
	got := ts.API(tb, method, path, body, &raw)
	if got != want {
		tb.Fatalf("%s %s: status %d, want %d: %s", method, path, got, want, raw)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			tb.Fatal(err)
		}
	}
}

// User is a non-admin account created through the API, with a personal access token.
type User struct {
	ID       int64
	Username string
	PAT      string
}

// CreateUser creates a non-admin user as root, with the password "password-<username>", and
// gives it a personal access token with scopes (default api).
func (ts *TestServer) CreateUser(tb testing.TB, username string, scopes ...string) User {
	tb.Helper()
	if len(scopes) == 0 {
		scopes = []string{"api"}
	}
	var u struct {
		ID int64 `json:"id"`
	}
	ts.MustAPI(tb, http.StatusCreated, "POST", "/users", map[string]any{"username": username,
		"email": username + "@example.com", "name": "User " + username, "password": "password-" + username}, &u)
	var pat struct {
		Token string `json:"token"`
	}
	ts.MustAPI(tb, http.StatusCreated, "POST", fmt.Sprintf("/users/%d/personal_access_tokens", u.ID),
		map[string]any{"name": "pat", "scopes": scopes}, &pat)
	if !strings.HasPrefix(pat.Token, "glpat-") {
		tb.Fatalf("personal access token without glpat- prefix")
	}
	return User{ID: u.ID, Username: username, PAT: pat.Token}
}

// Fixture is a small namespace tree: group/sub/subsub with projects at each level and a sibling.
type Fixture struct {
	GroupID, SubID, SubSubID, OtherGroupID int64
	// Projects by short name: "top" (group/top), "child" (group/sub/child),
	// "grandchild" (group/sub/subsub/grandchild), "sibling" (other/sibling).
	Projects map[string]Project
}

// Project is the API's view of a project that tests need.
type Project struct {
	ID       int64  `json:"id"`
	FullPath string `json:"path_with_namespace"`
}

// MakeFixture creates the Fixture tree through the API.
func (ts *TestServer) MakeFixture(tb testing.TB) Fixture {
	tb.Helper()
	var f Fixture
	type group struct {
		ID int64 `json:"id"`
	}
	mk := func(name string, parent int64) int64 {
		var g group
		body := map[string]any{"name": name, "path": name}
		if parent != 0 {
			body["parent_id"] = parent
		}
		ts.MustAPI(tb, 201, "POST", "/groups", body, &g)
		return g.ID
	}
	f.GroupID = mk("group", 0)
	f.SubID = mk("sub", f.GroupID)
	f.SubSubID = mk("subsub", f.SubID)
	f.OtherGroupID = mk("other", 0)
	f.Projects = map[string]Project{}
	for name, ns := range map[string]int64{"top": f.GroupID, "child": f.SubID, "grandchild": f.SubSubID, "sibling": f.OtherGroupID} {
		var p Project
		ts.MustAPI(tb, 201, "POST", "/projects", map[string]any{"name": name, "path": name, "namespace_id": ns}, &p)
		f.Projects[name] = p
	}
	return f
}

// DeployToken is a created deploy token with its secret.
type DeployToken struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	Token    string `json:"token"`
}

// CreateDeployToken creates a deploy token on "projects/<id>" or "groups/<id>" as root.
func (ts *TestServer) CreateDeployToken(tb testing.TB, owner string, scopes []string, extra map[string]any) DeployToken {
	tb.Helper()
	body := map[string]any{"name": "test-" + randomHex(3), "scopes": scopes}
	for k, v := range extra {
		body[k] = v
	}
	var t DeployToken
	ts.MustAPI(tb, 201, "POST", "/"+owner+"/deploy_tokens", body, &t)
	if !strings.HasPrefix(t.Token, "gldt-") {
		tb.Fatalf("created token has no gldt- secret: %+v", t.ID)
	}
	return t
}

// GitURL is the clone URL of a project with basic-auth credentials embedded.
func (ts *TestServer) GitURL(fullPath, user, secret string) string {
	scheme, u, _ := strings.Cut(ts.URL, "://")
	if user == "" {
		return fmt.Sprintf("%s://%s/%s.git", scheme, u, fullPath)
	}
	return fmt.Sprintf("%s://%s:%s@%s/%s.git", scheme, user, secret, u, fullPath)
}
