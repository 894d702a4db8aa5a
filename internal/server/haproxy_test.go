package server_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// clientFrom is an HTTP client whose connections leave from the loopback address ip, so one
// test machine plays several clients (Linux routes all of 127.0.0.0/8 to loopback).
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// getUser calls GET /api/v4/user at base with a personal access token and, unless "", a forged
// X-Forwarded-For, and returns the status.
func getUser(t *testing.T, c *http.Client, base, pat, xff string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/api/v4/user", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("PRIVATE-TOKEN", pat)
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestBehindHAProxy puts a real HAProxy (option forwardfor) in front of a server that trusts it
// alone (it connects from 127.0.0.2): a client through HAProxy is banned by its own address, as
// the audit log and the access log show, whatever X-Forwarded-For it forges; a client connecting
// directly cannot choose its address with a forged X-Forwarded-For (docs/design.md §7.5).
func TestBehindHAProxy(t *testing.T) {
	const proxy, client, other, direct, innocent = "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"
	ts := testenv.StartServer(t, noLoopbackExemption, func(c *config.Config) {
		c.TrustedProxies = []string{proxy}
		c.AuthBan.MaxFailures = 5
	})
	lb := "http://" + testenv.StartHAProxy(t, proxy, strings.TrimPrefix(ts.URL, "http://"))
	wrong := func(i int) string { return fmt.Sprintf("glpat-wrong-%02d-%s", i, strings.Repeat("x", 20)) }

	// Through HAProxy, the client forges another address; HAProxy appends the real one.
	viaLB := clientFrom(client)
	for i := range 4 {
		if st := getUser(t, viaLB, lb, wrong(i), innocent); st != http.StatusUnauthorized {
			t.Fatalf("failure %d through haproxy: %d, want 401", i+1, st)
		}
	}
	if st := getUser(t, viaLB, lb, wrong(4), innocent); st != http.StatusForbidden {
		t.Fatalf("5th failure through haproxy: %d, want 403", st)
	}
	if st := getUser(t, viaLB, lb, ts.RootToken, ""); st != http.StatusForbidden {
		t.Fatalf("banned client through haproxy with a valid token: %d, want 403", st)
	}
	// The ban is the client's, not the proxy's nor the forged address's.
	if st := getUser(t, clientFrom(other), lb, ts.RootToken, ""); st != http.StatusOK {
		t.Fatalf("another client through haproxy: %d, want 200", st)
	}
	if st := getUser(t, clientFrom(innocent), lb, ts.RootToken, ""); st != http.StatusOK {
		t.Fatalf("the forged address through haproxy: %d, want 200", st)
	}
	// Connecting directly, the banned client cannot claim another address.
	if st := getUser(t, clientFrom(client), ts.URL, ts.RootToken, other); st != http.StatusForbidden {
		t.Fatalf("banned client directly with a forged X-Forwarded-For: %d, want 403", st)
	}
	// A direct client forging an innocent address is banned itself.
	viaDirect := clientFrom(direct)
	for i := range 5 {
		getUser(t, viaDirect, ts.URL, wrong(10+i), innocent)
	}
	if st := getUser(t, viaDirect, ts.URL, ts.RootToken, innocent); st != http.StatusForbidden {
		t.Fatalf("direct client after 5 failures with a forged X-Forwarded-For: %d, want 403", st)
	}
	if st := getUser(t, clientFrom(innocent), lb, ts.RootToken, ""); st != http.StatusOK {
		t.Fatalf("the address a direct client forged was banned: %d", st)
	}

	events, err := ts.Server.Audit.List(context.Background(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range events {
		if e.Type == audit.AuthenticationFailed {
			seen[e.IP] = true
		}
	}
	if !seen[client] || !seen[direct] || len(seen) != 2 {
		t.Fatalf("failures audited from %v, want exactly %s (through haproxy) and %s (direct)", seen, client, direct)
	}
	logs := ts.Logs()
	if !strings.Contains(logs, `"remote":"`+client+`","proxy":"`+proxy+`:`) {
		t.Fatalf("the access log does not name the client %s and the proxy %s:\n%s", client, proxy, logs)
	}
}
