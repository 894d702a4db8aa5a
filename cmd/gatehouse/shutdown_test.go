//go:build linux

package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// serveProc runs `gatehouse serve` (this test binary running main) on addr with its data in
// dir, waits until /-/ready answers 200, and returns the process and its exit channel.
func serveProc(t *testing.T, dir, addr, rootToken string, env ...string) (*exec.Cmd, chan error) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "serve", "--listen", addr, "--data-dir", dir, "--external-url", "http://"+addr)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEHOUSE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, runMainEnv+"=1", "GATEHOUSE_ROOT_PASSWORD=root-password-drain",
		"GATEHOUSE_ROOT_TOKEN="+rootToken, "GATEHOUSE_LOG_LEVEL=info")
	cmd.Env = append(cmd.Env, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out := &bytes.Buffer{} // one writer for both: exec calls it from one goroutine at a time
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	waited := make(chan struct{})
	go func() {
		err := cmd.Wait()
		close(waited)
		exited <- err
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-waited
		if t.Failed() {
			t.Logf("gatehouse output:\n%s", out.String())
		}
	})
	if !testenv.Eventually(60*time.Second, func() bool {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}) {
		t.Fatalf("gatehouse not ready at %s", addr)
	}
	return cmd, exited
}

// gatedReader yields size pseudo-random bytes, pausing after the first pauseAt until release
// is closed; started is closed when it pauses.
type gatedReader struct {
	rng              *rand.ChaCha8
	left, pauseAt    int64
	started, release chan struct{}
	paused           bool
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	if !g.paused && g.pauseAt <= 0 {
		g.paused = true
		close(g.started)
		<-g.release
	}
	n := int64(len(p))
	n = min(n, g.left)
	if !g.paused {
		n = min(n, g.pauseAt)
	}
	_, _ = g.rng.Read(p[:n])
	g.left -= n
	g.pauseAt -= n
	return int(n), nil
}

// TestSIGTERMDrainsInFlightPush: SIGTERM in the middle of a 256 MiB blob push makes the node
// refuse new connections at once, yet the push completes (201); the node then exits 0, and a
// node restarted on the same data directory serves the blob whole (docs/operations.md).
func TestSIGTERMDrainsInFlightPush(t *testing.T) {
	const size = 256 << 20
	addr := testenv.FreeAddr(t)
	dir := t.TempDir()
	rootToken := "glpat-drain-root-" + fmt.Sprint(time.Now().UnixNano())
	proc, exited := serveProc(t, dir, addr, rootToken, "GATEHOUSE_SHUTDOWN_TIMEOUT=2m")
	base := "http://" + addr
	ts := &testenv.TestServer{URL: base, RootToken: rootToken}
	repo := ts.MakeFixture(t).Projects["top"].FullPath + "/drain"

	bearer := func() string {
		status, tok, _ := testenv.RegistryToken(t, base, "container_registry", "root", rootToken, "repository:"+repo+":push,pull")
		if status != http.StatusOK {
			t.Fatalf("registry token: %d", status)
		}
		return "Bearer " + tok
	}
	auth := bearer()

	req, _ := http.NewRequest(http.MethodPost, base+"/v2/"+repo+"/blobs/uploads/", nil)
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("start upload: %d", resp.StatusCode)
	}
	loc, err := resp.Location()
	if err != nil {
		t.Fatal(err)
	}

	// The digest of the same pseudo-random stream, computed up front.
	seed := [32]byte{1, 3}
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(rand.NewChaCha8(seed), size)); err != nil {
		t.Fatal(err)
	}
	digest := "sha256:" + hex.EncodeToString(h.Sum(nil))
	q := loc.Query()
	q.Set("digest", digest)
	loc.RawQuery = q.Encode()

	body := &gatedReader{rng: rand.NewChaCha8(seed), left: size, pauseAt: 32 << 20,
		started: make(chan struct{}), release: make(chan struct{})}
	put, _ := http.NewRequest(http.MethodPut, loc.String(), body)
	put.ContentLength = size
	put.Header.Set("Authorization", auth)
	put.Header.Set("Content-Type", "application/octet-stream")
	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(put)
		if err != nil {
			done <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{status: resp.StatusCode, body: string(b)}
	}()
	<-body.started // 32 MiB are on their way; the rest waits

	if err := proc.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// New connections are refused while the push is still in flight.
	if !testenv.Eventually(10*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	}) {
		t.Fatal("the draining node still accepts new connections")
	}
	select {
	case err := <-exited:
		t.Fatalf("the node exited with a push in flight: %v", err)
	default:
	}
	close(body.release)

	r := <-done
	if r.err != nil || r.status != http.StatusCreated {
		t.Fatalf("push across SIGTERM: %d %q %v, want 201", r.status, r.body, r.err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("the drained node exited with %v, want 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the drained node did not exit after its last request")
	}

	serveProc(t, dir, addr, rootToken)
	auth = bearer()
	get, _ := http.NewRequest(http.MethodGet, base+"/v2/"+repo+"/blobs/"+digest, nil)
	get.Header.Set("Authorization", auth)
	resp, err = http.DefaultClient.Do(get)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	h.Reset()
	n, err := io.Copy(h, resp.Body)
	if resp.StatusCode != http.StatusOK || err != nil || n != size || "sha256:"+hex.EncodeToString(h.Sum(nil)) != digest {
		t.Fatalf("pull after the restart: %d, %d bytes, %v", resp.StatusCode, n, err)
	}
}
