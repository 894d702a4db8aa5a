package cachebus_test

import (
	"context"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/cachebus"
)

// remote is a bus whose health the test sets, like a notification channel that drops.
type remote struct{ cachebus.Hub }

func (r *remote) Publish(_ context.Context, t cachebus.Topic, k string) error {
	r.Deliver(t, k)
	return nil
}

// TestGuard: a cache answers from memory only while the bus is healthy, stores nothing read
// across an invalidation, and is flushed once when the bus comes back.
func TestGuard(t *testing.T) {
	bus := &remote{}
	var forgot []string
	g := cachebus.Follow(bus, cachebus.Projects, func(k string) { forgot = append(forgot, k) })
	if use, _ := g.Read(); use {
		t.Fatal("a cache answers from memory before the bus is up")
	}
	bus.SetHealthy(true)
	if len(forgot) != 1 || forgot[0] != cachebus.All {
		t.Fatalf("coming up forgot %q, want everything once", forgot)
	}
	use, gen := g.Read()
	if !use || !g.Keep(gen) {
		t.Fatal("a healthy bus keeps the cache off")
	}
	_ = bus.Publish(context.Background(), cachebus.Projects, "7")
	if g.Keep(gen) {
		t.Fatal("a value read before an invalidation is kept")
	}
	if forgot[len(forgot)-1] != "7" {
		t.Fatalf("forgot %q", forgot)
	}
	_ = bus.Publish(context.Background(), cachebus.DependencyProxy, "8")
	if forgot[len(forgot)-1] != "7" {
		t.Fatal("another topic reached the subscriber")
	}
	bus.SetHealthy(false)
	if use, gen := g.Read(); use || g.Keep(gen) {
		t.Fatal("caches stay on while the bus is down")
	}
	n := len(forgot)
	bus.SetHealthy(true)
	bus.SetHealthy(true)
	if len(forgot) != n+1 || forgot[n] != cachebus.All {
		t.Fatalf("coming back forgot %q, want everything once", forgot[n:])
	}
	var nilGuard *cachebus.Guard
	if use, gen := nilGuard.Read(); !use || !nilGuard.Keep(gen) {
		t.Fatal("a cache following no bus is off")
	}
}

func TestEncodeDecode(t *testing.T) {
	topic, key, ok := cachebus.Decode(cachebus.Encode(cachebus.ExternalAuthorization, "12"))
	if !ok || topic != cachebus.ExternalAuthorization || key != "12" {
		t.Fatalf("%q %q %v", topic, key, ok)
	}
	if _, _, ok := cachebus.Decode("garbage"); ok {
		t.Fatal("decoded garbage")
	}
}
