package sqlstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse/internal/cachebus"
)

// Bus is cachebus.Bus over PostgreSQL LISTEN/NOTIFY (docs/architecture.md §4.5): one dedicated
// connection listens; Publish notifies through the pool. The channel is named after the schema,
// so installations (and tests) sharing a database server do not hear each other. While the
// listening connection is down the bus is unhealthy (caches off); it reconnects with backoff and,
// once listening again, tells every subscriber to forget everything.
type Bus struct {
	cachebus.Hub
	db      *DB
	url     string
	channel string
	pid     atomic.Uint32 // the listening backend, 0 while down
	stop    func()
}

var _ cachebus.Bus = (*Bus)(nil)

// Bus timings: how often an idle listener checks its connection, and how long NewBus waits for
// the first LISTEN before starting with caches off.
const (
	busIdleCheck = 5 * time.Second
	busStartWait = 5 * time.Second
)

// NewBus starts the PostgreSQL bus of db (PostgreSQL only). It waits briefly for the listener;
// if PostgreSQL does not answer, the bus starts unhealthy and keeps trying. Close stops it.
func NewBus(ctx context.Context, db *DB, log *slog.Logger) (*Bus, error) {
	if db.dialect.name != "postgres" {
		return nil, errors.New("cache bus: LISTEN/NOTIFY needs PostgreSQL")
	}
	var schema string
	if err := db.db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return nil, fmt.Errorf("cache bus: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	b := &Bus{db: db, url: db.url, channel: busChannel(schema)}
	b.stop = b.Start(ctx, log, busStartWait, b.listen)
	return b, nil
}

// busChannel is the notification channel of schema: an identifier of at most 63 bytes.
func busChannel(schema string) string {
	c := "gatehouse_cache_" + schema
	if len(c) > 63 {
		sum := sha256.Sum256([]byte(schema))
		c = "gatehouse_cache_" + hex.EncodeToString(sum[:20])
	}
	return c
}

// Publish implements cachebus.Bus: this node's subscribers at once, every node's (this one's
// again) through NOTIFY.
func (b *Bus) Publish(ctx context.Context, topic cachebus.Topic, key string) error {
	b.Deliver(topic, key)
	if _, err := b.db.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, b.channel, cachebus.Encode(topic, key)); err != nil {
		return fmt.Errorf("cache bus: notify: %w", err)
	}
	return nil
}

// ListenerPID is the backend process id of the listening connection (0 while down), for
// operators and tests that cut it.
func (b *Bus) ListenerPID() uint32 { return b.pid.Load() }

// Close stops listening.
func (b *Bus) Close() error {
	b.stop()
	return nil
}

// listen connects, listens and delivers until the connection fails; listened reports whether it
// got as far as listening.
func (b *Bus) listen(ctx context.Context) (listened bool, err error) {
	cfg, err := pgx.ParseConfig(b.url)
	if err != nil {
		return false, err
	}
	cfg.RuntimeParams["application_name"] = "gatehouse-cache-bus"
	connectCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.ConnectConfig(connectCtx, cfg)
	cancel()
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	defer b.pid.Store(0)
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{b.channel}.Sanitize()); err != nil {
		return false, err
	}
	b.pid.Store(conn.PgConn().PID())
	b.SetHealthy(true) // forgets everything first: notifications may have been missed
	for {
		waitCtx, cancel := context.WithTimeout(ctx, busIdleCheck)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return true, ctx.Err()
		case err != nil && errors.Is(err, context.DeadlineExceeded):
			// Idle: make sure the connection is still there (a silent network loss).
			pingCtx, cancel := context.WithTimeout(ctx, busIdleCheck)
			err = conn.Ping(pingCtx)
			cancel()
			if err != nil {
				return true, err
			}
		case err != nil:
			return true, err
		default:
			if topic, key, ok := cachebus.Decode(n.Payload); ok {
				b.Deliver(topic, key)
			}
		}
	}
}
