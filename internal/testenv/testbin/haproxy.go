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
	return StartHAProxyWith(tb, HAProxy{Source: source, Backends: backends})
}

// HAProxy is a load balancer for StartHAProxyWith: StartHAProxy's, adjusted.
type HAProxy struct {
	// Addr is the frontend's host:port; empty picks a free loopback port.
	Addr string
	// Source is the address HAProxy connects to the backends from; Backends are host:port each.
	Source   string
	Backends []string
	// Backend are extra lines of the backend section (health checks, retries, more servers);
	// ServerOptions is appended to every backend's server line ("check inter 200ms").
	Backend       []string
	ServerOptions string
}

// StartHAProxyWith runs HAProxy as h says (see StartHAProxy) and returns the frontend's host:port.
func StartHAProxyWith(tb testing.TB, h HAProxy) string {
	tb.Helper()
	bin := haproxyBinary(tb)
	var lastErr error
	for range 3 { // a free port can be taken between probing and binding it
		addr, err := startHAProxy(tb, bin, h)
		if err == nil {
			return addr
		}
		lastErr = err
		if h.Addr != "" {
			break
		}
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

func startHAProxy(tb testing.TB, bin string, h HAProxy) (string, error) {
	tb.Helper()
	addr := h.Addr
	if addr == "" {
		var err error
		if addr, err = FreeLoopbackAddr(); err != nil {
			return "", err
		}
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
backend be
    balance roundrobin
`, addr)
	for _, l := range h.Backend {
		cfg += "    " + l + "\n"
	}
	for i, b := range h.Backends {
		cfg += fmt.Sprintf("    server node%d %s source %s %s\n", i, b, h.Source, h.ServerOptions)
	}
	path := filepath.Join(tb.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return "", err
	}
	// -db: stay in the foreground, one process.
	_, err := serve(tb, exec.Command(bin, "-db", "-f", path), 10*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	return addr, err
}
