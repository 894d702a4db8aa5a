package registry_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// localhost makes the server's external URL (and so the token realm) use "localhost": crane and
// oras refuse a loopback token realm that is not on the registry's own host
// (docs/architecture.md §6.4).
func localhost(c *config.Config) {
	c.ExternalURL = strings.Replace(c.ExternalURL, "://127.0.0.1:", "://localhost:", 1)
}

// startRegistry boots a server reachable as localhost:<port> with the standard fixture tree.
func startRegistry(t *testing.T, opts ...testenv.ServerOption) (*testenv.TestServer, testenv.Fixture, string) {
	t.Helper()
	ts := testenv.StartServer(t, append([]testenv.ServerOption{localhost}, opts...)...)
	f := ts.MakeFixture(t)
	u, err := url.Parse(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	return ts, f, u.Host
}

// moduleRoot is the directory of go.mod, for running `go tool`.
func moduleRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// tokenFor asks /jwt/auth for a token as user:secret (empty user: anonymous).
func tokenFor(t *testing.T, base, user, secret string, scopes ...string) (int, string) {
	t.Helper()
	q := url.Values{"service": {"container_registry"}}
	for _, s := range scopes {
		q.Add("scope", s)
	}
	req, err := http.NewRequest(http.MethodGet, base+"/jwt/auth?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Token string `json:"token"`
	}
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Fatalf("decode token answer: %v", err)
		}
	}
	return resp.StatusCode, body.Token
}
