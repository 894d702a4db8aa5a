package httpx

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ForwardedHeader names the header trusted proxies write the client address into.
type ForwardedHeader string

// The headers a trusted proxy may write. Only one is read: a proxy passes the other through as
// the client sent it, so reading both would let a client choose its own address.
const (
	XForwardedFor ForwardedHeader = "X-Forwarded-For"
	Forwarded     ForwardedHeader = "Forwarded" // RFC 7239
)

// TrustedProxies says whose forwarding headers name the client (docs/design.md §7.5).
type TrustedProxies struct {
	// Peers are the proxies' addresses; empty trusts no one (the client is the TCP peer).
	Peers []netip.Prefix
	// Header is the header they write; empty means X-Forwarded-For.
	Header ForwardedHeader
}

func (t TrustedProxies) trusts(ip netip.Addr) bool {
	for _, p := range t.Peers {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Resolve returns the client address of a request from peer with headers h: peer itself unless
// peer is a trusted proxy; then the header's hops are walked from the right (the hop the nearest
// proxy added) past trusted proxies to the first untrusted one. A hop that is not an address
// ("unknown", an obfuscated name, garbage) ends the walk at the last trusted hop: the chain
// cannot be followed further, and nothing left of it is believed.
func (t TrustedProxies) Resolve(peer netip.Addr, h http.Header) netip.Addr {
	if !peer.IsValid() || !t.trusts(peer) {
		return peer
	}
	name := t.Header
	if name == "" {
		name = XForwardedFor
	}
	lines := h.Values(string(name))
	client := peer
	for i := len(lines) - 1; i >= 0; i-- {
		rest := lines[i]
		for rest != "" {
			var hop string
			if j := strings.LastIndexByte(rest, ','); j >= 0 {
				rest, hop = rest[:j], rest[j+1:]
			} else {
				rest, hop = "", rest
			}
			hop = strings.TrimSpace(hop)
			if hop == "" {
				continue // "a,,b" and a trailing comma name no hop
			}
			if name == Forwarded {
				hop = forwardedFor(hop)
			}
			ip, ok := parseHop(hop)
			if !ok {
				return client
			}
			client = ip
			if !t.trusts(ip) {
				return ip
			}
		}
	}
	return client
}

// forwardedFor returns the for= parameter of one RFC 7239 forwarded-element ("" when none).
func forwardedFor(element string) string {
	for element != "" {
		var pair string
		pair, element, _ = strings.Cut(element, ";")
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "for") {
			v = strings.TrimSpace(v)
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v
		}
	}
	return ""
}

// parseHop parses one hop: an IP, an IP with a port, or a bracketed IPv6 with or without one.
// Zones are dropped and IPv4-mapped addresses unmapped, as ClientIP does.
func parseHop(s string) (netip.Addr, bool) {
	if ip, err := netip.ParseAddr(s); err == nil {
		return ip.WithZone("").Unmap(), true
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	} else if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return ip.WithZone("").Unmap(), true
}

const clientKey ctxKey = 2

// client is the resolved client address of a request, and whether a proxy named it.
type client struct {
	ip        netip.Addr
	forwarded bool
}

// ClientAddress resolves each request's client address once, by t, and keeps it in the request
// context for ClientIP: the ban, the deploy tokens' IP allow-lists, the audit log and the access
// log then all see the same address. It is the outermost handler, before Middleware.
func ClientAddress(t TrustedProxies, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer := peerIP(r)
		ip := t.Resolve(peer, r.Header)
		if ip == peer {
			// ClientIP falls back to the peer: the common case costs no request copy.
			next.ServeHTTP(w, r)
			return
		}
		ctx := context.WithValue(r.Context(), clientKey, client{ip: ip, forwarded: true})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// ClientIP is the request's client address: the one ClientAddress resolved, or else the TCP
// peer's (an IPv4-mapped address unmapped, so bans and allow-lists match); the zero Addr when
// RemoteAddr is not an address.
func ClientIP(r *http.Request) netip.Addr {
	ctx := r.Context()
	// Behind Middleware the address is kept in the request's state: the nearest context value,
	// and no address to parse again.
	if st, ok := ctx.Value(requestIDKey).(*requestState); ok {
		return st.client
	}
	if c, ok := ctx.Value(clientKey).(client); ok {
		return c.ip
	}
	return peerIP(r)
}

// peerIP is the TCP peer's address.
func peerIP(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap()
}

// forwardedClient returns the client address a trusted proxy named, if one did.
func forwardedClient(ctx context.Context) (netip.Addr, bool) {
	c, ok := ctx.Value(clientKey).(client)
	return c.ip, ok && c.forwarded
}
