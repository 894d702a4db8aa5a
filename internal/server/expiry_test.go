package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/server"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testbin"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// schedClock is a settable clock whose waits the test fires, shared by the servers of a test.
type schedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *schedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *schedClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// schedTimer is one server's scheduler timer: each After call is handed to the test.
type schedTimer struct {
	waits chan time.Duration
	fire  chan time.Time
}

func newSchedTimer() *schedTimer {
	return &schedTimer{waits: make(chan time.Duration, 1), fire: make(chan time.Time)}
}

func (s *schedTimer) After(d time.Duration) <-chan time.Time {
	s.waits <- d
	return s.fire
}

// expiryServer is a Gatehouse booted with an injected scheduler clock and SMTP to mailpit.
type expiryServer struct {
	srv   *server.Server
	url   string
	root  string
	timer *schedTimer
	logs  *bytes.Buffer
	mu    *sync.Mutex
}

func (e *expiryServer) Logs() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.logs.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func hexN(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// bootExpiryServer starts a server on databaseURL ("" for a fresh SQLite) with the scheduler
// on clock c, mailing through mp; secretKey is shared by the nodes of one cluster.
func bootExpiryServer(t *testing.T, databaseURL, secretKey string, mp *testbin.Mailpit, c *schedClock) *expiryServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Listen = l.Addr().String()
	cfg.DataDir = t.TempDir()
	cfg.ExternalURL = "http://" + l.Addr().String()
	cfg.RootPassword = config.Secret("root-password-" + hexN(4))
	cfg.RootToken = config.Secret("glpat-expiry-root-" + hexN(16))
	cfg.SecretKey = config.Secret(secretKey)
	cfg.DatabaseURL = databaseURL
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = cfg.DataDir + "/gatehouse.db"
	}
	cfg.SMTP = config.SMTP{Host: mp.SMTPHost, Port: mp.SMTPPort, TLS: "none", From: "Gatehouse <gatehouse@example.com>"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	e := &expiryServer{url: cfg.ExternalURL, root: cfg.RootToken.Reveal(), timer: newSchedTimer(), logs: &bytes.Buffer{}, mu: &sync.Mutex{}}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, server.Options{Log: server.NewLogger(lockedWriter{e.mu, e.logs}, "debug"),
		Stdout: io.Discard, Now: c.Now, After: e.timer.After})
	if err != nil {
		cancel()
		t.Fatalf("start server: %v", err)
	}
	e.srv = srv
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ctx, l)
	}()
	t.Cleanup(func() {
		cancel()
		// Unblock a scheduler waiting to hand over its next wait.
		select {
		case <-e.timer.waits:
		default:
		}
		<-done
		srv.Close()
	})
	return e
}

// expiryServerFixture: group acme (alice owner), project acme/app (bob maintainer, dave
// developer); tokens app+5d, acme+25d, app+55d and a revoked app+5d. It returns the mails the
// first run must send: "token=<id>; interval=<n>" → recipients.
func expiryServerFixture(t *testing.T, srv *server.Server, today time.Time) map[string][]string {
	t.Helper()
	ctx := context.Background()
	users := map[string]*namespace.User{}
	for _, n := range []string{"alice", "bob", "dave"} {
		u, err := srv.Namespaces.CreateUser(ctx, namespace.CreateUserInput{Username: n, Email: n + "@example.com", Name: n,
			Password: "password-" + hexN(8)})
		if err != nil {
			t.Fatal(err)
		}
		users[n] = u
	}
	g, err := srv.Namespaces.CreateGroup(ctx, namespace.CreateGroupInput{Name: "acme", Path: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := srv.Namespaces.CreateProject(ctx, namespace.CreateProjectInput{Name: "app", Path: "app", GroupID: g.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []namespace.Member{{UserID: users["alice"].ID, GroupID: g.ID, Role: namespace.Owner},
		{UserID: users["bob"].ID, ProjectID: p.ID, Role: namespace.Maintainer},
		{UserID: users["dave"].ID, ProjectID: p.ID, Role: namespace.Developer}} {
		if err := srv.Namespaces.AddMember(ctx, namespace.Instance, m); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(name string, owner token.Owner, days int) int64 {
		tk, _, err := srv.Deploy.Create(ctx, token.CreateDeployInput{Name: name, Scopes: []string{"read_repository"},
			ExpiresAt: today.AddDate(0, 0, days).Format(time.DateOnly), Owner: owner, CreatorID: users["alice"].ID})
		if err != nil {
			t.Fatal(err)
		}
		return tk.ID
	}
	key := func(id int64, interval int) string {
		return "token=" + itoa(id) + "; interval=" + itoa(int64(interval))
	}
	want := map[string][]string{
		key(mk("app-5", token.Owner{ProjectID: p.ID}, 5), 7):    {"alice", "bob"},
		key(mk("acme-25", token.Owner{GroupID: g.ID}, 25), 30):  {"alice"},
		key(mk("app-55", token.Owner{ProjectID: p.ID}, 55), 60): {"alice", "bob"},
	}
	revoked := mk("revoked-5", token.Owner{ProjectID: p.ID}, 5)
	if err := srv.Deploy.Revoke(ctx, revoked); err != nil {
		t.Fatal(err)
	}
	return want
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func mailCount(want map[string][]string) int {
	n := 0
	for _, r := range want {
		n += len(r)
	}
	return n
}

// mailsByNotice reads mailpit: notice → sorted recipient usernames.
func mailsByNotice(t *testing.T, mp *testbin.Mailpit) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, m := range mp.Messages(t) {
		key := strings.TrimPrefix(strings.Join(m.Headers[notify.NoticeHeader], ","), notify.JobName+"; ")
		for _, to := range m.To {
			out[key] = append(out[key], strings.TrimSuffix(to.Address, "@example.com"))
		}
	}
	for k := range out {
		sort.Strings(out[k])
	}
	return out
}

// runJobAPI calls POST /api/v4/admin/jobs/deploy-token-expiry/run with pat.
func runJobAPI(t *testing.T, baseURL, pat string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, baseURL+"/api/v4/admin/jobs/deploy-token-expiry/run", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("PRIVATE-TOKEN", pat)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

// TestExpirySchedulerInServer: a server started at 15:30 UTC waits until 01:00 UTC, then mails
// the owners and maintainers of the tokens expiring in 5, 25 and 55 days; the admin endpoint
// run afterwards sends nothing more.
func TestExpirySchedulerInServer(t *testing.T) {
	mp := testbin.StartMailpit(t)
	day0 := time.Date(2031, time.March, 10, 0, 0, 0, 0, time.UTC)
	c := &schedClock{t: day0.Add(-24*time.Hour + 15*time.Hour + 30*time.Minute)}
	e := bootExpiryServer(t, "", "", mp, c)
	want := expiryServerFixture(t, e.srv, day0)
	if d := <-e.timer.waits; d != 9*time.Hour+30*time.Minute {
		t.Fatalf("the server's scheduler waits %s, want 9h30m (until 01:00 UTC)", d)
	}
	if n := len(mp.Messages(t)); n != 0 {
		t.Fatalf("%d mails before 01:00", n)
	}
	c.Set(day0.Add(time.Hour))
	e.timer.fire <- c.Now()
	if d := <-e.timer.waits; d != 24*time.Hour { // the run is over and the next one scheduled
		t.Fatalf("next wait %s, want 24h", d)
	}
	got := mailsByNotice(t, mp)
	if len(got) != len(want) || mailCount(got) != mailCount(want) {
		t.Fatalf("scheduled run mailed %v, want %v\n%s", got, want, e.Logs())
	}
	for k, v := range want {
		if strings.Join(got[k], ",") != strings.Join(v, ",") {
			t.Fatalf("notice %s went to %v, want %v", k, got[k], v)
		}
	}
	status, body := runJobAPI(t, e.url, e.root)
	if status != http.StatusOK || body["mails_sent"] != float64(0) || body["already_notified"] != float64(3) ||
		body["smtp_configured"] != true || body["job"] != notify.JobName {
		t.Fatalf("admin run after the scheduled one: %d %v", status, body)
	}
	if n := len(mp.Messages(t)); n != mailCount(want) {
		t.Fatalf("mailpit holds %d mails after the rerun, want %d", n, mailCount(want))
	}
}

// TestExpiryTwoServersPostgres: two servers on one PostgreSQL database fire their schedulers at
// the same 01:00: each daily job runs once and every notice is mailed once; then both answer
// admin runs at the same time.
func TestExpiryTwoServersPostgres(t *testing.T) {
	dbURL := testenv.PostgresURL(t)
	mp := testbin.StartMailpit(t)
	day0 := time.Date(2031, time.March, 10, 0, 0, 0, 0, time.UTC)
	c := &schedClock{t: day0.Add(-time.Hour)}
	key := "expiry-cluster-key-" + hexN(16)
	a := bootExpiryServer(t, dbURL, key, mp, c)
	b := bootExpiryServer(t, dbURL, key, mp, c)
	want := expiryServerFixture(t, a.srv, day0)
	for _, e := range []*expiryServer{a, b} {
		if d := <-e.timer.waits; d != 2*time.Hour {
			t.Fatalf("scheduler waits %s, want 2h", d)
		}
	}
	c.Set(day0.Add(time.Hour))
	var wg sync.WaitGroup
	for _, e := range []*expiryServer{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); e.timer.fire <- c.Now() }()
	}
	wg.Wait()
	for _, e := range []*expiryServer{a, b} {
		<-e.timer.waits // both runs are over
	}
	// One run per slot across the cluster: the other node skips each daily job, whether it came
	// while the first ran or after it finished.
	for _, skipped := range []string{"deploy-token expiry job skipped", "audit retention skipped"} {
		if n := strings.Count(a.Logs(), skipped) + strings.Count(b.Logs(), skipped); n != 1 {
			t.Fatalf("%q logged %d times by the two nodes, want once\nA:\n%s\nB:\n%s", skipped, n, a.Logs(), b.Logs())
		}
	}
	got := mailsByNotice(t, mp)
	if mailCount(got) != mailCount(want) || len(got) != len(want) {
		t.Fatalf("two schedulers mailed %v, want %v\nA:\n%s\nB:\n%s", got, want, a.Logs(), b.Logs())
	}
	for k, v := range want {
		if strings.Join(got[k], ",") != strings.Join(v, ",") {
			t.Fatalf("notice %s went to %v, want %v", k, got[k], v)
		}
	}

	// Admin runs on both nodes at once: 200 (nothing new to send) or 409 (the other holds the lease).
	mp.Clear(t)
	statuses := make([]int, 2)
	bodies := make([]map[string]any, 2)
	for i, e := range []*expiryServer{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); statuses[i], bodies[i] = runJobAPI(t, e.url, e.root) }()
	}
	wg.Wait()
	ok := 0
	for i, s := range statuses {
		switch s {
		case http.StatusOK:
			ok++
			if bodies[i]["mails_sent"] != float64(0) {
				t.Fatalf("node %d rerun sent mail: %v", i, bodies[i])
			}
		case http.StatusConflict:
		default:
			t.Fatalf("node %d admin run: %d %v", i, s, bodies[i])
		}
	}
	if ok == 0 {
		t.Fatalf("no admin run succeeded: %v %v", statuses, bodies)
	}
	if n := len(mp.Messages(t)); n != 0 {
		t.Fatalf("reruns sent %d mails", n)
	}
}
