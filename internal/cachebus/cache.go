package cachebus

import (
	"context"
	"sync"
	"time"
)

// Cache is the one in-process cache shape (docs/architecture.md §4.5): values by key, each
// remembered for a TTL, at most Max of them, forgotten when the bus says they changed, and never
// answered from memory while the bus is down. Errors are never remembered. It is safe for
// concurrent use; the zero value is not usable, use NewCache.
type Cache[K comparable, V any] struct {
	ttl   time.Duration
	max   int
	now   func() time.Time
	guard *Guard // nil until Follow: expiry only

	mu sync.Mutex
	m  map[K]cacheEntry[V]
}

type cacheEntry[V any] struct {
	v       V
	expires time.Time
}

// CacheOptions shape a Cache.
type CacheOptions struct {
	// TTL is how long a value is answered from memory (the bound when a notification is lost).
	TTL time.Duration
	// Max bounds the entries (default 4096). A full cache drops its expired entries, or all of
	// them when none has expired.
	Max int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultCacheMax is CacheOptions.Max when zero.
const DefaultCacheMax = 4096

// NewCache returns an empty cache following no bus (call Follow before serving).
func NewCache[K comparable, V any](opts CacheOptions) *Cache[K, V] {
	if opts.Max <= 0 {
		opts.Max = DefaultCacheMax
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Cache[K, V]{ttl: opts.TTL, max: opts.Max, now: opts.Now, m: map[K]cacheEntry[V]{}}
}

// Follow subscribes the cache to topic on bus. keyOf maps a published key to the entry it
// forgets, or reports false when the key names none of this cache's entries; All forgets
// everything, and so does every key when keyOf is nil. While bus is down nothing is answered
// from memory or stored. Call it once, before the cache is used; a nil bus leaves only the
// expiry (a single node, or a test).
func (c *Cache[K, V]) Follow(bus Bus, topic Topic, keyOf func(key string) (K, bool)) {
	c.guard = Follow(bus, topic, func(key string) {
		if key == All || keyOf == nil {
			c.Clear()
			return
		}
		if k, ok := keyOf(key); ok {
			c.Forget(k)
		}
	})
}

// NoKeys is a Follow keyOf for a cache that only All concerns.
func NoKeys[K any](string) (K, bool) {
	var zero K
	return zero, false
}

// Get returns key's value if it is remembered, unexpired, and the bus is up.
func (c *Cache[K, V]) Get(key K) (V, bool) {
	if use, _ := c.guard.Read(); !use {
		var zero V
		return zero, false
	}
	now := c.now()
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if !ok || !now.Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Load returns key's value from memory (Get) or else from load, remembering what load returns
// unless it failed, an invalidation arrived while it ran, or the bus is down.
func (c *Cache[K, V]) Load(ctx context.Context, key K, load func(context.Context) (V, error)) (V, error) {
	use, gen := c.guard.Read()
	if use {
		if v, ok := c.Get(key); ok {
			return v, nil
		}
	}
	v, err := load(ctx)
	if err != nil {
		return v, err
	}
	c.keep(key, v, gen)
	return v, nil
}

// keep stores v for key if nothing was invalidated since gen.
func (c *Cache[K, V]) keep(key K, v V, gen uint64) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	// Checked under the lock: an invalidation takes the lock to forget, so one that arrives
	// after this check forgets what is stored here.
	if !c.guard.Keep(gen) {
		return
	}
	if len(c.m) >= c.max {
		if _, present := c.m[key]; !present {
			for k, e := range c.m {
				if !now.Before(e.expires) {
					delete(c.m, k)
				}
			}
			if len(c.m) >= c.max {
				clear(c.m)
			}
		}
	}
	c.m[key] = cacheEntry[V]{v: v, expires: now.Add(c.ttl)}
}

// Forget drops key's value.
func (c *Cache[K, V]) Forget(key K) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}

// Clear drops every value.
func (c *Cache[K, V]) Clear() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}

// Len is how many entries are held, expired ones included.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
