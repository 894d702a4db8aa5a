package redisban_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/internal/ban"
	"github.com/gatehouse-dev/gatehouse/internal/ban/bantest"
	"github.com/gatehouse-dev/gatehouse/internal/ban/redisban"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

func TestRedis(t *testing.T) {
	url := testenv.RedisURL(t)
	bantest.Run(t, func(t *testing.T) ban.Store {
		prefix := testenv.RandomPrefix()
		s, err := redisban.Open(t.Context(), url, prefix)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = s.Close()
			deleteKeys(t, url, prefix)
		})
		return s
	})
}

// deleteKeys removes the keys a test left, rather than leave bans an hour in a shared Redis.
func deleteKeys(t *testing.T, url, prefix string) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx := context.Background()
	keys, err := c.Keys(ctx, prefix+"*").Result()
	if err == nil && len(keys) > 0 {
		err = c.Del(ctx, keys...).Err()
	}
	if err != nil {
		t.Errorf("delete test keys: %v", err)
	}
}

func TestOpenRefusesABadURL(t *testing.T) {
	if _, err := redisban.Open(t.Context(), "redis://:hunter2@[::1", ""); err == nil || err.Error() != "redis_url: not a valid Redis URL" {
		t.Fatalf("error %v", err)
	}
}
