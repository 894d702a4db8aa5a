package authn

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// BanOptions configure the failed-authentication ban (docs/design.md §7).
type BanOptions struct {
	MaxFailures    int
	Window         time.Duration
	Duration       time.Duration
	ExemptLoopback bool
	AllowList      []netip.Prefix
}

// Limiter is the one failed-authentication ban that every credential-accepting surface shares:
// Git, /jwt/auth, every package format, the REST API and web sign-in. It counts failures per
// client address (IPv6 grouped by /64) and, separately, per identity (the username of a
// password, or the token a secret names): an address or an identity with MaxFailures failures
// within Window is refused for Duration. A success forgets only its own identity's failures, so
// one valid credential cannot launder guesses at others. It is an interface so that a store
// shared by the nodes of a cluster can replace the in-memory one (NewLimiter).
type Limiter interface {
	// Banned reports whether an attempt from ip for identity ("" when none is known yet) is
	// refused now.
	Banned(ip netip.Addr, identity string) bool
	// Fail records a failed attempt from ip for identity ("" when none) and reports whether
	// the attempt's address or identity is now banned.
	Fail(ip netip.Addr, identity string) bool
	// Succeed records a successful attempt: it forgets identity's failures, from every
	// address, and nothing else.
	Succeed(ip netip.Addr, identity string)
}

// UserIdentity is the ban identity of a password attempt for username (case-insensitive, as
// usernames are).
func UserIdentity(username string) string {
	if username == "" {
		return ""
	}
	return "user:" + strings.ToLower(username)
}

// SecretIdentity is the ban identity of a presented token secret: a prefix of its SHA-256, so
// one token's failures count together while the limiter never holds the secret. A token has
// one secret, so this is the token's identity whether or not it exists.
func SecretIdentity(s token.Secret) string {
	if s.IsZero() {
		return ""
	}
	sum := sha256.Sum256([]byte(s.Reveal()))
	// Built in one buffer: this runs on every authenticated request.
	var b [len("secret:") + 16]byte
	copy(b[:], "secret:")
	hex.Encode(b[len("secret:"):], sum[:8])
	return string(b[:])
}

// identity is the ban identity of basic-auth credentials: the token when the secret is one,
// otherwise the username the password is for.
func identity(username string, secret token.Secret) string {
	if secret.HasPrefix(token.DeployTokenPrefix) || secret.HasPrefix(token.PersonalTokenPrefix) {
		return SecretIdentity(secret)
	}
	return UserIdentity(username)
}

// memoryLimiter is the in-memory Limiter of one node.
type memoryLimiter struct {
	opts BanOptions
	now  func() time.Time

	mu     sync.Mutex
	addrs  map[netip.Prefix]*window
	idents map[string]*window
}

// failure is one failed attempt, with the identity it was for ("" when none).
type failure struct {
	at       time.Time
	identity string
}

// window is the recent failures of one address or identity, and its ban.
type window struct {
	failures    []failure
	bannedUntil time.Time
}

// add records f, forgetting failures at or before cut, and bans until f.at+d once max failures
// are left (starting the count afresh).
func (w *window) add(f failure, cut time.Time, max int, d time.Duration) {
	kept := w.failures[:0]
	for _, old := range w.failures {
		if old.at.After(cut) {
			kept = append(kept, old)
		}
	}
	w.failures = append(kept, f)
	if len(w.failures) >= max {
		w.bannedUntil = f.at.Add(d)
		w.failures = w.failures[:0]
	}
}

// banned reports whether w is banned at now.
func (w *window) banned(now time.Time) bool { return w != nil && now.Before(w.bannedUntil) }

// idle reports whether w holds nothing that counts at now: no ban, no failure within span.
func (w *window) idle(now time.Time, span time.Duration) bool {
	return !w.banned(now) && (len(w.failures) == 0 || now.Sub(w.failures[len(w.failures)-1].at) > span)
}

// maxEntries bounds each map before idle entries are pruned.
const maxEntries = 100_000

// NewLimiter returns the in-memory Limiter; now may be nil for time.Now.
func NewLimiter(opts BanOptions, now func() time.Time) Limiter {
	if now == nil {
		now = time.Now
	}
	return &memoryLimiter{opts: opts, now: now, addrs: map[netip.Prefix]*window{}, idents: map[string]*window{}}
}

func (l *memoryLimiter) exempt(ip netip.Addr) bool {
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

func (l *memoryLimiter) Banned(ip netip.Addr, identity string) bool {
	if l.exempt(ip) {
		return false
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.addrs[audit.AddressGroup(ip)].banned(now) || (identity != "" && l.idents[identity].banned(now))
}

func (l *memoryLimiter) Fail(ip netip.Addr, identity string) bool {
	if l.exempt(ip) {
		return false
	}
	now := l.now()
	f, cut := failure{at: now, identity: identity}, now.Add(-l.opts.Window)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.addrs) > maxEntries || len(l.idents) > maxEntries {
		l.pruneLocked(now)
	}
	key := audit.AddressGroup(ip)
	a := l.addrs[key]
	if a == nil {
		a = &window{}
		l.addrs[key] = a
	}
	a.add(f, cut, l.opts.MaxFailures, l.opts.Duration)
	if identity == "" {
		return a.banned(now)
	}
	id := l.idents[identity]
	if id == nil {
		id = &window{}
		l.idents[identity] = id
	}
	id.add(f, cut, l.opts.MaxFailures, l.opts.Duration)
	return a.banned(now) || id.banned(now)
}

func (l *memoryLimiter) Succeed(ip netip.Addr, identity string) {
	if l.exempt(ip) || identity == "" {
		return
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if id := l.idents[identity]; id != nil && !id.banned(now) {
		delete(l.idents, identity)
	}
	// Only this identity's failures are forgiven: the others this address made still count.
	if a := l.addrs[audit.AddressGroup(ip)]; a != nil {
		kept := a.failures[:0]
		for _, f := range a.failures {
			if f.identity != identity {
				kept = append(kept, f)
			}
		}
		a.failures = kept
	}
}

func (l *memoryLimiter) pruneLocked(now time.Time) {
	for k, w := range l.addrs {
		if w.idle(now, l.opts.Window) {
			delete(l.addrs, k)
		}
	}
	for k, w := range l.idents {
		if w.idle(now, l.opts.Window) {
			delete(l.idents, k)
		}
	}
}
