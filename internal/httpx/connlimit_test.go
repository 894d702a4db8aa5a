package httpx_test

import (
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/httpx"
)

// acceptAll serves l by holding every accepted connection open until the test ends.
func acceptAll(t *testing.T, l net.Listener) {
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	t.Cleanup(func() { l.Close() })
}

// refused dials l and reports whether it answered 503 and closed.
func refused(t *testing.T, l net.Listener) bool {
	t.Helper()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	b, _ := io.ReadAll(c)
	return strings.HasPrefix(string(b), "HTTP/1.1 503 ")
}

func TestLimitListener(t *testing.T) {
	listen := func(t *testing.T, lim httpx.ConnLimit) net.Listener {
		raw, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l := httpx.LimitListener(raw, lim)
		acceptAll(t, l)
		return l
	}
	t.Run("fail/over the cap", func(t *testing.T) {
		l := listen(t, httpx.ConnLimit{PerClient: 2})
		for i := range 2 {
			if refused(t, l) {
				t.Fatalf("connection %d refused", i+1)
			}
		}
		if !refused(t, l) {
			t.Fatal("connection 3 accepted over a cap of 2")
		}
	})
	t.Run("ok/loopback exempt", func(t *testing.T) {
		l := listen(t, httpx.ConnLimit{PerClient: 1, ExemptLoopback: true})
		for i := range 3 {
			if refused(t, l) {
				t.Fatalf("loopback connection %d refused", i+1)
			}
		}
	})
	t.Run("ok/trusted proxy exempt", func(t *testing.T) {
		l := listen(t, httpx.ConnLimit{PerClient: 1, Exempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
		for i := range 3 {
			if refused(t, l) {
				t.Fatalf("exempt connection %d refused", i+1)
			}
		}
	})
	t.Run("ok/no cap", func(t *testing.T) {
		l := listen(t, httpx.ConnLimit{})
		for i := range 3 {
			if refused(t, l) {
				t.Fatalf("connection %d refused without a cap", i+1)
			}
		}
	})
}
