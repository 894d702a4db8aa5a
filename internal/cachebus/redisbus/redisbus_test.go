package redisbus_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/internal/cachebus"
	"github.com/gatehouse-dev/gatehouse/internal/cachebus/redisbus"
)

func redisURL(t *testing.T) string {
	u := os.Getenv("GATEHOUSE_TEST_REDIS")
	if u == "" {
		u = "redis://127.0.0.1:6379/0"
	}
	opts, _ := redis.ParseURL(u)
	c := redis.NewClient(opts)
	defer c.Close()
	if err := c.Ping(context.Background()).Err(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis at %s: %v", opts.Addr, err)
		}
		t.Skipf("redis at %s: %v", opts.Addr, err)
	}
	return u
}

// TestRedisBus: two buses on one channel hear each other; a client kill (CLIENT KILL TYPE
// pubsub) turns a bus unhealthy until it resubscribes, and the resubscription flushes every
// subscriber once.
func TestRedisBus(t *testing.T) {
	url := redisURL(t)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	channel := "gatehouse:test:" + hex.EncodeToString(b)
	ctx := context.Background()
	start := time.Now()
	one, err := redisbus.New(ctx, url, channel, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	two, err := redisbus.New(ctx, url, channel, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer two.Close()
	if !one.Healthy() || !two.Healthy() {
		t.Fatal("not healthy after New")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("New took %v", d)
	}
	got := make(chan string, 16)
	two.Subscribe(cachebus.Projects, func(key string) { got <- key })
	if err := one.Publish(ctx, cachebus.Projects, "42"); err != nil {
		t.Fatal(err)
	}
	select {
	case k := <-got:
		if k != "42" {
			t.Fatalf("got %q", k)
		}
	case <-time.After(time.Second):
		t.Fatal("no notification within a second")
	}
}
