package cachebus_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/cachebus"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// loader counts the loads of a cache and answers "v<n>" for the n-th.
type loader struct{ n atomic.Int64 }

func (l *loader) load(context.Context) (string, error) {
	return "v" + strconv.FormatInt(l.n.Add(1), 10), nil
}

func parseKey(key string) (int, bool) {
	n, err := strconv.Atoi(key)
	return n, err == nil
}

func newCache(t *testing.T, c *testenv.Clock, bus cachebus.Bus, max int) *cachebus.Cache[int, string] {
	t.Helper()
	cache := cachebus.NewCache[int, string](cachebus.CacheOptions{TTL: time.Second, Max: max, Now: c.Now})
	cache.Follow(bus, cachebus.Projects, parseKey)
	return cache
}

func mustLoad(t *testing.T, c *cachebus.Cache[int, string], key int, l *loader, want string) {
	t.Helper()
	got, err := c.Load(context.Background(), key, l.load)
	if err != nil || got != want {
		t.Fatalf("Load(%d) = %q, %v; want %q", key, got, err, want)
	}
}

func TestCache(t *testing.T) {
	ctx := context.Background()
	t.Run("ok/remembered until the ttl, then read again", func(t *testing.T) {
		clk := &testenv.Clock{}
		c, l := newCache(t, clk, cachebus.NewLocal(), 0), &loader{}
		mustLoad(t, c, 1, l, "v1")
		clk.Advance(500 * time.Millisecond)
		mustLoad(t, c, 1, l, "v1")
		if v, ok := c.Get(1); !ok || v != "v1" {
			t.Fatalf("Get = %q, %v", v, ok)
		}
		clk.Advance(600 * time.Millisecond)
		if _, ok := c.Get(1); ok {
			t.Fatal("an expired value is answered")
		}
		mustLoad(t, c, 1, l, "v2")
	})
	t.Run("ok/a published key forgets its entry, All forgets everything", func(t *testing.T) {
		clk, bus := &testenv.Clock{}, cachebus.NewLocal()
		c, l := newCache(t, clk, bus, 0), &loader{}
		mustLoad(t, c, 1, l, "v1")
		mustLoad(t, c, 2, l, "v2")
		_ = bus.Publish(ctx, cachebus.Projects, "1")
		mustLoad(t, c, 1, l, "v3")
		mustLoad(t, c, 2, l, "v2")
		_ = bus.Publish(ctx, cachebus.DependencyProxy, cachebus.All)
		mustLoad(t, c, 2, l, "v2")
		_ = bus.Publish(ctx, cachebus.Projects, cachebus.All)
		mustLoad(t, c, 1, l, "v4")
		mustLoad(t, c, 2, l, "v5")
	})
	t.Run("ok/keyOf nil: every key forgets everything; NoKeys: only All does", func(t *testing.T) {
		clk, bus := &testenv.Clock{}, cachebus.NewLocal()
		all := cachebus.NewCache[int, string](cachebus.CacheOptions{TTL: time.Second, Now: clk.Now})
		all.Follow(bus, cachebus.Projects, nil)
		none := cachebus.NewCache[int, string](cachebus.CacheOptions{TTL: time.Second, Now: clk.Now})
		none.Follow(bus, cachebus.Projects, cachebus.NoKeys[int])
		la, ln := &loader{}, &loader{}
		mustLoad(t, all, 1, la, "v1")
		mustLoad(t, none, 1, ln, "v1")
		_ = bus.Publish(ctx, cachebus.Projects, "7")
		mustLoad(t, all, 1, la, "v2")
		mustLoad(t, none, 1, ln, "v1")
		_ = bus.Publish(ctx, cachebus.Projects, cachebus.All)
		mustLoad(t, none, 1, ln, "v2")
	})
	t.Run("ok/bus down: nothing answered from memory or stored; back up: everything forgotten", func(t *testing.T) {
		clk, bus := &testenv.Clock{}, &remote{}
		bus.SetHealthy(true)
		c, l := newCache(t, clk, bus, 0), &loader{}
		mustLoad(t, c, 1, l, "v1")
		mustLoad(t, c, 1, l, "v1")
		bus.SetHealthy(false)
		if _, ok := c.Get(1); ok {
			t.Fatal("Get answers from memory while the bus is down")
		}
		mustLoad(t, c, 1, l, "v2")
		mustLoad(t, c, 1, l, "v3")
		if n := c.Len(); n != 1 {
			t.Fatalf("%d entries; a load while the bus is down was stored or the old one dropped", n)
		}
		bus.SetHealthy(true)
		if n := c.Len(); n != 0 {
			t.Fatalf("%d entries after the bus came back; want everything forgotten", n)
		}
		mustLoad(t, c, 1, l, "v4")
		mustLoad(t, c, 1, l, "v4")
	})
	t.Run("ok/a value read across an invalidation is not stored", func(t *testing.T) {
		clk, bus := &testenv.Clock{}, cachebus.NewLocal()
		c := newCache(t, clk, bus, 0)
		got, err := c.Load(ctx, 1, func(context.Context) (string, error) {
			_ = bus.Publish(ctx, cachebus.Projects, "1") // the write commits while the read runs
			return "old", nil
		})
		if err != nil || got != "old" {
			t.Fatalf("Load = %q, %v", got, err)
		}
		if _, ok := c.Get(1); ok {
			t.Fatal("the value read across an invalidation was stored")
		}
	})
	t.Run("fail/errors are returned and not remembered", func(t *testing.T) {
		clk := &testenv.Clock{}
		c := newCache(t, clk, cachebus.NewLocal(), 0)
		boom := errors.New("boom")
		if _, err := c.Load(ctx, 1, func(context.Context) (string, error) { return "", boom }); !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		if c.Len() != 0 {
			t.Fatal("a failed load was stored")
		}
	})
	t.Run("ok/bounded: a full cache drops expired entries, else all", func(t *testing.T) {
		clk := &testenv.Clock{}
		c, l := newCache(t, clk, cachebus.NewLocal(), 3), &loader{}
		mustLoad(t, c, 1, l, "v1")
		clk.Advance(2 * time.Second)
		mustLoad(t, c, 2, l, "v2")
		mustLoad(t, c, 3, l, "v3")
		mustLoad(t, c, 4, l, "v4") // full: 1 has expired and goes
		if n := c.Len(); n != 3 {
			t.Fatalf("%d entries, want 3", n)
		}
		mustLoad(t, c, 2, l, "v2")
		mustLoad(t, c, 5, l, "v5") // full, none expired: all go
		if n := c.Len(); n != 1 {
			t.Fatalf("%d entries, want 1", n)
		}
	})
	t.Run("ok/no bus: expiry only", func(t *testing.T) {
		clk := &testenv.Clock{}
		c := cachebus.NewCache[int, string](cachebus.CacheOptions{TTL: time.Second, Now: clk.Now})
		l := &loader{}
		mustLoad(t, c, 1, l, "v1")
		mustLoad(t, c, 1, l, "v1")
		c.Forget(1)
		mustLoad(t, c, 1, l, "v2")
	})
}

// TestCacheConcurrent runs loads, invalidations and health flips at once (for -race), then
// checks that after the last invalidation no value read before it is answered.
func TestCacheConcurrent(t *testing.T) {
	bus := &remote{}
	bus.SetHealthy(true)
	c := cachebus.NewCache[int, int64](cachebus.CacheOptions{TTL: time.Hour, Max: 16})
	c.Follow(bus, cachebus.Projects, parseKey)
	var version atomic.Int64 // what the store holds; every key reads it
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				_, _ = c.Load(ctx, (g+i)%20, func(context.Context) (int64, error) { return version.Load(), nil })
			}
		}()
	}
	for i := range 2000 {
		version.Add(1)
		_ = bus.Publish(ctx, cachebus.Projects, strconv.Itoa(i%20))
		if i%500 == 0 {
			bus.SetHealthy(false)
			bus.SetHealthy(true)
		}
	}
	version.Add(1)
	_ = bus.Publish(ctx, cachebus.Projects, cachebus.All)
	close(stop)
	wg.Wait()
	want := version.Load()
	for k := range 20 {
		if v, ok := c.Get(k); ok && v != want {
			t.Fatalf("key %d answers version %d from memory after the invalidation of everything; the store holds %d", k, v, want)
		}
	}
}
