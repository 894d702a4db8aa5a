//go:build linux

// Package cluster proves scale-out with real processes (docs/operations.md, "Several nodes"):
// three `gatehouse serve` binaries behind HAProxy, on a private PostgreSQL and on MinIO, which
// the tests restart, stop and start under load.
package cluster

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testbin"
)

// The HAProxy health check: every checkInterval, a node out after checkFall failed checks and
// back after checkRise good ones. shutdownDelay outlasts checkInterval × checkFall plus a check's
// own time on a loaded machine, so a stopping node is out of rotation before it refuses anything.
const (
	checkInterval = 200 * time.Millisecond
	checkFall     = 2
	checkRise     = 2
	shutdownDelay = 2 * time.Second
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// gatehouseBinary builds cmd/gatehouse once for the test binary (not a race build: the nodes
// are the system under test, the test binary is what -race watches).
func gatehouseBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		if buildDir, buildErr = os.MkdirTemp("", "gatehouse-cluster-"); buildErr != nil {
			return
		}
		cmd := exec.Command(testenv.Binary(t, "go"), "build", "-o", filepath.Join(buildDir, "gatehouse"), "./cmd/gatehouse")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/gatehouse: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "gatehouse")
}

// postgres is a private PostgreSQL server (initdb + pg_ctl) with its data, socket and port
// its own, so stopping it disturbs no other test.
type postgres struct {
	bin, dir string
	port     int
	cred     *syscall.Credential
	// URL reaches its postgres database as the superuser postgres.
	URL string
}

const pgBin = "/usr/lib/postgresql/15/bin"

func startPostgres(t *testing.T) *postgres {
	t.Helper()
	for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
		if _, err := os.Stat(filepath.Join(pgBin, b)); err != nil {
			testenv.Missing(t, "PostgreSQL server binaries not in %s (apt-get install postgresql-15)", pgBin)
		}
	}
	root := t.TempDir()
	p := &postgres{bin: pgBin, dir: filepath.Join(root, "data")}
	if os.Geteuid() == 0 {
		// initdb and postgres refuse to run as root: run them as the postgres user, which must
		// reach the directory (the testing package makes its parents private).
		u, err := user.Lookup("postgres")
		if err != nil {
			testenv.Missing(t, "running as root without a postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		for _, d := range []string{filepath.Dir(root), root} {
			if err := os.Chmod(d, 0o711); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chown(root, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	p.run(t, "initdb", "-D", p.dir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
	// Durability is not under test; max_connections covers three nodes' pools and listeners.
	conf := "listen_addresses = '127.0.0.1'\nunix_socket_directories = '" + root + "'\nfsync = off\n" +
		"synchronous_commit = off\nfull_page_writes = off\nmax_connections = 300\n"
	for range 3 { // a free port can be taken between probing and binding it
		addr := testenv.FreeAddr(t)
		p.port, _ = strconv.Atoi(addr[strings.LastIndex(addr, ":")+1:])
		if err := os.WriteFile(filepath.Join(p.dir, "postgresql.auto.conf"),
			[]byte(conf+"port = "+strconv.Itoa(p.port)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if p.cred != nil {
			_ = os.Chown(filepath.Join(p.dir, "postgresql.auto.conf"), int(p.cred.Uid), int(p.cred.Gid))
		}
		if _, err := p.pgctl("start"); err == nil {
			break
		}
	}
	t.Cleanup(func() { _, _ = p.pgctl("stop", "-m", "immediate") })
	p.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
	return p
}

// run runs one of PostgreSQL's programs as the server's user, failing the test if it fails.
func (p *postgres) run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := p.command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func (p *postgres) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(p.bin, name), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LANG=C", "HOME=" + p.dir}
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	}
	return cmd
}

// pgctl runs pg_ctl on the cluster, waiting (at most a minute) for the action to complete.
func (p *postgres) pgctl(action string, args ...string) (string, error) {
	cmd := p.command("pg_ctl", append([]string{action, "-D", p.dir, "-w", "-t", "60", "-l", filepath.Join(p.dir, "server.log")}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Stop stops PostgreSQL (fast: open connections are cut); Start starts it again.
func (p *postgres) Stop(t *testing.T) {
	t.Helper()
	if out, err := p.pgctl("stop", "-m", "fast"); err != nil {
		t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
}

func (p *postgres) Start(t *testing.T) {
	t.Helper()
	if out, err := p.pgctl("start"); err != nil {
		t.Fatalf("pg_ctl start: %v\n%s", err, out)
	}
}

// tailBuffer keeps the last 256 KiB a process wrote, for the failure message.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b = append(b.b, p...)
	if len(b.b) > 256<<10 {
		b.b = append([]byte(nil), b.b[len(b.b)-128<<10:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.b)
}

// node is one `gatehouse serve` process; it keeps its address and environment across restarts.
type node struct {
	name, addr string
	bin        string
	env        []string
	out        *tailBuffer
	// logPath keeps everything the node logged, across restarts, for serverErrors.
	logPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan error
}

// URL is the node's own address, bypassing the load balancer.
func (n *node) URL() string { return "http://" + n.addr }

// Host is the node as a registry host name: crane sends no credentials over plain HTTP except
// to localhost.
func (n *node) Host() string { return strings.Replace(n.addr, "127.0.0.1", "localhost", 1) }

// start runs the node and waits until /-/ready answers 200.
func (n *node) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command(n.bin, "serve")
	cmd.Env = n.env
	log, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	w := io.MultiWriter(log, n.out)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	n.mu.Lock()
	n.cmd, n.exited = cmd, exited
	n.mu.Unlock()
	client := &http.Client{Timeout: 2 * time.Second}
	if !testenv.Eventually(90*time.Second, func() bool {
		select {
		case err := <-exited:
			exited <- err
			return true
		default:
		}
		resp, err := client.Get(n.URL() + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}) {
		t.Fatalf("%s not ready at %s after 90s:\n%s", n.name, n.addr, n.out.String())
	}
	select {
	case err := <-exited:
		t.Fatalf("%s exited at start: %v\n%s", n.name, err, n.out.String())
	default:
	}
}

// terminate sends SIGTERM and waits for a clean exit (0) within limit.
func (n *node) terminate(t *testing.T, limit time.Duration) {
	t.Helper()
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM %s: %v", n.name, err)
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Fatalf("%s exited with %v after SIGTERM, want 0:\n%s", n.name, err, n.out.String())
		}
	case <-time.After(limit):
		t.Fatalf("%s still running %v after SIGTERM", n.name, limit)
	}
}

// kill ends the process at once (cleanup).
func (n *node) kill() {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	err := <-exited
	exited <- err
}

// cluster is three nodes on one PostgreSQL, one MinIO bucket and one repositories directory,
// behind HAProxy.
type cluster struct {
	pg    *postgres
	minio *testbin.Minio
	nodes []*node
	// lb is HAProxy's host:port; URL the external URL every node announces (HAProxy's, named
	// localhost for crane); RootToken root's personal access token.
	lb, URL   string
	RootToken string
}

// LBHost is the load balancer as a registry host name.
func (c *cluster) LBHost() string { return strings.TrimPrefix(c.URL, "http://") }

func startCluster(t *testing.T) *cluster {
	t.Helper()
	bin := gatehouseBinary(t)
	testenv.Binary(t, "git")
	c := &cluster{pg: startPostgres(t), minio: testbin.StartMinioServer(t)}
	c.lb = testenv.FreeAddr(t)
	c.URL = "http://" + strings.Replace(c.lb, "127.0.0.1", "localhost", 1)
	c.RootToken = "glpat-cluster-root-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	shared := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + shared, "LANG=C",
		"GATEHOUSE_DATABASE_URL=" + c.pg.URL,
		"GATEHOUSE_BLOB_STORE=s3", "GATEHOUSE_S3_ENDPOINT=" + c.minio.Endpoint, "GATEHOUSE_S3_BUCKET=cluster",
		"GATEHOUSE_S3_ACCESS_KEY=" + c.minio.AccessKey, "GATEHOUSE_S3_SECRET_KEY=" + c.minio.SecretKey,
		"GATEHOUSE_S3_USE_TLS=false",
		"GATEHOUSE_REPOSITORIES_DIR=" + filepath.Join(shared, "repositories"),
		"GATEHOUSE_SECRET_KEY=cluster-instance-key-0123456789abcdef0123456789",
		"GATEHOUSE_TRUSTED_PROXIES=127.0.0.1/32",
		"GATEHOUSE_EXTERNAL_URL=" + c.URL,
		"GATEHOUSE_SHUTDOWN_TIMEOUT=30s", "GATEHOUSE_SHUTDOWN_DELAY=" + shutdownDelay.String(),
		"GATEHOUSE_ROOT_PASSWORD=cluster-root-password", "GATEHOUSE_ROOT_TOKEN=" + c.RootToken,
		"GATEHOUSE_LOG_LEVEL=info",
	}
	// One at a time: the first node migrates the empty database and creates root.
	for i, name := range []string{"A", "B", "C"} {
		n := &node{name: name, addr: testenv.FreeAddr(t), bin: bin, out: &tailBuffer{},
			logPath: filepath.Join(shared, "node"+strconv.Itoa(i)+".log")}
		n.env = append(copyEnv(env), "GATEHOUSE_LISTEN="+n.addr, "GATEHOUSE_DATA_DIR="+filepath.Join(shared, "node"+strconv.Itoa(i)))
		c.nodes = append(c.nodes, n)
		t.Cleanup(func() {
			n.kill()
			if t.Failed() {
				t.Logf("node %s output (tail):\n%s", n.name, n.out.String())
			}
		})
		n.start(t)
	}
	backends := make([]string, len(c.nodes))
	// A node whose PostgreSQL or S3 does not answer is unready and leaves the rotation; when all
	// are unready (a shared dependency is down), HAProxy falls back to all of them (the backup
	// servers, unchecked), so Git keeps working through an S3 outage and clients get
	// Gatehouse's own 503s, as Envoy's panic threshold does by default.
	lines := append(slices.Clone(balancerLines), "stats enable", "stats uri /-/haproxy")
	for i, n := range c.nodes {
		backends[i] = n.addr
		lines = append(lines, fmt.Sprintf("server all%d %s source 127.0.0.1 backup", i, n.addr))
	}
	testbin.StartHAProxyWith(t, testbin.HAProxy{Addr: c.lb, Source: "127.0.0.1", Backends: backends, Backend: lines,
		ServerOptions: fmt.Sprintf("check inter %dms fall %d rise %d", checkInterval.Milliseconds(), checkFall, checkRise)})
	c.waitInRotation(t, 0, 1, 2)
	return c
}

// balancerLines are the backend settings docs/operations.md's HAProxy example has
// (TestBackendInDocs), but for its servers and check interval.
var balancerLines = []string{"option httpchk GET /-/ready", "http-check expect status 200", "option redispatch",
	"retries 3",
	// Retry what never reached a node or got no answer (a node that just closed its
	// listener or an idle connection), never a 503: Gatehouse answers 503 when a shared
	// dependency is down, and another node would only answer the same, later.
	"retry-on conn-failure empty-response junk-response", "option allbackups"}

func copyEnv(s []string) []string { return append([]string(nil), s...) }

// serverStates reads HAProxy's statistics: the state (UP, DOWN, …) of each checked server.
func (c *cluster) serverStates() (map[string]string, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + c.lb + "/-/haproxy;csv")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	r := csv.NewReader(resp.Body)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, err
	}
	states := map[string]string{}
	for _, row := range rows {
		if len(row) > 17 && row[0] == "be" {
			states[row[1]] = row[17]
		}
	}
	return states, nil
}

// waitInRotation waits until HAProxy's health check has every listed node UP.
func (c *cluster) waitInRotation(t *testing.T, idx ...int) {
	t.Helper()
	var last map[string]string
	if !testenv.Eventually(60*time.Second, func() bool {
		s, err := c.serverStates()
		if err != nil {
			return false
		}
		last = s
		for _, i := range idx {
			if s["node"+strconv.Itoa(i)] != "UP" {
				return false
			}
		}
		return true
	}) {
		t.Fatalf("nodes %v not in HAProxy's rotation after 60s: %v", idx, last)
	}
}

// serverErrors returns every access-log line of every node whose status is 500 or above but
// not 503 (the answer for a dependency that is down), and every error-level line that is not
// about an unavailable dependency.
func (c *cluster) serverErrors(t *testing.T) []string {
	t.Helper()
	var bad []string
	for _, n := range c.nodes {
		b, err := os.ReadFile(n.logPath)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			var e struct {
				Level  string `json:"level"`
				Msg    string `json:"msg"`
				Status int    `json:"status"`
				Err    string `json:"err"`
			}
			if json.Unmarshal([]byte(line), &e) != nil {
				continue
			}
			if (e.Status >= 500 && e.Status != http.StatusServiceUnavailable) ||
				(e.Level == "ERROR" && !strings.Contains(e.Err, "unavailable")) {
				bad = append(bad, n.name+": "+line)
			}
		}
	}
	return bad
}

// restart stops node i with SIGTERM (it must exit 0) and starts it again on the same config,
// then waits until HAProxy has it back.
func (c *cluster) restart(t *testing.T, i int) {
	t.Helper()
	n := c.nodes[i]
	n.terminate(t, 60*time.Second)
	n.start(t)
	c.waitInRotation(t, i)
}

// api calls the REST API through base as root and decodes the JSON answer into out.
func (c *cluster) api(t *testing.T, base, method, path string, body any, out any) int {
	t.Helper()
	ts := &testenv.TestServer{URL: base, RootToken: c.RootToken}
	return ts.API(t, method, path, body, out)
}

// server is the testenv view of one address (a node or the load balancer), for its helpers.
func (c *cluster) server(base string) *testenv.TestServer {
	return &testenv.TestServer{URL: base, RootToken: c.RootToken}
}
