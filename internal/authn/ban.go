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

// BanOptions configure the failed-authentication ban (SPEC §2).
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
	return "secret:" + hex.EncodeToString(sum[:8])
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
	addrs  map[netip.Prefix]*addrEntry
	idents map[string]*identEntry
}

type failure struct {
	at       time.Time
	identity string
}

type addrEntry struct {
	failures    []failure
	bannedUntil time.Time
}

type identEntry struct {
	failures    []time.Time
	bannedUntil time.Time
}

// maxEntries bounds each map before expired entries are pruned.
const maxEntries = 100_000

// NewLimiter returns the in-memory Limiter; now may be nil for time.Now.
func NewLimiter(opts BanOptions, now func() time.Time) Limiter {
	if now == nil {
		now = time.Now
	}
	return &memoryLimiter{opts: opts, now: now, addrs: map[netip.Prefix]*addrEntry{}, idents: map[string]*identEntry{}}
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
	if e := l.addrs[audit.AddressGroup(ip)]; e != nil && now.Before(e.bannedUntil) {
		return true
	}
	e := l.idents[identity]
	return identity != "" && e != nil && now.Before(e.bannedUntil)
}

func (l *memoryLimiter) Fail(ip netip.Addr, identity string) bool {
	if l.exempt(ip) {
		return false
	}
	now := l.now()
	cut := now.Add(-l.opts.Window)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.addrs) > maxEntries || len(l.idents) > maxEntries {
		l.pruneLocked(now)
	}
	key := audit.AddressGroup(ip)
	a := l.addrs[key]
	if a == nil {
		a = &addrEntry{}
		l.addrs[key] = a
	}
	kept := a.failures[:0]
	for _, f := range a.failures {
		if f.at.After(cut) {
			kept = append(kept, f)
		}
	}
	a.failures = append(kept, failure{at: now, identity: identity})
	if len(a.failures) >= l.opts.MaxFailures {
		a.bannedUntil = now.Add(l.opts.Duration)
		a.failures = a.failures[:0]
	}
	banned := now.Before(a.bannedUntil)
	if identity == "" {
		return banned
	}
	id := l.idents[identity]
	if id == nil {
		id = &identEntry{}
		l.idents[identity] = id
	}
	keptAt := id.failures[:0]
	for _, t := range id.failures {
		if t.After(cut) {
			keptAt = append(keptAt, t)
		}
	}
	id.failures = append(keptAt, now)
	if len(id.failures) >= l.opts.MaxFailures {
		id.bannedUntil = now.Add(l.opts.Duration)
		id.failures = id.failures[:0]
	}
	return banned || now.Before(id.bannedUntil)
}

func (l *memoryLimiter) Succeed(ip netip.Addr, identity string) {
	if l.exempt(ip) || identity == "" {
		return
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if id := l.idents[identity]; id != nil && !now.Before(id.bannedUntil) {
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
	for k, e := range l.addrs {
		if !now.Before(e.bannedUntil) && (len(e.failures) == 0 || now.Sub(e.failures[len(e.failures)-1].at) > l.opts.Window) {
			delete(l.addrs, k)
		}
	}
	for k, e := range l.idents {
		if !now.Before(e.bannedUntil) && (len(e.failures) == 0 || now.Sub(e.failures[len(e.failures)-1]) > l.opts.Window) {
			delete(l.idents, k)
		}
	}
}
