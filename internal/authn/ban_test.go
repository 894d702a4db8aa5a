package authn

import (
	"net/netip"
	"sync"
	"testing"
	"time"
)

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
func specBan() BanOptions {
	return BanOptions{MaxFailures: 10, Window: 60 * time.Second, Duration: time.Hour}
}

var attacker = netip.MustParseAddr("203.0.113.9")

// failN records n failures one second apart and returns whether the last one banned.
func failN(l Limiter, c *fakeClock, ip netip.Addr, n int) bool {
	banned := false
	for i := 0; i < n; i++ {
		banned = l.Fail(ip, "")
		c.Advance(time.Second)
	}
	return banned
}

func TestLimiter(t *testing.T) {
	t.Run("fail/10 failures within 60s ban", func(t *testing.T) {
		c := newFakeClock()
		l := NewLimiter(specBan(), c.Now)
		for i := 1; i <= 9; i++ {
			if l.Fail(attacker, "") {
				t.Fatalf("banned after %d failures", i)
			}
			if l.Banned(attacker, "") {
				t.Fatalf("Banned after %d failures", i)
			}
			c.Advance(6 * time.Second) // the 10th failure lands 54 s after the first
		}
		if !l.Fail(attacker, "") {
			t.Fatal("the 10th failure within 60 s did not ban")
		}
		if !l.Banned(attacker, "") {
			t.Fatal("Banned is false right after the ban")
		}
		if other := netip.MustParseAddr("203.0.113.10"); l.Banned(other, "") {
			t.Fatal("another address is banned too")
		}
	})
	t.Run("ok/9 failures, 61s pause, 1 failure do not ban", func(t *testing.T) {
		c := newFakeClock()
		l := NewLimiter(specBan(), c.Now)
		if failN(l, c, attacker, 9) {
			t.Fatal("banned after 9 failures")
		}
		c.Advance(61 * time.Second)
		if l.Fail(attacker, "") || l.Banned(attacker, "") {
			t.Fatal("failures older than the window still counted")
		}
		// The window slides: 9 more within 60 s of that one do ban (1 + 9 = 10).
		if !failN(l, c, attacker, 9) {
			t.Fatal("10 failures within the window after the pause did not ban")
		}
	})
	t.Run("fail/ban lasts exactly the duration", func(t *testing.T) {
		c := newFakeClock()
		l := NewLimiter(specBan(), c.Now)
		for i := 0; i < 9; i++ {
			l.Fail(attacker, "")
		}
		if !l.Fail(attacker, "") {
			t.Fatal("not banned")
		}
		c.Advance(time.Hour - time.Nanosecond)
		if !l.Banned(attacker, "") {
			t.Fatal("ban ended before its duration")
		}
		c.Advance(time.Nanosecond)
		if l.Banned(attacker, "") {
			t.Fatal("ban lasted longer than its duration")
		}
		// After the ban, the count starts afresh: one failure does not ban again.
		if l.Fail(attacker, "") || l.Banned(attacker, "") {
			t.Fatal("a single failure after the ban re-banned")
		}
	})
	t.Run("ok/success resets its own identity's count", func(t *testing.T) {
		c := newFakeClock()
		l := NewLimiter(specBan(), c.Now)
		for i := 0; i < 9; i++ {
			l.Fail(attacker, "user:alice") // alice mistyping her password
		}
		l.Succeed(attacker, "user:alice")
		if failN(l, c, attacker, 9) || l.Banned(attacker, "") {
			t.Fatal("alice's failures before her success still counted")
		}
		if !l.Fail(attacker, "") {
			t.Fatal("10 failures after the success did not ban")
		}
	})
	t.Run("fail/interleaving a valid login does not reset other identities' failures", func(t *testing.T) {
		c := newFakeClock()
		l := NewLimiter(specBan(), c.Now)
		// The attacker guesses root's password and logs in with its own valid credential after
		// each guess: before, every success wiped the address's count and the guessing never ended.
		for i := 1; i <= 9; i++ {
			if l.Fail(attacker, "user:root") {
				t.Fatalf("banned after %d guesses", i)
			}
			l.Succeed(attacker, "secret:attackers-own-token")
			c.Advance(time.Second)
		}
		if !l.Fail(attacker, "user:root") || !l.Banned(attacker, "secret:attackers-own-token") {
			t.Fatal("10 guesses interleaved with successes did not ban the address")
		}
	})
	t.Run("fail/one identity guessed from many addresses is locked", func(t *testing.T) {
		c := newFakeClock()
		l := NewLimiter(specBan(), c.Now)
		for i := 0; i < 10; i++ {
			l.Fail(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), "user:root")
		}
		fresh := netip.MustParseAddr("192.0.2.200")
		if !l.Banned(fresh, "user:root") {
			t.Fatal("root is not locked after 10 failures from 10 addresses")
		}
		if l.Banned(fresh, "user:alice") || l.Banned(fresh, "") {
			t.Fatal("the lock of root reached another identity or a fresh address")
		}
		c.Advance(time.Hour)
		if l.Banned(fresh, "user:root") {
			t.Fatal("the lock outlived its duration")
		}
	})
	t.Run("fail/IPv6 addresses of one /64 count together", func(t *testing.T) {
		c := newFakeClock()
		l := NewLimiter(specBan(), c.Now)
		for i := 0; i < 10; i++ {
			ip := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 15: byte(i + 1)})
			l.Fail(ip, "")
		}
		if !l.Banned(netip.MustParseAddr("2001:db8:0:1:ffff:ffff:ffff:ffff"), "") {
			t.Fatal("10 failures from one /64 did not ban the /64")
		}
		if l.Banned(netip.MustParseAddr("2001:db8:0:2::1"), "") {
			t.Fatal("the neighbouring /64 is banned too")
		}
		for i := 0; i < 10; i++ {
			l.Fail(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), "")
		}
		if l.Banned(netip.MustParseAddr("198.51.100.1"), "") {
			t.Fatal("IPv4 addresses of one /24 counted together")
		}
	})
	t.Run("fail/success does not lift a ban", func(t *testing.T) {
		c := newFakeClock()
		l := NewLimiter(specBan(), c.Now)
		failN(l, c, attacker, 10)
		l.Succeed(attacker, "user:root")
		if !l.Banned(attacker, "") {
			t.Fatal("a success lifted the ban")
		}
	})
	t.Run("ok/loopback exempt when ExemptLoopback", func(t *testing.T) {
		c := newFakeClock()
		opts := specBan()
		opts.ExemptLoopback = true
		l := NewLimiter(opts, c.Now)
		for _, s := range []string{"127.0.0.1", "127.8.9.10", "::1"} {
			ip := netip.MustParseAddr(s)
			if failN(l, c, ip, 50) || l.Banned(ip, "") {
				t.Fatalf("loopback %s banned", s)
			}
		}
		if !failN(l, c, attacker, 10) {
			t.Fatal("a non-loopback address is exempt too")
		}
	})
	t.Run("fail/loopback banned without ExemptLoopback", func(t *testing.T) {
		c := newFakeClock()
		l := NewLimiter(specBan(), c.Now)
		lo := netip.MustParseAddr("127.0.0.1")
		if !failN(l, c, lo, 10) || !l.Banned(lo, "") {
			t.Fatal("loopback not banned with ExemptLoopback false")
		}
	})
	t.Run("ok/allow-list CIDR exempt", func(t *testing.T) {
		c := newFakeClock()
		opts := specBan()
		opts.AllowList = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
		l := NewLimiter(opts, c.Now)
		for _, s := range []string{"10.1.2.3", "10.255.255.255", "2001:db8::42"} {
			ip := netip.MustParseAddr(s)
			if failN(l, c, ip, 50) || l.Banned(ip, "") {
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
		l := NewLimiter(specBan(), c.Now)
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				ip := netip.AddrFrom4([4]byte{192, 0, 2, byte(g)})
				for i := 0; i < 100; i++ {
					l.Fail(ip, "")
					l.Banned(ip, "")
					if i%7 == 0 {
						l.Succeed(ip, "user:x")
					}
				}
			}(g)
		}
		wg.Wait()
	})
}
