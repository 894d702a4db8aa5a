package server_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// startBanCluster boots n nodes that share opts (a database, a Redis), the instance key and the
// root token, and trust their loopback peer as a proxy, so each test gives its client an address
// of its own in X-Forwarded-For (no two tests share a ban key in a shared store).
func startBanCluster(t *testing.T, n int, shared func(*config.Config)) []*testenv.TestServer {
	t.Helper()
	key, root := config.Secret("cluster-key-"+rand.Text()), config.Secret("glpat-cluster-root-"+rand.Text())
	return startNodes(t, n, shared, func(c *config.Config) {
		c.SecretKey, c.RootToken = key, root
		c.TrustedProxies = []string{"127.0.0.1"}
	})
}

// testClient returns an address in 198.18.0.0/15 (benchmarking, never routed) no other test uses.
func testClient() netip.Addr {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return netip.AddrFrom4([4]byte{198, 18 + b[0]%2, b[1], b[2]})
}

// apiFrom calls GET /api/v4/user on ts with a personal access token, as client (through the
// trusted proxy that the test's loopback connection is), and returns the status.
func apiFrom(t *testing.T, ts *testenv.TestServer, client netip.Addr, pat string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.URL+"/api/v4/user", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("PRIVATE-TOKEN", pat)
	req.Header.Set("X-Forwarded-For", client.String())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestClusterBan spreads 10 failures over 3 nodes: the 10th bans the address (and, for one
// token guessed from 10 addresses, locks the token) on every node
// (docs/design.md §7.6), over a shared PostgreSQL and over Redis (with each node on its own
// SQLite, so only Redis can share the count).
func TestClusterBan(t *testing.T) {
	for _, c := range []struct {
		name   string
		shared func(t *testing.T) func(*config.Config)
	}{
		{"postgres", func(t *testing.T) func(*config.Config) {
			url := testenv.PostgresURL(t)
			return func(c *config.Config) { c.DatabaseURL = url }
		}},
		{"redis", func(t *testing.T) func(*config.Config) {
			url := testenv.RedisURL(t)
			return func(c *config.Config) { c.RedisURL = url }
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			nodes := startBanCluster(t, 3, c.shared(t))
			root := nodes[0].RootToken
			attacker, bystander := testClient(), testClient()
			for i := range 9 {
				wrong := fmt.Sprintf("glpat-wrong-%02d-%s", i, strings.Repeat("x", 20))
				if st := apiFrom(t, nodes[i%3], attacker, wrong); st != http.StatusUnauthorized {
					t.Fatalf("failure %d on node %d: status %d, want 401", i+1, i%3, st)
				}
			}
			for i, n := range nodes {
				if st := apiFrom(t, n, attacker, root); st != http.StatusOK {
					t.Fatalf("after 9 failures, node %d refuses a valid token: %d", i, st)
				}
			}
			if st := apiFrom(t, nodes[0], attacker, "glpat-wrong-10-"+strings.Repeat("x", 20)); st != http.StatusForbidden {
				t.Fatalf("10th failure: status %d, want 403", st)
			}
			for i, n := range nodes {
				if st := apiFrom(t, n, attacker, root); st != http.StatusForbidden {
					t.Errorf("node %d: banned address with a valid token: %d, want 403", i, st)
				}
				if st := apiFrom(t, n, bystander, root); st != http.StatusOK {
					t.Errorf("node %d: another address is refused: %d", i, st)
				}
			}
			// The audit log names the client the proxy forwarded, not the proxy.
			events, err := nodes[1].Server.Audit.List(context.Background(), "", 0)
			if err != nil {
				t.Fatal(err)
			}
			audited := 0
			for _, e := range events {
				if e.Type == audit.AuthenticationFailed {
					audited++
					if e.IP != attacker.String() {
						t.Errorf("failure audited from %q, want %s", e.IP, attacker)
					}
				}
			}
			if audited == 0 {
				t.Error("no failure audited")
			}
			// One token guessed from 10 addresses over the 3 nodes is locked on every node.
			guessed := "glpat-guessed-" + strings.Repeat("y", 20)
			for i := range 10 {
				apiFrom(t, nodes[i%3], testClient(), guessed)
			}
			for i, n := range nodes {
				if st := apiFrom(t, n, testClient(), guessed); st != http.StatusForbidden {
					t.Errorf("node %d: a token guessed 10 times over the nodes is not locked: %d, want 403", i, st)
				}
			}
		})
	}
}
