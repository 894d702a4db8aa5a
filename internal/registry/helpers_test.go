package registry_test

import (
	"net/url"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// startRegistry boots a server reachable as localhost:<port> with the standard fixture tree.
func startRegistry(t *testing.T, opts ...testenv.ServerOption) (*testenv.TestServer, testenv.Fixture, string) {
	t.Helper()
	ts := testenv.StartServer(t, append([]testenv.ServerOption{testenv.Localhost}, opts...)...)
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

// tokenFor asks /jwt/auth for a container-registry token as user:secret (empty user: anonymous).
func tokenFor(t *testing.T, base, user, secret string, scopes ...string) (int, string) {
	t.Helper()
	status, tok, _ := testenv.RegistryToken(t, base, "container_registry", user, secret, scopes...)
	return status, tok
}
