package storetest

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/sqlstore"
)

// testClusterLocks: a lock has one holder at a time; an expired one is taken over (a negative
// TTL is already expired by the database's clock, so no test sleeps); Locker.Lock waits for the
// holder to release.
func testClusterLocks(t *testing.T, s *sqlstore.Stores) {
	l := s.Locks
	t.Run("ok/one holder at a time", func(t *testing.T) {
		ok, err := l.TryLock(ctx(), "a", "h1", time.Minute)
		must(t, err)
		if !ok {
			t.Fatal("free lock not taken")
		}
		if ok, err := l.TryLock(ctx(), "a", "h2", time.Minute); err != nil || ok {
			t.Fatalf("held lock taken by another: %v %v", ok, err)
		}
		if ok, err := l.TryLock(ctx(), "b", "h2", time.Minute); err != nil || !ok {
			t.Fatalf("another name: %v %v", ok, err)
		}
		must(t, l.Unlock(ctx(), "a", "h2")) // not its lock: nothing happens
		if ok, _ := l.TryLock(ctx(), "a", "h2", time.Minute); ok {
			t.Fatal("a stranger's unlock freed the lock")
		}
		if ok, err := l.RenewLock(ctx(), "a", "h1", time.Minute); err != nil || !ok {
			t.Fatalf("renew by holder: %v %v", ok, err)
		}
		must(t, l.Unlock(ctx(), "a", "h1"))
		if ok, err := l.TryLock(ctx(), "a", "h2", time.Minute); err != nil || !ok {
			t.Fatalf("released lock not taken: %v %v", ok, err)
		}
	})
	t.Run("ok/expired lock taken over", func(t *testing.T) {
		if ok, err := l.TryLock(ctx(), "x", "dead", -time.Second); err != nil || !ok {
			t.Fatalf("take: %v %v", ok, err)
		}
		if ok, err := l.TryLock(ctx(), "x", "alive", time.Minute); err != nil || !ok {
			t.Fatalf("expired lock not taken over: %v %v", ok, err)
		}
		if ok, err := l.RenewLock(ctx(), "x", "dead", time.Minute); err != nil || ok {
			t.Fatalf("the dead holder renewed a lock it lost: %v %v", ok, err)
		}
		if ok, _ := l.TryLock(ctx(), "y", "dead", -2*time.Hour); !ok {
			t.Fatal("take y")
		}
		must(t, l.DeleteExpiredLocks(ctx(), time.Hour))
		if ok, _ := l.TryLock(ctx(), "x", "other", time.Minute); ok {
			t.Fatal("the sweep freed a live lock")
		}
	})
	t.Run("ok/Lock waits for the release", func(t *testing.T) {
		lk := &sqlstore.Locker{Store: l, Poll: 10 * time.Millisecond}
		unlock, err := lk.Lock(ctx(), "w")
		must(t, err)
		var got atomic.Bool
		done := make(chan error, 1)
		go func() {
			u, err := lk.Lock(ctx(), "w")
			if err == nil {
				got.Store(true)
				u()
			}
			done <- err
		}()
		time.Sleep(50 * time.Millisecond) // give the waiter time to try (it must not succeed)
		if got.Load() {
			t.Fatal("a second Lock got a held lock")
		}
		unlock()
		select {
		case err := <-done:
			must(t, err)
		case <-time.After(30 * time.Second):
			t.Fatal("the waiter did not get the released lock")
		}
	})
}
