package testenv

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// What the package formats' protocol tests share: a server with the fixture tree, a size limit,
// the real client run to its exit code, a request sent exactly as written, and the check that a
// refused upload left nothing behind.

// StartWithFixture boots a server (StartServer) and creates the fixture tree (MakeFixture).
func StartWithFixture(tb testing.TB, opts ...ServerOption) (*TestServer, Fixture) {
	tb.Helper()
	ts := StartServer(tb, opts...)
	return ts, ts.MakeFixture(tb)
}

// Host is the server's host:port, for clients configured with a host rather than a URL.
func (ts *TestServer) Host() string {
	u, err := url.Parse(ts.URL)
	if err != nil {
		panic("testenv: server URL " + ts.URL + ": " + err.Error())
	}
	return u.Host
}

// MaxFileSize sets one package format's size limit (packages.max_file_size.<format>).
func MaxFileSize(format packages.Format, n int64) ServerOption {
	return func(c *config.Config) { c.Packages.MaxFileSize = map[string]int64{string(format): n} }
}

// AssertNoPackages fails unless no project of f holds a package of format, and the blob store
// holds no blob and no upload in progress: what a refused upload must leave behind.
func (ts *TestServer) AssertNoPackages(tb testing.TB, f Fixture, format packages.Format) {
	tb.Helper()
	ctx := context.Background()
	for name, p := range f.Projects {
		list, err := ts.Server.Packages.Packages(ctx, p.ID, format)
		if err != nil {
			tb.Fatal(err)
		}
		if len(list) != 0 {
			tb.Fatalf("project %s holds %d %s packages", name, len(list), format)
		}
	}
	n := 0
	if err := ts.Server.Blobs.(blob.Walker).Walk(ctx, func(blob.Info) error { n++; return nil }); err != nil {
		tb.Fatal(err)
	}
	uploads, err := os.ReadDir(filepath.Join(ts.Server.Config.DataDir, "blobs", "uploads"))
	if err != nil && !os.IsNotExist(err) {
		tb.Fatal(err)
	}
	if n != 0 || len(uploads) != 0 {
		tb.Fatalf("the blob store holds %d blobs and %d uploads", n, len(uploads))
	}
}

// RunClient runs a real client, bin with args, in dir with the environment env (exactly: nothing
// is inherited), for at most timeout, and returns its combined output and exit code. It fails tb
// when the client cannot be run at all.
func RunClient(tb testing.TB, timeout time.Duration, dir string, env []string, bin string, args ...string) (string, int) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	tb.Fatalf("%s %v: %v", filepath.Base(bin), args, err)
	return "", 0
}

// RawRequest sends path exactly as written, unnormalised (as curl --path-as-is would), to the
// server at base with a deploy token in Deploy-Token, and returns the status and body.
func RawRequest(tb testing.TB, base, method, path, deployToken string, body []byte) (int, string) {
	tb.Helper()
	req, err := http.NewRequest(method, base+"/", bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.URL.Opaque = path
	req.Header.Set("Deploy-Token", deployToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}
