// Package ban is the failed-authentication ban (docs/design.md §7): the policy (what is exempt,
// how addresses group) over a Store of failure windows, kept in memory on one node or shared by
// the nodes of a cluster (PostgreSQL through sqlstore, or Redis through ban/redisban).
package ban

import (
	"context"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
)

// Options configure the ban (docs/design.md §7).
type Options struct {
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
// one valid credential cannot launder guesses at others.
type Limiter interface {
	// Banned reports whether an attempt from ip for identity ("" when none is known yet) is
	// refused now.
	Banned(ctx context.Context, ip netip.Addr, identity string) bool
	// Fail records a failed attempt from ip for identity ("" when none) and reports whether
	// the attempt's address or identity is now banned.
	Fail(ctx context.Context, ip netip.Addr, identity string) bool
	// Succeed records a successful attempt: it forgets identity's failures, from every
	// address, and nothing else.
	Succeed(ctx context.Context, ip netip.Addr, identity string)
}

// Rule is what a Store applies on a failure: MaxFailures within Window ban for Duration.
type Rule struct {
	MaxFailures int
	Window      time.Duration
	Duration    time.Duration
}

// Store keeps the failure windows and bans of address groups and identities. Each key (an
// address group, an identity) is a window of failures: a failure forgets the key's failures at
// or before now-Window, records itself, and once MaxFailures are left bans the key until
// now+Duration and forgets them. Every implementation passes the suite in ban/bantest.
type Store interface {
	// Banned reports whether addr, or identity when not "", is banned at now.
	Banned(ctx context.Context, addr netip.Prefix, identity string, now time.Time) (bool, error)
	// Fail records a failure at now from addr for identity ("" when none) in addr's window
	// (tagged with identity) and in identity's, and reports whether either is banned afterwards.
	// Each window's update is atomic, also across nodes.
	Fail(ctx context.Context, addr netip.Prefix, identity string, now time.Time, r Rule) (bool, error)
	// Forgive forgets identity's failures: its own window, unless it is banned at now, and the
	// failures tagged with it in addr's window.
	Forgive(ctx context.Context, addr netip.Prefix, identity string, now time.Time) error
}

// limiter applies Options over a Store. A shared store that fails (the database or Redis
// unreachable) does not open the door: the node counts in its own memory meanwhile.
type limiter struct {
	opts   Options
	rule   Rule
	now    func() time.Time
	shared Store // nil on one node
	local  *Memory
	log    *slog.Logger
	// warned is when a shared store's failure was last logged (unix seconds), so an outage
	// logs once a minute rather than once a request.
	warned atomic.Int64
}

// NewMemoryLimiter returns the Limiter of one node, counting in its memory; now may be nil for
// time.Now.
func NewMemoryLimiter(opts Options, now func() time.Time) Limiter {
	return New(nil, opts, now, nil)
}

// New returns the Limiter over shared (nil counts in this node's memory only); now may be nil for
// time.Now, log nil for slog.Default.
func New(shared Store, opts Options, now func() time.Time, log *slog.Logger) Limiter {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &limiter{opts: opts, rule: Rule{MaxFailures: opts.MaxFailures, Window: opts.Window, Duration: opts.Duration},
		now: now, shared: shared, local: NewMemory(), log: log}
}

func (l *limiter) exempt(ip netip.Addr) bool {
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

func (l *limiter) Banned(ctx context.Context, ip netip.Addr, identity string) bool {
	if l.exempt(ip) {
		return false
	}
	now, addr := l.now(), audit.AddressGroup(ip)
	if l.shared != nil {
		b, err := l.shared.Banned(ctx, addr, identity, now)
		if err == nil && b {
			return true
		}
		l.warn(err)
	}
	b, _ := l.local.Banned(ctx, addr, identity, now)
	return b
}

func (l *limiter) Fail(ctx context.Context, ip netip.Addr, identity string) bool {
	if l.exempt(ip) {
		return false
	}
	now, addr := l.now(), audit.AddressGroup(ip)
	if l.shared != nil {
		// A client that hangs up does not escape the count.
		b, err := l.shared.Fail(context.WithoutCancel(ctx), addr, identity, now, l.rule)
		if err == nil {
			if !b {
				b, _ = l.local.Banned(ctx, addr, identity, now)
			}
			return b
		}
		l.warn(err)
	}
	b, _ := l.local.Fail(ctx, addr, identity, now, l.rule)
	return b
}

func (l *limiter) Succeed(ctx context.Context, ip netip.Addr, identity string) {
	if l.exempt(ip) || identity == "" {
		return
	}
	now, addr := l.now(), audit.AddressGroup(ip)
	if l.shared != nil {
		l.warn(l.shared.Forgive(context.WithoutCancel(ctx), addr, identity, now))
	}
	_ = l.local.Forgive(ctx, addr, identity, now)
}

// warn logs a shared store's error, at most once a minute.
func (l *limiter) warn(err error) {
	if err == nil {
		return
	}
	now := time.Now().Unix()
	if last := l.warned.Load(); now-last >= 60 && l.warned.CompareAndSwap(last, now) {
		l.log.Warn("failed-authentication ban: the shared store failed; counting on this node meanwhile", "err", err.Error())
	}
}
