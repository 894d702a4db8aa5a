package redisbus_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/internal/cachebus"
	"github.com/gatehouse-dev/gatehouse/internal/cachebus/redisbus"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// TestRedisBus: two buses on one channel hear each other; a client kill (CLIENT KILL TYPE
// pubsub) turns a bus unhealthy until it resubscribes, and the resubscription flushes every
// subscriber once.
func TestRedisBus(t *testing.T) {
	url := testenv.RedisURL(t)
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

	// Cut two's subscription: it resubscribes and, since notifications may have been missed,
	// tells its subscribers to forget everything once.
	admin := redis.NewClient(mustParse(t, url))
	defer admin.Close()
	list, err := admin.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		f := fields(line)
		if f["name"] == two.ClientName() && f["sub"] != "0" {
			if err := admin.Do(ctx, "CLIENT", "KILL", "ID", f["id"]).Err(); err != nil {
				t.Fatal(err)
			}
			killed++
		}
	}
	if killed != 1 {
		t.Fatalf("found %d subscriptions named %s", killed, two.ClientName())
	}
	select {
	case k := <-got:
		if k != cachebus.All {
			t.Fatalf("after the cut got %q, want a flush", k)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no flush within 5 s of the cut")
	}
	if !testenv.Eventually(5*time.Second, two.Healthy) {
		t.Fatal("two did not come back")
	}
	if err := one.Publish(ctx, cachebus.Projects, "43"); err != nil {
		t.Fatal(err)
	}
	select {
	case k := <-got:
		if k != "43" {
			t.Fatalf("after the reconnect got %q", k)
		}
	case <-time.After(time.Second):
		t.Fatal("no notification within a second of the reconnect")
	}
}

func mustParse(t *testing.T, url string) *redis.Options {
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// fields splits a CLIENT LIST line ("id=7 addr=… name=… sub=1 …").
func fields(line string) map[string]string {
	m := map[string]string{}
	for _, kv := range strings.Fields(line) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}
