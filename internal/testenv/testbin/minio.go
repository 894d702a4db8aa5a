package testbin

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// minioReadyTimeout bounds the wait for a started MinIO to answer its health check.
const minioReadyTimeout = 60 * time.Second

// StartMinio runs a real MinIO server (the minio binary that .ci/install-minio installs) on a
// free loopback port with its data in a temporary directory, waits until it is live, and stops
// it when the test ends. It creates no bucket. The endpoint is host:port (plain HTTP). Without
// the binary the test is skipped, or fails under CI=true.
func StartMinio(tb testing.TB) (endpoint, accessKey, secretKey string) {
	tb.Helper()
	m := StartMinioServer(tb)
	return m.Endpoint, m.AccessKey, m.SecretKey
}

// Minio is a running MinIO server that a test can stop and start again on the same address
// and data, as an S3 outage that ends.
type Minio struct {
	// Endpoint is host:port (plain HTTP); AccessKey and SecretKey its root credentials.
	Endpoint, AccessKey, SecretKey string

	tb       testing.TB
	bin, dir string
	console  string
	stop     func()
}

// StartMinioServer is StartMinio returning the server, for tests that stop and start it.
func StartMinioServer(tb testing.TB) *Minio {
	tb.Helper()
	m := &Minio{tb: tb, bin: Binary(tb, "minio"), AccessKey: "gatehouse" + randomHex(4), SecretKey: randomHex(20)}
	var lastErr error
	for range 3 { // a free port can be taken between probing and binding it
		m.dir = tb.TempDir()
		var err error
		if m.Endpoint, err = FreeLoopbackAddr(); err != nil {
			tb.Fatal(err)
		}
		if m.console, err = FreeLoopbackAddr(); err != nil {
			tb.Fatal(err)
		}
		if lastErr = m.start(); lastErr == nil {
			return m
		}
	}
	tb.Fatalf("start minio: %v", lastErr)
	return nil
}

// Stop kills the server (as a crash or a lost network would end it); Start brings it back.
func (m *Minio) Stop() { m.stop() }

// Start runs the stopped server again on the same address and data and waits until it is live.
func (m *Minio) Start() {
	m.tb.Helper()
	if err := m.start(); err != nil {
		m.tb.Fatalf("restart minio: %v", err)
	}
}

func (m *Minio) start() error {
	cmd := exec.Command(m.bin, "server", "--quiet", "--address", m.Endpoint, "--console-address", m.console,
		"--certs-dir", filepath.Join(m.dir, "certs"), filepath.Join(m.dir, "data"))
	cmd.Env = append(minioFreeEnv(),
		"MINIO_ROOT_USER="+m.AccessKey, "MINIO_ROOT_PASSWORD="+m.SecretKey,
		"MINIO_BROWSER=off", "MINIO_CI_CD=on", "MINIO_UPDATE=off", "HOME="+m.dir)
	client := &http.Client{Timeout: 2 * time.Second}
	stop, err := serve(m.tb, cmd, minioReadyTimeout, func() bool {
		resp, err := client.Get("http://" + m.Endpoint + "/minio/health/live")
		if err != nil {
			return false
		}
		resp.Body.Close()
		// Live, and its object layer initialized (until then MinIO answers 200 with this
		// header, and S3 requests with "Server not initialized yet").
		return resp.StatusCode == http.StatusOK && resp.Header.Get("X-Minio-Server-Status") != "unavailable"
	})
	m.stop = stop
	return err
}

// FreeLoopbackAddr returns 127.0.0.1:<port> for a port that was free a moment ago, for a
// listener a server opens itself.
func FreeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}

// minioFreeEnv is the environment without MINIO_* settings that could change the server.
func minioFreeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MINIO_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	return env
}

// lockedBuffer collects a child's output, keeping at most its last 64 KiB.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 64<<10 {
		rest := l.b.Bytes()[l.b.Len()-32<<10:]
		l.b = *bytes.NewBuffer(append([]byte(nil), rest...))
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
