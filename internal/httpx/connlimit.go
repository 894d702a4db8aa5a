package httpx

import (
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

// ConnLimit caps how many connections one client may hold open at once.
type ConnLimit struct {
	// PerClient is the cap; 0 or less disables it.
	PerClient int
	// ExemptLoopback leaves loopback clients uncapped: behind a reverse proxy on the same host
	// every client arrives from loopback.
	ExemptLoopback bool
	// Exempt are peers never capped: the trusted proxies, which carry many clients each.
	Exempt []netip.Prefix
}

// refusal answers a connection over the cap before it is closed, so a client sees why.
const refusal = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n" +
	"Connection: close\r\nRetry-After: 1\r\nContent-Length: 39\r\n\r\ntoo many connections from your address\n"

// LimitListener returns l with lim applied: a connection that would take its client over the
// cap is answered 503 and closed at once, and Accept goes on to the next one. A client is an
// IPv4 address, or an IPv6 /64 (one host commonly holds a whole /64).
func LimitListener(l net.Listener, lim ConnLimit) net.Listener {
	if lim.PerClient <= 0 {
		return l
	}
	return &limitListener{Listener: l, lim: lim, open: map[netip.Prefix]int{}}
}

type limitListener struct {
	net.Listener
	lim  ConnLimit
	mu   sync.Mutex
	open map[netip.Prefix]int
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, ok := l.client(c.RemoteAddr())
		if !ok {
			return c, nil
		}
		l.mu.Lock()
		over := l.open[key] >= l.lim.PerClient
		if !over {
			l.open[key]++
		}
		l.mu.Unlock()
		if !over {
			return &limitedConn{Conn: c, release: func() { l.release(key) }}, nil
		}
		go func() {
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = c.Write([]byte(refusal))
			_ = c.Close()
		}()
	}
}

// client is the key a connection counts under; false leaves it uncapped.
func (l *limitListener) client(a net.Addr) (netip.Prefix, bool) {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Prefix{}, false
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ip = ip.Unmap()
	if l.lim.ExemptLoopback && ip.IsLoopback() {
		return netip.Prefix{}, false
	}
	for _, p := range l.lim.Exempt {
		if p.Contains(ip) {
			return netip.Prefix{}, false
		}
	}
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.Prefix(bits)
	return p, err == nil
}

func (l *limitListener) release(key netip.Prefix) {
	l.mu.Lock()
	if l.open[key]--; l.open[key] <= 0 {
		delete(l.open, key)
	}
	l.mu.Unlock()
}

// limitedConn gives its client's slot back when closed, once.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// ReadFrom keeps the socket's own ReadFrom (sendfile, splice) reachable through the wrapper.
func (c *limitedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// CloseWrite keeps the socket's half-close reachable: net/http uses it to close a connection
// gracefully after an error response.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
