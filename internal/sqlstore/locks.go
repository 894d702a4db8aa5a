package sqlstore

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// LockStore holds named locks that every node of a cluster sees (docs/architecture.md §4.5): a
// registry upload session, a dependency-proxy fetch. A lock is one row with its holder and an
// expiry judged by the database's clock, so the nodes' clocks need not agree. Its holder renews
// it while it works; the lock of a node that died holding it is free once it has expired.
type LockStore struct{ *conn }

// TryLock takes lock name for holder for ttl if it is free (no row, or an expired one). It
// reports whether it took it.
func (s *LockStore) TryLock(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	now := s.dialect.nowMicros
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO cluster_locks (name, holder, expires_at) VALUES (?, ?, `+now+` + ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE cluster_locks.expires_at <= `+now), name, holder, ttl.Microseconds())
	return changedOne("take lock", res, err)
}

// RenewLock extends holder's lock name to ttl from now. It reports false when holder no longer
// holds it (it expired and another took it, or it was released).
func (s *LockStore) RenewLock(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE cluster_locks SET expires_at = `+s.dialect.nowMicros+` + ?
		WHERE name = ? AND holder = ?`), ttl.Microseconds(), name, holder)
	return changedOne("renew lock", res, err)
}

// Unlock releases holder's lock name; releasing a lock one does not hold does nothing.
func (s *LockStore) Unlock(ctx context.Context, name, holder string) error {
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM cluster_locks WHERE name = ? AND holder = ?`), name, holder); err != nil {
		return fmt.Errorf("release lock: %w", err)
	}
	return nil
}

// DeleteExpiredLocks removes the rows of locks that expired more than grace ago (their holders
// died); TryLock would take them over anyway, but most names are never asked for again.
func (s *LockStore) DeleteExpiredLocks(ctx context.Context, grace time.Duration) error {
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM cluster_locks WHERE expires_at < `+s.dialect.nowMicros+` - ?`),
		grace.Microseconds()); err != nil {
		return fmt.Errorf("delete expired locks: %w", err)
	}
	return nil
}

// Locker defaults.
const (
	// DefaultLockTTL is how long a lock outlives a holder that stopped renewing it (a crash). The
	// holder renews it every third of that.
	DefaultLockTTL = 30 * time.Second
	// defaultLockPoll is the longest pause between two attempts to take a busy lock.
	defaultLockPoll = 200 * time.Millisecond
	// lockSweepEvery is how often a Locker deletes the rows crashed holders left.
	lockSweepEvery = 10 * time.Minute
)

// Locker waits for the locks of a LockStore and keeps them while they are held.
type Locker struct {
	Store *LockStore
	// TTL is DefaultLockTTL when zero.
	TTL time.Duration
	// Poll is the longest pause between two attempts to take a busy lock; 200 ms when zero.
	Poll time.Duration
	Log  *slog.Logger
	// lastSweep is when this Locker last deleted expired rows (Unix nanoseconds).
	lastSweep atomic.Int64
}

// Lock waits until it holds name and returns the function that releases it. While held, the
// lock is renewed every TTL/3. The wait ends with ctx's error when ctx ends, or with the
// database's error.
func (l *Locker) Lock(ctx context.Context, name string) (unlock func(), err error) {
	ttl, poll := l.TTL, l.Poll
	if ttl <= 0 {
		ttl = DefaultLockTTL
	}
	if poll <= 0 {
		poll = defaultLockPoll
	}
	l.sweep(ctx, ttl)
	holder := rand.Text()
	// Busy locks are retried quickly at first (the usual holder is a short request), then less
	// often.
	wait := 5 * time.Millisecond
	for {
		ok, err := l.Store.TryLock(ctx, name, holder, ttl)
		if err != nil {
			return nil, err
		}
		if ok {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, poll)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(ttl / 3)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				rctx, cancel := context.WithTimeout(context.Background(), ttl/3)
				ok, err := l.Store.RenewLock(rctx, name, holder, ttl)
				cancel()
				if (err != nil || !ok) && l.Log != nil {
					l.Log.Warn("cluster lock not renewed", "lock", name, "held", ok, "err", err)
				}
			}
		}
	}()
	return func() {
		close(stop)
		<-done
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := l.Store.Unlock(rctx, name, holder); err != nil && l.Log != nil {
			// It expires by itself within the TTL.
			l.Log.Warn("cluster lock not released", "lock", name, "err", err)
		}
	}, nil
}

// sweep deletes expired rows at most once per lockSweepEvery, on the side of a Lock.
func (l *Locker) sweep(ctx context.Context, ttl time.Duration) {
	now := time.Now().UnixNano()
	last := l.lastSweep.Load()
	if now-last < int64(lockSweepEvery) || !l.lastSweep.CompareAndSwap(last, now) {
		return
	}
	if err := l.Store.DeleteExpiredLocks(ctx, ttl); err != nil && l.Log != nil {
		l.Log.Warn("delete expired cluster locks", "err", err)
	}
}
