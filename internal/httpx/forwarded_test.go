package httpx_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/httpx"
)

var lb = httpx.TrustedProxies{Peers: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")}}

func TestResolve(t *testing.T) {
	fwd := lb
	fwd.Header = httpx.Forwarded
	for _, c := range []struct {
		name    string
		t       httpx.TrustedProxies
		peer    string
		headers []string // values of the trusted header, in order
		other   []string // values of the header the proxies do not write
		want    string
	}{
		{"fail/spoofed XFF from an untrusted peer is ignored", lb, "203.0.113.9", []string{"198.51.100.1"}, nil, "203.0.113.9"},
		{"fail/no proxies trusted", httpx.TrustedProxies{}, "10.0.0.1", []string{"198.51.100.1"}, nil, "10.0.0.1"},
		{"ok/one trusted proxy", lb, "10.0.0.1", []string{"198.51.100.1"}, nil, "198.51.100.1"},
		{"ok/trusted proxy without the header", lb, "10.0.0.1", nil, nil, "10.0.0.1"},
		{"ok/chain of trusted proxies", lb, "10.0.0.1", []string{"198.51.100.1, 10.0.0.3, 10.0.0.2"}, nil, "198.51.100.1"},
		{"ok/chain over several header lines", lb, "10.0.0.1", []string{"198.51.100.1", "10.0.0.3,10.0.0.2"}, nil, "198.51.100.1"},
		{"fail/client-written hops left of the first untrusted are ignored", lb, "10.0.0.1",
			[]string{"192.0.2.66, 10.0.0.9, 198.51.100.1"}, nil, "198.51.100.1"},
		{"ok/all hops trusted: the leftmost", lb, "10.0.0.1", []string{"10.0.0.7, 10.0.0.2"}, nil, "10.0.0.7"},
		{"ok/IPv6, port, zone and mapped forms", lb, "10.0.0.1", []string{"[2001:db8::1]:4711"}, nil, "2001:db8::1"},
		{"ok/IPv4 with port", lb, "10.0.0.1", []string{"198.51.100.1:5555"}, nil, "198.51.100.1"},
		{"ok/mapped IPv4 unmapped", lb, "10.0.0.1", []string{"::ffff:198.51.100.1"}, nil, "198.51.100.1"},
		{"ok/trusted IPv6 proxy", lb, "2001:db8:ffff::5", []string{"198.51.100.1"}, nil, "198.51.100.1"},
		{"fail/malformed hop stops at the last trusted hop", lb, "10.0.0.1", []string{"198.51.100.1, garbage, 10.0.0.2"}, nil, "10.0.0.2"},
		{"fail/malformed nearest hop: the peer", lb, "10.0.0.1", []string{"unknown"}, nil, "10.0.0.1"},
		{"ok/empty hops skipped", lb, "10.0.0.1", []string{"198.51.100.1,, ,"}, nil, "198.51.100.1"},
		{"fail/the other header is not read", lb, "10.0.0.1", nil, []string{"for=192.0.2.66"}, "10.0.0.1"},
		{"ok/Forwarded", fwd, "10.0.0.1", []string{`for=198.51.100.1;proto=https, for=10.0.0.2;by=10.0.0.1`}, nil, "198.51.100.1"},
		{"ok/Forwarded quoted IPv6 with port", fwd, "10.0.0.1", []string{`For="[2001:db8::17]:4711"`}, nil, "2001:db8::17"},
		{"fail/Forwarded obfuscated identifier stops the walk", fwd, "10.0.0.1", []string{`for=198.51.100.1, for=_hidden`}, nil, "10.0.0.1"},
		{"fail/Forwarded element without for", fwd, "10.0.0.1", []string{`proto=https;by=10.0.0.1`}, nil, "10.0.0.1"},
		{"fail/XFF not read when Forwarded is the header", fwd, "10.0.0.1", nil, []string{"192.0.2.66"}, "10.0.0.1"},
		{"fail/spoofed Forwarded from an untrusted peer", fwd, "203.0.113.9", []string{"for=198.51.100.1"}, nil, "203.0.113.9"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			name, other := "X-Forwarded-For", "Forwarded"
			if c.t.Header == httpx.Forwarded {
				name, other = other, name
			}
			for _, v := range c.headers {
				h.Add(name, v)
			}
			for _, v := range c.other {
				h.Add(other, v)
			}
			if got := c.t.Resolve(netip.MustParseAddr(c.peer), h); got.String() != c.want {
				t.Fatalf("Resolve(%s, %v) = %s, want %s", c.peer, h, got, c.want)
			}
		})
	}
}

// TestClientAddress checks the middleware: ClientIP returns what it resolved, and the access
// log names the client and, when a proxy named it, the proxy.
func TestClientAddress(t *testing.T) {
	for _, c := range []struct{ peer, xff, wantIP, want, proxy string }{
		{"10.0.0.1:3000", "198.51.100.1", "198.51.100.1", "198.51.100.1", "10.0.0.1:3000"},
		{"203.0.113.9:4000", "198.51.100.1", "203.0.113.9", "203.0.113.9:4000", ""},
		{"[::ffff:203.0.113.9]:4000", "", "203.0.113.9", "[::ffff:203.0.113.9]:4000", ""},
		{"not an address", "", "invalid IP", "not an address", ""},
	} {
		log, buf := newLogger()
		var seen netip.Addr
		h := httpx.ClientAddress(lb, httpx.Middleware(log, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen = httpx.ClientIP(r)
		})))
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = c.peer
		r.Header.Set("X-Forwarded-For", c.xff)
		h.ServeHTTP(httptest.NewRecorder(), r)
		if seen.String() != c.wantIP {
			t.Errorf("peer %s: ClientIP = %s, want %s", c.peer, seen, c.wantIP)
		}
		line := buf.lines(t)[0]
		if line["remote"] != c.want {
			t.Errorf("peer %s: logged remote %v, want %s", c.peer, line["remote"], c.want)
		}
		if got, _ := line["proxy"].(string); got != c.proxy {
			t.Errorf("peer %s: logged proxy %q, want %q", c.peer, got, c.proxy)
		}
	}
}

// FuzzResolve feeds arbitrary headers from a trusted peer: Resolve never panics, and answers
// the peer or an address the header names.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{"198.51.100.1", "198.51.100.1, 10.0.0.2", "[2001:db8::1]:80", "for=\"[::1]\";proto=http",
		",,", "unknown", "for=", "\"", "[", "[]:", "1.2.3.4%eth0", "for=1.2.3.4;for=5.6.7.8, by=x"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	peer := netip.MustParseAddr("10.0.0.1")
	f.Fuzz(func(t *testing.T, v string, forwarded bool) {
		tp := lb
		name := "X-Forwarded-For"
		if forwarded {
			tp.Header, name = httpx.Forwarded, "Forwarded"
		}
		got := tp.Resolve(peer, http.Header{name: {v}})
		if !got.IsValid() || got.Zone() != "" || got.Is4In6() {
			t.Fatalf("Resolve(%q) = %v", v, got)
		}
	})
}
