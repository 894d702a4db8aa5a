//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// rollingBackend is the backend section of docs/operations.md's HAProxy example ("The load
// balancer") with its two nodes, checking every 200 ms instead of 2 s so the test is quick.
const rollingBackend = `    balance leastconn
    option httpchk GET /-/ready
    http-check expect status 200
    retries 3
    option redispatch
    default-server check inter 200ms fall 2 rise 2
    server a %s
    server b %s
`

// TestRollingRestartBehindHAProxy replaces two `gatehouse serve` nodes (PostgreSQL, a shared
// data directory) one after the other behind HAProxy configured as docs/operations.md says,
// while clients keep downloading a package through it: SIGTERM, exit 0, start again, wait until
// HAProxy's health check has it UP, next node. No request may fail.
func TestRollingRestartBehindHAProxy(t *testing.T) {
	dir, db := t.TempDir(), testenv.PostgresURL(t)
	const rootToken = "glpat-rolling-root-token-0123456789"
	env := []string{"GATEHOUSE_DATABASE_URL=" + db}
	addrs := []string{testenv.FreeAddr(t), testenv.FreeAddr(t)}
	procs := make([]*nodeProc, len(addrs))
	for i, addr := range addrs {
		procs[i] = startNode(t, dir, addr, rootToken, env)
	}

	// A package and a deploy token, made through node a.
	api := "http://" + addrs[0] + "/api/v4"
	call := func(method, path string, body io.Reader, out any) {
		t.Helper()
		req, _ := http.NewRequest(method, api+path, body)
		req.Header.Set("PRIVATE-TOKEN", rootToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
		if out != nil {
			if err := json.Unmarshal(raw, out); err != nil {
				t.Fatal(err)
			}
		}
	}
	var group, project struct{ ID int64 }
	call("POST", "/groups", strings.NewReader(`{"name":"roll","path":"roll"}`), &group)
	call("POST", "/projects", strings.NewReader(fmt.Sprintf(`{"name":"app","path":"app","namespace_id":%d}`, group.ID)), &project)
	content := bytes.Repeat([]byte("rolling\n"), 512)
	file := fmt.Sprintf("/projects/%d/packages/generic/app/1.0.0/app.bin", project.ID)
	call("PUT", file, bytes.NewReader(content), nil)
	var tok struct{ Token string }
	call("POST", fmt.Sprintf("/projects/%d/deploy_tokens", project.ID), strings.NewReader(`{"name":"roll","scopes":["read_package_registry"]}`), &tok)

	lb := testenv.StartHAProxyBackend(t, fmt.Sprintf(rollingBackend, addrs[0], addrs[1]))
	waitStatus(t, lb, "a", "UP")
	waitStatus(t, lb, "b", "UP")

	// Clients download through HAProxy, keeping their connections to it alive, until stop.
	var ok, failed atomic.Int64
	var mu sync.Mutex
	var failures []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 30 * time.Second}
			defer client.CloseIdleConnections()
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodGet, "http://"+lb+"/api/v4"+file, nil)
				req.Header.Set("Deploy-Token", tok.Token)
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(body, content) {
					failed.Add(1)
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%d %q %v", resp.StatusCode, clip(body), err))
					mu.Unlock()
					continue
				}
				ok.Add(1)
			}
		}()
	}
	served := func(min int64) {
		t.Helper()
		start := ok.Load()
		if !testenv.Eventually(30*time.Second, func() bool { return ok.Load() >= start+min }) {
			t.Errorf("clients got %d answers in 30 s, want %d", ok.Load()-start, min)
		}
	}
	served(50)
	for i, name := range []string{"a", "b"} {
		if err := procs[i].cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-procs[i].exited:
			if err != nil {
				t.Fatalf("node %s after SIGTERM: %v", name, err)
			}
		case <-time.After(90 * time.Second):
			t.Fatalf("node %s did not exit within 90 s of SIGTERM", name)
		}
		waitStatus(t, lb, name, "DOWN")
		served(50) // the other node serves alone
		procs[i] = startNode(t, dir, addrs[i], rootToken, env)
		waitStatus(t, lb, name, "UP")
		served(50)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d downloads through HAProxy during the rolling restart, %d failed", ok.Load(), failed.Load())
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d downloads failed during the rolling restart, such as: %q", n, failures[:min(len(failures), 5)])
	}
}

// nodeProc is a running `gatehouse serve` and the channel its exit is reported on.
type nodeProc struct {
	cmd    *exec.Cmd
	exited chan error
}

// startNode starts `gatehouse serve` (serveProc) and waits until it is ready.
func startNode(t *testing.T, dir, addr, rootToken string, env []string) *nodeProc {
	t.Helper()
	cmd, exited := serveProc(t, dir, addr, rootToken, env...)
	return &nodeProc{cmd: cmd, exited: exited}
}

func clip(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

// waitStatus waits until HAProxy's statistics show server (of backend be) in status, a
// prefix of what HAProxy reports ("UP", "DOWN"; "UP 1/2" while rising counts as neither).
func waitStatus(t *testing.T, lb, server, status string) {
	t.Helper()
	var last string
	if !testenv.Eventually(60*time.Second, func() bool {
		resp, err := http.Get("http://" + lb + "/haproxy-stats;csv")
		if err != nil {
			last = err.Error()
			return false
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(raw), "\n") {
			f := strings.Split(line, ",")
			// # pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,…
			if len(f) > 17 && f[0] == "be" && f[1] == server {
				last = f[17]
				return last == status
			}
		}
		last = "not listed"
		return false
	}) {
		t.Fatalf("HAProxy never showed server %s %s (last: %s)", server, status, last)
	}
}

// TestRollingBackendInDocs: the backend the rolling test runs is docs/operations.md's, but for
// its servers and the check interval.
func TestRollingBackendInDocs(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, backend, ok := strings.Cut(string(b), "\nbackend nodes\n")
	if !ok {
		t.Fatal(`docs/operations.md has no "backend nodes" section`)
	}
	backend, _, _ = strings.Cut(backend, "```")
	for _, line := range strings.Split(strings.TrimRight(rollingBackend, "\n"), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "server ") {
			continue
		}
		line = strings.Replace(line, "inter 200ms", "inter 2s", 1)
		if !strings.Contains(backend, line+"\n") {
			t.Errorf("docs/operations.md's backend lacks %q", line)
		}
	}
}
