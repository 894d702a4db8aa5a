// Package cachebus tells every node's in-process caches that a write changed what they hold
// (docs/architecture.md §4.5). A write publishes a topic and a key after it commits; each cache
// subscribes to its topic and forgets the key (or everything, for key ""). While the channel
// between the nodes is down (Healthy false) a notification may be lost, so every cache reads
// through instead: caches off, never stale. When the channel comes back, every subscriber is
// told to forget everything once, because notifications may have been missed meanwhile.
package cachebus

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Topic names what changed; its subscribers are the caches that hold it.
type Topic string

// The topics. A key is what changed (a group or project id); "" means everything of the topic.
const (
	// Projects: a project's path or existence changed (image name → project caches).
	Projects Topic = "projects"
	// ExternalAuthorization: the external authorization settings ("") or one project's
	// classification label (its id).
	ExternalAuthorization Topic = "extauthz"
	// DependencyProxy: one group's dependency-proxy setting (its id).
	DependencyProxy Topic = "dependency_proxy"
	// Tokens: one deploy token was revoked, rotated or deleted (its id).
	Tokens Topic = "tokens"
)

// All keys: a subscriber given All forgets everything of its topic.
const All = ""

// Bus carries invalidations between the nodes. Implementations: Local (one process), the
// PostgreSQL LISTEN/NOTIFY bus in sqlstore and the Redis pub/sub bus in cachebus/redisbus.
type Bus interface {
	// Publish tells every node, this one included, that key of topic changed. Call it after the
	// write committed. This node's subscribers have run when it returns without error.
	Publish(ctx context.Context, topic Topic, key string) error
	// Subscribe calls fn with each key published on topic, and with All when notifications may
	// have been missed. fn must be quick and must not publish.
	Subscribe(topic Topic, fn func(key string))
	// Healthy reports whether notifications from every node arrive. When false, caches must not
	// answer from memory.
	Healthy() bool
}

// Hub is the subscriber side every Bus shares: it records subscriptions and delivers. Its zero
// value is ready and unhealthy; an implementation calls SetHealthy once it receives.
type Hub struct {
	mu      sync.RWMutex
	subs    map[Topic][]func(string)
	healthy atomic.Bool
}

// Subscribe implements Bus.
func (h *Hub) Subscribe(topic Topic, fn func(key string)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = map[Topic][]func(string){}
	}
	h.subs[topic] = append(h.subs[topic], fn)
}

// Healthy implements Bus.
func (h *Hub) Healthy() bool { return h.healthy.Load() }

// SetHealthy records whether notifications arrive. Turning healthy again first tells every
// subscriber to forget everything, since notifications may have been missed while down.
func (h *Hub) SetHealthy(ok bool) {
	if ok && !h.healthy.Load() {
		h.FlushAll()
	}
	h.healthy.Store(ok)
}

// Reconnect backoff of the buses that keep a connection (Hub.Reconnect).
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// Reconnect runs session until ctx ends. session connects, calls SetHealthy(true) once it
// receives, and delivers until its connection fails; it reports whether it got that far. After
// each failure the hub is unhealthy (caches off) and session is retried with backoff (50 ms
// doubling to 5 s, back to 50 ms after a session that got going).
func (h *Hub) Reconnect(ctx context.Context, log *slog.Logger, session func(context.Context) (started bool, err error)) {
	backoff := minBackoff
	for ctx.Err() == nil {
		started, err := session(ctx)
		h.SetHealthy(false)
		if ctx.Err() != nil {
			return
		}
		if started {
			backoff = minBackoff
		}
		log.Warn("cache bus disconnected; caches are off until it reconnects", "err", err.Error(), "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// Start runs Reconnect in the background and waits up to wait for the first session to
// receive; if none does, it logs that caches stay off until one does. stop ends the sessions and
// waits for them.
func (h *Hub) Start(ctx context.Context, log *slog.Logger, wait time.Duration, session func(context.Context) (bool, error)) (stop func()) {
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Reconnect(runCtx, log, session)
	}()
	deadline := time.Now().Add(wait)
	for !h.Healthy() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	if !h.Healthy() {
		log.Warn("cache bus not connected yet; caches are off until it is")
	}
	return sync.OnceFunc(func() {
		cancel()
		<-done
	})
}

// Deliver runs topic's subscribers for key.
func (h *Hub) Deliver(topic Topic, key string) {
	h.mu.RLock()
	subs := h.subs[topic]
	h.mu.RUnlock()
	for _, fn := range subs {
		fn(key)
	}
}

// FlushAll tells every subscriber of every topic to forget everything.
func (h *Hub) FlushAll() {
	h.mu.RLock()
	var all []func(string)
	for _, subs := range h.subs {
		all = append(all, subs...)
	}
	h.mu.RUnlock()
	for _, fn := range all {
		fn(All)
	}
}

// Encode and Decode are the one wire form of a notification, "topic:key", for the buses that
// carry text.
func Encode(topic Topic, key string) string { return string(topic) + ":" + key }

// Decode splits a notification; ok is false for text that is not one.
func Decode(payload string) (topic Topic, key string, ok bool) {
	t, k, ok := strings.Cut(payload, ":")
	return Topic(t), k, ok && t != ""
}

// Guard is a cache's side of the bus: whether it may answer from memory, and whether a value it
// read may be stored (not when an invalidation arrived during the read, which would keep the
// old value).
type Guard struct {
	bus Bus
	gen atomic.Uint64
}

// Follow subscribes a cache to topic: forget is called with each changed key (All: everything).
// With a nil bus the cache has only its own expiry to go by (a single node, or a test).
func Follow(bus Bus, topic Topic, forget func(key string)) *Guard {
	g := &Guard{bus: bus}
	if bus != nil {
		bus.Subscribe(topic, func(key string) {
			g.gen.Add(1)
			forget(key)
		})
	}
	return g
}

// Read reports whether the cache may answer from memory, and the generation to pass to Keep
// once the value is read from the store. A nil Guard (a cache following no bus) always may.
func (g *Guard) Read() (useCache bool, gen uint64) {
	if g == nil {
		return true, 0
	}
	return g.bus == nil || g.bus.Healthy(), g.gen.Load()
}

// Keep reports whether a value read at gen may be stored: nothing was invalidated since, and
// the bus is up.
func (g *Guard) Keep(gen uint64) bool {
	if g == nil {
		return true
	}
	return (g.bus == nil || g.bus.Healthy()) && g.gen.Load() == gen
}

// Local is the bus of a single process (SQLite): it delivers at once and is always healthy.
type Local struct{ Hub }

// NewLocal returns a healthy in-process bus.
func NewLocal() *Local {
	l := &Local{}
	l.healthy.Store(true)
	return l
}

// Publish implements Bus.
func (l *Local) Publish(_ context.Context, topic Topic, key string) error {
	l.Deliver(topic, key)
	return nil
}

var _ Bus = (*Local)(nil)
