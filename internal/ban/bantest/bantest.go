// Package bantest is the behavioural suite every ban.Store passes (docs/architecture.md §7.3): the
// in-memory one, PostgreSQL's and SQLite's (sqlstore) and Redis's (ban/redisban) run the same
// cases through a ban.Limiter, so the nodes of a cluster ban exactly as one node does.
package bantest

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/ban"
)

// strict fails the test on any error of the store, which the Limiter would otherwise survive
// by counting in memory.
type strict struct {
	ban.Store
	t *testing.T
}

func (s strict) Banned(ctx context.Context, addr netip.Prefix, identity string, now time.Time) (bool, error) {
	b, err := s.Store.Banned(ctx, addr, identity, now)
	s.check(err)
	return b, err
}

func (s strict) Fail(ctx context.Context, addr netip.Prefix, identity string, now time.Time, r ban.Rule) (bool, error) {
	b, err := s.Store.Fail(ctx, addr, identity, now, r)
	s.check(err)
	return b, err
}

func (s strict) Forgive(ctx context.Context, addr netip.Prefix, identity string, now time.Time) error {
	err := s.Store.Forgive(ctx, addr, identity, now)
	s.check(err)
	return err
}

func (s strict) check(err error) {
	if err != nil {
		s.t.Errorf("store: %v", err)
	}
}

var ctx = context.Background()

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// specBan is the default of docs/design.md §7.2: 10 failures within 60 s ban for 1 hour.
func specBan() ban.Options {
	return ban.Options{MaxFailures: 10, Window: 60 * time.Second, Duration: time.Hour}
}

var attacker = netip.MustParseAddr("203.0.113.9")

// failN records n failures one second apart and returns whether the last one banned.
func failN(l ban.Limiter, c *fakeClock, ip netip.Addr, n int) bool {
	banned := false
	for i := 0; i < n; i++ {
		banned = l.Fail(ctx, ip, "")
		c.Advance(time.Second)
	}
	return banned
}

// Run runs the suite: newStore returns an empty Store for each case (or one whose keys no other
// case uses), and the cases drive a Limiter over it with a clock they move by hand.
func Run(t *testing.T, newStore func(t *testing.T) ban.Store) {
	newLimiter := func(t *testing.T, opts ban.Options, now func() time.Time) ban.Limiter {
		return ban.New(strict{newStore(t), t}, opts, now, nil)
	}
	t.Run("fail/10 failures within 60s ban", func(t *testing.T) {
		c := newFakeClock()
		l := newLimiter(t, specBan(), c.Now)
		for i := 1; i <= 9; i++ {
			if l.Fail(ctx, attacker, "") {
				t.Fatalf("banned after %d failures", i)
			}
			if l.Banned(ctx, attacker, "") {
				t.Fatalf("Banned after %d failures", i)
			}
			c.Advance(6 * time.Second) // the 10th failure lands 54 s after the first
		}
		if !l.Fail(ctx, attacker, "") {
			t.Fatal("the 10th failure within 60 s did not ban")
		}
		if !l.Banned(ctx, attacker, "") {
			t.Fatal("Banned is false right after the ban")
		}
		if other := netip.MustParseAddr("203.0.113.10"); l.Banned(ctx, other, "") {
			t.Fatal("another address is banned too")
		}
	})
	t.Run("ok/9 failures, 61s pause, 1 failure do not ban", func(t *testing.T) {
		c := newFakeClock()
		l := newLimiter(t, specBan(), c.Now)
		if failN(l, c, attacker, 9) {
			t.Fatal("banned after 9 failures")
		}
		c.Advance(61 * time.Second)
		if l.Fail(ctx, attacker, "") || l.Banned(ctx, attacker, "") {
			t.Fatal("failures older than the window still counted")
		}
		// The window slides: 9 more within 60 s of that one do ban (1 + 9 = 10).
		if !failN(l, c, attacker, 9) {
			t.Fatal("10 failures within the window after the pause did not ban")
		}
	})
	t.Run("fail/ban lasts exactly the duration", func(t *testing.T) {
		c := newFakeClock()
		l := newLimiter(t, specBan(), c.Now)
		for i := 0; i < 9; i++ {
			l.Fail(ctx, attacker, "")
		}
		if !l.Fail(ctx, attacker, "") {
			t.Fatal("not banned")
		}
		c.Advance(time.Hour - time.Nanosecond)
		if !l.Banned(ctx, attacker, "") {
			t.Fatal("ban ended before its duration")
		}
		c.Advance(time.Nanosecond)
		if l.Banned(ctx, attacker, "") {
			t.Fatal("ban lasted longer than its duration")
		}
		// After the ban, the count starts afresh: one failure does not ban again.
		if l.Fail(ctx, attacker, "") || l.Banned(ctx, attacker, "") {
			t.Fatal("a single failure after the ban re-banned")
		}
	})
	t.Run("ok/success resets its own identity's count", func(t *testing.T) {
		c := newFakeClock()
		l := newLimiter(t, specBan(), c.Now)
		for i := 0; i < 9; i++ {
			l.Fail(ctx, attacker, "user:alice") // alice mistyping her password
		}
		l.Succeed(ctx, attacker, "user:alice")
		if failN(l, c, attacker, 9) || l.Banned(ctx, attacker, "") {
			t.Fatal("alice's failures before her success still counted")
		}
		if !l.Fail(ctx, attacker, "") {
			t.Fatal("10 failures after the success did not ban")
		}
	})
	t.Run("fail/interleaving a valid login does not reset other identities' failures", func(t *testing.T) {
		c := newFakeClock()
		l := newLimiter(t, specBan(), c.Now)
		// The attacker guesses root's password and logs in with its own valid credential after
		// each guess: before, every success wiped the address's count and the guessing never ended.
		for i := 1; i <= 9; i++ {
			if l.Fail(ctx, attacker, "user:root") {
				t.Fatalf("banned after %d guesses", i)
			}
			l.Succeed(ctx, attacker, "secret:attackers-own-token")
			c.Advance(time.Second)
		}
		if !l.Fail(ctx, attacker, "user:root") || !l.Banned(ctx, attacker, "secret:attackers-own-token") {
			t.Fatal("10 guesses interleaved with successes did not ban the address")
		}
	})
	t.Run("fail/one identity guessed from many addresses is locked", func(t *testing.T) {
		c := newFakeClock()
		l := newLimiter(t, specBan(), c.Now)
		for i := 0; i < 10; i++ {
			l.Fail(ctx, netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), "user:root")
		}
		fresh := netip.MustParseAddr("192.0.2.200")
		if !l.Banned(ctx, fresh, "user:root") {
			t.Fatal("root is not locked after 10 failures from 10 addresses")
		}
		if l.Banned(ctx, fresh, "user:alice") || l.Banned(ctx, fresh, "") {
			t.Fatal("the lock of root reached another identity or a fresh address")
		}
		c.Advance(time.Hour)
		if l.Banned(ctx, fresh, "user:root") {
			t.Fatal("the lock outlived its duration")
		}
	})
	t.Run("fail/IPv6 addresses of one /64 count together", func(t *testing.T) {
		c := newFakeClock()
		l := newLimiter(t, specBan(), c.Now)
		for i := 0; i < 10; i++ {
			ip := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 15: byte(i + 1)})
			l.Fail(ctx, ip, "")
		}
		if !l.Banned(ctx, netip.MustParseAddr("2001:db8:0:1:ffff:ffff:ffff:ffff"), "") {
			t.Fatal("10 failures from one /64 did not ban the /64")
		}
		if l.Banned(ctx, netip.MustParseAddr("2001:db8:0:2::1"), "") {
			t.Fatal("the neighbouring /64 is banned too")
		}
		for i := 0; i < 10; i++ {
			l.Fail(ctx, netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), "")
		}
		if l.Banned(ctx, netip.MustParseAddr("198.51.100.1"), "") {
			t.Fatal("IPv4 addresses of one /24 counted together")
		}
	})
	t.Run("fail/success does not lift a ban", func(t *testing.T) {
		c := newFakeClock()
		l := newLimiter(t, specBan(), c.Now)
		failN(l, c, attacker, 10)
		l.Succeed(ctx, attacker, "user:root")
		if !l.Banned(ctx, attacker, "") {
			t.Fatal("a success lifted the ban")
		}
	})
	t.Run("ok/loopback exempt when ExemptLoopback", func(t *testing.T) {
		c := newFakeClock()
		opts := specBan()
		opts.ExemptLoopback = true
		l := newLimiter(t, opts, c.Now)
		for _, s := range []string{"127.0.0.1", "127.8.9.10", "::1"} {
			ip := netip.MustParseAddr(s)
			if failN(l, c, ip, 50) || l.Banned(ctx, ip, "") {
				t.Fatalf("loopback %s banned", s)
			}
		}
		if !failN(l, c, attacker, 10) {
			t.Fatal("a non-loopback address is exempt too")
		}
	})
	t.Run("fail/loopback banned without ExemptLoopback", func(t *testing.T) {
		c := newFakeClock()
		l := newLimiter(t, specBan(), c.Now)
		lo := netip.MustParseAddr("127.0.0.1")
		if !failN(l, c, lo, 10) || !l.Banned(ctx, lo, "") {
			t.Fatal("loopback not banned with ExemptLoopback false")
		}
	})
	t.Run("ok/allow-list CIDR exempt", func(t *testing.T) {
		c := newFakeClock()
		opts := specBan()
		opts.AllowList = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
		l := newLimiter(t, opts, c.Now)
		for _, s := range []string{"10.1.2.3", "10.255.255.255", "2001:db8::42"} {
			ip := netip.MustParseAddr(s)
			if failN(l, c, ip, 50) || l.Banned(ctx, ip, "") {
				t.Fatalf("allow-listed %s banned", s)
			}
		}
		for _, s := range []string{"11.0.0.1", "2001:db9::1"} {
			ip := netip.MustParseAddr(s)
			if !failN(l, c, ip, 10) {
				t.Fatalf("%s outside the allow-list not banned", s)
			}
		}
	})
	t.Run("ok/concurrent use", func(t *testing.T) {
		c := newFakeClock()
		l := newLimiter(t, specBan(), c.Now)
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				ip := netip.AddrFrom4([4]byte{192, 0, 2, byte(g)})
				for i := 0; i < 100; i++ {
					l.Fail(ctx, ip, "")
					l.Banned(ctx, ip, "")
					if i%7 == 0 {
						l.Succeed(ctx, ip, "user:x")
					}
				}
			}(g)
		}
		wg.Wait()
	})
}
