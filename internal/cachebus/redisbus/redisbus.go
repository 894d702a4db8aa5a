// Package redisbus is cachebus.Bus over Redis pub/sub (GATEHOUSE_REDIS_URL; docs/architecture.md
// §4.5). One subscription receives; Publish sends through the client's pool. While the
// subscription is down the bus is unhealthy (caches off); once it is back, every subscriber is
// told to forget everything, since notifications may have been missed.
package redisbus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/internal/cachebus"
)

// Timings: how often an idle subscription checks its connection, and how long New waits for the
// first subscription.
const (
	idleCheck = 5 * time.Second
	startWait = 5 * time.Second
)

// Bus is the Redis bus.
type Bus struct {
	cachebus.Hub
	client  *redis.Client
	name    string
	channel string
	stop    func()
	once    sync.Once
}

var _ cachebus.Bus = (*Bus)(nil)

// New connects to url (redis://…) and subscribes to channel, which names the installation (every
// node of one cluster must use the same). If Redis does not answer within a few seconds the bus
// starts unhealthy and keeps trying. Close stops it.
func New(ctx context.Context, url, channel string, log *slog.Logger) (*Bus, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		// The URL may hold a password: name the setting, not the value.
		return nil, errors.New("cache bus: GATEHOUSE_REDIS_URL is not a valid redis:// URL")
	}
	if log == nil {
		log = slog.Default()
	}
	rnd := make([]byte, 4)
	_, _ = rand.Read(rnd)
	opts.ClientName = "gatehouse-cache-bus-" + hex.EncodeToString(rnd)
	b := &Bus{client: redis.NewClient(opts), name: opts.ClientName, channel: channel}
	b.stop = b.Start(ctx, log, startWait, b.subscribe)
	return b, nil
}

// ClientName is the name the bus's connections carry in Redis's CLIENT LIST
// ("gatehouse-cache-bus-<random>"), for operators and tests that cut them.
func (b *Bus) ClientName() string { return b.name }

// Publish implements cachebus.Bus: this node's subscribers at once, every node's (this one's
// again) through Redis.
func (b *Bus) Publish(ctx context.Context, topic cachebus.Topic, key string) error {
	b.Deliver(topic, key)
	if err := b.client.Publish(ctx, b.channel, cachebus.Encode(topic, key)).Err(); err != nil {
		return fmt.Errorf("cache bus: publish: %w", err)
	}
	return nil
}

// Close stops the subscription and closes the client.
func (b *Bus) Close() error {
	var err error
	b.once.Do(func() {
		b.stop()
		err = b.client.Close()
	})
	return err
}

// subscribe subscribes on a fresh connection and delivers until it fails.
func (b *Bus) subscribe(ctx context.Context) (subscribed bool, err error) {
	ps := b.client.Subscribe(ctx)
	defer ps.Close()
	// A blocked receive does not watch ctx: closing the subscription ends it.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()
	if err := ps.Subscribe(ctx, b.channel); err != nil {
		return false, err
	}
	for {
		msg, err := ps.ReceiveTimeout(ctx, idleCheck)
		if ctx.Err() != nil {
			return subscribed, ctx.Err()
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			// Idle: make sure the connection is still there (a silent network loss).
			if err := ps.Ping(ctx); err != nil {
				return subscribed, err
			}
			continue
		}
		if err != nil {
			return subscribed, err
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == b.channel {
				subscribed = true
				b.SetHealthy(true) // forgets everything first: notifications may have been missed
			}
		case *redis.Message:
			if topic, key, ok := cachebus.Decode(m.Payload); ok {
				b.Deliver(topic, key)
			}
		}
	}
}
