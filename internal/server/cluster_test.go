package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// startNodes boots n nodes with the same options.
func startNodes(t *testing.T, n int, opts ...testenv.ServerOption) []*testenv.TestServer {
	t.Helper()
	nodes := make([]*testenv.TestServer, n)
	for i := range nodes {
		nodes[i] = testenv.StartServer(t, opts...)
	}
	return nodes
}

// startCluster boots n nodes on one PostgreSQL schema and one data directory (the shared volume
// for Git and the instance key), with the options given (Redis, for one).
func startCluster(t *testing.T, n int, opts ...testenv.ServerOption) []*testenv.TestServer {
	t.Helper()
	db, dir := testenv.PostgresURL(t), t.TempDir()
	shared := func(c *config.Config) { c.DatabaseURL, c.DataDir = db, dir }
	return startNodes(t, n, append([]testenv.ServerOption{shared}, opts...)...)
}

// TestClusterRevocation: a deploy token created through node A clones through B; revoked through
// C, C refuses its next request and A and B refuse within a second. External authorization
// turned on through C (which refuses deploy tokens, a cached setting) reaches A and B within a
// second too. The propagation delays are logged. It runs over PostgreSQL LISTEN/NOTIFY and over
// Redis pub/sub.
func TestClusterRevocation(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []testenv.ServerOption
	}{
		{"postgres", nil},
		{"redis", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "redis" {
				u := testenv.RedisURL(t)
				tc.opts = []testenv.ServerOption{func(c *config.Config) { c.RedisURL = u }}
			}
			nodes := startCluster(t, 3, tc.opts...)
			a, b, c := nodes[0], nodes[1], nodes[2]
			for _, n := range nodes {
				if !n.Server.Bus.Healthy() {
					t.Fatalf("%s: cache bus not healthy at start", n.URL)
				}
			}
			f := a.MakeFixture(t)
			p := f.Projects["top"]
			pushInitial(t, a, p.FullPath, "root", a.RootToken)

			tok := a.CreateDeployToken(t, fmt.Sprintf("projects/%d", p.ID), []string{"read_repository"}, nil)
			mustCloneReadme(t, b, p.FullPath, tok.Username, tok.Token)
			c.MustAPI(t, http.StatusNoContent, "DELETE", fmt.Sprintf("/projects/%d/deploy_tokens/%d", p.ID, tok.ID), nil, nil)
			revoked := time.Now()
			if r := infoRefs(t, c, p.FullPath, tok.Username, tok.Token); r.status != http.StatusUnauthorized {
				t.Fatalf("C after its own revoke: %d, want 401", r.status)
			}
			for _, n := range []*testenv.TestServer{a, b} {
				d := refusedWithin(t, n, p.FullPath, tok, revoked, time.Second)
				t.Logf("revoke through C refused by %s after %v", n.URL, d)
			}

			// Many revocations, for the distribution of the delay.
			var delays []time.Duration
			for range 20 {
				tok := b.CreateDeployToken(t, fmt.Sprintf("projects/%d", p.ID), []string{"read_repository"}, nil)
				if r := infoRefs(t, a, p.FullPath, tok.Username, tok.Token); r.status != http.StatusOK {
					t.Fatalf("new token on A: %d", r.status)
				}
				c.MustAPI(t, http.StatusNoContent, "DELETE", fmt.Sprintf("/projects/%d/deploy_tokens/%d", p.ID, tok.ID), nil, nil)
				delays = append(delays, refusedWithin(t, a, p.FullPath, tok, time.Now(), time.Second))
			}
			t.Logf("revoke propagation over %d revocations: p50 %v, p99 %v", len(delays), percentile(delays, 50), percentile(delays, 99))

			// Cached settings. Each node reads them (filling its cache), then its clock goes back an
			// hour, so its cached entries would live for an hour: only the bus can end them.
			tok = a.CreateDeployToken(t, fmt.Sprintf("projects/%d", p.ID), []string{"read_repository"}, nil)
			proxyPath := fmt.Sprintf("/groups/%d/dependency_proxy", f.GroupID)
			for _, n := range nodes {
				if r := infoRefs(t, n, p.FullPath, tok.Username, tok.Token); r.status != http.StatusOK {
					t.Fatalf("%s before external authorization: %d", n.URL, r.status)
				}
				var dp struct{ Enabled bool }
				if n.MustAPI(t, http.StatusOK, "GET", proxyPath, nil, &dp); !dp.Enabled {
					t.Fatalf("%s: dependency proxy off before the change", n.URL)
				}
				n.Clock.Advance(-time.Hour)
			}

			// The dependency-proxy setting, turned off through C.
			c.MustAPI(t, http.StatusOK, "PUT", proxyPath+"?enabled=false", nil, nil)
			changed := time.Now()
			for _, n := range []*testenv.TestServer{a, b} {
				if !testenv.Eventually(time.Second, func() bool {
					var dp struct{ Enabled bool }
					n.MustAPI(t, http.StatusOK, "GET", proxyPath, nil, &dp)
					return !dp.Enabled
				}) {
					t.Fatalf("%s still has the dependency proxy on a second after C turned it off", n.URL)
				}
				t.Logf("dependency proxy turned off through C: %s sees it after %v", n.URL, time.Since(changed))
			}

			// External authorization, turned on through C, refuses deploy tokens.
			if err := c.Server.ExternalAuthorization.SaveSettings(context.Background(), access.ExternalSettings{Enabled: true,
				ServiceURL: "http://127.0.0.1:1/authorize", Timeout: access.DefaultExternalTimeout}); err != nil {
				t.Fatal(err)
			}
			changed = time.Now()
			for _, n := range nodes {
				d := refusedWithin(t, n, p.FullPath, tok, changed, time.Second)
				t.Logf("external authorization turned on through C: %s refuses after %v", n.URL, d)
			}
		})
	}
}

// refusedWithin polls n until it refuses tok (401 or 403) and returns how long after since that
// was; it fails the test when that takes longer than limit.
func refusedWithin(t *testing.T, n *testenv.TestServer, fullPath string, tok testenv.DeployToken, since time.Time, limit time.Duration) time.Duration {
	t.Helper()
	for {
		r := infoRefs(t, n, fullPath, tok.Username, tok.Token)
		d := time.Since(since)
		if r.status == http.StatusUnauthorized || r.status == http.StatusForbidden || r.status == http.StatusNotFound {
			return d
		}
		if d > limit {
			t.Fatalf("%s still answers %d %v after the change, want a refusal within %v", n.URL, r.status, d, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}

// TestClusterBusReconnect cuts node A's LISTEN connection (pg_terminate_backend): A's caches go
// off until it listens again, then come back, flushed once; changes made through B are seen by
// A at once while it is down and within a second after. A's clock is set back an hour, so no
// expiry can stand in for the bus.
func TestClusterBusReconnect(t *testing.T) {
	nodes := startCluster(t, 2)
	a, b := nodes[0], nodes[1]
	type lister interface{ ListenerPID() uint32 }
	bus, ok := a.Server.Bus.(lister)
	if !ok {
		t.Fatalf("A's bus %T is not the PostgreSQL bus", a.Server.Bus)
	}
	ctx := context.Background()
	label := func(n *testenv.TestServer) string {
		set, err := n.Server.ExternalAuthorization.Settings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return set.DefaultLabel
	}
	save := func(l string) {
		if err := b.Server.ExternalAuthorization.SaveSettings(ctx, access.ExternalSettings{DefaultLabel: l, Timeout: access.DefaultExternalTimeout}); err != nil {
			t.Fatal(err)
		}
	}
	save("one")
	if got := label(a); got != "one" { // now cached on A
		t.Fatalf("A reads %q", got)
	}
	a.Clock.Advance(-time.Hour) // A's cached entries would now live an hour: only the bus ends them
	pid := bus.ListenerPID()
	if pid == 0 {
		t.Fatal("A is not listening")
	}
	var killed bool
	if err := b.Server.Store.SQL().QueryRowContext(ctx, `SELECT pg_terminate_backend($1)`, int(pid)).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminate A's listener %d: %v %v", pid, killed, err)
	}
	// Until A notices, a change could be missed; whichever way the race goes, A must answer the
	// new value: at once while it is down (caches off), and after the reconnect (flushed).
	save("two")
	sawDown := false
	deadline := time.Now().Add(10 * time.Second)
	for bus.ListenerPID() == pid || bus.ListenerPID() == 0 || !a.Server.Bus.Healthy() {
		if !a.Server.Bus.Healthy() {
			sawDown = true
			if got := label(a); got != "two" {
				t.Fatalf("A with its bus down reads %q, want the new value", got)
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("A's bus did not come back")
		}
		time.Sleep(time.Millisecond)
	}
	if !sawDown && !strings.Contains(a.Logs(), "cache bus disconnected") {
		t.Fatalf("A never reported its bus down")
	}
	if got := label(a); got != "two" {
		t.Fatalf("A after reconnecting reads %q, want two", got)
	}
	// The cache is back and follows the bus again.
	save("three")
	start := time.Now()
	if !testenv.Eventually(time.Second, func() bool { return label(a) == "three" }) {
		t.Fatal("a change through B did not reach A within a second after the reconnect")
	}
	t.Logf("after the reconnect a change through B reached A in %v (new listener pid %d)", time.Since(start), bus.ListenerPID())
}

// TestClusterBusHealth: while a node's cache bus is down, /-/ready still answers 200 (the caches
// are off, so every answer comes from the database: never stale) with "cache_bus": "down: caches
// off", and gatehouse_cache_bus_up is 0; once the bus is back, both return to normal. The bus is
// behind a TCP proxy, so it stays down for as long as the test keeps the proxy cut: Redis pub/sub
// (the database still answers: 200), and PostgreSQL LISTEN/NOTIFY, where the cut takes the
// database too (503 "database unavailable", still naming the bus).
func TestClusterBusHealth(t *testing.T) {
	for _, tc := range []struct {
		name       string
		wantStatus int
		wantReady  string
	}{
		{"redis", http.StatusOK, "ok"},
		{"postgres", http.StatusServiceUnavailable, "database unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cut *testenv.TCPProxy
			var opt testenv.ServerOption
			if tc.name == "redis" {
				u, err := url.Parse(testenv.RedisURL(t))
				if err != nil {
					t.Fatal(err)
				}
				cut = testenv.StartTCPProxy(t, u.Host)
				u.Host = cut.Addr
				opt = func(c *config.Config) { c.RedisURL = u.String() }
			} else {
				var db string
				cut, db = viaProxy(t, testenv.PostgresURL(t))
				opt = func(c *config.Config) { c.DatabaseURL = db }
			}
			a := testenv.StartServer(t, opt)
			check := func(wantUp bool) (ok bool, why string) {
				req, _ := http.NewRequest(http.MethodGet, a.URL+"/-/ready", nil)
				r := do(t, "ready", req)
				var body map[string]string
				_ = json.Unmarshal([]byte(r.body), &body)
				v, _ := parseMetrics(t, getMetrics(t, a, "").body).value("gatehouse_cache_bus_up", nil)
				why = fmt.Sprintf("ready %d %q, gatehouse_cache_bus_up %v", r.status, r.body, v)
				if wantUp {
					return r.status == http.StatusOK && body["status"] == "ok" && body["cache_bus"] == "" && v == 1, why
				}
				return r.status == tc.wantStatus && body["status"] == tc.wantReady && body["cache_bus"] == "down: caches off" && v == 0, why
			}
			if ok, why := check(true); !ok {
				t.Fatalf("at start: %s, want up", why)
			}
			cut.Cut()
			var why string
			if !testenv.Eventually(20*time.Second, func() (ok bool) { ok, why = check(false); return ok }) {
				t.Fatalf("with the bus cut: %s, want %d %q with the bus down", why, tc.wantStatus, tc.wantReady)
			}
			t.Logf("with the bus cut: %s", why)
			cut.Restore()
			if !testenv.Eventually(20*time.Second, func() (ok bool) { ok, why = check(true); return ok }) {
				t.Fatalf("with the bus back: %s, want up", why)
			}
		})
	}
}
