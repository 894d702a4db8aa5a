package testbin

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// StartHAProxy runs Debian's HAProxy as an HTTP load balancer on a free loopback port in front of
// backends (host:port each, round robin), with option forwardfor (it appends the client's address
// to X-Forwarded-For), connecting to them from the loopback address source (so a backend can
// trust that address alone as its proxy). It returns the frontend's host:port and stops HAProxy
// when the test ends. Without the binary the test is skipped, or fails under CI=true.
func StartHAProxy(tb testing.TB, source string, backends ...string) string {
	tb.Helper()
	backend := "    balance roundrobin\n"
	for i, b := range backends {
		backend += fmt.Sprintf("    server node%d %s source %s\n", i, b, source)
	}
	return startHAProxyBackend(tb, backend, false)
}

// StartHAProxyBackend is StartHAProxy with the lines of the backend section given (balancing,
// health checks, retries, servers), for tests of a load balancer's own settings. The frontend
// also answers /haproxy-stats with HAProxy's statistics (/haproxy-stats;csv as CSV), so a test
// can wait for a server's check to mark it UP or DOWN.
func StartHAProxyBackend(tb testing.TB, backend string) string {
	tb.Helper()
	return startHAProxyBackend(tb, backend, true)
}

func startHAProxyBackend(tb testing.TB, backend string, stats bool) string {
	tb.Helper()
	bin := haproxyBinary(tb)
	var lastErr error
	for range 3 { // a free port can be taken between probing and binding it
		addr, err := startHAProxy(tb, bin, backend, stats)
		if err == nil {
			return addr
		}
		lastErr = err
	}
	tb.Fatalf("start haproxy: %v", lastErr)
	return ""
}

// haproxyBinary finds haproxy on PATH or in /usr/sbin, where Debian puts it (and which a
// user's PATH often lacks).
func haproxyBinary(tb testing.TB) string {
	tb.Helper()
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p
	}
	if st, err := os.Stat("/usr/sbin/haproxy"); err == nil && st.Mode()&0o111 != 0 {
		return "/usr/sbin/haproxy"
	}
	Missing(tb, "haproxy not installed (apt-get install haproxy; .ci/run installs it)")
	return ""
}

func startHAProxy(tb testing.TB, bin, backend string, stats bool) (string, error) {
	tb.Helper()
	addr, err := FreeLoopbackAddr()
	if err != nil {
		return "", err
	}
	cfg := fmt.Sprintf(`global
    maxconn 256
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend fe
    bind %s
    option forwardfor
    default_backend be
`, addr)
	if stats {
		cfg += "    stats enable\n    stats uri /haproxy-stats\n"
	}
	cfg += "backend be\n" + backend
	path := filepath.Join(tb.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return "", err
	}
	// -db: stay in the foreground, one process.
	err = serve(tb, exec.Command(bin, "-db", "-f", path), 10*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	return addr, err
}
