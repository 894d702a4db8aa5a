package authn

import (
	"net/netip"
	"sync"
	"time"
)

// BanOptions configure the failed-authentication ban (SPEC §2).
type BanOptions struct {
	MaxFailures    int
	Window         time.Duration
	Duration       time.Duration
	ExemptLoopback bool
	AllowList      []netip.Prefix
}

// Limiter counts failed basic-auth attempts per IP and bans an IP that fails MaxFailures times
// within Window, for Duration. One Limiter is shared by Git and /jwt/auth.
type Limiter struct {
	opts BanOptions
	now  func() time.Time

	mu      sync.Mutex
	entries map[netip.Addr]*banEntry
}

type banEntry struct {
	failures    []time.Time
	bannedUntil time.Time
}

// NewLimiter returns a Limiter; now may be nil for time.Now.
func NewLimiter(opts BanOptions, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{opts: opts, now: now, entries: map[netip.Addr]*banEntry{}}
}

func (l *Limiter) exempt(ip netip.Addr) bool {
	if !ip.IsValid() {
		return true
	}
	if l.opts.ExemptLoopback && ip.IsLoopback() {
		return true
	}
	for _, p := range l.opts.AllowList {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Banned reports whether ip is banned now.
func (l *Limiter) Banned(ip netip.Addr) bool {
	if l == nil || l.exempt(ip) {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entries[ip]
	return e != nil && l.now().Before(e.bannedUntil)
}

// Fail records a failed attempt from ip and reports whether ip is now banned.
func (l *Limiter) Fail(ip netip.Addr) bool {
	if l == nil || l.exempt(ip) {
		return false
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.entries) > 100_000 {
		l.pruneLocked(now)
	}
	e := l.entries[ip]
	if e == nil {
		e = &banEntry{}
		l.entries[ip] = e
	}
	cut := now.Add(-l.opts.Window)
	kept := e.failures[:0]
	for _, t := range e.failures {
		if t.After(cut) {
			kept = append(kept, t)
		}
	}
	e.failures = append(kept, now)
	if len(e.failures) >= l.opts.MaxFailures {
		e.bannedUntil = now.Add(l.opts.Duration)
		e.failures = e.failures[:0]
	}
	return now.Before(e.bannedUntil)
}

// Succeed resets ip's failure count (a success resets the count, SPEC §2).
func (l *Limiter) Succeed(ip netip.Addr) {
	if l == nil || l.exempt(ip) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.entries[ip]; e != nil && !l.now().Before(e.bannedUntil) {
		delete(l.entries, ip)
	}
}

func (l *Limiter) pruneLocked(now time.Time) {
	for ip, e := range l.entries {
		if !now.Before(e.bannedUntil) && (len(e.failures) == 0 || now.Sub(e.failures[len(e.failures)-1]) > l.opts.Window) {
			delete(l.entries, ip)
		}
	}
}
