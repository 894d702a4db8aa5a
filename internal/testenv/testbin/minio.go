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
	bin := Binary(tb, "minio")
	accessKey = "gatehouse" + randomHex(4)
	secretKey = randomHex(20)
	var lastErr error
	for range 3 { // a free port can be taken between probing and binding it
		endpoint, lastErr = startMinio(tb, bin, accessKey, secretKey)
		if lastErr == nil {
			return endpoint, accessKey, secretKey
		}
	}
	tb.Fatalf("start minio: %v", lastErr)
	return "", "", ""
}

func startMinio(tb testing.TB, bin, accessKey, secretKey string) (string, error) {
	tb.Helper()
	dir := tb.TempDir()
	addr, err := FreeLoopbackAddr()
	if err != nil {
		return "", err
	}
	console, err := FreeLoopbackAddr()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(bin, "server", "--quiet", "--address", addr, "--console-address", console,
		"--certs-dir", filepath.Join(dir, "certs"), filepath.Join(dir, "data"))
	cmd.Env = append(minioFreeEnv(),
		"MINIO_ROOT_USER="+accessKey, "MINIO_ROOT_PASSWORD="+secretKey,
		"MINIO_BROWSER=off", "MINIO_CI_CD=on", "MINIO_UPDATE=off", "HOME="+dir)
	client := &http.Client{Timeout: 2 * time.Second}
	err = serve(tb, cmd, minioReadyTimeout, func() bool {
		resp, err := client.Get("http://" + addr + "/minio/health/live")
		if err != nil {
			return false
		}
		resp.Body.Close()
		// Live, and its object layer initialized (until then MinIO answers 200 with this
		// header, and S3 requests with "Server not initialized yet").
		return resp.StatusCode == http.StatusOK && resp.Header.Get("X-Minio-Server-Status") != "unavailable"
	})
	return addr, err
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
